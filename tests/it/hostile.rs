//! The hostile-input corpus: specs, media, paths and addresses an attacker (or a careless
//! backend) may send, each run through `cutlist render` as users run it. Every case must end
//! with its documented exit code and a message naming the culprit (the field, clip or
//! address), publish nothing, leave no temp file, send no request to the canary (a server on
//! a private address that no case may reach), and end in bounded time.

use crate::common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const INVALID_SPEC: i32 = 3;
const ASSET_REJECTED: i32 = 4;

/// A spec with these main-track clips and further tracks, the output as given.
fn spec(output: Value, clips: Value, tracks: Value) -> Value {
    let mut t = vec![json!({"type": "video", "clips": clips})];
    t.extend(tracks.as_array().cloned().unwrap_or_default());
    json!({"version": 1, "id": "hostile", "output": output, "timeline": {"tracks": t}})
}

fn out() -> Value {
    json!({"path": "out.mp4", "width": 160, "height": 120, "fps": 30, "video": {"preset": "ultrafast"}})
}

fn clip(src: &str) -> Value {
    json!([{"type": "video", "src": src}])
}

fn color() -> Value {
    json!([{"type": "color", "color": "red", "duration": 0.5}])
}

/// One case: its name, the spec's text, extra arguments, the exit code, and what the message
/// must name.
struct Case {
    name: &'static str,
    text: String,
    args: Vec<String>,
    code: i32,
    culprit: String,
}

fn case(name: &'static str, spec: Value, code: i32, culprit: &str) -> Case {
    Case { name, text: spec.to_string(), args: vec![], code, culprit: culprit.into() }
}

/// The media the cases use, made once in `d`.
fn media(d: &Path) {
    let p = |n: &str| d.join(n).to_str().unwrap().to_string();
    color_clip(d, "a.mp4", "red", Some(440), "160x120", "30", 0.5);
    color_clip(d, "silent.mp4", "blue", None, "160x120", "30", 0.5);
    ffmpeg(&["-f", "lavfi", "-i", "testsrc=s=64x64:r=30:d=0.5", "-c:v", "magicyuv", &p("magic.avi")]);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=s=64x64:r=1000:d=0.1",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        &p("fast.mp4"),
    ]);
    ffmpeg(&["-f", "lavfi", "-i", "color=red:s=16x400", "-frames:v", "1", &p("thin.png")]);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=s=64x64:r=30",
        "-frames:v",
        "20",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        &p("bomb.mp4"),
    ]);
    stretch_frames(&d.join("bomb.mp4"), 20, 8 * 3600);
    color_clip(d, "whole.mp4", "red", None, "160x120", "30", 4.0);
    ffmpeg(&["-i", &p("whole.mp4"), "-c", "copy", "-movflags", "+faststart", &p("fs.mp4")]);
    let bytes = std::fs::read(d.join("fs.mp4")).unwrap();
    std::fs::write(d.join("cut.mp4"), &bytes[..bytes.len() * 6 / 10]).unwrap();
    std::fs::write(d.join("playlist.mp4"), "#EXTM3U\n#EXT-X-VERSION:3\nhttp://169.254.169.254/x.ts\n").unwrap();
    std::fs::write(d.join("concat.mp4"), "ffconcat version 1.0\nfile '/etc/passwd'\n").unwrap();
    std::fs::write(d.join("page.mp4"), "<!DOCTYPE html><html></html>").unwrap();
    std::fs::write(d.join("bad.ttf"), vec![0x42u8; 4096]).unwrap();
    std::fs::write(d.join("bad.srt"), [0xffu8, 0xfe, 0x00, 0x01, 0x02]).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(d.join("fifo.mp4")).status().unwrap().success());
    std::os::unix::fs::symlink("/etc/passwd", d.join("link.mp4")).unwrap();
}

#[test]
fn every_hostile_input_is_refused_cleanly() {
    let d = tmp();
    media(d.path());
    // The canary: nothing may ever reach it.
    let canary = Server::start(vec![("/a.mp4", 200, b"\x00\x00\x00\x20ftypisom".to_vec())]);
    let c = canary.url("/a.mp4");
    let many_tracks: Vec<Value> =
        (0..40).map(|_| json!({"type": "overlay", "items": [{"type": "text", "text": "x", "duration": 1}]})).collect();
    let many_errors: Vec<Value> = (0..300).map(|_| json!({"type": "color", "color": "red", "duration": -1})).collect();
    let many_cues: Vec<Value> = (0..20_001).map(|i| json!({"start": i, "end": i + 1, "text": "x"})).collect();
    let layers: Vec<Value> =
        (0..33).map(|i| json!({"type": "text", "text": format!("t{i}"), "duration": 0.5})).collect();
    let mut big = "{\"version\":1,\"pad\":\"".to_string();
    big.push_str(&"x".repeat(9 << 20));
    big.push_str("\"}");
    let mut cases = vec![
        // The document itself.
        Case {
            name: "not JSON",
            text: "{\"version\":1,".into(),
            args: vec![],
            code: INVALID_SPEC,
            culprit: "not valid JSON".into(),
        },
        Case { name: "a 9 MiB spec", text: big, args: vec![], code: INVALID_SPEC, culprit: "larger than 8 MiB".into() },
        Case {
            name: "a key twice",
            text: spec(out(), color(), json!([])).to_string().replacen(
                "\"id\":\"hostile\"",
                "\"id\":\"hostile\",\"id\":\"other\"",
                1,
            ),
            args: vec![],
            code: INVALID_SPEC,
            culprit: "given more than once".into(),
        },
        Case {
            name: "a number past f64",
            text: spec(out(), color(), json!([])).to_string().replace("\"duration\":0.5", "\"duration\":1e999"),
            args: vec![],
            code: INVALID_SPEC,
            culprit: "not valid JSON".into(),
        },
        case(
            "an unknown field",
            spec(
                json!({"path": "out.mp4", "width": 160, "height": 120, "fps": 30, "vf": "movie=/etc/passwd"}),
                color(),
                json!([]),
            ),
            INVALID_SPEC,
            "output.vf",
        ),
        case("40 tracks", spec(out(), color(), json!(many_tracks)), INVALID_SPEC, "the limit is 32"),
        case("300 errors", spec(out(), json!(many_errors), json!([])), INVALID_SPEC, "more errors"),
        case(
            "20 001 cues",
            spec(out(), color(), json!([{"type": "captions", "cues": many_cues}])),
            INVALID_SPEC,
            "timeline.tracks[1].cues",
        ),
        case(
            "an unfilled placeholder",
            spec(out(), json!([{"type": "color", "color": "{{c}}", "duration": 0.5}]), json!([])),
            INVALID_SPEC,
            "timeline.tracks[0].clips[0].color",
        ),
        // Hostile numbers and settings.
        case(
            "1000 fps",
            spec(json!({"path": "out.mp4", "width": 160, "height": 120, "fps": 1000}), color(), json!([])),
            INVALID_SPEC,
            "output.fps",
        ),
        case(
            "an odd width",
            spec(json!({"path": "out.mp4", "width": 161, "height": 120, "fps": 30}), color(), json!([])),
            INVALID_SPEC,
            "output.width",
        ),
        case(
            "a negative duration",
            spec(out(), json!([{"type": "color", "color": "red", "duration": -3}]), json!([])),
            INVALID_SPEC,
            "clips[0].duration",
        ),
        case(
            "a crf with options",
            spec(
                json!({"path": "out.mp4", "width": 160, "height": 120, "fps": 30, "video": {"crf": "23 -vf movie=x"}}),
                color(),
                json!([]),
            ),
            INVALID_SPEC,
            "output.video.crf",
        ),
        case(
            "a preset with options",
            spec(
                json!({"path": "out.mp4", "width": 160, "height": 120, "fps": 30, "video": {"preset": "slow:x264opts=a"}}),
                color(),
                json!([]),
            ),
            INVALID_SPEC,
            "output.video.preset",
        ),
        case(
            "a transition longer than its clips",
            spec(
                out(),
                json!([{"type": "color", "color": "red", "duration": 0.5}, {"type": "color", "color": "blue", "duration": 0.5, "transition": {"type": "crossfade", "duration": 2}}]),
                json!([]),
            ),
            INVALID_SPEC,
            "transition.duration",
        ),
        case(
            "ducking under nothing",
            spec(out(), color(), json!([{"type": "audio", "duck": {"under": "ghost"}, "clips": [{"src": "a.mp4"}]}])),
            INVALID_SPEC,
            "duck.under",
        ),
        case(
            "text with a control character",
            spec(
                out(),
                color(),
                json!([{"type": "overlay", "items": [{"type": "text", "text": "a\u{1b}[2Jb", "duration": 0.5}]}]),
            ),
            INVALID_SPEC,
            "items[0].text",
        ),
        case(
            "text of 6000 characters",
            spec(
                out(),
                color(),
                json!([{"type": "overlay", "items": [{"type": "text", "text": "x".repeat(6000), "duration": 0.5}]}]),
            ),
            INVALID_SPEC,
            "items[0].text",
        ),
        case(
            "33 layers at once",
            spec(out(), color(), json!([{"type": "overlay", "items": layers}])),
            INVALID_SPEC,
            "at most 32",
        ),
        // Output paths.
        case(
            "an output path with ..",
            spec(json!({"path": "../out.mp4", "width": 160, "height": 120, "fps": 30}), color(), json!([])),
            INVALID_SPEC,
            "output.path",
        ),
        case(
            "an absolute output path",
            spec(
                json!({"path": "/tmp/cutlist-hostile.mp4", "width": 160, "height": 120, "fps": 30}),
                color(),
                json!([]),
            ),
            INVALID_SPEC,
            "output.path",
        ),
        case(
            "an output path without extension",
            spec(json!({"path": ".profile", "width": 160, "height": 120, "fps": 30}), color(), json!([])),
            INVALID_SPEC,
            "output.path",
        ),
        case(
            "a poster path with ..",
            spec(
                json!({"path": "out.mp4", "width": 160, "height": 120, "fps": 30, "poster": {"path": "../p.jpg"}}),
                color(),
                json!([]),
            ),
            INVALID_SPEC,
            "output.poster.path",
        ),
        case(
            "a webhook the operator did not allow",
            json!({"version": 1, "id": "hostile", "output": out(), "timeline": {"tracks": [{"type": "video", "clips": color()}]}, "webhook": {"url": c}}),
            INVALID_SPEC,
            "webhook.url",
        ),
        // Addresses.
        case("file://", spec(out(), clip("file:///etc/passwd"), json!([])), INVALID_SPEC, "clips[0].src"),
        case("concat:", spec(out(), clip("concat:a.mp4|b.mp4"), json!([])), INVALID_SPEC, "clips[0].src"),
        case("ftp://", spec(out(), clip("ftp://example.com/a.mp4"), json!([])), INVALID_SPEC, "clips[0].src"),
        case(
            "credentials in a URL",
            spec(out(), clip("https://u:p@example.com/a.mp4"), json!([])),
            INVALID_SPEC,
            "clips[0].src",
        ),
        case(
            "an object key with %2e%2e",
            spec(out(), clip("s3://media/tenantA/%2e%2e/tenantB/a.mp4"), json!([])),
            INVALID_SPEC,
            "clips[0].src",
        ),
        case(
            "an object address with a query",
            spec(out(), clip("s3://media/a.mp4?versionId=1"), json!([])),
            INVALID_SPEC,
            "clips[0].src",
        ),
        case("the canary on loopback", spec(out(), clip(&c), json!([])), ASSET_REJECTED, "clips[0].src"),
        case(
            "the canary by name",
            spec(out(), clip(&c.replace("127.0.0.1", "localhost")), json!([])),
            ASSET_REJECTED,
            "clips[0].src",
        ),
        case(
            "the canary IPv4-mapped",
            spec(out(), clip(&c.replace("127.0.0.1", "[::ffff:127.0.0.1]")), json!([])),
            ASSET_REJECTED,
            "clips[0].src",
        ),
        case(
            "cloud metadata",
            spec(out(), clip("http://169.254.169.254/latest/meta-data/"), json!([])),
            ASSET_REJECTED,
            "clips[0].src",
        ),
        case(
            "a font from the canary",
            spec(
                out(),
                color(),
                json!([{"type": "overlay", "items": [{"type": "text", "text": "x", "duration": 0.5, "style": {"font": c}}]}]),
            ),
            ASSET_REJECTED,
            "style.font",
        ),
        case(
            "captions from the canary",
            spec(out(), color(), json!([{"type": "captions", "src": c}])),
            ASSET_REJECTED,
            "timeline.tracks[1].src",
        ),
        // Local files.
        case(
            "a file outside the roots",
            spec(out(), clip("/etc/passwd"), json!([])),
            ASSET_REJECTED,
            "outside the allowed directories",
        ),
        case(
            "a link out of the root",
            spec(out(), clip("link.mp4"), json!([])),
            ASSET_REJECTED,
            "outside the allowed directories",
        ),
        case("a FIFO", spec(out(), clip("fifo.mp4"), json!([])), ASSET_REJECTED, "not a regular file"),
        case("a playlist in disguise", spec(out(), clip("playlist.mp4"), json!([])), ASSET_REJECTED, "HLS playlist"),
        case(
            "a concat script in disguise",
            spec(out(), clip("concat.mp4"), json!([])),
            ASSET_REJECTED,
            "concat script",
        ),
        case("a web page in disguise", spec(out(), clip("page.mp4"), json!([])), ASSET_REJECTED, "text document"),
        case(
            "a font that is not one",
            spec(
                out(),
                color(),
                json!([{"type": "overlay", "items": [{"type": "text", "text": "x", "duration": 0.5, "style": {"font": "bad.ttf"}}]}]),
            ),
            ASSET_REJECTED,
            "style.font",
        ),
        case(
            "captions that are not text",
            spec(out(), color(), json!([{"type": "captions", "src": "bad.srt"}])),
            ASSET_REJECTED,
            "timeline.tracks[1].src",
        ),
        // Media.
        case("a decoder outside the list", spec(out(), clip("magic.avi"), json!([])), ASSET_REJECTED, "magicyuv"),
        case("1000 fps media", spec(out(), clip("fast.mp4"), json!([])), ASSET_REJECTED, "frame rate"),
        case(
            "a 16×400 picture",
            spec(out(), json!([{"type": "image", "src": "thin.png", "duration": 0.5}]), json!([])),
            ASSET_REJECTED,
            "20:1",
        ),
        case("20 frames over 8 hours", spec(out(), clip("bomb.mp4"), json!([])), ASSET_REJECTED, "frame rate"),
        case(
            "a truncated file",
            spec(out(), json!([{"type": "video", "src": "cut.mp4", "out": 3.8}]), json!([])),
            ASSET_REJECTED,
            "truncated",
        ),
        case(
            "music without sound",
            spec(out(), color(), json!([{"type": "audio", "clips": [{"src": "silent.mp4"}]}])),
            INVALID_SPEC,
            "has no audio stream",
        ),
    ];
    cases.iter_mut().for_each(|c| c.args.push("--deadline".into()));
    cases.iter_mut().for_each(|c| c.args.push("60".into()));
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let work = d.path().join("work");
    let output = d.path().join("out.mp4");
    for c in &cases {
        let path = d.path().join("hostile.json");
        std::fs::write(&path, &c.text).unwrap();
        let t = Instant::now();
        let out = render(&path, &work, &c.args.iter().map(String::as_str).collect::<Vec<_>>());
        let took = t.elapsed();
        let log = stderr(&out);
        assert_eq!(out.status.code(), Some(c.code), "{}: {log}", c.name);
        assert!(log.contains(&c.culprit), "{}: {:?} is not named in {log}", c.name, c.culprit);
        assert!(took < Duration::from_secs(20), "{}: took {took:?}", c.name);
        assert!(!output.exists(), "{}: something was published", c.name);
        assert!(leftovers(&work).is_empty(), "{}: {:?} left in the workdir", c.name, leftovers(&work));
        assert!(!d.path().join("..").join("out.mp4").exists() && !Path::new("/tmp/cutlist-hostile.mp4").exists());
    }
    assert!(canary.hits().is_empty(), "the canary was reached: {:?}", canary.hits());
    println!("hostile corpus: {} cases, each refused with its code and culprit", cases.len());
}
