//! Probe: what ffprobe says about a local file, as typed facts the planner can trust.

use crate::spec::Rational;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// Demuxers FFmpeg may use on an input. Playlists (hls, dash), scripts (concat) and
/// everything else that can make FFmpeg open another resource are not on it.
pub const FORMAT_WHITELIST: &str = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts,flv,ogg,mp3,wav,aac,flac,\
image2,png_pipe,jpeg_pipe,webp_pipe,gif,gif_pipe,bmp_pipe,tiff_pipe";

/// Decoders FFmpeg may use on an input.
pub const CODEC_WHITELIST: &str = "h264,hevc,vp8,vp9,av1,libdav1d,mpeg4,mpeg2video,mpeg1video,prores,mjpeg,png,\
webp,gif,bmp,tiff,aac,aac_fixed,mp3,mp3float,opus,vorbis,flac,alac,ac3,eac3,pcm_s16le,pcm_s16be,pcm_s24le,\
pcm_s32le,pcm_f32le,pcm_u8";

/// Largest picture accepted from any input, in pixels (a little over 8K UHD, or a 40 MP still).
pub const MAX_PIXELS: u64 = 40_000_000;
/// Largest side accepted from any input.
pub const MAX_INPUT_SIDE: u32 = 12_000;
const MAX_STREAMS: usize = 16;
/// Longest source accepted (a tiny file may declare hours; only the used window is read,
/// but a declared length this absurd is a bomb or a broken file).
const MAX_SOURCE_SECONDS: f64 = 24.0 * 3600.0;
const MAX_CHANNELS: u32 = 8;
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
    /// The media's length: the video stream's if known, else the container's.
    pub fn video_duration(&self) -> Option<f64> {
        self.video.as_ref().and_then(|v| v.duration).or(self.duration)
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
}

const IMAGE_CODECS: &[&str] = &["mjpeg", "png", "webp", "gif", "bmp", "tiff"];

/// Parse ffprobe's `-show_format -show_streams [-show_frames]` JSON and check it against the limits.
pub fn parse(json: &str) -> Result<MediaInfo, ProbeError> {
    let v: Value =
        serde_json::from_str(json).map_err(|e| ProbeError::Tool(format!("ffprobe printed bad JSON: {e}")))?;
    let format = &v["format"];
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    let fmt_name = format["format_name"].as_str().unwrap_or("").split(',').next().unwrap_or("").to_string();
    if fmt_name.is_empty() {
        return Err(ProbeError::Rejected("not a media file FFmpeg can read".into()));
    }
    if streams.len() > MAX_STREAMS {
        return Err(ProbeError::Rejected(format!("has {} streams; the limit is {MAX_STREAMS}", streams.len())));
    }
    let num = |x: &Value| -> Option<f64> {
        x.as_f64().or_else(|| x.as_str().and_then(|s| s.parse().ok())).filter(|f: &f64| f.is_finite())
    };
    let frame_rotation = v["frames"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["media_type"] == "video"))
        .and_then(|f| rotation_of(&f["side_data_list"]));

    let video = streams.iter().find(|s| s["codec_type"] == "video" && s["disposition"]["attached_pic"] != 1).map(|s| {
        let codec = s["codec_name"].as_str().unwrap_or("").to_string();
        let width = s["width"].as_u64().unwrap_or(0) as u32;
        let height = s["height"].as_u64().unwrap_or(0) as u32;
        let sar = s["sample_aspect_ratio"]
            .as_str()
            .and_then(|r| r.split_once(':'))
            .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
            .filter(|(a, b)| *a > 0 && *b > 0)
            .unwrap_or((1, 1));
        let rotation = rotation_of(&s["side_data_list"])
            .or_else(|| s["tags"]["rotate"].as_str().and_then(|r| r.parse::<i64>().ok()))
            .or(frame_rotation)
            .unwrap_or(0);
        let fps = s["avg_frame_rate"]
            .as_str()
            .and_then(Rational::parse)
            .filter(|r| r.num > 0)
            .or_else(|| s["r_frame_rate"].as_str().and_then(Rational::parse).filter(|r| r.num > 0));
        let nb_frames = s["nb_frames"].as_str().and_then(|n| n.parse::<u64>().ok());
        let tag = |k: &str| s[k].as_str().filter(|t| *t != "unknown").map(String::from);
        VideoStream {
            still: IMAGE_CODECS.contains(&codec.as_str()) || nb_frames == Some(1),
            codec,
            width,
            height,
            sar,
            rotation: rotation.rem_euclid(360) as u32,
            fps,
            duration: num(&s["duration"]),
            pix_fmt: s["pix_fmt"].as_str().unwrap_or("").to_string(),
            reorder: s["has_b_frames"].as_u64().unwrap_or(0).min(16) as u32,
            color_transfer: tag("color_transfer"),
            color_primaries: tag("color_primaries"),
            color_space: tag("color_space"),
        }
    });
    if let Some(vs) = &video {
        if vs.width == 0 || vs.height == 0 {
            return Err(ProbeError::Rejected(format!(
                "its {} picture has no size (0×0): not a real picture, or one FFmpeg refuses",
                vs.codec
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
    let audio = streams.iter().find(|s| s["codec_type"] == "audio").map(|s| AudioStream {
        codec: s["codec_name"].as_str().unwrap_or("").to_string(),
        sample_rate: s["sample_rate"].as_str().and_then(|r| r.parse().ok()).unwrap_or(0),
        channels: s["channels"].as_u64().unwrap_or(0) as u32,
        duration: num(&s["duration"]),
    });
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
    let duration = num(&format["duration"]);
    if let Some(d) = duration.filter(|d| *d > MAX_SOURCE_SECONDS) {
        return Err(ProbeError::Rejected(format!("declares {:.1} hours; the limit is 24", d / 3600.0)));
    }
    Ok(MediaInfo {
        format: fmt_name,
        duration,
        size: num(&format["size"]).unwrap_or(0.0) as u64,
        streams: streams.len(),
        video,
        audio,
    })
}

/// Rotation in degrees from a `side_data_list` (display matrix), counter-clockwise as
/// ffprobe prints it (an iPhone portrait clip: -90). Only its axis matters for fitting;
/// FFmpeg's autorotate turns the pixels.
fn rotation_of(side_data: &Value) -> Option<i64> {
    side_data.as_array()?.iter().find_map(|sd| {
        let r = &sd["rotation"];
        r.as_i64().or_else(|| r.as_f64().map(|f| f.round() as i64))
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
pub async fn probe(ffprobe: &Path, file: &Path, timeout: Duration) -> Result<MediaInfo, ProbeError> {
    let base = run(ffprobe, file, false, timeout).await?;
    let info = parse(&base)?;
    if info.video.as_ref().is_some_and(|v| v.still) {
        let with_frame = run(ffprobe, file, true, timeout).await?;
        return parse(&with_frame);
    }
    Ok(info)
}

async fn run(ffprobe: &Path, file: &Path, first_frame: bool, timeout: Duration) -> Result<String, ProbeError> {
    let mut cmd = tokio::process::Command::new(ffprobe);
    cmd.args(["-v", "error", "-hide_banner"])
        .args(input_guard_args())
        .args(["-max_pixels", &MAX_PIXELS.to_string()])
        .args(["-print_format", "json", "-show_format", "-show_streams"]);
    if first_frame {
        cmd.args(["-show_frames", "-read_intervals", "%+#1", "-select_streams", "v:0"]);
    }
    cmd.arg(file).stdin(std::process::Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(timeout, cmd.output())
        .await
        .map_err(|_| ProbeError::Rejected(format!("ffprobe took longer than {} s", timeout.as_secs())))?
        .map_err(|e| ProbeError::Tool(format!("cannot run {}: {e}", ffprobe.display())))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message");
        return Err(ProbeError::Rejected(format!("FFmpeg cannot read it: {}", last.trim())));
    }
    String::from_utf8(out.stdout).map_err(|_| ProbeError::Tool("ffprobe printed non-UTF-8 output".into()))
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
}
