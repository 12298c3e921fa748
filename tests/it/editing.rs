//! The editing vocabulary, checked as a viewer sees and hears it: transitions, overlays,
//! audio tracks, captions, motion, speed, outputs.

use crate::common::*;
use serde_json::json;

fn spec(clips: serde_json::Value, extra_tracks: serde_json::Value) -> serde_json::Value {
    let mut tracks = vec![json!({"type": "video", "clips": clips})];
    tracks.extend(extra_tracks.as_array().cloned().unwrap_or_default());
    json!({
        "version": 1, "id": "edit",
        "output": {"path": "out.mp4", "width": 320, "height": 240, "fps": 30, "video": {"preset": "ultrafast"}},
        "timeline": {"background": "black", "tracks": tracks}
    })
}

#[test]
fn transitions_blend_overlap_and_report_their_timings() {
    let d = tmp();
    color_clip(d.path(), "red.mp4", "red", Some(440), "320x240", "30", 2.0);
    color_clip(d.path(), "green.mp4", "0x00ff00", Some(1000), "320x240", "30", 2.0);
    let s = spec(
        json!([
            {"type": "video", "src": "red.mp4", "out": 1.5},
            {"type": "video", "src": "green.mp4", "out": 1.5, "transition": {"type": "crossfade", "duration": 0.5}},
            {"type": "color", "color": "blue", "duration": 1.5, "transition": {"type": "fade", "color": "white", "duration": 0.6}},
            {"type": "color", "color": "yellow", "duration": 1, "transition": {"type": "wipeleft", "duration": 0.4}}
        ]),
        json!([]),
    );
    let spec_path = write_json(d.path(), "spec.json", &s);

    // The timings a backend syncs to: 45 frames each, overlapped by 15, 18 and 12.
    let out = cutlist().arg("validate").arg("--timings").arg(&spec_path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "clips[0]\t0.000\t0\t45",
        "clips[1]\t1.000\t30\t45",
        "clips[2]\t1.900\t57\t45",
        "clips[3]\t3.000\t90\t30",
        "total\t4.000\t120",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }

    let work = d.path().join("work");
    let r = render(&spec_path, &work, &[]);
    assert_ok(&r);
    let file = d.path().join("out.mp4");
    assert_eq!(video_frames(&probe(&file)), 120, "45 × 3 + 30 − 15 − 18 − 12");
    let m = manifest(&file);
    let starts: Vec<u64> = m["clips"].as_array().unwrap().iter().map(|c| c["start_frame"].as_u64().unwrap()).collect();
    assert_eq!(starts, vec![0, 30, 57, 90], "the manifest agrees with --timings");

    let px = |n: u64| frame(&file, n, 8, 6).at(4, 3);
    // Crossfade red → green over frames 30..45: red before, an even blend in the middle, green after.
    assert!(near(px(20), (255, 0, 0), 40), "{:?}", px(20));
    let mid = px(37);
    assert!(near(mid, (128, 128, 0), 45), "mid-crossfade {mid:?} is not a red/green blend");
    assert!(near(px(50), (0, 255, 0), 40), "{:?}", px(50));
    // Fade through white over 57..75: green, then white at the middle, then blue.
    assert!(near(px(65), (255, 255, 255), 50), "{:?}", px(65));
    assert!(near(px(85), (0, 0, 255), 40), "{:?}", px(85));
    // Wipe blue → yellow over 90..102: halfway, one side of the frame is each colour.
    let f = frame(&file, 96, 8, 6);
    let (left, right) = (f.at(0, 3), f.at(7, 3));
    assert!(
        (near(left, (0, 0, 255), 60) && near(right, (255, 255, 0), 60))
            || (near(right, (0, 0, 255), 60) && near(left, (255, 255, 0), 60)),
        "mid-wipe left {left:?} right {right:?}"
    );
    assert!(near(px(110), (255, 255, 0), 40));

    // The sounds crossfade over the same span: red's tone alone, then both, then green's alone.
    let s = audio(&file);
    let (rms, hz) = tone(&s, 0.2, 0.9);
    assert!(rms > 0.05 && (hz - 440.0).abs() < 15.0, "{rms} {hz}");
    let (rms_mid, _) = tone(&s, 1.2, 1.3);
    assert!(rms_mid > 0.05, "sound continues through the crossfade: {rms_mid}");
    let (rms, hz) = tone(&s, 1.55, 1.85);
    assert!(rms > 0.05 && (hz - 1000.0).abs() < 25.0, "{rms} {hz}");
    assert!(leftovers(&work).is_empty());
}

/// A lossless 64×64 clip of `secs` seconds whose pixels are `geq` (expressions of the frame
/// number N: each frame tells which it is), with a tone.
fn counting_clip(dir: &std::path::Path, name: &str, geq: &str, secs: u32, hz: u32) -> std::path::PathBuf {
    let path = dir.join(name);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("color=c=black:s=64x64:r=30:d={secs},format=yuv420p,geq={geq}"),
        "-f",
        "lavfi",
        "-i",
        &format!("sine=frequency={hz}:sample_rate=48000:d={secs}"),
        "-c:v",
        "libx264",
        "-qp",
        "0",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        "-shortest",
        path.to_str().unwrap(),
    ]);
    path
}

/// Every frame of the clips on each side of a transition lands on its own output frame — the
/// last unblended one, each blended one, the first after the blend — none doubled or
/// dropped, through a crossfade and a fade through a colour.
#[test]
fn transitions_start_and_end_on_their_frames() {
    let d = tmp();
    // 3 levels a frame (inside video range): a frame early or late is off by 3, twice the
    // coding's error allowed.
    counting_clip(d.path(), "up.mp4", "lum='16+3*N':cb=128:cr=128", 2, 440);
    counting_clip(d.path(), "down.mp4", "lum='235-3*N':cb=128:cr=128", 2, 1000);
    let (up, down) = (|n: i64| 16.0 + 3.0 * n as f64, |n: i64| 235.0 - 3.0 * n as f64);
    let mut s = spec(
        json!([
            {"type": "video", "src": "up.mp4"},
            {"type": "video", "src": "down.mp4", "transition": {"type": "crossfade", "duration": 0.5}},
            {"type": "video", "src": "up.mp4", "in": 0.5, "transition": {"type": "fade", "color": "white", "duration": 0.4}}
        ]),
        json!([]),
    );
    s["output"]["width"] = json!(64);
    s["output"]["height"] = json!(64);
    s["output"]["video"]["crf"] = json!(8);
    let spec_path = write_json(d.path(), "spec.json", &s);
    let work = d.path().join("work");
    let r = render(&spec_path, &work, &[]);
    assert_ok(&r);
    let file = d.path().join("out.mp4");
    // 60 + 60 + 45 frames, less 15 and 12 of overlap: up [0, 60), down [45, 105), up from its
    // frame 15 at [93, 138).
    let frames = yuv_frames(&file, 64, 64);
    assert_eq!(frames.len(), 138);
    let luma = |f: usize| frames[f][32 * 64 + 32] as f64;
    let expect = |f: i64| -> Option<f64> {
        match f {
            0..=44 => Some(up(f)),
            // xfade: the outgoing picture's weight falls from 1 by 1/15 a frame.
            45..=59 => {
                let k = (f - 45) as f64 / 15.0;
                Some(up(f) * (1.0 - k) + down(f - 45) * k)
            }
            60..=92 => Some(down(f - 45)),
            // The fade through white: checked below by its shape.
            93..=104 => None,
            _ => Some(up(15 + f - 93)),
        }
    };
    for f in 0..138 {
        if let Some(want) = expect(f) {
            assert!(
                (luma(f as usize) - want).abs() <= 1.5,
                "frame {f}: luma {} where {want} belongs",
                luma(f as usize)
            );
        }
    }
    // To white over 6 frames, from it over 6: brightest in the middle, the clips' own at each end.
    let peak = (93..105).max_by(|a, b| luma(*a).total_cmp(&luma(*b))).unwrap();
    assert!((98..=99).contains(&peak) && luma(peak) > 225.0, "fade peaks at {peak} ({})", luma(peak));
    assert!(luma(93) < luma(96) && luma(102) > luma(104), "a fade, not a cut");

    // The sound: exact length; up's tone, both across the crossfade, down's, then up's again.
    let a = audio(&file);
    assert!((a.len() as i64 - 220_800).abs() <= 1024, "{} samples", a.len());
    for (from, to, hz) in [(0.2, 1.4, 440.0), (2.05, 3.0, 1000.0), (3.55, 4.5, 440.0)] {
        let (rms, f) = tone(&a, from, to);
        assert!(rms > 0.05 && (f - hz).abs() < 25.0, "{from}–{to} s: {rms} at {f} Hz");
    }
    assert!(leftovers(&work).is_empty());
}

/// A clip longer than 15 s runs in chunks of ~10 s, two at once (on 8 cores): every frame
/// lands on its own output frame across each chunk boundary, and the sound runs on without a
/// gap or a click.
#[test]
fn a_long_clip_renders_in_chunks_without_a_seam() {
    let d = tmp();
    // Luma counts frames modulo 64, blue-difference counts groups of 64: each frame distinct.
    counting_clip(d.path(), "long.mp4", "lum='16+3*mod(N,64)':cb='64+4*floor(N/64)':cr=128", 40, 440);
    let mut s = spec(json!([{"type": "video", "src": "long.mp4", "in": 1}]), json!([]));
    s["output"]["width"] = json!(64);
    s["output"]["height"] = json!(64);
    s["output"]["video"]["crf"] = json!(8);
    let spec_path = write_json(d.path(), "spec.json", &s);
    let plan = cutlist().args(["plan", "--cpus", "8", "--memory-limit", "512Mi"]).arg(&spec_path).output().unwrap();
    assert_ok(&plan);
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(text.contains("chunks of ~10 s (3 runs more)"), "{text}");
    let work = d.path().join("work");
    assert_ok(&render(&spec_path, &work, &["--cpus", "8", "--memory-limit", "512Mi"]));
    let file = d.path().join("out.mp4");
    let frames = yuv_frames(&file, 64, 64);
    assert_eq!(frames.len(), 1170, "39 s from 1 s in");
    for (f, picture) in frames.iter().enumerate() {
        let n = f as f64 + 30.0;
        let (y, cb) = (picture[32 * 64 + 32] as f64, picture[64 * 64 + 16 * 32 + 16] as f64);
        let (want_y, want_cb) = (16.0 + 3.0 * (n % 64.0), 64.0 + 4.0 * (n / 64.0).floor());
        assert!(
            (y - want_y).abs() <= 1.5 && (cb - want_cb).abs() <= 1.5,
            "frame {f}: luma {y}, cb {cb}: not source frame {n} ({want_y}, {want_cb})"
        );
    }
    let a = audio(&file);
    assert!((a.len() as i64 - 1_872_000).abs() <= 1024, "{} samples", a.len());
    // The one sound seam (between the first chunk's run and the second's, 292 frames in) and
    // the chunks' picture seams: the tone runs on.
    no_click(&a, &[467_200, 936_000, 1_403_200]);
    assert!(leftovers(&work).is_empty());
}

/// A sine tone file (`ext` picks the format: wav, mp3…), `amp` of full scale.
fn tone_file(dir: &std::path::Path, name: &str, hz: u32, amp: f64, secs: f64, rate: u32) -> std::path::PathBuf {
    let p = dir.join(name);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("aevalsrc={amp}*sin(2*PI*{hz}*t):s={rate}:d={secs}"),
        "-ac",
        "2",
        p.to_str().unwrap(),
    ]);
    p
}

/// Level in dB (relative to full scale) of the `hz` component of samples [from, to) s (Goertzel).
fn band_db(s: &[f32], from: f64, to: f64, hz: f64) -> f64 {
    let (a, b) = ((from * 48000.0) as usize, (to * 48000.0) as usize);
    let w = 2.0 * std::f64::consts::PI * hz / 48000.0;
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in &s[a..b] {
        let s0 = x as f64 + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    let amp = 2.0 * power.sqrt() / (b - a) as f64;
    20.0 * amp.max(1e-9).log10()
}

#[test]
fn music_ducks_under_the_voice_and_comes_back() {
    let d = tmp();
    tone_file(d.path(), "music.mp3", 300, 0.3, 15.0, 44100);
    tone_file(d.path(), "vo.wav", 2500, 0.3, 3.0, 48000);
    let s = spec(
        json!([{"type": "color", "color": "black", "duration": 12}]),
        json!([
            {"type": "audio", "id": "music", "duck": {"under": "vo", "depth": 12, "attack": 0.2, "release": 0.5},
             "clips": [{"src": "music.mp3"}]},
            {"type": "audio", "id": "vo", "clips": [{"src": "vo.wav", "start": 5}]}
        ]),
    );
    let spec_path = write_json(d.path(), "spec.json", &s);
    let work = d.path().join("work");
    assert_ok(&render(&spec_path, &work, &[]));
    let file = d.path().join("out.mp4");
    assert_eq!(video_frames(&probe(&file)), 360);
    let a = audio(&file);
    let before = band_db(&a, 1.0, 4.0, 300.0);
    let ducked = band_db(&a, 5.3, 7.7, 300.0);
    let after = band_db(&a, 9.0, 11.5, 300.0);
    println!("music band: before {before:.2} dB, under the voice {ducked:.2} dB, after {after:.2} dB");
    assert!(before - ducked >= 11.7 && before - ducked <= 13.0, "ducked by {:.2} dB, want 12", before - ducked);
    assert!((after - before).abs() < 0.5, "music returns after the release: {before:.2} → {after:.2}");
    // The voice is heard only where it was placed.
    let voice = band_db(&a, 5.3, 7.7, 2500.0);
    assert!(voice > band_db(&a, 1.0, 4.0, 2500.0) + 40.0, "voice {voice:.1} dB");
    assert!(leftovers(&work).is_empty());
}

#[test]
fn no_click_at_cuts() {
    let d = tmp();
    color_clip(d.path(), "a.mp4", "red", Some(440), "320x240", "30", 2.0);
    color_clip(d.path(), "b.mp4", "green", Some(660), "320x240", "30", 2.0);
    color_clip(d.path(), "c.mp4", "blue", Some(880), "320x240", "30", 2.0);
    let s = spec(
        json!([
            {"type": "video", "src": "a.mp4", "in": 0.013, "out": 1},
            {"type": "video", "src": "b.mp4", "in": 0.51, "out": 1.51},
            {"type": "video", "src": "c.mp4", "in": 0.27, "out": 1.27}
        ]),
        json!([]),
    );
    let spec_path = write_json(d.path(), "spec.json", &s);
    assert_ok(&render(&spec_path, &d.path().join("work"), &[]));
    let a = audio(&d.path().join("out.mp4"));
    let max_step = |from: f64, to: f64| {
        a[(from * 48000.0) as usize..(to * 48000.0) as usize]
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0f32, f32::max)
    };
    // Cuts at 1 s and 2 s, where the tones' phases differ (each in-point starts mid-cycle),
    // so a plain cut would make the waveform jump.
    for (cut, left, right) in [(1.0, (0.3, 0.7), (1.3, 1.7)), (2.0, (1.3, 1.7), (2.3, 2.7))] {
        let steady = max_step(left.0, left.1).max(max_step(right.0, right.1));
        let at_cut = max_step(cut - 0.005, cut + 0.005);
        println!("cut at {cut:.3} s: largest step {at_cut:.4}, steady-state {steady:.4}");
        assert!(at_cut <= 1.2 * steady, "click at {cut:.3} s: step {at_cut:.4} > 1.2 × {steady:.4}");
    }
}

/// Pixels of `f` (a frame scaled to its own size) matching `pred`, as (count, min x, max x, min y, max y).
fn find(f: &Frame, pred: impl Fn((u8, u8, u8)) -> bool) -> (usize, usize, usize, usize, usize) {
    let (mut n, mut x0, mut x1, mut y0, mut y1) = (0, usize::MAX, 0, usize::MAX, 0);
    for y in 0..f.h {
        for x in 0..f.w {
            if pred(f.at(x, y)) {
                n += 1;
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
    }
    (n, x0, x1, y0, y1)
}

#[test]
fn overlays_text_images_and_picture_in_picture() {
    let d = tmp();
    color_clip(d.path(), "pip.mp4", "yellow", Some(900), "320x240", "30", 3.0);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=0x00ff00:s=100x50",
        "-frames:v",
        "1",
        d.path().join("logo.png").to_str().unwrap(),
    ]);
    let hostile = r#"it's 50% off: a\b; [x] {y}, %{pts} %{n} \' \\"#;
    let mut s = spec(
        json!([{"type": "color", "color": "#404040", "duration": 3}]),
        json!([
            {"type": "overlay", "items": [
                {"type": "text", "text": "the quick brown fox jumps over the lazy dog again and again", "start": 0, "duration": 1,
                 "position": "center", "style": {"size": 28, "width": 0.5, "color": "white"}},
                {"type": "text", "text": "HELLO", "start": 1, "duration": 1, "position": "top",
                 "style": {"size": 60, "color": "red", "outline": {"width": 2}}},
                {"type": "text", "text": "😀", "start": 2, "duration": 1, "position": "center", "style": {"size": 90}},
                {"type": "text", "text": hostile, "start": 0, "duration": 3, "position": "bottom_left", "style": {"size": 16, "color": "cyan"}}
            ]},
            {"type": "overlay", "items": [
                {"type": "image", "src": "logo.png", "start": 0, "duration": 3, "position": "top_left", "width": 0.2, "opacity": 0.5, "margin": 0},
                {"type": "video", "src": "pip.mp4", "start": 0.5, "out": 2, "position": "bottom_right", "width": 0.25, "margin": 0}
            ]}
        ]),
    );
    s["output"]["width"] = json!(640);
    s["output"]["height"] = json!(360);
    let spec_path = write_json(d.path(), "spec.json", &s);
    let work = d.path().join("work");
    assert_ok(&render(&spec_path, &work, &[]));
    let file = d.path().join("out.mp4");
    assert_eq!(video_frames(&probe(&file)), 90);
    let at = |n: u64| frame(&file, n, 640, 360);

    // Wrapped text: white only inside the middle half of the frame, during its second.
    let white = |c: (u8, u8, u8)| c.0 > 200 && c.1 > 200 && c.2 > 200;
    let (n, x0, x1, _, _) = find(&at(15), white);
    assert!(n > 200, "{n} white pixels");
    assert!(x0 >= 155 && x1 <= 485, "wrapped text spans x {x0}..{x1}, outside 160..480");
    assert_eq!(find(&at(45), white).0, 0, "the wrapped text is gone after 1 s");

    // "HELLO" in red, at the top, only during [1, 2).
    let red = |c: (u8, u8, u8)| c.0 > 180 && c.1 < 80 && c.2 < 80;
    let (n, _, _, y0, y1) = find(&at(45), red);
    assert!(n > 300 && y0 >= 15 && y1 < 120, "red text {n} px at y {y0}..{y1}");
    assert_eq!(find(&at(15), red).0, 0);
    assert_eq!(find(&at(75), red).0, 0);

    // The emoji in colour (yellow face, orange-brown features), not a white silhouette.
    let yellow = |c: (u8, u8, u8)| c.0 > 200 && c.1 > 150 && c.2 < 100;
    let (n, x0, x1, _, _) = find(&at(75), yellow);
    assert!(n > 500 && x0 > 250 && x1 < 390, "emoji: {n} yellow pixels at x {x0}..{x1}");

    // The logo at the top-left corner, half transparent: green blended with the grey.
    let logo = at(40).at(20, 10);
    assert!(near(logo, (32, 160, 32), 30), "logo pixel {logo:?}");

    // Picture-in-picture: yellow in the bottom-right quarter-width box from 0.5 s for 2 s.
    let pip = |n: u64| at(n).at(640 - 40, 360 - 30);
    assert!(near(pip(30), (255, 255, 0), 40), "{:?}", pip(30));
    assert!(near(pip(5), (64, 64, 64), 30), "before its start: {:?}", pip(5));
    assert!(near(pip(80), (64, 64, 64), 30), "after its end: {:?}", pip(80));

    // The hostile caption rendered as it is (cutlist draws it; FFmpeg never sees the text):
    // a static picture, identical at 0.2 s and 2.8 s (no %{pts}/%{n} expansion).
    let cyan = |c: (u8, u8, u8)| c.2 > 150 && c.1 > 150 && c.0 < 100;
    let (a, b) = (find(&at(6), cyan), find(&at(84), cyan));
    assert!(a.0 > 100, "caption pixels: {a:?}");
    // (Expanded, "%{n}" would grow from one digit to two and move the right edge.)
    assert_eq!((a.1, a.2, a.3, a.4), (b.1, b.2, b.3, b.4), "the caption changed over time");
    assert!(a.0.abs_diff(b.0) * 30 < a.0, "the caption changed over time: {a:?} vs {b:?}");

    // The picture-in-picture's sound is mixed in: its tone while it plays.
    let sound = audio(&file);
    let (rms, hz) = tone(&sound, 0.8, 1.8);
    assert!(rms > 0.03 && (hz - 900.0).abs() < 25.0, "{rms} {hz}");
    let (rms, _) = tone(&sound, 2.6, 2.95);
    assert!(rms < 0.002, "{rms}");
    assert!(leftovers(&work).is_empty());
}

/// Every frame of `file` as 8-bit grey, w×h each.
fn grey_frames(file: &std::path::Path, w: usize, h: usize) -> Vec<Vec<u8>> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i"])
        .arg(file)
        .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout.chunks_exact(w * h).map(|c| c.to_vec()).collect()
}

#[test]
fn ken_burns_moves_smoothly_on_a_large_still() {
    let d = tmp();
    // A 12 MP still: black, with a white disc off-centre as the marker to track.
    let still = d.path().join("still.png");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=black:s=4000x3000",
        "-vf",
        "geq=lum='if(lt(hypot(X-2600,Y-1200),40),255,0)':cb=128:cr=128",
        "-frames:v",
        "1",
        still.to_str().unwrap(),
    ]);
    let mut s = spec(
        json!([{"type": "image", "src": "still.png", "duration": 2, "motion": {"preset": "zoom_in", "amount": 0.3}}]),
        json!([]),
    );
    s["output"]["width"] = json!(1280);
    s["output"]["height"] = json!(720);
    s["output"]["video"] = json!({"preset": "ultrafast", "crf": 12});
    let spec_path = write_json(d.path(), "spec.json", &s);
    assert_ok(&render(&spec_path, &d.path().join("work"), &["--memory-limit", "512M"]));
    let file = d.path().join("out.mp4");
    let frames = grey_frames(&file, 1280, 720);
    assert_eq!(frames.len(), 60);
    let centroid = |f: &[u8]| {
        let (mut m, mut mx, mut my) = (0.0, 0.0, 0.0);
        for (i, &v) in f.iter().enumerate() {
            if v > 40 {
                let v = v as f64;
                m += v;
                mx += v * (i % 1280) as f64;
                my += v * (i / 1280) as f64;
            }
        }
        (mx / m, my / m)
    };
    let c: Vec<(f64, f64)> = frames.iter().map(|f| centroid(f)).collect();
    // The still is cover-fitted (4000×2250 of it shown), the marker right of and above the
    // centre; zooming in moves it outwards, steadily.
    assert!(c[59].0 > c[0].0 + 20.0 && c[59].1 < c[0].1 - 10.0, "{:?} → {:?}", c[0], c[59]);
    let worst = c
        .windows(3)
        .map(|w| ((w[2].0 - 2.0 * w[1].0 + w[0].0).abs()).max((w[2].1 - 2.0 * w[1].1 + w[0].1).abs()))
        .fold(0.0f64, f64::max);
    println!(
        "Ken Burns: marker {:.2},{:.2} → {:.2},{:.2}; largest |second difference| {worst:.3} px",
        c[0].0, c[0].1, c[59].0, c[59].1
    );
    assert!(worst <= 0.25, "the motion stutters: |second difference| up to {worst:.3} px");
    let m = manifest(&file);
    let peak = m["memory"]["peak"]["total"].as_u64().unwrap();
    println!("Ken Burns on a 4000×3000 still, 1280×720: peak {} MiB", peak >> 20);
    assert!(peak < 512 << 20);
}

#[test]
fn speed_changes_length_not_pitch() {
    let d = tmp();
    // Red with a 440 Hz tone for 1 s, then blue with 660 Hz for 1 s.
    let two = d.path().join("two.mp4");
    ffmpeg(&[
        "-f", "lavfi", "-i", "color=c=red:s=320x240:r=30:d=1,format=yuv420p[a];color=c=blue:s=320x240:r=30:d=1,format=yuv420p[b];[a][b]concat=n=2:v=1:a=0",
        "-f", "lavfi", "-i", "sine=f=440:d=1:sample_rate=48000[x];sine=f=660:d=1:sample_rate=48000[y];[x][y]concat=n=2:v=0:a=1",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", two.to_str().unwrap(),
    ]);
    let s = spec(
        json!([
            {"type": "video", "src": "two.mp4", "out": 2, "speed": 2},
            {"type": "video", "src": "two.mp4", "out": 2, "speed": 0.5}
        ]),
        json!([]),
    );
    let spec_path = write_json(d.path(), "spec.json", &s);
    assert_ok(&render(&spec_path, &d.path().join("work"), &[]));
    let file = d.path().join("out.mp4");
    assert_eq!(video_frames(&probe(&file)), 30 + 120, "2 s at 2× is 1 s; at 0.5× it is 4 s");
    let px = |n: u64| frame(&file, n, 8, 6).at(4, 3);
    // 2×: red for the first half second, blue for the second.
    assert!(near(px(7), (255, 0, 0), 40) && near(px(22), (0, 0, 255), 40), "{:?} {:?}", px(7), px(22));
    // 0.5×: red for 2 s, then blue for 2 s.
    assert!(near(px(30 + 50), (255, 0, 0), 40) && near(px(30 + 70), (0, 0, 255), 40));
    // The tones keep their pitch at both speeds, and change where the colour changes.
    let a = audio(&file);
    for (from, to, hz) in [(0.05, 0.45, 440.0), (0.55, 0.95, 660.0), (1.2, 2.8, 440.0), (3.2, 4.8, 660.0)] {
        let (rms, f) = tone(&a, from, to);
        assert!(rms > 0.03 && (f - hz).abs() < 15.0, "{from}–{to} s: {f:.0} Hz at {rms:.3}, want {hz}");
    }
}

#[test]
fn captions_burned_in_with_the_spoken_word_highlighted_muxed_and_beside() {
    let d = tmp();
    std::fs::write(d.path().join("subs.srt"), "1\n00:00:03,000 --> 00:00:04,000\nFrom a file\n\n").unwrap();
    let mut s = spec(
        json!([{"type": "color", "color": "#404040", "duration": 4.5}]),
        json!([
            {"type": "captions", "highlight": "#ffe000", "soft": true, "sidecar": "vtt",
             "style": {"size": 40, "color": "white", "outline": {"width": 2}},
             "cues": [{"start": 0.5, "end": 2.5, "words": [
                 {"text": "one", "start": 0.5, "end": 1.1}, {"text": "two", "start": 1.1, "end": 1.7}, {"text": "three", "start": 1.7, "end": 2.5}]}]},
            {"type": "captions", "src": "subs.srt", "position": "top", "style": {"size": 36, "color": "cyan"}}
        ]),
    );
    s["output"]["width"] = json!(640);
    s["output"]["height"] = json!(360);
    let spec_path = write_json(d.path(), "spec.json", &s);
    let work = d.path().join("work");
    assert_ok(&render(&spec_path, &work, &[]));
    let file = d.path().join("out.mp4");
    let at = |secs: f64| frame(&file, (secs * 30.0) as u64, 640, 360);
    let yellow = |c: (u8, u8, u8)| c.0 > 200 && c.1 > 180 && c.2 < 90;
    let white = |c: (u8, u8, u8)| c.0 > 200 && c.1 > 200 && c.2 > 200;
    let centre_x = |f: &Frame, pred: &dyn Fn((u8, u8, u8)) -> bool| {
        let (n, x0, x1, y0, _) = find(f, pred);
        (n, (x0 + x1) as f64 / 2.0, y0)
    };
    // The word being spoken is yellow and moves left to right; the others stay white.
    let (n1, x1, y) = centre_x(&at(0.8), &yellow);
    let (n2, x2, _) = centre_x(&at(1.4), &yellow);
    let (n3, x3, _) = centre_x(&at(2.1), &yellow);
    println!("highlight: {n1} px at x {x1}, {n2} px at x {x2}, {n3} px at x {x3}");
    assert!(n1 > 50 && n2 > 50 && n3 > 50);
    assert!(x1 < x2 && x2 < x3, "highlight does not follow the words: {x1} {x2} {x3}");
    assert!(y > 250, "captions sit at the bottom (y {y})");
    assert!(find(&at(1.4), white).0 > 100, "the other words stay white");
    // Nothing before the cue, nothing after.
    assert_eq!(find(&at(0.2), white).0 + find(&at(0.2), yellow).0, 0);
    assert_eq!(find(&at(2.8), white).0 + find(&at(2.8), yellow).0, 0);
    // The file's cue at the top, in its own style, in its own time.
    let cyan = |c: (u8, u8, u8)| c.0 < 90 && c.1 > 180 && c.2 > 180;
    let (n, _, _, _, y1) = find(&at(3.5), cyan);
    assert!(n > 100 && y1 < 120, "{n} cyan px down to y {y1}");
    assert_eq!(find(&at(2.8), cyan).0, 0);
    // A soft subtitle track in the MP4, and a WebVTT file beside it.
    let p = probe(&file);
    assert_eq!(stream(&p, "subtitle")["codec_name"], "mov_text");
    let vtt = std::fs::read_to_string(d.path().join("out.vtt")).unwrap();
    assert!(vtt.starts_with("WEBVTT") && vtt.contains("00:00:00.500 --> 00:00:02.500\none two three"), "{vtt}");
    assert_eq!(manifest(&file)["sidecars"][0].as_str().unwrap(), d.path().join("out.vtt").to_str().unwrap());
    assert!(leftovers(&work).is_empty());
}

#[test]
fn every_output_kind_decodes_cleanly_with_the_asked_shape() {
    let d = tmp();
    color_clip(d.path(), "red.mp4", "red", Some(440), "320x240", "30", 1.0);
    color_clip(d.path(), "blue.mp4", "blue", Some(660), "320x240", "30", 1.0);
    let clips = json!([{"type": "video", "src": "red.mp4"}, {"type": "video", "src": "blue.mp4"}]);
    // (output fields, size, fps, video codec, audio codec)
    let kinds = [
        (
            json!({"path": "hevc.mp4", "aspect": "1:1", "width": 240, "fps": 30, "video": {"codec": "libx265", "preset": "ultrafast"}}),
            (240, 240),
            "30/1",
            "hevc",
            Some("aac"),
        ),
        (
            json!({"path": "vp9.webm", "format": "webm", "aspect": "16:9", "width": 320, "fps": 25, "video": {"preset": "ultrafast", "crf": 33}}),
            (320, 180),
            "25/1",
            "vp9",
            Some("opus"),
        ),
        (
            json!({"path": "anim.gif", "format": "gif", "aspect": "4:5", "height": 250, "fps": 10}),
            (200, 250),
            "10/1",
            "gif",
            None,
        ),
        (
            json!({"path": "h264.mp4", "aspect": "9:16", "height": 320, "fps": 30, "video": {"preset": "ultrafast"},
                "poster": {"time": 1.0}, "thumbnail": {"time": 0.966, "width": 90, "path": "thumbs/small.png"}}),
            (180, 320),
            "30/1",
            "h264",
            Some("aac"),
        ),
    ];
    for (output, (w, h), fps, vcodec, acodec) in kinds {
        let name = output["path"].as_str().unwrap().to_string();
        let mut s = spec(clips.clone(), json!([]));
        s["output"] = output;
        let spec_path = write_json(d.path(), &format!("{name}.spec.json"), &s);
        let r = render(&spec_path, &d.path().join("work"), &[]);
        assert_ok(&r);
        let file = d.path().join(&name);
        // Plays without a single decoder complaint.
        let check = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&file)
            .args(["-f", "null", "-"])
            .output()
            .unwrap();
        assert!(
            check.status.success() && check.stderr.is_empty(),
            "{name}: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let p = probe(&file);
        let v = stream(&p, "video");
        assert_eq!((v["width"].as_u64().unwrap(), v["height"].as_u64().unwrap()), (w, h), "{name}");
        assert_eq!(v["codec_name"], vcodec, "{name}");
        assert_eq!(v["r_frame_rate"], fps, "{name}");
        let rate: f64 = fps.trim_end_matches("/1").parse().unwrap();
        assert_eq!(video_frames(&p), (2.0 * rate) as u64, "{name}");
        match acodec {
            Some(a) => assert_eq!(stream(&p, "audio")["codec_name"], a, "{name}"),
            None => {
                assert!(p["streams"].as_array().unwrap().iter().all(|s| s["codec_type"] != "audio"), "{name} has sound")
            }
        }
        if name == "h264.mp4" {
            // Frame-exact: the poster at 1.0 s is the blue clip's first frame (full size); the
            // thumbnail at 0.966 s (frame 29) the red clip's last, 90 wide.
            let poster = d.path().join("h264.poster.jpg");
            let pp = probe(&poster);
            assert_eq!(stream(&pp, "video")["width"], 180);
            assert!(near(frame(&poster, 0, 4, 4).at(2, 2), (0, 0, 255), 40));
            let thumb = d.path().join("thumbs/small.png");
            assert_eq!(stream(&probe(&thumb), "video")["width"], 90);
            assert!(near(frame(&thumb, 0, 4, 4).at(2, 2), (255, 0, 0), 40));
            let m = manifest(&file);
            assert_eq!(m["sidecars"].as_array().unwrap().len(), 2);
        }
        if name == "anim.gif" {
            assert!(
                near(frame(&file, 5, 4, 4).at(2, 2), (255, 0, 0), 40)
                    && near(frame(&file, 15, 4, 4).at(2, 2), (0, 0, 255), 40)
            );
        }
    }
    assert!(leftovers(&d.path().join("work")).is_empty());
}

/// Every frame of a file, downscaled to w×h RGB.
fn all_frames(file: &std::path::Path, w: usize, h: usize) -> Vec<Frame> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i"])
        .arg(file)
        .args(["-vf", &format!("scale={w}:{h}:flags=area"), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout.chunks_exact(w * h * 3).map(|c| Frame { w, h, rgb: c.to_vec() }).collect()
}

/// Text, image and video overlays and captions start and end on exactly their frames, at 24,
/// 25, 30 and 30000/1001 fps, for starts on every residue of the grid against a picture's
/// own time base (and a video overlay's own 30 fps).
#[test]
fn overlays_start_and_end_on_their_frames() {
    let d = tmp();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=white:s=32x32",
        "-frames:v",
        "1",
        d.path().join("white.png").to_str().unwrap(),
    ]);
    color_clip(d.path(), "white.mp4", "white", None, "32x32", "30", 2.0);
    for fps in ["24", "25", "30", "30000/1001"] {
        let rate = match fps {
            "30000/1001" => 30000.0 / 1001.0,
            f => f.parse::<f64>().unwrap(),
        };
        // 25 items, two frames each, three frames apart: starts on frames 10, 13, … 82.
        let items: Vec<serde_json::Value> = (0..25)
            .map(|k| {
                let start = (10 + 3 * k) as f64 / rate;
                match k % 3 {
                    0 => json!({"type": "text", "text": "█", "start": start, "duration": 2.0 / rate, "position": "center",
                           "style": {"size": 60, "box": {"color": "white", "opacity": 1, "padding": 40}}}),
                    1 => json!({"type": "image", "src": "white.png", "start": start, "duration": 2.0 / rate, "position": "center", "width": 1}),
                    _ => json!({"type": "video", "src": "white.mp4", "start": start, "out": 2.0 / rate, "position": "center", "width": 1}),
                }
            })
            .collect();
        let mut s = spec(
            json!([{"type": "color", "color": "black", "duration": 90.0 / rate}]),
            json!([{"type": "overlay", "items": items}]),
        );
        s["output"] = json!({"path": "ov.mp4", "width": 64, "height": 64, "fps": fps, "video": {"preset": "ultrafast", "crf": 10}});
        let path = write_json(d.path(), "ov.json", &s);
        assert_ok(&render(&path, &d.path().join("work"), &["--overwrite"]));
        let frames = all_frames(&d.path().join("ov.mp4"), 8, 8);
        assert_eq!(frames.len(), 90, "{fps}");
        let lit = |f: usize| frames[f].at(4, 4).0 > 128;
        let pattern: String = (0..90).map(|f| if lit(f) { '#' } else { '.' }).collect();
        println!("{fps} overlays: {pattern}");
        for k in 0..25 {
            let f = 10 + 3 * k;
            assert!(
                !lit(f - 1) && lit(f) && lit(f + 1) && !lit(f + 2),
                "{fps} fps: item {k} ({}) should cover frames {f} and {}",
                ["text", "image", "video"][k % 3],
                f + 1
            );
        }

        // Captions: the same grid, each cue two frames long, at the bottom.
        let cues: Vec<serde_json::Value> = (0..25)
            .map(|k| json!({"start": (10 + 3 * k) as f64 / rate, "end": (12 + 3 * k) as f64 / rate, "text": "█"}))
            .collect();
        s["timeline"]["tracks"][1] = json!({"type": "captions", "cues": cues, "position": "bottom", "margin": 0,
            "style": {"size": 16, "box": {"color": "white", "opacity": 1, "padding": 8}}});
        let path = write_json(d.path(), "cc.json", &s);
        assert_ok(&render(&path, &d.path().join("work"), &["--overwrite"]));
        let frames = all_frames(&d.path().join("ov.mp4"), 8, 8);
        assert_eq!(frames.len(), 90, "{fps}");
        let lit = |f: usize| frames[f].at(4, 7).0 > 128;
        let pattern: String = (0..90).map(|f| if lit(f) { '#' } else { '.' }).collect();
        println!("{fps} captions: {pattern}");
        for k in 0..25 {
            let f = 10 + 3 * k;
            assert!(
                !lit(f - 1) && lit(f) && lit(f + 1) && !lit(f + 2),
                "{fps} fps: cue {k} should cover frames {f} and {}",
                f + 1
            );
        }
    }
}
