//! `cutlist render SPEC` and `cutlist demo`: a job, end to end.

use super::{cancel_on_signals, fail, RunArgs};
use crate::error::Error;
use crate::source;
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Render a timeline spec to a video file.
#[derive(Args, Debug)]
pub struct RenderArgs {
    /// The spec (JSON): a local file or an s3://, gs://, az:// object.
    pub spec: String,
    /// Output file (overrides the spec's output.path).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
}

pub async fn render(args: RenderArgs) -> ExitCode {
    run(&args.spec, args.output, &args.run).await
}

async fn run(spec: &str, output: Option<PathBuf>, run: &RunArgs) -> ExitCode {
    let job = match source::open(spec, &run.set).await {
        Ok(j) => j,
        Err(e) => return fail(&e, None, run.result.as_deref()),
    };
    let cancel = cancel_on_signals();
    match crate::job::render_spec(&job, &run.resolve(output), &cancel).await {
        Ok(r) => {
            if std::io::stdout().is_terminal() {
                println!("{} ({:.2} s, {} frames, {} KiB)", r.output, r.duration, r.frames, r.bytes / 1024);
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, Some(&job.spec.id), run.result.as_deref()),
    }
}

/// Make sample media (no network) and render a demo timeline with it.
#[derive(Args, Debug)]
pub struct DemoArgs {
    #[arg(short, long, default_value = "cutlist-demo.mp4")]
    pub output: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
}

pub async fn demo(args: DemoArgs) -> ExitCode {
    let DemoArgs { output, run: mut opts } = args;
    // The demo's own output: a second demo replaces the first.
    opts.overwrite = true;
    let dir = match tempfile::Builder::new().prefix("cutlist-demo-media-").tempdir() {
        Ok(d) => d,
        Err(e) => return fail(&Error::Environment(format!("cannot create a temp directory: {e}")), None, None),
    };
    tracing::info!(event = "demo", "making sample media with FFmpeg in {}", dir.path().display());
    if let Err(e) = crate::demo::make_media(&opts.ffmpeg, dir.path()).await {
        return fail(&e, Some("demo"), None);
    }
    let output = std::path::absolute(&output).unwrap_or(output);
    let spec_path = dir.path().join("demo.json");
    if let Err(e) = std::fs::write(&spec_path, crate::demo::DEMO_SPEC) {
        return fail(&Error::Environment(format!("cannot write the demo spec: {e}")), None, None);
    }
    run(&spec_path.display().to_string(), Some(output), &opts).await
}
