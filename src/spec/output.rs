//! The output: where the finished file goes, its container, codecs and settings, its stills
//! and loudness target; and the checks of them types cannot make.

use super::address::scheme_of;
use super::validate::*;
use super::*;

/// Output file and encoding settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// Where the finished file goes: a local path (relative to the spec's directory) or an
    /// `s3://`, `gs://` or `az://` object (published create-only).
    pub path: String,
    /// Container: `mp4` (H.264 or H.265 with AAC), `webm` (VP9 with Opus) or `gif`. Absent:
    /// what the path's extension says (`.webm`, `.gif`), else `mp4`.
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
    /// Bring the final mix to a loudness target (EBU R128: a linear gain, a true-peak limiter under
    /// the ceiling, checked on the encoded file). Absent: the mix as it is.
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
    /// Loudness range, LU, 1–50: accepted for specs written for FFmpeg's `loudnorm`, not
    /// enforced (cutlist never compresses the mix's dynamics).
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
    /// Samples per second: 48000.
    #[serde(default = "default_sample_rate")]
    pub sample_rate: u32,
    /// Channels: 2 (stereo).
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

fn yes() -> bool {
    true
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

/// A local path a spec writes to: relative to the spec's directory (or `--output-root`) and
/// staying beneath it. The command line's `-o` may go anywhere; a spec may not.
fn check_local_path(path: &str, field: &str, errs: &mut Errors) {
    if path.starts_with('/') {
        errs.add(
            field,
            "must be relative (to the spec's directory); an absolute path is the command line's to give (-o)",
        );
    } else if path.split('/').any(|part| part == ".." || part == "." || part.is_empty()) {
        errs.add(field, "must stay beneath the spec's directory: no `..`, `.` or empty parts");
    }
}

pub(super) fn check_output(o: &Output, errs: &mut Errors) {
    if o.path.trim().is_empty() {
        errs.add("output.path", "must not be empty");
    } else if o.path.contains('\0') {
        errs.add("output.path", "must not contain a NUL character");
    } else if let Some(scheme) = scheme_of(&o.path).filter(|s| !matches!(*s, "s3" | "gs" | "az")) {
        errs.add(
            "output.path",
            format!("unsupported destination scheme {scheme:?}: use a local path, s3://, gs:// or az://"),
        );
    } else if let Err(reason) = scheme_of(&o.path).map(|_| check_object_uri(&o.path)).unwrap_or(Ok(())) {
        errs.add("output.path", reason);
    } else if o.path.ends_with('/') {
        errs.add("output.path", "names a directory; give a file name such as out.mp4");
    } else if scheme_of(&o.path).is_none() {
        check_local_path(&o.path, "output.path", errs);
    }
    for (field, v) in [("width", o.width), ("height", o.height)] {
        if !(16..=MAX_SIDE).contains(&v) {
            errs.add(format!("output.{field}"), format!("{v} is out of range 16–{MAX_SIDE}"));
        } else if v % 2 != 0 {
            errs.add(format!("output.{field}"), format!("{v} is odd; yuv420p needs even sizes (try {})", v + 1));
        }
    }
    let fps = o.fps.as_f64();
    if o.fps.den == 0 || !(1.0..=120.0).contains(&fps) || o.fps.num > 1_000_000 || o.fps.den > 1_000_000 {
        errs.add("output.fps", format!("{} is out of range 1–120 frames per second", o.fps));
    }
    if o.video.crf > 51 {
        errs.add("output.video.crf", format!("{} is out of range 0–51", o.video.crf));
    }
    if !(32_000..=512_000).contains(&o.audio.bitrate) {
        errs.add("output.audio.bitrate", format!("{} is out of range 32000–512000 bits per second", o.audio.bitrate));
    }
    if let Some(l) = &o.loudness {
        check_range(l.integrated, -70.0..=-5.0, "output.loudness.integrated".into(), " LUFS", errs);
        check_range(l.true_peak, -9.0..=0.0, "output.loudness.true_peak".into(), " dBTP", errs);
        check_range(l.lra, 1.0..=50.0, "output.loudness.lra".into(), " LU", errs);
    }
    let (vc, ac) = (o.video_codec(), o.audio_codec());
    match o.format {
        Container::Mp4 if vc == VideoCodec::LibvpxVp9 => {
            errs.add("output.video.codec", "VP9 goes in WebM: set format \"webm\" or use libx264/libx265")
        }
        Container::Webm if vc != VideoCodec::LibvpxVp9 => errs.add("output.video.codec", "WebM takes libvpx-vp9"),
        Container::Mp4 if ac == Some(AudioCodec::Opus) => {
            errs.add("output.audio.codec", "MP4 takes aac (Opus goes in WebM)")
        }
        Container::Webm if ac == Some(AudioCodec::Aac) => errs.add("output.audio.codec", "WebM takes opus"),
        Container::Gif if o.loudness.is_some() => errs.add("output.loudness", "a GIF has no sound"),
        _ => {}
    }
    let ext = std::path::Path::new(&o.path).extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let want = match o.format {
        Container::Mp4 => ["mp4", "m4v", "mov"].as_slice(),
        Container::Webm => ["webm"].as_slice(),
        Container::Gif => ["gif"].as_slice(),
    };
    match ext {
        Some(ext) if !want.contains(&ext.as_str()) => errs.add(
            "output.path",
            format!("ends in .{ext} but the format is {}: name it .{} or set output.format", want[0], want[0]),
        ),
        None if !o.path.trim().is_empty() => {
            errs.add("output.path", format!("has no extension: name it .{} (the format is {})", want[0], want[0]))
        }
        _ => {}
    }
    for (name, still) in [("poster", &o.poster), ("thumbnail", &o.thumbnail)] {
        let Some(st) = still else { continue };
        let p = format!("output.{name}");
        check_time(st.time, format!("{p}.time"), errs);
        if let Some(w) = st.width {
            if !(16..=MAX_SIDE).contains(&w) {
                errs.add(format!("{p}.width"), format!("{w} is out of range 16–{MAX_SIDE}"));
            }
        }
        if let Some(path) = &st.path {
            let ext = std::path::Path::new(path).extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
            if scheme_of(path).is_some() || path.contains('\0') {
                errs.add(format!("{p}.path"), "must be a local path");
            } else if !matches!(ext.as_deref(), Some("jpg" | "jpeg" | "png")) {
                errs.add(format!("{p}.path"), "must end in .jpg, .jpeg or .png");
            } else {
                check_local_path(path, &format!("{p}.path"), errs);
            }
        }
    }
    if o.audio.sample_rate != 48_000 {
        errs.add("output.audio.sample_rate", "only 48000 is supported");
    }
    if o.audio.channels != 2 {
        errs.add("output.audio.channels", "only 2 (stereo) is supported");
    }
}
