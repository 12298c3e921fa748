//! A job, end to end: spec → fetch → probe → plan → render → publish, measured and reported.

use crate::error::{Error, Result};
use crate::fetch::{self, FetchPolicy, Request};
use crate::memory::{self, Peaks, Sampler};
use crate::plan::{self, Assets, ClipMedia, ClipTiming, EncoderSettings};
use crate::probe::{self, ProbeError};
use crate::publish::{self, Destination, OutputFacts};
use crate::render::{self, RenderOptions};
use crate::report::ProgressReporter;
use crate::spec::{self, Spec};
use crate::text::{self, TextImages};
use crate::workspace::Workspace;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};
use tokio_util::sync::CancellationToken;

/// How a job runs: everything that is not in the spec.
#[derive(Debug, Clone)]
pub struct JobOptions {
    /// Parent of the job's workspace.
    pub workdir: PathBuf,
    pub fetch: FetchPolicy,
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    pub stall_timeout: Duration,
    pub deadline: Option<Duration>,
    /// Memory limit in bytes; `None` detects it (cgroup, else host memory).
    pub memory_limit: Option<u64>,
    /// Overrides `output.path`.
    pub output: Option<PathBuf>,
    /// Where to write the result manifest (always, also on failure); default beside the output, on success.
    pub result: Option<PathBuf>,
    /// Progress as a bar (terminal) instead of JSON lines.
    pub interactive: bool,
    pub sample_every: Duration,
    /// Leave the workspace in place for debugging (its path is logged).
    pub keep_workspace: bool,
    /// When the spec was read from a bucket (`s3://b/jobs`): where its relative paths start.
    pub remote_base: Option<String>,
    /// Status webhook (the spec's `webhook.url` wins) and the secret that signs its events.
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    /// Fraction of the memory limit at which the job warns (log line and webhook event).
    pub memory_warn_fraction: f64,
    /// Cores the encoders may use; `None` detects them (cgroup quota, else the scheduler's).
    pub cpus: Option<u32>,
    /// Print a memory table when the job ends (and publish a picture of it).
    pub memory_report: crate::memreport::Mode,
    /// Which attempt and task this is (from the platform), for status events.
    pub attempt: u64,
    pub task_index: u64,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            workdir: std::env::temp_dir(),
            fetch: FetchPolicy::default(),
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            stall_timeout: Duration::from_secs(60),
            deadline: None,
            memory_limit: None,
            output: None,
            result: None,
            interactive: false,
            sample_every: Duration::from_millis(50),
            keep_workspace: false,
            remote_base: None,
            webhook_url: None,
            webhook_secret: None,
            attempt: 0,
            task_index: 0,
            memory_warn_fraction: 0.8,
            memory_report: crate::memreport::Mode::Off,
            cpus: None,
        }
    }
}

/// Memory figures of a job, bytes (see MEMORY.md for how they are measured).
#[derive(Debug, Clone, Serialize)]
pub struct MemoryReport {
    pub limit: u64,
    pub limit_source: &'static str,
    pub workspace_in_ram: bool,
    pub peak: Peaks,
    pub phases: HashMap<&'static str, Peaks>,
}

/// The result manifest of a job that succeeded.
#[derive(Debug, Clone, Serialize)]
pub struct JobResult {
    pub job_id: String,
    pub status: &'static str,
    /// Where the output was published: a path or an `s3://`, `gs://`, `az://` address.
    pub output: String,
    pub duration: f64,
    pub frames: u64,
    pub fps: String,
    pub width: u32,
    pub height: u32,
    pub video_codec: String,
    pub audio_codec: String,
    pub bytes: u64,
    pub wall_seconds: f64,
    pub started_at: String,
    pub ffmpeg_version: String,
    pub encoder: EncoderSettings,
    pub memory: MemoryReport,
    pub clips: Vec<ClipTiming>,
    /// Files written beside the output: caption sidecars, poster, thumbnail.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<String>,
    /// The finished file's loudness, measured, when the spec sets a target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loudness: Option<LoudnessReport>,
}

/// Loudness of the finished file (EBU R128), beside the target it was normalized to.
#[derive(Debug, Clone, Serialize)]
pub struct LoudnessReport {
    pub target: f64,
    /// Integrated loudness, LUFS.
    pub integrated: f64,
    /// True peak, dBTP.
    pub true_peak: f64,
    /// Loudness range, LU.
    pub lra: f64,
}

/// What `--result` holds when a job failed.
#[derive(Debug, Serialize)]
pub struct FailureRecord<'a> {
    pub job_id: Option<&'a str>,
    pub status: &'static str,
    pub error: &'static str,
    pub exit_code: u8,
    pub retryable: bool,
    pub message: String,
}

impl<'a> FailureRecord<'a> {
    pub fn new(job_id: Option<&'a str>, e: &Error) -> Self {
        FailureRecord {
            job_id,
            status: if matches!(e, Error::Cancelled) { "cancelled" } else { "failed" },
            error: e.kind(),
            exit_code: e.exit_code(),
            retryable: e.retryable(),
            message: e.to_string(),
        }
    }
}

/// What `cutlist plan` reports: the budget, the settings fitted to it, and the runs.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub job_id: String,
    pub memory_limit: u64,
    pub limit_source: &'static str,
    pub cpus: u32,
    pub cpus_source: &'static str,
    pub workspace_in_ram: bool,
    /// Estimated peak of the whole job, bytes: the largest FFmpeg run, cutlist's own share
    /// and, when the workspace is in RAM, its bytes.
    pub estimate: u64,
    pub encoder: EncoderSettings,
    pub frames: u64,
    pub duration: f64,
    pub runs: Vec<String>,
    pub clips: Vec<ClipTiming>,
}

/// Fetch, probe and plan a spec without rendering it: what would run, within which budget.
pub async fn plan_spec(
    spec: &Spec,
    base_dir: &Path,
    opts: &JobOptions,
    cancel: &CancellationToken,
) -> Result<PlanReport> {
    let (limit, limit_source) = memory::detect_limit(opts.memory_limit);
    let (cpus, cpus_source) = memory::detect_cpus(opts.cpus);
    let ws = Workspace::create(&opts.workdir, &spec.id)
        .map_err(|e| Error::Environment(format!("cannot create a workspace in {}: {e}", opts.workdir.display())))?;
    let sampler = Sampler::start(opts.sample_every, None);
    let mut progress = ProgressReporter::new(&spec.id, false, None);
    let budget = plan::Budget { limit, cpus, ram_workspace: None };
    let prepared = prepare(spec, base_dir, &ws, opts, budget, cancel, &sampler, &mut progress).await;
    sampler.finish();
    let plan = prepared?.plan;
    Ok(PlanReport {
        job_id: spec.id.clone(),
        memory_limit: limit,
        limit_source,
        cpus,
        cpus_source,
        workspace_in_ram: ws.ram_backed(),
        estimate: plan.encoder.estimate,
        encoder: plan.encoder,
        frames: plan.expected.frames,
        duration: plan.expected.duration(),
        runs: plan.steps.iter().map(|s| s.label.clone()).collect(),
        clips: plan.clips,
    })
}

/// Where a job's output goes: `-o`, else the spec's `output.path` (relative to the spec's
/// directory, or beside a spec read from a bucket).
pub fn output_destination(spec: &Spec, base_dir: &Path, opts: &JobOptions) -> Result<Destination> {
    match (&opts.output, &opts.remote_base) {
        (Some(p), _) => Destination::parse(&p.to_string_lossy(), Path::new("")),
        (None, Some(base)) => Destination::parse(&resolve_remote(base, &spec.output.path), base_dir),
        (None, None) => Destination::parse(&spec.output.path, base_dir),
    }
}

/// A spec read from a bucket names its files relative to its own place: `base/rel`
/// (absolute paths and addresses stay as they are).
pub fn resolve_remote(base: &str, src: &str) -> String {
    if spec::scheme_of_src(src).is_some() || src.starts_with('/') {
        src.to_string()
    } else {
        format!("{}/{}", base.trim_end_matches('/'), src.trim_start_matches("./"))
    }
}

/// Read and validate a spec from a bucket (`s3://`, `gs://`, `az://`; at most 4 MiB).
pub async fn read_remote_spec(uri: &str, set: &[(String, serde_json::Value)]) -> Result<Spec> {
    let unreadable = |reason: String| {
        Error::InvalidSpec(spec::ValidationErrors(vec![spec::SpecError { path: String::new(), reason }]))
    };
    let loc = crate::storage::locate(uri).map_err(|e| unreadable(e.to_string()))?;
    let bytes = match loc.read_small(4 << 20).await {
        Ok(b) => b,
        Err(crate::storage::StoreError::Transient(r)) => {
            return Err(Error::AssetUnreachable { path: "spec".into(), src: uri.to_string(), reason: r })
        }
        Err(crate::storage::StoreError::Cancelled) => return Err(Error::Cancelled),
        Err(crate::storage::StoreError::Permanent(r)) => return Err(unreadable(format!("cannot read {uri}: {r}"))),
    };
    let text = String::from_utf8(bytes).map_err(|_| unreadable(format!("{uri} is not UTF-8 text")))?;
    Ok(spec::parse_with(&text, set)?)
}

/// Read and validate a spec file, filling its placeholders (`set` wins over its `merge`).
pub fn read_spec(path: &Path, set: &[(String, serde_json::Value)]) -> Result<Spec> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::InvalidSpec(spec::ValidationErrors(vec![spec::SpecError {
            path: String::new(),
            reason: format!("cannot read {}: {e}", path.display()),
        }]))
    })?;
    Ok(spec::parse_with(&text, set)?)
}

/// Render a validated spec. `base_dir` is the spec's directory: relative paths start there
/// and local sources may come from beneath it. Status goes to the webhook, if one is set.
pub async fn render_spec(
    spec: &Spec,
    base_dir: &Path,
    opts: &JobOptions,
    cancel: &CancellationToken,
) -> Result<JobResult> {
    let hook = match spec.webhook.as_ref().map(|w| w.url.clone()).or_else(|| opts.webhook_url.clone()) {
        Some(u) => {
            let url = url::Url::parse(&u)
                .map_err(|e| Error::Environment(format!("the webhook URL {u:?} is not a URL: {e}")))?;
            let client = fetch::http::client(&opts.fetch)
                .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))?;
            Some(crate::webhook::Webhook::start(
                client,
                url,
                opts.webhook_secret.clone(),
                &spec.id,
                opts.attempt,
                opts.task_index,
            ))
        }
        None => None,
    };
    let notify = hook.as_ref().map(|h| h.notifier.clone());
    let outcome = render_job(spec, base_dir, opts, cancel, notify.clone()).await;
    if let Some(n) = notify {
        use serde_json::json;
        match &outcome {
            Ok(r) => {
                let manifest = match &opts.result {
                    Some(p) => p.display().to_string(),
                    None => output_destination(spec, base_dir, opts).map(|d| d.with_suffix(".json").display()).unwrap_or_default(),
                };
                n.send("succeeded", None, json!({"output": r.output, "manifest": manifest, "sidecars": r.sidecars, "duration": r.duration, "bytes": r.bytes}))
            }
            Err(Error::Cancelled) => n.send("cancelled", None, json!({})),
            Err(e) => n.send(
                "failed",
                None,
                json!({"error": e.kind(), "exit_code": e.exit_code(), "retryable": e.retryable(), "message": e.to_string(), "path": e.culprit()}),
            ),
        }
    }
    if let Some(h) = hook {
        h.finish(Duration::from_secs(5)).await;
    }
    outcome
}

async fn render_job(
    spec: &Spec,
    base_dir: &Path,
    opts: &JobOptions,
    cancel: &CancellationToken,
    notify: Option<crate::webhook::Notifier>,
) -> Result<JobResult> {
    let started = Instant::now();
    let started_at = crate::report::rfc3339(SystemTime::now());
    let id = spec.id.as_str();
    let o = &spec.output;
    let dest = output_destination(spec, base_dir, opts)?;

    // Facts known before any media: FFmpeg works, the output settings fit the budget.
    let mut encoders = vec![o.video_codec().encoder()];
    match o.audio_codec() {
        Some(spec::AudioCodec::Aac) => encoders.push("aac"),
        Some(spec::AudioCodec::Opus) => encoders.push("libopus"),
        None => encoders.push("gif"),
    }
    let ffmpeg_version = render::check_ffmpeg(&opts.ffmpeg, &encoders).await?;
    let (limit, limit_source) = memory::detect_limit(opts.memory_limit);
    let (cpus, _) = memory::detect_cpus(opts.cpus);
    // The least any segment run holds: its encoder alone (inputs come on top once probed).
    let least = [plan::budget::Load { what: "any clip".into(), encodes: true, bytes: 0 }];
    plan::budget::fit(&plan::budget::Target::of(o), &least, 0, limit, cpus).map_err(Error::MemoryBudget)?;
    let budget = plan::Budget { limit, cpus, ram_workspace: None };

    for stale in crate::workspace::sweep(&opts.workdir) {
        tracing::warn!(job_id = id, event = "swept", workspace = %stale.display(), "removed the workspace of an earlier attempt that was killed");
    }
    let ws = Workspace::create(&opts.workdir, id)
        .map_err(|e| Error::Environment(format!("cannot create a workspace in {}: {e}", opts.workdir.display())))?;
    let in_ram = ws.ram_backed();
    // Warn (log and webhook) when the job reaches 80 % of its limit (`--memory-warn`).
    let threshold = (limit as f64 * opts.memory_warn_fraction) as u64;
    let (warn_id, warn_hook) = (id.to_string(), notify.clone());
    let warn: memory::Warn = Box::new(move |total| {
        tracing::warn!(job_id = %warn_id, event = "memory_warning", bytes = total, limit, "memory reached {} MiB of the {} MiB limit", total >> 20, limit >> 20);
        if let Some(n) = warn_hook {
            n.send("memory_warning", None, serde_json::json!({"bytes": total, "limit": limit}));
        }
    });
    let sampler = Sampler::start_with_warning(
        opts.sample_every,
        in_ram.then(|| ws.path().to_path_buf()),
        Some((threshold, warn)),
    );
    tracing::info!(job_id = id, event = "accepted", workspace = %ws.path().display(), memory_limit = limit, limit_source, ffmpeg = %ffmpeg_version, "job {id} accepted");

    let mut progress = ProgressReporter::new(id, opts.interactive, notify);
    progress.event("accepted", serde_json::json!({"output": dest.display()}));
    let outcome = run_stages(spec, base_dir, &dest, &ws, opts, budget, cancel, &sampler, &mut progress).await;
    progress.finish();
    let record = sampler.finish();
    let peak = record.peaks;
    let report = crate::memreport::Context { job_id: id, limit, limit_source, estimate: record.estimate };
    if opts.memory_report != crate::memreport::Mode::Off {
        eprint!("{}", crate::memreport::table(&record, &report));
    }
    if opts.keep_workspace {
        tracing::warn!(job_id = id, workspace = %ws.keep().display(), "workspace kept for debugging");
        return Err(outcome
            .err()
            .unwrap_or(Error::Internal("workspace kept; run without --keep-workspace to publish".into())));
    }
    let (facts, encoder, clips, loudness, sidecars) = outcome?;
    drop(ws);

    let result = JobResult {
        job_id: id.to_string(),
        status: "succeeded",
        output: dest.display(),
        duration: facts.duration,
        frames: facts.frames,
        fps: o.fps.to_string(),
        width: facts.width,
        height: facts.height,
        video_codec: facts.video_codec,
        audio_codec: facts.audio_codec,
        bytes: facts.bytes,
        wall_seconds: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        started_at,
        ffmpeg_version,
        encoder,
        memory: MemoryReport {
            limit,
            limit_source,
            workspace_in_ram: in_ram,
            peak,
            phases: record.phases.iter().copied().collect(),
        },
        clips,
        loudness,
        sidecars,
    };
    if opts.memory_report == crate::memreport::Mode::Detailed {
        dest.with_suffix(".memory.svg").put_text(&crate::memreport::svg(&record, &report)).await?;
    }
    match &opts.result {
        Some(path) => publish::write_json(path, &result)?,
        None => {
            let text = serde_json::to_string_pretty(&result).map_err(|e| Error::Internal(e.to_string()))?;
            dest.with_suffix(".json").put_text(&text).await?;
        }
    }
    tracing::info!(
        job_id = id,
        event = "succeeded",
        output = %dest.display(),
        duration = result.duration,
        bytes = result.bytes,
        wall_seconds = result.wall_seconds,
        peak_tree_bytes = peak.tree,
        peak_cutlist_bytes = peak.cutlist,
        "rendered {} ({:.2} s) in {:.1} s; peak memory {} MiB (cutlist {} MiB)",
        dest.display(),
        result.duration,
        result.wall_seconds,
        peak.total >> 20,
        peak.cutlist >> 20
    );
    Ok(result)
}

/// Publish the caption files captions tracks ask for beside the output: `out.srt` (or
/// `out.<track>.srt` when several tracks ask).
async fn write_sidecars(spec: &Spec, texts: &TextImages, dest: &Destination) -> Result<Vec<String>> {
    let wanted: Vec<(usize, spec::SidecarFormat)> = spec
        .timeline
        .tracks
        .iter()
        .enumerate()
        .filter_map(|(ti, t)| match t {
            spec::Track::Captions(c) => c.sidecar.map(|f| (ti, f)),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for &(ti, format) in &wanted {
        let Some(images) = texts.captions.get(&format!("timeline.tracks[{ti}]")) else { continue };
        let (ext, text) = match format {
            spec::SidecarFormat::Srt => ("srt", crate::captions::to_srt(&images.cues)),
            spec::SidecarFormat::Vtt => ("vtt", crate::captions::to_vtt(&images.cues)),
        };
        let to = if wanted.len() == 1 { dest.with_extension(ext) } else { dest.with_extension(&format!("{ti}.{ext}")) };
        to.put_text(&text).await?;
        out.push(to.display());
    }
    Ok(out)
}

/// Bytes the render needs in the workspace: segments and the joined file (each about the
/// output's size, estimated generously) plus the PCM audio.
fn render_reserve(spec: &Spec) -> u64 {
    let o = &spec.output;
    let seconds: f64 = spec
        .main_track()
        .clips
        .iter()
        .map(|c| match c {
            spec::Clip::Video(v) => v.out.map(|out| out - v.in_).unwrap_or(600.0),
            spec::Clip::Image(i) => i.duration,
            spec::Clip::Color(c) => c.duration,
        })
        .sum();
    let video = seconds * o.fps.as_f64() * (o.width as f64 * o.height as f64) * 0.2 / 8.0;
    let audio = seconds * 48_000.0 * 4.0;
    (2.0 * video + audio) as u64 + (32 << 20)
}

/// What the stages before rendering produce.
struct Prepared {
    plan: plan::Plan,
    texts: TextImages,
}

/// Check room, fetch, probe, draw the texts, plan.
#[allow(clippy::too_many_arguments)]
async fn prepare(
    spec: &Spec,
    base_dir: &Path,
    ws: &Workspace,
    opts: &JobOptions,
    budget: plan::Budget,
    cancel: &CancellationToken,
    sampler: &Sampler,
    progress: &mut ProgressReporter,
) -> Result<Prepared> {
    let id = spec.id.as_str();
    let reserve = render_reserve(spec);
    let free = ws.free_bytes().unwrap_or(u64::MAX);
    if free < reserve {
        return Err(Error::Environment(format!(
            "the workdir {} has {} MiB free; this job needs about {} MiB there: free space or pass --workdir",
            opts.workdir.display(),
            free >> 20,
            reserve >> 20
        )));
    }

    // Fetch each distinct source once.
    sampler.phase("fetch");
    let sources = spec.sources();
    let requests: Vec<Request> =
        sources.iter().map(|a| Request { src: a.src.clone(), used_at: a.used_at.clone() }).collect();
    // The addresses fetched: relative ones resolved against a remote spec's place.
    let fetch_requests: Vec<Request> = match &opts.remote_base {
        Some(base) => {
            requests.iter().map(|r| Request { src: resolve_remote(base, &r.src), used_at: r.used_at.clone() }).collect()
        }
        None => requests.clone(),
    };
    tracing::info!(job_id = id, event = "fetching", assets = requests.len(), "fetching {} assets", requests.len());
    let progress_cell = std::sync::Mutex::new(&mut *progress);
    let mut policy = opts.fetch.clone();
    if opts.remote_base.is_none() {
        // A local spec may name files beneath its directory; a spec from a bucket may not
        // reach into this machine beyond --allow-root.
        policy.allowed_roots.push(base_dir.to_path_buf());
    }
    let fetched = fetch::fetch_all(&fetch_requests, base_dir, ws, &policy, reserve, cancel, |done, total| {
        if let Ok(mut p) = progress_cell.lock() {
            p.update("fetch", done as f64, total as f64, &format!("{done}/{total} assets"));
        }
    })
    .await?;

    // Probe each media asset (fonts are read by the text stage).
    sampler.phase("probe");
    let mut assets = Assets::new();
    let mut files = HashMap::new();
    for ((f, r), a) in fetched.into_iter().zip(&requests).zip(&sources) {
        if a.kind != spec::AssetKind::Media {
            files.insert(r.src.clone(), f.path); // fonts and captions: read by the text stage
            continue;
        }
        let p = tokio::select! {
            p = probe::probe(&opts.ffprobe, &f.path, Duration::from_secs(60)) => p,
            _ = cancel.cancelled() => return Err(Error::Cancelled),
        };
        let info = p.map_err(|e| match e {
            ProbeError::Rejected(reason) => {
                Error::AssetRejected { path: r.used_at.clone(), src: fetch::redact(&r.src), reason }
            }
            ProbeError::Tool(reason) => Error::Environment(reason),
        })?;
        assets.insert(r.src.clone(), ClipMedia { path: f.path, info });
    }

    // Text: laid out and drawn into the workspace (CPU work, off the async threads).
    sampler.phase("text");
    let has_text = spec.overlays().iter().any(|(_, o)| matches!(o, spec::OverlayItem::Text(_)))
        || spec.timeline.tracks.iter().any(|t| matches!(t, spec::Track::Captions(_)));
    let texts = if has_text {
        let (spec2, dir) = (spec.clone(), ws.path().to_path_buf());
        tokio::task::spawn_blocking(move || text::draw_all(&spec2, &files, &dir))
            .await
            .map_err(|e| Error::Internal(format!("the text stage panicked: {e}")))??
    } else {
        TextImages::new()
    };

    // Plan.
    // A workspace in RAM holds the fetched assets by now.
    let budget = plan::Budget { ram_workspace: ws.ram_backed().then(|| ws.bytes()), ..budget };
    let plan = plan::plan(spec, &assets, &texts, &budget)?;
    tracing::info!(
        job_id = id,
        event = "planned",
        frames = plan.expected.frames,
        steps = plan.steps.len(),
        encoder_threads = plan.encoder.threads,
        lookahead = plan.encoder.lookahead,
        estimate_bytes = plan.encoder.estimate,
        "{} frames in {} FFmpeg runs (x264 threads {}, lookahead {})",
        plan.expected.frames,
        plan.steps.len(),
        plan.encoder.threads,
        plan.encoder.lookahead
    );

    Ok(Prepared { plan, texts })
}

#[allow(clippy::too_many_arguments)]
async fn run_stages(
    spec: &Spec,
    base_dir: &Path,
    dest: &Destination,
    ws: &Workspace,
    opts: &JobOptions,
    budget: plan::Budget,
    cancel: &CancellationToken,
    sampler: &Sampler,
    progress: &mut ProgressReporter,
) -> Result<(OutputFacts, EncoderSettings, Vec<ClipTiming>, Option<LoudnessReport>, Vec<String>)> {
    let id = spec.id.as_str();
    let Prepared { plan, texts } = prepare(spec, base_dir, ws, opts, budget, cancel, sampler, progress).await?;
    sampler.estimate(plan.encoder.estimate);

    // Render.
    sampler.phase("render");
    let ropts = RenderOptions {
        ffmpeg: opts.ffmpeg.clone(),
        stall_timeout: opts.stall_timeout,
        deadline: opts.deadline.map(|d| (Instant::now() + d, d.as_secs())),
    };
    render::render(&plan, ws, &ropts, cancel, |done, total, label| progress.update("render", done, total, label))
        .await?;

    // Publish.
    sampler.phase("publish");
    let rendered = ws.file(&plan.output);
    let facts = publish::verify(&opts.ffprobe, &rendered, &plan.expected).await?;
    let loudness = match &plan.loudness {
        Some(target) => {
            let m = tokio::select! {
                m = publish::measure_loudness(&opts.ffmpeg, &rendered) => m?,
                _ = cancel.cancelled() => return Err(Error::Cancelled),
            };
            Some(LoudnessReport {
                target: target.integrated,
                integrated: m.integrated,
                true_peak: m.true_peak,
                lra: m.lra,
            })
        }
        None => None,
    };
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    sampler.phase("upload");
    progress.event("uploading", serde_json::json!({"output": dest.display(), "bytes": facts.bytes}));
    tracing::info!(job_id = id, event = "uploading", output = %dest.display(), bytes = facts.bytes, "publishing {}", dest.display());
    dest.put_file(&rendered, cancel).await?;
    let mut published = write_sidecars(spec, &texts, dest).await?;
    for still in &plan.stills {
        let chosen = match still.kind {
            "poster" => spec.output.poster.as_ref(),
            _ => spec.output.thumbnail.as_ref(),
        };
        let to = match chosen.and_then(|s| s.path.as_ref()) {
            Some(p) => match &opts.remote_base {
                Some(base) => Destination::parse(&resolve_remote(base, p), base_dir)?,
                None => Destination::parse(p, base_dir)?,
            },
            None => {
                let ext = Path::new(&still.name).extension().and_then(|e| e.to_str()).unwrap_or("jpg");
                let short = if still.kind == "poster" { "poster" } else { "thumb" };
                dest.with_extension(&format!("{short}.{ext}"))
            }
        };
        to.put_file(&ws.file(&still.name), cancel).await?;
        published.push(to.display());
    }
    Ok((facts, plan.encoder, plan.clips, loudness, published))
}
