//! The editing vocabulary, checked as a viewer sees and hears it: transitions, overlays,
//! audio tracks, captions, motion, speed, outputs.

mod common;
use common::*;
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
    for line in ["clips[0]\t0.000\t0\t45", "clips[1]\t1.000\t30\t45", "clips[2]\t1.900\t57\t45", "clips[3]\t3.000\t90\t30", "total\t4.000\t120"] {
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
        (near(left, (0, 0, 255), 60) && near(right, (255, 255, 0), 60)) || (near(right, (0, 0, 255), 60) && near(left, (255, 255, 0), 60)),
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
