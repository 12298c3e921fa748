//! The memory budget: what each FFmpeg run of a plan will hold, and the encoder settings that fit the limit.
//!
//! The model is measured, not guessed (FFmpeg 5.1, see MEMORY.md and tests/memory.rs): a run
//! holds its encoder (a fixed part plus a number of output frames that depends on codec,
//! preset, threads and lookahead: the calibration table below), each decoder in play
//! (reference frames by codec), decoded stills, blended layers, and a little for its sound.
//! A plan's estimate is its largest run plus cutlist's own share, plus the workspace's bytes
//! when the workspace is in RAM.

use crate::spec::{Preset, VideoCodec};
use serde::Serialize;

const MIB: u64 = 1024 * 1024;

/// cutlist's own private memory outside uploads (measured 2–7 MiB; see MEMORY.md). Uploads
/// to buckets add at most `PART_BYTES × (PARTS_IN_FLIGHT + 1)` (24 MiB; see
/// [`crate::storage`]), after FFmpeg has finished, so they never meet its peak.
pub const CUTLIST_OWN: u64 = 8 * MIB;
/// A run's sound: decoding, resampling, PCM or AAC out.
const AUDIO: u64 = 4 * MIB;
/// A run that encodes no video (the join, loudness measurement, palette, GIF, stills):
/// FFmpeg's base, the muxer and audio codecs.
const LIGHT_BASE: u64 = 24 * MIB;
/// The least any FFmpeg run takes (one that encodes no video): what a workspace in memory
/// must leave of the limit at the very least.
pub const SMALLEST_RUN: u64 = LIGHT_BASE;
/// A loudness measurement or correction (`ebur128` with true peak; the limiter on 4×
/// oversampled sound). Set when `loudnorm` did the work (37 MiB alone, the demo's measuring
/// pass over its mix 68 MiB); the meter and limiter take less (over 5 min of sound, with
/// AAC: 61 and 59 MiB resident against loudnorm's 173).
pub const LOUDNESS: u64 = 48 * MIB;

/// Encoder and decoder thread settings for every segment run, and what they cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EncoderSettings {
    /// Encoder threads (x264 `-threads`, x265 `pools`, libvpx `-threads`).
    pub threads: u32,
    /// Encoder lookahead (x264 `rc-lookahead`, x265 `rc-lookahead`, libvpx `lag-in-frames`).
    pub lookahead: u32,
    /// Decoder `-threads` on every input of the runs that encode no video.
    pub decoder_threads: u32,
    /// Decoder `-threads` of each segment run, in order: 2 where runs go one at a time and
    /// the run's second decoder threads fit the limit (a W1 segment 8 % faster), else 1.
    pub segment_decoder_threads: Vec<u32>,
    /// Estimated peak of the whole job, bytes: its largest FFmpeg run, cutlist's own share,
    /// and the workspace when it is in RAM.
    pub estimate: u64,
    /// The largest FFmpeg run's estimate, bytes.
    pub largest_run: u64,
    /// Workspace bytes counted in the estimate (0 when the workspace is on disk).
    pub workspace: u64,
    /// Segment runs in flight at once (the join and the other runs that encode no video run
    /// alone).
    pub concurrency: u32,
    /// The schedule and why, in words (`cutlist plan`).
    pub schedule: String,
}

/// The video encoder every segment run uses (a GIF's segments are an H.264 intermediate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoder {
    X264,
    X265,
    Vp9,
}

impl From<VideoCodec> for Encoder {
    fn from(c: VideoCodec) -> Self {
        match c {
            VideoCodec::Libx264 => Encoder::X264,
            VideoCodec::Libx265 => Encoder::X265,
            VideoCodec::LibvpxVp9 => Encoder::Vp9,
        }
    }
}

/// What every segment run encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub width: u32,
    pub height: u32,
    pub encoder: Encoder,
    pub preset: Preset,
}

impl Target {
    /// What a spec's segment runs encode.
    pub fn of(o: &crate::spec::Output) -> Target {
        let gif = o.format == crate::spec::Container::Gif;
        Target {
            width: o.width,
            height: o.height,
            // A GIF's segments are an H.264 intermediate at veryfast (see plan::segment_encoding).
            encoder: if gif { Encoder::X264 } else { o.video_codec().into() },
            preset: if gif { Preset::Veryfast } else { o.video.preset },
        }
    }

    fn frame(&self) -> u64 {
        frame_bytes(self.width as u64 * self.height as u64)
    }
}

/// What one FFmpeg run holds besides its encoder or its base, bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Load {
    /// The run, for an error that names it ("timeline.tracks[0].clips[2]").
    pub what: String,
    /// Whether the run encodes video (a segment) or not (join, measure, palette, stills).
    pub encodes: bool,
    /// Decoders, stills, overlay pictures and blends in play (see the helpers below).
    pub bytes: u64,
    /// One frame of each video the run decodes (what a second decoder thread adds, times
    /// [`DECODER_THREAD_FRAMES`]).
    pub decoding: u64,
}

/// Frames a second decoder thread holds besides the first's, counted: measured +3.1 frames
/// (H.264 1080p with B-frames: 268 → 278 MB peak; a third thread +2.1 more).
pub const DECODER_THREAD_FRAMES: u64 = 4;

/// The text stage's peak beyond cutlist's own share: the pictures it holds at once while it
/// draws one (the picture, its canvas, the PNG encoder's buffers), each at most a frame of RGBA.
pub fn text_stage(width: u32, height: u32) -> u64 {
    3 * 4 * width as u64 * height as u64
}

/// A yuv420p frame of `pixels`.
pub fn frame_bytes(pixels: u64) -> u64 {
    pixels * 3 / 2
}

/// A decoder of `codec` (as ffprobe names it) at w×h with `-threads 1`, holding `reorder`
/// frames back for B-frames (ffprobe's `has_b_frames`): its reference frames plus the frame
/// in flight. Measured at 1080p: H.264 without B-frames ≈ 3 frames, with two reordered
/// ≈ 7; HEVC at 4K ≈ 10 (B-frames included).
pub fn decoder(codec: &str, reorder: u32, width: u32, height: u32) -> u64 {
    let refs = match codec {
        "h264" => 3 + 2 * reorder as u64,
        "hevc" => 10,
        "vp9" | "av1" | "vp8" => 8,
        "prores" | "mjpeg" | "png" | "dnxhd" | "rawvideo" => 1,
        _ => 6 + 2 * reorder as u64,
    };
    (refs + 1) * frame_bytes(width as u64 * height as u64)
}

/// A still decoded once and kept (RGBA at most), e.g. an image clip or an image overlay.
pub fn still(width: u32, height: u32) -> u64 {
    4 * width as u64 * height as u64
}

/// A w×h RGBA overlay picture scaled and held for blending (text, captions, images).
pub fn overlay_picture(width: u32, height: u32) -> u64 {
    2 * 4 * width as u64 * height as u64
}

/// `frames` full output frames more: one per overlay layer, those a transition's blend queues.
pub fn blend(target: &Target, frames: u64) -> u64 {
    frames * target.frame()
}

/// Bytes a render writes into its workspace, counted when the workspace is in RAM: the
/// segments and the joined file (each about the output's size, from a typical bits per
/// pixel at the CRF: 0.1 at CRF 23 for H.264 footage at `medium`, doubling every 6 lower;
/// the fastest presets spend more: 1080p testsrc2 at CRF 23 took 0.24 bpp at `ultrafast`,
/// 0.16 at `superfast`, 0.09 at `veryfast` and `medium`), and the sound as 16-bit PCM. An
/// estimate: the real size depends on the pictures.
/// What a run holds for each copied clip whose sound it reads from the source (its
/// demuxer and audio decoder).
pub const SOURCE_SOUND: u64 = 2 << 20;

pub fn temp_bytes(o: &crate::spec::Output, frames: u64) -> u64 {
    let pixels = o.width as f64 * o.height as f64 * frames as f64;
    let bpp = match o.format {
        crate::spec::Container::Gif => 1.0,
        _ => {
            let preset = match o.video.preset {
                Preset::Ultrafast => 2.6,
                Preset::Superfast => 1.7,
                _ => 1.0,
            };
            0.1 * preset * 2f64.powf((23.0 - o.video.crf as f64) / 6.0)
        }
    };
    let video = 2.0 * pixels * bpp / 8.0;
    let seconds = frames as f64 / o.fps.as_f64();
    let pcm = seconds * o.audio.sample_rate as f64 * 2.0 * 2.0;
    (video + pcm) as u64
}

/// Preset groups of the calibration table.
fn preset_group(p: Preset) -> usize {
    match p {
        Preset::Ultrafast => 0,
        Preset::Superfast => 1,
        Preset::Veryfast | Preset::Faster | Preset::Fast => 2,
        Preset::Medium => 3,
        Preset::Slow => 4,
    }
}

/// Encoder settings tried, fastest first: (threads, lookahead).
const CANDIDATES: [(u32, u32); 5] = [(4, 10), (2, 10), (2, 5), (1, 5), (1, 0)];

/// Measured encoder cost, (fixed MiB, MiB per MiB of output frame), per candidate above.
/// From `bench/encoder_grid.sh`: each setting at 1280×720 and 1920×1080 (lavfi source,
/// `-threads 1` filters), fixed part and slope of the line through both, rounded up ~2 %.
/// The fixed part includes FFmpeg's own base.
const X264: [[(f64, f64); 5]; 5] = [
    // ultrafast
    [(13.0, 27.5), (13.0, 18.0), (13.0, 18.0), (13.0, 13.0), (13.0, 13.0)],
    // superfast
    [(13.5, 74.0), (13.5, 57.5), (13.5, 57.5), (13.5, 38.0), (13.5, 38.0)],
    // veryfast, faster, fast
    [(14.0, 89.5), (14.0, 72.5), (14.0, 62.0), (14.0, 42.5), (14.0, 38.0)],
    // medium
    [(20.0, 89.0), (20.0, 72.0), (18.5, 61.0), (15.5, 43.0), (15.0, 38.5)],
    // slow
    [(20.5, 90.5), (20.5, 76.0), (19.0, 65.0), (16.0, 46.5), (15.0, 42.5)],
];
/// x265 (`pools` = threads, `frame-threads=1`, lookahead at least 5): ultrafast, then the rest.
const X265: [[(f64, f64); 5]; 2] = [
    [(36.5, 87.0), (34.5, 87.0), (32.0, 73.5), (31.0, 73.5), (31.0, 73.5)],
    [(51.0, 91.0), (48.5, 91.0), (43.5, 78.5), (42.5, 78.5), (42.5, 78.5)],
];
/// libvpx-vp9 (`row-mt`, `lag-in-frames` = lookahead); cpu-used does not change it.
const VP9: [(f64, f64); 5] = [(49.5, 66.5), (37.0, 66.5), (33.5, 60.0), (28.5, 59.5), (24.5, 54.5)];

/// The encoder's share of a segment run with candidate `k`.
fn encoder_bytes(t: &Target, k: usize) -> u64 {
    let (fixed, per_frame) = match t.encoder {
        Encoder::X264 => X264[preset_group(t.preset)][k],
        Encoder::X265 => X265[usize::from(t.preset != Preset::Ultrafast)][k],
        Encoder::Vp9 => VP9[k],
    };
    (fixed * MIB as f64 + per_frame * t.frame() as f64) as u64
}

/// Estimated peak private memory of one FFmpeg run with candidate `k`.
fn run_bytes(t: &Target, load: &Load, k: usize) -> u64 {
    if load.encodes {
        encoder_bytes(t, k) + AUDIO + load.bytes
    } else {
        LIGHT_BASE + load.bytes
    }
}

/// The candidates a machine with `cpus` cores can use (more threads than cores buy nothing).
fn candidates(cpus: u32) -> impl Iterator<Item = (usize, (u32, u32))> {
    CANDIDATES.into_iter().enumerate().filter(move |(_, (threads, _))| *threads <= cpus.max(1))
}

/// Segment runs at once where there are two cores or more: the gaps one run leaves (start,
/// the encoder's fill and drain, the audio) are filled by the other. Measured on W1's
/// segments on 2 cores: two runs of 2 threads each 10.6 s, one run of 2 threads 12.1 s, one
/// of 3 threads 11.2 s, two runs of 1 thread 12.4 s.
pub const CONCURRENT_RUNS: u32 = 2;

/// Choose the fastest settings whose estimate (the runs in flight at once, cutlist's own
/// share and the RAM workspace's `workspace` bytes) fits `limit`: first two segment runs at
/// once (of 2 threads or more), then one at a time; `cpus` caps the encoder threads. The
/// error says what the job needs and what to change.
pub fn fit(t: &Target, loads: &[Load], workspace: u64, limit: u64, cpus: u32) -> Result<EncoderSettings, String> {
    // What is in flight at once with `runs` segment runs, for candidate k: segments run in
    // order, at most `runs` consecutive ones at a time (the render starts a segment only when
    // the one `runs` places before it has finished), so the largest window of `runs`
    // consecutive segment runs; or the largest run that runs alone. (Its first run's index,
    // the bytes, the largest single run.)
    let in_flight = |k: usize, runs: u32| {
        let encoding: Vec<(usize, u64)> =
            loads.iter().enumerate().filter(|(_, l)| l.encodes).map(|(i, l)| (i, run_bytes(t, l, k))).collect();
        let largest = encoding.iter().map(|&(_, b)| b).max().unwrap_or(0);
        let window = encoding
            .windows((runs as usize).clamp(1, encoding.len().max(1)))
            .map(|w| (w[0].0, w.iter().map(|&(_, b)| b).sum::<u64>()))
            .max_by_key(|&(_, b)| b)
            .unwrap_or((0, 0));
        let alone = loads
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.encodes)
            .map(|(i, l)| (i, run_bytes(t, l, k)))
            .max_by_key(|&(_, b)| b);
        match alone {
            Some((i, b)) if b > window.1 => (i, b, b.max(largest)),
            _ => (window.0, window.1, largest),
        }
    };
    let segments = loads.iter().filter(|l| l.encodes).count() as u32;
    let mut tries: Vec<(u32, usize, (u32, u32))> = Vec::new();
    if cpus >= 2 && segments >= 2 {
        tries.extend(candidates(cpus).filter(|(_, (threads, _))| *threads >= 2).map(|(k, c)| (CONCURRENT_RUNS, k, c)));
    }
    tries.extend(candidates(cpus).map(|(k, c)| (1, k, c)));
    let mut last = None;
    for (runs, k, (threads, lookahead)) in tries {
        let (i, bytes, largest_run) = in_flight(k, runs);
        let estimate = bytes + CUTLIST_OWN + workspace;
        if estimate <= limit {
            let schedule = if runs > 1 {
                format!(
                    "{runs} segment runs at once, {threads} encoder threads each: fits {} MiB on {cpus} cores",
                    limit / MIB
                )
            } else if cpus >= 2 && segments >= 2 {
                format!(
                    "one segment run at a time, {threads} encoder threads: two at once would not fit {} MiB",
                    limit / MIB
                )
            } else {
                format!("one run at a time, {threads} encoder threads ({cpus} cores, {segments} segments)")
            };
            // One run at a time leaves a core's gaps a second decoder thread fills.
            let (mut estimate, mut largest_run) = (estimate, largest_run);
            let segment_decoder_threads = loads
                .iter()
                .filter(|l| l.encodes)
                .map(|l| {
                    let run = run_bytes(t, l, k) + DECODER_THREAD_FRAMES * l.decoding;
                    if runs == 1 && cpus >= 2 && l.decoding > 0 && run + CUTLIST_OWN + workspace <= limit {
                        estimate = estimate.max(run + CUTLIST_OWN + workspace);
                        largest_run = largest_run.max(run);
                        2
                    } else {
                        1
                    }
                })
                .collect();
            return Ok(EncoderSettings {
                threads,
                lookahead,
                decoder_threads: 1,
                segment_decoder_threads,
                estimate,
                largest_run,
                workspace,
                concurrency: runs,
                schedule,
            });
        }
        last = Some((i, estimate));
    }
    let (i, need) = last.unwrap_or((0, 0));
    let ram = if workspace > 0 {
        format!(
            ", of which ~{} MiB are temp files in a RAM-backed workdir (put --workdir on a disk)",
            workspace.div_ceil(MIB)
        )
    } else {
        String::new()
    };
    let what = loads.get(i).map(|l| l.what.as_str()).filter(|w| !w.is_empty()).unwrap_or("the job");
    Err(format!(
        "{what} needs ~{} MiB for a {}×{} {} output ({} preset) even with one encoder thread and no lookahead{ram}; \
         the limit is {} MiB: lower the output resolution, use a faster preset, shrink the largest input, or raise the limit",
        need.div_ceil(MIB),
        t.width,
        t.height,
        match t.encoder {
            Encoder::X264 => "H.264",
            Encoder::X265 => "H.265",
            Encoder::Vp9 => "VP9",
        },
        t.preset.as_str(),
        limit / MIB,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(w: u32, h: u32, encoder: Encoder, preset: Preset) -> Target {
        Target { width: w, height: h, encoder, preset }
    }

    fn body(codec: &str, w: u32, h: u32) -> Load {
        Load {
            what: "clip".into(),
            encodes: true,
            bytes: decoder(codec, 0, w, h),
            decoding: frame_bytes(w as u64 * h as u64),
        }
    }

    #[test]
    fn full_hd_fits_512_mib_with_two_threads() {
        let t = target(1080, 1920, Encoder::X264, Preset::Veryfast);
        let s = fit(&t, &[body("h264", 1920, 1080)], 0, 512 * MIB, 2).unwrap();
        assert_eq!((s.threads, s.lookahead), (2, 10));
        // Measured 232 MiB for this run (tests/memory.rs); the estimate stays above, within 25 %.
        assert!((232 * MIB..290 * MIB).contains(&s.estimate), "{}", s.estimate / MIB);
    }

    #[test]
    fn more_cores_use_more_threads_only_where_they_fit() {
        let t = target(1080, 1920, Encoder::X264, Preset::Veryfast);
        let loads = [body("h264", 1920, 1080)];
        assert_eq!(fit(&t, &loads, 0, 512 * MIB, 16).unwrap().threads, 4);
        assert_eq!(fit(&t, &loads, 0, 300 * MIB, 16).unwrap().threads, 2);
        assert_eq!(fit(&t, &loads, 0, 512 * MIB, 1).unwrap().threads, 1);
    }

    #[test]
    fn one_run_at_a_time_decodes_with_two_threads_where_they_fit() {
        let t = target(1080, 1920, Encoder::X264, Preset::Veryfast);
        let one = [body("h264", 1920, 1080)];
        let s = fit(&t, &one, 0, 512 * MIB, 2).unwrap();
        assert_eq!((s.concurrency, s.segment_decoder_threads.as_slice()), (1, &[2][..]));
        // The second thread's frames are in the estimate and the run's, exactly.
        let still = [Load { decoding: 0, ..body("h264", 1920, 1080) }];
        let f = fit(&t, &still, 0, 512 * MIB, 2).unwrap();
        assert_eq!(f.segment_decoder_threads, [1]);
        let extra = DECODER_THREAD_FRAMES * one[0].decoding;
        assert_eq!((s.estimate - f.estimate, s.largest_run - f.largest_run), (extra, extra));
        // Where they would not fit, one thread, and the estimate without them.
        let tight = fit(&t, &one, 0, f.estimate, 2).unwrap();
        assert_eq!((tight.segment_decoder_threads.as_slice(), tight.estimate), (&[1][..], f.estimate));
        // Two at once: the cores are busy, one thread each.
        let two = [body("h264", 1920, 1080), body("h264", 1920, 1080)];
        let s = fit(&t, &two, 0, 1024 * MIB, 2).unwrap();
        assert_eq!((s.concurrency, s.segment_decoder_threads.as_slice()), (2, &[1, 1][..]));
    }

    #[test]
    fn tight_budgets_step_down_then_refuse() {
        let t = target(1080, 1920, Encoder::X264, Preset::Veryfast);
        let s = fit(&t, &[body("h264", 1920, 1080)], 0, 200 * MIB, 2).unwrap();
        assert!(s.threads == 1 || s.lookahead < 10);
        let uhd = target(3840, 2160, Encoder::X264, Preset::Medium);
        let e = fit(&uhd, &[body("h264", 3840, 2160)], 0, 512 * MIB, 2).unwrap_err();
        assert!(e.starts_with("clip needs") && e.contains("3840×2160 H.264 output"), "{e}");
        assert!(e.contains("lower the output resolution"), "{e}");
    }

    #[test]
    fn a_ram_workspace_counts_and_is_named_when_it_does_not_fit() {
        let t = target(1280, 720, Encoder::X264, Preset::Veryfast);
        let loads = [body("h264", 1280, 720)];
        let on_disk = fit(&t, &loads, 0, 512 * MIB, 2).unwrap();
        let in_ram = fit(&t, &loads, 100 * MIB, 512 * MIB, 2).unwrap();
        assert_eq!(in_ram.estimate, on_disk.estimate + 100 * MIB);
        let e = fit(&t, &loads, 500 * MIB, 512 * MIB, 2).unwrap_err();
        assert!(e.contains("RAM-backed workdir"), "{e}");
    }

    #[test]
    fn hevc_and_vp9_encoders_cost_more_than_x264() {
        let loads = [body("h264", 1920, 1080)];
        let e = |enc| fit(&target(1920, 1080, enc, Preset::Veryfast), &loads, 0, 1 << 40, 2).unwrap().estimate;
        assert!(e(Encoder::X265) > e(Encoder::X264) && e(Encoder::Vp9) > e(Encoder::X264) - 30 * MIB);
    }
}
