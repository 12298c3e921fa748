//! The timeline spec, version 1: the JSON a backend writes, as Rust types.
//!
//! These types are the single source of truth: serde reads them, `cutlist schema`
//! derives the JSON Schema from them, and [`validate`] checks what types cannot say.

mod color;
pub mod source;
pub mod template;
pub mod time;
pub mod timing;
mod validate;

pub use color::Color;
pub use time::Rational;
pub use validate::{parse, parse_with, SpecError, ValidationErrors, MAX_CUES};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The only spec version this build reads.
pub const SPEC_VERSION: u32 = 1;

/// A job: what to render and where the result goes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Spec format version; must be 1.
    pub version: u32,
    /// The job's id: 1–128 characters from `A-Z a-z 0-9 . _ -`. Appears in logs, file names and the result.
    pub id: String,
    pub output: Output,
    pub timeline: Timeline,
    /// Where to post status events (`http(s)://`); the `CUTLIST_WEBHOOK_URL` environment variable otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookSpec>,
}

/// A status webhook named by the spec (it goes through the same address guard as assets;
/// the signing secret only ever comes from the environment).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    pub url: String,
}

/// Output file and encoding settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// Where the finished file goes: a local path (relative paths are relative to the spec file).
    pub path: String,
    /// Container; only `mp4` for now.
    #[serde(default)]
    pub format: Container,
    /// Width in pixels (even, 16–7680).
    pub width: u32,
    /// Height in pixels (even, 16–7680).
    pub height: u32,
    /// Frames per second of the output; every time in the timeline snaps to this grid.
    pub fps: Rational,
    #[serde(default)]
    pub video: VideoOutput,
    #[serde(default)]
    pub audio: AudioOutput,
    /// Move the index to the front of the MP4 so playback can start before the download ends.
    #[serde(default = "yes")]
    pub faststart: bool,
    /// A picture of one frame, written beside the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poster: Option<Still>,
    /// A small picture of one frame, written beside the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<Still>,
    /// With `width` or `height`, the other follows: `16:9`, `9:16`, `1:1`, `4:5` (or any `W:H`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspect: Option<String>,
    /// Normalize the final mix to a loudness target (EBU R128, two passes). Absent: the mix as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loudness: Option<Loudness>,
}

impl Output {
    pub fn video_codec(&self) -> VideoCodec {
        self.video.codec.unwrap_or(match self.format {
            Container::Webm => VideoCodec::LibvpxVp9,
            _ => VideoCodec::Libx264,
        })
    }

    /// The sound's codec (`None` for GIF, which has no sound).
    pub fn audio_codec(&self) -> Option<AudioCodec> {
        match self.format {
            Container::Gif => None,
            Container::Webm => Some(self.audio.codec.unwrap_or(AudioCodec::Opus)),
            Container::Mp4 => Some(self.audio.codec.unwrap_or(AudioCodec::Aac)),
        }
    }
}

/// One frame of the output as a JPEG or PNG picture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Still {
    /// Seconds into the output.
    #[serde(default)]
    pub time: f64,
    /// Where it goes (`.jpg` or `.png`); relative to the spec. Default: beside the output,
    /// `<name>.poster.jpg` / `<name>.thumb.jpg`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Width in pixels (the height follows). Default: the output's (poster), 320 (thumbnail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
}

/// A loudness target for the final mix (EBU R128 / ITU-R BS.1770).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Loudness {
    /// Integrated loudness, LUFS, −70 to −5 (−14 suits most streaming platforms, −23 broadcast).
    #[serde(default = "default_lufs")]
    pub integrated: f64,
    /// Maximum true peak, dBTP, −9 to 0.
    #[serde(default = "default_true_peak")]
    pub true_peak: f64,
    /// Loudness range allowed, LU, 1–50.
    #[serde(default = "default_lra")]
    pub lra: f64,
}

fn default_lufs() -> f64 {
    -14.0
}
fn default_true_peak() -> f64 {
    -1.0
}
fn default_lra() -> f64 {
    11.0
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    /// H.264 or H.265 with AAC.
    #[default]
    Mp4,
    /// VP9 with Opus.
    Webm,
    /// Animated GIF (palette made for the video; no sound).
    Gif,
}

/// Video encoding settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VideoOutput {
    /// Default: `libx264` in MP4, `libvpx-vp9` in WebM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<VideoCodec>,
    /// Constant rate factor, 0 (lossless) – 51 (worst); 23 is x264's default.
    #[serde(default = "default_crf")]
    pub crf: u8,
    #[serde(default)]
    pub preset: Preset,
    #[serde(default)]
    pub pix_fmt: PixFmt,
}

impl Default for VideoOutput {
    fn default() -> Self {
        VideoOutput { codec: None, crf: default_crf(), preset: Preset::default(), pix_fmt: PixFmt::default() }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum VideoCodec {
    /// H.264 (MP4).
    #[default]
    #[serde(rename = "libx264")]
    Libx264,
    /// H.265/HEVC (MP4, tagged hvc1 so Apple players accept it).
    #[serde(rename = "libx265")]
    Libx265,
    /// VP9 (WebM).
    #[serde(rename = "libvpx-vp9")]
    LibvpxVp9,
}

/// x264 speed/compression trade-off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    Ultrafast,
    Superfast,
    #[default]
    Veryfast,
    Faster,
    Fast,
    Medium,
    Slow,
}

impl Preset {
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Ultrafast => "ultrafast",
            Preset::Superfast => "superfast",
            Preset::Veryfast => "veryfast",
            Preset::Faster => "faster",
            Preset::Fast => "fast",
            Preset::Medium => "medium",
            Preset::Slow => "slow",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PixFmt {
    #[default]
    Yuv420p,
}

/// Audio encoding settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AudioOutput {
    /// Default: `aac` in MP4, `opus` in WebM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<AudioCodec>,
    /// Bits per second, 32000–512000.
    #[serde(default = "default_bitrate")]
    pub bitrate: u32,
    /// Only 48000 for now.
    #[serde(default = "default_sample_rate")]
    pub sample_rate: u32,
    /// Only 2 (stereo) for now.
    #[serde(default = "default_channels")]
    pub channels: u8,
}

impl Default for AudioOutput {
    fn default() -> Self {
        AudioOutput {
            codec: None,
            bitrate: default_bitrate(),
            sample_rate: default_sample_rate(),
            channels: default_channels(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AudioCodec {
    /// AAC-LC (MP4).
    #[default]
    Aac,
    /// Opus (WebM).
    Opus,
}

/// What happens over time.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Timeline {
    /// Colour behind everything: bars of `contain`, the canvas. `#RRGGBB`, `#RGB` or a CSS basic colour name.
    #[serde(default)]
    pub background: Color,
    /// Tracks; version 1 has exactly one, the main `video` track. Overlay and audio tracks come later.
    pub tracks: Vec<Track>,
}

/// A track of the timeline.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Track {
    /// The main track (the first track, and the only one of this type): clips played one
    /// after another.
    Video(VideoTrack),
    /// Music, voice-over or effects, mixed under the main track's sound.
    Audio(AudioTrack),
    /// Text, images and videos drawn over the picture; later tracks draw on top.
    Overlay(OverlayTrack),
    /// Subtitles burned into the picture (and optionally muxed or written beside it).
    Captions(CaptionsTrack),
}

impl Spec {
    /// The main track (validation guarantees it is the first track).
    pub fn main_track(&self) -> &VideoTrack {
        match &self.timeline.tracks[0] {
            Track::Video(t) => t,
            _ => unreachable!("validated: the first track is the main video track"),
        }
    }

    /// The overlay items, in drawing order (track order, then item order), with their places.
    pub fn overlays(&self) -> Vec<(ItemRef, &OverlayItem)> {
        let mut out = Vec::new();
        for (track, t) in self.timeline.tracks.iter().enumerate() {
            if let Track::Overlay(o) = t {
                out.extend(o.items.iter().enumerate().map(|(item, it)| (ItemRef { track, item }, it)));
            }
        }
        out
    }

    /// The audio tracks, in order.
    pub fn audio_tracks(&self) -> impl Iterator<Item = &AudioTrack> {
        self.timeline.tracks.iter().filter_map(|t| match t {
            Track::Audio(a) => Some(a),
            _ => None,
        })
    }

    /// Every asset the job needs, each once, with the JSON path of its first use, in spec order.
    pub fn sources(&self) -> Vec<AssetRef> {
        let mut out: Vec<AssetRef> = Vec::new();
        let mut add = |src: &str, used_at: String, kind: AssetKind| {
            if !out.iter().any(|a| a.src == src) {
                out.push(AssetRef { src: src.to_string(), used_at, kind });
            }
        };
        for (t, track) in self.timeline.tracks.iter().enumerate() {
            match track {
                Track::Video(v) => {
                    for (i, c) in v.clips.iter().enumerate() {
                        if let Some(src) = c.src() {
                            add(src, format!("timeline.tracks[{t}].clips[{i}].src"), AssetKind::Media);
                        }
                    }
                }
                Track::Audio(a) => {
                    for (i, c) in a.clips.iter().enumerate() {
                        add(&c.src, format!("timeline.tracks[{t}].clips[{i}].src"), AssetKind::Media);
                    }
                }
                Track::Captions(c) => {
                    if let Some(src) = &c.src {
                        add(src, format!("timeline.tracks[{t}].src"), AssetKind::Captions);
                    }
                    if let Some(font) = &c.style.font {
                        add(font, format!("timeline.tracks[{t}].style.font"), AssetKind::Font);
                    }
                }
                Track::Overlay(o) => {
                    for (i, item) in o.items.iter().enumerate() {
                        let path = format!("timeline.tracks[{t}].items[{i}]");
                        match item {
                            OverlayItem::Text(x) => {
                                if let Some(font) = &x.style.font {
                                    add(font, format!("{path}.style.font"), AssetKind::Font);
                                }
                            }
                            OverlayItem::Image(x) => add(&x.src, format!("{path}.src"), AssetKind::Media),
                            OverlayItem::Video(x) => add(&x.src, format!("{path}.src"), AssetKind::Media),
                        }
                    }
                }
            }
        }
        out
    }
}

/// The place of an overlay item in the spec: item `item` of track `track`. Displays as its
/// JSON path, `timeline.tracks[2].items[0]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemRef {
    pub track: usize,
    pub item: usize,
}

impl std::fmt::Display for ItemRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "timeline.tracks[{}].items[{}]", self.track, self.item)
    }
}

/// An asset the spec refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetRef {
    pub src: String,
    /// JSON path of the field of its first use (`timeline.tracks[0].clips[3].src`).
    pub used_at: String,
    pub kind: AssetKind,
}

/// What an asset is, which decides how the job reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetKind {
    /// Audio, video or a picture: probed with ffprobe, opened by FFmpeg.
    Media,
    /// A font file, read by the text stage.
    Font,
    /// An SRT or WebVTT file, read by the text stage.
    Captions,
}

/// Captions from a file or inline cues, burned in with a style.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptionsTrack {
    /// An SRT or WebVTT file (URL or path). WebVTT inline timestamps (`<00:01.500>`) give word timings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// Inline cues (instead of `src`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cues: Option<Vec<Cue>>,
    /// Seconds added to every cue's times (negative: earlier).
    #[serde(default)]
    pub offset: f64,
    #[serde(default = "caption_style")]
    pub style: TextStyle,
    #[serde(default = "bottom")]
    pub position: Position,
    #[serde(default = "caption_margin")]
    pub margin: f64,
    /// Colour of the word being spoken (needs word timings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highlight: Option<Color>,
    /// Also mux the cues as a soft subtitle track (mov_text) in the MP4.
    #[serde(default)]
    pub soft: bool,
    /// Also write the cues beside the output as `<output>.srt` or `<output>.vtt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<SidecarFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SidecarFormat {
    Srt,
    Vtt,
}

/// One caption: shown over [start, end) on the output timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cue {
    pub start: f64,
    pub end: f64,
    /// The text; absent when `words` are given (then it is the words joined by spaces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Word timings, for highlighting the word being spoken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words: Option<Vec<Word>>,
}

impl Cue {
    /// The text shown.
    pub fn display(&self) -> String {
        match (&self.text, &self.words) {
            (Some(t), _) => t.clone(),
            (None, Some(w)) => w.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" "),
            (None, None) => String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Word {
    pub text: String,
    pub start: f64,
    pub end: f64,
}

fn caption_style() -> TextStyle {
    serde_json::from_value(serde_json::json!({"size": 44, "outline": {"width": 3}, "width": 0.85}))
        .expect("valid style")
}
fn caption_margin() -> f64 {
    0.08
}

/// Pictures drawn over the main track.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OverlayTrack {
    pub items: Vec<OverlayItem>,
}

/// One thing drawn over the picture for a while.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum OverlayItem {
    /// Text laid out and drawn by cutlist (shaping, wrapping, colour emoji).
    Text(TextItem),
    /// A picture: logo, watermark, sticker (PNG transparency kept).
    Image(ImageItem),
    /// A video in a corner: picture-in-picture, with its own sound.
    Video(VideoItem),
}

impl OverlayItem {
    /// [start, start + duration) on the output timeline, seconds (video items: their trim's length).
    pub fn span(&self) -> (f64, Option<f64>) {
        match self {
            OverlayItem::Text(t) => (t.start, Some(t.duration)),
            OverlayItem::Image(i) => (i.start, Some(i.duration)),
            OverlayItem::Video(v) => (v.start, v.out.map(|o| o - v.in_)),
        }
    }
}

/// Where an overlay sits: a named place inside the safe margins, or the centre of the
/// overlay at fractions of the frame (`{"x": 0.5, "y": 0.8}`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Position {
    Named(Anchor),
    At { x: f64, y: f64 },
}

impl Default for Position {
    fn default() -> Self {
        Position::Named(Anchor::Center)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    TopLeft,
    Top,
    TopRight,
    Left,
    Center,
    Right,
    BottomLeft,
    Bottom,
    BottomRight,
}

/// Text over the picture.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextItem {
    /// The text, as is: no markup, no expansion. `\n` breaks a line; long lines wrap.
    pub text: String,
    /// Seconds on the output timeline (snaps to the frame grid).
    #[serde(default)]
    pub start: f64,
    /// Seconds.
    pub duration: f64,
    #[serde(default)]
    pub style: TextStyle,
    #[serde(default = "bottom")]
    pub position: Position,
    /// Safe margin kept by named positions, as a fraction of the frame's shorter side.
    #[serde(default = "default_margin")]
    pub margin: f64,
    #[serde(default)]
    pub fade_in: f64,
    #[serde(default)]
    pub fade_out: f64,
}

/// How text looks.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextStyle {
    /// A font file (TTF/OTF; URL or path), fetched like any asset. Absent: the bundled DejaVu
    /// Sans. Glyphs the font lacks (emoji, other scripts) come from the fonts installed on
    /// the machine (Noto Color Emoji for emoji).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub font: Option<String>,
    /// Font size in output pixels, 4–1000.
    #[serde(default = "default_font_size")]
    pub size: f64,
    #[serde(default = "white")]
    pub color: Color,
    /// Opacity of the whole text, 0–1.
    #[serde(default = "one")]
    pub opacity: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outline: Option<Outline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<Shadow>,
    /// A box behind the text.
    #[serde(rename = "box", default, skip_serializing_if = "Option::is_none")]
    pub box_: Option<TextBox>,
    #[serde(default)]
    pub align: TextAlign,
    /// Width lines wrap at, as a fraction of the frame's width (0.05–1).
    #[serde(default = "default_wrap")]
    pub width: f64,
    /// Line height as a multiple of the size.
    #[serde(default = "default_line_height")]
    pub line_height: f64,
}

impl Default for TextStyle {
    fn default() -> Self {
        serde_json::from_value(serde_json::json!({})).expect("every field has a default")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outline {
    #[serde(default)]
    pub color: Color,
    /// Pixels, 0–20.
    #[serde(default = "two")]
    pub width: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Shadow {
    #[serde(default)]
    pub color: Color,
    /// Offset in pixels, −50–50.
    #[serde(default = "two")]
    pub x: f64,
    #[serde(default = "two")]
    pub y: f64,
    /// 0–1.
    #[serde(default = "default_shadow_opacity")]
    pub opacity: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextBox {
    #[serde(default)]
    pub color: Color,
    /// 0–1.
    #[serde(default = "default_box_opacity")]
    pub opacity: f64,
    /// Pixels around the text, 0–200.
    #[serde(default = "default_padding")]
    pub padding: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TextAlign {
    Left,
    #[default]
    Center,
    Right,
}

/// A picture over the video.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageItem {
    /// PNG (transparency kept), JPEG, WebP…; URL or local path.
    pub src: String,
    #[serde(default)]
    pub start: f64,
    pub duration: f64,
    #[serde(default = "top_right")]
    pub position: Position,
    #[serde(default = "default_margin")]
    pub margin: f64,
    /// Width as a fraction of the frame's width (0.01–1); the height keeps the aspect ratio.
    /// Absent: the picture's own size (shrunk to fit the frame).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<f64>,
    /// 0–1.
    #[serde(default = "one")]
    pub opacity: f64,
    #[serde(default)]
    pub fade_in: f64,
    #[serde(default)]
    pub fade_out: f64,
}

/// A video over the video (picture-in-picture).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VideoItem {
    pub src: String,
    /// Where it starts on the output timeline, seconds.
    #[serde(default)]
    pub start: f64,
    /// Start in the source, seconds.
    #[serde(rename = "in", default)]
    pub in_: f64,
    /// End in the source, seconds. Absent: the end of the media (or of the video).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out: Option<f64>,
    #[serde(default = "bottom_right")]
    pub position: Position,
    #[serde(default = "default_margin")]
    pub margin: f64,
    /// Width as a fraction of the frame's width (0.05–1); the height keeps the aspect ratio.
    #[serde(default = "default_pip_width")]
    pub width: f64,
    /// Gain of its sound, mixed with the rest.
    #[serde(default)]
    pub volume: Gain,
    #[serde(default)]
    pub mute: bool,
}

fn white() -> Color {
    Color::rgb(255, 255, 255)
}
fn two() -> f64 {
    2.0
}
fn bottom() -> Position {
    Position::Named(Anchor::Bottom)
}
fn top_right() -> Position {
    Position::Named(Anchor::TopRight)
}
fn bottom_right() -> Position {
    Position::Named(Anchor::BottomRight)
}
fn default_margin() -> f64 {
    0.05
}
fn default_font_size() -> f64 {
    48.0
}
fn default_wrap() -> f64 {
    0.9
}
fn default_line_height() -> f64 {
    1.25
}
fn default_shadow_opacity() -> f64 {
    0.6
}
fn default_box_opacity() -> f64 {
    0.6
}
fn default_padding() -> f64 {
    12.0
}
fn default_pip_width() -> f64 {
    0.3
}

/// A track of sound: music, voice-over, effects. Its clips are placed by `start` and may overlap.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AudioTrack {
    /// A name other tracks refer to (`duck.under`): 1–64 characters from `A-Z a-z 0-9 _ -`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub clips: Vec<AudioClip>,
    /// Gain of the whole track (after each clip's own).
    #[serde(default)]
    pub volume: Gain,
    /// Lower this track while another plays (music under speech).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duck: Option<Duck>,
}

/// A piece of a sound file placed on the timeline.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AudioClip {
    /// `http(s)://` URL or local path: MP3, AAC/M4A, WAV, FLAC, Ogg/Opus, or a video's sound.
    pub src: String,
    /// Where it starts on the output timeline, seconds (snaps to the frame grid).
    #[serde(default)]
    pub start: f64,
    /// Start in the source, seconds.
    #[serde(rename = "in", default)]
    pub in_: f64,
    /// End in the source, seconds (exclusive). Absent: the end of the media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out: Option<f64>,
    /// How long it plays on the timeline, seconds. Absent: `out − in`, or with `loop` until
    /// the end of the video. Never past the end of the video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Repeat [in, out) to fill `duration`.
    #[serde(rename = "loop", default)]
    pub loop_: bool,
    #[serde(default)]
    pub volume: Gain,
    /// Seconds of fade-in at its start.
    #[serde(default)]
    pub fade_in: f64,
    /// Seconds of fade-out at its end.
    #[serde(default)]
    pub fade_out: f64,
}

/// Ducking: this track drops by `depth` dB while `under` plays.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Duck {
    /// `"main"` (the main track's clips that play their own sound) or the `id` of another audio track.
    pub under: String,
    /// How far the track drops, dB (positive), 1–60.
    #[serde(default = "default_depth")]
    pub depth: f64,
    /// Seconds to reach full depth, ending as the speech starts (the drop anticipates it).
    #[serde(default = "default_attack")]
    pub attack: f64,
    /// Seconds to come back up after the speech ends.
    #[serde(default = "default_release")]
    pub release: f64,
}

fn default_depth() -> f64 {
    12.0
}
fn default_attack() -> f64 {
    0.15
}
fn default_release() -> f64 {
    0.5
}

/// A gain: a linear factor (`0.5`) or decibels as a string (`"-6dB"`). 0–10 linear, −60–+20 dB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gain(pub f64);

impl Default for Gain {
    fn default() -> Self {
        Gain(1.0)
    }
}

impl Gain {
    /// Parse `-6dB`, `+3 dB`, `0.5`.
    pub fn parse(s: &str) -> Option<Gain> {
        let t = s.trim();
        let lower = t.to_ascii_lowercase();
        match lower.strip_suffix("db") {
            Some(db) => db.trim().parse::<f64>().ok().filter(|d| d.is_finite()).map(|d| Gain(10f64.powf(d / 20.0))),
            None => t.parse::<f64>().ok().filter(|v| v.is_finite()).map(Gain),
        }
    }
}

impl Serialize for Gain {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0)
    }
}

impl<'de> Deserialize<'de> for Gain {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Str(String),
        }
        let bad = || serde::de::Error::custom("expected a linear gain (0.5) or decibels as a string (\"-6dB\")");
        let g = match Raw::deserialize(d)? {
            Raw::Num(v) => Gain(v),
            Raw::Str(s) => Gain::parse(&s).ok_or_else(bad)?,
        };
        if !(0.0..=10.0).contains(&g.0) {
            return Err(serde::de::Error::custom(format!("{} is out of range: 0–10 linear, or −60 to +20 dB", g.0)));
        }
        Ok(g)
    }
}

impl JsonSchema for Gain {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Gain".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A linear gain (0.5) or decibels as a string (\"-6dB\").",
            "oneOf": [
                { "type": "number", "minimum": 0, "maximum": 10 },
                { "type": "string", "pattern": "^[+-]?[0-9.]+ ?[dD][bB]$" }
            ]
        })
    }
}

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
    /// `http(s)://` URL or local path (relative to the spec file).
    pub src: String,
    /// Start in the source, seconds; snaps to the output frame grid.
    #[serde(rename = "in", default)]
    pub in_: f64,
    /// End in the source, seconds (exclusive); snaps to the output frame grid. Absent: the end of the media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out: Option<f64>,
    #[serde(default)]
    pub fit: Fit,
    /// Linear gain of the clip's own audio, 0–10 (1 = unchanged).
    #[serde(default = "one")]
    pub volume: f64,
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
    /// `http(s)://` URL or local path (relative to the spec file). JPEG, PNG, WebP, GIF (first frame), BMP, TIFF.
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

fn yes() -> bool {
    true
}
fn one() -> f64 {
    1.0
}
fn default_crf() -> u8 {
    23
}
fn default_bitrate() -> u32 {
    128_000
}
fn default_sample_rate() -> u32 {
    48_000
}
fn default_channels() -> u8 {
    2
}

/// The JSON Schema of a spec, as `cutlist schema` prints it.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Spec)).expect("schema serializes")
}
