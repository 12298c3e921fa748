//! Planner tests: snapshots of whole plans, and the invariants every plan keeps. No FFmpeg needed.

use super::copy::{ClipVideo, CopyPolicy};
use super::*;
use crate::probe::{AudioStream, MediaInfo, VideoStream};
use crate::spec;
use crate::text::TextImages;

const MIB: u64 = 1024 * 1024;

fn video(w: u32, h: u32, dur: f64) -> VideoStream {
    VideoStream {
        codec: "h264".into(),
        width: w,
        height: h,
        sar: (1, 1),
        rotation: 0,
        fps: Some(Rational::new(30, 1)),
        duration: Some(dur),
        pix_fmt: "yuv420p".into(),
        reorder: 0,
        color_transfer: None,
        color_primaries: None,
        color_space: None,
        still: false,
        frames: None,
        coding: Default::default(),
    }
}

fn media(path: &str, v: Option<VideoStream>, audio: bool) -> Option<ClipMedia> {
    let duration = v.as_ref().and_then(|v| v.duration);
    Some(ClipMedia {
        path: path.into(),
        info: MediaInfo {
            format: if v.as_ref().is_some_and(|v| v.still) { "image2".into() } else { "mov".into() },
            duration,
            size: 1000,
            streams: 1 + audio as usize,
            video: v,
            audio: audio.then(|| AudioStream { codec: "aac".into(), sample_rate: 44100, channels: 1, duration }),
        },
        packets: vec![],
    })
}

/// Assets for a spec's main-track clips, in clip order (`None` for clips without a source).
fn by_clip(s: &Spec, media: &[Option<ClipMedia>]) -> Assets {
    s.main_track().clips.iter().zip(media).filter_map(|(c, m)| Some((c.src()?.to_string(), m.clone()?))).collect()
}

/// A script file's text as planned.
fn contents(f: &ScriptFile) -> String {
    match &f.contents {
        Contents::Graph(g) => g.to_string(),
        Contents::Text(t) => t.clone(),
    }
}

fn spec(w: u32, h: u32, clips: &str) -> Spec {
    spec::parse(&format!(
        r##"{{"version":1,"id":"snap","output":{{"path":"out.mp4","width":{w},"height":{h},"fps":30}},
            "timeline":{{"background":"#102030","tracks":[{{"type":"video","clips":[{clips}]}}]}}}}"##
    ))
    .unwrap()
}

#[test]
fn three_kinds_of_clip() {
    let s = spec(
        1280,
        720,
        r##"{"type":"video","src":"a.mp4","in":1.02,"out":3.5,"volume":0.5},
           {"type":"image","src":"b.jpg","duration":2,"fit":"contain"},
           {"type":"color","color":"red","duration":1.0}"##,
    );
    let mut still = video(800, 600, 0.04);
    still.still = true;
    still.codec = "mjpeg".into();
    let m = vec![
        media("/ws/in/0.mp4", Some(video(1920, 1080, 10.0)), true),
        media("/ws/in/1.jpg", Some(still), false),
        None,
    ];
    let p = plan(&s, &by_clip(&s, &m), &TextImages::new(), &Budget::of(512 * MIB)).unwrap();
    // 1.02 s snaps to frame 31, 3.5 s to frame 105: 74 frames; 60; 30.
    assert_eq!(p.clips.iter().map(|c| c.frames).collect::<Vec<_>>(), vec![74, 60, 30]);
    assert_eq!(p.expected.frames, 164);
    assert_eq!(p.expected.samples, 164 * 1600);
    insta::assert_json_snapshot!(p);
}

#[test]
fn phone_portrait_cover_into_vertical() {
    let s = spec(1080, 1920, r##"{"type":"video","src":"p.mp4","in":0,"out":2}"##);
    let mut v = video(1920, 1080, 8.0);
    v.rotation = 270;
    let p = plan(&s, &by_clip(&s, &[media("/ws/in/p.mp4", Some(v), true)]), &TextImages::new(), &Budget::of(512 * MIB))
        .unwrap();
    let graph = &contents(&p.steps[0].files[0]);
    // Already the right shape once upright: no crop, just scale.
    assert!(!graph.contains("crop="), "{graph}");
    assert!(graph.contains("scale=w=1080:h=1920"), "{graph}");
}

#[test]
fn landscape_cover_into_vertical_crops_the_centre() {
    let s = spec(1080, 1920, r##"{"type":"video","src":"a.mp4","in":2,"out":6}"##);
    let p = plan(
        &s,
        &by_clip(&s, &[media("/ws/a.mp4", Some(video(1920, 1080, 8.0)), true)]),
        &TextImages::new(),
        &Budget::of(512 * MIB),
    )
    .unwrap();
    let graph = &contents(&p.steps[0].files[0]);
    assert!(graph.contains("crop=w=608:h=1080:x=656:y=0"), "{graph}");
}

#[test]
fn contain_pads_with_the_background() {
    let s = spec(640, 360, r##"{"type":"video","src":"a.mp4","out":1,"fit":"contain"}"##);
    let p = plan(
        &s,
        &by_clip(&s, &[media("/ws/a.mp4", Some(video(480, 640, 8.0)), false)]),
        &TextImages::new(),
        &Budget::of(512 * MIB),
    )
    .unwrap();
    let graph = &contents(&p.steps[0].files[0]);
    assert!(graph.contains("scale=w=270:h=360"), "{graph}");
    assert!(graph.contains("pad=w=640:h=360:x=184:y=0:color=0x102030"), "{graph}");
    // No audio stream: silence of exactly the clip's length.
    assert!(graph.contains("anullsrc=r=48000:cl=stereo,atrim=end_sample=48000"), "{graph}");
}

#[test]
fn hdr_is_tone_mapped() {
    let s = spec(1280, 720, r##"{"type":"video","src":"h.mp4","out":1}"##);
    let mut v = video(3840, 2160, 4.0);
    v.color_transfer = Some("smpte2084".into());
    v.codec = "hevc".into();
    let p = plan(&s, &by_clip(&s, &[media("/ws/h.mp4", Some(v), true)]), &TextImages::new(), &Budget::of(512 * MIB))
        .unwrap();
    let graph = &contents(&p.steps[0].files[0]);
    assert!(graph.contains("tonemap=tonemap=hable"), "{graph}");
    assert!(graph.find("scale=").unwrap() < graph.find("zscale=").unwrap(), "tone-map after downscaling: {graph}");
}

#[test]
fn media_errors_name_the_clip() {
    let s =
        spec(320, 240, r##"{"type":"video","src":"a.mp4","in":0,"out":12},{"type":"video","src":"s.mp3","out":1}"##);
    let m = vec![media("/ws/a.mp4", Some(video(320, 240, 8.0)), true), media("/ws/s.mp3", None, true)];
    let crate::error::Error::InvalidSpec(e) =
        plan(&s, &by_clip(&s, &m), &TextImages::new(), &Budget::of(512 * MIB)).unwrap_err()
    else {
        panic!()
    };
    let paths: Vec<_> = e.0.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["timeline.tracks[0].clips[0].out", "timeline.tracks[0].clips[1].src"]);
    assert!(e.0[0].reason.contains("past the end of the media (8.000 s)"));
}

#[test]
fn out_defaults_to_the_end_of_the_media() {
    let s = spec(320, 240, r##"{"type":"video","src":"a.mp4","in":1}"##);
    let p = plan(
        &s,
        &by_clip(&s, &[media("/ws/a.mp4", Some(video(320, 240, 8.0)), true)]),
        &TextImages::new(),
        &Budget::of(512 * MIB),
    )
    .unwrap();
    assert_eq!(p.expected.frames, 210);
}

#[test]
fn every_segment_decodes_one_input_and_uses_allowlisted_filters() {
    let clips: Vec<String> =
        (0..40).map(|i| format!(r##"{{"type":"video","src":"c{i}.mp4","in":0.5,"out":1.5}}"##)).collect();
    let s = spec(1920, 1080, &clips.join(","));
    let m: Vec<_> = (0..40).map(|i| media(&format!("/ws/in/{i}.mp4"), Some(video(1920, 1080, 4.0)), true)).collect();
    let p = plan(&s, &by_clip(&s, &m), &TextImages::new(), &Budget::of(512 * MIB)).unwrap();
    assert_eq!(p.steps.len(), 41);
    for step in &p.steps[..40] {
        let inputs: Vec<&String> = step.args.windows(2).filter(|w| w[0] == "-i").map(|w| &w[1]).collect();
        assert!(!inputs.is_empty() && inputs.iter().all(|i| *i == inputs[0]), "one source per segment: {inputs:?}");
        assert!(step.args.windows(2).any(|w| w[0] == "-protocol_whitelist" && w[1] == "file"));
        assert!(step.args.windows(2).any(|w| w[0] == "-threads" && w[1] == "1"), "decoder threads pinned");
    }
    assert_eq!(p.expected.frames, 40 * 30);
    let last = p.steps.last().unwrap();
    assert!(last.args.windows(2).any(|w| w[0] == "-c:v" && w[1] == "copy"));
    // Filter names come only from the vocabulary, in the arguments and the script files alike.
    for step in &p.steps {
        let files: Vec<(String, String)> = step.files.iter().map(|f| (f.name.clone(), contents(f))).collect();
        let named: Vec<(&str, &str)> = files.iter().map(|(n, c)| (n.as_str(), c.as_str())).collect();
        graph::check_vocabulary(&step.args, &named).unwrap();
    }
}

#[test]
fn samples_track_frames_across_many_clips() {
    // 29.97 fps: clip sample counts vary, the total never drifts.
    let text = r##"{"version":1,"id":"ntsc","output":{"path":"o.mp4","width":320,"height":240,"fps":"30000/1001"},
        "timeline":{"tracks":[{"type":"video","clips":[CLIPS]}]}}"##;
    let clips: Vec<String> =
        (0..30).map(|_| r##"{"type":"color","color":"white","duration":0.7}"##.to_string()).collect();
    let s = spec::parse(&text.replace("CLIPS", &clips.join(","))).unwrap();
    let p = plan(&s, &by_clip(&s, &vec![None; 30]), &TextImages::new(), &Budget::of(512 * MIB)).unwrap();
    let total: u64 = p
        .steps
        .iter()
        .take(30)
        .map(|st| {
            let g = &contents(&st.files[0]);
            let at = g.rfind("end_sample=").unwrap() + "end_sample=".len();
            g[at..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse::<u64>().unwrap()
        })
        .sum();
    assert_eq!(total, p.expected.samples);
}

#[test]
fn over_budget_is_refused_with_advice() {
    let s = spec(3840, 2160, r##"{"type":"color","color":"red","duration":1}"##);
    let e = plan(&s, &by_clip(&s, &[None]), &TextImages::new(), &Budget::of(256 * MIB)).unwrap_err();
    assert!(matches!(e, crate::error::Error::MemoryBudget(ref m) if m.contains("limit is 256 MiB")), "{e}");
}

#[test]
fn transitions_overlap_clips_and_get_their_own_segments() {
    let s = spec(
        640,
        360,
        r##"{"type":"video","src":"a.mp4","in":0,"out":3},
           {"type":"video","src":"b.mp4","in":1,"out":3,"transition":{"type":"crossfade","duration":0.5}},
           {"type":"color","color":"blue","duration":2,"transition":{"type":"fade","color":"white","duration":1}}"##,
    );
    let m = vec![
        media("/ws/a.mp4", Some(video(640, 360, 8.0)), true),
        media("/ws/b.mp4", Some(video(640, 360, 8.0)), true),
        None,
    ];
    let p = plan(&s, &by_clip(&s, &m), &TextImages::new(), &Budget::of(512 * MIB)).unwrap();
    // 90 + 60 + 60 frames, less 15 and 30 of overlap.
    assert_eq!(p.expected.frames, 165);
    let starts: Vec<u64> = p.clips.iter().map(|c| c.start_frame).collect();
    assert_eq!(starts, vec![0, 75, 105]);
    // a body, a→b, b body, b→blue, blue body, join.
    let frames: Vec<u64> = p.steps.iter().map(|s| s.frames).collect();
    assert_eq!(frames, vec![75, 15, 15, 30, 30, 165]);
    let xfade = &contents(&p.steps[1].files[0]);
    assert!(xfade.contains("xfade=transition=fade:duration=0.5:offset=0"), "{xfade}");
    // Both clips' sound in the overlap, crossfaded; the a-side continues from a's body.
    assert!(xfade.contains("atrim=start=2.5"), "{xfade}");
    assert!(xfade.contains("amix=inputs=2:normalize=0"), "{xfade}");
    let inputs = p.steps[1].args.iter().filter(|a| *a == "-i").count();
    assert_eq!(inputs, 4, "two clips in play, each with its audio input");
    let fade = &contents(&p.steps[3].files[0]);
    assert!(fade.contains("fade=t=out:s=0:n=15:color=0xFFFFFF") || fade.contains("color=white"), "{fade}");
    assert!(fade.contains("concat=n=2:v=1:a=0"), "{fade}");
    // Bodies next to a transition continue seamlessly: no cut fade on that side.
    let body_a = &contents(&p.steps[0].files[0]);
    assert!(body_a.contains("afade=t=in") && !body_a.contains("afade=t=out"), "{body_a}");
    let samples: u64 = p.steps[..5]
        .iter()
        .map(|st| {
            let g = &contents(&st.files[0]);
            let at = g.rfind("end_sample=").unwrap() + "end_sample=".len();
            g[at..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse::<u64>().unwrap()
        })
        .sum();
    assert_eq!(samples, p.expected.samples);
}

#[test]
fn long_clips_run_in_chunks_where_cores_would_idle() {
    // 40 s alone, then 30 s with a 1 s crossfade into it.
    let s = spec(
        1280,
        720,
        r##"{"type":"video","src":"a.mp4","out":40},
           {"type":"video","src":"b.mp4","out":30,"transition":{"type":"crossfade","duration":1}}"##,
    );
    let m = vec![
        media("/ws/a.mp4", Some(video(1280, 720, 60.0)), true),
        media("/ws/b.mp4", Some(video(1280, 720, 60.0)), true),
    ];
    let assets = by_clip(&s, &m);
    let eight = Budget { cpus: 8, ..Budget::of(512 * MIB) };
    let p = plan(&s, &assets, &TextImages::new(), &eight).unwrap();
    assert_eq!((p.encoder.concurrency, p.encoder.threads), (2, 4), "{}", p.encoder.schedule);
    assert!(p.encoder.schedule.contains("chunks of ~10 s"), "{}", p.encoder.schedule);
    // a: 1170 frames (40 s less the 30 of b's blend) in 4 chunks; the blend; b's 870 after
    // it in 3.
    let frames: Vec<u64> = p.steps.iter().map(|s| s.frames).collect();
    assert_eq!(frames, vec![292, 293, 292, 293, 30, 290, 290, 290, 2070]);
    // The sound: each chunked clip's first chunk makes its own, the second the rest of the
    // clip's; later chunks make none.
    let wavs: Vec<bool> = p.steps[..8].iter().map(|st| st.args.iter().any(|a| a.ends_with(".wav"))).collect();
    assert_eq!(wavs, vec![true, true, false, false, true, true, true, false]);
    let samples = |k: usize| {
        let g = contents(p.steps[k].files.iter().find(|f| f.name.ends_with(".graph")).unwrap());
        let at = g.rfind("end_sample=").unwrap() + "end_sample=".len();
        g[at..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse::<u64>().unwrap()
    };
    assert_eq!([0, 1, 4, 5, 6].map(samples).iter().sum::<u64>(), p.expected.samples);
    // No fade where a chunk's sound meets the next; the seek of each chunk is its first frame.
    let g1 = contents(&p.steps[1].files[0]);
    assert!(!g1.contains("afade"), "{g1}");
    assert!(p.steps[2].args.windows(2).any(|w| w == ["-ss", "19.5"]), "{:?}", p.steps[2].args);
    assert!(p.steps[2].label.ends_with("frames 585–877"), "{}", p.steps[2].label);
    // One 1080p clip on 16 cores at 512 MiB: one run has 4 encoder threads; two chunks at
    // once would fit only with 2 each: no chunks.
    let one = spec(1920, 1080, r##"{"type":"video","src":"a.mp4","out":40}"##);
    let p =
        plan(&one, &by_clip(&one, &m[..1]), &TextImages::new(), &Budget { cpus: 16, ..Budget::of(512 * MIB) }).unwrap();
    assert_eq!((p.encoder.threads, p.steps.len()), (4, 2), "{}", p.encoder.schedule);
    // Two cores: one run of 2 threads keeps them busy, chunks would only cost.
    let two = plan(&s, &assets, &TextImages::new(), &Budget::of(512 * MIB)).unwrap();
    assert_eq!(two.steps.len(), 4);
    assert!(!two.encoder.schedule.contains("chunks"), "{}", two.encoder.schedule);
}

#[test]
fn a_transition_longer_than_its_clip_is_an_error_naming_it() {
    let s = spec(
        320,
        240,
        r##"{"type":"video","src":"a.mp4"},{"type":"color","color":"red","duration":2,"transition":{"type":"wipeleft","duration":1.5}}"##,
    );
    let m = vec![media("/ws/a.mp4", Some(video(320, 240, 1.0)), true), None];
    let crate::error::Error::InvalidSpec(e) =
        plan(&s, &by_clip(&s, &m), &TextImages::new(), &Budget::of(512 * MIB)).unwrap_err()
    else {
        panic!()
    };
    assert_eq!(e.0[0].path, "timeline.tracks[0].clips[1].transition.duration");
    assert!(e.0[0].reason.contains("longer than the clips"), "{}", e.0[0].reason);
}

#[test]
fn music_ducked_under_a_voice_track_and_normalized() {
    let s = spec::parse(
        r##"{"version":1,"id":"mix","output":{"path":"o.mp4","width":640,"height":360,"fps":30,
             "loudness":{"integrated":-16}},
             "timeline":{"tracks":[
               {"type":"video","clips":[{"type":"video","src":"a.mp4","out":10}]},
               {"type":"audio","id":"music","volume":"-6dB","duck":{"under":"vo","depth":12,"attack":0.2,"release":0.5},
                "clips":[{"src":"song.mp3","loop":true,"fade_in":1,"fade_out":2}]},
               {"type":"audio","id":"vo","clips":[{"src":"vo.wav","start":2,"in":0.5,"out":3.5},{"src":"vo.wav","start":7,"out":1}]}
             ]}}"##,
    )
    .unwrap();
    let mut assets = by_clip(&s, &[media("/ws/a.mp4", Some(video(640, 360, 12.0)), true)]);
    let audio_only = |path: &str, secs: f64| {
        let mut m = media(path, None, true).unwrap();
        m.info.duration = Some(secs);
        m.info.format = if path.ends_with("mp3") { "mp3".into() } else { "wav".into() };
        m.info.audio.as_mut().unwrap().duration = Some(secs);
        m
    };
    assets.insert("song.mp3".into(), audio_only("/ws/in/song.mp3", 4.0));
    assets.insert("vo.wav".into(), audio_only("/ws/in/vo.wav", 5.0));
    let p = plan(&s, &assets, &TextImages::new(), &Budget::of(512 * MIB)).unwrap();
    // A segment, the measuring pass, the join.
    assert_eq!(p.steps.len(), 3);
    assert_eq!(p.steps[1].capture, Some(Capture::Loudness));
    let join = p.steps.last().unwrap();
    let graph = &contents(join.files.iter().find(|f| f.name == "mix.graph").unwrap());
    assert!(graph.contains("volume=measured=pending"), "{graph}");
    // The whole song loops at the demuxer; the voice clips are delayed to their starts.
    assert!(join.args.windows(2).any(|w| w[0] == "-stream_loop" && w[1] == "-1"));
    assert!(graph.contains("adelay=delays=96000S:all=1"), "{graph}");
    assert!(graph.contains("adelay=delays=336000S:all=1"), "{graph}");
    // Ducked while the voice plays (2–5 s and 7–8 s), ramping 0.2 s before and 0.5 s after.
    assert!(graph.contains("clip((t-1.8)/0.2\\,0\\,1)") || graph.contains("clip((t-1.8)/0.2,0,1)"), "{graph}");
    assert!(graph.contains("amix=inputs=4:normalize=0:duration=first"), "{graph}");
    insta::assert_snapshot!(graph.as_str());
}

#[test]
fn overlays_and_captions_are_drawn_only_in_the_segments_they_span() {
    let s = spec::parse(
        r##"{"version":1,"id":"ov","output":{"path":"o.mp4","width":640,"height":360,"fps":30},
             "timeline":{"tracks":[
               {"type":"video","clips":[{"type":"color","color":"red","duration":2},
                                        {"type":"image","src":"s.png","duration":2,"motion":{"preset":"pan_left"},
                                         "transition":{"type":"crossfade","duration":0.5}}]},
               {"type":"overlay","items":[{"type":"text","text":"Hi","start":1,"duration":0.5,"fade_in":0.2},
                                          {"type":"image","src":"s.png","start":0,"duration":4,"width":0.1,"opacity":0.5}]},
               {"type":"captions","cues":[{"start":3,"end":3.4,"text":"late"}]}
             ]}}"##,
    )
    .unwrap();
    let mut still = video(800, 600, 0.04);
    still.still = true;
    let assets = by_clip(&s, &[None, media("/ws/s.png", Some(still), false)]);
    let mut texts = TextImages::new();
    texts.items.insert(
        spec::ItemRef { track: 1, item: 0 },
        crate::text::TextImage { file: "text_0000.png".into(), width: 60, height: 40 },
    );
    texts.captions.insert(
        2,
        crate::text::CaptionImages {
            width: 100,
            height: 50,
            blank: "cap2_blank.png".into(),
            states: vec![crate::text::CaptionState { start: 3.0, end: 3.4, file: "cap2_00000.png".into() }],
            cues: vec![(3.0, 3.4, "late".into())],
        },
    );
    let p = plan(&s, &assets, &texts, &Budget::of(512 * MIB)).unwrap();
    // red body [0, 45), crossfade [45, 60), still body [60, 105), join.
    let frames: Vec<u64> = p.steps.iter().map(|s| s.frames).collect();
    assert_eq!(frames, vec![45, 15, 45, 105]);
    let graph = |k: usize| p.steps[k].files.iter().find(|f| f.name.ends_with(".graph")).map(contents).unwrap();
    // The text (frames 30–45) only in the first segment; the logo everywhere; the caption
    // (frames 90–102) only in the last, through a concat list of its pictures.
    assert!(graph(0).contains("text_0000.png") || p.steps[0].args.iter().any(|a| a == "text_0000.png"));
    assert!(
        !p.steps[1].args.iter().any(|a| a == "text_0000.png") && !p.steps[2].args.iter().any(|a| a == "text_0000.png")
    );
    assert!(p.steps[..3].iter().all(|st| st.args.iter().filter(|a| *a == "/ws/s.png").count() >= 1));
    let list = p.steps[2].files.iter().find(|f| f.name.ends_with(".ffconcat")).expect("a captions list");
    assert_eq!(contents(list), "ffconcat version 1.0\nfile 'cap2_blank.png'\noption framerate 30/1\nduration 0.999900\nfile 'cap2_00000.png'\noption framerate 30/1\nduration 0.400000\nfile 'cap2_blank.png'\noption framerate 30/1\nduration 0.100000\n");
    assert!(!p.steps[0].files.iter().any(|f| f.name.ends_with(".ffconcat")));
    insta::assert_snapshot!(graph(2));
}

/// Every output kind's runs, as snapshots: H.265, VP9/WebM, GIF, poster and thumbnail, soft
/// subtitles (H.264 and the loudness passes are in the tests above).
#[test]
fn every_output_kind() {
    let kinds = [
        ("h265", r#""path":"o.mp4","video":{"codec":"libx265","preset":"medium","crf":28}"#, ""),
        ("vp9_webm", r#""path":"o.webm","format":"webm","audio":{"bitrate":96000}"#, ""),
        ("gif", r#""path":"o.gif","format":"gif""#, ""),
        ("stills", r#""path":"o.mp4","poster":{"time":0.5},"thumbnail":{"time":1,"path":"t.png","width":160}"#, ""),
        (
            "soft_subtitles",
            r#""path":"o.mp4""#,
            r#",{"type":"captions","soft":true,"cues":[{"start":0.2,"end":0.9,"text":"hi"}]}"#,
        ),
    ];
    for (name, output, tracks) in kinds {
        let s = spec::parse(&format!(
            r#"{{"version":1,"id":"kind","output":{{{output},"width":320,"height":240,"fps":30}},
                "timeline":{{"tracks":[{{"type":"video","clips":[{{"type":"video","src":"a.mp4","out":1}}]}}{tracks}]}}}}"#
        ))
        .unwrap();
        let assets = by_clip(&s, &[media("/ws/in/a.mp4", Some(video(640, 480, 2.0)), true)]);
        let mut texts = TextImages::new();
        if tracks.contains("captions") {
            texts.captions.insert(
                1,
                crate::text::CaptionImages {
                    width: 100,
                    height: 40,
                    blank: "cap1_blank.png".into(),
                    states: vec![crate::text::CaptionState { start: 0.2, end: 0.9, file: "cap1_00000.png".into() }],
                    cues: vec![(0.2, 0.9, "hi".into())],
                },
            );
        }
        let p = plan(&s, &assets, &texts, &Budget::of(512 * MIB)).unwrap();
        assert_eq!(p.expected.frames, 30, "{name}");
        for step in &p.steps {
            let files: Vec<(String, String)> = step.files.iter().map(|f| (f.name.clone(), contents(f))).collect();
            let named: Vec<(&str, &str)> = files.iter().map(|(n, c)| (n.as_str(), c.as_str())).collect();
            graph::check_vocabulary(&step.args, &named).unwrap();
        }
        insta::assert_json_snapshot!(format!("output_kind_{name}"), (&p.expected, &p.steps, &p.stills));
    }
}

/// A source coded as cutlist's output would be: copyable when whole and untouched.
fn copyable(w: u32, h: u32, frames: u64, extradata: &str) -> VideoStream {
    let mut v = video(w, h, frames as f64 / 30.0);
    v.frames = Some(frames);
    v.coding = crate::probe::Coding {
        id: Some(1),
        profile: Some("High".into()),
        level: Some(40),
        time_base: Some("1/15360".into()),
        field_order: Some("progressive".into()),
        extradata: Some(extradata.into()),
        constant_rate: true,
        start_time: Some(0.0),
        ..Default::default()
    };
    v
}

#[test]
fn whole_clips_coded_as_the_output_are_stream_copied() {
    let clips = r#"{"type":"video","src":"a.mp4"},{"type":"video","src":"b.mp4"},{"type":"video","src":"c.mp4"}"#;
    let s = spec(1920, 1080, clips);
    let m = vec![
        media("/ws/a.mp4", Some(copyable(1920, 1080, 240, "MD5:1")), true),
        media("/proc/7/fd/9", Some(copyable(1920, 1080, 90, "MD5:1")), false),
        media("/ws/it's.mp4", Some(copyable(1920, 1080, 30, "MD5:1")), true),
    ];
    let p = plan(&s, &by_clip(&s, &m), &TextImages::new(), &Budget::of(512 * MIB)).unwrap();
    assert!(p.clips.iter().all(|c| c.video == ClipVideo::Copied), "{:?}", p.clips);
    assert_eq!(p.expected.frames, 360);
    // One run: the join, copying the pictures and reading the clips' sound itself.
    assert_eq!(p.steps.len(), 1, "{:?}", p.steps.iter().map(|s| &s.label).collect::<Vec<_>>());
    assert!(!p.steps[0].encodes_video);
    let list = p.steps[0].files.iter().find(|f| f.name == "video.ffconcat").unwrap();
    assert_eq!(
        contents(list),
        "ffconcat version 1.0\nstream\nexact_stream_id 1\nfile '/ws/a.mp4'\ninpoint 0.000000\nduration 8.000000\nfile '/proc/7/fd/9'\ninpoint 0.000000\nduration 3.000000\nfile '/ws/it'\\''s.mp4'\ninpoint 0.000000\nduration 1.000000\n"
    );
    let join = p.steps[0].args.join(" ");
    assert!(
        join.contains("-f concat -safe 0 -auto_convert 0 -i video.ffconcat") && join.contains("-c:v copy"),
        "{join}"
    );
    assert!(join.contains("-format_whitelist concat,mov,mp4"), "{join}");
    assert!(join.contains("-map 0:v:0 -map [sound]"), "{join}");
    // Its decoding errors are reported against the clips whose sound it decodes.
    assert_eq!(p.steps[0].decodes.len(), 3);
    let sound = contents(p.steps[0].files.iter().find(|f| f.name == "mix.graph").unwrap());
    assert!(sound.contains("concat=n=3:v=0:a=1[sound]"), "{sound}");
    // The clips' sound comes from inputs 1 and 2 (input 0 is the pictures); a clip without
    // sound is silence of its exact length.
    assert!(sound.contains("[1:a:0]atrim") && sound.contains("[2:a:0]atrim"), "{sound}");
    assert!(sound.contains("anullsrc=r=48000:cl=stereo,atrim=end_sample=144000[a1]"), "{sound}");

    // One clip that must change keeps every clip from being copied, each saying why.
    let reasons = |clips: &str, m: &[Option<ClipMedia>], copy| {
        let s = spec(1920, 1080, clips);
        let budget = Budget { copy, ..Budget::of(512 * MIB) };
        let p = plan(&s, &by_clip(&s, m), &TextImages::new(), &budget).unwrap();
        p.clips
            .iter()
            .map(|c| match &c.video {
                ClipVideo::Copied => "copied".to_string(),
                ClipVideo::SmartCut { head_frames, tail_frames } => format!("smart cut {head_frames}+{tail_frames}"),
                ClipVideo::Encoded { because } => because.clone(),
            })
            .collect::<Vec<_>>()
    };
    // Without their packets read, a cut clip and the clips beside it are re-encoded: a cut
    // needs its keyframes, copied pieces beside re-encoded ones their reordering delay.
    let cut = r#"{"type":"video","src":"a.mp4"},{"type":"video","src":"b.mp4","in":1},{"type":"video","src":"c.mp4"}"#;
    assert_eq!(reasons(cut, &m, CopyPolicy::Auto), ["its packets were not read"; 3]);
    let mut other = m.clone();
    other[2] = media("/ws/c.mp4", Some(copyable(1920, 1080, 30, "MD5:2")), true);
    // Other parameter sets: joined with each clip's own in the stream, which needs the packets.
    assert_eq!(reasons(clips, &other, CopyPolicy::Auto), ["its packets were not read"; 3]);
    for (i, m) in other.iter_mut().enumerate() {
        let len = [240, 90, 30][i];
        m.as_mut().unwrap().packets = vec![window(0.0, None, len, 30, 2)];
    }
    assert_eq!(reasons(clips, &other, CopyPolicy::Auto), ["copied"; 3]);
    other[2] = media("/ws/c.mp4", Some(copyable(1280, 720, 30, "MD5:1")), true);
    assert_eq!(reasons(clips, &other, CopyPolicy::Auto)[2], "size differs: 1280×720, the output 1920×1080");
    assert_eq!(reasons(clips, &m, CopyPolicy::Never)[0], "stream copy is off (--copy never)");
}

/// The packets of a whole source of `frames` frames at 30 fps on 1/15360: a keyframe every
/// `gop`, decoded `delay` frames before shown (in showing order, which is enough here).
fn window(from: f64, to: Option<f64>, frames: u64, gop: u64, delay: i64) -> crate::probe::PacketWindow {
    let packets = (0..frames as i64)
        .map(|f| crate::probe::Packet { pts: f * 512, dts: (f - delay) * 512, key: f as u64 % gop == 0 })
        .collect();
    crate::probe::PacketWindow { from, to, time_base: Rational::new(1, 15360), packets }
}

#[test]
fn clips_cut_between_keyframes_are_smart_cut() {
    let clips = r#"{"type":"video","src":"a.mp4","in":2.1,"out":6.3},{"type":"video","src":"b.mp4"},
        {"type":"video","src":"c.mp4","in":2,"out":6}"#;
    let s = spec(1920, 1080, clips);
    let with = |path: &str, level: i64, windows: Vec<crate::probe::PacketWindow>| {
        let mut v = copyable(1920, 1080, 240, "MD5:1");
        v.coding.level = Some(level);
        let mut m = media(path, Some(v), true).unwrap();
        m.packets = windows;
        Some(m)
    };
    let m = vec![
        with("/ws/a.mp4", 40, vec![window(2.1, Some(6.3), 240, 30, 2)]),
        with("/ws/b.mp4", 40, vec![window(0.0, None, 240, 30, 2)]),
        with("/ws/c.mp4", 40, vec![window(2.0, Some(6.0), 240, 30, 2)]),
    ];
    let p = plan(&s, &by_clip(&s, &m), &TextImages::new(), &Budget::of(512 * MIB)).unwrap();
    // [2.1 s, 6.3 s) = frames [63, 189): keyframes at 90 and 180; 27 + 9 frames re-encoded.
    assert_eq!(p.clips[0].video, ClipVideo::SmartCut { head_frames: 27, tail_frames: 9 });
    assert_eq!(p.clips[1].video, ClipVideo::Copied);
    assert_eq!(p.clips[2].video, ClipVideo::Copied, "cut on keyframes: copied whole");
    assert_eq!(p.expected.frames, 126 + 240 + 120);
    let labels: Vec<&str> = p.steps.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "re-encoding the start of timeline.tracks[0].clips[0] (27 frames, smart cut)",
            "re-encoding the end of timeline.tracks[0].clips[0] (9 frames, smart cut)",
            "joining the copied and re-encoded pieces and mixing the sound"
        ]
    );
    // The re-encoded ends match the copied pieces and are written on their time base.
    let head = p.steps[0].args.join(" ");
    for want in [
        "-profile:v high -level:v 40",
        "bframes=3:b-pyramid=normal",
        "-video_track_timescale 15360 -f mp4 seg_0000.mp4",
    ] {
        assert!(head.contains(want), "{want}: {head}");
    }
    assert!(!head.contains(".wav"), "a smart cut's sound is read whole from its source: {head}");
    let list = contents(p.steps[2].files.iter().find(|f| f.name == "video.ffconcat").unwrap());
    assert_eq!(
        list,
        "ffconcat version 1.0\nstream\nexact_stream_id 1\nfile 'seg_0000.mp4'\nduration 0.900000\nfile '/ws/a.mp4'\ninpoint 3.000000\noutpoint 5.916667\nduration 3.000000\n\
         file 'seg_0001.mp4'\nduration 0.300000\nfile '/ws/b.mp4'\ninpoint 0.000000\nduration 8.000000\n\
         file '/ws/c.mp4'\ninpoint 2.000000\noutpoint 5.916667\nduration 4.000000\n"
    );
    let join = p.steps[2].args.join(" ");
    assert!(join.contains("-auto_convert 1 -i video.ffconcat") && join.contains("-tag:v avc3"), "{join}");
    let sound = contents(p.steps[2].files.iter().find(|f| f.name == "mix.graph").unwrap());
    assert!(sound.contains("concat=n=3:v=0:a=1[sound]"), "{sound}");

    // What rules a smart cut out, in words.
    let reason = |clip: &str, w: crate::probe::PacketWindow, level: i64| {
        let s = spec(1920, 1080, &format!("{clip},{{\"type\":\"video\",\"src\":\"b.mp4\"}}"));
        let m = vec![with("/ws/a.mp4", level, vec![w]), with("/ws/b.mp4", 40, vec![window(0.0, None, 240, 30, 2)])];
        let p = plan(&s, &by_clip(&s, &m), &TextImages::new(), &Budget::of(512 * MIB)).unwrap();
        match &p.clips[0].video {
            ClipVideo::Encoded { because } => because.clone(),
            other => format!("{other:?}"),
        }
    };
    let short = r#"{"type":"video","src":"a.mp4","in":0.5,"out":0.9}"#;
    assert_eq!(
        reason(short, window(0.5, Some(0.9), 240, 30, 2), 40),
        "no whole group of pictures lies inside its cut (keyframes at 0.000, 1.000, 2.000, 3.000, 4.000, 5.000, 6.000, 7.000 s)"
    );
    let cut = r#"{"type":"video","src":"a.mp4","in":0.5,"out":3.5}"#;
    let mut open = window(0.5, Some(3.5), 240, 30, 2);
    open.packets.swap(60, 59); // frame 59 decoded after the keyframe at 60
    assert_eq!(
        reason(cut, open, 40),
        "its group of pictures at 2.000 s is open (pictures shown before its keyframe depend on it)"
    );
    assert_eq!(
        reason(cut, window(0.5, Some(3.5), 240, 30, 3), 40),
        "its pictures are reordered by 3.00 frames; the re-encoded ends can match 0, 1 or 2"
    );
    assert_eq!(reason(cut, window(0.5, Some(3.5), 240, 30, 2), 40), "SmartCut { head_frames: 15, tail_frames: 15 }");
    // On a keyframe at the start: nothing re-encoded there; to the end of the file: nothing
    // re-encoded at the end either (the copy runs to the file's end); no reordering.
    let on_key = r#"{"type":"video","src":"a.mp4","in":3,"out":6.3}"#;
    assert_eq!(reason(on_key, window(3.0, Some(6.3), 240, 30, 2), 40), "SmartCut { head_frames: 0, tail_frames: 9 }");
    let to_end = r#"{"type":"video","src":"a.mp4","in":2.1}"#;
    assert_eq!(reason(to_end, window(2.1, None, 240, 30, 2), 40), "SmartCut { head_frames: 27, tail_frames: 0 }");
    let mut gap = window(0.5, Some(3.5), 240, 30, 2);
    gap.packets.remove(70);
    assert_eq!(reason(cut, gap, 40), "its packets from 1.000 s to 3.000 s are not one continuous run of its frames");
    // A clip coded differently from the first copied one is re-encoded to match it.
    let s = spec(1920, 1080, r#"{"type":"video","src":"a.mp4"},{"type":"video","src":"b.mp4"}"#);
    let m = vec![
        with("/ws/a.mp4", 40, vec![window(0.0, None, 240, 30, 2)]),
        with("/ws/b.mp4", 31, vec![window(0.0, None, 240, 30, 2)]),
    ];
    let p = plan(&s, &by_clip(&s, &m), &TextImages::new(), &Budget::of(512 * MIB)).unwrap();
    assert_eq!(
        p.clips[1].video,
        ClipVideo::Encoded {
            because: "it is coded differently from clips[0] (level 31 against 40), which is copied and which the re-encoded pieces match".into()
        }
    );
    assert!(p.steps[0].args.join(" ").contains("-level:v 40"));
    // The coding most copied frames share wins, not the first clip's.
    let s = spec(
        1920,
        1080,
        r#"{"type":"video","src":"x.mp4"},{"type":"video","src":"a.mp4"},{"type":"video","src":"b.mp4"}"#,
    );
    let mut short = copyable(1920, 1080, 60, "MD5:2");
    short.coding.level = Some(31);
    let mut x = media("/ws/x.mp4", Some(short), true).unwrap();
    x.packets = vec![window(0.0, None, 60, 30, 2)];
    let m = vec![
        Some(x),
        with("/ws/a.mp4", 40, vec![window(0.0, None, 240, 30, 2)]),
        with("/ws/b.mp4", 40, vec![window(0.0, None, 240, 30, 2)]),
    ];
    let p = plan(&s, &by_clip(&s, &m), &TextImages::new(), &Budget::of(512 * MIB)).unwrap();
    assert_eq!(
        p.clips.iter().map(|c| c.video.clone()).collect::<Vec<_>>(),
        [
            ClipVideo::Encoded {
                because: "it is coded differently from clips[1] (level 31 against 40), which is copied and which the re-encoded pieces match".into()
            },
            ClipVideo::Copied,
            ClipVideo::Copied
        ]
    );
}
