//! Stream copy: whole clips coded as the output is pass through untouched (their packets
//! bit for bit), the sound is still mixed and encoded once, exact in length and without a
//! click at any join; anything that rules a copy out re-encodes, and the manifest says why.

use crate::common::*;
use serde_json::json;
use std::path::Path;
use std::process::Command;

/// A 2 s 640×360 clip of `color` with a `hz` tone, encoded as phones and editors do (H.264
/// High, GOP 30, AAC): clips made alike share their parameter sets.
fn clip(dir: &Path, name: &str, color: &str, hz: u32) {
    source(dir, name, color, hz, 2.0, "keyint=30");
}

/// A 640×360 30 fps clip of `secs` with a moving picture framed in `color` and a `hz` tone,
/// H.264 High (B-pyramid: pictures reordered by 2 frames) with these x264 parameters, AAC.
fn source(dir: &Path, name: &str, color: &str, hz: u32, secs: f64, x264: &str) {
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=s=640x360:r=30:d={secs},drawbox=c={color}:t=40"),
        "-f",
        "lavfi",
        "-i",
        &format!("sine=f={hz}:r=48000:d={secs}"),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-x264-params",
        x264,
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        dir.join(name).to_str().unwrap(),
    ]);
}

/// OpenH264 (not libavcodec) decodes all `frames` pictures of a 640×360 file without an
/// error, and sees what FFmpeg sees: on the first pictures after each seam (where the
/// parameter sets change) within 35 dB, everywhere within 18 dB. OpenH264 is not bit-exact
/// with libavcodec on x264's High profile even in the sources (a few pictures near the end of
/// a group differ by ~21 dB); a seam it misreads decodes to garbage, far below both.
fn second_decoder_agrees(file: &Path, frames: usize, seams: &[usize]) {
    let theirs = openh264_frames(file, 640, 360);
    assert_eq!(theirs.len(), frames, "OpenH264 decoded {} pictures", theirs.len());
    let ours = yuv_frames(file, 640, 360);
    assert_eq!(ours.len(), frames);
    for (k, (a, b)) in theirs.iter().zip(&ours).enumerate() {
        let p = psnr_y(a, b, 640, 360);
        let at_seam = seams.iter().any(|s| (*s..s + 2).contains(&k));
        assert!(p >= if at_seam { 35.0 } else { 18.0 }, "picture {k}: OpenH264 and FFmpeg differ ({p:.1} dB)");
    }
}

/// Its pictures and its sound both start at 0 (within a millisecond): in sync.
fn starts_in_sync(file: &Path) {
    let p = probe(file);
    let start = |kind| stream(&p, kind)["start_time"].as_str().unwrap().parse::<f64>().unwrap();
    assert!(start("video").abs() < 0.001 && start("audio").abs() < 0.001, "{} {}", start("video"), start("audio"));
}

/// It decodes without a word from FFmpeg.
fn decodes_cleanly(file: &Path) {
    let check =
        Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(file).args(["-f", "null", "-"]).output().unwrap();
    assert!(check.stderr.is_empty(), "{}", String::from_utf8_lossy(&check.stderr));
}

/// The MD5 of every video packet of a file, in order.
fn packets(file: &Path) -> Vec<String> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-map", "0:v:0", "-c", "copy", "-f", "framemd5", "-"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.rsplit(',').next().unwrap().trim().to_string())
        .collect()
}

#[test]
fn whole_clips_are_copied_bit_for_bit_with_the_sound_mixed_once() {
    let d = tmp();
    let tones = [330, 440, 550, 660];
    for (k, hz) in tones.iter().enumerate() {
        clip(d.path(), &format!("c{k}.mp4"), ["red", "green", "blue", "yellow"][k], *hz);
    }
    let clips: Vec<_> = (0..4).map(|k| json!({"type": "video", "src": format!("c{k}.mp4")})).collect();
    let spec = json!({
        "version": 1, "id": "copy",
        "output": {"path": "out.mp4", "width": 640, "height": 360, "fps": 30},
        "timeline": {"tracks": [{"type": "video", "clips": clips}]}
    });
    let path = write_json(d.path(), "spec.json", &spec);
    let work = d.path().join("work");
    assert_ok(&render(&path, &work, &[]));
    let out = d.path().join("out.mp4");
    let m = manifest(&out);
    for c in m["clips"].as_array().unwrap() {
        assert_eq!(c["video"], "copied", "{c}");
    }
    // The pictures are the sources' packets, in order, untouched.
    let want: Vec<String> = (0..4).flat_map(|k| packets(&d.path().join(format!("c{k}.mp4")))).collect();
    assert_eq!(want.len(), 240);
    assert_eq!(packets(&out), want);
    decodes_cleanly(&out);
    starts_in_sync(&out);
    // The sound: exactly 8 s, each clip's tone in its own 2 s, no click at a join.
    let a = audio(&out);
    assert!((a.len() as i64 - 384_000).abs() <= 1024, "{} samples", a.len());
    for (k, hz) in tones.iter().enumerate() {
        let (level, freq) = tone(&a, k as f64 * 2.0 + 0.2, k as f64 * 2.0 + 1.8);
        assert!(level > 0.05 && (freq - *hz as f64).abs() < 5.0, "clip {k}: {level} at {freq} Hz");
    }
    no_click(&a, &[96_000, 192_000, 288_000]);
    assert!(leftovers(&work).is_empty());

    // The same with --copy never: every clip re-encoded, and the manifest says why.
    let never = render(&path, &work, &["--copy", "never", "--overwrite"]);
    assert_ok(&never);
    let m = manifest(&out);
    assert_eq!(m["clips"][0]["video"], "encoded");
    assert_eq!(m["clips"][0]["because"], "stream copy is off (--copy never)");
    assert_eq!(video_frames(&probe(&out)), 240);
}

/// A timeline of copied and re-encoded pieces: a clip of another size and a clip under a
/// caption are re-encoded (matching the copied clip's coding), the others copied; the plan
/// says which and why, clip by clip; the file decodes cleanly in FFmpeg and in OpenH264, and
/// the copied pictures are the source's.
#[test]
fn copied_and_re_encoded_clips_share_one_stream() {
    let d = tmp();
    clip(d.path(), "a.mp4", "red", 440);
    clip(d.path(), "b.mp4", "green", 550);
    color_clip(d.path(), "small.mp4", "blue", Some(660), "320x180", "30", 1.0);
    let spec = json!({
        "version": 1, "id": "mixed",
        "output": {"path": "out.mp4", "width": 640, "height": 360, "fps": 30},
        "timeline": {"tracks": [
            {"type": "video", "clips": [
                {"type": "video", "src": "a.mp4"}, {"type": "video", "src": "small.mp4"},
                {"type": "video", "src": "b.mp4"}, {"type": "video", "src": "a.mp4"}]},
            {"type": "overlay", "items": [{"type": "text", "text": "over b", "start": 3.2, "duration": 1}]}
        ]}
    });
    let path = write_json(d.path(), "spec.json", &spec);
    let out = cutlist().arg("plan").arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let videos: Vec<&str> = plan["clips"].as_array().unwrap().iter().map(|c| c["video"].as_str().unwrap()).collect();
    assert_eq!(videos, ["copied", "encoded", "encoded", "copied"], "{}", plan["clips"]);
    assert_eq!(plan["clips"][1]["because"], "size differs: 320×180, the output 640×360");
    assert_eq!(plan["clips"][2]["because"], "an overlay or caption is drawn over it");

    let work = d.path().join("work");
    assert_ok(&render(&path, &work, &[]));
    let out = d.path().join("out.mp4");
    assert_eq!(stream(&probe(&out), "video")["codec_tag_string"], "avc3");
    assert_eq!(video_frames(&probe(&out)), 60 + 30 + 60 + 60);
    decodes_cleanly(&out);
    starts_in_sync(&out);
    // The copied clips' pictures are the source's packets (keyframes aside: they now carry
    // their parameter sets in the stream).
    let (src, got) = (packets(&d.path().join("a.mp4")), packets(&out));
    for (k, (s, g)) in src.iter().zip(&got[..60]).chain(src.iter().zip(&got[150..])).enumerate() {
        assert!(k % 60 % 30 == 0 || s == g, "packet {k} of a copied clip changed");
    }
    // A decoder that is not libavcodec reads every picture, and sees what FFmpeg sees.
    second_decoder_agrees(&out, 210, &[60, 90, 150]);
    let a = audio(&out);
    assert!((a.len() as i64 - 336_000).abs() <= 1024, "{} samples", a.len());
    assert!(leftovers(&work).is_empty());
}

/// W5's shape: clips cut between keyframes. Only the partial groups of pictures at each end
/// are re-encoded (the plan says how many frames), the rest is the source's packets; the
/// frames at every cut match a full re-encode; both decoders read it; the sound is exact.
#[test]
fn clips_cut_between_keyframes_re_encode_only_their_partial_groups() {
    let d = tmp();
    let tones = [330, 440, 550];
    for (k, hz) in tones.iter().enumerate() {
        source(d.path(), &format!("c{k}.mp4"), ["red", "green", "blue"][k], *hz, 8.0, "keyint=30:scenecut=0");
    }
    let spec = |name: &str| {
        let clips: Vec<_> =
            (0..3).map(|k| json!({"type": "video", "src": format!("c{k}.mp4"), "in": 2.1, "out": 6.3})).collect();
        json!({
            "version": 1, "id": "trim",
            "output": {"path": name, "width": 640, "height": 360, "fps": 30},
            "timeline": {"tracks": [{"type": "video", "clips": clips}]}
        })
    };
    let work = d.path().join("work");
    let smart = write_json(d.path(), "smart.json", &spec("smart.mp4"));
    assert_ok(&render(&smart, &work, &[]));
    let never = write_json(d.path(), "never.json", &spec("never.mp4"));
    assert_ok(&render(&never, &work, &["--copy", "never"]));
    let (out, full) = (d.path().join("smart.mp4"), d.path().join("never.mp4"));

    // [2.1 s, 6.3 s) = frames [63, 189) of each source; keyframes at 90 and 180: frames
    // 63–89 and 180–188 are re-encoded, 90–179 copied.
    let m = manifest(&out);
    let mut re_encoded = 0;
    for c in m["clips"].as_array().unwrap() {
        assert_eq!(
            (c["video"].as_str(), c["head_frames"].as_u64(), c["tail_frames"].as_u64()),
            (Some("smart-cut"), Some(27), Some(9)),
            "{c}"
        );
        re_encoded += c["head_frames"].as_u64().unwrap() + c["tail_frames"].as_u64().unwrap();
    }
    println!("smart cut: {re_encoded} of 378 frames re-encoded (the partial groups: 3 × (27 + 9))");
    assert_eq!(video_frames(&probe(&out)), 378);
    assert_eq!(stream(&probe(&out), "video")["codec_tag_string"], "avc3");
    decodes_cleanly(&out);
    starts_in_sync(&out);

    // Exactly the partial-group frames are new: every other packet is the source's.
    let got = packets(&out);
    assert_eq!(got.len(), 378);
    for k in 0..3 {
        let src = packets(&d.path().join(format!("c{k}.mp4")));
        let copied = &got[126 * k + 27..126 * k + 117];
        for (j, (g, s)) in copied.iter().zip(&src[90..180]).enumerate() {
            assert!(j % 30 == 0 || g == s, "clip {k}: copied packet {j} changed");
        }
        let new = got[126 * k..126 * k + 27].iter().chain(&got[126 * k + 117..126 * k + 126]);
        assert_eq!(new.filter(|g| src.contains(g)).count(), 0, "clip {k}: a re-encoded frame is a source packet");
    }

    // At and around every cut (the joins, and each copied range's ends), the pictures are
    // the full re-encode's: SSIM ≥ 0.98 on the 3 frames each side.
    let ssim = ssim_per_frame(&out, &full);
    assert_eq!(ssim.len(), 378);
    let mut worst = 1.0f64;
    for k in 0..3 {
        for cut in [126 * k, 126 * k + 27, 126 * k + 117, 126 * k + 126usize] {
            let from = cut.saturating_sub(3);
            for (f, s) in ssim.iter().enumerate().skip(from).take(cut + 3 - from) {
                assert!(*s >= 0.98, "frame {f} near a cut at {cut}: SSIM {s}");
                worst = worst.min(*s);
            }
        }
    }
    println!("smart cut: SSIM against the full re-encode at the cuts ≥ {worst:.4}");

    // OpenH264 reads all 378 pictures, and sees what FFmpeg sees, at every seam too.
    let seams: Vec<usize> = (0..3).flat_map(|k| [126 * k, 126 * k + 27, 126 * k + 117]).collect();
    second_decoder_agrees(&out, 378, &seams);

    // The sound: 12.6 s, each clip's tone in place, no click at a join.
    let a = audio(&out);
    assert!((a.len() as i64 - 604_800).abs() <= 1024, "{} samples", a.len());
    for (k, hz) in tones.iter().enumerate() {
        let (level, freq) = tone(&a, k as f64 * 4.2 + 0.2, k as f64 * 4.2 + 4.0);
        assert!(level > 0.05 && (freq - *hz as f64).abs() < 5.0, "clip {k}: {level} at {freq} Hz");
    }
    no_click(&a, &[201_600, 403_200]);
    assert!(leftovers(&work).is_empty());
}

/// Sources a smart cut cannot match fall back to re-encoding that clip, and the plan says
/// why: an open group of pictures; a cut with no whole group inside.
#[test]
fn a_cut_that_cannot_be_matched_is_re_encoded_and_the_plan_says_why() {
    let d = tmp();
    source(d.path(), "open.mp4", "red", 440, 4.0, "keyint=30:min-keyint=30:open-gop=1:scenecut=0");
    source(d.path(), "closed.mp4", "green", 550, 4.0, "keyint=30:scenecut=0");
    let spec = json!({
        "version": 1, "id": "fallback",
        "output": {"path": "out.mp4", "width": 640, "height": 360, "fps": 30},
        "timeline": {"tracks": [{"type": "video", "clips": [
            {"type": "video", "src": "open.mp4", "in": 0.5, "out": 3.5},
            {"type": "video", "src": "closed.mp4", "in": 1.2, "out": 1.8},
            {"type": "video", "src": "closed.mp4", "in": 0.5, "out": 3.5}]}]}
    });
    let path = write_json(d.path(), "spec.json", &spec);
    let work = d.path().join("work");
    assert_ok(&render(&path, &work, &[]));
    let out = d.path().join("out.mp4");
    let m = manifest(&out);
    let because = |i: usize| m["clips"][i]["because"].as_str().unwrap_or_default().to_string();
    assert!(because(0).contains("is open (pictures shown before its keyframe depend on it)"), "{}", m["clips"]);
    assert!(because(1).starts_with("no whole group of pictures lies inside its cut"), "{}", m["clips"]);
    assert_eq!(m["clips"][2]["video"], "smart-cut", "{}", m["clips"]);
    assert_eq!(video_frames(&probe(&out)), 90 + 18 + 90);
    decodes_cleanly(&out);
    starts_in_sync(&out);
    second_decoder_agrees(&out, 198, &[90, 108]);
}

/// Copied pictures with music under them and a loudness target: the join mixes the clips'
/// own sound (read from the sources) with the music, and the file meets the target.
#[test]
fn copied_clips_under_music_meet_a_loudness_target() {
    let d = tmp();
    clip(d.path(), "a.mp4", "red", 440);
    clip(d.path(), "b.mp4", "blue", 660);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=f=220:r=44100:d=6",
        "-af",
        "volume=0.05",
        d.path().join("music.wav").to_str().unwrap(),
    ]);
    let spec = json!({
        "version": 1, "id": "copy-mix",
        "output": {"path": "out.mp4", "width": 640, "height": 360, "fps": 30, "loudness": {"integrated": -16}},
        "timeline": {"tracks": [
            {"type": "video", "clips": [{"type": "video", "src": "a.mp4"}, {"type": "video", "src": "b.mp4"}]},
            {"type": "audio", "clips": [{"src": "music.wav", "volume": 0.5}]}
        ]}
    });
    let path = write_json(d.path(), "spec.json", &spec);
    let work = d.path().join("work");
    assert_ok(&render(&path, &work, &[]));
    let out = d.path().join("out.mp4");
    let m = manifest(&out);
    assert_eq!(m["clips"][1]["video"], "copied", "{}", m["clips"]);
    let (integrated, peak) = ebur128(&out);
    assert!((integrated + 16.0).abs() <= 1.0 && peak <= -1.0, "{integrated} LUFS, {peak} dBTP");
    let a = audio(&out);
    assert!((a.len() as i64 - 192_000).abs() <= 1024, "{} samples", a.len());
    // Each clip's own tone (louder than the music under it) where it belongs.
    let (first, second) = (tone(&a, 0.3, 1.7).1, tone(&a, 2.3, 3.7).1);
    assert!((first - 440.0).abs() < 10.0 && (second - 660.0).abs() < 10.0, "{first} Hz, {second} Hz");
    assert_eq!(packets(&out).len(), 120);
    assert!(leftovers(&work).is_empty());
}

/// A phone-like source without B-frames (Constrained Baseline) at 30000/1001: the re-encoded
/// ends match it (no reordering), and every picture of the output lies on its frame grid, one
/// frame after the last (a seam a tick off is a frame shown too long or too short).
#[test]
fn a_baseline_source_at_29_97_fps_is_smart_cut_on_its_grid() {
    let d = tmp();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=640x360:r=30000/1001:d=8",
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:r=48000:d=8",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "30",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        d.path().join("phone.mp4").to_str().unwrap(),
    ]);
    let spec = json!({
        "version": 1, "id": "ntsc",
        "output": {"path": "out.mp4", "width": 640, "height": 360, "fps": "30000/1001"},
        "timeline": {"tracks": [{"type": "video", "clips": [
            {"type": "video", "src": "phone.mp4", "in": 2.1, "out": 6.3},
            {"type": "video", "src": "phone.mp4", "in": 0.5, "out": 3.3}]}]}
    });
    let path = write_json(d.path(), "spec.json", &spec);
    assert_ok(&render(&path, &d.path().join("work"), &[]));
    let out = d.path().join("out.mp4");
    let m = manifest(&out);
    assert_eq!(m["clips"][0]["video"], "smart-cut", "{}", m["clips"]);
    assert_eq!(m["clips"][1]["video"], "smart-cut", "{}", m["clips"]);
    assert_eq!(video_frames(&probe(&out)), 126 + 84);
    decodes_cleanly(&out);
    starts_in_sync(&out);
    let pts = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v", "-show_entries", "packet=pts", "-of", "csv=p=0"])
        .arg(&out)
        .output()
        .unwrap();
    let mut pts: Vec<i64> = String::from_utf8_lossy(&pts.stdout).lines().map(|l| l.trim().parse().unwrap()).collect();
    pts.sort_unstable();
    let steps: Vec<i64> = pts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(steps.iter().all(|s| *s == steps[0]), "uneven frame steps: {steps:?}");
    second_decoder_agrees(&out, 210, &[0, 27, 117, 126, 141]);
}
