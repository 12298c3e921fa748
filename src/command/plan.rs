//! `cutlist plan SPEC`: fetch, probe and plan without rendering; the plan as JSON.

use super::{cancel_on_signals, fail, print_json, RunArgs};
use crate::source;
use clap::Args;
use std::process::ExitCode;

/// Fetch, probe and plan a spec without rendering: the memory budget, the estimate, the
/// encoder settings fitted to it, and the FFmpeg runs (JSON).
#[derive(Args, Debug)]
pub struct PlanArgs {
    /// The spec (JSON): a local file or an s3://, gs://, az:// object.
    pub spec: String,
    #[command(flatten)]
    pub run: RunArgs,
}

pub async fn plan(args: PlanArgs) -> ExitCode {
    let job = match source::open(&args.spec, &args.run.set).await {
        Ok(j) => j,
        Err(e) => return fail(&e, None, None),
    };
    let cancel = cancel_on_signals();
    match crate::job::plan_spec(&job, &args.run.resolve(None), &cancel).await {
        Ok(report) => print_json(&report),
        Err(e) => fail(&e, Some(&job.spec.id), None),
    }
}
