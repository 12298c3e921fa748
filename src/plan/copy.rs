//! Stream copy: which clips of the main track pass through without being decoded and
//! re-encoded, and, for each that cannot, the first reason why. Pure, like the rest of the plan.
//!
//! A copied clip keeps the source's pictures bit for bit (its quality and bitrate: `crf` and
//! `preset` apply to re-encoded pieces only). Its frames go to the output as they are, so it
//! must already be what the output is: the same codec, size, square pixels, frame rate,
//! pixel format, and nothing drawn on it, no transition, no speed change, played whole. One
//! MP4 sample entry holds one set of parameter sets, so copied clips join only with clips
//! coded exactly alike, and (until smart cut lands) not with re-encoded pieces: the plan
//! copies the whole main track or none of it.

use super::overlay::Placed;
use super::{names, ClipMedia};
use crate::probe::Coding;
use crate::spec::timing::Layout;
use crate::spec::{Clip, Container, Spec};
use serde::Serialize;

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
#[serde(rename_all = "lowercase", tag = "video", content = "because")]
pub enum ClipVideo {
    /// Stream-copied from the source.
    Copied,
    /// Decoded and re-encoded, for the first reason that rules out a copy.
    Encoded(String),
}

/// The decision for every clip of the main track: all copied, or none.
pub(super) fn decide(
    spec: &Spec,
    media: &[Option<&ClipMedia>],
    layout: &Layout,
    overlays: &[Placed],
    policy: CopyPolicy,
) -> Vec<ClipVideo> {
    let clips = &spec.main_track().clips;
    let alone: Vec<Result<&Coding, String>> =
        (0..clips.len()).map(|i| copyable(spec, i, media[i], layout, overlays, policy)).collect();
    // The whole track joins by stream copy only if every clip can and all are coded alike.
    let first_refused = alone.iter().position(Result::is_err);
    let first_coding = alone.iter().find_map(|r| r.as_ref().ok()).copied();
    alone
        .iter()
        .map(|r| match r {
            Err(reason) => ClipVideo::Encoded(reason.clone()),
            Ok(_) if first_refused.is_some() => ClipVideo::Encoded(format!(
                "clips[{}] is re-encoded, and copied and re-encoded pieces do not join in one stream yet",
                first_refused.unwrap_or(0)
            )),
            Ok(c) => match first_coding.filter(|f| f != c) {
                Some(f) => ClipVideo::Encoded(format!(
                    "it is coded differently from the first clip ({}), and one stream holds one coding",
                    differs(f, c)
                )),
                None => ClipVideo::Copied,
            },
        })
        .collect()
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

/// Whether clip `i` alone could be copied: its coding, or the first reason it cannot.
fn copyable<'m>(
    spec: &Spec,
    i: usize,
    media: Option<&'m ClipMedia>,
    layout: &Layout,
    overlays: &[Placed],
    policy: CopyPolicy,
) -> Result<&'m Coding, String> {
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
    if vs.coding.extradata.is_none() {
        return Err("its parameter sets are unknown".into());
    }
    if vs.coding.start_time.is_none_or(|t| t.abs() > 0.5 / o.fps.as_f64()) {
        return Err("its first frame is not at its start".into());
    }
    let fps = o.fps;
    let whole = v.in_ == 0.0 && v.out.is_none_or(|out| vs.frames.is_some_and(|n| fps.frame_at(out) >= n));
    if !whole {
        return Err("it is cut inside its source (smart cut is not built yet)".into());
    }
    if vs.frames != Some(span.frames) {
        let n = vs.frames.map(|n| n.to_string()).unwrap_or_else(|| "an unknown number of".into());
        return Err(format!("its {n} frames do not fill its {} on the output's grid", span.frames));
    }
    Ok(&vs.coding)
}

fn vs_rate_note(vs: &crate::probe::VideoStream) -> &'static str {
    if vs.coding.constant_rate {
        ""
    } else {
        " (variable)"
    }
}
