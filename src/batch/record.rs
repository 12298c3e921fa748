//! Batch manifests, and the durable result records that make a retried attempt finish at
//! once with the first attempt's outcome.

use crate::error::{Error, Result};
use crate::publish::Destination;
use crate::report::Status;
use crate::spec::Spec;
use serde::{Deserialize, Serialize};

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
    pub status: Status,
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
        Some(dir) if crate::spec::address::is_object(dir) => {
            Destination::parse(&format!("{}/{name}", dir.trim_end_matches('/')))
        }
        Some(dir) => Destination::parse(&std::path::Path::new(dir).join(name).to_string_lossy()),
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

    #[test]
    fn manifests_take_specs_and_addresses() {
        let m = parse_manifest("# batch\n{\"version\":1}\n\n\"s3://b/spec.json\"\n").unwrap();
        assert_eq!(m.len(), 2);
        assert!(matches!(&m[1], Entry::Address(a) if a == "s3://b/spec.json"));
        assert!(parse_manifest("{\"a\":1}\n[1]\n").unwrap_err().contains("line 2"));
    }
}
