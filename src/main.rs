//! The `cutlist` command line: render, validate, probe, schema, demo.

use clap::{Args, Parser, Subcommand};
use cutlist::error::{exit, Error};
use cutlist::fetch::FetchPolicy;
use cutlist::job::{self, FailureRecord, JobOptions};
use cutlist::report::{self, LogFormat};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "cutlist",
    version,
    about = "Turns a JSON video timeline into a finished MP4 with FFmpeg, inside a proven memory budget"
)]
struct Cli {
    /// Log format; default: text on a terminal, JSON lines otherwise.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render a timeline spec to a video file.
    Render {
        /// The spec (JSON): a local file or an s3://, gs://, az:// object.
        spec: PathBuf,
        /// Output file (overrides the spec's output.path).
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Check a spec and list every problem with its JSON path.
    Validate {
        spec: PathBuf,
        /// Also print where each clip starts on the output timeline.
        #[arg(long)]
        timings: bool,
        /// Fill a {{placeholder}}: name=value (JSON if it reads as JSON, else text). Repeatable.
        #[arg(long = "set", value_name = "NAME=VALUE", value_parser = cutlist::spec::template::parse_set)]
        set: Vec<(String, serde_json::Value)>,
    },
    /// Print what cutlist learns about a local media file.
    Probe {
        src: PathBuf,
        #[arg(long, default_value = "ffprobe", env = "CUTLIST_FFPROBE")]
        ffprobe: PathBuf,
    },
    /// Run as a task of a batch platform (Cloud Run Job, Kubernetes Indexed Job, AWS Batch
    /// array): one spec, or this task's share of a manifest; a retried attempt finishes at
    /// once with the outcome its result record holds.
    Job {
        /// One spec: a path or an s3://, gs://, az:// address.
        #[arg(long, env = "CUTLIST_SPEC", conflicts_with = "manifest", required_unless_present = "manifest")]
        spec: Option<String>,
        /// A batch manifest (JSON Lines: a spec object or a spec's address a line); this task
        /// renders lines index, index + count, … (see README: Batch jobs).
        #[arg(long, env = "CUTLIST_MANIFEST")]
        manifest: Option<String>,
        /// Where result records go: a directory or a bucket prefix. Default: beside each output.
        #[arg(long, env = "CUTLIST_RECORDS")]
        records: Option<String>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Fetch, probe and plan a spec without rendering: the memory budget, the estimate, the
    /// encoder settings fitted to it, and the FFmpeg runs (JSON).
    Plan {
        spec: PathBuf,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Print the JSON Schema of the spec.
    Schema,
    /// Make sample media (no network) and render a demo timeline with it.
    Demo {
        #[arg(short, long, default_value = "cutlist-demo.mp4")]
        output: PathBuf,
        #[command(flatten)]
        run: RunArgs,
    },
}

#[derive(Args)]
struct RunArgs {
    /// Fill a {{placeholder}}: name=value (JSON if it reads as JSON, else text). Repeatable.
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = cutlist::spec::template::parse_set)]
    set: Vec<(String, serde_json::Value)>,
    /// Write the result manifest here (also on failure); default: <output>.json on success.
    #[arg(long)]
    result: Option<PathBuf>,
    /// Where the job's temp directory goes.
    #[arg(long, env = "CUTLIST_WORKDIR")]
    workdir: Option<PathBuf>,
    /// A directory local sources may come from (the spec's directory always may). Repeatable.
    #[arg(long = "allow-root")]
    allow_roots: Vec<PathBuf>,
    /// Allow sources on loopback, private and link-local addresses (tests, private networks).
    #[arg(long, env = "CUTLIST_ALLOW_PRIVATE_NETWORK")]
    allow_private_network: bool,
    #[arg(long, default_value_t = 4)]
    max_parallel_downloads: usize,
    /// Largest asset accepted, bytes (suffixes K, M, G).
    #[arg(long, default_value = "2G", value_parser = parse_bytes)]
    max_asset_bytes: u64,
    /// Largest total of a job's downloads (suffixes K, M, G).
    #[arg(long, default_value = "8G", value_parser = parse_bytes)]
    max_job_bytes: u64,
    /// Seconds without a byte before a download is abandoned.
    #[arg(long, default_value_t = 30)]
    read_timeout: u64,
    /// Seconds without FFmpeg progress before it is stopped.
    #[arg(long, default_value_t = 60)]
    stall_timeout: u64,
    /// Seconds the whole render may take.
    #[arg(long)]
    deadline: Option<u64>,
    /// Memory limit for the whole job (512M or 512Mi: binary units either way); default: the cgroup's, else the host's.
    #[arg(long, env = "CUTLIST_MEMORY_LIMIT", value_parser = parse_bytes)]
    memory_limit: Option<u64>,
    /// Warn (log line and webhook event) when memory reaches this share of the limit.
    #[arg(long, default_value_t = 0.8, env = "CUTLIST_MEMORY_WARN")]
    memory_warn: f64,
    /// Cores the encoders may use (default: the cgroup's CPU quota, else the available cores).
    #[arg(long, env = "CUTLIST_CPUS")]
    cpus: Option<u32>,
    /// After the job, print memory per phase and per process to stderr; `=detailed` also
    /// publishes a picture of memory over time beside the output (`<output>.memory.svg`).
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "table", default_value = "off", env = "CUTLIST_MEMORY_REPORT")]
    memory_report: cutlist::memreport::Mode,
    #[arg(long, default_value = "ffmpeg", env = "CUTLIST_FFMPEG")]
    ffmpeg: PathBuf,
    #[arg(long, default_value = "ffprobe", env = "CUTLIST_FFPROBE")]
    ffprobe: PathBuf,
    /// Post signed status events here (the spec's webhook.url wins). The signing secret is
    /// read from CUTLIST_WEBHOOK_SECRET only, never from the command line.
    #[arg(long, env = "CUTLIST_WEBHOOK_URL")]
    webhook_url: Option<String>,
    /// Debugging: leave the workspace (segments, graphs) in place and do not publish.
    #[arg(long, hide = true)]
    keep_workspace: bool,
}

fn parse_bytes(s: &str) -> Result<u64, String> {
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
    fn options(&self, output: Option<PathBuf>) -> JobOptions {
        JobOptions {
            workdir: self.workdir.clone().unwrap_or_else(std::env::temp_dir),
            fetch: FetchPolicy {
                allow_private_network: self.allow_private_network,
                allowed_roots: self.allow_roots.clone(),
                max_parallel: self.max_parallel_downloads.max(1),
                max_asset_bytes: self.max_asset_bytes,
                max_job_bytes: self.max_job_bytes,
                read_timeout: Duration::from_secs(self.read_timeout.max(1)),
                ..FetchPolicy::default()
            },
            ffmpeg: self.ffmpeg.clone(),
            ffprobe: self.ffprobe.clone(),
            stall_timeout: Duration::from_secs(self.stall_timeout.max(1)),
            deadline: self.deadline.map(Duration::from_secs),
            memory_limit: self.memory_limit,
            memory_warn_fraction: self.memory_warn.clamp(0.01, 1.0),
            memory_report: self.memory_report,
            cpus: self.cpus,
            output,
            result: self.result.clone(),
            interactive: std::io::stderr().is_terminal(),
            keep_workspace: self.keep_workspace,
            webhook_url: self.webhook_url.clone(),
            webhook_secret: std::env::var("CUTLIST_WEBHOOK_SECRET").ok().filter(|s| !s.is_empty()),
            ..JobOptions::default()
        }
    }
}

/// Cancel the job on SIGTERM or SIGINT; a second signal exits at once.
fn watch_signals(cancel: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    tokio::spawn(async move {
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            return;
        };
        // Platform maintenance (SIGTSTP, then SIGCONT) is not a reason to stop: the job goes on.
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
                std::process::exit(exit::CANCELLED as i32);
            }
            tracing::warn!(event = "cancelling", signal = name, "{name}: stopping FFmpeg and cleaning up");
            cancel.cancel();
        }
    });
}

fn fail(e: &Error, job_id: Option<&str>, result: Option<&Path>) -> ExitCode {
    tracing::error!(
        job_id,
        event = if matches!(e, Error::Cancelled) { "cancelled" } else { "failed" },
        error = e.kind(),
        exit_code = e.exit_code(),
        retryable = e.retryable(),
        "{e}"
    );
    if let Some(path) = result {
        if let Err(w) = cutlist::publish::write_json(path, &FailureRecord::new(job_id, e)) {
            tracing::error!("cannot write the result record: {w}");
        }
    }
    ExitCode::from(e.exit_code())
}

async fn run_job(spec_path: &Path, output: Option<PathBuf>, run: &RunArgs) -> ExitCode {
    let uri = spec_path.to_str().filter(|s| cutlist::storage::is_object_uri(s));
    let read = match uri {
        Some(u) => job::read_remote_spec(u, &run.set).await,
        None => job::read_spec(spec_path, &run.set),
    };
    let spec = match read {
        Ok(s) => s,
        Err(e) => return fail(&e, None, run.result.as_deref()),
    };
    let mut opts = run.options(output);
    let base = match uri {
        // Relative names in a spec from a bucket are objects beside it (see job::resolve_remote).
        Some(u) => {
            opts.remote_base = u.rsplit_once('/').map(|(dir, _)| dir.to_string());
            std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
        }
        None => {
            let base = spec_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf())
        }
    };
    let cancel = CancellationToken::new();
    watch_signals(cancel.clone());
    match cutlist::render_spec(&spec, &base, &opts, &cancel).await {
        Ok(r) => {
            if std::io::stdout().is_terminal() {
                println!("{} ({:.2} s, {} frames, {} KiB)", r.output, r.duration, r.frames, r.bytes / 1024);
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, Some(&spec.id), run.result.as_deref()),
    }
}

async fn demo(output: PathBuf, run: &RunArgs) -> ExitCode {
    let dir = match tempfile::Builder::new().prefix("cutlist-demo-media-").tempdir() {
        Ok(d) => d,
        Err(e) => return fail(&Error::Environment(format!("cannot create a temp directory: {e}")), None, None),
    };
    tracing::info!(event = "demo", "making sample media with FFmpeg in {}", dir.path().display());
    if let Err(e) = cutlist::demo::make_media(&run.ffmpeg, dir.path()).await {
        return fail(&e, Some("demo"), None);
    }
    let output = std::path::absolute(&output).unwrap_or(output);
    let spec_path = dir.path().join("demo.json");
    let text = cutlist::demo::DEMO_SPEC
        .replace("{out}", &output.display().to_string().replace('\\', "\\\\").replace('"', "\\\""));
    if let Err(e) = std::fs::write(&spec_path, text) {
        return fail(&Error::Environment(format!("cannot write the demo spec: {e}")), None, None);
    }
    run_job(&spec_path, Some(output), run).await
}

/// `cutlist plan`: the plan of a spec, as JSON on stdout.
async fn plan(spec_path: &Path, run: &RunArgs) -> ExitCode {
    let spec = match job::read_spec(spec_path, &run.set) {
        Ok(s) => s,
        Err(e) => return fail(&e, None, None),
    };
    let base = spec_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let base = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
    let cancel = CancellationToken::new();
    watch_signals(cancel.clone());
    match job::plan_spec(&spec, &base, &run.options(None), &cancel).await {
        Ok(report) => print_json(&report),
        Err(e) => fail(&e, Some(&spec.id), None),
    }
}

/// Read a small text file from a path or a bucket.
async fn read_text(address: &str) -> Result<String, Error> {
    let unreadable = |reason: String| {
        Error::InvalidSpec(cutlist::spec::ValidationErrors(vec![cutlist::spec::SpecError {
            path: String::new(),
            reason,
        }]))
    };
    if cutlist::storage::is_object_uri(address) {
        let loc = cutlist::storage::locate(address).map_err(|e| unreadable(e.to_string()))?;
        let bytes = loc.read_small(64 << 20).await.map_err(|e| match e {
            cutlist::storage::StoreError::Transient(r) => {
                Error::AssetUnreachable { path: String::new(), src: address.to_string(), reason: r }
            }
            cutlist::storage::StoreError::Permanent(r) => unreadable(format!("cannot read {address}: {r}")),
            cutlist::storage::StoreError::Cancelled => Error::Cancelled,
        })?;
        String::from_utf8(bytes).map_err(|_| unreadable(format!("{address} is not UTF-8 text")))
    } else {
        std::fs::read_to_string(address).map_err(|e| unreadable(format!("cannot read {address}: {e}")))
    }
}

/// `cutlist job`: this task's specs, one after another. The exit code: 0 when all succeeded;
/// else a retryable failure's code if any (the platform retries the task, and the specs that
/// succeeded finish at once from their records); else the first permanent failure's.
async fn batch(spec: Option<String>, manifest: Option<String>, records: Option<String>, run: &RunArgs) -> ExitCode {
    use cutlist::runtime::{self, Entry, TaskContext};
    let ctx = match TaskContext::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cutlist job: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    cutlist::report::set_task_labels(ctx.index, ctx.count, ctx.attempt, ctx.platform);
    tracing::info!(
        event = "task",
        task_index = ctx.index,
        task_count = ctx.count,
        attempt = ctx.attempt,
        platform = ctx.platform,
        "task {} of {} (attempt {})",
        ctx.index + 1,
        ctx.count,
        ctx.attempt
    );
    let entries: Vec<Entry> = match (spec, manifest) {
        (Some(s), _) => vec![Entry::Address(s)],
        (None, Some(m)) => {
            let text = match read_text(&m).await {
                Ok(t) => t,
                Err(e) => return fail(&e, None, None),
            };
            match runtime::parse_manifest(&text) {
                Ok(all) => ctx.share(all.len()).map(|i| all[i].clone()).collect(),
                Err(reason) => {
                    return fail(
                        &Error::InvalidSpec(cutlist::spec::ValidationErrors(vec![cutlist::spec::SpecError {
                            path: m.clone(),
                            reason,
                        }])),
                        None,
                        None,
                    )
                }
            }
        }
        (None, None) => unreachable!("clap requires one"),
    };
    let cancel = CancellationToken::new();
    watch_signals(cancel.clone());
    let mut codes = Vec::new();
    let total = entries.len();
    for (i, entry) in entries.into_iter().enumerate() {
        let code = batch_entry(entry, records.as_deref(), run, &ctx, &cancel).await;
        // cutlist's own memory after each entry: flat across a batch, or a leak to report.
        let own = cutlist::memory::private_bytes(std::process::id()).unwrap_or(0);
        tracing::info!(
            event = "entry_done",
            entry = i,
            entries = total,
            exit_code = code,
            cutlist_private_bytes = own,
            "entry {} of {total} done (exit {code}); cutlist's own memory {} KiB",
            i + 1,
            own >> 10
        );
        codes.push(code);
        if code == exit::CANCELLED {
            break;
        }
    }
    let pick = codes
        .iter()
        .copied()
        .find(|&c| c == exit::CANCELLED)
        .or_else(|| {
            codes.iter().copied().find(|&c| {
                matches!(c, exit::ASSET_UNREACHABLE | exit::FFMPEG_KILLED | exit::STALLED | exit::PUBLISH_FAILED)
            })
        })
        .or_else(|| codes.iter().copied().find(|&c| c != exit::OK))
        .unwrap_or(exit::OK);
    ExitCode::from(pick)
}

/// Log a failure and give its exit code.
fn failed(e: &Error, job_id: Option<&str>) -> u8 {
    let _ = fail(e, job_id, None);
    e.exit_code()
}

/// One spec of a batch: look for its record, else render it and record the outcome.
async fn batch_entry(
    entry: cutlist::runtime::Entry,
    records: Option<&str>,
    run: &RunArgs,
    ctx: &cutlist::runtime::TaskContext,
    cancel: &CancellationToken,
) -> u8 {
    use cutlist::runtime::{self, Entry, Record};
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let mut opts = run.options(None);
    (opts.attempt, opts.task_index) = (ctx.attempt, ctx.index);
    let (text, base) = match &entry {
        Entry::Inline(v) => (v.to_string(), cwd),
        Entry::Address(a) => match read_text(a).await {
            Ok(t) if cutlist::storage::is_object_uri(a) => {
                opts.remote_base = a.rsplit_once('/').map(|(dir, _)| dir.to_string());
                (t, cwd)
            }
            Ok(t) => {
                let dir = Path::new(a).parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                (t, std::fs::canonicalize(dir).unwrap_or(cwd))
            }
            Err(e) => return failed(&e, None),
        },
    };
    let spec = match cutlist::spec::parse_with(&text, &run.set) {
        Ok(s) => s,
        Err(e) => {
            return failed(&Error::InvalidSpec(e), None);
        }
    };
    let hash = runtime::spec_hash(&spec);
    let place = match job::output_destination(&spec, &base, &opts)
        .and_then(|d| runtime::record_place(records, &spec, &hash, &d))
    {
        Ok(p) => p,
        Err(e) => return failed(&e, Some(&spec.id)),
    };
    match runtime::read_record(&place).await {
        Ok(Some(rec)) => {
            tracing::info!(job_id = %spec.id, event = "already_done", status = %rec.status, exit_code = rec.exit_code, record = %place.display(),
                "{} already {} (attempt {}): {}", spec.id, rec.status, rec.attempt, rec.message);
            return rec.exit_code;
        }
        Ok(None) => {}
        Err(e) => return failed(&e, Some(&spec.id)),
    }
    let outcome = cutlist::render_spec(&spec, &base, &opts, cancel).await;
    let now = cutlist::report::rfc3339(std::time::SystemTime::now());
    let (record, code) = match &outcome {
        Ok(r) => (
            Some(Record {
                job_id: spec.id.clone(),
                spec_sha256: hash.clone(),
                status: "succeeded".into(),
                exit_code: exit::OK,
                output: Some(r.output.clone()),
                sidecars: r.sidecars.clone(),
                message: format!("rendered {:.2} s", r.duration),
                attempt: ctx.attempt,
                time: now,
            }),
            exit::OK,
        ),
        // Only outcomes a retry cannot change are recorded.
        Err(e) if !e.retryable() => (
            Some(Record {
                job_id: spec.id.clone(),
                spec_sha256: hash.clone(),
                status: "failed".into(),
                exit_code: e.exit_code(),
                output: None,
                sidecars: vec![],
                message: e.to_string(),
                attempt: ctx.attempt,
                time: now,
            }),
            e.exit_code(),
        ),
        Err(e) => (None, e.exit_code()),
    };
    if let Some(rec) = record {
        let text = serde_json::to_string_pretty(&rec).expect("a record serializes");
        if let Err(e) = place.put_text(&text).await {
            tracing::error!(job_id = %spec.id, "cannot write the result record {}: {e}", place.display());
        }
    }
    if let Err(e) = &outcome {
        fail(e, Some(&spec.id), run.result.as_deref());
    }
    code
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { exit::OK });
        }
    };
    report::init(cli.log_format.unwrap_or_else(LogFormat::auto));
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(&Error::Internal(format!("cannot start the runtime: {e}")), None, None),
    };
    rt.block_on(async move {
        match cli.command {
            Command::Render { spec, output, run } => run_job(&spec, output, &run).await,
            Command::Demo { output, run } => demo(output, &run).await,
            Command::Job { spec, manifest, records, run } => batch(spec, manifest, records, &run).await,
            Command::Plan { spec, run } => plan(&spec, &run).await,
            Command::Validate { spec, timings, set } => validate(&spec, timings, &set),
            Command::Probe { src, ffprobe } => {
                match cutlist::probe::probe(&ffprobe, &src, Duration::from_secs(60)).await {
                    Ok(info) => print_json(&info),
                    Err(e) => {
                        let e = match e {
                            cutlist::probe::ProbeError::Rejected(reason) => {
                                Error::AssetRejected { path: String::new(), src: src.display().to_string(), reason }
                            }
                            cutlist::probe::ProbeError::Tool(r) => Error::Environment(r),
                        };
                        fail(&e, None, None)
                    }
                }
            }
            Command::Schema => print_json(&cutlist::spec::json_schema()),
        }
    })
}

/// Print JSON to stdout; a closed pipe (`| head`) is not an error.
fn print_json(v: &impl serde::Serialize) -> ExitCode {
    use std::io::Write;
    let text = serde_json::to_string_pretty(v).expect("serializable");
    let _ = writeln!(std::io::stdout(), "{text}");
    ExitCode::SUCCESS
}

fn validate(path: &Path, timings: bool, set: &[(String, serde_json::Value)]) -> ExitCode {
    match job::read_spec(path, set) {
        Ok(spec) => {
            let t = spec.main_track();
            println!("{}: valid ({} clips)", path.display(), t.clips.len());
            if timings {
                print_timings(&spec, t);
            }
            ExitCode::SUCCESS
        }
        Err(Error::InvalidSpec(errs)) => {
            eprintln!("{}: {errs}", path.display());
            ExitCode::from(exit::INVALID_SPEC)
        }
        Err(e) => fail(&e, None, None),
    }
}

/// Where each clip starts on the output timeline, as far as the spec alone tells (a video
/// clip without `out` ends where its media ends: later starts are known after probing, and
/// the result manifest lists them all).
fn print_timings(spec: &cutlist::spec::Spec, t: &cutlist::spec::VideoTrack) {
    use cutlist::spec::timing;
    let fps = spec.output.fps;
    let known: Vec<u64> = t.clips.iter().map_while(|c| c.frames(fps)).collect();
    let transitions = timing::transition_frames(&t.clips, fps);
    let layout = timing::layout(&known, &transitions[..known.len()]);
    println!("clip\tstart s\tstart frame\tframes\ttransition in s");
    for (i, span) in layout.clips.iter().enumerate() {
        println!(
            "timeline.tracks[0].clips[{i}]\t{:.3}\t{}\t{}\t{:.3}",
            fps.seconds_at(span.start),
            span.start,
            span.frames,
            fps.seconds_at(transitions[i])
        );
    }
    if known.len() < t.clips.len() {
        println!("timeline.tracks[0].clips[{}] has no out: later starts depend on its media's length", known.len());
    } else {
        println!("total\t{:.3}\t{}", fps.seconds_at(layout.total), layout.total);
    }
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
