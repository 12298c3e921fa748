//! Stream copy and smart cut: which clips of the main track pass through without being
//! decoded and re-encoded, which are cut between keyframes (their partial groups of pictures
//! re-encoded to match, the rest copied), and, for each that cannot, the first reason why.
//! Pure, like the rest of the plan.
//!
//! A copied clip keeps the source's pictures bit for bit (its quality and bitrate: `crf` and
//! `preset` apply to re-encoded pieces only). Its frames go to the output as they are, so it
//! must already be what the output is: the same codec, size, square pixels, frame rate,
//! pixel format, and nothing drawn on it, no transition, no speed change.
//!
//! Two ways to join. Clips played whole and coded exactly alike (one set of parameter sets)
//! join as they are: one MP4 sample entry describes them all. Anything else — a clip cut
//! inside its source, a re-encoded piece beside copied ones, copied clips with different
//! parameter sets — joins with the parameter sets written into the stream before every
//! keyframe (an `avc3` sample entry): H.264 in MP4 only. Then every re-encoded piece is
//! encoded to match the copied ones (profile, level, reordering delay, time base, colour
//! description), each copied range starts on a keyframe of a closed group of pictures and
//! ends before the next one, and its packets are checked for count and timestamp continuity
//! (the render never decodes them).

use super::overlay::Placed;
use super::{names, ClipMedia};
use crate::probe::{Coding, PacketWindow, VideoStream};
use crate::spec::timing::Layout;
use crate::spec::{Clip, Container, Rational, Spec, VideoCodec};
use serde::Serialize;

/// Why a clip is re-encoded when the job has not read its packets (it reads them and plans
/// again: see [`super::Plan::clips_wanting_packets`]).
pub const PACKETS_NOT_READ: &str = "its packets were not read";

/// Whether stream copy may be used (`--copy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CopyPolicy {
    /// Copy the clips that allow it.
    #[default]
    Auto,
    /// Re-encode everything.
    Never,
    /// Re-encode everything: `--strict-decode` decodes every source to check it.
    #[value(skip)]
    Decode,
}

/// How a clip's pictures reach the output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "video")]
pub enum ClipVideo {
    /// Stream-copied from the source: whole, or cut on keyframes.
    Copied,
    /// Cut between keyframes: the partial groups of pictures at its ends re-encoded (these
    /// many frames at each end), every frame between copied.
    SmartCut { head_frames: u64, tail_frames: u64 },
    /// Decoded and re-encoded, for the first reason that rules out a copy.
    Encoded { because: String },
}

impl ClipVideo {
    fn encoded(because: impl Into<String>) -> ClipVideo {
        ClipVideo::Encoded { because: because.into() }
    }
}

/// The copied part of one clip: its clip-local frames `[head, head + frames)` are the
/// source's packets from the keyframe at `inpoint` (seconds) to before `outpoint` (a
/// decoding time, seconds; `None`: to the end of the file).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct CopiedRange {
    pub head: u64,
    pub frames: u64,
    pub tail: u64,
    pub inpoint: Option<f64>,
    pub outpoint: Option<f64>,
}

/// What every re-encoded piece matches when copied and re-encoded pieces share one stream.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Matched {
    /// x264's `-profile` (`high`, `main`, `baseline`).
    pub profile: &'static str,
    /// `level_idc` (40 = 4.0).
    pub level: i64,
    /// Frames between decoding and showing (x264: 0 no B-frames, 1 B-frames, 2 B-pyramid).
    pub delay: u32,
    /// The stream's time base is 1/`timescale`.
    pub timescale: u32,
    pub color_primaries: Option<String>,
    pub color_trc: Option<String>,
    pub colorspace: Option<String>,
    pub color_range: Option<String>,
}

/// The decision for the main track.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Decision {
    pub videos: Vec<ClipVideo>,
    /// Per clip, its copied range (copied and smart-cut clips).
    pub copied: Vec<Option<CopiedRange>>,
    /// Copied and re-encoded pieces in one stream, parameter sets in-band: what the
    /// re-encoded ones match. `None`: all copied whole and alike, or nothing copied.
    pub in_band: Option<Matched>,
}

impl Decision {
    /// Every clip copied whole, coded alike: the join alone.
    pub fn all_copied(&self) -> bool {
        self.in_band.is_none() && !self.videos.is_empty() && self.videos.iter().all(|v| *v == ClipVideo::Copied)
    }

    /// Some clip copied, whole or in part.
    pub fn any_copied(&self) -> bool {
        self.copied.iter().any(Option::is_some)
    }
}

/// A clip that passes every check on its own.
struct Candidate<'m> {
    stream: &'m VideoStream,
    /// Its packets, when read (H.264 sources of an MP4 output).
    window: Option<&'m PacketWindow>,
    /// Its first frame in the source and its frames (on the output's grid, which is the source's).
    in_frame: u64,
    frames: u64,
    whole: bool,
}

/// Whether copied and re-encoded pieces can share one stream for this output.
fn in_band_possible(spec: &Spec) -> bool {
    spec.output.format == Container::Mp4 && spec.output.video_codec() == VideoCodec::Libx264
}

/// The decision for every clip of the main track.
pub(super) fn decide(
    spec: &Spec,
    media: &[Option<&ClipMedia>],
    layout: &Layout,
    overlays: &[Placed],
    policy: CopyPolicy,
) -> Decision {
    let clips = &spec.main_track().clips;
    let n = clips.len();
    let alone: Vec<Result<Candidate, String>> =
        (0..n).map(|i| candidate(spec, i, media[i], layout, overlays, policy)).collect();
    let none = |videos: Vec<ClipVideo>| Decision { copied: vec![None; videos.len()], videos, in_band: None };

    // Every clip whole and coded alike: joined as they are.
    let codings: Vec<&Coding> = alone.iter().filter_map(|r| r.as_ref().ok()).map(|c| &c.stream.coding).collect();
    if codings.len() == n && alone.iter().flatten().all(|c| c.whole) && codings.iter().all(|c| *c == codings[0]) {
        let copied = alone
            .iter()
            .flatten()
            .map(|c| Some(CopiedRange { head: 0, frames: c.frames, tail: 0, inpoint: None, outpoint: None }))
            .collect();
        return Decision { videos: vec![ClipVideo::Copied; n], copied, in_band: None };
    }
    if !in_band_possible(spec) {
        // One sample entry: all copied whole and alike, or nothing copied.
        let first_refused = alone.iter().position(Result::is_err);
        let first = codings.first().copied();
        return none(
            alone
                .iter()
                .map(|r| match r {
                    Err(reason) => ClipVideo::encoded(reason.clone()),
                    Ok(c) if !c.whole => {
                        ClipVideo::encoded("it is cut inside its source, and smart cut is built for H.264 in MP4")
                    }
                    Ok(_) if first_refused.is_some() => ClipVideo::encoded(format!(
                        "clips[{}] is re-encoded, and copied and re-encoded pieces share a stream only in H.264 MP4",
                        first_refused.unwrap_or(0)
                    )),
                    Ok(c) => ClipVideo::encoded(format!(
                        "it is coded differently from the first clip ({}), and one stream holds one coding",
                        differs(first.unwrap_or(&c.stream.coding), &c.stream.coding)
                    )),
                })
                .collect(),
        );
    }

    // Copied and re-encoded pieces in one stream, parameter sets in-band.
    let fps = spec.output.fps;
    let analysed: Vec<Result<(&Candidate, Shape, CopiedRange), String>> = alone
        .iter()
        .map(|r| {
            let c = r.as_ref().map_err(Clone::clone)?;
            let (shape, range) = analyse(c, fps)?;
            Ok((c, shape, range))
        })
        .collect();
    // The re-encoded pieces match the coding most copied frames share (the first such clip).
    let mut frames_by_shape: Vec<(&Shape, u64, usize)> = Vec::new();
    for (i, (_, shape, range)) in analysed.iter().enumerate().filter_map(|(i, r)| Some((i, r.as_ref().ok()?))) {
        match frames_by_shape.iter_mut().find(|(s, ..)| *s == shape) {
            Some(entry) => entry.1 += range.frames,
            None => frames_by_shape.push((shape, range.frames, i)),
        }
    }
    let Some(&(shape, _, first)) = frames_by_shape.iter().max_by_key(|(_, frames, i)| (*frames, std::cmp::Reverse(*i)))
    else {
        return none(
            analysed.iter().map(|r| ClipVideo::encoded(r.as_ref().err().cloned().unwrap_or_default())).collect(),
        );
    };
    let shape = shape.clone();
    let mut videos = Vec::with_capacity(n);
    let mut copied = Vec::with_capacity(n);
    for r in &analysed {
        match r {
            Err(reason) => {
                videos.push(ClipVideo::encoded(reason.clone()));
                copied.push(None);
            }
            Ok((_, other, _)) if *other != shape => {
                videos.push(ClipVideo::encoded(format!(
                    "it is coded differently from clips[{first}] ({}), which is copied and which the re-encoded pieces match",
                    shape.differs(other)
                )));
                copied.push(None);
            }
            Ok((_, _, range)) => {
                videos.push(if range.head == 0 && range.tail == 0 {
                    ClipVideo::Copied
                } else {
                    ClipVideo::SmartCut { head_frames: range.head, tail_frames: range.tail }
                });
                copied.push(Some(range.clone()));
            }
        }
    }
    let stream = analysed[first].as_ref().map(|(c, ..)| c.stream).expect("the reference clip was analysed");
    // As ffprobe names them, which FFmpeg's options take; nothing else is passed on.
    let known = |v: &Option<String>| {
        v.clone().filter(|v| {
            v != "unknown"
                && v != "reserved"
                && !v.is_empty()
                && v.len() < 24
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    };
    let in_band = Matched {
        profile: shape.x264_profile,
        level: shape.level,
        delay: shape.delay,
        timescale: shape.timescale,
        color_primaries: known(&stream.color_primaries),
        color_trc: known(&stream.color_transfer),
        colorspace: known(&stream.color_space),
        color_range: known(&stream.coding.color_range),
    };
    Decision { videos, copied, in_band: Some(in_band) }
}

/// What the re-encoded pieces of an in-band stream must share with every copied clip.
#[derive(Debug, Clone, PartialEq)]
struct Shape {
    x264_profile: &'static str,
    level: i64,
    delay: u32,
    timescale: u32,
}

impl Shape {
    fn differs(&self, b: &Shape) -> String {
        if self.x264_profile != b.x264_profile {
            format!("profile {} against {}", b.x264_profile, self.x264_profile)
        } else if self.level != b.level {
            format!("level {} against {}", b.level, self.level)
        } else if self.delay != b.delay {
            format!("pictures reordered by {} frames against {}", b.delay, self.delay)
        } else {
            format!("time base 1/{} against 1/{}", b.timescale, self.timescale)
        }
    }
}

/// A candidate's shape and its copied range, or why it cannot share an in-band stream.
fn analyse(c: &Candidate, fps: Rational) -> Result<(Shape, CopiedRange), String> {
    let coding = &c.stream.coding;
    let x264_profile = match coding.profile.as_deref() {
        Some("High") => "high",
        Some("Main") => "main",
        Some("Constrained Baseline" | "Baseline") => "baseline",
        Some(p) => return Err(format!("its profile ({p}) is not one the re-encoded pieces can match")),
        None => return Err("its profile is unknown".into()),
    };
    let Some(level) = coding.level.filter(|l| (9..=62).contains(l)) else {
        return Err("its level is unknown".into());
    };
    let Some(window) = c.window else {
        return Err(PACKETS_NOT_READ.into());
    };
    let tb = window.time_base;
    if tb.num != 1 {
        return Err(format!("its time base ({tb}) is not 1/n"));
    }
    let (num, den) = (tb.num as u64 * fps.num as u64, tb.den as u64 * fps.den as u64);
    if den % num != 0 {
        return Err(format!("its time base ({tb}) does not hold a whole frame ({fps} fps)"));
    }
    let tick = (den / num) as i64;
    let range = if c.whole {
        CopiedRange { head: 0, frames: c.frames, tail: 0, inpoint: None, outpoint: None }
    } else {
        smart_cut(window, tick, c.in_frame, c.frames, c.stream.frames)?
    };
    let first = window.packets.first().ok_or("its source has no video packet there")?;
    let start = if c.whole { first } else { key_at(window, tick, c.in_frame + range.head).unwrap_or(first) };
    let delay = start.pts - start.dts;
    if delay < 0 || delay % tick != 0 || delay / tick > 2 {
        return Err(format!(
            "its pictures are reordered by {:.2} frames; the re-encoded ends can match 0, 1 or 2",
            delay as f64 / tick as f64
        ));
    }
    let delay = (delay / tick) as u32;
    if x264_profile == "baseline" && delay > 0 {
        return Err("it is Baseline with reordered pictures".into());
    }
    Ok((Shape { x264_profile, level, delay, timescale: tb.den }, range))
}

/// The keyframe packet shown at source frame `frame`.
fn key_at(w: &PacketWindow, tick: i64, frame: u64) -> Option<&crate::probe::Packet> {
    w.packets.iter().find(|p| p.key && p.pts == frame as i64 * tick)
}

/// Smart cut of source frames `[in_frame, in_frame + frames)`: copy from the first keyframe
/// at or after its start to the last keyframe at or before its end (or the end of the file),
/// when the packets between are exactly those frames, closed, with even decoding times.
fn smart_cut(
    w: &PacketWindow,
    tick: i64,
    in_frame: u64,
    frames: u64,
    source_frames: Option<u64>,
) -> Result<CopiedRange, String> {
    let p = &w.packets;
    let out_frame = in_frame + frames;
    let secs = |ts: i64| ts as f64 * w.time_base.num as f64 / w.time_base.den as f64;
    let frame_of = |pts: i64| (pts >= 0 && pts % tick == 0).then_some((pts / tick) as u64);
    let keys: Vec<(usize, u64)> =
        p.iter().enumerate().filter(|(_, q)| q.key).filter_map(|(i, q)| Some((i, frame_of(q.pts)?))).collect();
    let no_group = || {
        let at: Vec<String> = keys.iter().take(8).map(|(_, f)| format!("{:.3}", secs(*f as i64 * tick))).collect();
        format!("no whole group of pictures lies inside its cut (keyframes at {} s)", at.join(", "))
    };
    let &(first_i, first_f) = keys.iter().find(|(_, f)| *f >= in_frame && *f < out_frame).ok_or_else(no_group)?;
    // Where the copy ends: the end of the file, or the last keyframe inside the cut.
    let to_end = source_frames == Some(out_frame);
    let end = if to_end {
        None
    } else {
        let &(i, f) = keys.iter().rev().find(|(_, f)| *f > first_f && *f <= out_frame).ok_or_else(no_group)?;
        Some((i, f))
    };
    let end_f = end.map_or(out_frame, |(_, f)| f);
    if end_f <= first_f {
        return Err(no_group());
    }
    let stop = end.map_or(p.len(), |(i, _)| i);
    let range = &p[first_i..stop];
    // Open groups: a picture decoded after a keyframe but shown before it.
    for (i, k) in p.iter().enumerate().filter(|(i, q)| q.key && *i >= first_i && *i <= stop.min(p.len() - 1)) {
        let next_key = p[i + 1..].iter().position(|q| q.key).map_or(p.len(), |n| i + 1 + n);
        if p[i + 1..next_key].iter().any(|q| q.pts < k.pts) {
            return Err(format!(
                "its group of pictures at {:.3} s is open (pictures shown before its keyframe depend on it)",
                secs(k.pts)
            ));
        }
    }
    // The copied packets are exactly the frames between, decoded at even steps.
    let mut shown: Vec<Option<u64>> = range.iter().map(|q| frame_of(q.pts)).collect();
    shown.sort_unstable();
    let expected: Vec<Option<u64>> = (first_f..end_f).map(Some).collect();
    let even = range.windows(2).all(|q| q[1].dts - q[0].dts == tick)
        && end.is_none_or(|(i, _)| p[i].dts - p[i - 1].dts == tick);
    if shown != expected || !even {
        return Err(format!(
            "its packets from {:.3} s to {:.3} s are not one continuous run of its frames",
            secs(first_f as i64 * tick),
            secs(end_f as i64 * tick)
        ));
    }
    if to_end && source_frames.is_some_and(|n| end_f != n) {
        return Err("its packets to the end of the file do not match its frame count".into());
    }
    Ok(CopiedRange {
        head: first_f - in_frame,
        frames: end_f - first_f,
        tail: out_frame - end_f,
        inpoint: Some(secs(p[first_i].pts)),
        // Half a frame before the keyframe's decoding time: its group's packets all come
        // before it in decoding order, and none of the next group passes.
        outpoint: end.map(|(i, _)| secs(p[i].dts) - secs(tick) / 2.0),
    })
}

/// What differs between two codings, in words.
fn differs(a: &Coding, b: &Coding) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    if a.profile != b.profile {
        format!("profile {} against {}", opt(&b.profile), opt(&a.profile))
    } else if a.level != b.level {
        format!("level {:?} against {:?}", b.level, a.level)
    } else if a.time_base != b.time_base {
        format!("time base {} against {}", opt(&b.time_base), opt(&a.time_base))
    } else if a.index != b.index {
        format!("its picture is stream {} of its file, the first clip's stream {}", b.index, a.index)
    } else if a.extradata != b.extradata {
        "other parameter sets (SPS/PPS)".into()
    } else {
        "colour range or field order".into()
    }
}

/// Whether clip `i` alone could be copied (whole or smart-cut), or the first reason it cannot.
fn candidate<'m>(
    spec: &Spec,
    i: usize,
    media: Option<&'m ClipMedia>,
    layout: &Layout,
    overlays: &[Placed],
    policy: CopyPolicy,
) -> Result<Candidate<'m>, String> {
    let o = &spec.output;
    match policy {
        CopyPolicy::Never => return Err("stream copy is off (--copy never)".into()),
        CopyPolicy::Decode => return Err("--strict-decode decodes every source".into()),
        CopyPolicy::Auto => {}
    }
    if o.format == Container::Gif {
        return Err("a GIF is re-encoded".into());
    }
    let v = match &spec.main_track().clips[i] {
        Clip::Video(v) => v,
        Clip::Image(_) => return Err("an image clip is drawn".into()),
        Clip::Color(_) => return Err("a colour clip is drawn".into()),
    };
    let span = layout.clips[i];
    if layout.transitions[i] > 0 || layout.transitions.get(i + 1).is_some_and(|t| *t > 0) {
        return Err("a transition blends it with its neighbour".into());
    }
    if overlays.iter().any(|p| p.in_play(span.start, span.frames)) {
        return Err("an overlay or caption is drawn over it".into());
    }
    if v.speed != 1.0 {
        return Err(format!("its speed changes ({}×)", v.speed));
    }
    let Some(vs) = media.and_then(|m| m.info.video.as_ref()) else {
        return Err("its media has no picture".into());
    };
    let want = names::probe_name(o.video_codec());
    if vs.codec != want {
        return Err(format!("codec differs: the source is {}, the output {want}", vs.codec));
    }
    if (vs.width, vs.height) != (o.width, o.height) {
        return Err(format!("size differs: {}×{}, the output {}×{}", vs.width, vs.height, o.width, o.height));
    }
    if vs.sar.0 != vs.sar.1 {
        return Err(format!("its pixels are not square (SAR {}:{})", vs.sar.0, vs.sar.1));
    }
    if vs.rotation != 0 {
        return Err(format!("it is shown rotated by {}°", vs.rotation));
    }
    if vs.fps != Some(o.fps) || !vs.coding.constant_rate {
        let fps = vs.fps.map(|f| f.to_string()).unwrap_or_else(|| "unknown".into());
        return Err(format!("frame rate differs: {fps}{}, the output {}", vs_rate_note(vs), o.fps));
    }
    if vs.pix_fmt != "yuv420p" {
        return Err(format!("pixel format differs: {}, the output yuv420p", vs.pix_fmt));
    }
    if vs.is_hdr() {
        return Err("it is HDR, tone-mapped for the output".into());
    }
    if vs.coding.field_order.as_deref().is_some_and(|f| f != "progressive") {
        return Err("it is interlaced".into());
    }
    if vs.coding.id != Some(1) {
        let id = vs.coding.id.map_or("without a track ID".to_string(), |id| format!("track {id}"));
        return Err(format!("its picture is {id} of its file; pictures are copied from track 1"));
    }
    if vs.coding.extradata.is_none() {
        return Err("its parameter sets are unknown".into());
    }
    if vs.coding.start_time.is_none_or(|t| t.abs() > 0.5 / o.fps.as_f64()) {
        return Err("its first frame is not at its start".into());
    }
    let fps = o.fps;
    let in_frame = fps.frame_at(v.in_);
    let whole = in_frame == 0 && vs.frames == Some(span.frames);
    if !whole && vs.frames.is_some_and(|n| in_frame + span.frames > n) {
        let n = vs.frames.unwrap_or(0);
        return Err(format!("its {n} frames do not fill its {} on the output's grid", span.frames));
    }
    let window = media.and_then(|m| m.packets.iter().find(|w| w.from == v.in_ && w.to == v.out));
    Ok(Candidate { stream: vs, window, in_frame, frames: span.frames, whole })
}

fn vs_rate_note(vs: &crate::probe::VideoStream) -> &'static str {
    if vs.coding.constant_rate {
        ""
    } else {
        " (variable)"
    }
}
