//! Where a spec comes from, and where its relative paths resolve: the one door every command
//! reads a spec through (`render`, `plan`, `validate`, `job`), with one size limit.

use crate::error::{Error, Result};
use crate::spec::address::{is_object, scheme_of};
use crate::spec::{parse_with, Spec, SpecError, ValidationErrors};
use crate::storage::{self, StoreError};
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest spec read, bytes (a 2000-clip timeline with inline captions is well under it).
pub const MAX_SPEC_BYTES: u64 = 8 << 20;
/// The largest batch manifest read, bytes.
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;

/// Where a spec's relative paths resolve: its directory on this machine, or its prefix in a
/// bucket (a spec at `s3://b/jobs/a.json` names `s3://b/jobs/clip.mp4` by `clip.mp4`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    Dir(PathBuf),
    Prefix(String),
}

impl Base {
    /// The base of the spec at `address`.
    pub fn of(address: &str) -> Base {
        if is_object(address) {
            return Base::Prefix(address.rsplit_once('/').map(|(dir, _)| dir.to_string()).unwrap_or_default());
        }
        let dir = Path::new(address).parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Base::Dir(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()))
    }

    /// The base of a spec that has no place of its own (an inline manifest entry): the
    /// current directory.
    pub fn current_dir() -> Base {
        Base::Dir(std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")))
    }

    /// `addr` as fetched or published: a relative name joined to the base (absolute paths
    /// and addresses with a scheme stay as they are).
    pub fn resolve(&self, addr: &str) -> String {
        match self {
            _ if scheme_of(addr).is_some() || addr.starts_with('/') => addr.to_string(),
            Base::Dir(d) => d.join(addr).display().to_string(),
            Base::Prefix(p) => format!("{}/{}", p.trim_end_matches('/'), addr.trim_start_matches("./")),
        }
    }

    /// The local directory a spec may name files beneath; a spec from a bucket has none (it
    /// may reach this machine only through `--allow-root`).
    pub fn local_root(&self) -> Option<&Path> {
        match self {
            Base::Dir(d) => Some(d),
            Base::Prefix(_) => None,
        }
    }
}

/// A spec read and validated, with where its relative paths resolve.
#[derive(Debug, Clone)]
pub struct Opened {
    pub spec: Spec,
    pub base: Base,
}

/// An error about the spec document itself (no field to name).
fn unreadable(reason: String) -> Error {
    Error::InvalidSpec(ValidationErrors(vec![SpecError { path: String::new(), reason }]))
}

/// The text at `address` (a local path or an object), at most `max` bytes.
pub async fn read_text(address: &str, max: u64) -> Result<String> {
    let too_large = || unreadable(format!("{address} is larger than {} MiB", max >> 20));
    let bytes = if is_object(address) {
        let loc = storage::locate(address).map_err(|e| unreadable(e.to_string()))?;
        loc.read_small(max).await.map_err(|e| match e {
            StoreError::Transient(r) => {
                Error::AssetUnreachable { path: String::new(), src: address.to_string(), reason: r }
            }
            StoreError::Permanent(r) => unreadable(format!("cannot read {address}: {r}")),
            StoreError::Cancelled => Error::Cancelled,
        })?
    } else {
        let f = std::fs::File::open(address).map_err(|e| unreadable(format!("cannot read {address}: {e}")))?;
        if f.metadata().is_ok_and(|m| !m.is_file()) {
            return Err(unreadable(format!("{address} is not a regular file")));
        }
        let mut bytes = Vec::new();
        f.take(max + 1).read_to_end(&mut bytes).map_err(|e| unreadable(format!("cannot read {address}: {e}")))?;
        bytes
    };
    if bytes.len() as u64 > max {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|_| unreadable(format!("{address} is not UTF-8 text")))
}

/// Read, fill (`set` wins over the spec's `merge`) and validate the spec at `address`.
pub async fn open(address: &str, set: &[(String, Value)]) -> Result<Opened> {
    let text = read_text(address, MAX_SPEC_BYTES).await?;
    Ok(Opened { spec: parse_with(&text, set)?, base: Base::of(address) })
}

/// A spec given as text (an inline manifest entry), its paths resolving at `base`.
pub fn from_text(text: &str, set: &[(String, Value)], base: Base) -> Result<Opened> {
    if text.len() as u64 > MAX_SPEC_BYTES {
        return Err(unreadable(format!("the spec is larger than {} MiB", MAX_SPEC_BYTES >> 20)));
    }
    Ok(Opened { spec: parse_with(text, set)?, base })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases() {
        let b = Base::of("s3://bucket/jobs/spec.json");
        assert_eq!(b, Base::Prefix("s3://bucket/jobs".into()));
        assert_eq!(b.resolve("./a.mp4"), "s3://bucket/jobs/a.mp4");
        assert_eq!(b.resolve("https://h/a.mp4"), "https://h/a.mp4");
        assert_eq!(b.local_root(), None);
        assert_eq!(Base::Dir("/w".into()).resolve("a/b.mp4"), "/w/a/b.mp4");
        assert_eq!(Base::Dir("/w".into()).resolve("/abs.mp4"), "/abs.mp4");
    }

    #[tokio::test]
    async fn one_size_limit_for_every_spec() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("big.json");
        std::fs::write(&p, vec![b' '; MAX_SPEC_BYTES as usize + 1]).unwrap();
        let e = open(p.to_str().unwrap(), &[]).await.unwrap_err().to_string();
        assert!(e.contains("larger than 8 MiB"), "{e}");
        let e = open("/nonexistent/spec.json", &[]).await.unwrap_err().to_string();
        assert!(e.contains("cannot read /nonexistent/spec.json"), "{e}");
    }
}
