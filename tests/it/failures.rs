//! Bad input and bad luck: a clear error naming the culprit, the documented exit code,
//! no output file, and no temp file left behind.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

const INVALID_SPEC: i32 = 3;
const ASSET_REJECTED: i32 = 4;
const ASSET_UNREACHABLE: i32 = 5;
const RENDER_FAILED: i32 = 7;
const STALLED: i32 = 9;
const CANCELLED: i32 = 143;
const PUBLISH_FAILED: i32 = 10;
const ENVIRONMENT: i32 = 11;

fn assert_clean(work: &Path, output: &Path) {
    assert!(leftovers(work).is_empty(), "workdir not empty: {:?}", leftovers(work));
    assert!(!output.exists(), "an output appeared: {}", output.display());
    assert!(!Path::new(&format!("{}.json", output.display())).exists(), "a manifest appeared");
}

#[test]
fn validate_lists_every_error_with_its_path() {
    let d = tmp();
    let spec = write_spec(
        d.path(),
        "bad.json",
        "out.mp4",
        321,
        240,
        "30",
        "black",
        r#"{"type":"video","src":"a.mp4","in":2,"out":1},{"type":"color","color":"nope","duration":1},{"type":"image","src":"ftp://h/x.png","duration":1,"zoom":2}"#,
    );
    let out = cutlist().arg("validate").arg(&spec).output().unwrap();
    assert_eq!(out.status.code(), Some(INVALID_SPEC));
    let err = stderr(&out);
    for path in [
        "output.width",
        "timeline.tracks[0].clips[0].out",
        "timeline.tracks[0].clips[1].color",
        "timeline.tracks[0].clips[2]",
    ] {
        assert!(err.contains(path), "{path} missing from:\n{err}");
    }
    // The same spec given to render: same code, nothing written.
    let work = d.path().join("work");
    let r = render(&spec, &work, &[]);
    assert_eq!(r.status.code(), Some(INVALID_SPEC), "{}", stderr(&r));
    assert!(stderr(&r).contains("timeline.tracks[0].clips[0].out"));
    assert_clean(&work, &d.path().join("out.mp4"));

    let good = write_spec(
        d.path(),
        "good.json",
        "o.mp4",
        320,
        240,
        "30",
        "black",
        r#"{"type":"color","color":"red","duration":1},{"type":"color","color":"blue","duration":0.5}"#,
    );
    let out = cutlist().arg("validate").arg("--timings").arg(&good).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("timeline.tracks[0].clips[1]\t1.000\t30\t15"), "{text}");
    assert!(text.contains("total\t1.500\t45"), "{text}");
}

#[test]
fn media_problems_name_the_clip() {
    let d = tmp();
    color_clip(d.path(), "short.mp4", "red", Some(440), "160x120", "30", 1.0);
    ffmpeg(&["-f", "lavfi", "-i", "sine=d=1", d.path().join("sound.m4a").to_str().unwrap()]);
    std::fs::write(d.path().join("page.mp4"), b"<!DOCTYPE html><html><body>not found</body></html>").unwrap();
    let work = d.path().join("work");
    let cases = [
        (r#"{"type":"video","src":"short.mp4","in":0,"out":5}"#, INVALID_SPEC, "timeline.tracks[0].clips[0].out"),
        (r#"{"type":"video","src":"sound.m4a","out":0.5}"#, INVALID_SPEC, "has no video stream"),
        (r#"{"type":"video","src":"page.mp4","out":0.5}"#, ASSET_REJECTED, "page.mp4"),
        (r#"{"type":"video","src":"missing.mp4","out":0.5}"#, ASSET_REJECTED, "no such file"),
    ];
    for (clip, code, needle) in cases {
        let spec = write_spec(d.path(), "s.json", "out.mp4", 160, 120, "30", "black", clip);
        let out = render(&spec, &work, &[]);
        assert_eq!(out.status.code(), Some(code), "{clip}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{needle} not in {}", stderr(&out));
        assert!(stderr(&out).contains("clips[0]"), "{}", stderr(&out));
        assert_clean(&work, &d.path().join("out.mp4"));
    }
}

/// MJPEG *video* (in an AVI) is video, not a still (what cutlist refuses when probing is in
/// the hostile-input corpus).
#[test]
fn mjpeg_video_is_video() {
    let d = tmp();
    let motion = d.path().join("motion.avi");
    ffmpeg(&["-f", "lavfi", "-i", "color=red:s=64x64:r=30:d=1", "-c:v", "mjpeg", motion.to_str().unwrap()]);
    let spec =
        write_spec(d.path(), "s.json", "out.mp4", 160, 120, "30", "black", r#"{"type":"video","src":"motion.avi"}"#);
    assert_ok(&render(&spec, &d.path().join("work"), &[]));
    assert_eq!(video_frames(&probe(&d.path().join("out.mp4"))), 30);
}

/// FFmpeg and ffprobe run without cutlist's credentials and secrets in their environment.
#[test]
fn children_get_no_secrets() {
    let d = tmp();
    color_clip(d.path(), "a.mp4", "red", Some(440), "160x120", "30", 1.0);
    let dump = d.path().join("env.txt");
    for tool in ["ffmpeg", "ffprobe"] {
        let wrapper = d.path().join(format!("{tool}-wrapper"));
        std::fs::write(&wrapper, format!("#!/bin/sh\nenv >> {}\nexec {tool} \"$@\"\n", dump.display())).unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let spec = write_spec(d.path(), "s.json", "out.mp4", 160, 120, "30", "black", r#"{"type":"video","src":"a.mp4"}"#);
    let out = cutlist()
        .arg("render")
        .arg(&spec)
        .arg("--workdir")
        .arg(d.path().join("work"))
        .arg("--ffmpeg")
        .arg(d.path().join("ffmpeg-wrapper"))
        .arg("--ffprobe")
        .arg(d.path().join("ffprobe-wrapper"))
        .env("CUTLIST_WEBHOOK_SECRET", "hook-secret-1")
        .env("AWS_SECRET_ACCESS_KEY", "aws-secret-2")
        .env("AZURE_STORAGE_ACCOUNT_KEY", "azure-secret-3")
        .output()
        .unwrap();
    assert_ok(&out);
    let env = std::fs::read_to_string(&dump).unwrap();
    assert!(env.contains("PATH="), "{env}");
    for secret in ["hook-secret-1", "aws-secret-2", "azure-secret-3", "AWS_", "CUTLIST_"] {
        assert!(!env.contains(secret), "{secret} reached a child:\n{env}");
    }
}

/// Paths a spec writes stay beneath the spec's directory (or --output-root), follow no link
/// and replace nothing; only the command line's -o may go elsewhere.
#[test]
fn output_paths_stay_where_they_belong() {
    let d = tmp();
    let outside = tmp();
    color_clip(d.path(), "a.mp4", "red", Some(440), "160x120", "30", 0.5);
    std::fs::write(outside.path().join(".profile"), "keep").unwrap();
    let work = d.path().join("work");
    let spec_to = |out: &str, extra: &str| {
        let text = format!(
            r#"{{"version":1,"id":"p","output":{{"path":{out:?},"width":160,"height":120,"fps":30,"video":{{"preset":"ultrafast"}}{extra}}},
               "timeline":{{"tracks":[{{"type":"video","clips":[{{"type":"video","src":"a.mp4"}}]}}]}}}}"#
        );
        let p = d.path().join("p.json");
        std::fs::write(&p, text).unwrap();
        p
    };
    // Written in the spec: relative, beneath, with the container's extension.
    let victim = format!("../{}/.profile", outside.path().file_name().unwrap().to_str().unwrap());
    for (out, extra, field) in [
        (victim.as_str(), "", "output.path"),
        ("/tmp/cutlist-abs.mp4", "", "output.path"),
        (".profile", "", "output.path"),
        ("o.mp4", r#","poster":{"path":"../p.jpg"}"#, "output.poster.path"),
    ] {
        let out = render(&spec_to(out, extra), &work, &[]);
        assert_eq!(out.status.code(), Some(INVALID_SPEC), "{}", stderr(&out));
        assert!(stderr(&out).contains(field), "{field}: {}", stderr(&out));
    }
    assert_eq!(std::fs::read_to_string(outside.path().join(".profile")).unwrap(), "keep");

    // A name that is taken: refused at once (exit 10), untouched; --overwrite replaces a file.
    std::fs::write(d.path().join("taken.mp4"), "mine").unwrap();
    let spec = spec_to("taken.mp4", "");
    let out = render(&spec, &work, &[]);
    assert_eq!(out.status.code(), Some(PUBLISH_FAILED), "{}", stderr(&out));
    assert!(stderr(&out).contains("taken.mp4") && stderr(&out).contains("--overwrite"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(r#""phase":"render""#), "refused before rendering: {}", stderr(&out));
    assert_eq!(std::fs::read_to_string(d.path().join("taken.mp4")).unwrap(), "mine");
    assert_ok(&render(&spec, &work, &["--overwrite"]));
    assert_eq!(video_frames(&probe(&d.path().join("taken.mp4"))), 15);

    // Links are never followed: not at the name, not in a directory on the way.
    std::os::unix::fs::symlink(outside.path().join(".profile"), d.path().join("link.mp4")).unwrap();
    let out = render(&spec_to("link.mp4", ""), &work, &["--overwrite"]);
    assert_eq!(out.status.code(), Some(PUBLISH_FAILED), "{}", stderr(&out));
    std::os::unix::fs::symlink(outside.path(), d.path().join("sub")).unwrap();
    let out = render(&spec_to("sub/o.mp4", ""), &work, &[]);
    assert_eq!(out.status.code(), Some(PUBLISH_FAILED), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(outside.path().join(".profile")).unwrap(), "keep");
    assert_eq!(leftovers(outside.path()), vec![".profile".to_string()]);

    // --output-root: the spec's paths land beneath it.
    let root = tmp();
    assert_ok(&render(&spec_to("reels/o.mp4", ""), &work, &["--output-root", root.path().to_str().unwrap()]));
    assert_eq!(video_frames(&probe(&root.path().join("reels/o.mp4"))), 15);
    assert!(root.path().join("reels/o.mp4.json").exists());
    assert!(leftovers(&work).is_empty());
}

/// A local source is opened once and FFmpeg reads that open file: a directory swapped for a
/// link after the check changes nothing. A FIFO is refused at once; a name with `%d` is one
/// file, not an image sequence.
#[test]
fn local_sources_cannot_be_swapped_or_stall() {
    let d = tmp();
    let outside = tmp();
    std::fs::create_dir(d.path().join("media")).unwrap();
    color_clip(&d.path().join("media"), "a.mp4", "red", Some(440), "160x120", "30", 1.0);
    color_clip(outside.path(), "a.mp4", "blue", Some(880), "160x120", "30", 1.0);
    let clips = r#"{"type":"video","src":"media/a.mp4"},{"type":"color","color":"green","duration":2},{"type":"video","src":"media/a.mp4"}"#;
    let spec = write_spec(d.path(), "s.json", "out.mp4", 160, 120, "30", "black", clips);
    let work = d.path().join("work");
    let mut cmd = cutlist();
    cmd.arg("render").arg(&spec).arg("--workdir").arg(&work);
    let run = Running::until(&mut cmd, r#""event":"planned""#);
    // Hold cutlist while the directory is swapped for a link to another with the same names.
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(run.pid() as i32, libc::SIGSTOP) };
    std::fs::rename(d.path().join("media"), d.path().join("media-away")).unwrap();
    std::os::unix::fs::symlink(outside.path(), d.path().join("media")).unwrap();
    // SAFETY: as above.
    unsafe { libc::kill(run.pid() as i32, libc::SIGCONT) };
    let (status, rest, _) = run.wait();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    let out = d.path().join("out.mp4");
    assert_eq!(video_frames(&probe(&out)), 120);
    let last = frame(&out, 110, 4, 4).at(2, 2);
    assert!(near(last, (255, 0, 0), 40), "the last clip is still the checked file: {last:?}");

    // A FIFO beneath the root: refused at once, nothing left behind.
    let fifo = d.path().join("pipe.mp4");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let spec = write_spec(d.path(), "f.json", "f.mp4", 160, 120, "30", "black", r#"{"type":"video","src":"pipe.mp4"}"#);
    let t = Instant::now();
    let out = render(&spec, &work, &[]);
    assert_eq!(out.status.code(), Some(ASSET_REJECTED), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a regular file"), "{}", stderr(&out));
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_clean(&work, &d.path().join("f.mp4"));

    // `a%d.jpg` names one file; the sequence a1.jpg, a2.jpg… is not read.
    std::fs::create_dir(d.path().join("pat")).unwrap();
    for (name, color) in [("red.jpg", "red"), ("a1.jpg", "blue"), ("a2.jpg", "blue")] {
        let p = d.path().join("pat").join(name);
        ffmpeg(&["-f", "lavfi", "-i", &format!("color={color}:s=64x64"), "-frames:v", "1", p.to_str().unwrap()]);
    }
    std::fs::rename(d.path().join("pat/red.jpg"), d.path().join("pat/a%d.jpg")).unwrap();
    let spec = write_spec(
        d.path(),
        "p.json",
        "p.mp4",
        160,
        120,
        "30",
        "black",
        r#"{"type":"image","src":"pat/a%d.jpg","duration":1}"#,
    );
    assert_ok(&render(&spec, &work, &[]));
    assert!(near(frame(&d.path().join("p.mp4"), 15, 4, 4).at(2, 2), (255, 0, 0), 40));
}

#[test]
fn decoding_errors_are_reported_or_refused() {
    let d = tmp();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x240:r=30:d=2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "10",
        d.path().join("clean.mp4").to_str().unwrap(),
    ]);
    let mut bytes = std::fs::read(d.path().join("clean.mp4")).unwrap();
    let mdat = bytes.windows(4).position(|w| w == b"mdat").unwrap();
    let moov = bytes.windows(4).position(|w| w == b"moov").unwrap();
    let (from, to) = (mdat + 5000, if moov > mdat { moov - 100 } else { bytes.len() - 100 });
    for i in (from..to).step_by(997) {
        bytes[i] ^= 0x5a;
    }
    std::fs::write(d.path().join("damaged.mp4"), bytes).unwrap();
    let work = d.path().join("work");
    let spec =
        write_spec(d.path(), "s.json", "out.mp4", 320, 240, "30", "black", r#"{"type":"video","src":"damaged.mp4"}"#);
    // A copied clip is never decoded: its damage reaches the output as it is. Re-encoded, it
    // is reported; --strict-decode decodes every source, so it refuses it either way.
    let out = render(&spec, &work, &["--copy", "never"]);
    assert_ok(&out);
    assert!(stderr(&out).contains(r#""event":"decode_errors""#), "{}", stderr(&out));
    let m = manifest(&d.path().join("out.mp4"));
    assert_eq!(m["decode_errors"][0]["sources"][0], "timeline.tracks[0].clips[0].src", "{m}");
    assert!(m["decode_errors"][0]["lines"].as_u64().unwrap() > 0);
    let out = render(&spec, &work, &["--strict-decode", "--overwrite"]);
    assert_eq!(out.status.code(), Some(ASSET_REJECTED), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("timeline.tracks[0].clips[0].src") && stderr(&out).contains("--strict-decode"),
        "{}",
        stderr(&out)
    );
    let spec =
        write_spec(d.path(), "c.json", "c.mp4", 320, 240, "30", "black", r#"{"type":"video","src":"clean.mp4"}"#);
    assert_ok(&render(&spec, &work, &["--strict-decode"]));
    assert!(manifest(&d.path().join("c.mp4")).get("decode_errors").is_none());
}

#[test]
fn private_addresses_and_outside_paths_are_refused_without_a_request() {
    let d = tmp();
    let server = Server::start(vec![("/a.mp4", 200, b"\x00\x00\x00\x20ftypisom".to_vec())]);
    let outside = tmp();
    std::fs::write(outside.path().join("secret.mp4"), b"\x00\x00\x00\x20ftypisom").unwrap();
    let work = d.path().join("work");
    let port = server.port;
    for src in [
        server.url("/a.mp4"),
        format!("http://localhost:{port}/a.mp4"),
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/".to_string(),
        "http://[::ffff:127.0.0.1]/a.mp4".to_string(),
        outside.path().join("secret.mp4").display().to_string(),
    ] {
        let spec = write_spec(
            d.path(),
            "s.json",
            "out.mp4",
            160,
            120,
            "30",
            "black",
            &format!(r#"{{"type":"video","src":"{src}","out":1}}"#),
        );
        let t = Instant::now();
        let out = render(&spec, &work, &[]);
        assert_eq!(out.status.code(), Some(ASSET_REJECTED), "{src}: {}", stderr(&out));
        assert!(stderr(&out).contains("timeline.tracks[0].clips[0].src"), "{}", stderr(&out));
        assert!(t.elapsed() < Duration::from_secs(10), "refused fast");
        assert_clean(&work, &d.path().join("out.mp4"));
    }
    assert!(server.hits().is_empty(), "the server saw requests: {:?}", server.hits());
}

#[test]
fn http_assets_download_and_fail_clearly() {
    let d = tmp();
    let clip = color_clip(d.path(), "c.mp4", "red", Some(440), "160x120", "30", 1.0);
    let server = Server::start(vec![
        ("/c.mp4", 200, std::fs::read(&clip).unwrap()),
        // Whole as declared (Content-Length 1000), but only the first 1000 bytes of a file.
        ("/short.mp4", 200, std::fs::read(&clip).unwrap()[..1000].to_vec()),
        ("/busy.mp4", 503, vec![]),
        ("/playlist.mp4", 200, b"#EXTM3U\n#EXTINF:1,\nhttp://169.254.169.254/x.ts\n".to_vec()),
    ]);
    let work = d.path().join("work");
    let allow = ["--allow-private-network"];

    let spec = write_spec(
        d.path(),
        "ok.json",
        "ok.mp4",
        160,
        120,
        "30",
        "black",
        &format!(r#"{{"type":"video","src":"{}","out":1}}"#, server.url("/c.mp4")),
    );
    assert_ok(&render(&spec, &work, &allow));
    assert_eq!(video_frames(&probe(&d.path().join("ok.mp4"))), 30);
    assert!(leftovers(&work).is_empty());

    for (path, code, needle) in [
        ("/gone.mp4", ASSET_REJECTED, "404"),
        ("/busy.mp4", ASSET_UNREACHABLE, "503"),
        ("/playlist.mp4", ASSET_REJECTED, "HLS playlist"),
        ("/short.mp4", ASSET_REJECTED, "/short.mp4"),
    ] {
        let spec = write_spec(
            d.path(),
            "s.json",
            "out.mp4",
            160,
            120,
            "30",
            "black",
            &format!(r#"{{"type":"video","src":"{}","out":1}}"#, server.url(path)),
        );
        let out = render(&spec, &work, &allow);
        assert_eq!(out.status.code(), Some(code), "{path}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(needle) && err.contains(&server.url(path)), "{err}");
        assert_clean(&work, &d.path().join("out.mp4"));
    }
    // 503 was retried; 404 was not.
    let hits = server.hits();
    assert_eq!(hits.iter().filter(|h| *h == "/busy.mp4").count(), 3, "{hits:?}");
    assert_eq!(hits.iter().filter(|h| *h == "/gone.mp4").count(), 1, "{hits:?}");
}

/// A shell wrapper around the real FFmpeg, for faults FFmpeg does not make on demand: the
/// renders (runs with `-progress`) run `body`, every other run is FFmpeg's own.
fn ffmpeg_wrapper(dir: &Path, name: &str, body: &str) -> String {
    ffmpeg_wrapper_when(dir, name, "-progress", body)
}

/// The same, `body` running for the runs whose arguments contain `when`.
fn ffmpeg_wrapper_when(dir: &Path, name: &str, when: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\ncase \"$*\" in *{when}*) ;; *) exec ffmpeg \"$@\" ;; esac\n{body}\n"))
        .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.display().to_string()
}

/// An FFmpeg too old, or without a filter plans use, is refused before anything is fetched,
/// saying what to install.
#[test]
fn an_unfit_ffmpeg_is_refused_at_the_start() {
    let d = tmp();
    color_clip(d.path(), "c.mp4", "red", Some(440), "160x120", "30", 1.0);
    let spec =
        write_spec(d.path(), "s.json", "out.mp4", 160, 120, "30", "black", r#"{"type":"video","src":"c.mp4","out":1}"#);
    // Real FFmpeg, with the banner of an old one, or without xfade in its list.
    let banner = "ffmpeg version 4.4.2-0ubuntu0.22.04.1 Copyright (c) 2000-2021 the FFmpeg developers";
    let old = ffmpeg_wrapper_when(
        d.path(),
        "ffmpeg-old",
        "-encoders",
        &format!("echo '{banner}' >&2\nexec ffmpeg -hide_banner \"$@\""),
    );
    let no_xfade = ffmpeg_wrapper_when(d.path(), "ffmpeg-no-xfade", "-filters", "ffmpeg \"$@\" | grep -v ' xfade '");
    for (ffmpeg, says) in [(&old, "FFmpeg 4.4.2-0ubuntu0.22.04.1 is too old"), (&no_xfade, "lacks filter xfade")] {
        let work = d.path().join("work");
        let out = render(&spec, &work, &["--ffmpeg", ffmpeg]);
        assert_eq!(out.status.code(), Some(ENVIRONMENT), "{}", stderr(&out));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
        assert_clean(&work, &d.path().join("out.mp4"));
    }
}

#[test]
fn an_ffmpeg_failure_leaves_nothing_behind() {
    let d = tmp();
    color_clip(d.path(), "c.mp4", "red", Some(440), "160x120", "30", 1.0);
    let spec =
        write_spec(d.path(), "s.json", "out.mp4", 160, 120, "30", "black", r#"{"type":"video","src":"c.mp4","out":1}"#);
    // Real FFmpeg, handed an option it does not know when rendering.
    let bad = ffmpeg_wrapper(d.path(), "ffmpeg-bad", "exec ffmpeg -no_such_option 1 \"$@\"");
    let work = d.path().join("work");
    let out = render(&spec, &work, &["--ffmpeg", &bad, "--copy", "never"]);
    assert_eq!(out.status.code(), Some(RENDER_FAILED), "{}", stderr(&out));
    assert!(stderr(&out).contains("no_such_option"), "the stderr tail is in the error: {}", stderr(&out));
    assert!(stderr(&out).contains("timeline.tracks[0].clips[0]"));
    assert_clean(&work, &d.path().join("out.mp4"));
}

#[test]
fn a_stalled_ffmpeg_is_stopped_by_the_watchdog() {
    let d = tmp();
    color_clip(d.path(), "c.mp4", "red", Some(440), "320x240", "30", 10.0);
    let spec = write_spec(
        d.path(),
        "s.json",
        "out.mp4",
        320,
        240,
        "30",
        "black",
        r#"{"type":"video","src":"c.mp4","out":10}"#,
    );
    // Real FFmpeg that freezes (SIGSTOP) right after it starts.
    let frozen =
        ffmpeg_wrapper(d.path(), "ffmpeg-frozen", "ffmpeg \"$@\" & pid=$!\nsleep 0.05\nkill -STOP $pid\nwait $pid");
    let work = d.path().join("work");
    let t = Instant::now();
    let out = render(&spec, &work, &["--ffmpeg", &frozen, "--stall-timeout", "2"]);
    assert_eq!(out.status.code(), Some(STALLED), "{}", stderr(&out));
    assert!(t.elapsed() < Duration::from_secs(20));
    assert!(stderr(&out).contains("no progress"), "{}", stderr(&out));
    assert_clean(&work, &d.path().join("out.mp4"));
}

#[test]
fn the_deadline_stops_a_long_render() {
    let d = tmp();
    // Busy pictures (moving pattern and grain) keep x264's slow preset slow.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=640x360:r=30:d=20,noise=alls=30:allf=t",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        d.path().join("c.mp4").to_str().unwrap(),
    ]);
    let text = r#"{"version":1,"id":"slow","output":{"path":"out.mp4","width":640,"height":360,"fps":30,"video":{"preset":"slow"}},
        "timeline":{"tracks":[{"type":"video","clips":[{"type":"video","src":"c.mp4"},{"type":"video","src":"c.mp4"}]}]}}"#;
    let spec = d.path().join("slow.json");
    std::fs::write(&spec, text).unwrap();
    let work = d.path().join("work");
    let t = Instant::now();
    let out = render(&spec, &work, &["--deadline", "2", "--copy", "never"]);
    assert_eq!(out.status.code(), Some(STALLED), "{}", stderr(&out));
    assert!(stderr(&out).contains("deadline"), "{}", stderr(&out));
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_clean(&work, &d.path().join("out.mp4"));

    // As a batch task: the same code, and no record, so that the platform's retry renders
    // again instead of finishing at once with the recorded failure.
    let out = cutlist()
        .args(["job", "--spec"])
        .arg(&spec)
        .arg("--workdir")
        .arg(&work)
        .args(["--deadline", "2"])
        .env("CUTLIST_COPY", "never")
        .env("CUTLIST_TASK_INDEX", "0")
        .env("CUTLIST_TASK_COUNT", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(STALLED), "{}", stderr(&out));
    let failed = stderr(&out).lines().find(|l| l.contains(r#""event":"failed""#)).map(str::to_string);
    assert!(failed.as_deref().is_some_and(|l| l.contains(r#""retryable":true"#)), "{}", stderr(&out));
    assert!(leftovers(d.path()).iter().all(|f| !f.contains("cutlist-record")), "{:?}", leftovers(d.path()));
    assert_clean(&work, &d.path().join("out.mp4"));
}

/// The output's loudness measurement is an FFmpeg run like any other: SIGTERM stops it.
#[test]
fn sigterm_during_the_loudness_measurement_cancels_cleanly() {
    let d = tmp();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:d=1",
        d.path().join("tone.wav").to_str().unwrap(),
    ]);
    let spec = serde_json::json!({
        "version": 1, "id": "loud",
        "output": {"path": "out.mp4", "width": 64, "height": 64, "fps": 5,
                   "video": {"preset": "ultrafast"}, "audio": {"bitrate": 32000}, "loudness": {"integrated": -16}},
        "timeline": {"tracks": [
            {"type": "video", "clips": [{"type": "color", "color": "red", "duration": 300}]},
            {"type": "audio", "clips": [{"src": "tone.wav", "loop": true}]}
        ]}
    });
    let spec = write_json(d.path(), "loud.json", &spec);
    let work = d.path().join("work");
    let mut cmd = cutlist();
    cmd.arg("render").arg(&spec).arg("--workdir").arg(&work);
    let run = Running::until(&mut cmd, r#""event":"measuring_loudness""#);
    let (status, rest, took) = run.signal(libc::SIGTERM);
    assert_eq!(status.code(), Some(CANCELLED), "{rest:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(rest.iter().any(|l| l.contains(r#""event":"cancelled""#)), "{rest:?}");
    assert_clean(&work, &d.path().join("out.mp4"));
}

/// SIGTERM in each phase — fetch, probe, text, the join — ends the job within 5 s with exit
/// 143, no output and no workspace (render, upload and the loudness measurement have tests
/// of their own).
#[test]
fn sigterm_in_every_phase_ends_the_job_within_5_s() {
    let d = tmp();
    color_clip(d.path(), "a.mp4", "red", Some(440), "160x120", "30", 1.0);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:d=1",
        d.path().join("tone.wav").to_str().unwrap(),
    ]);
    // A server that sends a byte now and then (fetch), an ffprobe that takes its time (probe).
    let trickle = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = trickle.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in trickle.incoming().flatten() {
            std::thread::spawn(move || {
                use std::io::Write;
                let mut s = stream;
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n\x00\x00\x00\x20ftypisom");
                for _ in 0..60 {
                    std::thread::sleep(Duration::from_millis(500));
                    if s.write_all(b"\x00").is_err() {
                        break;
                    }
                }
            });
        }
    });
    let slow_probe = d.path().join("slow-ffprobe");
    std::fs::write(&slow_probe, "#!/bin/sh\nsleep 30\nexec ffprobe \"$@\"\n").unwrap();
    std::fs::set_permissions(&slow_probe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cues: Vec<serde_json::Value> =
        (0..4000).map(|i| serde_json::json!({"start": i as f64 * 0.1, "end": i as f64 * 0.1 + 0.1, "text": format!("caption {i}")})).collect();
    let spec = |clips: serde_json::Value, tracks: serde_json::Value, w: u32, h: u32, fps: u32| {
        let mut t = vec![serde_json::json!({"type": "video", "clips": clips})];
        t.extend(tracks.as_array().cloned().unwrap_or_default());
        serde_json::json!({"version": 1, "id": "phases",
            "output": {"path": "out.mp4", "width": w, "height": h, "fps": fps, "video": {"preset": "ultrafast"}, "audio": {"bitrate": 32000}},
            "timeline": {"tracks": t}})
    };
    let cases = [
        (
            "fetch",
            spec(
                serde_json::json!([{"type": "video", "src": format!("http://127.0.0.1:{port}/a.mp4")}]),
                serde_json::json!([]),
                160,
                120,
                30,
            ),
            vec!["--min-rate", "0", "--allow-private-network"],
        ),
        (
            "probe",
            spec(serde_json::json!([{"type": "video", "src": "a.mp4"}]), serde_json::json!([]), 160, 120, 30),
            vec!["--ffprobe", slow_probe.to_str().unwrap()],
        ),
        (
            "text",
            spec(
                serde_json::json!([{"type": "color", "color": "navy", "duration": 400}]),
                serde_json::json!([{"type": "captions", "cues": cues}]),
                1080,
                1920,
                1,
            ),
            vec![],
        ),
        (
            "join",
            spec(
                serde_json::json!([{"type": "color", "color": "navy", "duration": 900}]),
                serde_json::json!([{"type": "audio", "clips": [{"src": "tone.wav", "loop": true}]}]),
                64,
                64,
                1,
            ),
            vec![],
        ),
    ];
    for (phase, spec, extra) in cases {
        let path = write_json(d.path(), &format!("{phase}.json"), &spec);
        let work = d.path().join("work");
        let mut cmd = cutlist();
        cmd.arg("render").arg(&path).arg("--workdir").arg(&work).args(&extra);
        let marker = match phase {
            "join" => r#""detail":"joining segments""#.to_string(),
            p => format!(r#""phase":"{p}""#),
        };
        let run = Running::until(&mut cmd, &marker);
        std::thread::sleep(Duration::from_millis(300));
        let (status, rest, took) = run.signal(libc::SIGTERM);
        println!("SIGTERM during {phase}: exit {:?} after {took:?}", status.code());
        assert_eq!(status.code(), Some(CANCELLED), "{phase}: {rest:?}");
        assert!(took < Duration::from_secs(5), "{phase}: took {took:?}");
        assert_clean(&work, &d.path().join("out.mp4"));
    }
}

#[test]
fn sigterm_mid_render_cancels_cleanly() {
    let d = tmp();
    color_clip(d.path(), "c.mp4", "red", Some(440), "640x360", "30", 20.0);
    let clips: Vec<&str> = (0..4).map(|_| r#"{"type":"video","src":"c.mp4","out":20}"#).collect();
    let text = format!(
        r#"{{"version":1,"id":"long","output":{{"path":"out.mp4","width":640,"height":360,"fps":30,"video":{{"preset":"slow"}}}},
            "timeline":{{"tracks":[{{"type":"video","clips":[{}]}}]}}}}"#,
        clips.join(",")
    );
    let spec = d.path().join("long.json");
    std::fs::write(&spec, text).unwrap();
    let work = d.path().join("work");
    let result = d.path().join("result.json");
    let hook = Receiver::start();
    let run = Running::until(
        cutlist()
            .arg("render")
            .arg(&spec)
            .arg("--workdir")
            .arg(&work)
            .arg("--result")
            .arg(&result)
            .arg("--allow-private-network")
            // Whole clips coded as the output would be copied in a moment: re-encode them.
            .args(["--copy", "never"])
            .env("CUTLIST_WEBHOOK_URL", format!("http://127.0.0.1:{}/", hook.port)),
        r#""phase":"render""#,
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(!leftovers(&work).is_empty(), "the workspace exists mid-render");
    // Two segments are being encoded at once (2 cores, a roomy budget): both must stop.
    let in_work = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_link(e.path().join("cwd")).ok())
            .filter(|cwd| cwd.starts_with(&work))
            .count()
    };
    if std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2 {
        assert!(in_work() >= 2, "two FFmpeg runs in flight, {} seen", in_work());
    }
    let (status, rest, took) = run.signal(libc::SIGTERM);
    assert_eq!(status.code(), Some(CANCELLED), "{rest:?}");
    assert!(took < Duration::from_secs(8), "stopped well inside Cloud Run's 10 s");
    assert_clean(&work, &d.path().join("out.mp4"));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    assert_eq!(r["status"], "cancelled");
    assert_eq!(r["exit_code"], CANCELLED);
    // The backend heard it: the last status event is `cancelled`.
    assert_eq!(hook.kinds().last().map(String::as_str), Some("cancelled"), "{:?}", hook.kinds());
    // No FFmpeg left running in the (now gone) workspace.
    assert_eq!(in_work(), 0);
}

#[test]
fn over_budget_refusal_says_what_to_change() {
    let d = tmp();
    let spec = write_spec(
        d.path(),
        "s.json",
        "out.mp4",
        3840,
        2160,
        "30",
        "black",
        r#"{"type":"color","color":"red","duration":1}"#,
    );
    let work = d.path().join("work");
    // Even at ultrafast with one thread, a 4K encoder alone needs ~180 MiB: refused from
    // the spec alone.
    let out = render(&spec, &work, &["--memory-limit", "128M"]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(!stderr(&out).contains(r#""event":"accepted""#), "refused before accepting: {}", stderr(&out));
    assert!(stderr(&out).contains("lower the output resolution"), "{}", stderr(&out));
    assert_clean(&work, &d.path().join("out.mp4"));
}

/// Output settings that fit, and a source that does not: refused right after probing, before
/// any render, naming the clip.
#[test]
fn a_source_too_large_for_the_budget_is_refused_after_probing() {
    let d = tmp();
    uhd_hevc(&d.path().join("uhd.mp4"), 0.2);
    color_clip(d.path(), "c.mp4", "red", None, "320x240", "30", 0.5);
    let spec = write_spec(
        d.path(),
        "s.json",
        "out.mp4",
        1080,
        1920,
        "30",
        "black",
        r#"{"type":"video","src":"c.mp4"},{"type":"video","src":"uhd.mp4"}"#,
    );
    let work = d.path().join("work");
    let out = render(&spec, &work, &["--memory-limit", "150M"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(err.contains("timeline.tracks[0].clips[1] needs ~"), "{err}");
    assert!(err.contains("the limit is 150 MiB"), "{err}");
    assert!(!err.contains(r#""phase":"render""#), "nothing was rendered: {err}");
    assert_clean(&work, &d.path().join("out.mp4"));
}

#[test]
fn sigtstp_is_not_fatal() {
    let d = tmp();
    color_clip(d.path(), "c.mp4", "red", Some(440), "320x240", "30", 4.0);
    let spec = write_spec(
        d.path(),
        "s.json",
        "out.mp4",
        320,
        240,
        "30",
        "black",
        r#"{"type":"video","src":"c.mp4"},{"type":"video","src":"c.mp4"}"#,
    );
    let work = d.path().join("work");
    let run = Running::until(cutlist().arg("render").arg(&spec).arg("--workdir").arg(&work), r#""phase":"render""#);
    let (status, rest, _) = run.signal(libc::SIGTSTP);
    assert!(status.success(), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("\"event\":\"maintenance\"")), "{rest:?}");
    assert_eq!(video_frames(&probe(&d.path().join("out.mp4"))), 240);
}
