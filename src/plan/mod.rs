//! Plan: the FFmpeg runs a job needs, as a pure function of the spec, the probes and the budget.
//!
//! Shape of every plan: one *segment* run per main-track clip, each decoding only its
//! own input, trimming it frame-exactly, normalising it (rotation, fit, SAR, fps, pixel
//! format, sample rate, channel layout) and encoding it with the final video settings
//! into MPEG-TS, with its audio as exact-length PCM; then one *join* run that
//! concatenates the segments by stream copy and encodes the audio once. So at any
//! moment one input is being decoded, whatever the number of clips.

pub mod budget;
pub mod graph;

pub use budget::EncoderSettings;

use crate::probe::{MediaInfo, VideoStream, CODEC_WHITELIST, FORMAT_WHITELIST, MAX_PIXELS};
use crate::spec::{Clip, Color, Fit, Rational, Spec, SpecError, Track, ValidationErrors};
use graph::{num, Chain, Filter, Graph};
use serde::Serialize;
use std::path::PathBuf;

/// A probed local input, for one clip.
#[derive(Debug, Clone)]
pub struct ClipMedia {
    pub path: PathBuf,
    pub info: MediaInfo,
}

/// Where each clip lands on the output timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipTiming {
    pub path: String,
    pub start_frame: u64,
    pub frames: u64,
    pub start: f64,
    pub duration: f64,
}

/// A file the render step writes into the workspace before running a step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScriptFile {
    pub name: String,
    pub contents: String,
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
}

/// What the finished file must be.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expected {
    pub width: u32,
    pub height: u32,
    pub fps: Rational,
    pub frames: u64,
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
}

/// Name of the joined output inside the workspace.
pub const OUTPUT_NAME: &str = "output.partial.mp4";

/// The global options of every FFmpeg run.
fn global_args() -> Vec<String> {
    strings(&[
        "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-progress", "pipe:1",
        "-stats_period", "0.5", "-y", "-filter_complex_threads", "1",
    ])
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Declarative argument building (after ab-av1's `CommandExt`).
trait ArgsExt {
    fn arg(&mut self, a: impl ToString) -> &mut Self;
    fn arg2(&mut self, a: impl ToString, b: impl ToString) -> &mut Self;
}

impl ArgsExt for Vec<String> {
    fn arg(&mut self, a: impl ToString) -> &mut Self {
        self.push(a.to_string());
        self
    }
    fn arg2(&mut self, a: impl ToString, b: impl ToString) -> &mut Self {
        self.push(a.to_string());
        self.push(b.to_string());
        self
    }
}

/// The options guarding one media input: local files, known demuxers and decoders, no pixel bombs.
fn guarded_input(args: &mut Vec<String>, media: &ClipMedia, decoder_threads: u32) {
    args.arg2("-protocol_whitelist", "file")
        .arg2("-format_whitelist", FORMAT_WHITELIST)
        .arg2("-codec_whitelist", CODEC_WHITELIST)
        .arg2("-max_pixels", MAX_PIXELS)
        .arg2("-f", &media.info.format)
        .arg2("-threads", decoder_threads);
    if media.info.format == "image2" {
        args.arg2("-pattern_type", "none");
    }
}

fn round_even(v: f64) -> u32 {
    ((v / 2.0).round() as u32).max(1) * 2
}

/// Filters that fit a picture of display size (dw, dh) into w×h.
fn fit_filters(v: &VideoStream, fit: Fit, w: u32, h: u32, bg: Color) -> Vec<Filter> {
    let (dw, dh) = v.display_size();
    let scale = |sw: u32, sh: u32| Filter::new("scale").opt("w", sw).opt("h", sh).opt("flags", "bicubic");
    match fit {
        Fit::Fill => vec![scale(w, h), Filter::new("setsar").opt("r", 1u32)],
        Fit::Cover => {
            // Crop the source (cheaper than scaling first) to the output's shape, then scale.
            let target = w as f64 / h as f64;
            let display = dw / dh;
            // Stored pixels per displayed pixel, horizontally (after autorotate the
            // stored axes are the displayed ones).
            let (cw, ch) = if v.rotation % 180 == 90 { (v.height, v.width) } else { (v.width, v.height) };
            let sar = if v.rotation % 180 == 90 { 1.0 } else { v.sar.0 as f64 / v.sar.1 as f64 };
            let (crop_w, crop_h) = if display > target {
                (round_even(dh * target / sar).min(cw), ch)
            } else {
                (cw, round_even(dw / target).min(ch))
            };
            let mut fs = Vec::new();
            if (crop_w, crop_h) != (cw, ch) {
                fs.push(
                    Filter::new("crop")
                        .opt("w", crop_w)
                        .opt("h", crop_h)
                        .opt("x", (cw - crop_w) / 2)
                        .opt("y", (ch - crop_h) / 2),
                );
            }
            fs.push(scale(w, h));
            fs.push(Filter::new("setsar").opt("r", 1u32));
            fs
        }
        Fit::Contain => {
            let target = w as f64 / h as f64;
            let display = dw / dh;
            let (sw, sh) = if display > target {
                (w, round_even(w as f64 / display).min(h))
            } else {
                (round_even(h as f64 * display).min(w), h)
            };
            let mut fs = vec![scale(sw, sh), Filter::new("setsar").opt("r", 1u32)];
            if (sw, sh) != (w, h) {
                fs.push(
                    Filter::new("pad")
                        .opt("w", w)
                        .opt("h", h)
                        .opt("x", (w - sw) / 4 * 2)
                        .opt("y", (h - sh) / 4 * 2)
                        .opt("color", bg.ffmpeg()),
                );
            }
            fs
        }
    }
}

/// Tone-map PQ/HLG to SDR BT.709 (at the output size, so float frames stay small).
fn tonemap_filters(v: &VideoStream) -> Vec<Filter> {
    let tin = v.color_transfer.clone().unwrap_or_else(|| "smpte2084".into());
    let pin = v.color_primaries.clone().unwrap_or_else(|| "bt2020".into());
    let min = v.color_space.clone().unwrap_or_else(|| "bt2020nc".into());
    vec![
        Filter::new("zscale").opt("tin", tin).opt("pin", pin).opt("min", min).opt("t", "linear").opt("npl", 100u32),
        Filter::new("format").opt("pix_fmts", "gbrpf32le"),
        Filter::new("zscale").opt("p", "bt709"),
        Filter::new("tonemap").opt("tonemap", "hable").opt("desat", 0u32),
        Filter::new("zscale").opt("t", "bt709").opt("m", "bt709").opt("r", "tv"),
    ]
}

/// The video chain of a clip, from its input pad to `[v]`.
fn video_chain(clip: &Clip, media: Option<&ClipMedia>, spec: &Spec, frames: u64) -> Chain {
    let o = &spec.output;
    let fps = o.fps.to_string();
    let bg = spec.timeline.background;
    let tail = [
        Filter::new("trim").opt("end_frame", frames),
        Filter::new("format").opt("pix_fmts", "yuv420p"),
    ];
    match (clip, media) {
        (Clip::Color(c), _) => Chain::new(&[])
            .then(Filter::new("color").opt("c", c.color.ffmpeg()).opt("s", format!("{}x{}", o.width, o.height)).opt("r", fps))
            .then_all(tail)
            .to("v"),
        (Clip::Image(i), Some(m)) => {
            let v = m.info.video.as_ref().expect("checked by the planner");
            // Decode and fit the still once, then repeat that one small frame (one spare
            // repeat: `fps` drops the last frame at the end of the stream; trim cuts exactly).
            let mut fs = fit_filters(v, i.fit, o.width, o.height, bg);
            if v.is_hdr() {
                fs.extend(tonemap_filters(v));
            }
            Chain::new(&["0:v:0"])
                .then(Filter::new("trim").opt("end_frame", 1u32))
                .then_all(fs)
                .then(Filter::new("format").opt("pix_fmts", "yuv420p"))
                .then(Filter::new("loop").opt("loop", frames).opt("size", 1u32).opt("start", 0u32))
                .then(Filter::new("setpts").opt("expr", format!("N*{}/{}/TB", o.fps.den, o.fps.num)))
                .then(Filter::new("fps").opt("fps", fps))
                .then_all(tail)
                .to("v")
        }
        (Clip::Video(vc), Some(m)) => {
            let v = m.info.video.as_ref().expect("checked by the planner");
            // After the input seek, timestamps count from the in-point; anchoring `fps` at 0
            // keeps a source frame that falls between output frames where it belongs.
            let mut chain = Chain::new(&["0:v:0"])
                .then(Filter::new("fps").opt("fps", fps).opt("start_time", 0u32))
                .then_all(fit_filters(v, vc.fit, o.width, o.height, bg));
            if v.is_hdr() {
                chain = chain.then_all(tonemap_filters(v));
            }
            // Pad with the last frame if the stream ends a little early (never more than the clip).
            let pad = o.fps.seconds_at(frames);
            chain
                .then(Filter::new("tpad").opt("stop_mode", "clone").opt("stop_duration", pad))
                .then_all(tail)
                .to("v")
        }
        _ => unreachable!("media present for every clip with a source"),
    }
}

/// Whether a clip plays its own audio (read from a second, unseeked input; see [`plan`]).
fn uses_own_audio(clip: &Clip, media: Option<&ClipMedia>) -> bool {
    matches!((clip, media), (Clip::Video(vc), Some(m)) if m.info.audio.is_some() && !vc.mute && vc.volume > 0.0)
}

/// The audio chain of a clip: its own audio, or silence, exactly `samples` long.
fn audio_chain(clip: &Clip, media: Option<&ClipMedia>, fps: Rational, rate: u32, samples: u64) -> Chain {
    let exact = [Filter::new("apad"), Filter::new("atrim").opt("end_sample", samples)];
    match clip {
        Clip::Video(vc) if uses_own_audio(clip, media) => {
            // Trim by the source's own timestamps, then count from the in-point; a source
            // whose audio starts late gets silence in front (async + first_pts).
            let start = num(fps.seconds_at(fps.frame_at(vc.in_)));
            let mut c = Chain::new(&["1:a:0"])
                .then(Filter::new("atrim").opt("start", start.as_str()))
                .then(Filter::new("asetpts").opt("expr", format!("PTS-{start}/TB")))
                .then(Filter::new("aresample").opt("osr", rate).opt("async", 1u32).opt("first_pts", 0u32))
                .then(Filter::new("aformat").opt("sample_fmts", "s16").opt("channel_layouts", "stereo"));
            if vc.volume != 1.0 {
                c = c.then(Filter::new("volume").opt("volume", vc.volume));
            }
            c.then_all(exact).to("a")
        }
        _ => Chain::new(&[])
            .then(Filter::new("anullsrc").opt("r", rate).opt("cl", "stereo"))
            .then(Filter::new("atrim").opt("end_sample", samples))
            .to("a"),
    }
}

fn segment_name(i: usize, ext: &str) -> String {
    format!("seg_{i:04}.{ext}")
}

/// Build the plan. Errors are spec errors found only now that the media is known
/// (a clip's `out` past the end of its media, a "video" without a video stream).
pub fn plan(spec: &Spec, media: &[Option<ClipMedia>], limit: u64) -> Result<Plan, crate::Error> {
    let Track::Video(track) = &spec.timeline.tracks[0];
    let o = &spec.output;
    let fps = o.fps;
    let rate = o.audio.sample_rate;
    let mut errs = Vec::new();
    let err = |errs: &mut Vec<SpecError>, path: String, reason: String| errs.push(SpecError { path, reason });

    // Clip lengths on the frame grid, and the media checks that need the probe.
    let mut lengths = Vec::with_capacity(track.clips.len());
    for (i, clip) in track.clips.iter().enumerate() {
        let path = format!("timeline.tracks[0].clips[{i}]");
        let m = media.get(i).and_then(Option::as_ref);
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
                    None => err(&mut errs, format!("{path}.src"), "has no video stream; use an audio track for sound-only media".into()),
                    Some(vs) if vs.still => err(
                        &mut errs,
                        format!("{path}.src"),
                        "is a still picture; use a clip of type \"image\" with a duration".into(),
                    ),
                    Some(_) => {}
                }
                let media_end = info.and_then(MediaInfo::video_duration);
                let in_f = fps.frame_at(v.in_);
                let out_f = match (v.out, media_end) {
                    (Some(out), Some(end)) if out > end + 0.5 / fps.as_f64() => {
                        err(&mut errs, format!("{path}.out"), format!("{out} s is past the end of the media ({end:.3} s)"));
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
                out_f.saturating_sub(in_f)
            }
        };
        if frames == 0 && errs.is_empty() {
            err(&mut errs, path.clone(), "is shorter than one frame".into());
        }
        lengths.push(frames);
    }
    if !errs.is_empty() {
        return Err(crate::Error::InvalidSpec(ValidationErrors(errs)));
    }

    let max_in_pixels = media
        .iter()
        .flatten()
        .filter_map(|m| m.info.video.as_ref())
        .map(|v| v.width as u64 * v.height as u64)
        .max()
        .unwrap_or(0)
        .max(o.width as u64 * o.height as u64);
    let encoder = budget::fit(o.width, o.height, max_in_pixels, o.video.preset, limit).map_err(crate::Error::MemoryBudget)?;

    let mut steps = Vec::with_capacity(track.clips.len() + 1);
    let mut clips = Vec::with_capacity(track.clips.len());
    let mut start = 0u64;
    for (i, (clip, &frames)) in track.clips.iter().zip(&lengths).enumerate() {
        let path = format!("timeline.tracks[0].clips[{i}]");
        let m = media.get(i).and_then(Option::as_ref);
        let samples = fps.sample_at(start + frames, rate) - fps.sample_at(start, rate);
        let mut g = Graph::default();
        g.push(video_chain(clip, m, spec, frames));
        g.push(audio_chain(clip, m, fps, rate, samples));
        let graph_name = segment_name(i, "graph");

        let mut args = global_args();
        if let (Some(m), Some(_)) = (m, clip.src()) {
            guarded_input(&mut args, m, encoder.decoder_threads);
            let seek = match clip {
                Clip::Video(v) => fps.seconds_at(fps.frame_at(v.in_)),
                _ => 0.0,
            };
            let read = fps.seconds_at(frames) + 0.5;
            if let Clip::Video(_) = clip {
                // Seek the video on the input (fast, and frame-exact when transcoding), read
                // a little more than needed; the graph trims to the exact frame.
                args.arg2("-ss", num(seek)).arg2("-t", num(read));
            }
            args.arg2("-i", m.path.display());
            if uses_own_audio(clip, Some(m)) {
                // The same file again, unseeked, for its audio: after an input seek FFmpeg 5.1
                // misplaces AAC audio by up to a packet (10 ms measured), without one the
                // timestamps are exact. Only audio is decoded from this input.
                guarded_input(&mut args, m, encoder.decoder_threads);
                args.arg2("-t", num(seek + read)).arg2("-i", m.path.display());
            }
        }
        args.arg2("-filter_complex_script", &graph_name)
            .arg2("-map", "[v]")
            .arg2("-c:v", "libx264")
            .arg2("-preset", o.video.preset.as_str())
            .arg2("-crf", o.video.crf)
            .arg2("-pix_fmt", "yuv420p")
            .arg2("-threads", encoder.threads)
            .arg2("-x264-params", format!("rc-lookahead={}", encoder.lookahead))
            .arg2("-f", "mpegts")
            .arg(segment_name(i, "ts"))
            .arg2("-map", "[a]")
            .arg2("-c:a", "pcm_s16le")
            .arg2("-f", "wav")
            .arg(segment_name(i, "wav"));
        steps.push(Step {
            label: format!("rendering {path} ({})", clip.kind()),
            args,
            files: vec![ScriptFile { name: graph_name, contents: g.to_string() }],
            frames,
        });
        clips.push(ClipTiming {
            path,
            start_frame: start,
            frames,
            start: fps.seconds_at(start),
            duration: fps.seconds_at(frames),
        });
        start += frames;
    }
    let total = start;

    // Join: video by stream copy, audio encoded once over the whole timeline.
    let list = |ext: &str| -> String {
        (0..track.clips.len()).map(|i| format!("file '{}'\n", segment_name(i, ext))).collect()
    };
    let mut args = global_args();
    args.arg2("-protocol_whitelist", "file")
        .arg2("-f", "concat")
        .arg2("-safe", 1)
        .arg2("-i", "video.ffconcat")
        .arg2("-protocol_whitelist", "file")
        .arg2("-f", "concat")
        .arg2("-safe", 1)
        .arg2("-i", "audio.ffconcat")
        .arg2("-map", "0:v:0")
        .arg2("-map", "1:a:0")
        .arg2("-c:v", "copy")
        .arg2("-c:a", "aac")
        .arg2("-b:a", o.audio.bitrate)
        .arg2("-ar", rate)
        .arg2("-ac", o.audio.channels)
        .arg2("-map_metadata", -1)
        .arg2("-map_chapters", -1);
    if o.faststart {
        args.arg2("-movflags", "+faststart");
    }
    args.arg2("-f", "mp4").arg(OUTPUT_NAME);
    steps.push(Step {
        label: "joining segments".into(),
        args,
        files: vec![
            ScriptFile { name: "video.ffconcat".into(), contents: format!("ffconcat version 1.0\n{}", list("ts")) },
            ScriptFile { name: "audio.ffconcat".into(), contents: format!("ffconcat version 1.0\n{}", list("wav")) },
        ],
        frames: total,
    });

    Ok(Plan {
        expected: Expected {
            width: o.width,
            height: o.height,
            fps,
            frames: total,
            sample_rate: rate,
            channels: o.audio.channels,
            samples: fps.sample_at(total, rate),
        },
        encoder,
        clips,
        steps,
        output: OUTPUT_NAME.into(),
    })
}

#[cfg(test)]
mod tests;
