//! The job's workspace: one temp directory that owns every intermediate and is removed on drop.

use std::io;
use std::path::{Path, PathBuf};

/// Prefix of every workspace directory (`cutlist-<job id>-<random>`).
pub const PREFIX: &str = "cutlist-";

/// A job's temp directory. Dropping it removes it with everything in it, on success,
/// on error, on panic (unwinding) and on cancellation (the job future is dropped).
#[derive(Debug)]
pub struct Workspace {
    dir: tempfile::TempDir,
    /// `.lock` inside it, flock-ed for the workspace's life: a live job's workspace is never
    /// swept by another.
    _lock: std::fs::File,
}

/// The name of the lock file in every workspace.
const LOCK: &str = ".lock";

/// Take an exclusive flock on `f` (`wait`: block until it is free).
fn flock(f: &std::fs::File, wait: bool) -> bool {
    use std::os::fd::AsRawFd;
    let op = if wait { libc::LOCK_EX } else { libc::LOCK_EX | libc::LOCK_NB };
    // SAFETY: flock on a file descriptor we own.
    unsafe { libc::flock(f.as_raw_fd(), op) == 0 }
}

/// Remove workspaces under `parent` that no live process holds: left by an attempt that was
/// killed (SIGKILL, OOM) before it could clean up. Returns what was removed.
pub fn sweep(parent: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(rd) = std::fs::read_dir(parent) else { return removed };
    for e in rd.flatten() {
        let path = e.path();
        let is_ours = e.file_name().to_str().is_some_and(|n| n.starts_with(PREFIX)) && path.is_dir();
        if !is_ours {
            continue;
        }
        // Only directories with our lock file are workspaces (other `cutlist-*` temp
        // directories are left alone); the kernel releases a lock when its holder dies.
        let owned = std::fs::metadata(path.join(LOCK)).is_ok_and(|m| m.len() > 0);
        let free = owned && std::fs::File::open(path.join(LOCK)).is_ok_and(|f| flock(&f, false));
        if free && std::fs::remove_dir_all(&path).is_ok() {
            removed.push(path);
        }
    }
    removed
}

impl Workspace {
    /// Create `<parent>/cutlist-<job id>-XXXXXX`.
    pub fn create(parent: &Path, job_id: &str) -> io::Result<Workspace> {
        std::fs::create_dir_all(parent)?;
        let dir = tempfile::Builder::new().prefix(&format!("{PREFIX}{job_id}-")).tempdir_in(parent)?;
        let mut lock = std::fs::File::create(dir.path().join(LOCK))?;
        if !flock(&lock, true) {
            return Err(io::Error::last_os_error());
        }
        // Written once the lock is held: a sweep takes only a lock file with an owner written
        // in it (one still empty is being created by a live job).
        std::io::Write::write_all(&mut lock, std::process::id().to_string().as_bytes())?;
        Ok(Workspace { dir, _lock: lock })
    }

    /// Keep the directory (for debugging) and return its path.
    pub fn keep(self) -> PathBuf {
        let _ = std::fs::remove_file(self.dir.path().join(LOCK));
        self.dir.keep()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        debug_assert!(!name.contains('/') && !name.starts_with('.'), "flat names only: {name}");
        self.dir.path().join(name)
    }

    /// Bytes of the files in the workspace (it is flat: no subdirectories).
    pub fn bytes(&self) -> u64 {
        dir_bytes(self.dir.path())
    }

    /// Free bytes on the workspace's filesystem.
    pub fn free_bytes(&self) -> io::Result<u64> {
        free_bytes(self.dir.path())
    }

    /// Whether the workspace lives in memory (tmpfs, ramfs): then its bytes count against the memory limit.
    pub fn ram_backed(&self) -> bool {
        is_ram_backed(self.dir.path())
    }
}

pub fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

fn statfs(path: &Path) -> io::Result<libc::statfs> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::other("path has a NUL"))?;
    // SAFETY: statfs is plain old data; all zeroes is a valid value.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid C string and s a valid out-pointer.
    if unsafe { libc::statfs(c.as_ptr(), &mut s) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(s)
}

pub fn free_bytes(path: &Path) -> io::Result<u64> {
    let s = statfs(path)?;
    Ok(s.f_bavail as u64 * s.f_bsize as u64)
}

/// Whether files under `path` live in RAM (and so count against the memory limit): tmpfs
/// and ramfs anywhere; on Cloud Run (`CLOUD_RUN_JOB` or `K_SERVICE` set) also the
/// container's own writable filesystem, which is in memory there — anything but a mounted
/// disk (ext4, xfs, btrfs: an ephemeral disk volume).
pub fn is_ram_backed(path: &Path) -> bool {
    let on_cloud_run = std::env::var_os("CLOUD_RUN_JOB").is_some() || std::env::var_os("K_SERVICE").is_some();
    #[allow(clippy::unnecessary_cast)] // f_type's type differs between libcs and architectures
    statfs(path).map(|s| ram_backed(s.f_type as i64, on_cloud_run)).unwrap_or(false)
}

fn ram_backed(fs_type: i64, on_cloud_run: bool) -> bool {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    const RAMFS_MAGIC: i64 = 0x8584_58f6;
    const EXT4_MAGIC: i64 = 0xEF53;
    const XFS_MAGIC: i64 = 0x5846_5342;
    const BTRFS_MAGIC: i64 = 0x9123_683E;
    match fs_type {
        TMPFS_MAGIC | RAMFS_MAGIC => true,
        EXT4_MAGIC | XFS_MAGIC | BTRFS_MAGIC => false,
        _ => on_cloud_run,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_backed_filesystems() {
        assert!(ram_backed(0x0102_1994, false), "tmpfs");
        assert!(!ram_backed(0xEF53, true), "an ext4 disk, also on Cloud Run");
        assert!(ram_backed(0x794C_7630, true), "overlay on Cloud Run: the container's memory");
        assert!(!ram_backed(0x794C_7630, false), "overlay elsewhere: a disk beneath");
    }

    #[test]
    fn removed_on_drop_even_with_files() {
        let parent = tempfile::tempdir().unwrap();
        let ws = Workspace::create(parent.path(), "job-1").unwrap();
        std::fs::write(ws.file("a.ts"), vec![0u8; 1000]).unwrap();
        assert!((1000..1032).contains(&ws.bytes()), "the file, and the lock file with its owner");
        let p = ws.path().to_path_buf();
        assert!(p.file_name().unwrap().to_str().unwrap().starts_with("cutlist-job-1-"));
        drop(ws);
        assert!(!p.exists());
    }

    #[test]
    fn sweeps_only_what_no_live_job_holds() {
        let parent = tempfile::tempdir().unwrap();
        let live = Workspace::create(parent.path(), "live").unwrap();
        // Left by a killed attempt: a lock file nobody holds.
        let dead = parent.path().join("cutlist-dead-abc123");
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join(LOCK), b"4242").unwrap();
        // Being created by a live job: its lock file has no owner written in it yet.
        let young = parent.path().join("cutlist-young-def456");
        std::fs::create_dir(&young).unwrap();
        std::fs::write(young.join(LOCK), b"").unwrap();
        std::fs::write(dead.join("seg_0000.ts"), vec![0u8; 100]).unwrap();
        let other = parent.path().join("not-ours");
        std::fs::create_dir(&other).unwrap();
        let removed = sweep(parent.path());
        assert_eq!(removed, vec![dead.clone()]);
        assert!(live.path().exists() && other.exists() && young.exists() && !dead.exists());
    }
}
