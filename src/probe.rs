//! Probe: what ffprobe says about a local file, as typed facts the planner can trust.

use crate::process::{self, RunError};
use crate::spec::Rational;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Demuxers FFmpeg may use on an input. Playlists (hls, dash), scripts (concat) and
/// everything else that can make FFmpeg open another resource are not on it.
pub const FORMAT_WHITELIST: &str = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts,flv,ogg,mp3,wav,aac,flac,\
image2,png_pipe,jpeg_pipe,webp_pipe,gif,gif_pipe,bmp_pipe,tiff_pipe";

/// Decoders FFmpeg may use on an input.
pub const CODEC_WHITELIST: &str = "h264,hevc,vp8,vp9,av1,libdav1d,mpeg4,mpeg2video,mpeg1video,prores,mjpeg,png,\
webp,gif,bmp,tiff,aac,aac_fixed,mp3,mp3float,opus,vorbis,flac,alac,ac3,eac3,pcm_s16le,pcm_s16be,pcm_s24le,\
pcm_s32le,pcm_f32le,pcm_u8";

/// The codecs (as ffprobe names them) a source's picture and sound may be in: what the
/// decoders of [`CODEC_WHITELIST`] read. ffprobe opens no other decoder either.
pub const ACCEPTED_CODECS: &[&str] = &[
    "h264",
    "hevc",
    "vp8",
    "vp9",
    "av1",
    "mpeg4",
    "mpeg2video",
    "mpeg1video",
    "prores",
    "mjpeg",
    "png",
    "webp",
    "gif",
    "bmp",
    "tiff",
    "aac",
    "mp3",
    "opus",
    "vorbis",
    "flac",
    "alac",
    "ac3",
    "eac3",
    "pcm_s16le",
    "pcm_s16be",
    "pcm_s24le",
    "pcm_s32le",
    "pcm_f32le",
    "pcm_u8",
];

/// Largest picture accepted from any input, in pixels (a little over 8K UHD, or a 40 MP still).
pub const MAX_PIXELS: u64 = 40_000_000;
/// Largest side accepted from any input.
pub const MAX_INPUT_SIDE: u32 = 12_000;
const MAX_STREAMS: usize = 16;
/// Longest source accepted (a tiny file may declare hours; only the used window is read,
/// but a declared length this absurd is a bomb or a broken file).
const MAX_SOURCE_SECONDS: f64 = 24.0 * 3600.0;
const MAX_CHANNELS: u32 = 8;
/// Highest and lowest frame rates accepted from a video source.
pub const MAX_INPUT_FPS: f64 = 240.0;
pub const MIN_INPUT_FPS: f64 = 1.0;
/// Smallest side of a picture, and its most elongated shape (long side to short side).
pub const MIN_INPUT_SIDE: u32 = 16;
pub const MAX_INPUT_ASPECT: f64 = 20.0;
const MAX_SAMPLE_RATE: u32 = 192_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    /// The demuxer ffprobe chose (first name of its list), pinned with `-f` when rendering.
    pub format: String,
    pub duration: Option<f64>,
    pub size: u64,
    pub streams: usize,
    pub video: Option<VideoStream>,
    pub audio: Option<AudioStream>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoStream {
    pub codec: String,
    /// Coded size, before rotation.
    pub width: u32,
    pub height: u32,
    /// Sample (pixel) aspect ratio.
    pub sar: (u32, u32),
    /// Display rotation, counter-clockwise degrees as ffprobe's display matrix gives them,
    /// normalised to 0, 90, 180 or 270 (from the display matrix, the `rotate` tag or EXIF).
    pub rotation: u32,
    pub fps: Option<Rational>,
    pub duration: Option<f64>,
    pub pix_fmt: String,
    /// Frames the decoder holds back for reordering (ffprobe's `has_b_frames`): B-frames
    /// cost decoder memory.
    pub reorder: u32,
    /// `smpte2084` (PQ) or `arib-std-b67` (HLG) for HDR sources.
    pub color_transfer: Option<String>,
    pub color_primaries: Option<String>,
    pub color_space: Option<String>,
    /// A still picture (image codec, or a single frame).
    pub still: bool,
    /// The frames really there (packets counted by reading the file), when known.
    #[serde(default)]
    pub frames: Option<u64>,
    /// What a stream copy must match (see `plan::copy`).
    #[serde(default)]
    pub coding: Coding,
}

/// How a video stream is coded, as far as joining it to others by stream copy cares: two
/// streams join only when all of it is equal.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Coding {
    /// The stream's index in its file.
    pub index: u32,
    /// Its id in its container (an MP4 track's ID): the concat demuxer takes the pictures
    /// of every file from the stream of one id.
    #[serde(default)]
    pub id: Option<u32>,
    pub profile: Option<String>,
    pub level: Option<i64>,
    pub time_base: Option<String>,
    pub field_order: Option<String>,
    pub color_range: Option<String>,
    /// MD5 of the parameter sets (SPS/PPS): one MP4 sample entry holds one set.
    pub extradata: Option<String>,
    /// Both frame rates ffprobe reports agree (a constant frame rate).
    pub constant_rate: bool,
    /// The first frame's time, seconds (0 when the file starts on it).
    pub start_time: Option<f64>,
}

impl VideoStream {
    /// The size a viewer sees: rotation and pixel aspect applied.
    pub fn display_size(&self) -> (f64, f64) {
        let w = self.width as f64 * self.sar.0 as f64 / self.sar.1 as f64;
        let h = self.height as f64;
        if self.rotation % 180 == 90 {
            (h, w)
        } else {
            (w, h)
        }
    }

    pub fn is_hdr(&self) -> bool {
        matches!(self.color_transfer.as_deref(), Some("smpte2084" | "arib-std-b67"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioStream {
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u32,
    pub duration: Option<f64>,
}

impl MediaInfo {
    /// The length the media declares: the video stream's if known, else the container's.
    pub fn declared_duration(&self) -> Option<f64> {
        self.video.as_ref().and_then(|v| v.duration).or(self.duration)
    }

    /// The media's real length: as far as its frames go (a file may declare hours and hold a
    /// second, or be cut short), never more than it declares.
    pub fn video_duration(&self) -> Option<f64> {
        let real = self.video.as_ref().and_then(|v| Some(v.frames? as f64 / v.fps?.as_f64()));
        match (real, self.declared_duration()) {
            (Some(r), Some(d)) => Some(r.min(d)),
            (r, d) => r.or(d),
        }
    }
}

/// Why a probe failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The file is not media we accept (permanent).
    #[error("{0}")]
    Rejected(String),
    /// ffprobe could not be run.
    #[error("{0}")]
    Tool(String),
    #[error("cancelled")]
    Cancelled,
}

const IMAGE_CODECS: &[&str] = &["mjpeg", "png", "webp", "gif", "bmp", "tiff"];

/// ffprobe's JSON (`-show_format -show_streams [-show_frames] [-count_packets]`), typed: the
/// one reading of it, for sources and for the rendered output alike. Fields ffprobe leaves
/// out are `None`, never a silent zero.
pub mod ffprobe {
    use serde::{Deserialize, Deserializer};

    #[derive(Debug, Default, Deserialize)]
    pub struct Output {
        #[serde(default)]
        pub streams: Vec<Stream>,
        #[serde(default)]
        pub format: Format,
        #[serde(default)]
        pub frames: Vec<Frame>,
    }

    #[derive(Debug, Default, Deserialize)]
    pub struct Format {
        pub format_name: Option<String>,
        #[serde(default, deserialize_with = "number")]
        pub duration: Option<f64>,
        #[serde(default, deserialize_with = "number")]
        pub size: Option<f64>,
    }

    #[derive(Debug, Default, Deserialize)]
    pub struct Stream {
        pub codec_type: Option<String>,
        pub codec_name: Option<String>,
        pub width: Option<u32>,
        pub height: Option<u32>,
        pub sample_aspect_ratio: Option<String>,
        pub avg_frame_rate: Option<String>,
        pub r_frame_rate: Option<String>,
        #[serde(default, deserialize_with = "number")]
        pub duration: Option<f64>,
        #[serde(default, deserialize_with = "number")]
        pub nb_frames: Option<f64>,
        /// With `-count_packets`.
        #[serde(default, deserialize_with = "number")]
        pub nb_read_packets: Option<f64>,
        pub pix_fmt: Option<String>,
        pub has_b_frames: Option<u32>,
        #[serde(default)]
        pub index: u32,
        #[serde(default)]
        pub id: Option<String>,
        pub profile: Option<String>,
        pub level: Option<i64>,
        pub time_base: Option<String>,
        pub field_order: Option<String>,
        pub color_range: Option<String>,
        #[serde(default, deserialize_with = "number")]
        pub start_time: Option<f64>,
        /// With `-show_data_hash`: `MD5:…` of the codec's extradata (its parameter sets).
        pub extradata_hash: Option<String>,
        pub color_transfer: Option<String>,
        pub color_primaries: Option<String>,
        pub color_space: Option<String>,
        #[serde(default, deserialize_with = "number")]
        pub sample_rate: Option<f64>,
        pub channels: Option<u32>,
        #[serde(default)]
        pub disposition: Disposition,
        #[serde(default)]
        pub side_data_list: Vec<SideData>,
        #[serde(default)]
        pub tags: Tags,
    }

    impl Stream {
        pub fn is(&self, kind: &str) -> bool {
            self.codec_type.as_deref() == Some(kind)
        }
    }

    #[derive(Debug, Default, Deserialize)]
    pub struct Disposition {
        #[serde(default)]
        pub attached_pic: u8,
    }

    #[derive(Debug, Default, Deserialize)]
    pub struct SideData {
        #[serde(default, deserialize_with = "number")]
        pub rotation: Option<f64>,
    }

    #[derive(Debug, Default, Deserialize)]
    pub struct Tags {
        pub rotate: Option<String>,
        /// Matroska/WebM keeps stream durations here (`00:00:02.007000000`).
        #[serde(rename = "DURATION")]
        pub duration: Option<String>,
    }

    #[derive(Debug, Default, Deserialize)]
    pub struct Frame {
        pub media_type: Option<String>,
        #[serde(default)]
        pub side_data_list: Vec<SideData>,
    }

    /// ffprobe writes some numbers as strings ("8.000000", "N/A"): a finite number or `None`.
    fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Text(String),
            Other(serde::de::IgnoredAny),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Num(v) => Some(v),
            Raw::Text(s) => s.trim().parse().ok(),
            Raw::Other(_) => None,
        }
        .filter(|v: &f64| v.is_finite()))
    }

    /// Parse ffprobe's JSON.
    pub fn parse(json: &str) -> Result<Output, String> {
        serde_json::from_str(json).map_err(|e| format!("ffprobe printed JSON cutlist cannot read: {e}"))
    }

    /// `00:00:02.007000000` → seconds.
    pub fn hms(s: &str) -> Option<f64> {
        s.split(':').try_fold(0.0, |acc, part| Some(acc * 60.0 + part.trim().parse::<f64>().ok()?))
    }
}

/// Parse ffprobe's `-show_format -show_streams [-show_frames]` JSON and check it against the limits.
pub fn parse(json: &str) -> Result<MediaInfo, ProbeError> {
    let v = ffprobe::parse(json).map_err(ProbeError::Tool)?;
    let fmt_name = v.format.format_name.as_deref().unwrap_or("").split(',').next().unwrap_or("").to_string();
    if fmt_name.is_empty() {
        return Err(ProbeError::Rejected("not a media file FFmpeg can read".into()));
    }
    if v.streams.len() > MAX_STREAMS {
        return Err(ProbeError::Rejected(format!("has {} streams; the limit is {MAX_STREAMS}", v.streams.len())));
    }
    let rotation_of = |sd: &[ffprobe::SideData]| sd.iter().find_map(|d| d.rotation).map(|r| r.round() as i64);
    let frame_rotation =
        v.frames.iter().find(|f| f.media_type.as_deref() == Some("video")).and_then(|f| rotation_of(&f.side_data_list));

    let video = v.streams.iter().find(|s| s.is("video") && s.disposition.attached_pic != 1).map(|s| {
        let codec = s.codec_name.clone().unwrap_or_default();
        let sar = s
            .sample_aspect_ratio
            .as_deref()
            .and_then(|r| r.split_once(':'))
            .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
            .filter(|(a, b)| *a > 0 && *b > 0)
            .unwrap_or((1, 1));
        let rotation = rotation_of(&s.side_data_list)
            .or_else(|| s.tags.rotate.as_deref().and_then(|r| r.parse::<i64>().ok()))
            .or(frame_rotation)
            .unwrap_or(0);
        let rate = |r: &Option<String>| r.as_deref().and_then(Rational::parse).filter(|r| r.num > 0);
        let tag = |t: &Option<String>| t.clone().filter(|t| t != "unknown");
        VideoStream {
            // A picture format in a picture demuxer (not MJPEG video in an AVI or MOV), or one frame.
            still: (IMAGE_CODECS.contains(&codec.as_str())
                && (fmt_name.starts_with("image2") || fmt_name.ends_with("_pipe") || fmt_name == "gif"))
                || s.nb_frames == Some(1.0),
            codec,
            width: s.width.unwrap_or(0),
            height: s.height.unwrap_or(0),
            sar,
            rotation: rotation.rem_euclid(360) as u32,
            fps: rate(&s.avg_frame_rate).or_else(|| rate(&s.r_frame_rate)),
            duration: s.duration,
            pix_fmt: s.pix_fmt.clone().unwrap_or_default(),
            reorder: s.has_b_frames.unwrap_or(0).min(16),
            color_transfer: tag(&s.color_transfer),
            color_primaries: tag(&s.color_primaries),
            color_space: tag(&s.color_space),
            frames: s.nb_read_packets.map(|n| n as u64),
            coding: Coding {
                index: s.index,
                id: s.id.as_deref().and_then(|id| match id.strip_prefix("0x") {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => id.parse().ok(),
                }),
                profile: s.profile.clone(),
                level: s.level,
                time_base: s.time_base.clone(),
                field_order: s.field_order.clone(),
                color_range: tag(&s.color_range),
                extradata: s.extradata_hash.clone(),
                constant_rate: rate(&s.avg_frame_rate).is_some() && rate(&s.avg_frame_rate) == rate(&s.r_frame_rate),
                start_time: s.start_time,
            },
        }
    });
    if let Some(vs) = &video {
        if vs.width == 0 || vs.height == 0 {
            return Err(ProbeError::Rejected(format!(
                "its {} picture has no size (0×0): not a real picture, or one FFmpeg refuses",
                vs.codec
            )));
        }
        if !ACCEPTED_CODECS.contains(&vs.codec.as_str()) {
            return Err(ProbeError::Rejected(format!("its picture is {}, a codec cutlist does not decode", vs.codec)));
        }
        let (w, h) = (vs.width.min(vs.height), vs.width.max(vs.height));
        if w < MIN_INPUT_SIDE || h as f64 / w as f64 > MAX_INPUT_ASPECT {
            return Err(ProbeError::Rejected(format!(
                "its picture is {}×{}; cutlist needs at least {MIN_INPUT_SIDE} px a side and at most {MAX_INPUT_ASPECT}:1",
                vs.width, vs.height
            )));
        }
        if let Some(fps) = vs.fps.filter(|f| !vs.still && f.as_f64() > MAX_INPUT_FPS) {
            return Err(ProbeError::Rejected(format!("its frame rate is {fps}; the limit is {MAX_INPUT_FPS} fps")));
        }
        // A few frames spread over hours: its declared length is no measure of its content.
        if let Some(fps) = vs.fps.filter(|f| !vs.still && f.as_f64() < MIN_INPUT_FPS) {
            return Err(ProbeError::Rejected(format!(
                "its frame rate is {fps}; cutlist needs at least {MIN_INPUT_FPS} fps"
            )));
        }
        if vs.width > MAX_INPUT_SIDE || vs.height > MAX_INPUT_SIDE || vs.width as u64 * vs.height as u64 > MAX_PIXELS {
            return Err(ProbeError::Rejected(format!(
                "its picture is {}×{}; the limit is {MAX_INPUT_SIDE} px a side and {} MP",
                vs.width,
                vs.height,
                MAX_PIXELS / 1_000_000
            )));
        }
    }
    let audio = v.streams.iter().find(|s| s.is("audio")).map(|s| AudioStream {
        codec: s.codec_name.clone().unwrap_or_default(),
        sample_rate: s.sample_rate.unwrap_or(0.0) as u32,
        channels: s.channels.unwrap_or(0),
        duration: s.duration,
    });
    if let Some(a) = audio.as_ref().filter(|a| !ACCEPTED_CODECS.contains(&a.codec.as_str())) {
        return Err(ProbeError::Rejected(format!("its sound is {}, a codec cutlist does not decode", a.codec)));
    }
    if let Some(a) = &audio {
        if a.channels == 0 || a.channels > MAX_CHANNELS || a.sample_rate == 0 || a.sample_rate > MAX_SAMPLE_RATE {
            return Err(ProbeError::Rejected(format!(
                "its audio has {} channels at {} Hz; the limits are {MAX_CHANNELS} channels and {MAX_SAMPLE_RATE} Hz",
                a.channels, a.sample_rate
            )));
        }
    }
    if video.is_none() && audio.is_none() {
        return Err(ProbeError::Rejected("has neither a video nor an audio stream".into()));
    }
    let duration = v.format.duration;
    if let Some(d) = duration.filter(|d| *d > MAX_SOURCE_SECONDS) {
        return Err(ProbeError::Rejected(format!("declares {:.1} hours; the limit is 24", d / 3600.0)));
    }
    Ok(MediaInfo {
        format: fmt_name,
        duration,
        size: v.format.size.unwrap_or(0.0) as u64,
        streams: v.streams.len(),
        video,
        audio,
    })
}

/// The options every FFmpeg and ffprobe input gets: local files only, known demuxers only.
pub fn input_guard_args() -> Vec<String> {
    ["-protocol_whitelist", "file", "-format_whitelist", FORMAT_WHITELIST].into_iter().map(String::from).collect()
}

/// Run ffprobe on a local file and parse the result.
///
/// Stills are probed a second time for their first frame (EXIF orientation is only
/// visible there), after their size passed the limits, so no pixel bomb is decoded.
pub async fn probe(
    ffprobe: &Path,
    file: &Path,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<MediaInfo, ProbeError> {
    let base = run(ffprobe, file, false, timeout, cancel).await?;
    let info = parse(&base)?;
    if info.video.as_ref().is_some_and(|v| v.still) {
        let with_frame = run(ffprobe, file, true, timeout, cancel).await?;
        return parse(&with_frame);
    }
    Ok(info)
}

async fn run(
    ffprobe: &Path,
    file: &Path,
    first_frame: bool,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<String, ProbeError> {
    let mut args: Vec<String> = ["-v", "error", "-hide_banner"].map(String::from).to_vec();
    args.extend(input_guard_args());
    // No decoder outside the list opens, not even to probe.
    args.extend(["-codec_whitelist".to_string(), CODEC_WHITELIST.to_string()]);
    args.extend(["-max_pixels".to_string(), MAX_PIXELS.to_string()]);
    args.extend(["-print_format", "json", "-show_format", "-show_streams", "-show_data_hash", "md5"].map(String::from));
    if first_frame {
        args.extend(["-show_frames", "-read_intervals", "%+#1", "-select_streams", "v:0"].map(String::from));
    } else {
        // Read the whole file, demuxing only (no decoding): the frames really there, not what
        // the header declares.
        args.push("-count_packets".into());
    }
    args.push(file.display().to_string());
    match process::capture(ffprobe, &args, timeout, cancel).await {
        Ok(out) => Ok(out.stdout),
        Err(RunError::Failed { stderr, .. }) => {
            // `[magicyuv @ 0x…] Codec (magicyuv) not on whitelist '…'`
            let refused = stderr.split("Codec (").nth(1).and_then(|r| r.split_once(") not on whitelist"));
            if let Some((codec, _)) = refused {
                return Err(ProbeError::Rejected(format!("it is {codec}, a codec cutlist does not decode")));
            }
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message");
            Err(ProbeError::Rejected(format!("FFmpeg cannot read it: {}", last.trim())))
        }
        Err(RunError::Stalled(_)) => {
            Err(ProbeError::Rejected(format!("ffprobe took longer than {} s", timeout.as_secs())))
        }
        Err(RunError::Cancelled) => Err(ProbeError::Cancelled),
        Err(e) => Err(ProbeError::Tool(format!("ffprobe ({}): {e}", ffprobe.display()))),
    }
}

/// One video packet as the demuxer gives it: timestamps in the stream's time base, in
/// decoding order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    pub pts: i64,
    pub dts: i64,
    pub key: bool,
}

/// The video packets of one window of a source (what smart cut decides from), in decoding
/// order, from the keyframe at or before the window's start.
#[derive(Debug, Clone, PartialEq)]
pub struct PacketWindow {
    /// The window as asked: a clip's `in` and `out`, seconds (`to: None`: to the end of the
    /// file; for a clip played whole from 0, its first 16 packets only).
    pub from: f64,
    pub to: Option<f64>,
    /// The stream's time base.
    pub time_base: Rational,
    pub packets: Vec<Packet>,
}

/// The video packets of `file` (its first video stream) from the keyframe at or before
/// `from` to a second past `to` (or its end); from 0 to its end, its first 16 only.
/// Demuxing only, no decoding.
pub async fn packets(
    ffprobe: &Path,
    file: &Path,
    from: f64,
    to: Option<f64>,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<PacketWindow, ProbeError> {
    let mut args: Vec<String> = ["-v", "error", "-hide_banner"].map(String::from).to_vec();
    args.extend(input_guard_args());
    let interval = match to {
        Some(to) if from > 0.0 => format!("{from}%{}", to + 1.0),
        Some(to) => format!("%{}", to + 1.0),
        None if from > 0.0 => format!("{from}%"),
        None => "%+#16".into(),
    };
    args.extend(
        [
            "-select_streams",
            "v:0",
            "-read_intervals",
            &interval,
            "-show_entries",
            "stream=time_base:packet=pts,dts,flags",
        ]
        .map(String::from),
    );
    args.extend(["-of", "csv=p=0:nk=1"].map(String::from));
    args.push(file.display().to_string());
    let out = match process::capture(ffprobe, &args, timeout, cancel).await {
        Ok(out) => out.stdout,
        Err(RunError::Cancelled) => return Err(ProbeError::Cancelled),
        Err(e) => return Err(ProbeError::Rejected(format!("its packets cannot be read: {e}"))),
    };
    parse_packets(&out, from, to)
}

/// ffprobe's CSV of [`packets`]: one `pts,dts,flags` line per packet, then the stream's time base.
fn parse_packets(csv: &str, from: f64, to: Option<f64>) -> Result<PacketWindow, ProbeError> {
    let bad = |l: &str| ProbeError::Rejected(format!("unreadable packet line from ffprobe: {l:?}"));
    let mut packets = Vec::new();
    let mut time_base = None;
    for line in csv.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        match fields.as_slice() {
            [pts, dts, flags, ..] => {
                // A packet without timestamps cannot be placed: no window is decided from it.
                let (Ok(pts), Ok(dts)) = (pts.parse(), dts.parse()) else {
                    return Err(ProbeError::Rejected("a video packet has no timestamp".into()));
                };
                packets.push(Packet { pts, dts, key: flags.starts_with('K') });
            }
            [tb] => {
                let (n, d) = tb.split_once('/').ok_or_else(|| bad(line))?;
                let (n, d) = (n.parse().map_err(|_| bad(line))?, d.parse().map_err(|_| bad(line))?);
                if n == 0 || d == 0 {
                    return Err(bad(line));
                }
                time_base = Some(Rational::new(n, d));
            }
            _ => return Err(bad(line)),
        }
    }
    let time_base = time_base.ok_or_else(|| bad("no time base"))?;
    Ok(PacketWindow { from, to, time_base, packets })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHONE: &str = r#"{"streams":[
      {"index":0,"codec_name":"h264","codec_type":"video","width":1920,"height":1080,"sample_aspect_ratio":"1:1",
       "pix_fmt":"yuv420p","avg_frame_rate":"30/1","duration":"8.000000","nb_frames":"240",
       "side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}],"disposition":{"attached_pic":0}},
      {"index":1,"codec_name":"aac","codec_type":"audio","sample_rate":"48000","channels":2,"duration":"8.0"}],
      "format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"8.000000","size":"123456"}}"#;

    #[test]
    fn phone_clip_is_portrait() {
        let m = parse(PHONE).unwrap();
        assert_eq!(m.format, "mov");
        let v = m.video.unwrap();
        assert_eq!(v.rotation, 270);
        assert_eq!(v.display_size(), (1080.0, 1920.0));
        assert_eq!(v.fps, Some(Rational::new(30, 1)));
        assert!(!v.still);
        assert_eq!(m.audio.unwrap().sample_rate, 48000);
    }

    #[test]
    fn exif_rotation_comes_from_the_frame() {
        let j = r#"{"streams":[{"codec_name":"mjpeg","codec_type":"video","width":400,"height":300}],
          "frames":[{"media_type":"video","side_data_list":[{"rotation":-90}]}],
          "format":{"format_name":"image2","size":"1000"}}"#;
        let v = parse(j).unwrap().video.unwrap();
        assert!(v.still);
        assert_eq!(v.display_size(), (300.0, 400.0));
    }

    #[test]
    fn bombs_and_non_media_are_rejected() {
        let zero = r#"{"streams":[{"codec_name":"mjpeg","codec_type":"video","width":0,"height":0}],"format":{"format_name":"image2"}}"#;
        assert!(matches!(parse(zero), Err(ProbeError::Rejected(m)) if m.contains("0×0")));
        let huge = r#"{"streams":[{"codec_name":"png","codec_type":"video","width":16000,"height":16000}],"format":{"format_name":"png_pipe"}}"#;
        assert!(matches!(parse(huge), Err(ProbeError::Rejected(m)) if m.contains("16000×16000")));
        let none = r#"{"streams":[],"format":{"format_name":"tty"}}"#;
        assert!(parse(none).is_err());
    }

    #[test]
    fn packets_are_read_in_decoding_order_with_the_time_base() {
        let w = parse_packets("0,-1024,K__\n1536,-512,___\n512,0,___\n1/15360\n", 2.0, Some(4.0)).unwrap();
        assert_eq!(w.time_base, Rational::new(1, 15360));
        assert_eq!(w.packets[0], Packet { pts: 0, dts: -1024, key: true });
        assert_eq!(w.packets.len(), 3);
        assert!(!w.packets[1].key);
        assert!(parse_packets("N/A,0,K__\n1/1000\n", 0.0, None).is_err());
        assert!(parse_packets("0,0,K__\n", 0.0, None).is_err(), "no time base");
    }
}
