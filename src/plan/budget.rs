//! Encoder settings fitted to a memory budget, from a model of what one FFmpeg segment run holds.
//!
//! Measured on FFmpeg 5.1 (see MEMORY.md): memory is dominated by x264's frames in flight
//! (threads + lookahead + B-frames) and the decoder's reference frames, not by filters.
//! A segment run decodes exactly one input, so the model is per run, not per timeline.

use crate::spec::Preset;
use serde::Serialize;

const MIB: u64 = 1024 * 1024;

/// Private memory of an FFmpeg process before any frame: relocations, libraries' heaps,
/// codec and muxer contexts. Calibrated with tests/memory.rs (see MEMORY.md).
const FFMPEG_BASE: u64 = 48 * MIB;
/// What cutlist itself may use (measured well below; see MEMORY.md).
pub const CUTLIST_RESERVE: u64 = 16 * MIB;

/// Encoder and decoder thread settings for every segment run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EncoderSettings {
    /// x264 `-threads`.
    pub threads: u32,
    /// x264 `rc-lookahead`.
    pub lookahead: u32,
    /// Decoder `-threads` on every input.
    pub decoder_threads: u32,
    /// Estimated peak private memory of one segment run, bytes.
    pub estimate: u64,
}

fn frame_bytes(pixels: u64) -> u64 {
    pixels * 3 / 2
}

/// Reference frames x264 keeps for a preset, plus its B-frames.
fn preset_frames(p: Preset) -> u64 {
    match p {
        Preset::Ultrafast => 1,
        Preset::Superfast => 4,
        Preset::Veryfast => 4,
        Preset::Faster => 5,
        Preset::Fast => 5,
        Preset::Medium => 6,
        Preset::Slow => 8,
    }
}

/// What one segment run decodes at most at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    /// Pixels of the largest video input (its decoder keeps reference frames).
    pub video_pixels: u64,
    /// Video inputs decoding at once: 1, 2 in a transition, plus each picture-in-picture.
    pub video_inputs: u64,
    /// Pixels of the largest still (decoded once, converted once).
    pub still_pixels: u64,
}

/// Estimated peak private memory of one segment run.
pub fn estimate(out_pixels: u64, load: &Load, preset: Preset, threads: u32, lookahead: u32) -> u64 {
    let out_frame = frame_bytes(out_pixels);
    let in_frame = frame_bytes(load.video_pixels);
    // Decoder: reference frames plus those in flight (threads = 1), per video input; HEVC
    // at 4K was measured holding about ten.
    let decoder = 10 * in_frame * load.video_inputs;
    // Filters: a few frames at input and output size, per video input.
    let filters = 3 * (in_frame + out_frame) * load.video_inputs;
    // A still: decoded once (up to 4 bytes a pixel for RGBA) and converted once.
    let still = 8 * load.still_pixels;
    // x264: each frame in flight holds the picture plus half-resolution planes and
    // motion-search data, about 2.5 times the raw frame (2.4 measured with 2 s clips at 1080p, plus a margin).
    let in_flight = threads as u64 + lookahead as u64 + preset_frames(preset) + 4;
    let encoder = in_flight * out_frame * 5 / 2;
    FFMPEG_BASE + decoder + filters + still + encoder
}

/// Choose the fastest settings whose estimate fits `limit` (bytes for the whole process tree).
pub fn fit(out_w: u32, out_h: u32, load: &Load, preset: Preset, limit: u64) -> Result<EncoderSettings, String> {
    let out_pixels = out_w as u64 * out_h as u64;
    let available = limit.saturating_sub(CUTLIST_RESERVE);
    let candidates = [(2, 10), (2, 5), (1, 5), (1, 0)];
    for (threads, lookahead) in candidates {
        let e = estimate(out_pixels, load, preset, threads, lookahead);
        if e <= available {
            return Ok(EncoderSettings { threads, lookahead, decoder_threads: 1, estimate: e });
        }
    }
    let (t, l) = candidates[candidates.len() - 1];
    let need = estimate(out_pixels, load, preset, t, l) + CUTLIST_RESERVE;
    Err(format!(
        "a {out_w}×{out_h} output ({preset} preset, largest input {:.1} MP, {} decoding at once) needs ~{} MiB even with one encoder thread; \
         the limit is {} MiB: lower the output resolution, use a faster preset, shrink the largest input, or raise the limit",
        load.video_pixels.max(load.still_pixels) as f64 / 1e6,
        load.video_inputs,
        need / MIB,
        limit / MIB,
        preset = preset.as_str(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(video_pixels: u64) -> Load {
        Load { video_pixels, video_inputs: 1, still_pixels: 0 }
    }

    #[test]
    fn full_hd_fits_512_mib_with_two_threads() {
        let s = fit(1920, 1080, &one(1920 * 1080), Preset::Veryfast, 512 * MIB).unwrap();
        assert_eq!((s.threads, s.lookahead), (2, 10));
        assert!(s.estimate < 400 * MIB, "{}", s.estimate / MIB);
    }

    #[test]
    fn tight_budgets_step_down_then_refuse() {
        let s = fit(1920, 1080, &one(1920 * 1080), Preset::Veryfast, 200 * MIB).unwrap();
        assert!(s.threads == 1 || s.lookahead < 10);
        let e = fit(3840, 2160, &one(3840 * 2160), Preset::Medium, 256 * MIB).unwrap_err();
        assert!(e.contains("lower the output resolution"), "{e}");
    }
}
