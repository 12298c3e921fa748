//! A loudness target, checked on the encoded file with FFmpeg's EBU R128 meter (true peak on):
//! within 1 LU of the target and never over the ceiling, for mixes that need a large gain,
//! one with a loud transient, and near-silence; silence succeeds with a warning.

use crate::common::*;
use serde_json::{json, Value};
use std::path::Path;

/// A 12 s job: a clip (its own sound from `clip_audio`, a lavfi source; none when `None`)
/// under `music` (a lavfi source) at `volume`, to `target` LUFS and `ceiling` dBTP.
fn job(
    dir: &Path,
    clip_audio: Option<&str>,
    music: Option<(&str, f64)>,
    out: &str,
    target: f64,
    ceiling: f64,
) -> Value {
    let mut args = vec!["-f", "lavfi", "-i", "color=c=gray:s=64x64:r=10:d=12"];
    if let Some(a) = clip_audio {
        args.extend(["-f", "lavfi", "-i", a]);
    }
    args.extend(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le", "-t", "12"]);
    let clip_mov = dir.join("clip.mov");
    args.push(clip_mov.to_str().unwrap());
    ffmpeg(&args);
    let mut tracks = vec![json!({"type": "video", "clips": [{"type": "video", "src": "clip.mov"}]})];
    if let Some((src, volume)) = music {
        ffmpeg(&["-f", "lavfi", "-i", src, "-t", "12", "-c:a", "pcm_s16le", dir.join("music.wav").to_str().unwrap()]);
        tracks.push(json!({"type": "audio", "clips": [{"src": "music.wav", "volume": volume}]}));
    }
    json!({
        "version": 1, "id": "loud",
        "output": {"path": out, "width": 64, "height": 64, "fps": 10, "video": {"preset": "ultrafast"},
                   "loudness": {"integrated": target, "true_peak": ceiling}},
        "timeline": {"tracks": tracks}
    })
}

/// Render `spec`, then measure the encoded file: within 1 LU of `target`, true peak at or under
/// `ceiling`; the manifest says the same, with no warning.
fn renders_on_target(dir: &Path, spec: &Value, target: f64, ceiling: f64, case: &str) -> Value {
    let spec_path = write_json(dir, "spec.json", spec);
    let work = dir.join("work");
    let out = render(&spec_path, &work, &[]);
    assert_ok(&out);
    let file = dir.join(spec["output"]["path"].as_str().unwrap());
    let (integrated, peak) = ebur128(&file);
    let m = manifest(&file);
    println!(
        "{case}: {integrated} LUFS, true peak {peak} dBTP (target {target} LUFS, {ceiling} dBTP); {}",
        m["loudness"]
    );
    assert!((integrated - target).abs() <= 1.0, "{case}: {integrated} LUFS, target {target}");
    assert!(peak <= ceiling, "{case}: true peak {peak} dBTP over the ceiling {ceiling}");
    assert_eq!(m["loudness"]["target"], target);
    assert_eq!(m["loudness"]["ceiling"], ceiling);
    assert!((m["loudness"]["integrated"].as_f64().unwrap() - integrated).abs() < 0.2, "{}", m["loudness"]);
    assert!(m["loudness"].get("warning").is_none(), "{}", m["loudness"]);
    assert!(!stderr(&out).contains("loudness_warning"));
    assert!(leftovers(&work).is_empty());
    m
}

/// Music at −38 LUFS brought up to −14: 24 dB of gain, a chord with a small crest factor.
#[test]
fn a_quiet_mix_is_raised_to_its_target() {
    let d = tmp();
    let chord = "aevalsrc=0.01*sin(2*PI*220*t)+0.007*sin(2*PI*330*t)+0.005*sin(2*PI*440*t):s=48000:c=stereo:d=12";
    let s = job(d.path(), None, Some((chord, 1.0)), "out.mp4", -14.0, -1.0);
    let m = renders_on_target(d.path(), &s, -14.0, -1.0, "large gain");
    assert!(m["loudness"]["gain"].as_f64().unwrap() > 20.0, "{}", m["loudness"]);
}

/// The reported case: music at volume 0.3 under a clip whose own sound is one short loud beep.
/// The beep sets the true peak, so a linear gain to the target would clip it: the limiter
/// takes it, and the loudness is still met (loudnorm fell back to its dynamic mode here and
/// ended 8.5 LU short).
#[test]
fn a_loud_transient_does_not_keep_the_mix_from_its_target() {
    let d = tmp();
    let beep = "aevalsrc=if(between(t\\,6\\,6.05)\\,0.97*sin(2*PI*1000*t)\\,0):s=48000:c=stereo:d=12";
    let music = "aevalsrc=0.2*sin(2*PI*220*t)+0.14*sin(2*PI*277*t)+0.1*sin(2*PI*330*t):s=48000:c=stereo:d=12";
    let s = job(d.path(), Some(beep), Some((music, 0.3)), "out.mp4", -14.0, -1.0);
    renders_on_target(d.path(), &s, -14.0, -1.0, "loud transient");
    // The limiter's lookahead is compensated: the beep is still at 6 s, to the millisecond.
    let a = audio(&d.path().join("out.mp4"));
    let first = a.iter().position(|x| x.abs() > 0.6).unwrap() as f64 / 48000.0;
    assert!((first - 6.0).abs() < 0.001, "the beep starts at {first:.4} s");
}

/// Near-silence (a tone at −66 dBFS) reaches the target too, through Opus in WebM.
#[test]
fn near_silence_is_raised_to_its_target_in_webm() {
    let d = tmp();
    let faint = "aevalsrc=0.0005*sin(2*PI*500*t):s=48000:c=stereo:d=12";
    let s = job(d.path(), Some(faint), None, "out.webm", -16.0, -1.5);
    renders_on_target(d.path(), &s, -16.0, -1.5, "near silence");
}

/// Silence cannot be brought to a target: the job succeeds, and the log, the webhook and the
/// manifest say why the target was not met.
#[test]
fn silence_succeeds_with_a_warning_everywhere() {
    let r = Receiver::start();
    let d = tmp();
    let s = job(d.path(), Some("anullsrc=r=48000:cl=stereo"), None, "out.mp4", -14.0, -1.0);
    let spec_path = write_json(d.path(), "spec.json", &s);
    let out = cutlist()
        .arg("render")
        .arg(&spec_path)
        .args(["--workdir", d.path().join("work").to_str().unwrap()])
        .env("CUTLIST_WEBHOOK_URL", format!("http://127.0.0.1:{}/hook", r.port))
        .output()
        .unwrap();
    assert_ok(&out);
    let log = stderr(&out);
    assert!(log.contains(r#""event":"loudness_warning""#) && log.contains("cannot be reached"), "{log}");
    let m = manifest(&d.path().join("out.mp4"));
    assert!(m["loudness"]["warning"].as_str().unwrap().contains("silent"), "{}", m["loudness"]);
    assert_eq!(m["loudness"]["integrated"], Value::Null);
    assert_eq!(m["loudness"]["gain"], Value::Null);
    let kinds = r.kinds();
    assert!(kinds.contains(&"loudness_warning".to_string()), "{kinds:?}");
    assert_eq!(kinds.last().map(String::as_str), Some("succeeded"), "{kinds:?}");
}
