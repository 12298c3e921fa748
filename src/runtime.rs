//! The job runtime on a batch platform: which task this is (Cloud Run Jobs, Kubernetes
//! Indexed Jobs, AWS Batch array jobs), its share of a batch manifest, and the durable result
//! records that make a retried attempt finish at once with the first attempt's outcome.

use crate::error::{Error, Result};
use crate::publish::Destination;
use crate::spec::Spec;
use serde::{Deserialize, Serialize};

/// This task's place in its job, from the platform's variables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskContext {
    pub index: u64,
    pub count: u64,
    /// 0 on the first attempt.
    pub attempt: u64,
    /// Which platform's variables it came from (`cloud-run`, `kubernetes`, `aws-batch`, `none`).
    pub platform: &'static str,
}

impl TaskContext {
    /// Read the task context from `var` (the process environment in production).
    ///
    /// - Cloud Run Jobs: `CLOUD_RUN_TASK_INDEX`, `CLOUD_RUN_TASK_COUNT`, `CLOUD_RUN_TASK_ATTEMPT`.
    /// - Kubernetes Indexed Jobs: `JOB_COMPLETION_INDEX`; the count is not in the environment:
    ///   set `CUTLIST_TASK_COUNT` to the Job's `completions`.
    /// - AWS Batch array jobs: `AWS_BATCH_JOB_ARRAY_INDEX`, `AWS_BATCH_JOB_ARRAY_SIZE`,
    ///   `AWS_BATCH_JOB_ATTEMPT` (1-based).
    ///
    /// `CUTLIST_TASK_INDEX` / `CUTLIST_TASK_COUNT` override, for anything else.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> std::result::Result<TaskContext, String> {
        let num = |name: &str| -> std::result::Result<Option<u64>, String> {
            match var(name) {
                None => Ok(None),
                Some(v) => v.trim().parse().map(Some).map_err(|_| format!("{name}={v:?} is not a whole number")),
            }
        };
        let (platform, index, count, attempt) = if let Some(i) = num("CLOUD_RUN_TASK_INDEX")? {
            ("cloud-run", i, num("CLOUD_RUN_TASK_COUNT")?, num("CLOUD_RUN_TASK_ATTEMPT")?.unwrap_or(0))
        } else if let Some(i) = num("JOB_COMPLETION_INDEX")? {
            ("kubernetes", i, None, 0)
        } else if let Some(i) = num("AWS_BATCH_JOB_ARRAY_INDEX")? {
            (
                "aws-batch",
                i,
                num("AWS_BATCH_JOB_ARRAY_SIZE")?,
                num("AWS_BATCH_JOB_ATTEMPT")?.map(|a| a.saturating_sub(1)).unwrap_or(0),
            )
        } else {
            ("none", 0, Some(1), 0)
        };
        let index = num("CUTLIST_TASK_INDEX")?.unwrap_or(index);
        let count = num("CUTLIST_TASK_COUNT")?.or(count).ok_or_else(|| {
            format!(
                "the task count is not in the environment on {platform}: set CUTLIST_TASK_COUNT to the number of tasks"
            )
        })?;
        if count == 0 || index >= count {
            return Err(format!("task index {index} is not below the task count {count}"));
        }
        Ok(TaskContext { index, count, attempt, platform })
    }

    pub fn from_env() -> std::result::Result<TaskContext, String> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// This task's entries of a manifest of `n` entries: every `count`-th from `index`.
    pub fn share(&self, n: usize) -> impl Iterator<Item = usize> + '_ {
        (self.index as usize..n).step_by(self.count as usize)
    }
}

/// One entry of a batch manifest (JSON Lines): a spec, or the address of one.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Inline(serde_json::Value),
    Address(String),
}

/// Read a batch manifest: one JSON value a line (an object is a spec, a string a spec's
/// address); blank lines and `#` comments are skipped. Errors name the line.
pub fn parse_manifest(text: &str) -> std::result::Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(t) {
            Ok(serde_json::Value::String(s)) => out.push(Entry::Address(s)),
            Ok(v @ serde_json::Value::Object(_)) => out.push(Entry::Inline(v)),
            Ok(_) => return Err(format!("line {}: expected a spec (an object) or a spec's address (a string)", i + 1)),
            Err(e) => return Err(format!("line {}: not JSON: {e}", i + 1)),
        }
    }
    Ok(out)
}

/// SHA-256 of the validated spec (placeholders filled), as hex: what makes two attempts the same job.
pub fn spec_hash(spec: &Spec) -> String {
    let bytes = serde_json::to_vec(spec).expect("a spec serializes");
    let d = ring::digest::digest(&ring::digest::SHA256, &bytes);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The durable outcome of a job: written at the end of an attempt that succeeded or failed
/// for good, read at the start of every attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub job_id: String,
    pub spec_sha256: String,
    /// `succeeded` or `failed`.
    pub status: String,
    pub exit_code: u8,
    /// The output and the files beside it (succeeded), or why it failed.
    pub output: Option<String>,
    #[serde(default)]
    pub sidecars: Vec<String>,
    pub message: String,
    pub attempt: u64,
    pub time: String,
}

/// Where a job's record lives: under `records` (a directory or a bucket prefix) when given,
/// else beside the output (`.<output name>.<hash>.cutlist-record.json`).
pub fn record_place(records: Option<&str>, spec: &Spec, hash: &str, output: &Destination) -> Result<Destination> {
    let name = format!("{}-{}.json", spec.id, &hash[..16]);
    match records {
        Some(dir) if crate::storage::is_object_uri(dir) => {
            Destination::parse(&format!("{}/{name}", dir.trim_end_matches('/')), std::path::Path::new(""))
        }
        Some(dir) => Ok(Destination::Local(std::path::Path::new(dir).join(name))),
        None => Ok(output.sibling_hidden(&format!("{}.cutlist-record.json", &hash[..16]))),
    }
}

/// The record at `place`, if there is one.
pub async fn read_record(place: &Destination) -> Result<Option<Record>> {
    let Some(text) = place.read_text().await? else { return Ok(None) };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Error::Environment(format!(
            "the result record {} is not readable ({e}): remove it to render again",
            place.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(vars: &[(&str, &str)]) -> std::result::Result<TaskContext, String> {
        TaskContext::from_vars(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn reads_each_platform() {
        let c = ctx(&[("CLOUD_RUN_TASK_INDEX", "2"), ("CLOUD_RUN_TASK_COUNT", "5"), ("CLOUD_RUN_TASK_ATTEMPT", "1")])
            .unwrap();
        assert_eq!((c.index, c.count, c.attempt, c.platform), (2, 5, 1, "cloud-run"));
        let c = ctx(&[("JOB_COMPLETION_INDEX", "3"), ("CUTLIST_TASK_COUNT", "4")]).unwrap();
        assert_eq!((c.index, c.count, c.platform), (3, 4, "kubernetes"));
        assert!(ctx(&[("JOB_COMPLETION_INDEX", "3")]).unwrap_err().contains("CUTLIST_TASK_COUNT"));
        let c = ctx(&[
            ("AWS_BATCH_JOB_ARRAY_INDEX", "0"),
            ("AWS_BATCH_JOB_ATTEMPT", "2"),
            ("AWS_BATCH_JOB_ARRAY_SIZE", "2"),
        ])
        .unwrap();
        assert_eq!((c.index, c.count, c.attempt, c.platform), (0, 2, 1, "aws-batch"));
        assert_eq!(ctx(&[]).unwrap(), TaskContext { index: 0, count: 1, attempt: 0, platform: "none" });
        assert!(ctx(&[("CLOUD_RUN_TASK_INDEX", "5"), ("CLOUD_RUN_TASK_COUNT", "5")]).is_err());
    }

    #[test]
    fn shares_cover_every_entry_once() {
        let mut seen = vec![0; 10];
        for i in 0..3 {
            let c = TaskContext { index: i, count: 3, attempt: 0, platform: "none" };
            for k in c.share(10) {
                seen[k] += 1;
            }
        }
        assert_eq!(seen, vec![1; 10]);
    }

    #[test]
    fn manifests_take_specs_and_addresses() {
        let m = parse_manifest("# batch\n{\"version\":1}\n\n\"s3://b/spec.json\"\n").unwrap();
        assert_eq!(m.len(), 2);
        assert!(matches!(&m[1], Entry::Address(a) if a == "s3://b/spec.json"));
        assert!(parse_manifest("{\"a\":1}\n[1]\n").unwrap_err().contains("line 2"));
    }
}
