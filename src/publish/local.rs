//! Local publishing that cannot be turned against the machine: a file lands beneath its root
//! (the spec's directory or `--output-root` for paths a spec writes; the directory of a path
//! the operator gives), opened without following a link, and never replaces anything unless
//! `--overwrite` says so (then only a regular file).

use rustix::fs::{openat2, renameat_with, AtFlags, FileType, Mode, OFlags, RenameFlags, ResolveFlags, CWD};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

/// A local place to publish to: `rel` beneath `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub root: PathBuf,
    pub rel: PathBuf,
}

impl Place {
    /// The operator's own path (`-o`): beneath its own directory, which may be anywhere.
    pub fn trusted(path: &Path) -> Place {
        let root = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Place { root: root.to_path_buf(), rel: PathBuf::from(path.file_name().unwrap_or(OsStr::new("output"))) }
    }

    pub fn path(&self) -> PathBuf {
        self.root.join(&self.rel)
    }

    /// The place beside this one named `name`.
    pub fn sibling(&self, name: &str) -> Place {
        Place { root: self.root.clone(), rel: self.rel.with_file_name(name) }
    }

    pub fn file_name(&self) -> String {
        self.rel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "output".into())
    }

    /// The directory it goes in, opened (created as needed) beneath the root without
    /// following a link, and its file name.
    fn open_dir(&self) -> io::Result<(OwnedFd, &OsStr)> {
        std::fs::create_dir_all(&self.root)?;
        let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC;
        let mut dir = rustix::fs::open(&self.root, flags, Mode::empty())?;
        let beneath = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        let mut parts = self.rel.components().peekable();
        let mut name = None;
        while let Some(c) = parts.next() {
            let Component::Normal(part) = c else {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a relative path beneath its root"));
            };
            if parts.peek().is_none() {
                name = Some(part);
                break;
            }
            // One component at a time, never through a link. (Where the kernel lacks openat2,
            // as some sandboxes do, openat with O_NOFOLLOW on each component does the same.)
            let open = |dir: &OwnedFd| match openat2(dir, part, flags | OFlags::NOFOLLOW, Mode::empty(), beneath) {
                Err(Errno::NOSYS) => rustix::fs::openat(dir, part, flags | OFlags::NOFOLLOW, Mode::empty()),
                other => other,
            };
            let next = match open(&dir) {
                Err(Errno::NOENT) => {
                    rustix::fs::mkdirat(&dir, part, Mode::from_raw_mode(0o777))?;
                    open(&dir)?
                }
                other => other?,
            };
            dir = next;
        }
        let name = name.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
        Ok((dir, name))
    }

    /// Whether something is at this place already (a link counts; it is not followed).
    pub fn exists(&self) -> bool {
        self.open_dir().is_ok_and(|(dir, name)| rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok())
    }

    /// Move `src` (a file of ours, in the workspace) here: atomically, never replacing
    /// anything unless `overwrite` (and then only a regular file).
    pub fn put_file(&self, src: &Path, overwrite: bool) -> io::Result<()> {
        let (dir, name) = self.open_dir()?;
        if overwrite {
            refuse_unless_regular(&dir, name)?;
        }
        let flags = if overwrite { RenameFlags::empty() } else { RenameFlags::NOREPLACE };
        match renameat_with(CWD, src, &dir, name, flags) {
            Ok(()) => Ok(()),
            // Another filesystem: a copy beside it, then the same no-replace rename.
            Err(Errno::XDEV) => {
                let mut from = std::fs::File::open(src)?;
                place_new(&dir, name, overwrite, |to| io::copy(&mut from, to).map(|_| ()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Write `text` here, atomically, on the same terms as [`Place::put_file`].
    pub fn put_text(&self, text: &str, overwrite: bool) -> io::Result<()> {
        let (dir, name) = self.open_dir()?;
        if overwrite {
            refuse_unless_regular(&dir, name)?;
        }
        place_new(&dir, name, overwrite, |to| io::Write::write_all(to, text.as_bytes()))
    }
}

fn refuse_unless_regular(dir: &OwnedFd, name: &OsStr) -> io::Result<()> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "something that is not a regular file is there (--overwrite replaces files only)",
        )),
        _ => Ok(()),
    }
}

/// Write a hidden temp file in `dir` with `fill`, then rename it to `name` (not replacing
/// anything unless `overwrite`); the temp file is removed on failure.
fn place_new(
    dir: &OwnedFd,
    name: &OsStr,
    overwrite: bool,
    fill: impl FnOnce(&mut std::fs::File) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = format!(".cutlist-partial-{}-{:x}", std::process::id(), rand());
    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    // 0666 less the umask: a manifest or a caption file is for others to read.
    let fd = rustix::fs::openat(dir, tmp.as_str(), flags, Mode::from_raw_mode(0o666))?;
    let mut file = std::fs::File::from(fd);
    let written = fill(&mut file).and_then(|()| file.sync_all()).and_then(|()| {
        let flags = if overwrite { RenameFlags::empty() } else { RenameFlags::NOREPLACE };
        renameat_with(dir, tmp.as_str(), dir, name, flags).map_err(io::Error::from)
    });
    if written.is_err() {
        let _ = rustix::fs::unlinkat(dir, tmp.as_str(), AtFlags::empty());
    }
    written
}

/// A number no other temp name of this process has.
fn rand() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    t.subsec_nanos() as u64 ^ (NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_replaces_never_leaves_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        let place = Place { root: root.clone(), rel: "sub/out.json".into() };
        place.put_text("one", false).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("sub/out.json")).unwrap(), "one");
        let e = place.put_text("two", false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");
        place.put_text("two", true).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("sub/out.json")).unwrap(), "two");
        // A link inside the root, to a directory outside it, is not followed.
        let outside = d.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        let through = Place { root: root.clone(), rel: "link/victim.txt".into() };
        assert!(through.put_text("x", false).is_err());
        assert!(through.put_text("x", true).is_err());
        assert!(!outside.join("victim.txt").exists());
        // A link at the name itself is neither followed nor replaced.
        std::fs::write(outside.join("profile"), "keep").unwrap();
        std::os::unix::fs::symlink(outside.join("profile"), root.join("sub/p.json")).unwrap();
        let at_link = Place { root: root.clone(), rel: "sub/p.json".into() };
        assert!(at_link.put_text("x", false).is_err());
        assert!(at_link.put_text("x", true).is_err());
        assert_eq!(std::fs::read_to_string(outside.join("profile")).unwrap(), "keep");
        // No temp file is left behind.
        let names: Vec<_> = std::fs::read_dir(root.join("sub")).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        // `..` is not a way out either.
        assert!(Place { root, rel: "../escape.txt".into() }.put_text("x", false).is_err());
    }

    #[test]
    fn files_move_in_without_replacing() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("rendered.mp4");
        std::fs::write(&src, "video").unwrap();
        let place = Place::trusted(&d.path().join("out/o.mp4"));
        place.put_file(&src, false).unwrap();
        assert!(!src.exists());
        std::fs::write(&src, "again").unwrap();
        assert_eq!(place.put_file(&src, false).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(place.path()).unwrap(), "video");
    }
}
