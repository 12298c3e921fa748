//! Local sources: beneath an allowed root, a regular file, used in place (no copy).

use super::{sniff, Failure, FetchPolicy};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Check a local source (resolved at the spec's directory) and return its canonical path
/// and size. It must lie beneath one of the policy's allowed roots.
pub(super) fn open(src: &Path, policy: &FetchPolicy) -> Result<(PathBuf, u64), Failure> {
    if src.components().any(|c| c == Component::ParentDir) {
        return Err(Failure::Rejected("`..` is not allowed in local paths".into()));
    }
    let real = std::fs::canonicalize(src).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Failure::Rejected("no such file".into()),
        std::io::ErrorKind::PermissionDenied => Failure::Rejected("permission denied".into()),
        _ => Failure::Rejected(format!("cannot open: {e}")),
    })?;
    let roots: Vec<PathBuf> = policy.allowed_roots.iter().filter_map(|r| std::fs::canonicalize(r).ok()).collect();
    if !roots.iter().any(|r| real.starts_with(r)) {
        return Err(Failure::Rejected(format!(
            "is outside the allowed directories ({}); add its directory with --allow-root",
            roots.iter().map(|r| r.display().to_string()).collect::<Vec<_>>().join(", ")
        )));
    }
    if real.to_str().is_none() {
        return Err(Failure::Rejected("its path is not valid UTF-8".into()));
    }
    let mut f = std::fs::File::open(&real).map_err(|e| Failure::Rejected(format!("cannot open: {e}")))?;
    let meta = f.metadata().map_err(|e| Failure::Rejected(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(Failure::Rejected("is not a regular file".into()));
    }
    if meta.len() > policy.max_asset_bytes {
        return Err(Failure::Rejected(format!(
            "is {} MiB; the limit is {} MiB (--max-asset-bytes)",
            meta.len() >> 20,
            policy.max_asset_bytes >> 20
        )));
    }
    let mut head = [0u8; 64];
    let n = f.read(&mut head).map_err(|e| Failure::Rejected(format!("cannot read: {e}")))?;
    sniff(&head[..n]).map_err(Failure::Rejected)?;
    Ok((real, meta.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_beneath_the_roots() {
        let root = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("a.mp4"), b"\x00\x00\x00\x20ftypisom").unwrap();
        std::fs::write(other.path().join("secret.mp4"), b"\x00\x00\x00\x20ftypisom").unwrap();
        std::os::unix::fs::symlink(other.path().join("secret.mp4"), root.path().join("link.mp4")).unwrap();
        let p = FetchPolicy { allowed_roots: vec![root.path().to_path_buf()], ..FetchPolicy::default() };
        let at = |name: &str| root.path().join(name);
        assert!(open(&at("a.mp4"), &p).is_ok());
        let refused = |src: &Path| matches!(open(src, &p), Err(Failure::Rejected(_)));
        assert!(refused(&at("../x.mp4")));
        assert!(refused(&other.path().join("secret.mp4")));
        assert!(refused(&at("link.mp4")), "a link out of the root");
        assert!(refused(Path::new("/dev/zero")));
        assert!(refused(&at("missing.mp4")));
    }
}
