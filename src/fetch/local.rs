//! Local sources: opened once, beneath an allowed root, and handed to FFmpeg as that open
//! file (`/proc/<cutlist>/fd/<n>`), so no later change on disk (a directory swapped for a
//! link) can make FFmpeg read anything else; never copied.

use super::{sniff, Failure, FetchPolicy};
use rustix::fs::{openat2, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// A local source, open: the path FFmpeg reads it by, its size, and the open file (kept
/// open while the job may read it).
pub struct Opened {
    pub path: PathBuf,
    pub bytes: u64,
    pub file: Arc<std::fs::File>,
}

/// Open a local source (an absolute path, resolved at the spec's directory). It must lie
/// beneath one of the policy's roots, by its name and by every link on the way; it must be a
/// regular file. The answer for a path outside the roots does not depend on what is there.
pub(super) fn open(src: &Path, policy: &FetchPolicy) -> Result<Opened, Failure> {
    let outside =
        || Failure::Rejected("is outside the allowed directories; add its directory with --allow-root".to_string());
    if src.components().any(|c| c == Component::ParentDir) {
        return Err(Failure::Rejected("`..` is not allowed in local paths".into()));
    }
    // Which root holds it, by name alone (nothing outside the roots is looked at).
    let (root, rel) = policy
        .allowed_roots
        .iter()
        .filter_map(|r| std::fs::canonicalize(r).ok().or_else(|| Some(r.clone())))
        .find_map(|r| Some((r.clone(), src.strip_prefix(&r).ok()?.to_path_buf())))
        .filter(|(_, rel)| !rel.as_os_str().is_empty())
        .ok_or_else(outside)?;
    if src.to_str().is_none() {
        return Err(Failure::Rejected("its path is not valid UTF-8".into()));
    }
    let dir = rustix::fs::open(&root, OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|_| outside())?;
    // Beneath the root, links included; never blocking (a FIFO opens at once, and is refused).
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fd = match openat2(&dir, &rel, flags, Mode::empty(), ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS) {
        // A kernel without openat2 (some sandboxes): resolve, check beneath, open without
        // following a last link; the open file is still what FFmpeg reads.
        Err(Errno::NOSYS) => match std::fs::canonicalize(src) {
            Ok(real) if real.starts_with(&root) => rustix::fs::open(&real, flags | OFlags::NOFOLLOW, Mode::empty()),
            Ok(_) => Err(Errno::XDEV),
            Err(e) => Err(Errno::from_io_error(&e).unwrap_or(Errno::NOENT)),
        },
        other => other,
    }
    .map_err(|e| match e {
        Errno::XDEV | Errno::LOOP => outside(),
        Errno::NOENT | Errno::NOTDIR => Failure::Rejected("no such file".into()),
        Errno::ACCESS | Errno::PERM => Failure::Rejected("permission denied".into()),
        e => Failure::Rejected(format!("cannot open: {e}")),
    })?;
    let st = rustix::fs::fstat(&fd).map_err(|e| Failure::Rejected(format!("cannot read: {e}")))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(Failure::Rejected("is not a regular file".into()));
    }
    let bytes = st.st_size as u64;
    if bytes > policy.max_asset_bytes {
        return Err(Failure::Rejected(format!(
            "is {} MiB; the limit is {} MiB (--max-asset-bytes)",
            bytes >> 20,
            policy.max_asset_bytes >> 20
        )));
    }
    let mut file = std::fs::File::from(fd);
    let mut head = [0u8; 64];
    let n = file.read(&mut head).map_err(|e| Failure::Rejected(format!("cannot read: {e}")))?;
    sniff(&head[..n]).map_err(Failure::Rejected)?;
    let path = PathBuf::from(format!("/proc/{}/fd/{}", std::process::id(), file.as_raw_fd()));
    Ok(Opened { path, bytes, file: Arc::new(file) })
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
        std::os::unix::fs::symlink(other.path().join("nothing.mp4"), root.path().join("dangling.mp4")).unwrap();
        let p = FetchPolicy { allowed_roots: vec![root.path().to_path_buf()], ..FetchPolicy::default() };
        let at = |name: &str| root.path().join(name);
        let opened = open(&at("a.mp4"), &p).ok().unwrap();
        assert_eq!(std::fs::read(&opened.path).unwrap(), b"\x00\x00\x00\x20ftypisom", "readable by its fd path");
        let refused = |src: &Path| match open(src, &p) {
            Err(Failure::Rejected(r)) => r,
            _ => panic!("{} was not refused", src.display()),
        };
        assert!(refused(&at("../x.mp4")).contains(".."));
        // Outside, by name or by link, existing or not: one answer.
        let outside = refused(&other.path().join("secret.mp4"));
        assert_eq!(refused(&other.path().join("missing.mp4")), outside);
        assert_eq!(refused(&at("link.mp4")), outside, "a link out of the root");
        assert_eq!(refused(&at("dangling.mp4")), outside);
        assert_eq!(refused(Path::new("/dev/zero")), outside);
        assert!(refused(&at("missing.mp4")).contains("no such file"));
        // A FIFO is refused at once, not waited on.
        rustix::fs::mknodat(rustix::fs::CWD, at("fifo.mp4"), FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
        assert!(refused(&at("fifo.mp4")).contains("not a regular file"));
    }
}
