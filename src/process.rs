//! The one door to FFmpeg and ffprobe: every child is spawned here, in its own process group,
//! dies with cutlist, has its `-progress` (or its bounded stdout) read and a bounded stderr
//! tail kept, and is stopped (SIGTERM, then SIGKILL to the group) on cancel, stall or deadline.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

/// How much of FFmpeg's stderr is kept for error messages.
const STDERR_TAIL: usize = 8 * 1024;
/// How long FFmpeg gets to finish after SIGTERM before the group is killed.
const GRACE: Duration = Duration::from_secs(2);

/// Where FFmpeg and ffprobe are and how long a silent one may run: resolved once per job.
#[derive(Debug, Clone, PartialEq)]
pub struct Tools {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    /// Stop a run whose progress does not move for this long.
    pub stall_timeout: Duration,
}

impl Default for Tools {
    fn default() -> Self {
        Tools { ffmpeg: "ffmpeg".into(), ffprobe: "ffprobe".into(), stall_timeout: Duration::from_secs(60) }
    }
}

/// The variables FFmpeg and ffprobe keep from cutlist's environment; every other is cleared.
pub const CHILD_ENV: &[&str] = &["PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ"];

/// The most of a child's stdout kept when it is captured (ffprobe's JSON, FFmpeg's listings).
pub const MAX_STDOUT: usize = 16 << 20;

/// One `-progress` block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    pub frame: Option<u64>,
    pub out_time_us: Option<i64>,
    pub total_size: Option<u64>,
    pub end: bool,
}

/// Parses FFmpeg's `-progress` output (`key=value` lines, blocks ended by `progress=…`).
#[derive(Debug, Default)]
pub struct ProgressParser {
    current: Progress,
}

impl ProgressParser {
    /// Feed one line; returns a finished block at each `progress=` line.
    pub fn line(&mut self, line: &str) -> Option<Progress> {
        let (k, v) = line.trim().split_once('=')?;
        let v = v.trim();
        match k {
            "frame" => self.current.frame = v.parse().ok(),
            // `out_time_ms` is microseconds too (FFmpeg trac #7345); prefer `out_time_us`.
            "out_time_us" => self.current.out_time_us = v.parse().ok().filter(|t: &i64| *t >= 0),
            "total_size" => self.current.total_size = v.parse().ok(),
            "progress" => {
                self.current.end = v == "end";
                return Some(std::mem::take(&mut self.current));
            }
            _ => {}
        }
        None
    }
}

/// Limits and hooks for one run.
pub struct RunOptions<'a> {
    /// Stop FFmpeg if its progress does not move for this long.
    pub stall_timeout: Duration,
    /// Stop FFmpeg when this instant passes.
    pub deadline: Option<Instant>,
    pub cancel: &'a CancellationToken,
    /// Working directory (the job's workspace).
    pub cwd: &'a Path,
    /// Keep stdout (up to [`MAX_STDOUT`]) instead of reading it as `-progress` blocks; each
    /// line read counts as progress.
    pub capture_stdout: bool,
}

/// What a run that succeeded printed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// Its stdout, when captured.
    pub stdout: String,
    /// The tail of its stderr (some runs report measurements there).
    pub stderr: String,
}

/// Why a run did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot start {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("exit code {code}")]
    Failed { code: i32, stderr: String },
    #[error("killed by signal {signal}")]
    Killed { signal: i32, stderr: String },
    #[error("no progress for {0:?}")]
    Stalled(Duration),
    #[error("deadline passed")]
    Deadline,
    #[error("cancelled")]
    Cancelled,
    #[error("printed more than {} MiB", MAX_STDOUT >> 20)]
    TooMuchOutput,
}

/// A running child that is stopped (its whole group) if dropped before it finished.
struct Guard {
    child: Child,
    pgid: Option<i32>,
    done: bool,
}

impl Guard {
    fn signal(&self, sig: i32) {
        if let Some(pgid) = self.pgid {
            // SAFETY: kill(2) on our own child's process group.
            unsafe {
                libc::kill(-pgid, sig);
            }
        }
    }

    /// SIGTERM to the group, wait up to GRACE, then SIGKILL.
    async fn stop(&mut self) {
        self.signal(libc::SIGTERM);
        if tokio::time::timeout(GRACE, self.child.wait()).await.is_err() {
            self.signal(libc::SIGKILL);
            let _ = self.child.wait().await;
        }
        self.done = true;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.done {
            self.signal(libc::SIGKILL);
        }
    }
}

/// Run `program args…` to completion, calling `on_progress` with each progress block.
pub async fn run(
    program: &Path,
    args: &[String],
    opts: RunOptions<'_>,
    mut on_progress: impl FnMut(&Progress),
) -> Result<Output, RunError> {
    let mut cmd = Command::new(program);
    // Children get only what they need: no credentials, no webhook secret (a decoder exploit
    // must find nothing worth stealing in its environment).
    cmd.env_clear().envs(std::env::vars_os().filter(|(k, _)| CHILD_ENV.iter().any(|keep| k == keep)));
    cmd.args(args)
        .current_dir(opts.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            // Die with cutlist, even if cutlist is SIGKILLed.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|source| RunError::Spawn { program: program.display().to_string(), source })?;
    let pgid = child.id().map(|p| p as i32);
    let mut g = Guard { child, pgid, done: false };

    let stdout = g.child.stdout.take().expect("piped");
    let mut stderr = g.child.stderr.take().expect("piped");
    let tail = tokio::spawn(async move {
        let mut tail = VecDeque::with_capacity(STDERR_TAIL);
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf).await {
            if n == 0 {
                break;
            }
            for &b in &buf[..n] {
                if tail.len() == STDERR_TAIL {
                    tail.pop_front();
                }
                tail.push_back(b);
            }
        }
        let (a, b) = tail.as_slices();
        String::from_utf8_lossy(&[a, b].concat()).trim().to_string()
    });

    let mut lines = BufReader::new(stdout).lines();
    let mut parser = ProgressParser::default();
    let mut last_move = Instant::now();
    let mut last_mark: Option<(Option<u64>, Option<i64>, Option<u64>)> = None;
    let mut stdout_open = true;
    let mut captured = String::new();
    let tick = Duration::from_millis(200);
    let mut last_tick = Instant::now();

    let outcome: Result<std::process::ExitStatus, RunError> = loop {
        if opts.cancel.is_cancelled() {
            g.stop().await;
            break Err(RunError::Cancelled);
        }
        if opts.deadline.is_some_and(|d| Instant::now() >= d) {
            g.stop().await;
            break Err(RunError::Deadline);
        }
        // A long gap between ticks means cutlist itself was not running (SIGSTOP, a frozen
        // container during platform maintenance): that is no stall of FFmpeg's.
        if last_tick.elapsed() > Duration::from_secs(5) {
            last_move = Instant::now();
        }
        last_tick = Instant::now();
        if last_move.elapsed() >= opts.stall_timeout {
            g.stop().await;
            break Err(RunError::Stalled(opts.stall_timeout));
        }
        tokio::select! {
            line = lines.next_line(), if stdout_open => match line {
                Ok(Some(l)) if opts.capture_stdout => {
                    last_move = Instant::now();
                    if captured.len() + l.len() >= MAX_STDOUT {
                        g.stop().await;
                        break Err(RunError::TooMuchOutput);
                    }
                    captured.push_str(&l);
                    captured.push('\n');
                }
                Ok(Some(l)) => {
                    if let Some(p) = parser.line(&l) {
                        let mark = (p.frame, p.out_time_us, p.total_size);
                        if last_mark != Some(mark) {
                            last_mark = Some(mark);
                            last_move = Instant::now();
                        }
                        on_progress(&p);
                    }
                }
                _ => stdout_open = false,
            },
            status = g.child.wait(), if !stdout_open => {
                g.done = true;
                match status {
                    Ok(s) => break Ok(s),
                    Err(e) => break Err(RunError::Spawn { program: program.display().to_string(), source: e }),
                }
            }
            _ = opts.cancel.cancelled() => {}
            _ = tokio::time::sleep(tick) => {}
        }
    };
    drop(g);
    let stderr = tail.await.unwrap_or_default();
    let status = outcome?;
    if status.success() {
        return Ok(Output { stdout: captured, stderr });
    }
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => Err(RunError::Failed { code, stderr }),
        (None, Some(signal)) => Err(RunError::Killed { signal, stderr }),
        (None, None) => Err(RunError::Failed { code: -1, stderr }),
    }
}

/// Run a short tool to completion (ffprobe, a listing of FFmpeg's), its stdout captured: no
/// progress to follow, so `timeout` bounds each silence; cancellable like every run.
pub async fn capture(
    program: &Path,
    args: &[String],
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<Output, RunError> {
    let opts = RunOptions { stall_timeout: timeout, deadline: None, cancel, cwd: Path::new("."), capture_stdout: true };
    run(program, args, opts, |_| {}).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_progress_blocks() {
        let text = "frame=60\nfps=0.00\nstream_0_0_q=-1.0\nbitrate=N/A\ntotal_size=495056\nout_time_us=2020136\n\
                    out_time_ms=2020136\nout_time=00:00:02.020136\nspeed=   19.2x\nprogress=continue\n\
                    frame=61\nout_time_us=-9223372036854775807\nprogress=end\n";
        let mut p = ProgressParser::default();
        let blocks: Vec<Progress> = text.lines().filter_map(|l| p.line(l)).collect();
        assert_eq!(blocks.len(), 2);
        assert_eq!(
            blocks[0],
            Progress { frame: Some(60), out_time_us: Some(2020136), total_size: Some(495056), end: false }
        );
        assert_eq!(blocks[1].out_time_us, None, "garbage before the first packet is dropped");
        assert!(blocks[1].end);
    }

    #[tokio::test]
    async fn a_silent_child_is_stopped_by_the_watchdog() {
        let cancel = CancellationToken::new();
        let dir = std::env::temp_dir();
        let t = Instant::now();
        let r = run(
            Path::new("sleep"),
            &["30".into()],
            RunOptions {
                stall_timeout: Duration::from_millis(600),
                deadline: None,
                cancel: &cancel,
                cwd: &dir,
                capture_stdout: false,
            },
            |_| {},
        )
        .await;
        assert!(matches!(r, Err(RunError::Stalled(_))), "{r:?}");
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn cancel_stops_the_child() {
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            c2.cancel();
        });
        let dir = std::env::temp_dir();
        let r = run(
            Path::new("sleep"),
            &["30".into()],
            RunOptions {
                stall_timeout: Duration::from_secs(60),
                deadline: None,
                cancel: &cancel,
                cwd: &dir,
                capture_stdout: false,
            },
            |_| {},
        )
        .await;
        assert!(matches!(r, Err(RunError::Cancelled)), "{r:?}");
    }

    #[tokio::test]
    async fn failures_carry_the_stderr_tail() {
        let cancel = CancellationToken::new();
        let dir = std::env::temp_dir();
        let r = run(
            Path::new("sh"),
            &["-c".into(), "echo boom >&2; exit 3".into()],
            RunOptions {
                stall_timeout: Duration::from_secs(10),
                deadline: None,
                cancel: &cancel,
                cwd: &dir,
                capture_stdout: true,
            },
            |_| {},
        )
        .await;
        assert!(matches!(r, Err(RunError::Failed { code: 3, ref stderr }) if stderr == "boom"), "{r:?}");
        let r = run(
            Path::new("sh"),
            &["-c".into(), "echo '{\"a\": 1}'".into()],
            RunOptions {
                stall_timeout: Duration::from_secs(10),
                deadline: None,
                cancel: &cancel,
                cwd: &dir,
                capture_stdout: true,
            },
            |_| {},
        )
        .await;
        assert_eq!(r.unwrap().stdout, "{\"a\": 1}\n");
    }
}
