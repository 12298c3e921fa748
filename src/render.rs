//! Render: run a plan's FFmpeg steps in the workspace, one at a time, with progress.

use crate::error::{Error, Result};
use crate::plan::mix::{loudnorm_apply, LoudnessStats, LOUDNORM_MARK};
use crate::plan::{Capture, Plan};
use crate::process::{self, RunError, RunOptions};
use crate::workspace::Workspace;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How FFmpeg runs are supervised.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    pub ffmpeg: std::path::PathBuf,
    /// Stop a run whose progress does not move for this long.
    pub stall_timeout: Duration,
    /// The job's deadline.
    pub deadline: Option<(Instant, u64)>,
}

/// Run every step. `progress(done_frames, total_frames, label)` follows along.
pub async fn render(
    plan: &Plan,
    ws: &Workspace,
    opts: &RenderOptions,
    cancel: &CancellationToken,
    mut progress: impl FnMut(f64, f64, &str),
) -> Result<()> {
    // Runs that do not encode video (the join copies it; loudness is sound only) weigh a twentieth.
    let weight = |s: &crate::plan::Step| if s.encodes_video { s.frames as f64 } else { s.frames as f64 / 20.0 };
    let total: f64 = plan.steps.iter().map(weight).sum();
    let fps = plan.expected.fps.as_f64();
    let mut done = 0.0;
    let mut loudness: Option<LoudnessStats> = None;
    for step in &plan.steps {
        for f in &step.files {
            let contents = fill_in(&f.contents, plan, loudness.as_ref())?;
            std::fs::write(ws.file(&f.name), contents).map_err(|e| {
                Error::Environment(format!("cannot write to the workspace {}: {e}", ws.path().display()))
            })?;
        }
        let w = weight(step);
        progress(done, total, &step.label);
        let run = process::run(
            &opts.ffmpeg,
            &step.args,
            RunOptions {
                stall_timeout: opts.stall_timeout,
                deadline: opts.deadline.map(|(d, _)| d),
                cancel,
                cwd: ws.path(),
            },
            |p| {
                let frames = p.frame.map(|f| f as f64).or(p.out_time_us.map(|t| t as f64 / 1e6 * fps)).unwrap_or(0.0);
                let part = (frames / step.frames.max(1) as f64).min(1.0) * w;
                progress(done + part, total, &step.label);
            },
        )
        .await;
        let stderr = run.map_err(|e| to_error(e, &step.label, opts))?;
        if step.capture == Some(Capture::Loudness) {
            let stats = LoudnessStats::parse(&stderr).ok_or_else(|| Error::Render {
                step: step.label.clone(),
                code: 0,
                stderr: format!("no loudness statistics in FFmpeg's output: {}", last_lines(&stderr)),
            })?;
            tracing::info!(
                event = "loudness_measured",
                integrated = stats.integrated,
                true_peak = stats.true_peak,
                lra = stats.lra,
                "mix measured at {:.1} LUFS",
                stats.integrated
            );
            loudness = Some(stats);
        }
        done += w;
    }
    progress(total, total, "rendered");
    Ok(())
}

/// A script file's final text: the second loudness pass filled in from the first.
fn fill_in(contents: &str, plan: &Plan, measured: Option<&LoudnessStats>) -> Result<String> {
    if !contents.contains(LOUDNORM_MARK) {
        return Ok(contents.to_string());
    }
    let (Some(target), Some(m)) = (plan.loudness.as_ref(), measured) else {
        return Err(Error::Internal("the loudness pass ran without its measurement".into()));
    };
    Ok(contents.replace(LOUDNORM_MARK, &loudnorm_apply(target, m).to_string()))
}

fn last_lines(s: &str) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(5)..];
    if tail.is_empty() {
        "(FFmpeg printed nothing)".into()
    } else {
        tail.join(" | ")
    }
}

fn to_error(e: RunError, step: &str, opts: &RenderOptions) -> Error {
    let step = step.to_string();
    match e {
        RunError::Spawn { program, source } => Error::Environment(format!(
            "cannot run FFmpeg ({program}): {source}; install it (apt-get install ffmpeg) or pass --ffmpeg"
        )),
        RunError::Failed { code, stderr } => Error::Render { step, code, stderr: last_lines(&stderr) },
        RunError::Killed { signal, stderr } => Error::FfmpegKilled { step, signal, stderr: last_lines(&stderr) },
        RunError::Stalled(d) => Error::Stalled { step, secs: d.as_secs() },
        RunError::Deadline => Error::Deadline { step, secs: opts.deadline.map(|(_, s)| s).unwrap_or(0) },
        RunError::Cancelled => Error::Cancelled,
    }
}

/// FFmpeg's version and whether it has what plans use.
pub async fn check_ffmpeg(ffmpeg: &Path, encoders_needed: &[&str]) -> Result<String> {
    let out = tokio::process::Command::new(ffmpeg)
        .args(["-hide_banner", "-version"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| {
            Error::Environment(format!(
                "cannot run {}: {e}. Install FFmpeg 5.1 or newer (apt-get install ffmpeg) or pass --ffmpeg PATH",
                ffmpeg.display()
            ))
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.lines().next().and_then(|l| l.split_whitespace().nth(2)).unwrap_or("unknown").to_string();
    let (major, minor) = parse_version(&version);
    if (major, minor) < (5, 1) && major != 0 {
        return Err(Error::Environment(format!("FFmpeg {version} is too old: cutlist needs 5.1 or newer")));
    }
    let listing = |what: &str| {
        let ffmpeg = ffmpeg.to_path_buf();
        let what = what.to_string();
        async move {
            tokio::process::Command::new(ffmpeg)
                .args(["-hide_banner", &what])
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        }
    };
    let (encoders, filters) = tokio::join!(listing("-encoders"), listing("-filters"));
    let has = |list: &str, name: &str| list.lines().any(|l| l.split_whitespace().nth(1) == Some(name));
    let mut missing: Vec<String> = ["libx264", "pcm_s16le"]
        .iter()
        .chain(encoders_needed)
        .filter(|e| !has(&encoders, e))
        .map(|e| format!("encoder {e}"))
        .collect();
    missing.extend(
        crate::plan::graph::ALLOWED_FILTERS.iter().filter(|f| !has(&filters, f)).map(|f| format!("filter {f}")),
    );
    if !missing.is_empty() {
        return Err(Error::Environment(format!(
            "FFmpeg {version} lacks {}; install a full build (Debian's ffmpeg package has everything)",
            missing.join(", ")
        )));
    }
    Ok(version)
}

/// `5.1.9-0+deb12u1` → (5, 1); `n7.0` → (7, 0); a git build → (0, 0) (accepted).
fn parse_version(v: &str) -> (u32, u32) {
    let v = v.trim_start_matches('n');
    let mut it = v.split(|c: char| !c.is_ascii_digit());
    let major = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let minor = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    (major, minor)
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions() {
        assert_eq!(super::parse_version("5.1.9-0+deb12u1"), (5, 1));
        assert_eq!(super::parse_version("n7.0.2"), (7, 0));
        assert_eq!(super::parse_version("4.4.2-0ubuntu0.22.04.1"), (4, 4));
        assert_eq!(super::parse_version("N-112345-gabc"), (0, 0));
    }
}
