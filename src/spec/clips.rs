//! The main track: clips (video pieces, stills with Ken Burns motion, solid colours), how
//! they fit the frame, and the transitions between them; and their checks.

use super::validate::*;
use super::*;
use serde_json::Value;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VideoTrack {
    pub clips: Vec<Clip>,
}

/// One item of the main track.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Clip {
    Video(VideoClip),
    Image(ImageClip),
    Color(ColorClip),
}

impl Clip {
    pub fn src(&self) -> Option<&str> {
        match self {
            Clip::Video(c) => Some(&c.src),
            Clip::Image(c) => Some(&c.src),
            Clip::Color(_) => None,
        }
    }

    /// The transition into this clip from the previous one, if not a plain cut.
    pub fn transition(&self) -> Option<&Transition> {
        let t = match self {
            Clip::Video(c) => c.transition.as_ref(),
            Clip::Image(c) => c.transition.as_ref(),
            Clip::Color(c) => c.transition.as_ref(),
        };
        t.filter(|t| t.kind != TransitionKind::Cut)
    }

    /// The clip's length in output frames where the spec alone tells it (a video clip
    /// without `out` ends where its media ends: known only after probing).
    pub fn frames(&self, fps: Rational) -> Option<u64> {
        match self {
            Clip::Video(v) => v.out.map(|o| v.output_frames(fps.frame_at(o).saturating_sub(fps.frame_at(v.in_)))),
            Clip::Image(i) => Some(fps.frame_at(i.duration)),
            Clip::Color(c) => Some(fps.frame_at(c.duration)),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Clip::Video(_) => "video",
            Clip::Image(_) => "image",
            Clip::Color(_) => "color",
        }
    }
}

/// A piece of a video file, [in, out) in the file's own time.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VideoClip {
    /// An `http(s)://` URL, an `s3://`, `gs://` or `az://` object, or a local path (relative to the spec).
    pub src: String,
    /// Start in the source, seconds; snaps to the output frame grid.
    #[serde(rename = "in", default)]
    pub in_: f64,
    /// End in the source, seconds (exclusive); snaps to the output frame grid. Absent: the end of the media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out: Option<f64>,
    #[serde(default)]
    pub fit: Fit,
    /// Gain of the clip's own audio: linear (0–10, 1 = unchanged) or decibels (`"-6dB"`).
    #[serde(default)]
    pub volume: Gain,
    /// Replace the clip's own audio with silence.
    #[serde(default)]
    pub mute: bool,
    /// Playback speed, 0.25–4 (2 = twice as fast, half as long); the sound keeps its pitch.
    #[serde(default = "one")]
    pub speed: f64,
    /// How this clip enters from the previous one (default: a cut).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition: Option<Transition>,
}

impl VideoClip {
    /// Output frames for `source_frames` frames of source (on the output grid) at this clip's speed.
    pub fn output_frames(&self, source_frames: u64) -> u64 {
        (source_frames as f64 / self.speed).round() as u64
    }
}

/// A still image shown for `duration` seconds.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageClip {
    /// An `http(s)://` URL, an `s3://`, `gs://` or `az://` object, or a local path (relative to
    /// the spec). JPEG, PNG, WebP, GIF (first frame), BMP, TIFF.
    pub src: String,
    /// Seconds; snaps to the output frame grid.
    pub duration: f64,
    #[serde(default)]
    pub fit: Fit,
    /// Slow pan and zoom over the still (Ken Burns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motion: Option<Motion>,
    /// How this clip enters from the previous one (default: a cut).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition: Option<Transition>,
}

/// Ken Burns motion: the view moves from `from` to `to` over the clip, or as a preset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Motion {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<MotionPreset>,
    /// How far a preset zooms or pans: the zoom grows by this fraction (0.05–2).
    #[serde(default = "default_motion_amount")]
    pub amount: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<View>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<View>,
    #[serde(default)]
    pub easing: Easing,
}

/// What the frame shows of the fitted picture: its centre (fractions of the picture) and zoom.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct View {
    #[serde(default = "half")]
    pub x: f64,
    #[serde(default = "half")]
    pub y: f64,
    /// 1 shows the whole fitted picture; 2 a quarter of it. 1–3.
    #[serde(default = "one")]
    pub zoom: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MotionPreset {
    ZoomIn,
    ZoomOut,
    PanLeft,
    PanRight,
    PanUp,
    PanDown,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Easing {
    #[default]
    Linear,
    EaseInOut,
}

impl Motion {
    /// The start and end views, presets resolved, centres kept so the view never leaves the picture.
    pub fn views(&self) -> (View, View) {
        let z = 1.0 + self.amount;
        let m = 0.5 / z; // half the view, as a fraction of the picture
        let c = |x: f64, y: f64, zoom: f64| View { x, y, zoom };
        let (a, b) = match self.preset {
            Some(MotionPreset::ZoomIn) => (c(0.5, 0.5, 1.0), c(0.5, 0.5, z)),
            Some(MotionPreset::ZoomOut) => (c(0.5, 0.5, z), c(0.5, 0.5, 1.0)),
            Some(MotionPreset::PanLeft) => (c(1.0 - m, 0.5, z), c(m, 0.5, z)),
            Some(MotionPreset::PanRight) => (c(m, 0.5, z), c(1.0 - m, 0.5, z)),
            Some(MotionPreset::PanUp) => (c(0.5, 1.0 - m, z), c(0.5, m, z)),
            Some(MotionPreset::PanDown) => (c(0.5, m, z), c(0.5, 1.0 - m, z)),
            None => (self.from.unwrap_or(c(0.5, 0.5, 1.0)), self.to.unwrap_or(c(0.5, 0.5, 1.0))),
        };
        let keep = |v: View| {
            let m = 0.5 / v.zoom;
            View { x: v.x.clamp(m, 1.0 - m), y: v.y.clamp(m, 1.0 - m), zoom: v.zoom }
        };
        (keep(a), keep(b))
    }
}

fn half() -> f64 {
    0.5
}

fn default_motion_amount() -> f64 {
    0.2
}

/// A solid colour for `duration` seconds.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColorClip {
    pub color: Color,
    /// Seconds; snaps to the output frame grid.
    pub duration: f64,
    /// How this clip enters from the previous one (default: a cut).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition: Option<Transition>,
}

/// How a clip enters from the previous one. Every transition but `cut` *overlaps* the two
/// clips by `duration`: the incoming clip starts `duration` before the outgoing one ends,
/// so each transition shortens the timeline by its duration (see docs/spec.md).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    #[serde(rename = "type")]
    pub kind: TransitionKind,
    /// Seconds; snaps to the output frame grid. Ignored for `cut`.
    #[serde(default)]
    pub duration: f64,
    /// The colour `fade` passes through (default black).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<Color>,
}

/// The kinds of transition. `crossfade` (alias `dissolve`) blends the two pictures; `fade`
/// goes to a colour over the first half and comes from it over the second; the rest are
/// FFmpeg `xfade` patterns of the same name. The clips' audio crossfades over the same span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TransitionKind {
    Cut,
    Fade,
    #[serde(alias = "dissolve")]
    Crossfade,
    Wipeleft,
    Wiperight,
    Wipeup,
    Wipedown,
    Slideleft,
    Slideright,
    Slideup,
    Slidedown,
    Smoothleft,
    Smoothright,
    Smoothup,
    Smoothdown,
    Circleopen,
    Circleclose,
    Circlecrop,
    Rectcrop,
    Radial,
    Horzopen,
    Horzclose,
    Vertopen,
    Vertclose,
    Diagtl,
    Diagtr,
    Diagbl,
    Diagbr,
    Pixelize,
    Zoomin,
}

/// How a picture whose shape differs from the output's fills the frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Fit {
    /// Scale to cover the whole frame, cropping the overflow (centred).
    #[default]
    Cover,
    /// Scale to fit inside the frame, with bars in the background colour.
    Contain,
    /// Stretch to the frame, ignoring the aspect ratio.
    Fill,
}

pub(super) fn read_clip(v: &Value, path: &str, errs: &mut Errors) -> Option<Clip> {
    let (tag, rest) = untag(v, path, &["video", "image", "color"], errs)?;
    match tag.as_str() {
        "video" => read(rest, path, errs).map(Clip::Video),
        "image" => read(rest, path, errs).map(Clip::Image),
        _ => read(rest, path, errs).map(Clip::Color),
    }
}

pub(super) fn check_length(seconds: f64, path: String, fps: Option<Rational>, errs: &mut Errors) {
    if let Some(fps) = fps {
        if fps.frame_at(seconds) == 0 {
            errs.add(path, format!("{seconds} s is shorter than one frame at {fps} fps"));
        }
    }
}

pub(super) fn check_transition(t: &Transition, path: &str, index: usize, fps: Option<Rational>, errs: &mut Errors) {
    if t.kind == TransitionKind::Cut {
        return;
    }
    if index == 0 {
        errs.add(join(path, "transition"), "the first clip has no clip before it to transition from");
        return;
    }
    if let Some(c) = t.color {
        c.check_opaque(join(path, "transition.color"), errs);
    }
    if t.color.is_some() && t.kind != TransitionKind::Fade {
        errs.add(join(path, "transition.color"), "only a transition of type \"fade\" passes through a colour");
    }
    let dpath = join(path, "transition.duration");
    if t.duration <= 0.0 {
        let reason = if t.duration == 0.0 {
            "missing or 0: give the transition's length in seconds, e.g. 0.5 (a cut needs none: \"type\": \"cut\")"
                .to_string()
        } else {
            format!("{} must be positive: give the transition's length in seconds, e.g. 0.5", t.duration)
        };
        errs.add(dpath, reason);
    } else if check_time(t.duration, dpath.clone(), errs) {
        check_length(t.duration, dpath, fps, errs);
    }
}

pub(super) fn check_clip(c: &Clip, path: &str, index: usize, fps: Option<Rational>, errs: &mut Errors) {
    if let Some(src) = c.src() {
        if let Err(reason) = check_src(src) {
            errs.add(join(path, "src"), reason);
        }
    }
    let transition = match c {
        Clip::Video(v) => v.transition.as_ref(),
        Clip::Image(i) => i.transition.as_ref(),
        Clip::Color(c) => c.transition.as_ref(),
    };
    if let Some(t) = transition {
        check_transition(t, path, index, fps, errs);
    }
    match c {
        Clip::Video(v) => {
            let in_ok = check_time(v.in_, join(path, "in"), errs);
            if let Some(out) = v.out {
                if check_time(out, join(path, "out"), errs) && in_ok {
                    if out <= v.in_ {
                        errs.add(join(path, "out"), format!("out ({out}) must be after in ({})", v.in_));
                    } else if let Some(fps) = fps {
                        if fps.frame_at(out) <= fps.frame_at(v.in_) {
                            errs.add(
                                join(path, "out"),
                                format!("[{}, {out}) is shorter than one frame at {fps} fps", v.in_),
                            );
                        }
                    }
                }
            }
            check_range(v.speed, 0.25..=4.0, join(path, "speed"), "", errs);
        }
        Clip::Image(i) => {
            if let Some(m) = &i.motion {
                let mp = join(path, "motion");
                match (m.preset, m.from, m.to) {
                    (Some(_), None, None) => check_range(m.amount, 0.05..=2.0, join(&mp, "amount"), "", errs),
                    (None, Some(_), Some(_)) => {}
                    (Some(_), _, _) => errs.add(mp.clone(), "give a preset or from and to, not both"),
                    (None, _, _) => errs.add(
                        mp.clone(),
                        "give a preset (zoom_in, zoom_out, pan_left, pan_right, pan_up, pan_down) or both from and to",
                    ),
                }
                for (name, v) in [("from", m.from), ("to", m.to)] {
                    if let Some(v) = v {
                        check_range(v.zoom, 1.0..=3.0, format!("{mp}.{name}.zoom"), "", errs);
                        check_range(v.x, 0.0..=1.0, format!("{mp}.{name}.x"), "", errs);
                        check_range(v.y, 0.0..=1.0, format!("{mp}.{name}.y"), "", errs);
                    }
                }
            }
            if i.duration <= 0.0 {
                errs.add(join(path, "duration"), format!("{} must be positive", i.duration));
            } else if check_time(i.duration, join(path, "duration"), errs) {
                check_length(i.duration, join(path, "duration"), fps, errs);
            }
        }
        Clip::Color(c) => {
            c.color.check_opaque(join(path, "color"), errs);
            if c.duration <= 0.0 {
                errs.add(join(path, "duration"), format!("{} must be positive", c.duration));
            } else if check_time(c.duration, join(path, "duration"), errs) {
                check_length(c.duration, join(path, "duration"), fps, errs);
            }
        }
    }
}
