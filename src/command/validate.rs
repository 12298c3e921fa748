//! `cutlist validate SPEC`: every problem at once, each with its JSON path.

use super::fail;
use crate::error::{exit, Error};
use crate::source;
use crate::spec::{timing, Spec, VideoTrack};
use clap::Args;
use std::process::ExitCode;

/// Check a spec and list every problem with its JSON path.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The spec (JSON): a local file or an s3://, gs://, az:// object.
    pub spec: String,
    /// Also print where each clip starts on the output timeline.
    #[arg(long)]
    pub timings: bool,
    /// Fill a {{placeholder}}: name=value (JSON if it reads as JSON, else text). Repeatable.
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = crate::spec::template::parse_set)]
    pub set: Vec<(String, serde_json::Value)>,
}

pub async fn run(args: ValidateArgs) -> ExitCode {
    match source::open(&args.spec, &args.set).await {
        Ok(job) => {
            let t = job.spec.main_track();
            println!("{}: valid ({} clips)", args.spec, t.clips.len());
            if args.timings {
                print_timings(&job.spec, t);
            }
            ExitCode::SUCCESS
        }
        Err(Error::InvalidSpec(errs)) => {
            eprintln!("{}: {errs}", args.spec);
            ExitCode::from(exit::INVALID_SPEC)
        }
        Err(e) => fail(&e, None, None),
    }
}

/// Where each clip starts on the output timeline, as far as the spec alone tells (a video
/// clip without `out` ends where its media ends: later starts are known after probing, and
/// the result manifest lists them all).
fn print_timings(spec: &Spec, t: &VideoTrack) {
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
