//! Plan: the FFmpeg runs a job needs, as a pure function of the spec, the probes and the budget.
//!
//! Shape of every plan: one *segment* run per main-track clip (and per transition, and per
//! ~10 s chunk of a long clip where two runs go at once), each decoding only its own input,
//! trimming it frame-exactly, normalising it (rotation, fit, SAR, fps, pixel format, sample
//! rate, channel layout) and encoding it with the final video settings into MPEG-TS, with
//! its audio as exact-length PCM; then one *join* run that concatenates the segments by
//! stream copy and encodes the audio once. So at any moment one or two inputs are being
//! decoded per run, whatever the number of clips. Clips that need no pixel change skip the
//! segment run: the join copies their packets from the source (whole, or the run between
//! the keyframes inside a cut, its ends re-encoded: see [`copy`]).

pub mod budget;
pub mod copy;
pub mod graph;
pub mod mix;
pub mod names;

pub use budget::EncoderSettings;
pub use graph::check_vocabulary;
pub use names::encoder as encoder_name;

mod finish;
mod overlay;
mod segment;

use finish::{gif_steps, join_steps, still_steps};
pub use finish::{StillFile, StillKind};

use crate::probe::MediaInfo;
use crate::spec::timing::{self, Layout};
use crate::spec::{
    AudioCodec, Clip, Container, Loudness, Output, Preset, Rational, Spec, SpecError, ValidationErrors, VideoCodec,
};
use crate::text::TextImages;
use graph::Graph;
use segment::{ArgsExt, Edge, Part, Segment};
use serde::Serialize;
use std::path::PathBuf;

/// Most overlay items and captions tracks on screen in one run (each is an input and a blend).
pub const MAX_LAYERS: usize = 32;

/// A probed local input, for one clip.
#[derive(Debug, Clone)]
pub struct ClipMedia {
    pub path: PathBuf,
    pub info: MediaInfo,
    /// Video packets read for the windows clips use (stream copy decides from them).
    pub packets: Vec<crate::probe::PacketWindow>,
}

/// The probed local file of every source, by its address as the spec writes it.
pub type Assets = std::collections::HashMap<String, ClipMedia>;

/// Where each clip lands on the output timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipTiming {
    pub path: String,
    pub start_frame: u64,
    pub frames: u64,
    pub start: f64,
    pub duration: f64,
    /// `"copied"`, or `"encoded"` with the first reason a copy was ruled out (`because`).
    #[serde(flatten)]
    pub video: copy::ClipVideo,
}

/// A file the render step writes into the workspace before running a step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScriptFile {
    pub name: String,
    pub contents: Contents,
}

/// What a script file holds: a filtergraph (built by [`graph`]) or other text (concat
/// lists, subtitles).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Contents {
    Graph(Graph),
    Text(String),
}

impl ScriptFile {
    pub fn graph(name: impl Into<String>, graph: Graph) -> ScriptFile {
        ScriptFile { name: name.into(), contents: Contents::Graph(graph) }
    }

    pub fn text(name: impl Into<String>, text: String) -> ScriptFile {
        ScriptFile { name: name.into(), contents: Contents::Text(text) }
    }
}

/// An `ffconcat` list of workspace files, each shown for its duration (µs) when given: the
/// one writer of the concat lists the runs read. `framerate` (pictures only) opens each
/// picture at that rate, so the stream's time base is the output's frame and the durations
/// land on its grid (a picture's own 1/25 moved them by up to 20 ms); the run must read such
/// a list with `-safe 0`, which the `option` lines need: every name in it is ours.
pub(crate) fn ffconcat<'a>(
    entries: impl IntoIterator<Item = (&'a str, Option<i64>)>,
    framerate: Option<Rational>,
) -> String {
    let mut list = String::from("ffconcat version 1.0\n");
    for (file, duration) in entries {
        list.push_str(&workspace_file_line(file));
        if let Some(r) = framerate {
            list.push_str(&format!("option framerate {}/{}\n", r.num, r.den));
        }
        if let Some(us) = duration {
            list.push_str(&format!("duration {}.{:06}\n", us / 1_000_000, us % 1_000_000));
        }
    }
    list
}

/// `file 'NAME'` for a file cutlist wrote into the workspace: a plain name, nothing to quote.
fn workspace_file_line(name: &str) -> String {
    assert!(
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
        "a workspace file name: {name}"
    );
    format!("file '{name}'\n")
}

/// One entry of a list of the main track's pictures: a file cutlist wrote into the
/// workspace, or a source's packets (by its absolute path), from `inpoint` to before
/// `outpoint`, lasting `duration` on the output (seconds).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ListEntry {
    Workspace { name: String, duration: f64 },
    Source { path: PathBuf, inpoint: Option<f64>, outpoint: Option<f64>, duration: f64 },
}

/// An `ffconcat` list of the main track's pictures: workspace files and sources (stream
/// copy). With sources, only MP4 track 1 of every file is read (a source's sound is not read
/// here; opened, its AAC priming would start the whole list 21 ms before the first picture),
/// and the run reads the list with `-safe 0`: every path is one cutlist resolved (a local
/// source's open file, or a download in the workspace), quoted as the concat demuxer unquotes.
pub(crate) fn ffconcat_entries(entries: &[ListEntry]) -> String {
    let mut list = String::from("ffconcat version 1.0\n");
    let with_sources = entries.iter().any(|e| matches!(e, ListEntry::Source { .. }));
    if with_sources {
        list.push_str("stream\nexact_stream_id 1\n");
    }
    let us = |s: f64| format!("{:.6}", s.max(0.0));
    for e in entries {
        match e {
            ListEntry::Workspace { name, duration } => {
                list.push_str(&workspace_file_line(name));
                // Beside sources, each file's length as planned: an MP4's own is in ms.
                if with_sources {
                    list.push_str(&format!("duration {}\n", us(*duration)));
                }
            }
            ListEntry::Source { path, inpoint, outpoint, duration } => {
                let p = path.display().to_string();
                assert!(p.starts_with('/') && !p.contains(['\n', '\r']), "a resolved source path: {p}");
                list.push_str(&format!("file '{}'\n", p.replace('\'', r"'\''")));
                if let Some(t) = inpoint {
                    list.push_str(&format!("inpoint {}\n", us(*t)));
                }
                if let Some(t) = outpoint {
                    list.push_str(&format!("outpoint {}\n", us(*t)));
                }
                list.push_str(&format!("duration {}\n", us(*duration)));
            }
        }
    }
    list
}

/// One FFmpeg run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// What the run does, for progress and errors ("rendering clip timeline.tracks[0].clips[2]").
    pub label: String,
    /// Arguments after the program name; paths of intermediates are relative to the workspace.
    pub args: Vec<String>,
    pub files: Vec<ScriptFile>,
    /// Output frames this run produces (progress weight).
    pub frames: u64,
    /// Whether the run encodes video (else it only copies it or works on sound: a light run).
    pub encodes_video: bool,
    /// What the render must read from this run's stderr for later steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<Capture>,
    /// The main-track sources this run decodes: (JSON path of the field, address), for a
    /// report or a refusal that names them when their decoding fails.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub decodes: Vec<(String, String)>,
    /// A segment: it may run at the same time as the segments next to it (up to the plan's
    /// `encoder.concurrency`); every other run waits for all before it and runs alone.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub concurrent: bool,
}

/// Something a step measures that a later step needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Capture {
    /// The mix's EBU R128 measurement; a later graph's pending correction becomes [`mix::LoudnessCorrection::filters`].
    Loudness,
}

/// What the finished file must be.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expected {
    pub width: u32,
    pub height: u32,
    pub fps: Rational,
    pub frames: u64,
    /// As ffprobe names it: h264, hevc, vp9, gif.
    pub video_codec: &'static str,
    /// As ffprobe names it (aac, opus); `None`: no sound (GIF).
    pub audio_codec: Option<&'static str>,
    pub sample_rate: u32,
    pub channels: u8,
    pub samples: u64,
}

impl Expected {
    pub fn duration(&self) -> f64 {
        self.fps.seconds_at(self.frames)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub expected: Expected,
    pub encoder: EncoderSettings,
    pub clips: Vec<ClipTiming>,
    pub steps: Vec<Step>,
    /// The finished file in the workspace, before publishing.
    pub output: String,
    /// Pictures of the output made in the workspace (poster, thumbnail).
    pub stills: Vec<StillFile>,
    /// What the render writes into the workspace, estimated (its free space is checked against it).
    pub temp_bytes: u64,
    /// The loudness target the render fills into the second pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loudness: Option<Loudness>,
}

impl Plan {
    /// The main-track clips that could be copied (whole, or smart-cut) if the job read their
    /// packets: it reads them and plans again.
    pub fn clips_wanting_packets(&self) -> Vec<usize> {
        (self.clips.iter().enumerate())
            .filter(
                |(_, c)| matches!(&c.video, copy::ClipVideo::Encoded { because } if because == copy::PACKETS_NOT_READ),
            )
            .map(|(i, _)| i)
            .collect()
    }
}

/// Name of the finished output inside the workspace, by container.
fn output_name(c: Container) -> &'static str {
    match c {
        Container::Mp4 => "output.partial.mp4",
        Container::Webm => "output.partial.webm",
        Container::Gif => "output.partial.gif",
    }
}

/// How segments are encoded: the final codec (GIF: a near-lossless H.264 intermediate the
/// palette passes read), and the container segments are written in.
fn segment_encoding(
    o: &Output,
    enc: &EncoderSettings,
    matched: Option<&copy::Matched>,
) -> (Vec<String>, &'static str, &'static str) {
    let mut a: Vec<String> = Vec::new();
    let (preset, crf) = (o.video.preset.as_str(), o.video.crf);
    if let Some(m) = matched {
        // Beside copied pieces: coded as they are (profile, level, reordering, colour), in
        // MP4 on their time base, so the join takes every piece's packets alike.
        let bframes = match m.delay {
            0 => "bframes=0",
            1 => "bframes=3:b-pyramid=none",
            _ => "bframes=3:b-pyramid=normal",
        };
        a.arg2("-c:v", "libx264")
            .arg2("-preset", preset)
            .arg2("-crf", crf)
            .arg2("-pix_fmt", "yuv420p")
            .arg2("-threads", enc.threads)
            .arg2("-profile:v", m.profile)
            .arg2("-level:v", m.level)
            .arg2("-x264-params", format!("rc-lookahead={}:{bframes}:open-gop=0", enc.lookahead));
        for (flag, v) in [
            ("-color_primaries", &m.color_primaries),
            ("-color_trc", &m.color_trc),
            ("-colorspace", &m.colorspace),
            ("-color_range", &m.color_range),
        ] {
            if let Some(v) = v {
                a.arg2(flag, v);
            }
        }
        a.arg2("-video_track_timescale", m.timescale);
        return (a, "mp4", "mp4");
    }
    match (o.format, o.video_codec()) {
        (Container::Gif, _) => {
            a.arg2("-c:v", "libx264")
                .arg2("-preset", "veryfast")
                .arg2("-crf", 10)
                .arg2("-pix_fmt", "yuv420p")
                .arg2("-threads", enc.threads)
                .arg2("-x264-params", format!("rc-lookahead={}", enc.lookahead));
            (a, "mpegts", "ts")
        }
        (_, VideoCodec::Libx264) => {
            a.arg2("-c:v", "libx264")
                .arg2("-preset", preset)
                .arg2("-crf", crf)
                .arg2("-pix_fmt", "yuv420p")
                .arg2("-threads", enc.threads)
                .arg2("-x264-params", format!("rc-lookahead={}", enc.lookahead));
            (a, "mpegts", "ts")
        }
        (_, VideoCodec::Libx265) => {
            // x265 sizes its own thread pool from the host's cores: pin it.
            a.arg2("-c:v", "libx265").arg2("-preset", preset).arg2("-crf", crf).arg2("-pix_fmt", "yuv420p").arg2(
                "-x265-params",
                format!("pools={}:frame-threads=1:rc-lookahead={}:log-level=error", enc.threads, enc.lookahead.max(5)),
            );
            (a, "mpegts", "ts")
        }
        (_, VideoCodec::LibvpxVp9) => {
            let cpu_used = match o.video.preset {
                Preset::Ultrafast | Preset::Superfast | Preset::Veryfast => 5,
                Preset::Faster | Preset::Fast => 4,
                Preset::Medium => 3,
                Preset::Slow => 2,
            };
            a.arg2("-c:v", "libvpx-vp9")
                .arg2("-crf", crf)
                .arg2("-b:v", 0)
                .arg2("-deadline", "good")
                .arg2("-cpu-used", cpu_used)
                .arg2("-row-mt", 1)
                .arg2("-threads", enc.threads)
                .arg2("-lag-in-frames", enc.lookahead.min(25))
                .arg2("-pix_fmt", "yuv420p");
            (a, "webm", "webm")
        }
    }
}

/// The global options of every FFmpeg run.
fn global_args() -> Vec<String> {
    global_args_at("error")
}

fn global_args_at(loglevel: &str) -> Vec<String> {
    strings(&[
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        loglevel,
        "-progress",
        "pipe:1",
        "-stats_period",
        "0.5",
        "-y",
        "-filter_complex_threads",
        "1",
    ])
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn segment_name(i: usize, ext: &str) -> String {
    format!("seg_{i:04}.{ext}")
}

/// A piece of the main track that one segment run renders.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Piece {
    /// Clip-local frames [from, to) of one clip, alone on screen; the run makes the clip's
    /// sound from `from` up to `sound_to` (`from`: none, an earlier chunk's run makes it).
    Body { clip: usize, from: u64, to: u64, sound_to: u64 },
    /// The transition into clip `into`: the last frames of clip `into − 1` over its first,
    /// clip-local frames [0, to) of clip `into`. (Run with the clip's frames after it, a
    /// transition saved a start but cost CPU and the second run at once: measured on W1,
    /// one run at a time no faster, at 512 MiB 35 s where two at once take 28 s.)
    Transition { into: usize, to: u64 },
    /// Clip-local frames [from, to) of one clip, stream-copied from its source (no run).
    Copy { clip: usize, from: u64, to: u64 },
}

impl Piece {
    fn frames(&self) -> u64 {
        match *self {
            Piece::Body { from, to, .. } | Piece::Copy { from, to, .. } => to - from,
            Piece::Transition { to, .. } => to,
        }
    }
}

/// The pieces once copying is decided: a copied clip's body becomes its re-encoded head,
/// its copied range, its re-encoded tail.
fn split_copied(pieces: Vec<Piece>, copied: &[Option<copy::CopiedRange>]) -> Vec<Piece> {
    let mut out = Vec::with_capacity(pieces.len() + 2 * copied.len());
    for piece in pieces {
        match (piece, &piece_clip(&piece).and_then(|c| copied[c].as_ref())) {
            (Piece::Body { clip, .. }, Some(r)) => {
                let (a, b) = (r.head, r.head + r.frames);
                if a > 0 {
                    out.push(Piece::Body { clip, from: 0, to: a, sound_to: 0 });
                }
                out.push(Piece::Copy { clip, from: a, to: b });
                if r.tail > 0 {
                    out.push(Piece::Body { clip, from: b, to: b + r.tail, sound_to: b });
                }
            }
            (p, _) => out.push(p),
        }
    }
    out
}

fn piece_clip(p: &Piece) -> Option<usize> {
    match *p {
        Piece::Body { clip, .. } | Piece::Copy { clip, .. } => Some(clip),
        Piece::Transition { .. } => None,
    }
}

/// The pieces of a laid-out track, in output order: each clip's body between its
/// transitions, and each transition (empty bodies are left out).
fn pieces(layout: &Layout) -> Vec<Piece> {
    let mut out = Vec::with_capacity(2 * layout.clips.len());
    for (i, span) in layout.clips.iter().enumerate() {
        let d = layout.transitions[i];
        let to = span.frames - layout.transitions.get(i + 1).copied().unwrap_or(0);
        if d > 0 {
            out.push(Piece::Transition { into: i, to: d });
        }
        if to > d {
            out.push(Piece::Body { clip: i, from: d, to, sound_to: to });
        }
    }
    out
}

/// The run with the most overlay layers on screen: (its clip, the layers).
fn most_layers(pieces: &[Piece], overlays: &[overlay::Placed]) -> Option<(usize, usize)> {
    let mut at = 0;
    let mut most = None;
    for piece in pieces {
        let frames = piece.frames();
        let clip = match *piece {
            Piece::Transition { into, .. } => into,
            Piece::Body { clip, .. } | Piece::Copy { clip, .. } => clip,
        };
        let layers = overlays.iter().filter(|p| p.in_play(at, frames)).count();
        if most.is_none_or(|(_, n)| layers > n) {
            most = Some((clip, layers));
        }
        at += frames;
    }
    most
}

/// A clip's run longer than this is split into chunks of about [`CHUNK_SECONDS`] where one
/// run's encoder threads would leave half the cores idle and two runs fit at once: one long
/// clip is no longer one serial run. Not on 2 cores, where one run of 2 encoder and 2
/// decoder threads already keeps 1.8 busy: a 40 s 1080p clip took 24.4 s in chunks against
/// 24.6 s whole, for 6 % more CPU (each chunk costs a start, a seek, the encoder's fill).
const CHUNK_OVER_SECONDS: f64 = 15.0;
const CHUNK_SECONDS: f64 = 10.0;

/// The pieces with every body longer than [`CHUNK_OVER_SECONDS`] split on frame boundaries
/// into runs of about [`CHUNK_SECONDS`]: the first makes its own sound, the second the rest
/// of the clip's in one piece, so one sound seam falls between chunks, where both sides
/// continue (no fade).
fn chunked(pieces: &[Piece], fps: Rational) -> Vec<Piece> {
    let (over, chunk) = (fps.frame_at(CHUNK_OVER_SECONDS), fps.frame_at(CHUNK_SECONDS).max(1));
    let mut out = Vec::with_capacity(pieces.len());
    for &piece in pieces {
        let Piece::Body { clip, from, to, sound_to } = piece else {
            out.push(piece);
            continue;
        };
        let len = to - from;
        let n = (len as f64 / chunk as f64).round() as u64;
        // (A smart cut's re-encoded ends make no sound: they are short, and stay whole.)
        if len <= over || n < 2 || sound_to != to {
            out.push(piece);
            continue;
        }
        let at = |k: u64| from + len * k / n;
        out.push(Piece::Body { clip, from, to: at(1), sound_to: at(1) });
        for k in 1..n {
            out.push(Piece::Body { clip, from: at(k), to: at(k + 1), sound_to: if k == 1 { to } else { at(k) } });
        }
    }
    out
}

/// What the plan must fit into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Memory limit for the whole job, bytes.
    pub limit: u64,
    /// Cores the encoder may use.
    pub cpus: u32,
    /// When the workspace is in RAM: the bytes already in it (the fetched assets).
    pub ram_workspace: Option<u64>,
    /// Whether clips may be stream-copied (`--copy`).
    pub copy: copy::CopyPolicy,
}

#[cfg(test)]
impl Budget {
    /// A limit on a 2-core machine with the workspace on disk.
    pub fn of(limit: u64) -> Budget {
        Budget { limit, cpus: 2, ram_workspace: None, copy: copy::CopyPolicy::Auto }
    }
}

/// What each FFmpeg run of the plan holds besides its encoder, in the order of the runs
/// that encode video (one per piece), then one for the light runs (join, palette, stills).
fn run_loads(
    spec: &Spec,
    media: &[Option<&ClipMedia>],
    pieces: &[Piece],
    overlays: &[overlay::Placed],
    target: &budget::Target,
) -> Vec<budget::Load> {
    let o = &spec.output;
    let picture = |m: Option<&ClipMedia>| -> u64 {
        match m.and_then(|m| m.info.video.as_ref()) {
            Some(v) if v.still => budget::still(v.width, v.height),
            Some(v) => budget::decoder(&v.codec, v.reorder, v.width, v.height),
            None => 0,
        }
    };
    // One frame of a moving picture's decoder (what each more decoder thread holds a few of).
    let moving = |m: Option<&ClipMedia>| -> u64 {
        match m.and_then(|m| m.info.video.as_ref()) {
            Some(v) if !v.still => budget::frame_bytes(v.width as u64 * v.height as u64),
            _ => 0,
        }
    };
    let mut loads = Vec::with_capacity(pieces.len() + 1);
    let mut at = 0u64;
    for piece in pieces {
        let mut decoding = match *piece {
            Piece::Transition { into, .. } => moving(media[into - 1]) + moving(media[into]),
            Piece::Body { clip, .. } | Piece::Copy { clip, .. } => moving(media[clip]),
        };
        let (what, mut bytes, frames) = match *piece {
            Piece::Copy { from, to, .. } => {
                at += to - from;
                continue;
            }
            Piece::Body { clip, from, to, .. } => {
                (format!("timeline.tracks[0].clips[{clip}]"), picture(media[clip]), to - from)
            }
            Piece::Transition { into, to } => {
                // The blend queues frames of the first picture while the second's decoder
                // fills its reorder delay: measured 4–6 output frames (6–8 with B-frames), counted 6.
                let reorder = |m: Option<&ClipMedia>| m.and_then(|m| m.info.video.as_ref()).map_or(0, |v| v.reorder);
                let queued = 6 + reorder(media[into - 1]).max(reorder(media[into])) as u64;
                (
                    format!("the transition into timeline.tracks[0].clips[{into}]"),
                    picture(media[into - 1]) + picture(media[into]) + budget::blend(target, queued),
                    to,
                )
            }
        };
        for p in overlays.iter().filter(|p| p.in_play(at, frames)) {
            decoding += moving(p.media);
            bytes += budget::blend(target, 1)
                + match p.layer {
                    overlay::Layer::Item(crate::spec::OverlayItem::Video(_)) => picture(p.media),
                    overlay::Layer::Item(crate::spec::OverlayItem::Image(_)) => {
                        picture(p.media) + budget::overlay_picture(p.w, p.h)
                    }
                    _ => budget::overlay_picture(p.w, p.h),
                };
        }
        loads.push(budget::Load { what, encodes: true, bytes, decoding });
        at += frames;
    }
    // Runs that encode no video: the join mixes the sound tracks; the GIF's passes and the
    // poster and thumbnail decode what the segments or the join wrote; with a loudness
    // target the mix is measured, corrected in the join, and the output measured after it.
    let sound_tracks = spec.timeline.tracks.iter().filter(|t| matches!(t, crate::spec::Track::Audio(_))).count() as u64;
    let decodes_output = o.format == Container::Gif || o.poster.is_some() || o.thumbnail.is_some();
    let codec = if o.format == Container::Gif { "h264" } else { names::probe_name(o.video_codec()) };
    // What cutlist's own encodes hold back for B-frames (x264 and x265 at these presets: 2).
    let reorder = if codec == "vp9" { 0 } else { 2 };
    let light = sound_tracks * 2 * (1 << 20)
        + if decodes_output { budget::decoder(codec, reorder, o.width, o.height) } else { 0 }
        + if o.loudness.is_some() { budget::LOUDNESS } else { 0 };
    loads.push(budget::Load { what: "joining the segments".into(), encodes: false, bytes: light, decoding: 0 });
    loads
}

/// What a plan that copies every clip runs: the join, which also reads every clip's sound
/// (an audio decoder per clip, all open at once).
fn copied_loads(spec: &Spec, target: &budget::Target) -> Vec<budget::Load> {
    let clips = spec.main_track().clips.len() as u64;
    let mut loads = run_loads(spec, &[], &[], &[], target);
    for l in &mut loads {
        l.bytes += clips * budget::SOURCE_SOUND;
    }
    loads
}

/// Build the plan. Errors are spec errors found only now that the media is known
/// (a clip's `out` past the end of its media, a "video" without a video stream).
pub fn plan(spec: &Spec, assets: &Assets, texts: &TextImages, budget_in: &Budget) -> Result<Plan, crate::error::Error> {
    let track = spec.main_track();
    let media: Vec<Option<&ClipMedia>> = track.clips.iter().map(|c| c.src().and_then(|s| assets.get(s))).collect();
    let o = &spec.output;
    let fps = o.fps;
    let rate = o.audio.sample_rate;
    let mut errs = Vec::new();
    let err = |errs: &mut Vec<SpecError>, path: String, reason: String| errs.push(SpecError { path, reason });

    // Clip lengths on the frame grid, and the media checks that need the probe.
    let mut lengths = Vec::with_capacity(track.clips.len());
    for (i, clip) in track.clips.iter().enumerate() {
        let path = format!("timeline.tracks[0].clips[{i}]");
        let m = media[i];
        let frames = match clip {
            Clip::Color(c) => fps.frame_at(c.duration),
            Clip::Image(im) => {
                if m.is_none_or(|m| m.info.video.is_none()) {
                    err(&mut errs, format!("{path}.src"), "has no picture (no video stream)".into());
                }
                fps.frame_at(im.duration)
            }
            Clip::Video(v) => {
                let info = m.map(|m| &m.info);
                match info.and_then(|i| i.video.as_ref()) {
                    None => err(
                        &mut errs,
                        format!("{path}.src"),
                        "has no video stream; use an audio track for sound-only media".into(),
                    ),
                    Some(vs) if vs.still => err(
                        &mut errs,
                        format!("{path}.src"),
                        "is a still picture; use a clip of type \"image\" with a duration".into(),
                    ),
                    Some(_) => {}
                }
                let media_end = info.and_then(MediaInfo::video_duration);
                let declared = info.and_then(MediaInfo::declared_duration);
                let in_f = fps.frame_at(v.in_);
                let half = 0.5 / fps.as_f64();
                // The clip asks for frames the file declares but does not hold: truncated or broken.
                if let (Some(out), Some(end), Some(d)) = (v.out, media_end, declared) {
                    if out > end + half && out <= d + half {
                        return Err(crate::error::Error::AssetRejected {
                            path: format!("{path}.src"),
                            src: crate::fetch::redact(clip.src().unwrap_or_default()),
                            reason: format!(
                                "holds {end:.3} s of frames where it declares {d:.3} s: truncated or broken (the clip needs {out} s)"
                            ),
                        });
                    }
                }
                let out_f = match (v.out, media_end) {
                    (Some(out), Some(end)) if out > end + half => {
                        err(
                            &mut errs,
                            format!("{path}.out"),
                            format!("{out} s is past the end of the media ({end:.3} s)"),
                        );
                        fps.frame_at(out)
                    }
                    (Some(out), _) => fps.frame_at(out),
                    (None, Some(end)) => (end * fps.as_f64() + 1e-6).floor() as u64,
                    (None, None) => {
                        err(&mut errs, format!("{path}.out"), "the media's length is unknown: give out".into());
                        in_f
                    }
                };
                if v.in_ > 0.0 && media_end.is_some_and(|end| v.in_ >= end) {
                    err(&mut errs, format!("{path}.in"), format!("{} s is at or past the end of the media", v.in_));
                }
                v.output_frames(out_f.saturating_sub(in_f))
            }
        };
        if frames == 0 && errs.is_empty() {
            err(&mut errs, path.clone(), "is shorter than one frame".into());
        }
        lengths.push(frames);
    }
    let transitions = timing::transition_frames(&track.clips, fps);
    if errs.is_empty() {
        for (i, reason) in timing::check(&lengths, &transitions, fps) {
            err(&mut errs, format!("timeline.tracks[0].clips[{i}].transition.duration"), reason);
        }
    }
    if !errs.is_empty() {
        return Err(crate::error::Error::InvalidSpec(ValidationErrors(errs)));
    }
    let layout = timing::layout(&lengths, &transitions);
    // The limit on a timeline's length, now that every clip's real length is known.
    if fps.seconds_at(layout.total) > crate::spec::MAX_SECONDS {
        return Err(crate::error::Error::InvalidSpec(ValidationErrors(vec![SpecError {
            path: "timeline".into(),
            reason: format!(
                "the timeline lasts {:.0} s; the limit is {:.0} s",
                fps.seconds_at(layout.total),
                crate::spec::MAX_SECONDS
            ),
        }])));
    }
    let overlays = overlay::place(spec, assets, texts, layout.total)
        .map_err(|e| crate::error::Error::InvalidSpec(ValidationErrors(e)))?;

    // Each layer on screen is one more input and blend in its run: bound them.
    let pieces = pieces(&layout);
    if let Some((clip, layers)) = most_layers(&pieces, &overlays).filter(|(_, n)| *n > MAX_LAYERS) {
        let reason = format!(
            "{layers} overlays and captions are on screen at once during this clip; at most {MAX_LAYERS} may be"
        );
        return Err(crate::error::Error::InvalidSpec(ValidationErrors(vec![SpecError {
            path: format!("timeline.tracks[0].clips[{clip}]"),
            reason,
        }])));
    }
    let decision = copy::decide(spec, &media, &layout, &overlays, budget_in.copy);
    let copied = decision.all_copied();
    let pieces = if decision.any_copied() { split_copied(pieces, &decision.copied) } else { pieces };
    // Clips whose sound the join reads from the source (copied, whole or in part).
    let sound_from_source = decision.copied.iter().filter(|c| c.is_some()).count() as u64;
    let target = budget::Target::of(o);
    let loads_of = |pieces: &[Piece]| {
        if copied {
            return copied_loads(spec, &target);
        }
        let mut loads = run_loads(spec, &media, pieces, &overlays, &target);
        if let Some(light) = loads.last_mut() {
            light.bytes += sound_from_source * budget::SOURCE_SOUND;
        }
        loads
    };
    // What the render writes into the workspace: segments and the joined file; copied
    // pictures are bounded by their share of their sources' files; the encoded sound.
    let copied_bytes: u64 = decision
        .copied
        .iter()
        .zip(&media)
        .filter_map(|(r, m)| {
            let (r, m) = (r.as_ref()?, (*m)?);
            let of = m.info.video.as_ref().and_then(|v| v.frames).unwrap_or(r.frames).max(r.frames).max(1);
            Some((m.info.size as u128 * r.frames as u128 / of as u128) as u64 + (1 << 20))
        })
        .sum();
    let encoded_frames: u64 = pieces.iter().filter(|p| !matches!(p, Piece::Copy { .. })).map(Piece::frames).sum();
    let temp_bytes = if copied {
        let sources: u64 = media.iter().flatten().map(|m| m.info.size).sum();
        sources + o.audio.bitrate as u64 / 8 * (fps.seconds_at(layout.total).ceil() as u64 + 1)
    } else {
        budget::temp_bytes(o, encoded_frames)
            + copied_bytes
            + o.audio.bitrate as u64 / 8 * (fps.seconds_at(layout.total).ceil() as u64 + 1)
    };
    let workspace = match budget_in.ram_workspace {
        Some(already) => already + temp_bytes,
        None => 0,
    };
    let fit = |pieces: &[Piece]| budget::fit(&target, &loads_of(pieces), workspace, budget_in.limit, budget_in.cpus);
    let mut encoder = fit(&pieces).map_err(crate::error::Error::MemoryBudget)?;
    // Long clips in chunks, where one run's encoder threads leave half the cores idle and
    // two runs fit at once, each with as many encoder threads as without chunks.
    let chunks = chunked(&pieces, fps);
    let idle = budget_in.cpus >= 2 * encoder.threads;
    let pieces = match fit(&chunks) {
        Ok(e) if idle && chunks.len() > pieces.len() && e.concurrency > 1 && e.threads >= encoder.threads => {
            encoder = e;
            encoder.schedule += &format!(
                "; runs over {CHUNK_OVER_SECONDS} s split into chunks of ~{CHUNK_SECONDS} s ({} runs more)",
                chunks.len() - pieces.len()
            );
            chunks
        }
        _ => pieces,
    };
    // The text stage ran before any FFmpeg run, in cutlist itself: its peak counts too.
    if !texts.items.is_empty() || !texts.captions.is_empty() {
        encoder.estimate =
            encoder.estimate.max(budget::CUTLIST_OWN + budget::text_stage(o.width, o.height) + workspace);
    }

    let part = |clip: usize, from: u64, frames: u64, at: u64| Part {
        clip: &track.clips[clip],
        media: media[clip],
        from,
        frames,
        at,
    };
    let (seg_video, seg_format, seg_ext) = segment_encoding(o, &encoder, decision.in_band.as_ref());
    let mut steps = Vec::with_capacity(pieces.len() + 1);
    let mut at = 0u64;
    // The join's lists: the pictures piece by piece, the sound (a segment's PCM, or a copied
    // clip's own sound read whole from its source).
    let mut video = Vec::with_capacity(pieces.len());
    let mut sound = Vec::with_capacity(pieces.len());
    let source_entry = |clip: usize, range: &copy::CopiedRange| ListEntry::Source {
        path: media[clip].expect("a copied clip has media").path.clone(),
        // From its start (0) when whole: the demuxer would otherwise count from the file's first
        // packet of any stream (an AAC priming packet puts it ~21 ms early).
        inpoint: range.inpoint.or(Some(0.0)),
        outpoint: range.outpoint,
        duration: fps.seconds_at(range.frames),
    };
    let mut k = 0usize;
    for piece in &pieces {
        let frames = piece.frames();
        let from_source = piece_clip(piece).is_some_and(|c| decision.copied[c].is_some());
        let first_of_clip = match *piece {
            Piece::Body { from, .. } | Piece::Copy { from, .. } => from == 0,
            Piece::Transition { .. } => true,
        };
        if from_source && first_of_clip {
            sound.push(finish::SoundEntry::Clip(piece_clip(piece).unwrap_or(0)));
        }
        if let Piece::Copy { clip, .. } = *piece {
            video.push(source_entry(clip, decision.copied[clip].as_ref().expect("a copied piece's range")));
            at += frames;
            continue;
        }
        let decoder_threads = encoder.segment_decoder_threads.get(k).copied().unwrap_or(1);
        let mut seg = Segment::new(spec, format!("seg_{k:04}"), decoder_threads, global_args());
        let drawn = overlays.iter().any(|p| p.in_play(at, frames));
        let picture = if drawn { "base" } else { "v" };
        let label = match *piece {
            Piece::Body { clip, from, to, .. } if from_source => {
                // The re-encoded end of a smart-cut clip: pictures only (its sound is read whole).
                let p = part(clip, from, to - from, at);
                seg.video(&p, picture);
                let end = if from == 0 { "start" } else { "end" };
                format!("re-encoding the {end} of timeline.tracks[0].clips[{clip}] ({frames} frames, smart cut)")
            }
            Piece::Body { clip, from, to, sound_to } => {
                // A clip's own sound fades for 5 ms at a hard cut (never where it continues
                // into a transition or a chunk of the same clip).
                let edge = |open: bool| if open { Edge::Open } else { Edge::Cut };
                seg.video(&part(clip, from, to - from, at), picture);
                if sound_to > from {
                    let edges = (edge(from > 0), edge(sound_to < lengths[clip]));
                    seg.audio(&part(clip, from, sound_to - from, at), edges, "a");
                }
                let kind = track.clips[clip].kind();
                if (from, to) == (0, lengths[clip]) {
                    format!("rendering timeline.tracks[0].clips[{clip}] ({kind})")
                } else {
                    format!("rendering timeline.tracks[0].clips[{clip}] ({kind}), frames {from}–{to}")
                }
            }
            Piece::Transition { into, to } => {
                let d = transitions[into];
                let a = part(into - 1, lengths[into - 1] - d, d, at);
                let b = part(into, 0, to, at);
                let t = track.clips[into].transition().expect("a transition piece has a transition");
                let end = if to < lengths[into] { Edge::Open } else { Edge::Cut };
                seg.transition(&a, &b, t, (picture, "a"), end);
                format!("rendering the transition into timeline.tracks[0].clips[{into}] ({:?})", t.kind).to_lowercase()
            }
            Piece::Copy { .. } => unreachable!("copied pieces have no run"),
        };
        if drawn {
            seg.overlays(&overlays, at, frames, "base", "v");
        }
        let graph_name = segment_name(k, "graph");
        let mut args = seg.args;
        let mut files = seg.files;
        args.arg2("-filter_complex_script", &graph_name).arg2("-map", "[v]");
        args.extend(seg_video.clone());
        args.arg2("-f", seg_format).arg(segment_name(k, seg_ext));
        video.push(ListEntry::Workspace { name: segment_name(k, seg_ext), duration: fps.seconds_at(frames) });
        let makes_sound = match *piece {
            Piece::Body { from, sound_to, .. } => sound_to > from,
            _ => true,
        };
        if makes_sound && !from_source {
            args.arg2("-map", "[a]").arg2("-c:a", "pcm_s16le").arg2("-f", "wav").arg(segment_name(k, "wav"));
            sound.push(finish::SoundEntry::Segment(segment_name(k, "wav")));
        }
        let in_play = match *piece {
            Piece::Body { clip, .. } | Piece::Copy { clip, .. } => vec![clip],
            Piece::Transition { into, .. } => vec![into - 1, into],
        };
        let decodes = in_play
            .into_iter()
            .filter_map(|i| Some((format!("timeline.tracks[0].clips[{i}].src"), track.clips[i].src()?.to_string())))
            .collect();
        steps.push(Step {
            label,
            args,
            files: {
                files.push(ScriptFile::graph(graph_name, seg.graph));
                files
            },
            frames,
            encodes_video: true,
            capture: None,
            decodes,
            concurrent: true,
        });
        at += frames;
        k += 1;
    }
    let main = finish::Main { video, sound, in_band: decision.in_band.is_some() };
    debug_assert_eq!(at, layout.total);
    let total = layout.total;
    let clips = layout
        .clips
        .iter()
        .enumerate()
        .map(|(i, s)| ClipTiming {
            path: format!("timeline.tracks[0].clips[{i}]"),
            start_frame: s.start,
            frames: s.frames,
            start: fps.seconds_at(s.start),
            duration: fps.seconds_at(s.frames),
            video: decision.videos[i].clone(),
        })
        .collect();
    let output = output_name(o.format);
    if o.format == Container::Gif {
        steps.extend(gif_steps(k, seg_ext, total, output));
    } else {
        steps.extend(join_steps(spec, &layout, assets, texts, &encoder, &main, output)?);
    }
    let stills = still_steps(o, total, output, &mut steps);

    Ok(Plan {
        expected: Expected {
            width: o.width,
            height: o.height,
            fps,
            frames: total,
            video_codec: if o.format == Container::Gif { "gif" } else { names::probe_name(o.video_codec()) },
            audio_codec: o.audio_codec().map(|c| match c {
                AudioCodec::Aac => "aac",
                AudioCodec::Opus => "opus",
            }),
            sample_rate: rate,
            channels: o.audio.channels,
            samples: fps.sample_at(total, rate),
        },
        encoder,
        clips,
        steps,
        output: output.into(),
        stills,
        temp_bytes,
        loudness: o.loudness,
    })
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
