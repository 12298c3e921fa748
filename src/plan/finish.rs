//! The runs after the segments: the join (video copied, the sound mixed and encoded once,
//! soft subtitles muxed; a loudness measuring pass first when there is a target), the GIF's
//! two palette passes, and the poster and thumbnail.

use super::graph::{self, Chain, Filter, Graph, Name};
use super::segment::{ArgsExt, Edge, Part, Segment};
use super::{ffconcat, EncoderSettings, ListEntry};
use super::{global_args, global_args_at, mix, segment_name, Assets, Capture, ScriptFile, Step};
use crate::spec::timing::Layout;
use crate::spec::{AudioCodec, Container, Output, Spec, ValidationErrors, VideoCodec};
use crate::text::TextImages;
use serde::Serialize;

/// Which picture of the output a still is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StillKind {
    Poster,
    Thumbnail,
}

impl StillKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StillKind::Poster => "poster",
            StillKind::Thumbnail => "thumbnail",
        }
    }

    /// Its part of the default name beside the output (`out.poster.jpg`, `out.thumb.jpg`).
    pub fn suffix(self) -> &'static str {
        match self {
            StillKind::Poster => "poster",
            StillKind::Thumbnail => "thumb",
        }
    }

    /// What the spec says of it.
    pub fn of(self, o: &Output) -> Option<&crate::spec::Still> {
        match self {
            StillKind::Poster => o.poster.as_ref(),
            StillKind::Thumbnail => o.thumbnail.as_ref(),
        }
    }
}

/// A picture of one frame of the output (poster, thumbnail), made in the workspace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StillFile {
    pub kind: StillKind,
    /// Its name in the workspace.
    pub name: String,
}

/// The list of segment files of one kind, for the concat demuxer.
fn segment_list(name: &str, segments: usize, ext: &str) -> ScriptFile {
    let names: Vec<String> = (0..segments).map(|i| segment_name(i, ext)).collect();
    ScriptFile::text(name, ffconcat(names.iter().map(|n| (n.as_str(), None)), None))
}

/// Open a concat list cutlist wrote (of files in the workspace) as the next input.
fn concat_input(args: &mut Vec<String>, list: &str) {
    // One decoder thread: FFmpeg's automatic count follows the host's cores, not the budget.
    args.arg2("-protocol_whitelist", "file").arg2("-f", "concat").arg2("-safe", 1).arg2("-threads", 1).arg2("-i", list);
}

/// One piece of the main track's sound for the join.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum SoundEntry {
    /// A segment's PCM (`seg_NNNN.wav`).
    Segment(String),
    /// A copied clip's own sound, read whole from its source and shaped as a segment's would be.
    Clip(usize),
}

/// Where the main track's pictures and sound come from for the join.
pub(super) struct Main {
    /// The pictures, piece by piece: segments cutlist encoded, sources' packets copied.
    pub video: Vec<ListEntry>,
    pub sound: Vec<SoundEntry>,
    /// Copied and re-encoded pieces (or copied clips coded differently) in one stream: the
    /// parameter sets go into the stream before each keyframe, the sample entry is `avc3`.
    pub in_band: bool,
}

/// The main track's sound as a run reads it: the inputs to open (numbered from the run's
/// `first`), the graph that shapes it (none for segments), the pad it ends on, how many
/// inputs it opened, the files it needs.
struct Sound {
    args: Vec<String>,
    graph: Graph,
    pad: String,
    inputs: usize,
    files: Vec<ScriptFile>,
}

impl Main {
    fn segments_only(&self) -> bool {
        self.video.iter().all(|e| matches!(e, ListEntry::Workspace { .. }))
    }

    /// The clips whose sound the join decodes from their sources.
    fn clips_from_source(&self) -> impl Iterator<Item = usize> + '_ {
        self.sound.iter().filter_map(|e| match e {
            SoundEntry::Clip(i) => Some(*i),
            SoundEntry::Segment(_) => None,
        })
    }

    /// The concat list of the pictures.
    fn video_list(&self) -> ScriptFile {
        ScriptFile::text("video.ffconcat", super::ffconcat_entries(&self.video))
    }

    /// Open the list of the pictures as the next input: sources by their absolute paths
    /// (`-safe 0`), through the same demuxer whitelist as every source.
    fn video_input(&self, args: &mut Vec<String>) {
        if self.segments_only() {
            return concat_input(args, "video.ffconcat");
        }
        args.arg2("-protocol_whitelist", "file")
            .arg2("-format_whitelist", format!("concat,{}", crate::probe::FORMAT_WHITELIST))
            .arg2("-f", "concat")
            .arg2("-safe", 0)
            // Alike, the packets as they are: no Annex B conversion, which would put the
            // (one) parameter sets into every keyframe. In-band: exactly that conversion,
            // each piece bringing its own.
            .arg2("-auto_convert", self.in_band as u8)
            .arg2("-i", "video.ffconcat");
    }

    /// The main track's sound, its inputs numbered from `first`: the segments' PCM through a
    /// concat list; or, with clips copied, each copied clip's own sound from its source,
    /// shaped as a segment's would be (trimmed to its frames' samples, 5 ms edges), between
    /// the segments' PCM, concatenated.
    fn sound(&self, spec: &Spec, layout: &Layout, assets: &Assets, decoder_threads: u32, first: usize) -> Sound {
        if self.sound.iter().all(|e| matches!(e, SoundEntry::Segment(_))) {
            let mut args = Vec::new();
            concat_input(&mut args, "audio.ffconcat");
            let names = self.sound.iter().filter_map(|e| match e {
                SoundEntry::Segment(n) => Some((n.as_str(), None)),
                SoundEntry::Clip(_) => None,
            });
            return Sound {
                args,
                graph: Graph::default(),
                pad: format!("{first}:a:0"),
                inputs: 1,
                files: vec![ScriptFile::text("audio.ffconcat", ffconcat(names, None))],
            };
        }
        let mut seg = Segment::new(spec, "sound".into(), decoder_threads, Vec::new()).first_input(first);
        let clips = &spec.main_track().clips;
        let mut labels = Vec::new();
        for (n, entry) in self.sound.iter().enumerate() {
            match entry {
                SoundEntry::Segment(name) => {
                    let k = seg.own_wav_input(name);
                    labels.push(format!("{k}:a:0"));
                }
                SoundEntry::Clip(i) => {
                    let (clip, span) = (&clips[*i], layout.clips[*i]);
                    let media = clip.src().and_then(|s| assets.get(s));
                    let part = Part { clip, media, from: 0, frames: span.frames, at: span.start };
                    let label = format!("a{n}");
                    seg.audio(&part, (Edge::Cut, Edge::Cut), &label);
                    labels.push(label);
                }
            }
        }
        let pads: Vec<&str> = labels.iter().map(String::as_str).collect();
        seg.graph.push(
            Chain::new(&pads)
                .then(Filter::new(Name::Concat).opt("n", pads.len()).opt("v", 0u32).opt("a", 1u32))
                .to("sound"),
        );
        let inputs = seg.inputs() - first;
        Sound { args: seg.args, graph: seg.graph, pad: "sound".into(), inputs, files: seg.files }
    }
}

/// GIF: two passes over the joined segments, a palette made for this video, then the GIF.
pub(super) fn gif_steps(segments: usize, seg_ext: &str, total: u64, output: &str) -> Vec<Step> {
    let mut palette = global_args();
    concat_input(&mut palette, "video.ffconcat");
    let palettegen = Graph { chains: vec![Chain::new(&[]).then(Filter::new(Name::Palettegen))] };
    palette
        .arg2("-vf", palettegen.to_string().trim())
        .arg2("-frames:v", 1)
        .arg2("-update", 1)
        .arg2("-f", "image2")
        .arg("palette.png");
    let mut gif = global_args();
    concat_input(&mut gif, "video.ffconcat");
    gif.arg2("-protocol_whitelist", "file").arg2("-f", "png_pipe").arg2("-i", "palette.png");
    let paletteuse = Chain::new(&["0:v", "1:v"])
        .then(Filter::new(Name::Paletteuse).opt("dither", "sierra2_4a").opt("diff_mode", "rectangle"));
    gif.arg2("-filter_complex", Graph { chains: vec![paletteuse] }.to_string().trim())
        .arg2("-loop", 0)
        .arg2("-f", "gif")
        .arg(output);
    vec![
        Step {
            label: "making the GIF's palette".into(),
            args: palette,
            files: vec![segment_list("video.ffconcat", segments, seg_ext)],
            frames: total,
            encodes_video: false,
            capture: None,
            decodes: vec![],
            concurrent: false,
        },
        Step {
            label: "writing the GIF".into(),
            args: gif,
            files: vec![],
            frames: total,
            encodes_video: true,
            capture: None,
            decodes: vec![],
            concurrent: false,
        },
    ]
}

/// MP4 and WebM: (a loudness measuring pass, then) the join: video by stream copy, the
/// sound mixed and encoded once over the whole timeline, soft subtitles muxed.
pub(super) fn join_steps(
    spec: &Spec,
    layout: &Layout,
    assets: &Assets,
    texts: &TextImages,
    encoder: &EncoderSettings,
    main: &Main,
    output: &str,
) -> Result<Vec<Step>, crate::error::Error> {
    let o = &spec.output;
    let (rate, total) = (o.audio.sample_rate, layout.total);
    let invalid = |e| crate::error::Error::InvalidSpec(ValidationErrors(e));
    let dt = encoder.decoder_threads;
    let mut steps = Vec::new();
    // The main track's sources, when the runs below decode their sound (their errors are
    // reported).
    let decodes = || -> Vec<(String, String)> {
        let clips = &spec.main_track().clips;
        main.clips_from_source()
            .filter_map(|i| Some((format!("timeline.tracks[0].clips[{i}].src"), clips[i].src()?.to_string())))
            .collect()
    };

    // The join's inputs: the pictures (0), the main track's sound (from 1), the mix's.
    let sound = main.sound(spec, layout, assets, dt, 1);
    // The mix (audio tracks over the main track's sound), checked against the media.
    let join_mix = mix::mix(spec, layout, assets, &sound.pad, 1 + sound.inputs, dt).map_err(invalid)?;

    // Loudness, first pass: the same mix, measured (audio only, nothing written).
    if let (Some(_), Some(_)) = (&o.loudness, &join_mix) {
        let s = main.sound(spec, layout, assets, dt, 0);
        let m = mix::mix(spec, layout, assets, &s.pad, s.inputs, dt)
            .map_err(invalid)?
            .expect("a mix exists when a loudness target is set");
        let mut g = s.graph;
        g.chains.extend(m.graph.chains);
        g.push(Chain::new(&["mix"]).then(mix::loudness_meter()).to("out"));
        let mut args = global_args_at("info");
        args.extend(s.args);
        args.extend(m.args);
        args.arg2("-filter_complex_script", "measure.graph").arg2("-map", "[out]").arg2("-f", "null").arg("-");
        let mut files = s.files;
        files.push(ScriptFile::graph("measure.graph", g));
        steps.push(Step {
            label: "measuring the loudness of the mix".into(),
            args,
            files,
            frames: total,
            encodes_video: false,
            capture: Some(Capture::Loudness),
            decodes: decodes(),
            concurrent: false,
        });
    }

    let mut args = global_args();
    main.video_input(&mut args);
    args.extend(sound.args);
    let mut files = vec![main.video_list()];
    files.extend(sound.files);
    // Inputs first (FFmpeg reads options before an -i as that input's), then the mapping.
    let mut maps: Vec<String> = Vec::new();
    let mut next_input = 1 + sound.inputs;
    match join_mix {
        Some(m) => {
            next_input += m.args.iter().filter(|a| *a == "-i").count();
            args.extend(m.args);
            // The loudness correction awaits the first pass's measurement (see `render`).
            let mut fin = Chain::new(&["mix"]);
            if o.loudness.is_some() {
                fin = fin.then(mix::loudness_pending());
            }
            let fin = fin
                .then(Filter::new(Name::Aresample).opt("osr", rate))
                .then(Filter::new(Name::Aformat).opt("sample_rates", rate).opt("channel_layouts", "stereo"))
                .to("aout");
            let mut g = sound.graph;
            g.chains.extend(m.graph.chains);
            g.push(fin);
            files.push(ScriptFile::graph("mix.graph", g));
            maps.arg2("-filter_complex_script", "mix.graph").arg2("-map", "0:v:0").arg2("-map", "[aout]");
        }
        None if sound.graph.chains.is_empty() => {
            maps.arg2("-map", "0:v:0").arg2("-map", &sound.pad);
        }
        None => {
            files.push(ScriptFile::graph("mix.graph", sound.graph));
            maps.arg2("-filter_complex_script", "mix.graph")
                .arg2("-map", "0:v:0")
                .arg2("-map", format!("[{}]", sound.pad));
        }
    }
    // Soft subtitles: each captions track that asks, as a timed-text (mov_text) stream.
    let mut soft = false;
    for (ti, track) in spec.timeline.tracks.iter().enumerate() {
        let crate::spec::Track::Captions(c) = track else { continue };
        let Some(images) = texts.captions.get(&ti).filter(|_| c.soft) else { continue };
        let name = format!("captions_{ti}.srt");
        files.push(ScriptFile::text(name.clone(), crate::captions::to_srt(&images.cues)));
        args.arg2("-protocol_whitelist", "file").arg2("-format_whitelist", "srt").arg2("-f", "srt").arg2("-i", &name);
        maps.arg2("-map", format!("{next_input}:s:0"));
        next_input += 1;
        soft = true;
    }
    if soft {
        maps.arg2("-c:s", "mov_text");
    }
    args.extend(maps);
    args.arg2("-c:v", "copy");
    if o.video_codec() == VideoCodec::Libx265 {
        args.arg2("-tag:v", "hvc1"); // Apple players want hvc1, not hev1
    } else if main.in_band {
        args.arg2("-tag:v", "avc3"); // parameter sets in the stream, as each piece brought them
    }
    match o.audio_codec() {
        Some(AudioCodec::Opus) => args.arg2("-c:a", "libopus"),
        _ => args.arg2("-c:a", "aac"),
    };
    args.arg2("-b:a", o.audio.bitrate)
        .arg2("-ar", rate)
        .arg2("-ac", o.audio.channels)
        .arg2("-map_metadata", -1)
        .arg2("-map_chapters", -1);
    if o.faststart && o.format == Container::Mp4 {
        args.arg2("-movflags", "+faststart");
    }
    args.arg2("-f", if o.format == Container::Webm { "webm" } else { "mp4" }).arg(output);
    steps.push(Step {
        label: match (main.segments_only(), main.video.iter().any(|e| matches!(e, ListEntry::Workspace { .. }))) {
            (true, _) => "joining segments".into(),
            (false, false) => "joining the copied clips and mixing the sound".into(),
            (false, true) => "joining the copied and re-encoded pieces and mixing the sound".into(),
        },
        args,
        files,
        frames: total,
        encodes_video: false,
        capture: None,
        decodes: decodes(),
        concurrent: false,
    });
    Ok(steps)
}

/// Poster and thumbnail: one frame each, from the finished file (an exact seek to half a
/// frame before the asked frame, so rounding never skips it).
pub(super) fn still_steps(o: &Output, total: u64, output: &str, steps: &mut Vec<Step>) -> Vec<StillFile> {
    let mut stills = Vec::new();
    for (kind, default_width) in [(StillKind::Poster, o.width), (StillKind::Thumbnail, 320)] {
        let Some(st) = kind.of(o) else { continue };
        let frame = o.fps.frame_at(st.time).min(total.saturating_sub(1));
        let seek = (o.fps.seconds_at(frame) - 0.5 / o.fps.as_f64()).max(0.0);
        let ext = st
            .path
            .as_deref()
            .and_then(|p| std::path::Path::new(p).extension())
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let name = format!("{}.{}", kind.as_str(), if ext.as_deref() == Some("png") { "png" } else { "jpg" });
        let width = st.width.unwrap_or(default_width);
        let scale = Filter::new(Name::Scale).opt("w", width).opt("h", -2i64).opt("flags", "bicubic");
        let mut args = global_args();
        args.arg2("-protocol_whitelist", "file")
            .arg2("-ss", graph::num(seek))
            .arg2("-threads", 1)
            .arg2("-i", output)
            .arg2("-vf", Graph { chains: vec![Chain::new(&[]).then(scale)] }.to_string().trim())
            .arg2("-frames:v", 1)
            .arg2("-q:v", 2)
            .arg2("-update", 1)
            .arg2("-f", "image2")
            .arg(&name);
        steps.push(Step {
            label: format!("making the {}", kind.as_str()),
            args,
            files: vec![],
            frames: 1,
            encodes_video: false,
            capture: None,
            decodes: vec![],
            concurrent: false,
        });
        stills.push(StillFile { kind, name });
    }
    stills
}
