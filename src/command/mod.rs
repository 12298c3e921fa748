//! The commands of the `cutlist` binary, one module each (`src/main.rs` parses the command
//! line and dispatches here). Options shared by the commands that run a job are read once
//! into [`JobOptions`] by [`RunArgs::resolve`].

pub mod job;
pub mod plan;
pub mod probe;
pub mod render;
pub mod validate;

use crate::fetch::FetchPolicy;
use crate::job::{JobOptions, ReportOptions};
use crate::memory::Limits;
use crate::process::Tools;
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The options of every command that runs a job (`render`, `plan`, `job`, `demo`).
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Fill a {{placeholder}}: name=value (JSON if it reads as JSON, else text). Repeatable.
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = crate::spec::template::parse_set)]
    pub set: Vec<(String, serde_json::Value)>,
    /// Write the result manifest here (also on failure); default: <output>.json on success.
    #[arg(long)]
    pub result: Option<PathBuf>,
    /// Local paths a spec writes (output, poster, thumbnail) land beneath this directory
    /// instead of the spec's own.
    #[arg(long, env = "CUTLIST_OUTPUT_ROOT")]
    pub output_root: Option<PathBuf>,
    /// Replace local files that exist already (regular files only). Objects in buckets are
    /// never replaced.
    #[arg(long)]
    pub overwrite: bool,
    /// Where the job's temp directory goes.
    #[arg(long, env = "CUTLIST_WORKDIR")]
    pub workdir: Option<PathBuf>,
    /// A directory local sources may come from (the spec's directory always may). Repeatable.
    #[arg(long = "allow-root")]
    pub allow_roots: Vec<PathBuf>,
    /// An object prefix (`s3://media/tenantA/`) sources and a spec's outputs may be in; when
    /// given (repeatable), objects elsewhere are refused.
    #[arg(long = "allow-bucket", value_name = "PREFIX", env = "CUTLIST_ALLOW_BUCKET", value_delimiter = ',')]
    pub allow_buckets: Vec<String>,
    /// Allow sources on loopback, private and link-local addresses (tests, private networks).
    #[arg(long, env = "CUTLIST_ALLOW_PRIVATE_NETWORK")]
    pub allow_private_network: bool,
    #[arg(long, default_value_t = 4)]
    pub max_parallel_downloads: usize,
    /// Largest asset accepted, bytes (suffixes K, M, G).
    #[arg(long, default_value = "2G", value_parser = parse_bytes)]
    pub max_asset_bytes: u64,
    /// Largest total of a job's downloads (suffixes K, M, G).
    #[arg(long, default_value = "8G", value_parser = parse_bytes)]
    pub max_job_bytes: u64,
    /// Seconds without a byte before a download is abandoned (and the window of --min-rate).
    #[arg(long, default_value_t = 30)]
    pub read_timeout: u64,
    /// A download slower than this (bytes a second, suffixes K, M) over a --read-timeout
    /// window is abandoned, and retried.
    #[arg(long, default_value = "16K", value_parser = parse_bytes)]
    pub min_rate: u64,
    /// Seconds without FFmpeg progress before it is stopped.
    #[arg(long, default_value_t = 60)]
    pub stall_timeout: u64,
    /// Seconds the whole render may take.
    #[arg(long)]
    pub deadline: Option<u64>,
    /// Memory limit for the whole job (512M or 512Mi: binary units either way); default: the cgroup's, else the host's.
    #[arg(long, env = "CUTLIST_MEMORY_LIMIT", value_parser = parse_bytes)]
    pub memory_limit: Option<u64>,
    /// Warn (log line and webhook event) when memory reaches this share of the limit.
    #[arg(long, default_value_t = 0.8, env = "CUTLIST_MEMORY_WARN")]
    pub memory_warn: f64,
    /// Cores the encoders may use (default: the cgroup's CPU quota, else the available cores).
    #[arg(long, env = "CUTLIST_CPUS")]
    pub cpus: Option<u32>,
    /// After the job, print memory per phase and per process to stderr; `=detailed` also
    /// publishes a picture of memory over time beside the output (`<output>.memory.svg`).
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "table", default_value = "off", env = "CUTLIST_MEMORY_REPORT")]
    pub memory_report: crate::memory::report::Mode,
    #[arg(long, default_value = "ffmpeg", env = "CUTLIST_FFMPEG")]
    pub ffmpeg: PathBuf,
    #[arg(long, default_value = "ffprobe", env = "CUTLIST_FFPROBE")]
    pub ffprobe: PathBuf,
    /// Post status events here, signed with CUTLIST_WEBHOOK_SECRET (read from the
    /// environment only). Trusted: it may be on a private network.
    #[arg(long, env = "CUTLIST_WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    /// An origin (`https://hooks.example.com`) a spec's own `webhook.url` may have; the spec's
    /// receiver gets the same events, unsigned. Repeatable; none by default (a spec naming a
    /// receiver is refused).
    #[arg(long = "webhook-allow", value_name = "ORIGIN", env = "CUTLIST_WEBHOOK_ALLOW", value_delimiter = ',')]
    pub webhook_allow: Vec<String>,
    /// Refuse a source FFmpeg reports decoding errors in (exit 4); without it they are a
    /// warning (log, webhook, manifest) and the output is made.
    #[arg(long, env = "CUTLIST_STRICT_DECODE")]
    pub strict_decode: bool,
    /// Stream-copy clips that need no change (same codec, size, frame rate… as the output,
    /// played whole, nothing drawn on them) instead of re-encoding them: `auto` or `never`.
    /// Copied clips keep their source's quality and bitrate; `crf` and `preset` apply to
    /// re-encoded pieces. `cutlist plan` says, for each clip, whether and why not.
    #[arg(long, value_enum, default_value = "auto", env = "CUTLIST_COPY")]
    pub copy: crate::plan::copy::CopyPolicy,
    /// Debugging: leave the workspace (segments, graphs) in place and do not publish.
    #[arg(long, hide = true)]
    pub keep_workspace: bool,
}

/// A size such as `512M`, `512Mi`, `2G` or `1024` (binary units either way).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| format!("{s:?} is not a size such as 512M"))?;
    let mult = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KI" | "KIB" => 1 << 10,
        "M" | "MB" | "MI" | "MIB" => 1 << 20,
        "G" | "GB" | "GI" | "GIB" => 1 << 30,
        _ => return Err(format!("unknown unit in {s:?}: use K, M or G (or Ki, Mi, Gi)")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("{s:?} is too large"))
}

impl RunArgs {
    /// The options of a job, resolved once: the fetch policy, the tools, the limits (memory
    /// and cores detected here, once per process), the report settings.
    pub fn resolve(&self, output: Option<PathBuf>) -> JobOptions {
        JobOptions {
            workdir: self.workdir.clone().unwrap_or_else(std::env::temp_dir),
            fetch: FetchPolicy {
                allow_private_network: self.allow_private_network,
                allowed_roots: self.allow_roots.clone(),
                allowed_buckets: self.allow_buckets.clone(),
                max_parallel: self.max_parallel_downloads.max(1),
                max_asset_bytes: self.max_asset_bytes,
                max_job_bytes: self.max_job_bytes,
                read_timeout: Duration::from_secs(self.read_timeout.max(1)),
                min_rate: self.min_rate,
                ..FetchPolicy::default()
            },
            tools: Tools {
                ffmpeg: self.ffmpeg.clone(),
                ffprobe: self.ffprobe.clone(),
                stall_timeout: Duration::from_secs(self.stall_timeout.max(1)),
            },
            limits: Limits::detect(self.memory_limit, self.cpus),
            deadline: self.deadline.map(Duration::from_secs),
            output,
            output_root: self.output_root.clone(),
            overwrite: self.overwrite,
            result: self.result.clone(),
            report: ReportOptions {
                interactive: std::io::stderr().is_terminal(),
                memory_warn_fraction: self.memory_warn.clamp(0.01, 1.0),
                memory_report: self.memory_report,
                webhook_url: self.webhook_url.clone(),
                webhook_allow: self.webhook_allow.clone(),
                webhook_secret: std::env::var("CUTLIST_WEBHOOK_SECRET").ok().filter(|s| !s.is_empty()),
                ..ReportOptions::default()
            },
            keep_workspace: self.keep_workspace,
            strict_decode: self.strict_decode,
            copy: self.copy,
        }
    }
}

/// A token cancelled on SIGTERM or SIGINT; a second signal exits at once. SIGTSTP (platform
/// maintenance, then SIGCONT) is logged and the job goes on.
pub fn cancel_on_signals() -> CancellationToken {
    use tokio::signal::unix::{signal, SignalKind};
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    tokio::spawn(async move {
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            return;
        };
        if let Ok(mut tstp) = signal(SignalKind::from_raw(libc::SIGTSTP)) {
            tokio::spawn(async move {
                while tstp.recv().await.is_some() {
                    tracing::warn!(event = "maintenance", "SIGTSTP: the job continues");
                }
            });
        }
        for n in 0.. {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            if n > 0 {
                std::process::exit(crate::error::exit::CANCELLED as i32);
            }
            tracing::warn!(event = "cancelling", signal = name, "{name}: stopping FFmpeg and cleaning up");
            token.cancel();
        }
    });
    cancel
}

/// Print JSON to stdout; a closed pipe (`| head`) is not an error.
pub fn print_json(v: &impl serde::Serialize) -> ExitCode {
    use std::io::Write;
    let text = serde_json::to_string_pretty(v).expect("serializable");
    let _ = writeln!(std::io::stdout(), "{text}");
    ExitCode::SUCCESS
}

/// Log a failure (and write `--result` when given); its exit code.
pub fn fail(e: &crate::error::Error, job_id: Option<&str>, result: Option<&std::path::Path>) -> ExitCode {
    ExitCode::from(crate::job::report_failure(e, job_id, result))
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes_read_with_or_without_the_i() {
        assert_eq!(parse_bytes("512M"), Ok(512 << 20));
        assert_eq!(parse_bytes("300Mi"), Ok(300 << 20));
        assert_eq!(parse_bytes("2Gi"), Ok(2 << 30));
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert!(parse_bytes("5 parsecs").is_err());
    }
}
