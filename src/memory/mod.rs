//! Memory, measured one way everywhere: private memory (RssAnon + RssShmem) of cutlist and
//! every process below it, sampled from /proc, plus the workspace's bytes when it is in RAM.

pub mod report;

use crate::report::Phase;
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

/// This process's memory cgroup directory: cgroup v2 (`0::/path`) or v1 (`N:memory:/path`),
/// as mounted under /sys/fs/cgroup.
fn own_cgroup() -> Option<(PathBuf, Cgroup)> {
    own_cgroups().into_iter().find_map(|(controllers, rel)| {
        let v1 = Path::new("/sys/fs/cgroup/memory").join(&rel);
        let v2 = Path::new("/sys/fs/cgroup").join(&rel);
        if controllers.split(',').any(|c| c == "memory") && v1.join("memory.limit_in_bytes").exists() {
            Some((v1, Cgroup::V1))
        } else if controllers.is_empty() && (v2.join("memory.current").exists() || v2.join("memory.max").exists()) {
            Some((v2, Cgroup::V2))
        } else {
            None
        }
    })
}

/// This process's cgroups from `/proc/self/cgroup`: (controllers, path below the
/// hierarchy's mount); cgroup v2's line has no controllers.
fn own_cgroups() -> Vec<(String, PathBuf)> {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut f = line.splitn(3, ':');
            let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
            Some((controllers.to_string(), PathBuf::from(path.trim_start_matches('/'))))
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cgroup {
    V1,
    V2,
}

fn read_u64(p: &Path) -> Option<u64> {
    std::fs::read_to_string(p).ok().and_then(|s| s.trim().parse::<u64>().ok())
}

/// The smallest memory limit on the way from this process's cgroup up to the root
/// (a parent's limit binds its children).
fn cgroup_limit() -> Option<(u64, &'static str)> {
    let (dir, kind) = own_cgroup()?;
    let (file, root, source) = match kind {
        Cgroup::V2 => ("memory.max", Path::new("/sys/fs/cgroup"), "cgroup v2 memory.max"),
        Cgroup::V1 => ("memory.limit_in_bytes", Path::new("/sys/fs/cgroup/memory"), "cgroup v1 memory.limit_in_bytes"),
    };
    let mut best: Option<u64> = None;
    let mut d = dir.as_path();
    loop {
        // "max" (v2) does not parse: no limit at this level; v1 writes "no limit" as ~2^63.
        if let Some(l) = read_u64(&d.join(file)).filter(|l| *l < (1u64 << 60)) {
            best = Some(best.map_or(l, |b| b.min(l)));
        }
        if d == root {
            break;
        }
        match d.parent() {
            Some(p) if p.starts_with(root) => d = p,
            _ => break,
        }
    }
    best.map(|l| (l, source))
}

/// The machine's or container's memory limit: `--memory-limit` wins, then the smallest limit
/// of this process's memory cgroup and its parents (v2 `memory.max`, v1
/// `memory.limit_in_bytes`), then the host's memory.
pub fn detect_limit(flag: Option<u64>) -> (u64, &'static str) {
    if let Some(l) = flag {
        return (l, "--memory-limit");
    }
    if let Some(found) = cgroup_limit() {
        return found;
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

/// Cores this job may use: `--cpus` wins, then the cgroup's CPU quota (v2 `cpu.max`, v1
/// `cpu.cfs_quota_us` / `cpu.cfs_period_us`, rounded up), then the cores the scheduler
/// gives this process. FFmpeg's automatic thread counts follow the host's cores instead,
/// which is why cutlist pins every thread count to what this returns.
pub fn detect_cpus(flag: Option<u32>) -> (u32, &'static str) {
    if let Some(n) = flag {
        return (n.max(1), "--cpus");
    }
    if let Some(n) = cgroup_cpus() {
        return (n, "cgroup CPU quota");
    }
    let n = std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1);
    (n, "available cores")
}

fn cgroup_cpus() -> Option<u32> {
    own_cgroups().into_iter().find_map(|(controllers, rel)| {
        let quota = if controllers.is_empty() {
            let s = std::fs::read_to_string(Path::new("/sys/fs/cgroup").join(&rel).join("cpu.max")).ok()?;
            let mut it = s.split_whitespace(); // "max 100000" (no quota) does not parse
            Some(it.next()?.parse::<f64>().ok()? / it.next()?.parse::<f64>().ok()?)
        } else if controllers.split(',').any(|c| c == "cpu") {
            let dir = Path::new("/sys/fs/cgroup/cpu").join(&rel);
            let q = std::fs::read_to_string(dir.join("cpu.cfs_quota_us")).ok()?.trim().parse::<i64>().ok()?;
            let p = read_u64(&dir.join("cpu.cfs_period_us"))?;
            (q > 0 && p > 0).then(|| q as f64 / p as f64)
        } else {
            None
        };
        quota.filter(|q| *q > 0.0).map(|q| q.ceil() as u32)
    })
}

/// The memory limit and the cores a job must fit into, each with where it came from:
/// detected once per process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub memory: u64,
    pub memory_source: &'static str,
    pub cpus: u32,
    pub cpus_source: &'static str,
}

impl Limits {
    /// `--memory-limit` and `--cpus` when given, else what the cgroup or the host says.
    pub fn detect(memory: Option<u64>, cpus: Option<u32>) -> Limits {
        let (memory, memory_source) = detect_limit(memory);
        let (cpus, cpus_source) = detect_cpus(cpus);
        Limits { memory, memory_source, cpus, cpus_source }
    }
}

/// The cgroup's own usage file (v2 `memory.current`; v1 `memory.usage_in_bytes`, which
/// includes page cache the kernel reclaims before it kills anything).
fn cgroup_usage_file() -> Option<PathBuf> {
    let (dir, kind) = own_cgroup()?;
    let f = dir.join(match kind {
        Cgroup::V2 => "memory.current",
        Cgroup::V1 => "memory.usage_in_bytes",
    });
    f.exists().then_some(f)
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
    /// The cgroup's own usage figure (`memory.current`, v1 `memory.usage_in_bytes`), where
    /// readable: it also counts page cache and other processes in the container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<u64>,
}

/// One process seen below cutlist during a job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Process {
    pub pid: u32,
    /// The program and what it writes (`ffmpeg seg_0003.ts`), or reads for ffprobe.
    pub name: String,
    /// The phase it started in.
    pub phase: Phase,
    /// Its largest private memory, bytes.
    pub peak: u64,
    /// Seconds since the job started: first and last seen.
    pub from: f64,
    pub to: f64,
}

/// One sample, for the picture of memory over time.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Seconds since the job started.
    pub t: f64,
    pub cutlist: u64,
    pub workspace: u64,
    pub cgroup: Option<u64>,
    /// (index into [`Record::processes`], private bytes) of each child alive.
    pub children: Vec<(usize, u64)>,
}

impl Point {
    pub fn total(&self) -> u64 {
        self.cutlist + self.workspace + self.children.iter().map(|c| c.1).sum::<u64>()
    }
}

/// Everything the sampler saw during a job.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub peaks: Peaks,
    /// Peaks per phase, in the order the phases began.
    pub phases: Vec<(Phase, Peaks)>,
    /// When each phase began, seconds since the job started.
    pub phase_starts: Vec<(Phase, f64)>,
    pub processes: Vec<Process>,
    /// Samples, evenly thinned to at most [`MAX_POINTS`].
    pub series: Vec<Point>,
    /// Seconds from the first sample to the last.
    pub seconds: f64,
    /// The plan's estimate of the peak, once planned.
    pub estimate: Option<u64>,
}

/// The most samples a record keeps (the picture needs no more; a long job thins them).
pub const MAX_POINTS: usize = 2048;

#[derive(Debug)]
struct State {
    record: Record,
    phase: Phase,
    /// Keep every `stride`-th sample (doubles each time the series is thinned).
    stride: usize,
    count: usize,
}

/// Called once when memory crosses the warning threshold, with the total in bytes.
pub type Warn = Box<dyn FnOnce(u64) + Send>;

/// Samples the tree's memory on a background thread until dropped.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    /// The tracker beside what it has seen: sampled by the thread, and by each phase change.
    state: Arc<Mutex<(Tracker, State)>>,
    started: std::time::Instant,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A process's arguments as /proc shows them (NUL-separated).
fn cmdline(pid: u32) -> Vec<u8> {
    std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()
}

/// A short name for a child from its arguments: the program and the file it writes
/// (ffmpeg) or reads (ffprobe).
fn process_name(raw: &[u8]) -> String {
    let args: Vec<&str> =
        raw.split(|b| *b == 0).filter_map(|a| std::str::from_utf8(a).ok()).filter(|a| !a.is_empty()).collect();
    let program = args.first().map(|p| p.rsplit('/').next().unwrap_or(p)).unwrap_or("?");
    let file = |a: &&str| {
        let ext = a.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        !a.starts_with('-') && matches!(ext, "ts" | "webm" | "mp4" | "gif" | "png" | "jpg" | "wav" | "mov" | "mkv")
    };
    let shown = if program.starts_with("ffprobe") {
        // A local source is read through cutlist's open file (`/proc/<pid>/fd/<n>`): name it.
        let real = |a: &str| std::fs::read_link(a).ok().map(|p| p.display().to_string()).unwrap_or(a.to_string());
        args.iter().rev().find(|a| !a.starts_with('-')).map(|a| {
            let a = if a.starts_with("/proc/") { real(a) } else { a.to_string() };
            a.rsplit('/').next().unwrap_or(&a).to_string()
        })
    } else {
        // The first file that is not an input (`-i x`).
        args.windows(2).filter(|w| w[0] != "-i").map(|w| w[1]).find(|a| file(a) && !a.contains('/')).map(String::from)
    };
    match shown {
        Some(f) => format!("{program} {f}"),
        None if args.contains(&"null") => format!("{program} (measure)"),
        None => program.to_string(),
    }
}

struct Tracker {
    root: u32,
    workspace: Option<PathBuf>,
    cgroup: Option<PathBuf>,
    started: std::time::Instant,
    /// cutlist's own arguments: a child that still shows them has not yet exec'd its program.
    own: Vec<u8>,
    /// (pid, index into processes, named yet).
    seen: Vec<(u32, usize, bool)>,
}

impl Tracker {
    fn sample(&mut self, st: &mut State) -> u64 {
        let t = self.started.elapsed().as_secs_f64();
        let cutlist = private_bytes(self.root).unwrap_or(0);
        let mut children = Vec::new();
        for pid in descendants(self.root) {
            let Some(b) = private_bytes(pid) else { continue };
            let k = match self.seen.iter().position(|e| e.0 == pid) {
                Some(k) => k,
                None => {
                    st.record.processes.push(Process {
                        pid,
                        name: String::new(),
                        phase: st.phase,
                        peak: 0,
                        from: t,
                        to: t,
                    });
                    self.seen.push((pid, st.record.processes.len() - 1, false));
                    self.seen.len() - 1
                }
            };
            let (_, idx, named) = &mut self.seen[k];
            let idx = *idx;
            if !*named {
                // Between fork and exec a child still runs cutlist's image: name it once
                // it shows its own program.
                let raw = cmdline(pid);
                *named = raw != self.own;
                st.record.processes[idx].name =
                    if *named { process_name(&raw) } else { "cutlist (starting a child)".into() };
            }
            let p = &mut st.record.processes[idx];
            p.peak = p.peak.max(b);
            p.to = t;
            children.push((idx, b));
        }
        let workspace = self.workspace.as_deref().map(crate::workspace::dir_bytes).unwrap_or(0);
        let cgroup = self.cgroup.as_deref().and_then(read_u64);
        let child_sum: u64 = children.iter().map(|c| c.1).sum();
        let s = Sample { cutlist, children: child_sum, workspace, cgroup };
        fold(&mut st.record.peaks, s);
        let phase = st.phase;
        match st.record.phases.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, pk)) => fold(pk, s),
            None => {
                let mut pk = Peaks::default();
                fold(&mut pk, s);
                st.record.phases.push((phase, pk));
            }
        }
        st.record.seconds = t;
        if st.count % st.stride == 0 {
            st.record.series.push(Point { t, cutlist, workspace, cgroup, children });
            if st.record.series.len() >= MAX_POINTS {
                thin(&mut st.record.series);
                st.stride *= 2;
            }
        }
        st.count += 1;
        cutlist + child_sum + workspace
    }
}

/// Halve a series, keeping the larger of each pair so no peak is lost from the picture.
fn thin(series: &mut Vec<Point>) {
    let old = std::mem::take(series);
    let mut it = old.into_iter();
    while let Some(a) = it.next() {
        match it.next() {
            Some(b) if b.total() > a.total() => series.push(b),
            _ => series.push(a),
        }
    }
}

/// What one sample saw.
#[derive(Debug, Clone, Copy)]
struct Sample {
    cutlist: u64,
    children: u64,
    workspace: u64,
    cgroup: Option<u64>,
}

fn fold(p: &mut Peaks, s: Sample) {
    p.cutlist = p.cutlist.max(s.cutlist);
    p.children = p.children.max(s.children);
    p.tree = p.tree.max(s.cutlist + s.children);
    p.workspace = p.workspace.max(s.workspace);
    p.total = p.total.max(s.cutlist + s.children + s.workspace);
    if let Some(c) = s.cgroup {
        p.cgroup = Some(p.cgroup.unwrap_or(0).max(c));
    }
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
        let started = std::time::Instant::now();
        let tracker = Tracker {
            root: std::process::id(),
            workspace: ram_workspace,
            cgroup: cgroup_usage_file(),
            started,
            own: cmdline(std::process::id()),
            seen: Vec::new(),
        };
        let state = Arc::new(Mutex::new((
            tracker,
            State {
                record: Record { phase_starts: vec![(Phase::Start, 0.0)], ..Default::default() },
                phase: Phase::Start,
                stride: 1,
                count: 0,
            },
        )));
        let (st, sp) = (state.clone(), stop.clone());
        let mut warn = warn;
        let thread = std::thread::Builder::new()
            .name("cutlist-memory".into())
            .spawn(move || loop {
                let total = {
                    let mut g = st.lock().unwrap_or_else(|e| e.into_inner());
                    let (tracker, state) = &mut *g;
                    tracker.sample(state)
                };
                if warn.as_ref().is_some_and(|(threshold, _)| total >= *threshold) {
                    if let Some((_, f)) = warn.take() {
                        f(total);
                    }
                }
                if sp.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::park_timeout(every); // `finish` unparks it
            })
            .ok();
        Sampler { stop, state, started, thread }
    }

    /// The phase the job is in.
    pub fn current(&self) -> Phase {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1.phase
    }

    /// Mark the start of a phase (fetch, probe, render, publish): later samples count for it.
    pub fn phase(&self, name: Phase) {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tracker, state) = &mut *g;
        state.phase = name;
        state.record.phase_starts.push((name, self.started.elapsed().as_secs_f64()));
        // One sample now, so a phase shorter than the sampling period still has its figures.
        tracker.sample(state);
    }

    /// Note the plan's estimate of the peak, for the report.
    pub fn estimate(&self, bytes: u64) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1.record.estimate = Some(bytes);
    }

    /// Stop sampling and return what was seen: peaks overall and per phase, each process,
    /// and the series over time.
    pub fn finish(mut self) -> Record {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut g.1.record)
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
    fn children_are_named_by_what_they_write_or_read() {
        let name = |args: &[&str]| process_name(args.join("\0").as_bytes());
        let seg =
            ["/usr/bin/ffmpeg", "-i", "/m/in.mp4", "-f", "mpegts", "seg_0003.ts", "-f", "wav", "seg_0003.wav", ""];
        assert_eq!(name(&seg), "ffmpeg seg_0003.ts");
        assert_eq!(name(&["ffprobe", "-v", "error", "/ws/in/a.mp4", ""]), "ffprobe a.mp4");
        assert_eq!(name(&["ffmpeg", "-i", "output.partial.mp4", "-f", "null", "-"]), "ffmpeg (measure)");
    }

    #[test]
    fn a_short_phase_still_gets_a_sample() {
        let s = Sampler::start(Duration::from_secs(10), None);
        std::thread::sleep(Duration::from_millis(50));
        s.phase(Phase::Fetch);
        std::thread::sleep(Duration::from_millis(50));
        s.phase(Phase::Probe);
        let r = s.finish();
        let names: Vec<_> = r.phases.iter().map(|(n, _)| *n).collect();
        assert!(names.contains(&Phase::Fetch) && names.contains(&Phase::Probe), "{names:?}");
    }

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
