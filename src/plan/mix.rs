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

/// What loudnorm measured in its first pass (or on a finished file).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoudnessStats {
    pub integrated: f64,
    pub true_peak: f64,
    pub lra: f64,
    pub threshold: f64,
    pub offset: f64,
}

impl LoudnessStats {
    /// Parse the JSON block loudnorm prints (`print_format=json`) from the end of FFmpeg's stderr.
    pub fn parse(stderr: &str) -> Option<LoudnessStats> {
        let start = stderr.rfind('{')?;
        let end = start + stderr[start..].find('}')? + 1;
        let v: serde_json::Value = serde_json::from_str(&stderr[start..end]).ok()?;
        let f = |k: &str| v[k].as_str().and_then(|s| s.trim().parse::<f64>().ok());
        Some(LoudnessStats {
            integrated: f("input_i")?,
            true_peak: f("input_tp")?,
            lra: f("input_lra")?,
            threshold: f("input_thresh")?,
            offset: f("target_offset").unwrap_or(0.0),
        })
    }
}

/// A measurement of a finished file's loudness (the target does not matter: only the input
/// statistics are read).
pub fn loudnorm_report() -> Graph {
    Graph { chains: vec![Chain::new(&[]).then(Filter::new(Name::Loudnorm).opt("print_format", "json"))] }
}

/// The measuring pass: loudnorm with the target, printing its statistics.
pub fn loudnorm_measure(target: &Loudness) -> Filter {
    Filter::new(Name::Loudnorm)
        .opt("i", target.integrated)
        .opt("tp", target.true_peak)
        .opt("lra", target.lra)
        .opt("print_format", "json")
}

/// The applying pass as planned: the target, awaiting the first pass's measurement (the
/// render fills it in with [`loudnorm_apply`]).
pub fn loudnorm_pending(target: &Loudness) -> Filter {
    Filter::new(Name::Loudnorm).opt("i", target.integrated).opt("tp", target.true_peak).opt("lra", target.lra).pending()
}

/// The applying pass: loudnorm fed the first pass's measurements (linear when it can be);
/// a silent mix (no measurable loudness) passes unchanged.
pub fn loudnorm_apply(target: &Loudness, m: &LoudnessStats) -> Filter {
    let finite = [m.integrated, m.true_peak, m.lra, m.threshold, m.offset].iter().all(|v| v.is_finite());
    if !finite || m.integrated < -70.0 {
        return Filter::new(Name::Anull);
    }
    Filter::new(Name::Loudnorm)
        .opt("i", target.integrated)
        .opt("tp", target.true_peak)
        .opt("lra", target.lra)
        .opt("measured_i", m.integrated)
        .opt("measured_tp", m.true_peak)
        .opt("measured_lra", m.lra)
        .opt("measured_thresh", m.threshold)
        .opt("offset", m.offset)
        .opt("linear", "true")
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
/// `main_input` is the input index of the main track's concatenated sound; the audio
/// tracks' inputs follow from `first_input` on.
pub(super) fn mix(
    spec: &Spec,
    layout: &Layout,
    assets: &Assets,
    main_input: usize,
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
        Chain::new(&[&format!("{main_input}:a:0")])
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

    #[test]
    fn parses_loudnorm_statistics() {
        let tail = "[Parsed_loudnorm_0 @ 0x55] \n{\n\t\"input_i\" : \"-27.61\",\n\t\"input_tp\" : \"-4.47\",\n\t\"input_lra\" : \"18.06\",\n\t\"input_thresh\" : \"-39.20\",\n\t\"output_i\" : \"-16.58\",\n\t\"output_tp\" : \"-1.50\",\n\t\"output_lra\" : \"14.78\",\n\t\"output_thresh\" : \"-27.71\",\n\t\"normalization_type\" : \"dynamic\",\n\t\"target_offset\" : \"0.58\"\n}\n";
        let s = LoudnessStats::parse(tail).unwrap();
        assert_eq!((s.integrated, s.true_peak, s.lra, s.threshold, s.offset), (-27.61, -4.47, 18.06, -39.2, 0.58));
        let silent = tail.replace("-27.61", "-inf");
        let t = Loudness { integrated: -14.0, true_peak: -1.0, lra: 11.0 };
        assert_eq!(loudnorm_apply(&t, &LoudnessStats::parse(&silent).unwrap()).name(), Name::Anull);
    }
}
