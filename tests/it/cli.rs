//! The smaller commands, and the filtergraph escaping checked by FFmpeg itself.

use crate::common::*;
use std::process::Command;

#[test]
fn schema_describes_the_spec() {
    let out = cutlist().arg("schema").output().unwrap();
    assert!(out.status.success());
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["title"], "Spec");
    let required: Vec<&str> = s["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for f in ["version", "id", "output", "timeline"] {
        assert!(required.contains(&f), "{required:?}");
    }
    assert_eq!(s["additionalProperties"], false, "unknown fields are rejected");
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["\"in\"", "\"out\"", "\"duration\"", "\"color\"", "cover", "contain", "fill", "FrameRate"] {
        assert!(text.contains(word), "{word}");
    }
}

#[test]
fn probe_reports_what_a_viewer_sees() {
    let d = tmp();
    let raw = d.path().join("raw.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x180:r=30:d=1",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        raw.to_str().unwrap(),
    ]);
    let phone = d.path().join("phone.mp4");
    ffmpeg(&["-i", raw.to_str().unwrap(), "-c", "copy", "-metadata:s:v:0", "rotate=270", phone.to_str().unwrap()]);
    let out = cutlist().arg("probe").arg(&phone).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(p["video"]["width"], 320);
    // ffprobe's display matrix says -90 (counter-clockwise): kept as 270.
    assert_eq!(p["video"]["rotation"], 270);
    assert_eq!(p["audio"], serde_json::Value::Null);

    std::fs::write(d.path().join("page.jpg"), b"<html>not a picture</html>").unwrap();
    let out = cutlist().arg("probe").arg(d.path().join("page.jpg")).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
}

/// Hostile strings survive FFmpeg's graph parser byte for byte once escaped.
#[test]
fn escaped_values_round_trip_through_ffmpeg() {
    let hostile = [
        "it's",
        "a:b",
        r"back\slash",
        "50% off",
        "%{eif:1+1:d}",
        "x';movie=/etc/passwd[m];[m]null",
        "[in]",
        "a,b;c",
        "''''",
        r"\'\:",
        " lead and trail ",
        "=",
        "a=b:c=d",
        r"\",
        "'",
        "émoji 🎬 שלום",
    ];
    let d = tmp();
    for (i, s) in hostile.iter().enumerate() {
        let graph = format!("metadata=mode=add:key=k:value={},metadata=mode=print", cutlist::plan::graph::escape(s));
        let script = d.path().join(format!("g{i}.txt"));
        std::fs::write(&script, &graph).unwrap();
        let out = Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-nostdin",
                "-loglevel",
                "info",
                "-f",
                "lavfi",
                "-i",
                "color=s=16x16:d=0.04",
                "-filter_script:v",
            ])
            .arg(&script)
            .args(["-frames:v", "1", "-f", "null", "-"])
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{s:?}: {log}");
        assert!(!log.contains("Parsed_movie"), "{s:?} injected a filter");
        let got = log
            .lines()
            .find_map(|l| l.split_once("] k=").map(|(_, v)| v.to_string()))
            .unwrap_or_else(|| panic!("{s:?}: {log}"));
        assert_eq!(got, *s, "graph was {graph}");
    }
}

#[test]
fn templates_fill_from_merge_and_set_and_refuse_leftovers() {
    let d = tmp();
    let spec = d.path().join("t.json");
    std::fs::write(
        &spec,
        r##"{"version":1,"id":"tpl-{{order}}","merge":{"order":"1234","bg":"#102030"},
            "output":{"path":"{{order}}.mp4","width":320,"height":240,"fps":30},
            "timeline":{"background":"{{bg}}","tracks":[{"type":"video","clips":[
              {"type":"color","color":"{{color}}","duration":"{{secs}}"}]},
              {"type":"overlay","items":[{"type":"text","text":"Hello {{name}}!","duration":1}]}]}}"##,
    )
    .unwrap();
    // Unfilled: every placeholder without a value is named, with its JSON path; exit 3.
    let out = cutlist().arg("validate").arg(&spec).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("timeline.tracks[0].clips[0].color: {{color}} has no value"), "{err}");
    assert!(err.contains("timeline.tracks[0].clips[0].duration: {{secs}} has no value"), "{err}");
    assert!(err.contains("timeline.tracks[1].items[0].text: {{name}} has no value"), "{err}");
    // Filled from --set: a whole-string placeholder keeps its type (a number of seconds).
    let out = cutlist()
        .args(["validate", "--timings", "--set", "color=red", "--set", "secs=2.5", "--set", "name=Ana"])
        .arg(&spec)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("total\t2.500\t75"), "{text}");
}

#[test]
fn plan_prints_the_budget_the_settings_and_the_runs_without_rendering() {
    let d = tmp();
    color_clip(d.path(), "a.mp4", "red", Some(440), "320x240", "30", 1.0);
    let spec = write_spec(
        d.path(),
        "s.json",
        "out.mp4",
        1080,
        1920,
        "30",
        "black",
        r#"{"type":"video","src":"a.mp4"},{"type":"color","color":"blue","duration":1,"transition":{"type":"crossfade","duration":0.5}}"#,
    );
    let out = cutlist()
        .arg("plan")
        .arg(&spec)
        .args(["--memory-limit", "512M", "--cpus", "2", "--workdir"])
        .arg(d.path().join("work"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((p["cpus"].as_u64(), p["cpus_source"].as_str()), (Some(2), Some("--cpus")));
    assert_eq!(p["memory_limit"], 512 * 1024 * 1024);
    assert_eq!(p["limit_source"], "--memory-limit");
    assert_eq!(p["frames"], 45);
    assert!(p["estimate"].as_u64().unwrap() < 512 * 1024 * 1024);
    assert_eq!(p["encoder"]["threads"], 2);
    assert_eq!(p["runs"].as_array().unwrap().len(), 4, "body, transition, body, join: {}", p["runs"]);
    assert!(!d.path().join("out.mp4").exists(), "nothing rendered");
    assert!(leftovers(&d.path().join("work")).is_empty());
}

#[test]
fn report_flag_prints_a_table_and_publishes_a_picture() {
    let d = tmp();
    color_clip(d.path(), "a.mp4", "red", Some(440), "320x240", "30", 1.0);
    let spec = write_spec(
        d.path(),
        "s.json",
        "out.mp4",
        320,
        240,
        "30",
        "black",
        r#"{"type":"video","src":"a.mp4"},{"type":"color","color":"blue","duration":1}"#,
    );
    // Both clips through segment runs (the first would be stream-copied).
    let out = render(
        &spec,
        &d.path().join("work"),
        &["--memory-limit", "256M", "--memory-report=detailed", "--copy", "never"],
    );
    assert_ok(&out);
    let err = stderr(&out);
    let table = &err[err.find("memory report, job test: peak ").unwrap_or_else(|| panic!("no table: {err}"))..];
    assert!(table.contains("of the 256 MiB limit (--memory-limit"), "{table}");
    for row in
        ["  fetch ", "  probe ", "  render ", "  publish ", "ffmpeg seg_0000.ts", "ffmpeg seg_0001.ts", "ffprobe a.mp4"]
    {
        assert!(table.contains(row), "no {row:?} in the table:\n{table}");
    }
    let svg = std::fs::read_to_string(d.path().join("out.mp4.memory.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("limit 256 MiB") && svg.contains(">render</text>") && svg.contains("seg_0001.ts"), "{svg}");
    // Without the flag: no table, no picture.
    std::fs::remove_file(d.path().join("out.mp4")).unwrap();
    std::fs::remove_file(d.path().join("out.mp4.json")).unwrap();
    std::fs::remove_file(d.path().join("out.mp4.memory.svg")).unwrap();
    let out = render(&spec, &d.path().join("work"), &["--memory-limit", "256M"]);
    assert_ok(&out);
    assert!(!stderr(&out).contains("memory report"));
    assert!(!d.path().join("out.mp4.memory.svg").exists());
}

/// The debugging flag --keep-workspace keeps the segments and graphs and publishes nothing.
#[test]
fn keep_workspace_publishes_nothing() {
    let d = tmp();
    color_clip(d.path(), "a.mp4", "red", Some(440), "160x120", "30", 0.5);
    let spec = write_spec(d.path(), "s.json", "out.mp4", 160, 120, "30", "black", r#"{"type":"video","src":"a.mp4"}"#);
    let work = d.path().join("work");
    let out = render(&spec, &work, &["--keep-workspace"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing published"), "{}", stderr(&out));
    assert!(!d.path().join("out.mp4").exists() && !d.path().join("out.mp4.json").exists());
    let kept = leftovers(&work);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(std::fs::read_dir(work.join(&kept[0]))
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().ends_with(".graph")));
}
