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
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=s=640x360:r=30:d=2,drawbox=c={color}:t=40"),
        "-f",
        "lavfi",
        "-i",
        &format!("sine=f={hz}:r=48000:d=2"),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-g",
        "30",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        dir.join(name).to_str().unwrap(),
    ]);
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
    // It decodes without a word from FFmpeg.
    let check =
        Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(&out).args(["-f", "null", "-"]).output().unwrap();
    assert!(check.stderr.is_empty(), "{}", String::from_utf8_lossy(&check.stderr));
    // The sound: exactly 8 s, each clip's tone in its own 2 s, no click at a join.
    let a = audio(&out);
    assert!((a.len() as i64 - 384_000).abs() <= 1024, "{} samples", a.len());
    for (k, hz) in tones.iter().enumerate() {
        let (level, freq) = tone(&a, k as f64 * 2.0 + 0.2, k as f64 * 2.0 + 1.8);
        assert!(level > 0.05 && (freq - *hz as f64).abs() < 5.0, "clip {k}: {level} at {freq} Hz");
    }
    let step = |from: usize, to: usize| a[from..to].windows(2).map(|w| (w[1] - w[0]).abs()).fold(0f32, f32::max);
    for j in 1..4 {
        let at = j * 96_000;
        let steady = step(at - 48_000, at - 4_800).max(step(at + 4_800, at + 48_000));
        let seam = step(at - 240, at + 240);
        assert!(seam <= 1.2 * steady, "join {j}: a step of {seam} where the clips step at most {steady}");
    }
    assert!(leftovers(&work).is_empty());

    // The same with --copy never: every clip re-encoded, and the manifest says why.
    let never = render(&path, &work, &["--copy", "never", "--overwrite"]);
    assert_ok(&never);
    let m = manifest(&out);
    assert_eq!(m["clips"][0]["video"], "encoded");
    assert_eq!(m["clips"][0]["because"], "stream copy is off (--copy never)");
    assert_eq!(video_frames(&probe(&out)), 240);
}

/// A clip that must change (another size) is re-encoded with the rest, and the plan says
/// which and why, clip by clip.
#[test]
fn a_clip_that_must_change_is_re_encoded_and_the_plan_says_why() {
    let d = tmp();
    clip(d.path(), "a.mp4", "red", 440);
    color_clip(d.path(), "small.mp4", "blue", Some(660), "320x180", "30", 1.0);
    let spec = json!({
        "version": 1, "id": "mixed",
        "output": {"path": "out.mp4", "width": 640, "height": 360, "fps": 30},
        "timeline": {"tracks": [{"type": "video", "clips": [
            {"type": "video", "src": "a.mp4"}, {"type": "video", "src": "small.mp4"}]}]}
    });
    let path = write_json(d.path(), "spec.json", &spec);
    let out = cutlist().arg("plan").arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["clips"][1]["because"], "size differs: 320×180, the output 640×360");
    assert!(plan["clips"][0]["because"].as_str().unwrap().starts_with("clips[1] is re-encoded"), "{}", plan["clips"]);
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
