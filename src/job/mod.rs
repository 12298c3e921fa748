//! A job, end to end: spec → fetch → probe → text → plan → render → publish, measured and
//! reported. Each stage is called once, in order, with what it needs from [`JobOptions`].

pub mod options;
pub mod outcome;

pub use options::{JobOptions, ReportOptions};
pub use outcome::{FailureRecord, JobResult, LoudnessReport, MemoryReport, PlanReport};

use crate::error::{Error, Result};
use crate::fetch::{self, Request};
use crate::memory::{self, Sampler};
use crate::plan::{self, Assets, ClipMedia, ClipTiming, EncoderSettings};
use crate::probe::{self, ProbeError};
use crate::publish::{self, Destination, OutputFacts};
use crate::render::{self, Deadline};
use crate::report::webhook::{Target, Webhook};
use crate::report::{Event, Phase, Reporter, Status};
use crate::source::{Base, Opened};
use crate::spec::{self, Spec};
use crate::text::{self, TextImages};
use crate::workspace::Workspace;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};
use tokio_util::sync::CancellationToken;

/// How long a probe may go without finishing.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// Log a failure (its event: `failed` or `cancelled`), write its record to `result` when
/// asked, and give its exit code.
pub fn report_failure(e: &Error, job_id: Option<&str>, result: Option<&Path>) -> u8 {
    crate::report::progress::log(job_id, &Event::of_error(e), &e.to_string());
    if let Some(path) = result {
        if let Err(w) = publish::write_json(path, &FailureRecord::new(job_id, e)) {
            tracing::error!("cannot write the result record: {w}");
        }
    }
    e.exit_code()
}

/// Where a job's output goes: `-o`, else the spec's `output.path` at its base (a local one
/// beneath `--output-root` when given).
pub fn destination(spec: &Spec, base: &Base, opts: &JobOptions) -> Result<Destination> {
    match &opts.output {
        Some(p) => Ok(Destination::parse(&p.to_string_lossy())?.overwriting(opts.overwrite)),
        None => spec_destination(&spec.output.path, "output.path", base, opts),
    }
}

/// A path the spec writes (`field`), where it goes: beneath `--output-root` when local, within
/// an allowed bucket (`--allow-bucket`) when an object.
fn spec_destination(addr: &str, field: &str, base: &Base, opts: &JobOptions) -> Result<Destination> {
    let d = Destination::of_spec(addr, base, opts.output_root.as_deref())?.overwriting(opts.overwrite);
    match &d {
        Destination::Object(l) if !crate::storage::within(&l.uri, &opts.fetch.allowed_buckets) => {
            Err(Error::InvalidSpec(spec::ValidationErrors(vec![spec::SpecError {
                path: field.into(),
                reason: format!("{} is outside the buckets this deployment allows (--allow-bucket)", l.uri),
            }])))
        }
        _ => Ok(d),
    }
}

/// Fetch, probe and plan a spec without rendering it: what would run, within which budget.
pub async fn plan_spec(job: &Opened, opts: &JobOptions, cancel: &CancellationToken) -> Result<PlanReport> {
    let spec = &job.spec;
    let limits = opts.limits;
    let ws = Workspace::create(&opts.workdir, &spec.id)
        .map_err(|e| Error::Environment(format!("cannot create a workspace in {}: {e}", opts.workdir.display())))?;
    let sampler = Sampler::start(opts.report.sample_every, None);
    let mut reporter = Reporter::new(&spec.id, false, None);
    let prepared = prepare(job, &ws, opts, cancel, &sampler, &mut reporter).await;
    sampler.finish();
    let plan = prepared?.plan;
    Ok(PlanReport {
        job_id: spec.id.clone(),
        memory_limit: limits.memory,
        limit_source: limits.memory_source,
        cpus: limits.cpus,
        cpus_source: limits.cpus_source,
        workspace_in_ram: ws.ram_backed(),
        estimate: plan.encoder.estimate,
        encoder: plan.encoder,
        frames: plan.expected.frames,
        duration: plan.expected.duration(),
        runs: plan.steps.iter().map(|s| s.label.clone()).collect(),
        clips: plan.clips,
    })
}

/// Render a validated spec. Local sources may come from beneath its base directory. Status
/// goes to the webhook, if one is set; the final event (succeeded, failed, cancelled) too.
pub async fn render_spec(job: &Opened, opts: &JobOptions, cancel: &CancellationToken) -> Result<JobResult> {
    let spec = &job.spec;
    let r = &opts.report;
    let client = |guard| {
        fetch::http::webhook_client(guard).map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))
    };
    let mut targets = Vec::new();
    if let Some(u) = &r.webhook_url {
        let url = url::Url::parse(u)
            .map_err(|e| Error::Environment(format!("the webhook URL {u:?} (--webhook-url) is not a URL: {e}")))?;
        targets.push(Target { url, secret: r.webhook_secret.clone(), client: client(None)?, guard: None });
    }
    // The spec's receiver: only at an origin the operator allows, guarded, unsigned. A spec
    // that names another fails (and the operator's receiver hears it).
    let refused = match spec.webhook.as_ref().map(|w| spec_webhook(&w.url, &r.webhook_allow)) {
        Some(Ok(url)) => {
            let guard = Some(opts.fetch.allow_private_network);
            targets.push(Target { url, secret: None, client: client(guard)?, guard });
            None
        }
        Some(Err(e)) => Some(e),
        None => None,
    };
    let hook = (!targets.is_empty()).then(|| Webhook::start(targets, &spec.id, r.attempt, r.task_index));
    let mut reporter = Reporter::new(&spec.id, r.interactive, hook.as_ref().map(|h| h.notifier.clone()));
    let outcome = match refused {
        Some(e) => Err(e),
        None => render_job(job, opts, cancel, &mut reporter).await,
    };
    reporter.notify(match &outcome {
        Ok(res) => Event::Succeeded {
            output: res.output.clone(),
            manifest: match &opts.result {
                Some(p) => p.display().to_string(),
                None => {
                    destination(spec, &job.base, opts).map(|d| d.with_suffix(".json").display()).unwrap_or_default()
                }
            },
            sidecars: res.sidecars.clone(),
            duration: res.duration,
            bytes: res.bytes,
        },
        Err(e) => Event::of_error(e),
    });
    drop(reporter);
    if let Some(h) = hook {
        h.finish().await;
    }
    outcome
}

/// The spec's `webhook.url`, if its origin is one of `allowed` (`--webhook-allow`).
fn spec_webhook(url: &str, allowed: &[String]) -> Result<url::Url> {
    let refuse = |reason: String| {
        Error::InvalidSpec(spec::ValidationErrors(vec![spec::SpecError { path: "webhook.url".into(), reason }]))
    };
    let u = url::Url::parse(url).map_err(|e| refuse(format!("not a URL: {e}")))?;
    let origin = u.origin();
    if !allowed.iter().filter_map(|a| url::Url::parse(a).ok()).any(|a| a.origin() == origin) {
        return Err(refuse(format!(
            "its origin {} is not one this deployment allows (the operator adds origins with --webhook-allow)",
            origin.ascii_serialization()
        )));
    }
    Ok(u)
}

async fn render_job(
    job: &Opened,
    opts: &JobOptions,
    cancel: &CancellationToken,
    reporter: &mut Reporter,
) -> Result<JobResult> {
    let started = Instant::now();
    let started_at = crate::report::rfc3339(SystemTime::now());
    let spec = &job.spec;
    let id = spec.id.as_str();
    let o = &spec.output;
    let dest = destination(spec, &job.base, opts)?;
    // A taken name fails now, not after the render.
    dest.check_free()?;

    // Facts known before any media: FFmpeg works, the output settings fit the budget.
    let mut encoders = vec![plan::encoder_name(o.video_codec())];
    match o.audio_codec() {
        Some(spec::AudioCodec::Aac) => encoders.push("aac"),
        Some(spec::AudioCodec::Opus) => encoders.push("libopus"),
        None => encoders.push("gif"),
    }
    let ffmpeg_version = render::check_ffmpeg(&opts.tools, &encoders, cancel).await?;
    let limits = opts.limits;
    let (limit, limit_source) = (limits.memory, limits.memory_source);
    // The least any segment run holds: its encoder alone (inputs come on top once probed).
    let least = [plan::budget::Load { what: "any clip".into(), encodes: true, bytes: 0, decoding: 0 }];
    plan::budget::fit(&plan::budget::Target::of(o), &least, 0, limit, limits.cpus).map_err(Error::MemoryBudget)?;

    for stale in crate::workspace::sweep(&opts.workdir) {
        tracing::warn!(job_id = id, event = "swept", workspace = %stale.display(), "removed the workspace of an earlier attempt that was killed");
    }
    let ws = Workspace::create(&opts.workdir, id)
        .map_err(|e| Error::Environment(format!("cannot create a workspace in {}: {e}", opts.workdir.display())))?;
    let in_ram = ws.ram_backed();
    // Warn (log and webhook) when the job reaches `--memory-warn` of its limit.
    let threshold = (limit as f64 * opts.report.memory_warn_fraction) as u64;
    let (warn_id, warn_hook) = (id.to_string(), reporter.notifier());
    let warn: memory::Warn = Box::new(move |bytes| {
        let event = Event::MemoryWarning { bytes, limit };
        let msg = format!("memory reached {} MiB of the {} MiB limit", bytes >> 20, limit >> 20);
        crate::report::progress::log(Some(&warn_id), &event, &msg);
        if let Some(n) = warn_hook {
            n.send(&event);
        }
    });
    let sampler = Sampler::start_with_warning(
        opts.report.sample_every,
        in_ram.then(|| ws.path().to_path_buf()),
        Some((threshold, warn)),
    );
    tracing::info!(job_id = id, event = "accepted", output = %dest.display(), workspace = %ws.path().display(), memory_limit = limit, limit_source, ffmpeg = %ffmpeg_version, "job {id} accepted");
    reporter.notify(Event::Accepted { output: dest.display() });

    // The deadline covers every phase: when it passes, the job is cancelled (FFmpeg stopped,
    // downloads dropped, an upload aborted) and the cancellation reported as the deadline.
    let deadline = opts.deadline.map(Deadline::after);
    let job_cancel = cancel.child_token();
    let timer = deadline.map(|d| {
        let c = job_cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(d.at.into()).await;
            c.cancel();
        })
    });
    let outcome = run_stages(job, &dest, &ws, opts, deadline, &job_cancel, &sampler, reporter).await;
    if let Some(t) = timer {
        t.abort();
    }
    let outcome = match (outcome, deadline) {
        (Err(Error::Cancelled), Some(d)) if !cancel.is_cancelled() => {
            Err(Error::Deadline { step: format!("in the {} phase", sampler.current()), secs: d.secs })
        }
        (o, _) => o,
    };
    reporter.finish();
    let record = sampler.finish();
    let peak = record.peaks;
    let report = crate::memory::report::Context { job_id: id, limit, limit_source, estimate: record.estimate };
    if opts.report.memory_report != crate::memory::report::Mode::Off {
        eprint!("{}", crate::memory::report::table(&record, &report));
    }
    if opts.keep_workspace {
        tracing::warn!(job_id = id, workspace = %ws.keep().display(), "workspace kept for debugging");
        return Err(outcome
            .err()
            .unwrap_or(Error::Internal("workspace kept; run without --keep-workspace to publish".into())));
    }
    let Staged { facts, encoder, clips, loudness, sidecars, decode_errors } = outcome?;
    drop(ws);

    let result = JobResult {
        job_id: id.to_string(),
        status: Status::Succeeded,
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
        decode_errors,
    };
    if opts.report.memory_report == crate::memory::report::Mode::Detailed {
        dest.with_suffix(".memory.svg").put_text(&crate::memory::report::svg(&record, &report)).await?;
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
        let Some(images) = texts.captions.get(&ti) else { continue };
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

/// What the stages before rendering produce.
struct Prepared {
    plan: plan::Plan,
    texts: TextImages,
    /// The local sources, open: the plan reads them by their open files.
    _sources: Vec<std::sync::Arc<std::fs::File>>,
}

/// The video packets stream copy decides from, for the main-track clips `clips` (H.264
/// sources): a cut clip's window inside its source, or a whole clip's first packets. Demuxing only.
async fn read_packet_windows(
    spec: &spec::Spec,
    assets: &mut Assets,
    opts: &JobOptions,
    cancel: &CancellationToken,
    clips: &[usize],
) -> Result<(), Error> {
    let mut wanted = Vec::new();
    for (i, clip) in spec.main_track().clips.iter().enumerate().filter(|(i, _)| clips.contains(i)) {
        let spec::Clip::Video(v) = clip else { continue };
        let Some(m) = assets.get(&v.src) else { continue };
        let read = m.packets.iter().any(|w| w.from == v.in_ && w.to == v.out);
        if !read && m.info.video.as_ref().is_some_and(|vs| vs.codec == "h264" && !vs.still) {
            wanted.push((i, v.src.clone(), m.path.clone(), v.in_, v.out));
        }
    }
    let ffprobe = &opts.tools.ffprobe;
    let read: Vec<_> = futures_util::stream::iter(&wanted)
        .map(|(_, _, path, from, to)| probe::packets(ffprobe, path, *from, *to, PROBE_TIMEOUT, cancel))
        .buffered(opts.limits.cpus.clamp(1, 4) as usize)
        .collect()
        .await;
    for ((i, src, ..), window) in wanted.into_iter().zip(read) {
        match window {
            Ok(w) => assets.get_mut(&src).expect("probed above").packets.push(w),
            Err(ProbeError::Cancelled) => return Err(Error::Cancelled),
            // Unreadable packets only rule out copying this clip (the plan says so).
            Err(e) => tracing::warn!(clip = i, error = %e, "the packets of a source could not be read"),
        }
    }
    Ok(())
}

/// Fetch, probe, draw the texts, plan; check the workspace has room for the render.
async fn prepare(
    job: &Opened,
    ws: &Workspace,
    opts: &JobOptions,
    cancel: &CancellationToken,
    sampler: &Sampler,
    reporter: &mut Reporter,
) -> Result<Prepared> {
    let (spec, base) = (&job.spec, &job.base);
    let id = spec.id.as_str();
    // What the render will write, as far as the spec alone tells (clips without `out` are
    // counted once probed): each download must leave room for it.
    let known: u64 = spec.main_track().clips.iter().filter_map(|c| c.frames(spec.output.fps)).sum();
    let reserve = plan::budget::temp_bytes(&spec.output, known);
    check_room(ws, opts, reserve)?;

    // Fetch each distinct source once.
    enter(sampler, id, Phase::Fetch);
    let sources = spec.sources();
    let requests: Vec<Request> =
        sources.iter().map(|a| Request { src: base.resolve(&a.src), used_at: a.used_at.clone() }).collect();
    tracing::info!(job_id = id, event = "fetching", assets = requests.len(), "fetching {} assets", requests.len());
    let mut policy = opts.fetch.clone();
    // A local spec may name files beneath its directory; a spec from a bucket may not reach
    // into this machine beyond --allow-root.
    policy.allowed_roots.extend(base.local_root().map(Path::to_path_buf));
    // Where the workspace could not hold the largest job the policy allows (a RAM disk, a
    // small volume), ask what the sources weigh first and refuse at once if they cannot fit,
    // rather than after downloading some of them.
    let (room, where_) = workspace_room(ws, opts);
    if room < policy.max_job_bytes.saturating_add(reserve) {
        let sizes = fetch::declared_sizes(&requests, &policy, cancel).await;
        fetch::check_declared(&requests, &sizes, reserve, room, &where_)?;
    }
    let progress = std::sync::Mutex::new(&mut *reporter);
    let fetched = fetch::fetch_all(&requests, ws, &policy, reserve, cancel, |done, total| {
        if let Ok(mut p) = progress.lock() {
            p.update(Phase::Fetch, done as f64, total as f64, &format!("{done}/{total} assets"));
        }
    })
    .await?;

    // Probe each media asset (fonts are read by the text stage), as many at once as there
    // are cores (each reads its file through: the frames really there); the first refusal,
    // in spec order, fails the job.
    enter(sampler, id, Phase::Probe);
    let mut assets = Assets::new();
    let mut files = HashMap::new();
    let open: Vec<_> = fetched.iter().filter_map(|f| f.handle.clone()).collect();
    let mut media = Vec::new();
    for ((f, r), a) in fetched.into_iter().zip(&requests).zip(&sources) {
        if a.kind != spec::AssetKind::Media {
            files.insert(a.src.clone(), f.path); // fonts and captions: read by the text stage
        } else {
            media.push((f, r, a));
        }
    }
    let ffprobe = &opts.tools.ffprobe;
    let probed: Vec<_> = futures_util::stream::iter(&media)
        .map(|(f, _, _)| probe::probe(ffprobe, &f.path, PROBE_TIMEOUT, cancel))
        .buffered(opts.limits.cpus.clamp(1, 4) as usize)
        .collect()
        .await;
    for ((f, r, a), info) in media.into_iter().zip(probed) {
        let info = info.map_err(|e| match e {
            ProbeError::Rejected(reason) => {
                Error::AssetRejected { path: r.used_at.clone(), src: fetch::redact(&a.src), reason }
            }
            ProbeError::Tool(reason) => Error::Environment(reason),
            ProbeError::Cancelled => Error::Cancelled,
        })?;
        assets.insert(a.src.clone(), ClipMedia { path: f.path, info, packets: Vec::new() });
    }
    // Text: laid out and drawn into the workspace (CPU work, off the async threads).
    enter(sampler, id, Phase::Text);
    let has_text = spec.overlays().iter().any(|(_, o)| matches!(o, spec::OverlayItem::Text(_)))
        || spec.timeline.tracks.iter().any(|t| matches!(t, spec::Track::Captions(_)));
    let texts = if has_text {
        // Off the async threads; it stops at the next picture when the job is cancelled (and is
        // waited for, so that nothing writes into the workspace once it is removed).
        let (spec2, dir, stop) = (spec.clone(), ws.path().to_path_buf(), cancel.clone());
        tokio::task::spawn_blocking(move || text::draw_all(&spec2, &files, &dir, &stop))
            .await
            .map_err(|e| Error::Internal(format!("the text stage panicked: {e}")))??
    } else {
        TextImages::new()
    };

    // Plan. A workspace in RAM holds the fetched assets by now.
    let budget = plan::Budget {
        limit: opts.limits.memory,
        cpus: opts.limits.cpus,
        ram_workspace: ws.ram_backed().then(|| ws.bytes()),
        copy: if opts.strict_decode { plan::copy::CopyPolicy::Decode } else { opts.copy },
    };
    // Packets are read only for the clips the plan could copy with them (a cut clip's decide
    // its smart cut; whole clips copied alike need none), or for every clip when re-encoding
    // does not fit the budget (copying might): each read is an ffprobe run.
    let first = plan::plan(spec, &assets, &texts, &budget);
    let wanted = match &first {
        Ok(plan) => plan.clips_wanting_packets(),
        Err(Error::MemoryBudget(_))
            if budget.copy == plan::copy::CopyPolicy::Auto
                && spec.output.format == spec::Container::Mp4
                && spec.output.video_codec() == spec::VideoCodec::Libx264 =>
        {
            (0..spec.main_track().clips.len()).collect()
        }
        Err(_) => Vec::new(),
    };
    let plan = if wanted.is_empty() {
        first?
    } else {
        read_packet_windows(spec, &mut assets, opts, cancel, &wanted).await?;
        plan::plan(spec, &assets, &texts, &budget)?
    };
    // The render's files, now that every clip's length and whether it is copied are known (the plan's estimate).
    check_room(ws, opts, plan.temp_bytes)?;
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
    Ok(Prepared { plan, texts, _sources: open })
}

/// Mark the start of a phase: the memory sampler counts from here, and the log says so.
fn enter(sampler: &Sampler, job_id: &str, phase: Phase) {
    sampler.phase(phase);
    tracing::info!(job_id, event = "phase", phase = phase.as_str(), "{phase}");
}

/// Room for the workspace: the workdir's free space and, when the workspace is in memory, the
/// memory limit less what the smallest FFmpeg run and cutlist itself take.
fn workspace_room(ws: &Workspace, opts: &JobOptions) -> (u64, String) {
    let free = ws.free_bytes().unwrap_or(u64::MAX);
    let place = format!("the workdir {}", opts.workdir.display());
    if !ws.ram_backed() {
        return (free, place);
    }
    let memory = opts.limits.memory.saturating_sub(plan::budget::SMALLEST_RUN + plan::budget::CUTLIST_OWN);
    if memory < free {
        (memory, format!("{place}, in memory under a limit of {} MiB,", opts.limits.memory >> 20))
    } else {
        (free, place)
    }
}

/// Refuse a job whose render would not fit in the workdir's free space.
fn check_room(ws: &Workspace, opts: &JobOptions, need: u64) -> Result<()> {
    let free = ws.free_bytes().unwrap_or(u64::MAX);
    if free < need {
        return Err(Error::Environment(format!(
            "the workdir {} has {} MiB free; this job needs about {} MiB there: free space or pass --workdir",
            opts.workdir.display(),
            free >> 20,
            need.div_ceil(1 << 20)
        )));
    }
    Ok(())
}

/// What the stages after planning leave for the result manifest.
struct Staged {
    facts: OutputFacts,
    encoder: EncoderSettings,
    clips: Vec<ClipTiming>,
    loudness: Option<LoudnessReport>,
    sidecars: Vec<String>,
    decode_errors: Vec<render::DecodeErrors>,
}

#[allow(clippy::too_many_arguments)]
async fn run_stages(
    job: &Opened,
    dest: &Destination,
    ws: &Workspace,
    opts: &JobOptions,
    deadline: Option<Deadline>,
    cancel: &CancellationToken,
    sampler: &Sampler,
    reporter: &mut Reporter,
) -> Result<Staged> {
    let (spec, base) = (&job.spec, &job.base);
    let id = spec.id.as_str();
    let Prepared { plan, texts, _sources } = prepare(job, ws, opts, cancel, sampler, reporter).await?;
    sampler.estimate(plan.encoder.estimate);

    enter(sampler, id, Phase::Render);
    let render::Rendered { decode_errors, loudness } =
        render::render(&plan, ws, &opts.tools, deadline, opts.strict_decode, cancel, |done, total, label| {
            reporter.update(Phase::Render, done, total, label)
        })
        .await?;
    if !decode_errors.is_empty() {
        let lines = decode_errors.iter().map(|d| d.lines).sum();
        let sources = decode_errors.iter().flat_map(|d| d.sources.clone()).collect();
        reporter.notify(Event::DecodeErrors { lines, sources });
    }

    enter(sampler, id, Phase::Publish);
    let rendered = ws.file(&plan.output);
    let facts = publish::verify(&opts.tools, &rendered, &plan.expected, cancel).await?;
    let loudness = match (&plan.loudness, loudness) {
        (Some(target), Some(l)) => {
            let report = LoudnessReport::new(target, &l);
            if let Some(warning) = &l.warning {
                tracing::warn!(
                    job_id = id,
                    event = "loudness_warning",
                    integrated = l.measured.integrated,
                    true_peak = l.measured.true_peak,
                    "{warning}"
                );
                reporter.notify(Event::LoudnessWarning {
                    target: target.integrated,
                    ceiling: target.true_peak,
                    integrated: report.integrated,
                    true_peak: report.true_peak,
                    message: warning.clone(),
                });
            }
            Some(report)
        }
        _ => None,
    };
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    if opts.keep_workspace {
        return Err(Error::Internal("--keep-workspace: rendered and verified, nothing published".into()));
    }
    enter(sampler, id, Phase::Upload);
    reporter.notify(Event::Uploading { output: dest.display(), bytes: facts.bytes });
    tracing::info!(job_id = id, event = "uploading", output = %dest.display(), bytes = facts.bytes, "publishing {}", dest.display());
    dest.put_file(&rendered, cancel).await?;
    let mut sidecars = write_sidecars(spec, &texts, dest).await?;
    for still in &plan.stills {
        let to = match still.kind.of(&spec.output).and_then(|s| s.path.as_ref()) {
            Some(p) => spec_destination(p, &format!("output.{}.path", still.kind.as_str()), base, opts)?,
            None => {
                let ext = Path::new(&still.name).extension().and_then(|e| e.to_str()).unwrap_or("jpg");
                dest.with_extension(&format!("{}.{ext}", still.kind.suffix()))
            }
        };
        to.put_file(&ws.file(&still.name), cancel).await?;
        sidecars.push(to.display());
    }
    Ok(Staged { facts, encoder: plan.encoder, clips: plan.clips, loudness, sidecars, decode_errors })
}
