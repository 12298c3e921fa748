//! Tests of reading and checking a spec: every error at once, with its path.

use super::*;

/// A spec with these clips; `output_extra` (`,"key":value…`) adds to or replaces the
/// output's fields.
fn spec_with(clips: &str, output_extra: &str) -> String {
    let mut output = serde_json::json!({"path": "o.mp4", "width": 320, "height": 240, "fps": 30});
    let extra: Map<String, Value> =
        serde_json::from_str(&format!("{{{}}}", output_extra.trim_start_matches(','))).unwrap();
    output.as_object_mut().unwrap().extend(extra);
    format!(
        r##"{{"version":1,"id":"t","output":{output},
           "timeline":{{"tracks":[{{"type":"video","clips":[{clips}]}}]}}}}"##
    )
}

fn errors(text: &str) -> Vec<(String, String)> {
    parse(text).unwrap_err().0.into_iter().map(|e| (e.path, e.reason)).collect()
}

#[test]
fn a_good_spec_reads() {
    let s = parse(&spec_with(
        r##"{"type":"video","src":"a.mp4","in":1,"out":2.5,"fit":"contain","volume":0.5},
           {"type":"image","src":"https://example.com/i.jpg","duration":2},
           {"type":"color","color":"#ff0000","duration":1}"##,
        "",
    ))
    .unwrap();
    assert_eq!(s.output.fps, Rational::new(30, 1));
    assert_eq!(s.main_track().clips.len(), 3);
}

#[test]
fn every_error_at_once_with_paths() {
    let e = errors(&spec_with(
        r##"{"type":"video","src":"a.mp4","in":3,"out":2},
           {"type":"image","src":"ftp://b/k.jpg","duration":-1},
           {"type":"color","color":"#zzzzzz","duration":1},
           {"type":"video","src":"a.mp4","in":0,"out":1,"zoom":2},
           {"type":"video","src":"a.mp4","in":"x"},
           {"type":"vidoe","src":"a.mp4"}"##,
        r##","width":321"##,
    ));
    let paths: Vec<&str> = e.iter().map(|(p, _)| p.as_str()).collect();
    assert!(paths.contains(&"output.width"), "{e:?}");
    assert!(paths.contains(&"timeline.tracks[0].clips[0].out"), "{e:?}");
    assert!(paths.contains(&"timeline.tracks[0].clips[1].src"), "{e:?}");
    assert!(paths.contains(&"timeline.tracks[0].clips[1].duration"), "{e:?}");
    assert!(paths.contains(&"timeline.tracks[0].clips[2].color"), "{e:?}");
    assert!(
        paths.contains(&"timeline.tracks[0].clips[3].zoom") || paths.contains(&"timeline.tracks[0].clips[3]"),
        "{e:?}"
    );
    assert!(paths.contains(&"timeline.tracks[0].clips[4].in"), "{e:?}");
    assert!(paths.contains(&"timeline.tracks[0].clips[5].type"), "{e:?}");
    let odd = e.iter().find(|(p, _)| p == "output.width").unwrap();
    assert!(odd.1.contains("odd"), "{odd:?}");
}

#[test]
fn unknown_fields_are_rejected_everywhere() {
    let text = r##"{"version":1,"id":"t","extra":1,
        "output":{"path":"o.mp4","width":320,"height":240,"fps":30,"video":{"crf":20,"tune":"film"}},
        "timeline":{"backgroud":"black","tracks":[{"type":"video","clips":[{"type":"color","color":"red","duration":1,"fit":"cover"}]}]}}"##;
    let e = errors(text);
    let paths: Vec<&str> = e.iter().map(|(p, _)| p.as_str()).collect();
    assert!(paths.contains(&"extra"), "{e:?}");
    assert!(paths.iter().any(|p| p.starts_with("output.video")), "{e:?}");
    assert!(paths.contains(&"timeline.backgroud"), "{e:?}");
    assert!(paths.iter().any(|p| p.starts_with("timeline.tracks[0].clips[0]")), "{e:?}");
}

#[test]
fn empty_timeline_and_sub_frame_clips() {
    let e = errors(&spec_with("", ""));
    assert!(e.iter().any(|(p, r)| p == "timeline.tracks[0].clips" && r.contains("empty")), "{e:?}");
    let e = errors(&spec_with(r##"{"type":"color","color":"red","duration":0.01}"##, ""));
    assert!(e.iter().any(|(_, r)| r.contains("shorter than one frame")), "{e:?}");
}

#[test]
fn absurd_numbers() {
    let e = errors(&spec_with(
        r##"{"type":"video","src":"a.mp4","in":1e300,"out":1e301,"volume":1e9}"##,
        r##","fps":100000,"height":1000000"##,
    ));
    let paths: Vec<&str> = e.iter().map(|(p, _)| p.as_str()).collect();
    assert!(paths.contains(&"output.fps"), "{e:?}");
    assert!(paths.contains(&"output.height"), "{e:?}");
    assert!(paths.contains(&"timeline.tracks[0].clips[0].in"), "{e:?}");
    assert!(paths.contains(&"timeline.tracks[0].clips[0].volume"), "{e:?}");
}

#[test]
fn duplicate_keys_are_refused_with_their_paths() {
    let text = spec_with(r##"{"type":"color","color":"red","duration":1,"duration":2}"##, "")
        .replace(r#""id":"t""#, r#""id":"t","id":"u""#);
    let e = errors(&text);
    assert!(e.iter().any(|(p, r)| p == "id" && r.contains("more than once")), "{e:?}");
    assert!(e.iter().any(|(p, _)| p == "timeline.tracks[0].clips[0].duration"), "{e:?}");
}

#[test]
fn errors_are_capped() {
    let clips: Vec<String> = (0..300).map(|_| r#"{"type":"color","color":"red","duration":-1}"#.to_string()).collect();
    let e = errors(&spec_with(&clips.join(","), ""));
    assert_eq!(e.len(), MAX_ERRORS + 1);
    assert!(e.last().unwrap().1.contains("and 200 more errors"), "{:?}", e.last());
}

#[test]
fn bad_json_and_wrong_version() {
    let e = errors("{\"version\":1,");
    assert_eq!(e[0].0, "");
    assert!(e[0].1.contains("not valid JSON"));
    let e = errors(
        &spec_with(r##"{"type":"color","color":"red","duration":1}"##, "").replace("\"version\":1", "\"version\":2"),
    );
    assert_eq!(e[0].0, "version");
}

#[test]
fn audio_tracks_are_checked_with_paths() {
    let text = r##"{"version":1,"id":"t","output":{"path":"o.mp4","width":320,"height":240,"fps":30,"loudness":{"integrated":0}},
        "timeline":{"tracks":[{"type":"video","clips":[{"type":"color","color":"red","duration":1}]},
          {"type":"audio","id":"music","duck":{"under":"voice","depth":90},"clips":[{"src":"m.mp3","volume":"-6dB","fade_in":3,"fade_out":3,"out":4}]},
          {"type":"audio","id":"music","clips":[{"src":"v.wav","volume":"loud"}]},
          {"type":"video","clips":[]}]}}"##;
    let e = errors(text);
    let paths: Vec<&str> = e.iter().map(|(p, _)| p.as_str()).collect();
    for want in [
        "output.loudness.integrated",
        "timeline.tracks[1].duck.depth",
        "timeline.tracks[1].clips[0].fade_out",
        "timeline.tracks[2].clips[0].volume",
        "timeline.tracks[3].type",
    ] {
        assert!(paths.contains(&want), "{want} missing from {e:?}");
    }
    let ok = text
        .replace(r#"{"type":"video","clips":[]}"#, r#"{"type":"audio","id":"voice","clips":[{"src":"v.wav"}]}"#)
        .replace(r#""volume":"loud""#, r#""volume":0.5"#)
        .replace(r#""id":"music","clips""#, r#""id":"sfx","clips""#);
    let e = errors(&ok);
    assert!(!e.iter().any(|(p, _)| p.contains("duck.under")), "{e:?}");
    let e = errors(&ok.replace(r#""under":"voice""#, r#""under":"nobody""#));
    assert!(e.iter().any(|(p, r)| p == "timeline.tracks[1].duck.under" && r.contains("\"main\"")), "{e:?}");
}

#[test]
fn gains_read_linear_or_decibels() {
    assert!((Gain::parse("-6dB").unwrap().0 - 0.501187).abs() < 1e-6);
    assert!((Gain::parse("+6 db").unwrap().0 - 1.995262).abs() < 1e-6);
    assert_eq!(Gain::parse("0.25"), Some(Gain(0.25)));
    assert_eq!(Gain::parse("loud"), None);
}

#[test]
fn schemes() {
    assert!(check_src("clips/a.mp4").is_ok());
    assert!(check_src("/abs/a.mp4").is_ok());
    assert!(check_src("https://h/a.mp4").is_ok());
    assert!(
        check_src("s3://bucket/clips/a.mp4").is_ok()
            && check_src("gs://b/a.mp4").is_ok()
            && check_src("az://c/a.mp4").is_ok()
    );
    assert!(check_src("s3://bucket/").is_err() && check_src("s3://bucket/a/../b.mp4").is_err());
    assert!(check_src("s3://bucket/a.mp4?X-Amz-Signature=x").is_err());
    assert!(check_src("ftp://h/a.mp4").unwrap_err().contains("unsupported scheme"));
    assert!(check_src("file:///etc/passwd").is_err());
    assert!(check_src("concat:a.mp4|b.mp4").is_err());
    assert!(check_src("https://u:p@h/a.mp4").is_err());
}

#[test]
fn one_object_lists_all_its_problems_in_plain_words() {
    let e = errors(&spec_with(
        r##"{"type":"video","src":"a.mp4","in":3,"out":2,"fit":"crop","speed":9},
           {"type":"color","color":"red","duration":1,"transition":"fade"},
           {"type":"color","color":"red","duration":1,"transition":{"type":"fade"}}"##,
        "",
    ));
    let find = |p: &str| e.iter().find(|(path, _)| path == p).map(|(_, r)| r.clone()).unwrap_or_default();
    assert!(find("timeline.tracks[0].clips[0].fit").contains("\"crop\" is \"cover\" here"), "{e:?}");
    assert!(find("timeline.tracks[0].clips[0].out").contains("must be after in"), "{e:?}");
    assert!(find("timeline.tracks[0].clips[0].speed").contains("out of range"), "{e:?}");
    assert!(find("timeline.tracks[0].clips[1].transition").contains(r#"{"type": "fade""#), "{e:?}");
    assert!(find("timeline.tracks[0].clips[2].transition.duration").contains("length in seconds"), "{e:?}");
    let text = r##"{"version":1,"id":"t","output":{"path":"o.mp4","width":320,"height":240,"fps":30},
        "timeline":{"tracks":[{"type":"video","clips":[{"type":"color","color":"red","duration":1}]},
        {"type":"overlay","items":[{"type":"text","text":"x","duration":1,"position":"topRight"}]}]}}"##;
    let e = errors(text);
    let p = e.iter().find(|(p, _)| p == "timeline.tracks[1].items[0].position").expect("named at the field");
    assert!(p.1.contains("top_right, left") && p.1.contains("did you mean \"top_right\""), "{p:?}");
}

#[test]
fn the_format_follows_the_extension_and_clip_volumes_take_decibels() {
    let s = parse(&spec_with(r##"{"type":"video","src":"a.mp4","volume":"-6dB"}"##, r#","path":"o.webm""#)).unwrap();
    assert_eq!(s.output.format, Container::Webm);
    assert_eq!(s.output.audio_codec(), Some(AudioCodec::Opus));
    let Clip::Video(v) = &s.main_track().clips[0] else { panic!() };
    assert!((v.volume.0 - 0.501187).abs() < 1e-6);
    let gif = parse(&spec_with(r##"{"type":"color","color":"red","duration":1}"##, r#","path":"o.gif""#)).unwrap();
    assert_eq!(gif.output.format, Container::Gif);
}

#[test]
fn a_colour_with_opacity_is_refused_where_nothing_lies_beneath() {
    let text = spec_with(
        r##"{"type":"color","color":"transparent","duration":1},
           {"type":"color","color":"RebeccaPurple","duration":1,"transition":{"type":"fade","color":"#00000080","duration":0.5}}"##,
        "",
    )
    .replace(r#""timeline":{"#, r##""timeline":{"background":"rgba(0,0,0,0.5)","##);
    let e = errors(&text);
    let paths: Vec<&str> = e.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        ["timeline.background", "timeline.tracks[0].clips[0].color", "timeline.tracks[0].clips[1].transition.color"],
        "{e:?}"
    );
    assert!(e[0].1.contains("#00000080 is partly transparent") && e[0].1.contains("opaque"), "{e:?}");
    // A required colour that is no colour: one error, not a second "missing field" for it.
    let e = errors(&spec_with(r#"{"type":"color","color":"blurple","duration":1}"#, ""));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, "timeline.tracks[0].clips[0].color");
    // Opacity is welcome on text.
    let ok = spec_with(r#"{"type":"color","color":"navy","duration":1}"#, "");
    assert!(parse(&ok).is_ok());
}

#[test]
fn text_sizes_are_pixels_or_shares_of_the_frame() {
    let with_size = |size: &str| {
        spec_with(r#"{"type":"color","color":"navy","duration":1}"#, "").replace(
            r#"]}]}}"#,
            &format!(r#"]}},{{"type":"overlay","items":[{{"type":"text","text":"Hi","duration":1,"style":{{"size":{size}}}}}]}}]}}}}"#),
        )
    };
    for good in ["48", r#""48px""#, r#""6vh""#, r#""4.5vw""#, r#""5VMIN""#] {
        assert!(parse(&with_size(good)).is_ok(), "{good}: {:?}", parse(&with_size(good)).err());
    }
    for (bad, says) in [
        (r#""6em""#, "give pixels (48) or a share of the frame"),
        (r#""80vh""#, "hundredths of the frame"),
        ("2000", " px"),
    ] {
        let e = errors(&with_size(bad));
        assert!(
            e.iter().any(|(p, r)| p == "timeline.tracks[1].items[0].style.size" && r.contains(says)),
            "{bad}: {e:?}"
        );
    }
}
