//! Batch mode (`cutlist job`): one task of a Cloud Run Job, Kubernetes Indexed Job or AWS
//! Batch array renders its share of the specs, one after another; a retried attempt finishes
//! at once, from its result record, what an earlier attempt finished.

pub mod record;
pub mod task;

pub use record::{parse_manifest, read_record, record_place, spec_hash, Entry, Record};
pub use task::TaskContext;

use crate::error::{exit, Error};
use crate::job::{self, JobOptions};
use crate::report::Status;
use crate::source::{self, Base};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// What a task renders: one spec, or its share of a manifest (addresses of either).
#[derive(Debug, Clone)]
pub enum Work {
    Spec(String),
    Manifest(String),
}

/// How one entry of a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed { code: u8, retryable: bool },
}

impl Outcome {
    fn of(e: &Error) -> Outcome {
        Outcome::Failed { code: e.exit_code(), retryable: e.retryable() }
    }
}

/// The task's exit code: 0 when every entry succeeded; else a cancellation's; else the first
/// failure a retry may mend (the platform retries the task, and what succeeded finishes from
/// its record); else the first permanent failure's.
pub fn exit_code(outcomes: &[Outcome]) -> u8 {
    let failed = |want: fn(u8, bool) -> bool| {
        outcomes.iter().find_map(|o| match *o {
            Outcome::Failed { code, retryable } if want(code, retryable) => Some(code),
            _ => None,
        })
    };
    failed(|code, _| code == exit::CANCELLED)
        .or_else(|| failed(|_, retryable| retryable))
        .or_else(|| failed(|_, _| true))
        .unwrap_or(exit::OK)
}

/// Run this task's share of `work`, one entry after another, and give the task's exit code.
pub async fn run(
    work: Work,
    records: Option<&str>,
    set: &[(String, Value)],
    opts: &JobOptions,
    ctx: &TaskContext,
    cancel: &CancellationToken,
) -> u8 {
    let entries: Vec<Entry> = match work {
        Work::Spec(s) => vec![Entry::Address(s)],
        Work::Manifest(m) => {
            let text = match source::read_text(&m, source::MAX_MANIFEST_BYTES).await {
                Ok(t) => t,
                Err(e) => return job::report_failure(&e, None, None),
            };
            match parse_manifest(&text) {
                Ok(all) => ctx.share(all.len()).map(|i| all[i].clone()).collect(),
                Err(reason) => {
                    let e = Error::InvalidSpec(crate::spec::ValidationErrors(vec![crate::spec::SpecError {
                        path: m.clone(),
                        reason,
                    }]));
                    return job::report_failure(&e, None, None);
                }
            }
        }
    };
    let mut outcomes = Vec::new();
    let total = entries.len();
    for (i, entry) in entries.into_iter().enumerate() {
        let outcome = run_entry(entry, records, set, opts, ctx, cancel).await;
        let code = match outcome {
            Outcome::Done => exit::OK,
            Outcome::Failed { code, .. } => code,
        };
        // cutlist's own memory after each entry: flat across a batch, or a leak to report.
        let own = crate::memory::private_bytes(std::process::id()).unwrap_or(0);
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
        outcomes.push(outcome);
        if code == exit::CANCELLED {
            break;
        }
    }
    exit_code(&outcomes)
}

/// One spec of a batch: look for its record, else render it and record the outcome.
async fn run_entry(
    entry: Entry,
    records: Option<&str>,
    set: &[(String, Value)],
    opts: &JobOptions,
    ctx: &TaskContext,
    cancel: &CancellationToken,
) -> Outcome {
    let mut opts = opts.clone();
    (opts.report.attempt, opts.report.task_index) = (ctx.attempt, ctx.index);
    let opened = match &entry {
        Entry::Inline(v) => source::from_text(&v.to_string(), set, Base::current_dir()),
        Entry::Address(a) => source::open(a, set).await,
    };
    let job = match opened {
        Ok(j) => j,
        Err(e) => {
            job::report_failure(&e, None, None);
            return Outcome::of(&e);
        }
    };
    let spec = &job.spec;
    let hash = spec_hash(spec);
    let place = match job::destination(spec, &job.base, &opts).and_then(|d| record_place(records, spec, &hash, &d)) {
        Ok(p) => p,
        Err(e) => {
            job::report_failure(&e, Some(&spec.id), None);
            return Outcome::of(&e);
        }
    };
    match read_record(&place).await {
        Ok(Some(rec)) => {
            tracing::info!(job_id = %spec.id, event = "already_done", status = %rec.status, exit_code = rec.exit_code, record = %place.display(),
                "{} already {} (attempt {}): {}", spec.id, rec.status, rec.attempt, rec.message);
            // Only outcomes no retry can change are recorded.
            return match rec.status {
                Status::Succeeded => Outcome::Done,
                _ => Outcome::Failed { code: rec.exit_code, retryable: false },
            };
        }
        Ok(None) => {}
        Err(e) => {
            job::report_failure(&e, Some(&spec.id), None);
            return Outcome::of(&e);
        }
    }
    let outcome = job::render_spec(&job, &opts, cancel).await;
    let time = crate::report::rfc3339(std::time::SystemTime::now());
    let record = match &outcome {
        Ok(r) => Some(Record {
            job_id: spec.id.clone(),
            spec_sha256: hash.clone(),
            status: Status::Succeeded,
            exit_code: exit::OK,
            output: Some(r.output.clone()),
            sidecars: r.sidecars.clone(),
            message: format!("rendered {:.2} s", r.duration),
            attempt: ctx.attempt,
            time,
        }),
        Err(e) if !e.retryable() => Some(Record {
            job_id: spec.id.clone(),
            spec_sha256: hash.clone(),
            status: Status::Failed,
            exit_code: e.exit_code(),
            output: None,
            sidecars: vec![],
            message: e.to_string(),
            attempt: ctx.attempt,
            time,
        }),
        Err(_) => None,
    };
    if let Some(rec) = record {
        let text = serde_json::to_string_pretty(&rec).expect("a record serializes");
        if let Err(e) = place.put_text(&text).await {
            tracing::error!(job_id = %spec.id, "cannot write the result record {}: {e}", place.display());
        }
    }
    match &outcome {
        Ok(_) => Outcome::Done,
        Err(e) => {
            job::report_failure(e, Some(&spec.id), opts.result.as_deref());
            Outcome::of(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_exit_code_follows_the_errors() {
        let failed = |e: Error| Outcome::of(&e);
        let deadline = failed(Error::Deadline { step: "x".into(), secs: 1 });
        let invalid = failed(Error::Internal("bug".into()));
        assert_eq!(exit_code(&[Outcome::Done, Outcome::Done]), exit::OK);
        // A deadline that passed is worth another attempt (its code, 9, says so too).
        assert_eq!(exit_code(&[invalid, deadline]), exit::STALLED);
        assert_eq!(exit_code(&[invalid, Outcome::Done]), exit::INTERNAL);
        assert_eq!(exit_code(&[deadline, failed(Error::Cancelled)]), exit::CANCELLED);
        // Every code a retry may mend is retryable by the error's own word, and only those.
        for e in [
            Error::AssetUnreachable { path: String::new(), src: String::new(), reason: String::new() },
            Error::FfmpegKilled { step: String::new(), signal: 9, stderr: String::new() },
            Error::Stalled { step: String::new(), secs: 1 },
            Error::Deadline { step: String::new(), secs: 1 },
            Error::Publish { dest: String::new(), reason: String::new(), retryable: true },
        ] {
            assert!(e.retryable(), "{e}");
        }
    }
}
