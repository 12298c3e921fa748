//! One segment run: the inputs it opens and the filter chains that turn a piece of a clip
//! (or the overlap of two clips in a transition) into exact frames and exact samples.

use super::graph::{num, Chain, Filter, Graph, Name};
use super::{names, ClipMedia};
use crate::probe::{VideoStream, CODEC_WHITELIST, FORMAT_WHITELIST, MAX_PIXELS};
use crate::spec::{even, Clip, Color, Easing, Fit, Motion, Spec, Transition, TransitionKind};

/// Samples of the short fade at a hard cut, so the waveform does not jump (5 ms at 48 kHz).
const CUT_FADE_SAMPLES: u64 = 240;

/// Declarative argument building (after ab-av1's `CommandExt`).
pub(super) trait ArgsExt {
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
pub(super) fn guarded_input(args: &mut Vec<String>, media: &ClipMedia, decoder_threads: u32) {
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

/// What a piece of a clip is: which clip-local frames, and where they land.
#[derive(Debug, Clone, Copy)]
pub(super) struct Part<'a> {
    pub clip: &'a Clip,
    pub media: Option<&'a ClipMedia>,
    /// First clip-local frame.
    pub from: u64,
    pub frames: u64,
    /// First output frame.
    pub at: u64,
}

/// How a part's sound starts and ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Edge {
    /// Continues seamlessly into the neighbouring segment (same clip).
    Open,
    /// A hard cut: a 5 ms fade so the waveform does not jump.
    Cut,
    /// Fades over the whole part (the clip's half of a crossfade).
    Cross,
}

/// The inputs and graph of one FFmpeg run, built up part by part.
pub(super) struct Segment<'a> {
    spec: &'a Spec,
    /// Base name of the run's files (`seg_0003`).
    name: String,
    decoder_threads: u32,
    pub args: Vec<String>,
    pub graph: Graph,
    /// Files the run reads besides its graph (captions lists).
    pub files: Vec<super::ScriptFile>,
    inputs: usize,
}

/// Filters that fit a picture of display size (dw, dh) into w×h.
pub(super) fn fit_filters(v: &VideoStream, fit: Fit, w: u32, h: u32, bg: Color) -> Vec<Filter> {
    let (dw, dh) = v.display_size();
    let scale = |sw: u32, sh: u32| Filter::new(Name::Scale).opt("w", sw).opt("h", sh).opt("flags", "bicubic");
    match fit {
        Fit::Fill => vec![scale(w, h), Filter::new(Name::Setsar).opt("r", 1u32)],
        Fit::Cover => {
            // Crop the source (cheaper than scaling first) to the output's shape, then scale.
            // The crop works on the frame as autorotate hands it over: its axes are the
            // displayed ones, and a quarter turn inverts the pixel aspect (FFmpeg's transpose).
            let target = w as f64 / h as f64;
            let rotated = v.rotation % 180 == 90;
            let (cw, ch) = if rotated { (v.height, v.width) } else { (v.width, v.height) };
            let (n, d) = if rotated { (v.sar.1, v.sar.0) } else { v.sar };
            let sar = n as f64 / d as f64;
            // The displayed size, in rows of the frame.
            let (dw, dh) = (cw as f64 * sar, ch as f64);
            let display = dw / dh;
            let (crop_w, crop_h) =
                if display > target { (even(dh * target / sar).min(cw), ch) } else { (cw, even(dw / target).min(ch)) };
            let mut fs = Vec::new();
            if (crop_w, crop_h) != (cw, ch) {
                fs.push(
                    Filter::new(Name::Crop)
                        .opt("w", crop_w)
                        .opt("h", crop_h)
                        .opt("x", (cw - crop_w) / 2)
                        .opt("y", (ch - crop_h) / 2),
                );
            }
            fs.push(scale(w, h));
            fs.push(Filter::new(Name::Setsar).opt("r", 1u32));
            fs
        }
        Fit::Contain => {
            let target = w as f64 / h as f64;
            let display = dw / dh;
            let (sw, sh) = if display > target {
                (w, even(w as f64 / display).min(h))
            } else {
                (even(h as f64 * display).min(w), h)
            };
            let mut fs = vec![scale(sw, sh), Filter::new(Name::Setsar).opt("r", 1u32)];
            if (sw, sh) != (w, h) {
                fs.push(
                    Filter::new(Name::Pad)
                        .opt("w", w)
                        .opt("h", h)
                        .opt("x", (w - sw) / 4 * 2)
                        .opt("y", (h - sh) / 4 * 2)
                        .opt("color", names::color(bg)),
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
        Filter::new(Name::Zscale).opt("tin", tin).opt("pin", pin).opt("min", min).opt("t", "linear").opt("npl", 100u32),
        Filter::new(Name::Format).opt("pix_fmts", "gbrpf32le"),
        Filter::new(Name::Zscale).opt("p", "bt709"),
        Filter::new(Name::Tonemap).opt("tonemap", "hable").opt("desat", 0u32),
        Filter::new(Name::Zscale).opt("t", "bt709").opt("m", "bt709").opt("r", "tv"),
    ]
}

/// Ken Burns: a view moving over a still fitted at sw×sh, as `perspective` corners (its
/// positions are at 1/256 px, bilinear). Unlike `zoompan` (whole-pixel crops: visible
/// stair-steps) the motion is smooth; unlike upscaling the still to fake precision, frames
/// stay small. `from` is the first clip-local frame of this part, `last` the clip's last.
fn ken_burns(motion: &Motion, from: u64, last: u64, sw: u32, sh: u32) -> Filter {
    let (a, b) = motion.views();
    let ease = match motion.easing {
        Easing::Linear => "",
        Easing::EaseInOut => "st(0,ld(0)*ld(0)*(3-2*ld(0)));",
    };
    // ld(0): progress 0..1 at this frame (`in` counts from 1); ld(1): the zoom, geometric.
    let pre = format!(
        "st(0,clip((in-1+{from})/{last},0,1));{ease}st(1,{}*pow({},ld(0)));",
        num(a.zoom),
        num(b.zoom / a.zoom)
    );
    let cx = format!("({}+{}*ld(0))*{sw}", num(a.x), num(b.x - a.x));
    let cy = format!("({}+{}*ld(0))*{sh}", num(a.y), num(b.y - a.y));
    let (hw, hh) = (num(sw as f64 / 2.0), num(sh as f64 / 2.0));
    let (left, right) = (format!("{pre}{cx}-{hw}/ld(1)"), format!("{pre}{cx}+{hw}/ld(1)"));
    let (top, bottom) = (format!("{pre}{cy}-{hh}/ld(1)"), format!("{pre}{cy}+{hh}/ld(1)"));
    Filter::new(Name::Perspective)
        .opt("x0", left.as_str())
        .opt("y0", top.as_str())
        .opt("x1", right.as_str())
        .opt("y1", top.as_str())
        .opt("x2", left.as_str())
        .opt("y2", bottom.as_str())
        .opt("x3", right.as_str())
        .opt("y3", bottom.as_str())
        .opt("interpolation", "linear")
        .opt("eval", "frame")
}

/// Whether a clip plays its own audio (read from a second, unseeked input; see [`Segment::audio`]).
pub(super) fn uses_own_audio(clip: &Clip, media: Option<&ClipMedia>) -> bool {
    matches!((clip, media), (Clip::Video(vc), Some(m)) if m.info.audio.is_some() && !vc.mute && vc.volume.0 > 0.0)
}

impl<'a> Segment<'a> {
    pub fn new(spec: &'a Spec, name: String, decoder_threads: u32, global: Vec<String>) -> Self {
        Segment { spec, name, decoder_threads, args: global, graph: Graph::default(), files: Vec::new(), inputs: 0 }
    }

    /// Number this run's inputs from `first` on (inputs before them are the caller's).
    pub fn first_input(mut self, first: usize) -> Self {
        self.inputs = first;
        self
    }

    /// Inputs opened so far, the caller's first ones included.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Open a concat list cutlist wrote (its entries only of the `formats` given) as the next input.
    pub fn concat_input(&mut self, list: &str, formats: &str) -> usize {
        self.args
            .arg2("-protocol_whitelist", "file")
            .arg2("-format_whitelist", formats)
            .arg2("-codec_whitelist", "png")
            .arg2("-f", "concat")
            .arg2("-safe", 0) // for its `option framerate` lines; the names are ours (see `ffconcat`)
            .arg2("-i", list);
        self.inputs += 1;
        self.inputs - 1
    }

    pub fn spec(&self) -> &'a Spec {
        self.spec
    }

    /// Open a PNG cutlist drew into the workspace as the next input. Returns its index.
    pub fn own_png_input(&mut self, file: &str) -> usize {
        self.args
            .arg2("-protocol_whitelist", "file")
            .arg2("-f", "png_pipe")
            .arg2("-codec_whitelist", "png")
            .arg2("-i", file);
        self.inputs += 1;
        self.inputs - 1
    }

    /// Open a segment's PCM cutlist wrote into the workspace as the next input. Returns its index.
    pub fn own_wav_input(&mut self, file: &str) -> usize {
        self.args
            .arg2("-protocol_whitelist", "file")
            .arg2("-f", "wav")
            .arg2("-codec_whitelist", "pcm_s16le")
            .arg2("-i", file);
        self.inputs += 1;
        self.inputs - 1
    }

    /// Open `media` as the next input, optionally from `seek` for `read` seconds. Returns its index.
    pub fn media_input(&mut self, media: &ClipMedia, seek: Option<f64>, read: Option<f64>) -> usize {
        guarded_input(&mut self.args, media, self.decoder_threads);
        if let Some(s) = seek {
            self.args.arg2("-ss", num(s));
        }
        if let Some(t) = read {
            self.args.arg2("-t", num(t));
        }
        self.args.arg2("-i", media.path.display());
        self.inputs += 1;
        self.inputs - 1
    }

    /// Source time of the part's first frame.
    fn source_time(&self, part: &Part) -> f64 {
        let fps = self.spec.output.fps;
        match part.clip {
            Clip::Video(v) => fps.seconds_at(fps.frame_at(v.in_)) + fps.seconds_at(part.from) * v.speed,
            _ => 0.0,
        }
    }

    /// Seconds of source the part plays (its length times the clip's speed).
    fn source_span(&self, part: &Part) -> f64 {
        let speed = match part.clip {
            Clip::Video(v) => v.speed,
            _ => 1.0,
        };
        self.spec.output.fps.seconds_at(part.frames) * speed
    }

    /// The picture of `part`, exactly `part.frames` frames at the output size, fps and
    /// pixel format, on pad `out`.
    pub fn video(&mut self, part: &Part, out: &str) {
        let o = &self.spec.output;
        let fps = o.fps.to_string();
        let bg = self.spec.timeline.background;
        let frames = part.frames;
        let tail =
            [Filter::new(Name::Trim).opt("end_frame", frames), Filter::new(Name::Format).opt("pix_fmts", "yuv420p")];
        let chain = match (part.clip, part.media) {
            (Clip::Color(c), _) => Chain::new(&[])
                .then(
                    Filter::new(Name::Color)
                        .opt("c", names::color(c.color))
                        .opt("s", format!("{}x{}", o.width, o.height))
                        .opt("r", fps),
                )
                .then_all(tail),
            (Clip::Image(im), Some(m)) => {
                let v = m.info.video.as_ref().expect("checked by the planner");
                let k = self.media_input(m, None, None);
                // Decode and fit the still once, then repeat that one frame (one spare repeat:
                // `fps` drops the last frame at the end of the stream; trim cuts exactly).
                // With motion, it is fitted at the size the closest view needs to map 1:1 to
                // the output, and a view moves over it (see `ken_burns`).
                let zoom = im.motion.map(|mo| mo.views()).map(|(a, b)| a.zoom.max(b.zoom)).unwrap_or(1.0);
                let (sw, sh) = (even(o.width as f64 * zoom), even(o.height as f64 * zoom));
                let mut fs = fit_filters(v, im.fit, sw, sh, bg);
                if v.is_hdr() {
                    fs.extend(tonemap_filters(v));
                }
                let mut c = Chain::new(&[&format!("{k}:v:0")])
                    .then(Filter::new(Name::Trim).opt("end_frame", 1u32))
                    .then_all(fs)
                    .then(Filter::new(Name::Format).opt("pix_fmts", "yuv420p"))
                    .then(Filter::new(Name::Loop).opt("loop", frames).opt("size", 1u32).opt("start", 0u32))
                    // On the output's frame time base (a PNG's 1/25 cannot hold every frame).
                    .then(Filter::new(Name::Settb).opt("expr", format!("{}/{}", o.fps.den, o.fps.num)))
                    .then(Filter::new(Name::Setpts).opt("expr", "N"))
                    .then(Filter::new(Name::Fps).opt("fps", fps.as_str()));
                if let Some(motion) = &im.motion {
                    let total = part.clip.frames(o.fps).unwrap_or(frames).max(2) - 1;
                    c = c
                        .then(ken_burns(motion, part.from, total, sw, sh))
                        .then(Filter::new(Name::Scale).opt("w", o.width).opt("h", o.height).opt("flags", "bicubic"))
                        .then(Filter::new(Name::Setsar).opt("r", 1u32));
                }
                c.then_all(tail)
            }
            (Clip::Video(vc), Some(m)) => {
                let v = m.info.video.as_ref().expect("checked by the planner");
                // Seek the video on the input (fast, and frame-exact when transcoding), read a
                // little more than needed; the graph trims to the exact frame. After the seek,
                // timestamps count from the seek point; anchoring `fps` at 0 keeps a source
                // frame that falls between output frames where it belongs.
                let k = self.media_input(m, Some(self.source_time(part)), Some(self.source_span(part) + 0.5));
                let mut chain = Chain::new(&[&format!("{k}:v:0")]);
                if vc.speed != 1.0 {
                    chain = chain.then(Filter::new(Name::Setpts).opt("expr", format!("PTS/{}", num(vc.speed))));
                }
                let mut chain = chain
                    .then(Filter::new(Name::Fps).opt("fps", fps).opt("start_time", 0u32))
                    .then_all(fit_filters(v, vc.fit, o.width, o.height, bg));
                if v.is_hdr() {
                    chain = chain.then_all(tonemap_filters(v));
                }
                // Pad with the last frame if the stream ends a little early (never more than the part).
                chain
                    .then(
                        Filter::new(Name::Tpad)
                            .opt("stop_mode", "clone")
                            .opt("stop_duration", o.fps.seconds_at(frames)),
                    )
                    .then_all(tail)
            }
            _ => unreachable!("media present for every clip with a source"),
        };
        self.graph.push(chain.to(out));
    }

    /// The sound of `part`: its clip's own audio or silence, exactly as many samples as its
    /// frames span on the output timeline, shaped at each end by `edges`, on pad `out`.
    pub fn audio(&mut self, part: &Part, edges: (Edge, Edge), out: &str) {
        let o = &self.spec.output;
        let (fps, rate) = (o.fps, o.audio.sample_rate);
        let samples = fps.sample_at(part.at + part.frames, rate) - fps.sample_at(part.at, rate);
        let mut chain = match part.clip {
            Clip::Video(vc) if uses_own_audio(part.clip, part.media) => {
                let m = part.media.expect("checked by uses_own_audio");
                // The same file again, unseeked, for its audio only: after an input seek FFmpeg
                // 5.1 misplaces AAC audio by up to a packet (10 ms measured); without one the
                // timestamps are exact. Trim by the source's own timestamps, then count from
                // the start; a source whose audio starts late gets silence in front.
                let start_s = self.source_time(part);
                let k = self.media_input(m, None, Some(start_s + self.source_span(part) + 0.5));
                let start = num(start_s);
                let mut c = Chain::new(&[&format!("{k}:a:0")])
                    .then(Filter::new(Name::Atrim).opt("start", start.as_str()))
                    .then(Filter::new(Name::Asetpts).opt("expr", format!("PTS-{start}/TB")))
                    .then(Filter::new(Name::Aresample).opt("osr", rate).opt("async", 1u32).opt("first_pts", 0u32))
                    // Planar float, as the sound encoders take it: shaped in s16, the join's
                    // sound was converted twice (0.2 s of W2's 2.2).
                    .then(Filter::new(Name::Aformat).opt("sample_fmts", "fltp").opt("channel_layouts", "stereo"));
                // Speed with the pitch kept: atempo takes 0.5–2 per stage.
                let mut left = vc.speed;
                while (left - 1.0).abs() > 1e-9 {
                    let stage = left.clamp(0.5, 2.0);
                    c = c.then(Filter::new(Name::Atempo).opt("tempo", stage));
                    left /= stage;
                }
                if vc.volume.0 != 1.0 {
                    c = c.then(Filter::new(Name::Volume).opt("volume", vc.volume.0));
                }
                c.then(Filter::new(Name::Apad)).then(Filter::new(Name::Atrim).opt("end_sample", samples))
            }
            _ => {
                // Silence needs no shaping.
                let c = Chain::new(&[])
                    .then(Filter::new(Name::Anullsrc).opt("r", rate).opt("cl", "stereo"))
                    .then(Filter::new(Name::Atrim).opt("end_sample", samples));
                self.graph.push(c.to(out));
                return;
            }
        };
        let fade = |t: &str, edge: Edge| {
            let n = match edge {
                Edge::Open => return None,
                Edge::Cut => CUT_FADE_SAMPLES.min(samples / 4),
                Edge::Cross => samples,
            };
            let start = if t == "in" { 0 } else { samples - n };
            (n > 0).then(|| Filter::new(Name::Afade).opt("t", t).opt("ss", start).opt("ns", n).opt("curve", "tri"))
        };
        chain = chain.then_all(fade("in", edges.0)).then_all(fade("out", edges.1));
        self.graph.push(chain.to(out));
    }

    /// The overlap of two clips: `a` is the end of the outgoing clip, `b` the start of the
    /// incoming one, equally long; the pictures blend as `t` says and the sounds crossfade;
    /// `b`'s sound ends as `end` says (a cut fade where the whole clip is the overlap).
    pub fn transition(&mut self, a: &Part, b: &Part, t: &Transition, (vout, aout): (&str, &str), end: Edge) {
        let d = a.frames;
        self.video(a, "ta");
        self.video(b, "tb");
        let chain = match names::xfade(t.kind) {
            Some(name) => Chain::new(&["ta", "tb"]).then(
                Filter::new(Name::Xfade)
                    .opt("transition", name)
                    .opt("duration", num(self.spec.output.fps.seconds_at(d)))
                    .opt("offset", 0u32),
            ),
            None => {
                debug_assert_eq!(t.kind, TransitionKind::Fade);
                // To the colour over the first half, from it over the second.
                let color = names::color(t.color.unwrap_or_default());
                let half = d / 2;
                self.graph.push(
                    Chain::new(&["ta"])
                        .then(
                            Filter::new(Name::Fade)
                                .opt("t", "out")
                                .opt("s", 0u32)
                                .opt("n", half.max(1))
                                .opt("color", color.as_str()),
                        )
                        .then(Filter::new(Name::Trim).opt("end_frame", half))
                        .to("fa"),
                );
                self.graph.push(
                    Chain::new(&["tb"])
                        .then(Filter::new(Name::Trim).opt("start_frame", half))
                        .then(Filter::new(Name::Setpts).opt("expr", "PTS-STARTPTS"))
                        .then(
                            Filter::new(Name::Fade)
                                .opt("t", "in")
                                .opt("s", 0u32)
                                .opt("n", (d - half).max(1))
                                .opt("color", color.as_str()),
                        )
                        .to("fb"),
                );
                Chain::new(&["fa", "fb"]).then(Filter::new(Name::Concat).opt("n", 2u32).opt("v", 1u32).opt("a", 0u32))
            }
        };
        // xfade in FFmpeg 5.1 lets a frame more through behind an `fps` filter: trim exactly.
        self.graph.push(chain.then(Filter::new(Name::Trim).opt("end_frame", d)).to(vout));

        self.audio(a, (Edge::Open, Edge::Cross), "xa");
        self.audio(b, (Edge::Cross, end), "xb");
        let samples = self.spec.output.fps.sample_at(a.at + d, self.spec.output.audio.sample_rate)
            - self.spec.output.fps.sample_at(a.at, self.spec.output.audio.sample_rate);
        self.graph.push(
            Chain::new(&["xa", "xb"])
                .then(Filter::new(Name::Amix).opt("inputs", 2u32).opt("normalize", 0u32).opt("duration", "longest"))
                .then(Filter::new(Name::Atrim).opt("end_sample", samples))
                .to(aout),
        );
    }
}
