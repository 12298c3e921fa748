//! Memory, measured one way everywhere: private memory (RssAnon + RssShmem) of cutlist and
//! every process below it, sampled from /proc, plus the workspace's bytes when it is in RAM.

use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Private memory of one process, bytes: RssAnon + RssShmem from /proc/PID/status.
pub fn private_bytes(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        s.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok())
    };
    Some((field("RssAnon:")? + field("RssShmem:").unwrap_or(0)) * 1024)
}

/// Every descendant of `root` (children, grandchildren, …), by scanning /proc.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
            if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                // Fields after the last ')' (the command name may hold spaces): state, ppid, …
                if let Some(ppid) = stat
                    .rsplit_once(')')
                    .and_then(|(_, r)| r.split_whitespace().nth(1))
                    .and_then(|p| p.parse::<u32>().ok())
                {
                    parent_of.push((pid, ppid));
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(c, pp) in &parent_of {
            if pp == p {
                out.push(c);
                frontier.push(c);
            }
        }
    }
    out
}

/// The machine's or container's memory limit: `--memory-limit` wins, then cgroup v2
/// `memory.max`, then cgroup v1 `memory.limit_in_bytes`, then the host's memory.
pub fn detect_limit(flag: Option<u64>) -> (u64, &'static str) {
    if let Some(l) = flag {
        return (l, "--memory-limit");
    }
    let read = |p: &str| std::fs::read_to_string(p).ok().and_then(|s| s.trim().parse::<u64>().ok());
    if let Some(l) = read("/sys/fs/cgroup/memory.max") {
        return (l, "cgroup v2 memory.max");
    }
    if let Some(l) = read("/sys/fs/cgroup/memory/memory.limit_in_bytes").filter(|l| *l < (1u64 << 60)) {
        return (l, "cgroup v1 memory.limit_in_bytes");
    }
    let host = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(u64::MAX);
    (host, "host memory")
}

/// Peak figures of one job (bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Peaks {
    /// cutlist's own private memory.
    pub cutlist: u64,
    /// The largest sum over FFmpeg/ffprobe children at one instant.
    pub children: u64,
    /// cutlist + children at one instant.
    pub tree: u64,
    /// Workspace bytes, counted only when the workspace is RAM-backed.
    pub workspace: u64,
    /// tree + workspace at one instant: what a container limit sees.
    pub total: u64,
}

#[derive(Debug, Default)]
struct State {
    peaks: Peaks,
    phase: &'static str,
    by_phase: Vec<(&'static str, Peaks)>,
}

/// Called once when memory crosses the warning threshold, with the total in bytes.
pub type Warn = Box<dyn FnOnce(u64) + Send>;

/// Samples the tree's memory on a background thread until dropped.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<State>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What one sample saw.
#[derive(Debug, Clone, Copy)]
struct Sample {
    cutlist: u64,
    children: u64,
    workspace: u64,
}

fn take(root: u32, workspace: Option<&Path>) -> Sample {
    let cutlist = private_bytes(root).unwrap_or(0);
    let children = descendants(root).into_iter().filter_map(private_bytes).sum();
    let workspace = workspace.map(crate::workspace::dir_bytes).unwrap_or(0);
    Sample { cutlist, children, workspace }
}

fn fold(p: &mut Peaks, s: Sample) {
    p.cutlist = p.cutlist.max(s.cutlist);
    p.children = p.children.max(s.children);
    p.tree = p.tree.max(s.cutlist + s.children);
    p.workspace = p.workspace.max(s.workspace);
    p.total = p.total.max(s.cutlist + s.children + s.workspace);
}

impl Sampler {
    /// Start sampling this process and its descendants every `every`; `ram_workspace` is
    /// counted when given (a workspace in RAM).
    pub fn start(every: Duration, ram_workspace: Option<PathBuf>) -> Sampler {
        Self::start_with_warning(every, ram_workspace, None)
    }

    /// As [`Sampler::start`], calling `warn(bytes)` once, the first time the total (tree plus
    /// RAM-backed workspace) reaches `threshold` bytes.
    pub fn start_with_warning(every: Duration, ram_workspace: Option<PathBuf>, warn: Option<(u64, Warn)>) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(State { phase: "start", ..Default::default() }));
        let (st, sp) = (state.clone(), stop.clone());
        let root = std::process::id();
        let mut warn = warn;
        let thread = std::thread::Builder::new()
            .name("cutlist-memory".into())
            .spawn(move || loop {
                let s = take(root, ram_workspace.as_deref());
                let total = s.cutlist + s.children + s.workspace;
                if warn.as_ref().is_some_and(|(threshold, _)| total >= *threshold) {
                    if let Some((_, f)) = warn.take() {
                        f(total);
                    }
                }
                {
                    let mut g = st.lock().unwrap_or_else(|e| e.into_inner());
                    fold(&mut g.peaks, s);
                    let phase = g.phase;
                    match g.by_phase.iter_mut().find(|(p, _)| *p == phase) {
                        Some((_, pk)) => fold(pk, s),
                        None => {
                            let mut pk = Peaks::default();
                            fold(&mut pk, s);
                            g.by_phase.push((phase, pk));
                        }
                    }
                }
                if sp.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(every);
            })
            .ok();
        Sampler { stop, state, thread }
    }

    /// Mark the start of a phase (fetch, probe, render, publish): later samples count for it.
    pub fn phase(&self, name: &'static str) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).phase = name;
    }

    /// Stop sampling and return the peaks, overall and per phase.
    pub fn finish(mut self) -> (Peaks, Vec<(&'static str, Peaks)>) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (g.peaks, g.by_phase.clone())
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_itself_and_a_child() {
        let own = private_bytes(std::process::id()).unwrap();
        assert!(own > 0);
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(descendants(std::process::id()).contains(&child.id()));
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
