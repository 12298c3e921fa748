//! Rendered timelines checked as a viewer would: frame counts, sizes, codecs, the colour
//! of each clip, the tone of each clip, silence, sync, orientation.

use crate::common::*;

#[test]
fn cuts_look_and_sound_as_written() {
    let d = tmp();
    color_clip(d.path(), "red.mp4", "red", Some(440), "320x240", "30", 3.0);
    color_clip(d.path(), "green.mp4", "0x00ff00", Some(880), "640x360", "25", 3.0);
    color_clip(d.path(), "blue.mp4", "blue", None, "320x240", "30", 2.0);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=yellow:s=200x150",
        "-frames:v",
        "1",
        d.path().join("yellow.png").to_str().unwrap(),
    ]);
    let spec = write_spec(
        d.path(),
        "spec.json",
        "out.mp4",
        320,
        240,
        "30",
        "black",
        r##"{"type":"video","src":"red.mp4","in":0.5,"out":1.5},
            {"type":"video","src":"green.mp4","in":1,"out":2.2},
            {"type":"video","src":"blue.mp4","out":1},
            {"type":"image","src":"yellow.png","duration":1,"fit":"fill"},
            {"type":"color","color":"#ff00ff","duration":0.5}"##,
    );
    let work = d.path().join("work");
    let out = render(&spec, &work, &[]);
    assert_ok(&out);
    let file = d.path().join("out.mp4");
    let p = probe(&file);

    // Frames: 30 + 36 + 30 + 30 + 15, exactly.
    assert_eq!(video_frames(&p), 141);
    let v = stream(&p, "video");
    assert_eq!((v["width"].as_u64(), v["height"].as_u64()), (Some(320), Some(240)));
    assert_eq!(v["codec_name"], "h264");
    assert_eq!(v["pix_fmt"], "yuv420p");
    assert_eq!(v["r_frame_rate"], "30/1");
    let a = stream(&p, "audio");
    assert_eq!(a["codec_name"], "aac");
    assert_eq!(a["sample_rate"], "48000");
    assert_eq!(a["channels"], 2);
    assert!(p["format"]["format_name"].as_str().unwrap().contains("mp4"));

    // Each clip's colour in its middle.
    for (frame_no, want) in
        [(15, (255, 0, 0)), (48, (0, 255, 0)), (81, (0, 0, 255)), (111, (255, 255, 0)), (133, (255, 0, 255))]
    {
        let f = frame(&file, frame_no, 8, 6);
        assert!(near(f.at(4, 3), want, 40), "frame {frame_no}: {:?}, want {want:?}", f.at(4, 3));
    }

    // Each clip's tone at its place; silence where the silent clip, the image and the colour sit.
    let s = audio(&file);
    let (rms, hz) = tone(&s, 0.2, 0.8);
    assert!(rms > 0.05 && (hz - 440.0).abs() < 15.0, "clip 0: {rms} {hz}");
    let (rms, hz) = tone(&s, 1.2, 2.0);
    assert!(rms > 0.05 && (hz - 880.0).abs() < 20.0, "clip 1: {rms} {hz}");
    for (from, to) in [(2.3, 3.1), (3.3, 4.1), (4.2, 4.6)] {
        let (rms, _) = tone(&s, from, to);
        assert!(rms < 0.002, "silence expected at {from}–{to}: {rms}");
    }

    // +faststart: the index (moov) comes before the media data (mdat).
    let bytes = std::fs::read(&file).unwrap();
    let at = |tag: &[u8]| bytes.windows(4).position(|w| w == tag).unwrap();
    assert!(at(b"moov") < at(b"mdat"), "moov after mdat: not faststart");

    // The manifest tells the same story, and the workspace is gone.
    let m = manifest(&file);
    assert_eq!(m["frames"], 141);
    assert_eq!(m["clips"][1]["start_frame"], 30);
    assert!(m["memory"]["peak"]["tree"].as_u64().unwrap() > 0);
    assert!(leftovers(&work).is_empty(), "{:?}", leftovers(&work));
}

/// A green 640×360 picture with red bands at its left and right edges, fitted into a square.
#[test]
fn cover_contain_and_fill() {
    let d = tmp();
    let src = d.path().join("banded.mp4");
    ffmpeg(&[
        "-f", "lavfi", "-i", "color=c=0x00ff00:s=640x360:r=30:d=1,drawbox=x=0:y=0:w=40:h=360:c=red:t=fill,drawbox=x=600:y=0:w=40:h=360:c=red:t=fill",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", src.to_str().unwrap(),
    ]);
    for (fit, edge, top) in
        [("cover", (0, 255, 0), (0, 255, 0)), ("fill", (255, 0, 0), (0, 255, 0)), ("contain", (255, 0, 0), (0, 0, 255))]
    {
        let spec = write_spec(
            d.path(),
            &format!("{fit}.json"),
            &format!("{fit}.mp4"),
            240,
            240,
            "30",
            "blue",
            &format!(r#"{{"type":"video","src":"banded.mp4","out":0.5,"fit":"{fit}"}}"#),
        );
        assert_ok(&render(&spec, &d.path().join("work"), &[]));
        let f = frame(&d.path().join(format!("{fit}.mp4")), 5, 48, 48);
        assert!(near(f.at(1, 24), edge, 50), "{fit}: left edge {:?}", f.at(1, 24));
        assert!(near(f.at(24, 2), top, 50), "{fit}: top {:?}", f.at(24, 2));
        assert!(near(f.at(24, 24), (0, 255, 0), 50), "{fit}: centre {:?}", f.at(24, 24));
    }
}

/// Thirty clips, each opening with a one-frame white flash and a beep, at an NTSC frame
/// rate with lengths that do not divide evenly: the beep stays on its flash to the end.
#[test]
fn no_drift_over_thirty_clips() {
    let d = tmp();
    let src = d.path().join("flash.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=black:s=160x120:r=25:d=2,drawbox=c=white:t=fill:enable='lt(t,0.04)'",
        "-f",
        "lavfi",
        "-i",
        "aevalsrc='if(lt(t,0.08),0.5*sin(2*PI*1000*t),0)':s=44100:d=1.95",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        src.to_str().unwrap(),
    ]);
    let clips: Vec<String> = (0..30)
        .map(|i| format!(r#"{{"type":"video","src":"flash.mp4","out":{}}}"#, 0.55 + (i % 7) as f64 * 0.113))
        .collect();
    let spec = write_spec(d.path(), "sync.json", "sync.mp4", 160, 120, "\"30000/1001\"", "black", &clips.join(","));
    assert_ok(&render(&spec, &d.path().join("work"), &[]));
    let file = d.path().join("sync.mp4");

    // Flash times: frames brighter than mid-grey, by frame number.
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&file)
        .args(["-vf", "scale=4:4,format=gray", "-f", "rawvideo", "-"])
        .output()
        .unwrap();
    let fps = 30000.0 / 1001.0;
    let flashes: Vec<f64> = out
        .stdout
        .chunks_exact(16)
        .enumerate()
        .filter(|(_, px)| px.iter().map(|&p| p as u32).sum::<u32>() / 16 > 128)
        .map(|(n, _)| n as f64 / fps)
        .collect();
    assert_eq!(flashes.len(), 30, "{flashes:?}");

    // Beep onsets: the first loud sample after at least 0.1 s of quiet.
    let s = audio(&file);
    let mut onsets = Vec::new();
    let mut quiet = 0usize;
    for (i, x) in s.iter().enumerate() {
        if x.abs() > 0.05 {
            if quiet >= 4800 {
                onsets.push(i as f64 / 48000.0);
            }
            quiet = 0;
        } else {
            quiet += 1;
        }
    }
    if s.iter().take(480).any(|x| x.abs() > 0.05) {
        onsets.insert(0, 0.0);
    }
    assert_eq!(onsets.len(), 30, "{onsets:?}");
    let worst = flashes.iter().zip(&onsets).map(|(f, o)| (f - o).abs()).fold(0.0, f64::max);
    let last = (flashes[29] - onsets[29]).abs();
    eprintln!("A/V offset at clip 30: {:.1} ms (worst over 30 clips: {:.1} ms)", last * 1000.0, worst * 1000.0);
    assert!(last <= 0.021, "clip 30: flash {} s, beep {} s", flashes[29], onsets[29]);
    assert!(worst <= 0.021, "worst offset {worst}");
}

/// A phone clip: pixels stored landscape, a display matrix that turns them upright.
#[test]
fn rotated_phone_clip_comes_out_upright() {
    let d = tmp();
    let raw = d.path().join("raw.mp4");
    // Upright it is red on top, blue below; stored turned a quarter counter-clockwise.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=red:s=180x320:r=30:d=1,drawbox=x=0:y=160:w=180:h=160:c=blue:t=fill,transpose=2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        raw.to_str().unwrap(),
    ]);
    let phone = d.path().join("phone.mp4");
    ffmpeg(&["-i", raw.to_str().unwrap(), "-c", "copy", "-metadata:s:v:0", "rotate=270", phone.to_str().unwrap()]);
    let spec = write_spec(
        d.path(),
        "s.json",
        "upright.mp4",
        180,
        320,
        "30",
        "black",
        r#"{"type":"video","src":"phone.mp4","out":0.5,"fit":"fill"}"#,
    );
    assert_ok(&render(&spec, &d.path().join("work"), &[]));
    let f = frame(&d.path().join("upright.mp4"), 5, 9, 16);
    assert!(near(f.at(4, 3), (255, 0, 0), 50), "top {:?}", f.at(4, 3));
    assert!(near(f.at(4, 12), (0, 0, 255), 50), "bottom {:?}", f.at(4, 12));
}

/// A JPEG stored landscape with EXIF orientation 6 (turn 90° clockwise to view).
#[test]
fn exif_rotated_still_is_fitted_upright() {
    let d = tmp();
    let jpg = d.path().join("still.jpg");
    // Stored: left half red, right half blue. Viewed (turned clockwise): red on top.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=red:s=320x180,drawbox=x=160:y=0:w=160:h=180:c=blue:t=fill",
        "-frames:v",
        "1",
        jpg.to_str().unwrap(),
    ]);
    set_exif_orientation(&jpg, 6);
    let spec = write_spec(
        d.path(),
        "s.json",
        "still.mp4",
        180,
        320,
        "30",
        "black",
        r#"{"type":"image","src":"still.jpg","duration":0.5,"fit":"contain"}"#,
    );
    assert_ok(&render(&spec, &d.path().join("work"), &[]));
    let f = frame(&d.path().join("still.mp4"), 5, 9, 16);
    // Upright, a portrait picture fills the portrait frame (contain without bars).
    assert!(near(f.at(4, 3), (255, 0, 0), 60), "top {:?}", f.at(4, 3));
    assert!(near(f.at(4, 12), (0, 0, 255), 60), "bottom {:?}", f.at(4, 12));
}

#[test]
fn hdr_source_is_tone_mapped_to_sdr() {
    let d = tmp();
    let src = d.path().join("hdr.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=0x808080:s=320x240:r=30:d=1",
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        "log-level=error",
        "-pix_fmt",
        "yuv420p10le",
        "-color_trc",
        "smpte2084",
        "-color_primaries",
        "bt2020",
        "-colorspace",
        "bt2020nc",
        src.to_str().unwrap(),
    ]);
    let spec = write_spec(
        d.path(),
        "s.json",
        "sdr.mp4",
        320,
        240,
        "30",
        "black",
        r#"{"type":"video","src":"hdr.mp4","out":0.5}"#,
    );
    assert_ok(&render(&spec, &d.path().join("work"), &[]));
    let p = probe(&d.path().join("sdr.mp4"));
    assert_eq!(video_frames(&p), 15);
    assert_eq!(stream(&p, "video")["pix_fmt"], "yuv420p");
    let f = frame(&d.path().join("sdr.mp4"), 7, 4, 4);
    let (r, g, b) = f.at(2, 2);
    assert!((r as i32 - g as i32).abs() < 20 && (g as i32 - b as i32).abs() < 20, "a grey stays grey: {:?}", (r, g, b));
}

/// Peak signal-to-noise ratio of two pictures of the same size, dB.
fn psnr(a: &Frame, b: &Frame) -> f64 {
    let mse = a.rgb.iter().zip(&b.rgb).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum::<f64>() / a.rgb.len() as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-9)).log10()
}

/// A phone clip stored sideways with non-square pixels (SAR 4:3, display matrix −90°) comes
/// out upright and undistorted: compared with FFmpeg's own rotate-and-scale of the same frames.
#[test]
fn rotated_non_square_pixels_keep_their_shape() {
    let d = tmp();
    let raw = d.path().join("raw.mp4");
    let src = d.path().join("sar.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x240:r=30:d=1,setsar=4/3",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        "10",
        raw.to_str().unwrap(),
    ]);
    ffmpeg(&["-i", raw.to_str().unwrap(), "-c", "copy", "-metadata:s:v:0", "rotate=270", src.to_str().unwrap()]);
    // Upright, the frame is 240×320 pixels of aspect 3:4: it shows 180×320, 9:16.
    for (name, w, h, reference) in [
        ("tall", 270u32, 480u32, "scale=180:320,setsar=1,scale=270:480"),
        ("square", 240, 240, "scale=180:320,setsar=1,crop=180:180,scale=240:240"),
    ] {
        let spec = write_spec(
            d.path(),
            &format!("{name}.json"),
            &format!("{name}.mp4"),
            w,
            h,
            "30",
            "black",
            r#"{"type":"video","src":"sar.mp4","fit":"cover"}"#,
        );
        assert_ok(&render(&spec, &d.path().join("work"), &[]));
        let want = d.path().join(format!("{name}-ref.mp4"));
        ffmpeg(&[
            "-i",
            src.to_str().unwrap(),
            "-vf",
            reference,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "10",
            want.to_str().unwrap(),
        ]);
        let (sw, sh) = (w as usize / 2, h as usize / 2);
        let p = psnr(&frame(&d.path().join(format!("{name}.mp4")), 15, sw, sh), &frame(&want, 15, sw, sh));
        println!("{name}: PSNR {p:.1} dB against FFmpeg's rotate-and-scale");
        assert!(p > 30.0, "{name}: PSNR {p:.1} dB: distorted");
    }
}
