//! `cutlist probe FILE`: what cutlist learns about a local media file.

use super::{fail, print_json};
use crate::error::Error;
use crate::probe::{self, ProbeError};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Print what cutlist learns about a local media file.
#[derive(Args, Debug)]
pub struct ProbeArgs {
    pub src: PathBuf,
    #[arg(long, default_value = "ffprobe", env = "CUTLIST_FFPROBE")]
    pub ffprobe: PathBuf,
}

pub async fn run(args: ProbeArgs) -> ExitCode {
    let cancel = super::cancel_on_signals();
    match probe::probe(&args.ffprobe, &args.src, Duration::from_secs(60), &cancel).await {
        Ok(info) => print_json(&info),
        Err(e) => {
            let e = match e {
                ProbeError::Rejected(reason) => {
                    Error::AssetRejected { path: String::new(), src: args.src.display().to_string(), reason }
                }
                ProbeError::Tool(r) => Error::Environment(r),
                ProbeError::Cancelled => Error::Cancelled,
            };
            fail(&e, None, None)
        }
    }
}
