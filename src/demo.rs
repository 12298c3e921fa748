//! `cutlist demo`: sample media made with FFmpeg's lavfi sources (no network), and a
//! timeline that uses every clip kind and fit mode, rendered by the normal pipeline.

use crate::error::{Error, Result};
use std::path::Path;

/// The demo timeline; `{out}` is replaced by the output path.
pub const DEMO_SPEC: &str = r##"{
  "version": 1,
  "id": "demo",
  "output": {
    "path": "{out}",
    "width": 1280,
    "height": 720,
    "fps": 30,
    "video": { "crf": 23, "preset": "veryfast" },
    "audio": { "bitrate": 128000 }
  },
  "timeline": {
    "background": "#101820",
    "tracks": [
      {
        "type": "video",
        "clips": [
          { "type": "color", "color": "#1e90ff", "duration": 1 },
          { "type": "video", "src": "landscape.mp4", "in": 0.5, "out": 2.5, "fit": "cover" },
          { "type": "video", "src": "phone.mp4", "in": 0, "out": 2, "fit": "contain", "volume": 0.5 },
          { "type": "image", "src": "still.png", "duration": 1.5, "fit": "contain" },
          { "type": "video", "src": "landscape.mp4", "in": 3, "out": 4, "fit": "fill", "mute": true }
        ]
      }
    ]
  }
}
"##;

/// Make the demo's media in `dir` with FFmpeg.
pub async fn make_media(ffmpeg: &Path, dir: &Path) -> Result<()> {
    let raw = dir.join("phone-raw.mp4");
    let raw = raw.to_str().ok_or_else(|| Error::Environment("the temp directory's path is not UTF-8".into()))?;
    let jobs: [(&str, Vec<&str>); 4] = [
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
    ];
    for (name, args) in jobs {
        let out = tokio::process::Command::new(ffmpeg)
            .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
            .args(args.iter().map(|a| if *a == "PHONE_RAW" { raw } else { a }))
            .arg(dir.join(name))
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| Error::Environment(format!("cannot run FFmpeg to make the demo media: {e}")))?;
        if !out.status.success() {
            return Err(Error::Environment(format!(
                "FFmpeg could not make the demo media {name}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    Ok(())
}
