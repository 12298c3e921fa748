//! The shape users deploy: a Cloud Run job with 512 MiB and no disk, where the workdir is a
//! 512 MiB RAM disk whose bytes count against the memory limit. Each test mounts a real
//! tmpfs for its workdir (as root in a mount namespace, otherwise in a user namespace:
//! `unshare -rm`) and runs cutlist with `CLOUD_RUN_JOB` set and `--memory-limit 512Mi`.
//! These tests never skip: where no tmpfs can be mounted they fail, saying why (`/dev/shm`
//! is sized to the machine and would hide what they look for).

use crate::common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

/// Run cutlist with `args` and its workdir `work` on a fresh tmpfs of `mib` MiB, as a Cloud
/// Run job's task.
fn on_tmpfs(work: &Path, mib: u32, args: &[&str]) -> Output {
    std::fs::create_dir_all(work).unwrap();
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let mut cmd = Command::new("unshare");
    cmd.arg(if root { "-m" } else { "-rm" });
    cmd.args(["sh", "-c", r#"mount -t tmpfs -o "size=$1m" tmpfs "$2" && shift 2 && exec "$@""#, "sh"])
        .arg(mib.to_string())
        .arg(work)
        .arg(env!("CARGO_BIN_EXE_cutlist"))
        .args(args)
        .args(["--workdir", work.to_str().unwrap(), "--memory-limit", "512Mi", "--allow-private-network"])
        .env("CLOUD_RUN_JOB", "cutlist-render")
        .env("CLOUD_RUN_EXECUTION", "cutlist-render-abc12")
        .env_remove("RUST_LOG");
    let out = cmd.output().expect("unshare (util-linux) runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("unshare:") && !err.contains("mount:"),
        "cannot mount a tmpfs for the workdir (run as root, or allow user namespaces: \
         sysctl kernel.unprivileged_userns_clone=1): {err}"
    );
    out
}

/// An 8 s 1080p30 clip with sound, as a phone or a stock library hands it over (H.264, 1 s GOP).
fn clip_1080p(dir: &Path) -> Vec<u8> {
    let path = dir.join("clip.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=1920x1080:r=30:d=8",
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:d=8:r=48000",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        "18",
        "-g",
        "30",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        path.to_str().unwrap(),
    ]);
    std::fs::read(&path).unwrap()
}

fn whole_clips(src: &str, n: usize) -> Value {
    clips(src, n, None)
}

/// `n` clips of `src`, whole or each cut to `[in, out)`.
fn clips(src: &str, n: usize, cut: Option<(f64, f64)>) -> Value {
    let clips: Vec<Value> = (0..n)
        .map(|_| match cut {
            None => json!({"type": "video", "src": src}),
            Some((a, b)) => json!({"type": "video", "src": src, "in": a, "out": b}),
        })
        .collect();
    json!({
        "version": 1, "id": "cloud-run",
        "output": {"path": "out.mp4", "width": 1920, "height": 1080, "fps": 30},
        "timeline": {"tracks": [{"type": "video", "clips": clips}]}
    })
}

/// Whole clips (no `out`) downloaded into the RAM workdir plan and render within 512 MiB:
/// one 8 s clip, then ten of them (the same source, fetched once), stream-copied and
/// re-encoded; then ten cuts of it between keyframes, smart-cut. The manifest's peak of the process tree plus the workspace stays under the
/// limit and under the estimate.
#[test]
fn whole_1080p_clips_render_on_a_512_mib_ram_workdir() {
    let d = tmp();
    let body = clip_1080p(d.path());
    println!("source: {} MiB", body.len() >> 20);
    let server = Server::start(vec![("/clip.mp4", 200, body)]);
    // Stream-copied (the clips are coded as the output is), then re-encoded.
    for (n, copy) in [(1usize, "auto"), (10, "auto"), (1, "never"), (10, "never"), (10, "cut")] {
        let cut = (copy == "cut").then_some((2.1, 6.3));
        let spec = write_json(d.path(), "spec.json", &clips(&server.url("/clip.mp4"), n, cut));
        let work = d.path().join(format!("work{n}{copy}"));
        let copy = if cut.is_some() { "auto" } else { copy };
        let out = on_tmpfs(&work, 512, &["render", spec.to_str().unwrap(), "--overwrite", "--copy", copy]);
        assert_ok(&out);
        let file = d.path().join("out.mp4");
        let p = probe(&file);
        assert_eq!(video_frames(&p), if cut.is_some() { 126 } else { 240 } * n as u64, "{n} clips");
        assert_eq!(stream(&p, "video")["width"], 1920);
        let m = manifest(&file);
        let mem = &m["memory"];
        assert_eq!(mem["workspace_in_ram"], true, "{mem}");
        let peak = mem["peak"]["total"].as_u64().unwrap_or_else(|| panic!("{mem}"));
        let estimate = m["encoder"]["estimate"].as_u64().unwrap();
        println!(
            "{n} {} clip(s), --copy {copy}, on a 512 MiB tmpfs, CLOUD_RUN_JOB set: peak {} MiB (tree + workspace), estimate {} MiB, {:.1} s",
            if cut.is_some() { "smart-cut" } else { "whole" },
            peak >> 20,
            estimate >> 20,
            m["wall_seconds"].as_f64().unwrap()
        );
        assert!(peak < 512 << 20, "peak {} MiB", peak >> 20);
        // The workspace in RAM is counted before the render: the estimate is never below it.
        assert!(estimate >= peak, "estimate {} MiB under the peak {} MiB", estimate >> 20, peak >> 20);
        let how = match (copy, cut) {
            (_, Some(_)) => "smart-cut",
            ("auto", None) => "copied",
            _ => "encoded",
        };
        assert_eq!(m["clips"][0]["video"], how, "{}", m["clips"][0]);
        assert!(leftovers(&work).is_empty(), "{:?}", leftovers(&work));
    }
}

/// Sources that cannot fit are refused before any byte of them is downloaded: each is asked
/// for its size with a one-byte ranged request, and the error names the largest.
#[test]
fn sources_too_big_for_the_ram_workdir_are_refused_before_downloading() {
    let d = tmp();
    let big = vec![0u8; 40 << 20];
    let server = Server::start(vec![("/a.mp4", 200, big.clone()), ("/b.mp4", 200, big)]);
    let mut spec = whole_clips(&server.url("/a.mp4"), 1);
    spec["timeline"]["tracks"][0]["clips"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "video", "src": server.url("/b.mp4")}));
    let spec = write_json(d.path(), "spec.json", &spec);
    let work = d.path().join("work");
    let out = on_tmpfs(&work, 64, &["render", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(11), "exit 11 (environment): {}", stderr(&out));
    let log = stderr(&out);
    assert!(log.contains("sources declare 80 MiB") && log.contains("nothing was downloaded"), "{log}");
    assert!(log.contains("/a.mp4 at timeline.tracks[0].clips[0].src (40 MiB)"), "{log}");
    let mut hits = server.hits();
    hits.sort();
    assert_eq!(hits, ["/a.mp4 bytes=0-0", "/b.mp4 bytes=0-0"]);
    assert!(!d.path().join("out.mp4").exists());
    assert!(leftovers(&work).is_empty());
}
