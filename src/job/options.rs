//! How a job runs, apart from its spec: resolved once from the command line and the
//! environment into what each stage needs.

use crate::fetch::FetchPolicy;
use crate::memory::Limits;
use crate::process::Tools;
use std::path::PathBuf;
use std::time::Duration;

/// Everything about a job that is not in the spec.
#[derive(Debug, Clone)]
pub struct JobOptions {
    /// Parent of the job's workspace.
    pub workdir: PathBuf,
    /// What the fetch stage may reach and how.
    pub fetch: FetchPolicy,
    /// How FFmpeg and ffprobe are found and supervised.
    pub tools: Tools,
    /// The memory limit and the cores the plan must fit into.
    pub limits: Limits,
    /// The whole job must finish within this (from its start).
    pub deadline: Option<Duration>,
    /// Where the output goes when the command line says (`-o`); else the spec's `output.path`.
    pub output: Option<PathBuf>,
    /// Local paths a spec writes land beneath this directory (default: the spec's own).
    pub output_root: Option<PathBuf>,
    /// Replace an existing local file (a regular file only); objects are always create-only.
    pub overwrite: bool,
    /// Where to write the result manifest (always, also on failure); default beside the output, on success.
    pub result: Option<PathBuf>,
    pub report: ReportOptions,
    /// Leave the workspace in place for debugging (its path is logged; nothing is published).
    pub keep_workspace: bool,
    /// Refuse a source FFmpeg reports decoding errors in (else: a warning).
    pub strict_decode: bool,
    /// Whether clips may be stream-copied.
    pub copy: crate::plan::copy::CopyPolicy,
}

/// How a job reports: progress, memory, the status webhook, and its place in a batch.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Progress as a bar (terminal) instead of JSON lines.
    pub interactive: bool,
    /// How often memory is sampled.
    pub sample_every: Duration,
    /// Fraction of the memory limit at which the job warns (log line and webhook event).
    pub memory_warn_fraction: f64,
    /// Print a memory table when the job ends (and publish a picture of it).
    pub memory_report: crate::memory::report::Mode,
    /// The operator's status webhook (trusted; the only one whose events are signed) and the
    /// secret that signs its events.
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    /// Origins (`https://hooks.example.com`) a spec's own `webhook.url` may have.
    pub webhook_allow: Vec<String>,
    /// Which attempt and task this is (from the platform), for status events.
    pub attempt: u64,
    pub task_index: u64,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            interactive: false,
            sample_every: Duration::from_millis(50),
            memory_warn_fraction: 0.8,
            memory_report: crate::memory::report::Mode::Off,
            webhook_url: None,
            webhook_secret: None,
            webhook_allow: Vec::new(),
            attempt: 0,
            task_index: 0,
        }
    }
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            workdir: std::env::temp_dir(),
            fetch: FetchPolicy::default(),
            tools: Tools::default(),
            limits: Limits::detect(None, None),
            deadline: None,
            output: None,
            output_root: None,
            overwrite: false,
            result: None,
            report: ReportOptions::default(),
            keep_workspace: false,
            strict_decode: false,
            copy: crate::plan::copy::CopyPolicy::Auto,
        }
    }
}
