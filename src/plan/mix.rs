//! The audio mix: the main track's sound with every audio track placed, trimmed, looped,
//! faded and ducked, then (optionally) normalized to a loudness target in a second pass.

use super::graph::{num, Chain, Filter, Graph, Name};
use super::segment::{guarded_input, uses_own_audio, ArgsExt};
use super::{Assets, ClipMedia};
use crate::spec::timing::Layout;
use crate::spec::{AudioClip, Duck, Loudness, OverlayItem, Spec, SpecError, Track};
use serde::{Deserialize, Serialize};

/// Longest part of a file that `loop` may repeat when it is not the whole file (it is held
/// in memory: 120 s of stereo float is 46 MiB).
pub const MAX_LOOP_SECONDS: f64 = 120.0;
/// Samples of the short fade at an audio clip's edges (5 ms), so it never starts with a click.
const EDGE_FADE: u64 = 240;

/// What an EBU R128 measurement (`ebur128`, true peak on) found in a mix or a finished file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoudnessStats {
    /// Integrated loudness, LUFS (−70 when nothing is above the absolute gate).
    pub integrated: f64,
    /// True peak, dBTP (`-inf` for digital silence).
    pub true_peak: f64,
    /// Loudness range, LU.
    pub lra: f64,
}

impl LoudnessStats {
    /// Parse the summary `ebur128` prints at the end of a run (from FFmpeg's stderr).
    pub fn parse(stderr: &str) -> Option<LoudnessStats> {
        let summary = &stderr[stderr.rfind("Summary:")?..];
        let value = |key: &str| -> Option<f64> {
            let rest = &summary[summary.find(key)? + key.len()..];
            let word = rest.split_whitespace().next()?;
            match word {
                "-inf" => Some(f64::NEG_INFINITY),
                w => w.parse().ok(),
            }
        };
        Some(LoudnessStats { integrated: value("I:")?, true_peak: value("Peak:")?, lra: value("LRA:")? })
    }

    /// Whether there is sound to bring to a target: `ebur128` reports −70 LUFS (its absolute
    /// gate) for silence.
    pub fn is_measurable(&self) -> bool {
        self.integrated.is_finite() && self.integrated > -69.9 && self.true_peak.is_finite()
    }
}

/// The EBU R128 meter with true peak, printing its summary (nothing per frame at `info`).
pub fn loudness_meter() -> Filter {
    Filter::new(Name::Ebur128).opt("peak", "true").opt("framelog", "verbose")
}

/// A measurement of a finished file's sound.
pub fn loudness_report() -> Graph {
    Graph { chains: vec![Chain::new(&[]).then(loudness_meter())] }
}

/// Headroom the limiter keeps below the ceiling, dB: the AAC and Opus encoders after it
/// overshoot a limit set exactly at the ceiling by up to 0.8 dB.
pub const LIMITER_HEADROOM: f64 = 1.0;
/// How far the finished file may be from the integrated target, LU, before a warning.
pub const LOUDNESS_TOLERANCE: f64 = 1.0;
/// How far from the target the first encode may be before the audio is done once more.
const REDO_TOLERANCE: f64 = 0.5;

/// How the mix is brought to its target: a linear gain, then a true-peak limiter (on audio
/// oversampled 4×) below the ceiling. Never a compressor: the mix's dynamics stay its own.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LoudnessCorrection {
    /// Gain, dB.
    pub gain: f64,
    /// The limiter's ceiling, dBTP.
    pub limit: f64,
}

impl LoudnessCorrection {
    /// The first correction, from the mix's measurement; `None` when the mix has no
    /// measurable sound (it then passes unchanged).
    pub fn first(target: &Loudness, mix: &LoudnessStats) -> Option<LoudnessCorrection> {
        mix.is_measurable().then_some(LoudnessCorrection {
            gain: target.integrated - mix.integrated,
            limit: target.true_peak - LIMITER_HEADROOM,
        })
    }

    /// The correction once more, from what the first encode measured, when it missed the
    /// target (the limiter took loudness away) or the encoder pushed the peak past the
    /// ceiling; `None` when the file is good as it is.
    pub fn again(&self, target: &Loudness, encoded: &LoudnessStats) -> Option<LoudnessCorrection> {
        let short = target.integrated - encoded.integrated;
        let over = encoded.true_peak - target.true_peak;
        if !encoded.is_measurable() || (short.abs() <= REDO_TOLERANCE && over <= 0.0) {
            return None;
        }
        Some(LoudnessCorrection {
            gain: self.gain + short,
            // Lowered by the overshoot and a little more (the encoder's overshoot grows with the gain).
            limit: if over > 0.0 { self.limit - over - 0.2 } else { self.limit },
        })
    }

    /// The filters that apply it, in a mix at `rate` Hz.
    pub fn filters(&self, rate: u32) -> Vec<Filter> {
        let limit = 10f64.powf(self.limit / 20.0).clamp(0.0625, 1.0);
        vec![
            Filter::new(Name::Volume).opt("volume", format!("{}dB", num(self.gain))).opt("precision", "double"),
            Filter::new(Name::Aresample).opt("osr", rate * 4),
            // level=0: no make-up gain; latency=1: the lookahead's delay compensated, the
            // sound stays in sync with the picture to the sample.
            Filter::new(Name::Alimiter)
                .opt("limit", num(limit))
                .opt("attack", 5u32)
                .opt("release", 50u32)
                .opt("level", 0u32)
                .opt("latency", 1u32),
            Filter::new(Name::Aresample).opt("osr", rate),
        ]
    }
}

/// The correction as planned: it awaits the mix's measurement (the render fills it in with
/// [`LoudnessCorrection::filters`]).
pub fn loudness_pending() -> Filter {
    Filter::new(Name::Volume).pending()
}

/// What the finished file's loudness warns about, if anything.
pub fn loudness_warning(target: &Loudness, measured: &LoudnessStats) -> Option<String> {
    if !measured.is_measurable() {
        return Some(format!(
            "the sound is silent (or too quiet to measure): the loudness target of {} LUFS cannot be reached",
            num(target.integrated)
        ));
    }
    let mut w = Vec::new();
    let off = measured.integrated - target.integrated;
    if off.abs() > LOUDNESS_TOLERANCE {
        w.push(format!(
            "the sound measures {:.1} LUFS, {:.1} LU {} the target of {} LUFS",
            measured.integrated,
            off.abs(),
            if off < 0.0 { "below" } else { "above" },
            num(target.integrated)
        ));
    }
    if measured.true_peak > target.true_peak {
        w.push(format!(
            "its true peak of {:.1} dBTP is over the ceiling of {} dBTP",
            measured.true_peak,
            num(target.true_peak)
        ));
    }
    (!w.is_empty()).then(|| w.join("; "))
}

/// The mix's inputs (appended after the join's two concat inputs) and graph, ending in `[mix]`.
pub(super) struct Mix {
    pub args: Vec<String>,
    pub graph: Graph,
}

/// A span of the timeline, seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    start: f64,
    end: f64,
}

/// Where an audio clip lands and what it takes from its source, in samples.
struct Placed<'a> {
    clip: AudioClip,
    media: &'a ClipMedia,
    start: u64,
    len: u64,
    source_in: f64,
    source_out: Option<f64>,
    loop_samples: Option<u64>,
    whole_file_loop: bool,
}

/// Place every clip of every audio track, checking it against its media.
fn place<'a>(
    spec: &'a Spec,
    assets: &'a Assets,
    total: u64,
    errs: &mut Vec<SpecError>,
) -> Vec<(usize, Vec<Placed<'a>>)> {
    let (fps, rate) = (spec.output.fps, spec.output.audio.sample_rate as f64);
    let mut out = Vec::new();
    for (ti, track) in spec.timeline.tracks.iter().enumerate() {
        // Audio tracks' clips, and the sound of picture-in-picture videos (as clips of their own).
        let clips: Vec<(String, AudioClip)> = match track {
            Track::Audio(t) => t
                .clips
                .iter()
                .enumerate()
                .map(|(j, c)| (format!("timeline.tracks[{ti}].clips[{j}]"), c.clone()))
                .collect(),
            Track::Overlay(o) => o
                .items
                .iter()
                .enumerate()
                .filter_map(|(j, item)| match item {
                    OverlayItem::Video(v) if !v.mute && v.volume.0 > 0.0 => {
                        let has_audio = assets.get(&v.src).is_some_and(|m| m.info.audio.is_some());
                        has_audio.then(|| {
                            // On the frame grid, like its picture, so the two stay in sync.
                            let grid = |t: f64| fps.seconds_at(fps.frame_at(t));
                            let clip = AudioClip {
                                src: v.src.clone(),
                                start: v.start,
                                in_: grid(v.in_),
                                out: v.out.map(grid),
                                duration: None,
                                loop_: false,
                                volume: v.volume,
                                fade_in: 0.0,
                                fade_out: 0.0,
                            };
                            (format!("timeline.tracks[{ti}].items[{j}]"), clip)
                        })
                    }
                    _ => None,
                })
                .collect(),
            Track::Video(_) | Track::Captions(_) => continue,
        };
        let mut placed = Vec::new();
        for (path, c) in clips {
            let Some(media) = assets.get(&c.src) else { continue };
            let Some(audio) = &media.info.audio else {
                errs.push(SpecError { path: format!("{path}.src"), reason: "has no audio stream".into() });
                continue;
            };
            let media_end = audio.duration.or(media.info.duration);
            if let (Some(out), Some(end)) = (c.out, media_end) {
                if out > end + 0.05 {
                    errs.push(SpecError {
                        path: format!("{path}.out"),
                        reason: format!("{out} s is past the end of the media ({end:.3} s)"),
                    });
                    continue;
                }
            }
            let source_out = c.out.or(media_end);
            if let Some(end) = source_out {
                if c.in_ >= end {
                    errs.push(SpecError {
                        path: format!("{path}.in"),
                        reason: format!("{} s is at or past the end of the media ({end:.3} s)", c.in_),
                    });
                    continue;
                }
            }
            let start = fps.sample_at(fps.frame_at(c.start), rate as u32);
            if start >= total {
                continue; // Starts after the video ends: nothing of it is heard.
            }
            let region = source_out.map(|o| o - c.in_);
            let len = match (c.duration, c.loop_, region) {
                (Some(d), _, _) => (d * rate).round() as u64,
                (None, true, _) => total - start,
                (None, false, Some(r)) => (r * rate).round() as u64,
                (None, false, None) => total - start,
            }
            .min(total - start);
            let whole_file_loop = c.loop_ && c.in_ == 0.0 && c.out.is_none();
            let loop_samples = match (c.loop_ && !whole_file_loop, region) {
                (true, Some(r)) if r > MAX_LOOP_SECONDS => {
                    errs.push(SpecError {
                        path: format!("{path}.loop"),
                        reason: format!(
                            "the looped part lasts {r:.1} s; a part of a file may loop for at most {MAX_LOOP_SECONDS:.0} s (a whole file, any length)"
                        ),
                    });
                    continue;
                }
                (true, Some(r)) => Some((r * rate).round() as u64),
                _ => None,
            };
            let fade_samples = ((c.fade_in + c.fade_out) * rate).round() as u64;
            if fade_samples > len && c.duration.is_none() {
                errs.push(SpecError {
                    path: format!("{path}.fade_out"),
                    reason: format!("fade_in + fade_out is longer than the {:.3} s the clip plays", len as f64 / rate),
                });
                continue;
            }
            placed.push(Placed {
                clip: c.clone(),
                media,
                start,
                len,
                source_in: c.in_,
                source_out,
                loop_samples,
                whole_file_loop,
            });
        }
        out.push((ti, placed));
    }
    out
}

/// Spans of the timeline where the ducking source plays.
fn duck_spans(
    spec: &Spec,
    under: &str,
    layout: &Layout,
    assets: &Assets,
    placed: &[(usize, Vec<Placed>)],
) -> Vec<Span> {
    let (fps, rate) = (spec.output.fps, spec.output.audio.sample_rate as f64);
    if under == "main" {
        let track = spec.main_track();
        return track
            .clips
            .iter()
            .zip(&layout.clips)
            .filter(|(c, _)| uses_own_audio(c, c.src().and_then(|s| assets.get(s))))
            .map(|(_, s)| Span { start: fps.seconds_at(s.start), end: fps.seconds_at(s.start + s.frames) })
            .collect();
    }
    let Some(ti) =
        spec.timeline.tracks.iter().position(|t| matches!(t, Track::Audio(a) if a.id.as_deref() == Some(under)))
    else {
        return Vec::new();
    };
    placed
        .iter()
        .filter(|(t, _)| *t == ti)
        .flat_map(|(_, ps)| {
            ps.iter().map(|p| Span { start: p.start as f64 / rate, end: (p.start + p.len) as f64 / rate })
        })
        .collect()
}

/// The gain curve of a ducked track as an FFmpeg expression of `t`: 1 outside the spans,
/// `10^(−depth/20)` inside, ramping down over `attack` before each span starts and back
/// up over `release` after it ends. Spans whose ramps would meet are merged first, so
/// the ramps never overlap and their sum stays within [0, 1].
pub(super) fn duck_expr(d: &Duck, mut spans: Vec<(f64, f64)>) -> Option<String> {
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f64, f64)> = Vec::new();
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s - d.attack <= last.1 + d.release => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    if merged.is_empty() {
        return None;
    }
    let floor = 10f64.powf(-d.depth / 20.0);
    let terms: Vec<String> = merged
        .iter()
        .map(|&(s, e)| {
            let rise = if d.attack > 0.0 {
                format!("clip((t-{})/{},0,1)", num(s - d.attack), num(d.attack))
            } else {
                format!("gte(t,{})", num(s))
            };
            let fall = if d.release > 0.0 {
                format!("clip(({}-t)/{},0,1)", num(e + d.release), num(d.release))
            } else {
                format!("lt(t,{})", num(e))
            };
            format!("min({rise},{fall})")
        })
        .collect();
    Some(format!("1-{}*({})", num(1.0 - floor), terms.join("+")))
}

/// Build the mix, or `None` when there is nothing to mix (no audio tracks): then the join
/// takes the main track's sound as it is.
/// `main` is the pad of the main track's sound (an input's `1:a:0`, or a label); the audio
/// tracks' inputs follow from `first_input` on.
pub(super) fn mix(
    spec: &Spec,
    layout: &Layout,
    assets: &Assets,
    main: &str,
    first_input: usize,
    decoder_threads: u32,
) -> Result<Option<Mix>, Vec<SpecError>> {
    let o = &spec.output;
    let rate = o.audio.sample_rate;
    let total = o.fps.sample_at(layout.total, rate);
    let mut errs = Vec::new();
    let placed = place(spec, assets, total, &mut errs);
    if !errs.is_empty() {
        return Err(errs);
    }
    if placed.iter().all(|(_, p)| p.is_empty()) && o.loudness.is_none() {
        return Ok(None);
    }
    let mut args = Vec::new();
    let mut graph = Graph::default();
    let mut labels = vec!["main".to_string()];
    graph.push(
        Chain::new(&[main])
            .then(Filter::new(Name::Aformat).opt("sample_fmts", "fltp").opt("channel_layouts", "stereo"))
            .to("main"),
    );
    let mut input = first_input;
    for (ti, clips) in &placed {
        let (track_volume, track_duck) = match &spec.timeline.tracks[*ti] {
            Track::Audio(t) => (t.volume.0, t.duck.as_ref()),
            _ => (1.0, None),
        };
        let duck = track_duck.and_then(|d| {
            let spans = duck_spans(spec, &d.under, layout, assets, &placed);
            duck_expr(d, spans.iter().map(|s| (s.start, s.end)).collect())
        });
        for (j, p) in clips.iter().enumerate() {
            guarded_input(&mut args, p.media, decoder_threads);
            if p.whole_file_loop {
                args.arg2("-stream_loop", -1);
            } else if let Some(end) = p.source_out.filter(|_| !p.clip.loop_) {
                args.arg2("-t", num(end + 0.5));
            }
            args.arg2("-i", p.media.path.display());
            let start = num(p.source_in);
            let mut trim = Filter::new(Name::Atrim).opt("start", start.as_str());
            if let (Some(end), false) = (p.source_out, p.whole_file_loop) {
                trim = trim.opt("end", num(end));
            }
            let mut c = Chain::new(&[&format!("{input}:a:0")])
                .then(trim)
                .then(Filter::new(Name::Asetpts).opt("expr", format!("PTS-{start}/TB")))
                .then(Filter::new(Name::Aresample).opt("osr", rate).opt("async", 1u32).opt("first_pts", 0u32))
                .then(Filter::new(Name::Aformat).opt("sample_fmts", "fltp").opt("channel_layouts", "stereo"));
            if let Some(n) = p.loop_samples {
                c = c.then(Filter::new(Name::Aloop).opt("loop", -1i64).opt("size", n).opt("start", 0u32));
            }
            c = c.then(Filter::new(Name::Apad)).then(Filter::new(Name::Atrim).opt("end_sample", p.len));
            let gain = p.clip.volume.0 * track_volume;
            if gain != 1.0 {
                c = c.then(Filter::new(Name::Volume).opt("volume", gain));
            }
            let fin = ((p.clip.fade_in * rate as f64).round() as u64).max(EDGE_FADE).min(p.len / 2);
            let fout = ((p.clip.fade_out * rate as f64).round() as u64).max(EDGE_FADE).min(p.len / 2);
            if fin > 0 {
                c = c.then(Filter::new(Name::Afade).opt("t", "in").opt("ss", 0u32).opt("ns", fin));
            }
            if fout > 0 {
                c = c.then(Filter::new(Name::Afade).opt("t", "out").opt("ss", p.len - fout).opt("ns", fout));
            }
            if p.start > 0 {
                c = c.then(Filter::new(Name::Adelay).opt("delays", format!("{}S", p.start)).opt("all", 1u32));
            }
            if let Some(expr) = &duck {
                // Small frames so the gain moves smoothly (every 256 samples, 5 ms).
                c = c
                    .then(Filter::new(Name::Asetnsamples).opt("n", 256u32).opt("p", 0u32))
                    .then(Filter::new(Name::Volume).opt("volume", expr.as_str()).opt("eval", "frame"));
            }
            let label = format!("t{ti}c{j}");
            graph.push(c.to(&label));
            labels.push(label);
            input += 1;
        }
    }
    let pads: Vec<&str> = labels.iter().map(String::as_str).collect();
    graph.push(
        Chain::new(&pads)
            .then(
                Filter::new(Name::Amix)
                    .opt("inputs", pads.len())
                    .opt("normalize", 0u32)
                    .opt("duration", "first")
                    .opt("dropout_transition", 0u32),
            )
            .then(Filter::new(Name::Atrim).opt("end_sample", total))
            .to("mix"),
    );
    Ok(Some(Mix { args, graph }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duck_curve_merges_close_spans_and_reaches_the_depth() {
        let d = Duck { under: "vo".into(), depth: 20.0, attack: 0.5, release: 1.0 };
        let e = duck_expr(&d, vec![(10.0, 12.0), (2.0, 4.0), (4.8, 6.0)]).unwrap();
        // 2–4 and 4.8–6 merge (their ramps would meet); 10–12 stays apart.
        assert_eq!(
            e,
            "1-0.9*(min(clip((t-1.5)/0.5,0,1),clip((7-t)/1,0,1))+min(clip((t-9.5)/0.5,0,1),clip((13-t)/1,0,1)))"
        );
        assert_eq!(duck_expr(&d, vec![]), None);
    }

    const SUMMARY: &str = "[Parsed_ebur128_0 @ 0x55] Summary:\n\n  Integrated loudness:\n    I:         -21.5 LUFS\n    Threshold: -31.9 LUFS\n\n  Loudness range:\n    LRA:         1.2 LU\n    Threshold: -41.9 LUFS\n    LRA low:   -22.1 LUFS\n    LRA high:  -20.9 LUFS\n\n  True peak:\n    Peak:       -1.7 dBFS\n";

    #[test]
    fn parses_the_meters_summary() {
        let s = LoudnessStats::parse(SUMMARY).unwrap();
        assert_eq!((s.integrated, s.true_peak, s.lra), (-21.5, -1.7, 1.2));
        let silent = SUMMARY.replace("-21.5", "-70.0").replace("-1.7 dBFS", "-inf dBFS");
        let s = LoudnessStats::parse(&silent).unwrap();
        assert!(!s.is_measurable());
        assert_eq!(s.true_peak, f64::NEG_INFINITY);
        assert_eq!(LoudnessStats::parse("no summary"), None);
    }

    #[test]
    fn the_correction_is_a_gain_then_a_limiter_below_the_ceiling_and_is_redone_once_from_the_encode() {
        let t = Loudness { integrated: -14.0, true_peak: -1.0, lra: 11.0 };
        let mix = LoudnessStats { integrated: -21.5, true_peak: -1.7, lra: 1.2 };
        let c = LoudnessCorrection::first(&t, &mix).unwrap();
        assert_eq!((c.gain, c.limit), (7.5, -2.0));
        let chain: Vec<String> = c.filters(48000).iter().map(|f| f.to_string()).collect();
        assert_eq!(
            chain,
            [
                "volume=volume=7.5dB:precision=double",
                "aresample=osr=192000",
                "alimiter=limit=0.794328:attack=5:release=50:level=0:latency=1",
                "aresample=osr=48000"
            ]
        );
        // The limiter took 3.1 LU away: the gain grows by as much; the peak was fine.
        let short = LoudnessStats { integrated: -17.1, true_peak: -1.7, lra: 1.0 };
        let again = c.again(&t, &short).unwrap();
        assert_eq!((num(again.gain), again.limit), ("10.6".to_string(), -2.0));
        // On target but the encoder pushed the peak 0.3 dB over: the limit comes down.
        let over = LoudnessStats { integrated: -14.2, true_peak: -0.7, lra: 1.0 };
        let again = c.again(&t, &over).unwrap();
        assert_eq!(num(again.limit), "-2.5");
        // Within half a LU and under the ceiling: done.
        assert_eq!(c.again(&t, &LoudnessStats { integrated: -14.4, true_peak: -1.6, lra: 1.0 }), None);
        // Silence: nothing to correct, and a warning.
        let silence = LoudnessStats { integrated: -70.0, true_peak: f64::NEG_INFINITY, lra: 0.0 };
        assert_eq!(LoudnessCorrection::first(&t, &silence), None);
        assert!(loudness_warning(&t, &silence).unwrap().contains("cannot be reached"));
        assert_eq!(loudness_warning(&t, &LoudnessStats { integrated: -14.9, true_peak: -1.0, lra: 1.0 }), None);
        let w = loudness_warning(&t, &LoudnessStats { integrated: -16.0, true_peak: -0.5, lra: 1.0 }).unwrap();
        assert!(w.contains("2.0 LU below") && w.contains("-0.5 dBTP"), "{w}");
    }
}
