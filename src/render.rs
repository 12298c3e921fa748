//! Render: run a plan's FFmpeg steps in the workspace (segments up to the plan's concurrency
//! at once, every other run alone), with progress; then,
//! with a loudness target, measure the finished file and correct its sound once if it missed.

use crate::error::{Error, Result};
use crate::plan::graph::{Filter, Name};
use crate::plan::mix::{LoudnessCorrection, LoudnessStats};
use crate::plan::{check_vocabulary, Capture, Contents, Plan, Step};
use crate::process::{self, RunError, RunOptions, Tools};
use crate::workspace::Workspace;
use futures_util::StreamExt;
use std::cell::RefCell;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// A job's deadline: when it passes, and the seconds it allowed (for the message).
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub at: Instant,
    pub secs: u64,
}

impl Deadline {
    pub fn after(d: Duration) -> Deadline {
        Deadline { at: Instant::now() + d, secs: d.as_secs() }
    }
}

/// What FFmpeg reported while decoding a run's sources (at `-loglevel error`: errors only).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DecodeErrors {
    /// The JSON paths of the sources the run decoded.
    pub sources: Vec<String>,
    /// Lines FFmpeg printed (of the last 8 KiB it printed).
    pub lines: u64,
    /// The first of them.
    pub first: String,
}

/// What the render found out beside the file it wrote.
#[derive(Debug, Default)]
pub struct Rendered {
    /// Decoding errors FFmpeg reported in the sources.
    pub decode_errors: Vec<DecodeErrors>,
    /// The finished file's loudness, when the spec sets a target.
    pub loudness: Option<LoudnessOutcome>,
}

/// How the sound was brought to its loudness target, and what the finished file measures.
#[derive(Debug, Clone, PartialEq)]
pub struct LoudnessOutcome {
    /// The finished (encoded) file's measurement.
    pub measured: LoudnessStats,
    /// The gain and limiter last applied (`None`: silent, passed unchanged).
    pub correction: Option<LoudnessCorrection>,
    /// How many times the sound was encoded (2 when the first encode missed and was redone).
    pub passes: u32,
    /// Why the file still misses its target, if it does.
    pub warning: Option<String>,
}

/// Run every step. `progress(done_frames, total_frames, label)` follows along. With a loudness
/// target, the finished file is measured; when it missed the target or its ceiling, the step
/// that encodes the sound runs once more, corrected by what was measured. With
/// `strict_decode`, the first run that reports decoding errors fails the job, naming its
/// source (exit 4).
pub async fn render(
    plan: &Plan,
    ws: &Workspace,
    tools: &Tools,
    deadline: Option<Deadline>,
    strict_decode: bool,
    cancel: &CancellationToken,
    progress: impl FnMut(f64, f64, &str),
) -> Result<Rendered> {
    let runner = Runner { plan, ws, tools, deadline };
    let progress = RefCell::new(progress);
    let mut rendered = Rendered::default();
    // Runs that do not encode video (the join copies it; loudness is sound only) weigh a twentieth.
    let weight = |s: &Step| if s.encodes_video { s.frames as f64 } else { s.frames as f64 / 20.0 };
    let total: f64 = plan.steps.iter().map(weight).sum();
    let mut state = Progress { done: 0.0, corrected_step: None, correction: None };
    let mut first = 0;
    while first < plan.steps.len() {
        // Segments next to each other run up to `concurrency` at once; any other run alone.
        let n = match plan.steps[first].concurrent {
            true => plan.steps[first..].iter().take_while(|s| s.concurrent).count(),
            false => 1,
        };
        let batch = &plan.steps[first..first + n];
        let fill = state.correction.flatten();
        let at_once = if n > 1 { plan.encoder.concurrency.max(1) as usize } else { 1 };
        let done = state.done;
        let outs = runner
            .run_batch(batch, at_once, fill, cancel, |parts: &[f64], label: &str| {
                let part: f64 = batch.iter().zip(parts).map(|(s, p)| p * weight(s)).sum();
                (progress.borrow_mut())(done + part, total, label)
            })
            .await?;
        for (k, (step, out)) in batch.iter().zip(outs).enumerate() {
            rendered_step(step, first + k, &out, plan, strict_decode, &mut state, &mut rendered)?;
            state.done += weight(step);
        }
        first += n;
    }
    let mut progress = progress.into_inner();
    rendered.loudness = runner.finish_loudness(cancel, &state, &mut progress, total).await?;
    progress(total, total, "rendered");
    Ok(rendered)
}

/// Where the render stands between runs.
struct Progress {
    /// Progress weight of the runs finished.
    done: f64,
    corrected_step: Option<usize>,
    /// The first loudness pass's correction: `Some(None)` when the mix was silent.
    correction: Option<Option<LoudnessCorrection>>,
}

fn rendered_step(
    step: &Step,
    i: usize,
    out: &process::Output,
    plan: &Plan,
    strict_decode: bool,
    state: &mut Progress,
    rendered: &mut Rendered,
) -> Result<()> {
    // What one finished run leaves: its decoding errors (or, with `strict_decode`, the job's
    // failure), the loudness it measured, whether it encodes the sound.
    if step.files.iter().any(|f| matches!(&f.contents, Contents::Graph(g) if g.has_pending())) {
        state.corrected_step = Some(i);
    }
    let complaints: Vec<&str> = out.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    if !step.decodes.is_empty() && !complaints.is_empty() {
        let report = DecodeErrors {
            sources: step.decodes.iter().map(|(path, _)| path.clone()).collect(),
            lines: complaints.len() as u64,
            first: complaints[0].chars().take(300).collect(),
        };
        tracing::warn!(event = "decode_errors", sources = ?report.sources, lines = report.lines,
            "FFmpeg reported {} decoding errors while {}: {}", report.lines, step.label, report.first);
        if strict_decode {
            let (path, src) = step.decodes[0].clone();
            return Err(Error::AssetRejected {
                path,
                src: crate::fetch::redact(&src),
                reason: format!("it does not decode cleanly (--strict-decode): {}", report.first),
            });
        }
        rendered.decode_errors.push(report);
    }
    if step.capture == Some(Capture::Loudness) {
        let stats = LoudnessStats::parse(&out.stderr).ok_or_else(|| Error::Render {
            step: step.label.clone(),
            code: 0,
            stderr: format!("no loudness statistics in FFmpeg's output: {}", last_lines(&out.stderr)),
        })?;
        let target = plan.loudness.as_ref().ok_or_else(|| Error::Internal("a loudness pass without target".into()))?;
        let c = LoudnessCorrection::first(target, &stats);
        tracing::info!(
            event = "loudness_measured",
            integrated = stats.integrated,
            true_peak = stats.true_peak,
            lra = stats.lra,
            gain = c.map(|c| c.gain),
            "mix measured at {:.1} LUFS, {:.1} dBTP",
            stats.integrated,
            stats.true_peak
        );
        state.correction = Some(c);
    }
    Ok(())
}

/// What every run of one render shares: the plan, the workspace, the tools, the deadline.
struct Runner<'a> {
    plan: &'a Plan,
    ws: &'a Workspace,
    tools: &'a Tools,
    deadline: Option<Deadline>,
}

impl Runner<'_> {
    /// With a loudness target: measure the finished file and, when it missed the target or its
    /// ceiling, run the step that encodes the sound once more, corrected by what was measured.
    async fn finish_loudness(
        &self,
        cancel: &CancellationToken,
        state: &Progress,
        progress: &mut impl FnMut(f64, f64, &str),
        total: f64,
    ) -> Result<Option<LoudnessOutcome>> {
        let Runner { plan, ws, tools, deadline } = *self;
        let Some(target) = &plan.loudness else { return Ok(None) };
        let file = ws.file(&plan.output);
        tracing::info!(event = "measuring_loudness", "measuring the output's loudness");
        let mut measured = measure_loudness(tools, &file, deadline, cancel).await?;
        let mut applied = state.correction.flatten();
        let mut passes = 1;
        if let (Some(c), Some(i)) = (applied, state.corrected_step) {
            if let Some(again) = c.again(target, &measured) {
                let step = &plan.steps[i];
                let label = "encoding the sound once more, corrected to its loudness target";
                tracing::info!(
                    event = "loudness_corrected",
                    integrated = measured.integrated,
                    true_peak = measured.true_peak,
                    gain = again.gain,
                    limit = again.limit,
                    "the encoded sound measured {:.1} LUFS, {:.1} dBTP: {label}",
                    measured.integrated,
                    measured.true_peak
                );
                progress(total, total, label);
                self.run_step(step, Some(again), cancel, &mut |_| {}).await?;
                measured = measure_loudness(tools, &file, deadline, cancel).await?;
                applied = Some(again);
                passes = 2;
            }
        }
        let warning = crate::plan::mix::loudness_warning(target, &measured);
        Ok(Some(LoudnessOutcome { measured, correction: applied, passes, warning }))
    }

    /// Run `steps` (a batch of segments, or one step alone), `at_once` consecutive ones at a time, on a token of
    /// their own: the first failure stops the others, and is the error returned (not the
    /// cancellations it caused). `progress` gets each step's fraction done and the label of the
    /// one reporting. Outputs come back in step order.
    async fn run_batch(
        &self,
        steps: &[Step],
        at_once: usize,
        correction: Option<LoudnessCorrection>,
        cancel: &CancellationToken,
        progress: impl Fn(&[f64], &str),
    ) -> Result<Vec<process::Output>> {
        let stop = cancel.child_token();
        let parts = RefCell::new(vec![0.0; steps.len()]);
        let (stop_ref, parts_ref, progress_ref) = (&stop, &parts, &progress);
        let runs = steps.iter().enumerate().map(|(k, step)| async move {
            progress_ref(&parts_ref.borrow(), &step.label);
            let out = self
                .run_step(step, correction, stop_ref, &mut |f| {
                    parts_ref.borrow_mut()[k] = f;
                    progress_ref(&parts_ref.borrow(), &step.label);
                })
                .await;
            if out.is_err() {
                stop_ref.cancel();
            } else {
                parts_ref.borrow_mut()[k] = 1.0;
            }
            (k, out)
        });
        // In order: a run starts when the one `at_once` places before it has finished, so what
        // is in flight is always consecutive segments (what the plan's estimate sums).
        let mut outs: Vec<(usize, Result<process::Output>)> =
            futures_util::stream::iter(runs).buffered(at_once.max(1)).collect().await;
        outs.sort_by_key(|(k, _)| *k);
        let mut first_error = None;
        let mut ok = Vec::with_capacity(outs.len());
        for (_, out) in outs {
            match out {
                Ok(o) => ok.push(o),
                Err(Error::Cancelled) if !cancel.is_cancelled() => {} // stopped by another run's failure
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None if ok.len() < steps.len() => Err(Error::Cancelled),
            None => Ok(ok),
        }
    }

    /// Write one step's files (a pending loudness correction filled in with `correction`), check
    /// every filter against the planner's vocabulary, and run it. `progress` gets the fraction done.
    async fn run_step(
        &self,
        step: &Step,
        correction: Option<LoudnessCorrection>,
        cancel: &CancellationToken,
        progress: &mut dyn FnMut(f64),
    ) -> Result<process::Output> {
        let Runner { plan, ws, tools, deadline } = *self;
        let files: Vec<(&str, String)> = step
            .files
            .iter()
            .map(|f| Ok((f.name.as_str(), final_text(&f.contents, plan, correction)?)))
            .collect::<Result<_>>()?;
        let named: Vec<(&str, &str)> = files.iter().map(|(n, c)| (*n, c.as_str())).collect();
        check_vocabulary(&step.args, &named)
            .map_err(|e| Error::Internal(format!("refused to run the plan's step {:?}: {e}", step.label)))?;
        for (name, contents) in &files {
            std::fs::write(ws.file(name), contents).map_err(|e| {
                Error::Environment(format!("cannot write to the workspace {}: {e}", ws.path().display()))
            })?;
        }
        let opts = RunOptions {
            stall_timeout: tools.stall_timeout,
            deadline: deadline.map(|d| d.at),
            cancel,
            cwd: ws.path(),
            capture_stdout: false,
        };
        let fps = plan.expected.fps.as_f64();
        let run = process::run(&tools.ffmpeg, &step.args, opts, |p| {
            let frames = p.frame.map(|f| f as f64).or(p.out_time_us.map(|t| t as f64 / 1e6 * fps)).unwrap_or(0.0);
            progress((frames / step.frames.max(1) as f64).min(1.0));
        })
        .await;
        run.map_err(|e| to_error(e, &step.label, deadline))
    }
}

/// A script file's final text: a graph's pending loudness correction filled in (a silent mix:
/// passed unchanged).
fn final_text(contents: &Contents, plan: &Plan, correction: Option<LoudnessCorrection>) -> Result<String> {
    match contents {
        Contents::Text(t) => Ok(t.clone()),
        Contents::Graph(g) if !g.has_pending() => Ok(g.to_string()),
        Contents::Graph(g) => {
            if plan.loudness.is_none() {
                return Err(Error::Internal("a loudness correction without a target".into()));
            }
            let rate = plan.expected.sample_rate;
            let mut g = g.clone();
            g.fill_pending(|_| match correction {
                Some(c) => c.filters(rate),
                None => vec![Filter::new(Name::Anull)],
            });
            Ok(g.to_string())
        }
    }
}

/// Measure the integrated loudness, true peak and loudness range of a finished file's sound
/// (an FFmpeg run like any other: supervised, cancellable, within the deadline).
pub async fn measure_loudness(
    tools: &Tools,
    file: &Path,
    deadline: Option<Deadline>,
    cancel: &CancellationToken,
) -> Result<LoudnessStats> {
    let step = "measuring the output's loudness";
    let graph = crate::plan::mix::loudness_report().to_string();
    let args: Vec<String> = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "info", "-progress", "pipe:1"]
        .into_iter()
        .chain(["-protocol_whitelist", "file", "-i"])
        .map(String::from)
        .chain([file.display().to_string()])
        .chain(["-map", "0:a:0", "-af", graph.trim(), "-f", "null", "-"].map(String::from))
        .collect();
    check_vocabulary(&args, &[]).map_err(Error::Internal)?;
    let dir = file.parent().unwrap_or(Path::new("."));
    let opts = RunOptions {
        stall_timeout: tools.stall_timeout,
        deadline: deadline.map(|d| d.at),
        cancel,
        cwd: dir,
        capture_stdout: false,
    };
    let out = process::run(&tools.ffmpeg, &args, opts, |_| {}).await.map_err(|e| to_error(e, step, deadline))?;
    LoudnessStats::parse(&out.stderr).ok_or_else(|| Error::Render {
        step: step.into(),
        code: 0,
        stderr: format!("no loudness statistics in FFmpeg's output: {}", last_lines(&out.stderr)),
    })
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

fn to_error(e: RunError, step: &str, deadline: Option<Deadline>) -> Error {
    let step = step.to_string();
    match e {
        RunError::Spawn { program, source } => Error::Environment(format!(
            "cannot run FFmpeg ({program}): {source}; install it (apt-get install ffmpeg) or pass --ffmpeg"
        )),
        RunError::Failed { code, stderr } => Error::Render { step, code, stderr: last_lines(&stderr) },
        RunError::Killed { signal, stderr } => Error::FfmpegKilled { step, signal, stderr: last_lines(&stderr) },
        RunError::Stalled(d) => Error::Stalled { step, secs: d.as_secs() },
        RunError::Deadline => Error::Deadline { step, secs: deadline.map(|d| d.secs).unwrap_or(0) },
        RunError::Cancelled => Error::Cancelled,
        RunError::TooMuchOutput => Error::Render { step, code: 0, stderr: e.to_string() },
    }
}

/// FFmpeg's version and whether it has what plans use (every filter of the vocabulary, the
/// encoders `encoders_needed`).
pub async fn check_ffmpeg(tools: &Tools, encoders_needed: &[&str], cancel: &CancellationToken) -> Result<String> {
    let ffmpeg = &tools.ffmpeg;
    let listing = |what: &str, banner: bool| {
        let mut args = if banner { Vec::new() } else { vec!["-hide_banner".to_string()] };
        args.push(what.to_string());
        async move { process::capture(ffmpeg, &args, Duration::from_secs(30), cancel).await }
    };
    // Both at once, each an FFmpeg start-up (~75 ms of CPU); the version is in the banner.
    let (encoders, filters) = tokio::join!(listing("-encoders", true), listing("-filters", false));
    let encoders = encoders.map_err(|e| match e {
        RunError::Cancelled => Error::Cancelled,
        e => Error::Environment(format!(
            "cannot run {}: {e}. Install FFmpeg 5.1 or newer (apt-get install ffmpeg) or pass --ffmpeg PATH",
            ffmpeg.display()
        )),
    })?;
    let version = (encoders.stderr.lines())
        .find_map(|l| l.trim().strip_prefix("ffmpeg version "))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or("unknown")
        .to_string();
    let (major, minor) = parse_version(&version);
    if (major, minor) < (5, 1) && major != 0 {
        return Err(Error::Environment(format!("FFmpeg {version} is too old: cutlist needs 5.1 or newer")));
    }
    let (encoders, filters) = (encoders.stdout, filters.unwrap_or_default().stdout);
    let has = |list: &str, name: &str| list.lines().any(|l| l.split_whitespace().nth(1) == Some(name));
    let mut missing: Vec<String> = ["libx264", "pcm_s16le"]
        .iter()
        .chain(encoders_needed)
        .filter(|e| !has(&encoders, e))
        .map(|e| format!("encoder {e}"))
        .collect();
    missing.extend(
        crate::plan::graph::Name::ALL
            .iter()
            .filter(|f| !has(&filters, f.as_str()))
            .map(|f| format!("filter {}", f.as_str())),
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
    use super::*;
    use crate::plan::{Expected, ScriptFile};
    use crate::spec::Rational;

    #[test]
    fn versions() {
        assert_eq!(parse_version("5.1.9-0+deb12u1"), (5, 1));
        assert_eq!(parse_version("n7.0.2"), (7, 0));
        assert_eq!(parse_version("4.4.2-0ubuntu0.22.04.1"), (4, 4));
        assert_eq!(parse_version("N-112345-gabc"), (0, 0));
    }

    /// A plan whose arguments or scripts name a filter outside the vocabulary never reaches
    /// FFmpeg (here `false`, which would fail the step if it ran).
    #[tokio::test]
    async fn a_filter_outside_the_vocabulary_is_refused_before_running() {
        let parent = tempfile::tempdir().unwrap();
        let ws = Workspace::create(parent.path(), "vocab").unwrap();
        let tools = Tools { ffmpeg: "false".into(), ..Tools::default() };
        let step = |args: &[&str], files: Vec<ScriptFile>| Step {
            label: "a step".into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            files,
            frames: 1,
            encodes_video: true,
            capture: None,
            decodes: vec![],
            concurrent: false,
        };
        let plan = |s: Step| Plan {
            expected: Expected {
                width: 2,
                height: 2,
                fps: Rational::new(1, 1),
                frames: 1,
                video_codec: "h264",
                audio_codec: None,
                sample_rate: 48000,
                channels: 2,
                samples: 0,
            },
            encoder: crate::plan::budget::fit(
                &crate::plan::budget::Target {
                    width: 2,
                    height: 2,
                    encoder: crate::plan::budget::Encoder::X264,
                    preset: crate::spec::Preset::Ultrafast,
                },
                &[],
                0,
                u64::MAX,
                1,
            )
            .unwrap(),
            clips: vec![],
            steps: vec![s],
            output: "out.mp4".into(),
            stills: vec![],
            temp_bytes: 0,
            loudness: None,
        };
        let cancel = CancellationToken::new();
        let refused = |p: Plan| {
            let (ws, tools, cancel) = (&ws, &tools, &cancel);
            async move { render(&p, ws, tools, None, false, cancel, |_, _, _| {}).await.unwrap_err().to_string() }
        };
        let e = refused(plan(step(&["-i", "a.mp4", "-vf", "movie=/etc/passwd", "o.mp4"], vec![]))).await;
        assert!(e.contains("\"movie\" is outside cutlist's vocabulary"), "{e}");
        let script = ScriptFile::text("seg.graph", "[0:v]null[v];amovie=/etc/passwd[a]\n".into());
        let e = refused(plan(step(&["-filter_complex_script", "seg.graph"], vec![script]))).await;
        assert!(e.contains("\"amovie\""), "{e}");
        // The same plan with filters of the vocabulary runs (and `false` fails it).
        let e = refused(plan(step(&["-vf", "null", "o.mp4"], vec![]))).await;
        assert!(e.contains("FFmpeg failed"), "{e}");
    }
}
