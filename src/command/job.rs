//! `cutlist job`: run as one task of a batch platform.

use super::{cancel_on_signals, RunArgs};
use crate::batch::{self, TaskContext, Work};
use crate::error::exit;
use clap::Args;
use std::process::ExitCode;

/// Run as a task of a batch platform (Cloud Run Job, Kubernetes Indexed Job, AWS Batch
/// array): one spec, or this task's share of a manifest; a retried attempt finishes at
/// once with the outcome its result record holds.
#[derive(Args, Debug)]
pub struct JobArgs {
    /// One spec: a path or an s3://, gs://, az:// address.
    #[arg(long, env = "CUTLIST_SPEC", conflicts_with = "manifest", required_unless_present = "manifest")]
    pub spec: Option<String>,
    /// A batch manifest (JSON Lines: a spec object or a spec's address a line); this task
    /// renders lines index, index + count, … (see README: Batch jobs).
    #[arg(long, env = "CUTLIST_MANIFEST")]
    pub manifest: Option<String>,
    /// Where result records go: a directory or a bucket prefix. Default: beside each output.
    #[arg(long, env = "CUTLIST_RECORDS")]
    pub records: Option<String>,
    #[command(flatten)]
    pub run: RunArgs,
}

pub async fn run(args: JobArgs) -> ExitCode {
    let ctx = match TaskContext::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cutlist job: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    crate::report::set_task_labels(ctx.index, ctx.count, ctx.attempt, ctx.platform);
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
    let work = match (args.spec, args.manifest) {
        (Some(s), _) => Work::Spec(s),
        (None, Some(m)) => Work::Manifest(m),
        (None, None) => unreachable!("clap requires one"),
    };
    let cancel = cancel_on_signals();
    let opts = args.run.resolve(None);
    ExitCode::from(batch::run(work, args.records.as_deref(), &args.run.set, &opts, &ctx, &cancel).await)
}
