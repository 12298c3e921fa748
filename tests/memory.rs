//! The memory test (after the memory guide's checklist): 1080p jobs under a 512 MiB budget,
//! memory that does not grow with the number of clips or across 20 renders in one process, a 4K
//! HEVC source inside the budget, a timeline using every editing feature at once, and cutlist's
//! own share. Prints its figures (run with --nocapture).
//!
//! Measured one way everywhere: private memory (RssAnon + RssShmem) of cutlist and every
//! FFmpeg child, sampled from /proc, plus the workspace's bytes when it is in RAM.

mod common;
use common::*;
use std::path::Path;

const MIB: u64 = 1024 * 1024;
const BUDGET: u64 = 512 * MIB;

fn make_1080p_sources(dir: &Path) {
    for k in 1..=10 {
        let name = dir.join(format!("clip{k:02}.mp4"));
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=s=1920x1080:r=30:d=2,hue=h={}", k * 36),
            "-f",
            "lavfi",
            "-i",
            &format!("sine=frequency={}:sample_rate=48000:d=2", 220 * k),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "20",
            "-g",
            "30",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            name.to_str().unwrap(),
        ]);
    }
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=3840x2160:r=30:d=1",
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        "log-level=error",
        "-pix_fmt",
        "yuv420p",
        dir.join("uhd_hevc.mp4").to_str().unwrap(),
    ]);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=4000x3000",
        "-frames:v",
        "1",
        "-q:v",
        "3",
        dir.join("still_12mp.jpg").to_str().unwrap(),
    ]);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=white:s=400x200,format=rgba",
        "-frames:v",
        "1",
        dir.join("logo.png").to_str().unwrap(),
    ]);
    ffmpeg(&["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100:d=8", dir.join("music.mp3").to_str().unwrap()]);
}

/// The 10-clip job with its sources, spec and output in an S3 bucket (a real S3 server on
/// 127.0.0.1), long enough that the output goes up in several parts.
fn through_buckets(dir: &Path) -> serde_json::Value {
    let s3 = S3::start(&["media", "out"]);
    std::fs::create_dir_all(s3.file("media", "clips")).unwrap();
    for k in 1..=10 {
        std::fs::copy(dir.join(format!("clip{k:02}.mp4")), s3.file("media", &format!("clips/clip{k:02}.mp4"))).unwrap();
    }
    let clips: Vec<String> =
        (1..=10).map(|k| format!(r#"{{"type":"video","src":"clips/clip{k:02}.mp4","in":0,"out":2}}"#)).collect();
    let spec = format!(
        r#"{{"version":1,"id":"s3job","output":{{"path":"s3://out/s3job.mp4","width":1080,"height":1920,"fps":30,
            "video":{{"preset":"veryfast","crf":18}}}},"timeline":{{"tracks":[{{"type":"video","clips":[{}]}}]}}}}"#,
        clips.join(",")
    );
    std::fs::write(s3.file("media", "s3job.json"), spec).unwrap();
    let work = dir.join("work");
    let mut c = cutlist();
    c.args(["render", "s3://media/s3job.json", "--memory-limit", "512M", "--workdir"]).arg(&work);
    for (k, v) in s3.env() {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert_ok(&out);
    assert!(leftovers(&work).is_empty());
    serde_json::from_slice(&std::fs::read(s3.file("out", "s3job.mp4.json")).unwrap()).unwrap()
}

/// A 1080×1920 H.264 timeline using the whole editing vocabulary at once.
fn everything(dir: &Path) -> serde_json::Value {
    let clip = |k: usize, t: Option<&str>| {
        let mut c = serde_json::json!({"type": "video", "src": format!("clip{k:02}.mp4"), "in": 0.5, "out": 1.5});
        if let Some(t) = t {
            c["transition"] = serde_json::json!({"type": t, "duration": 0.3});
        }
        c
    };
    let spec = serde_json::json!({
        "version": 1, "id": "everything",
        "output": {"path": "everything.mp4", "width": 1080, "height": 1920, "fps": 30,
                   "video": {"preset": "veryfast", "crf": 23}, "loudness": {"integrated": -14},
                   "poster": {"time": 1}},
        "timeline": {"tracks": [
            {"type": "video", "clips": [
                clip(1, None), clip(2, Some("crossfade")), clip(3, Some("wipeleft")),
                {"type": "image", "src": "still_12mp.jpg", "duration": 1.5, "motion": {"preset": "zoom_in"},
                 "transition": {"type": "fade", "duration": 0.3}},
                clip(4, Some("slideup")), clip(5, None).as_object().cloned().map(|mut c| { c.insert("speed".into(), 2.into()); c }).unwrap()
            ]},
            {"type": "audio", "duck": {"under": "main", "depth": 10}, "clips": [{"src": "music.mp3", "loop": true, "fade_out": 1}]},
            {"type": "overlay", "items": [
                {"type": "text", "text": "Everything at once 😀 שלום", "duration": 3, "position": "top",
                 "style": {"size": 80, "outline": {"width": 4}, "shadow": {"x": 4, "y": 4}, "box": {"opacity": 0.4}}, "fade_in": 0.3},
                {"type": "image", "src": "logo.png", "duration": 5, "position": "top_right", "width": 0.2, "opacity": 0.7},
                {"type": "video", "src": "clip07.mp4", "start": 1, "out": 2, "position": "bottom_right", "width": 0.35}
            ]},
            {"type": "captions", "highlight": "#ffe000", "soft": true, "cues": [
                {"start": 0.2, "end": 2.0, "words": [{"text": "every", "start": 0.2, "end": 0.8}, {"text": "word", "start": 0.8, "end": 1.4}, {"text": "lit", "start": 1.4, "end": 2.0}]},
                {"start": 2.5, "end": 4.0, "text": "and a plain cue"}]}
        ]}
    });
    let path = dir.join("everything.json");
    std::fs::write(&path, serde_json::to_string(&spec).unwrap()).unwrap();
    let work = dir.join("work");
    assert_ok(&render(&path, &work, &["--memory-limit", "512M"]));
    assert!(leftovers(&work).is_empty());
    manifest(&dir.join("everything.mp4"))
}

/// Render with the CLI inside a 512 MiB budget; returns the manifest's memory figures.
fn job(dir: &Path, name: &str, clips: &[String]) -> serde_json::Value {
    job_with(dir, name, clips, &[])
}

fn job_with(dir: &Path, name: &str, clips: &[String], extra: &[&str]) -> serde_json::Value {
    let text = format!(
        r#"{{"version":1,"id":"{name}","output":{{"path":"{name}.mp4","width":1080,"height":1920,"fps":30,
            "video":{{"preset":"veryfast","crf":23}}}},
            "timeline":{{"tracks":[{{"type":"video","clips":[{}]}}]}}}}"#,
        clips.join(",")
    );
    let spec = dir.join(format!("{name}.json"));
    std::fs::write(&spec, text).unwrap();
    let work = dir.join("work");
    let args: Vec<&str> = ["--memory-limit", "512M"].iter().copied().chain(extra.iter().copied()).collect();
    let out = render(&spec, &work, &args);
    assert_ok(&out);
    assert!(leftovers(&work).is_empty());
    let m = manifest(&dir.join(format!("{name}.mp4")));
    let frames: u64 = m["clips"].as_array().unwrap().iter().map(|c| c["frames"].as_u64().unwrap()).sum();
    assert_eq!(m["frames"].as_u64().unwrap(), frames);
    m
}

fn mib(v: &serde_json::Value) -> f64 {
    v.as_u64().unwrap() as f64 / MIB as f64
}

#[test]
fn memory_stays_inside_512_mib_and_does_not_grow() {
    let d = tmp();
    make_1080p_sources(d.path());
    let clip = |k: usize, start: f64| {
        format!(r#"{{"type":"video","src":"clip{:02}.mp4","in":{start},"out":{}}}"#, k % 10 + 1, start + 0.5)
    };

    let ten: Vec<String> = (0..10).map(|k| clip(k, 0.5)).collect();
    let forty: Vec<String> = (0..40).map(|k| clip(k, 0.25 * (k / 10) as f64)).collect();
    let uhd = vec![clip(0, 0.0), r#"{"type":"video","src":"uhd_hevc.mp4","in":0,"out":0.5}"#.to_string(), clip(1, 0.0)];

    let m10 = job(d.path(), "ten", &ten);
    let m40 = job(d.path(), "forty", &forty);
    let m4k = job(d.path(), "uhd", &uhd);
    // A 16-core host, as FFmpeg sees it: automatic thread counts would follow the cores;
    // cutlist pins them, so the peak must not move.
    let wrapper = d.path().join("ffmpeg-16-cores");
    std::fs::write(&wrapper, "#!/bin/sh\nexec ffmpeg -cpucount 16 \"$@\"\n").unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let m16 = job_with(d.path(), "cores16", &ten, &["--ffmpeg", wrapper.to_str().unwrap()]);
    let mall = everything(d.path());
    let ms3 = through_buckets(d.path());

    println!("memory (private RssAnon+RssShmem, whole tree, MiB; budget 512):");
    println!("  {:<32} {:>8} {:>8} {:>8} {:>9} {:>6}", "job", "total", "ffmpeg", "cutlist", "estimate", "wall s");
    for (label, m) in [
        ("10 x 1080p clips -> 1080x1920", &m10),
        ("40 x 1080p clips -> 1080x1920", &m40),
        ("4K HEVC + 1080p -> 1080x1920", &m4k),
        ("10 x 1080p, FFmpeg sees 16 cores", &m16),
        ("everything at once -> 1080x1920", &mall),
        ("10 x 1080p, S3 in and out", &ms3),
    ] {
        println!(
            "  {label:<32} {:>8.1} {:>8.1} {:>8.1} {:>9.1} {:>6.1}",
            mib(&m["memory"]["peak"]["total"]),
            mib(&m["memory"]["peak"]["children"]),
            mib(&m["memory"]["peak"]["cutlist"]),
            mib(&m["encoder"]["estimate"]),
            m["wall_seconds"].as_f64().unwrap()
        );
    }
    let up = &ms3["memory"]["phases"]["upload"];
    println!(
        "  upload phase of the S3 job ({:.1} MiB output): tree {:.1} MiB, cutlist {:.1} MiB (parts in flight: 3 x 8 MiB at most)",
        mib(&ms3["bytes"]),
        mib(&up["tree"]),
        mib(&up["cutlist"])
    );
    assert!(up["cutlist"].as_u64().unwrap() < 16 * MIB + 3 * 8 * MIB, "upload memory: {up}");
    let p16 = mib(&m16["memory"]["peak"]["total"]);
    assert!(p16 <= mib(&m10["memory"]["peak"]["total"]) * 1.10, "16 cores moved the peak to {p16:.1} MiB");
    for m in [&m10, &m40, &m4k, &m16, &mall, &ms3] {
        assert!(m["memory"]["peak"]["total"].as_u64().unwrap() < BUDGET, "{m}");
        // cutlist's own memory, outside the upload (which holds up to 3 parts of 8 MiB).
        let own = m["memory"]["phases"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(phase, _)| *phase != "upload")
            .map(|(_, p)| p["cutlist"].as_u64().unwrap())
            .max()
            .unwrap();
        assert!(own < 16 * MIB, "cutlist's own memory: {m}");
    }
    let (p10, p40) = (mib(&m10["memory"]["peak"]["total"]), mib(&m40["memory"]["peak"]["total"]));
    assert!(p40 <= p10 * 1.10, "40 clips peaked at {p40:.1} MiB, 10 clips at {p10:.1} MiB: memory grows with clips");

    // Twenty renders in a row in one process, through the library API the CLI uses (a
    // batch task renders its share this way).
    let spec_text = format!(
        r#"{{"version":1,"id":"again","output":{{"path":"again.mp4","width":640,"height":360,"fps":30,"video":{{"preset":"ultrafast"}}}},
            "timeline":{{"tracks":[{{"type":"video","clips":[{},{},{{"type":"color","color":"navy","duration":0.3}}]}}]}}}}"#,
        clip(2, 0.0),
        clip(3, 0.5)
    );
    let spec = cutlist::spec::parse(&spec_text).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let opts = cutlist::JobOptions { workdir: d.path().join("work"), ..Default::default() };
    let cancel = tokio_util::sync::CancellationToken::new();
    let me = std::process::id();
    let mut after = Vec::new();
    for _ in 0..20 {
        rt.block_on(cutlist::render_spec(&spec, d.path(), &opts, &cancel)).unwrap();
        after.push(cutlist::memory::private_bytes(me).unwrap());
    }
    let kib: Vec<u64> = after.iter().map(|b| b / 1024).collect();
    println!("  private memory after each of 20 in-process renders (KiB): {kib:?}");
    let growth = after[19] as i64 - after[0] as i64;
    println!("  growth from the first render to the last: {} KiB", growth / 1024);
    assert!(growth <= MIB as i64, "grew by {growth} bytes over 20 renders: {kib:?}");
    assert!(leftovers(&d.path().join("work")).is_empty());
}
