//! `cutlist demo`: sample media made with FFmpeg's lavfi sources (no network), and a
//! timeline that shows most of the vocabulary, rendered by the normal pipeline.

use crate::error::{Error, Result};
use std::path::Path;

/// The demo timeline (`cutlist demo -o` says where its output goes).
pub const DEMO_SPEC: &str = r##"{
  "version": 1,
  "id": "demo",
  "merge": { "title": "cutlist demo" },
  "output": {
    "path": "cutlist-demo.mp4",
    "width": 1280,
    "height": 720,
    "fps": 30,
    "video": { "crf": 23, "preset": "veryfast" },
    "audio": { "bitrate": 128000 },
    "loudness": { "integrated": -16 },
    "poster": { "time": 1.5 }
  },
  "timeline": {
    "background": "#101820",
    "tracks": [
      {
        "type": "video",
        "clips": [
          { "type": "color", "color": "#1e90ff", "duration": 1.5 },
          { "type": "video", "src": "landscape.mp4", "in": 0.5, "out": 2.5, "fit": "cover",
            "transition": { "type": "crossfade", "duration": 0.5 } },
          { "type": "video", "src": "phone.mp4", "in": 0, "out": 2, "fit": "contain", "volume": 0.5,
            "transition": { "type": "wipeleft", "duration": 0.4 } },
          { "type": "image", "src": "still.png", "duration": 2, "fit": "cover", "motion": { "preset": "zoom_in", "amount": 0.3 },
            "transition": { "type": "fade", "color": "black", "duration": 0.6 } },
          { "type": "video", "src": "landscape.mp4", "in": 3, "out": 4, "fit": "fill", "mute": true, "speed": 0.5 }
        ]
      },
      { "type": "audio", "duck": { "under": "main", "depth": 9 },
        "clips": [ { "src": "music.wav", "loop": true, "volume": "-8dB", "fade_in": 0.5, "fade_out": 1.5 } ] },
      { "type": "overlay", "items": [
        { "type": "text", "text": "{{title}} 🎬", "duration": 1.5, "position": "center", "fade_out": 0.3,
          "style": { "size": 72, "outline": { "width": 3 }, "shadow": { "x": 3, "y": 3 } } },
        { "type": "image", "src": "still.png", "duration": 8, "position": "top_right", "width": 0.12, "opacity": 0.7 }
      ] },
      { "type": "captions", "highlight": "#ffd000", "sidecar": "srt",
        "cues": [ { "start": 1.8, "end": 3.6, "words": [
          { "text": "Every", "start": 1.8, "end": 2.2 }, { "text": "clip", "start": 2.2, "end": 2.6 },
          { "text": "in", "start": 2.6, "end": 2.8 }, { "text": "its", "start": 2.8, "end": 3.1 },
          { "text": "place", "start": 3.1, "end": 3.6 } ] } ] }
    ]
  }
}
"##;

/// Make the demo's media in `dir` with FFmpeg.
pub async fn make_media(ffmpeg: &Path, dir: &Path) -> Result<()> {
    let raw = dir.join("phone-raw.mp4");
    let raw = raw.to_str().ok_or_else(|| Error::Environment("the temp directory's path is not UTF-8".into()))?;
    let jobs: [(&str, Vec<&str>); 5] = [
        (
            "landscape.mp4",
            vec![
                "-f", "lavfi", "-i", "testsrc2=s=960x540:r=30:d=4", "-f", "lavfi", "-i",
                "sine=frequency=440:sample_rate=48000:d=4", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt",
                "yuv420p", "-c:a", "aac", "-shortest",
            ],
        ),
        (
            // Stored landscape (the portrait picture turned a quarter counter-clockwise), as phones record.
            "phone-raw.mp4",
            vec![
                "-f", "lavfi", "-i", "testsrc2=s=360x640:r=30:d=2,transpose=2", "-f", "lavfi", "-i",
                "sine=frequency=660:sample_rate=44100:d=2", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt",
                "yuv420p", "-c:a", "aac", "-ac", "1",
            ],
        ),
        // A display matrix that turns it upright (set on a stream copy; an encode drops it).
        ("phone.mp4", vec!["-i", "PHONE_RAW", "-c", "copy", "-metadata:s:v:0", "rotate=270"]),
        ("still.png", vec!["-f", "lavfi", "-i", "testsrc2=s=800x600:r=1", "-frames:v", "1"]),
        ("music.wav", vec!["-f", "lavfi", "-i", "aevalsrc=0.3*sin(2*PI*220*t)*(0.6+0.4*sin(2*PI*2*t))|0.3*sin(2*PI*277*t)*(0.6+0.4*sin(2*PI*2*t)):s=44100:d=4"]),
    ];
    let never = tokio_util::sync::CancellationToken::new();
    for (name, args) in jobs {
        let mut argv: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"].map(String::from).to_vec();
        argv.extend(args.iter().map(|a| if *a == "PHONE_RAW" { raw.to_string() } else { a.to_string() }));
        argv.push(dir.join(name).display().to_string());
        crate::process::capture(ffmpeg, &argv, std::time::Duration::from_secs(60), &never).await.map_err(|e| {
            let why = match e {
                crate::process::RunError::Failed { stderr, .. } => stderr,
                e => e.to_string(),
            };
            Error::Environment(format!("FFmpeg could not make the demo media {name}: {why}"))
        })?;
    }
    Ok(())
}
