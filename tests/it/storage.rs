//! Object storage against a real S3-compatible server on 127.0.0.1 (s3s-fs): a job whose
//! spec, assets and output all live in a bucket; multipart uploads; create-only publishing.

use crate::common::*;
use serde_json::json;
use std::path::Path;

/// Every file under `dir`, as paths relative to it.
fn objects(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                todo.push(e.path());
            } else {
                out.push(e.path().strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

fn render_from_bucket(s3: &S3, spec_uri: &str, work: &Path) -> std::process::Output {
    let mut c = cutlist();
    c.arg("render").arg(spec_uri).arg("--workdir").arg(work);
    for (k, v) in s3.env() {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn a_job_whose_spec_assets_and_output_live_in_a_bucket() {
    let s3 = S3::start(&["media", "out"]);
    let d = tmp();
    std::fs::create_dir_all(s3.file("media", "jobs/clips")).unwrap();
    std::fs::create_dir_all(s3.file("media", "shared")).unwrap();
    color_clip(&s3.file("media", "jobs/clips"), "red.mp4", "red", Some(440), "320x240", "30", 1.0);
    color_clip(&s3.file("media", "shared"), "blue.mp4", "blue", Some(880), "320x240", "30", 1.0);
    let spec = json!({
        "version": 1, "id": "bucket-job",
        "output": {"path": "s3://out/reels/reel.mp4", "width": 320, "height": 240, "fps": 30,
                   "video": {"preset": "ultrafast"}, "poster": {"time": 1.5}},
        "timeline": {"tracks": [{"type": "video", "clips": [
            {"type": "video", "src": "clips/red.mp4"},
            {"type": "video", "src": "s3://media/shared/blue.mp4", "transition": {"type": "crossfade", "duration": 0.2}}
        ]}]}
    });
    std::fs::write(s3.file("media", "jobs/spec.json"), serde_json::to_vec(&spec).unwrap()).unwrap();
    let work = d.path().join("work");

    let r = render_from_bucket(&s3, "s3://media/jobs/spec.json", &work);
    assert_ok(&r);
    // The output, its poster and its manifest are objects beside each other; nothing else
    // (no staging object, no multipart leftovers).
    assert_eq!(
        objects(&s3.root.path().join("out")),
        vec!["reels/reel.mp4", "reels/reel.mp4.json", "reels/reel.poster.jpg"]
    );
    let out = s3.file("out", "reels/reel.mp4");
    assert_eq!(video_frames(&probe(&out)), 54);
    assert!(
        near(frame(&out, 10, 4, 4).at(2, 2), (255, 0, 0), 40) && near(frame(&out, 45, 4, 4).at(2, 2), (0, 0, 255), 40)
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s3.file("out", "reels/reel.mp4.json")).unwrap()).unwrap();
    assert_eq!(m["output"], "s3://out/reels/reel.mp4");
    assert!(leftovers(&work).is_empty());

    // Create-only: running the job again never overwrites the published output.
    let before = std::fs::metadata(&out).unwrap().modified().unwrap();
    let again = render_from_bucket(&s3, "s3://media/jobs/spec.json", &work);
    assert_eq!(again.status.code(), Some(10), "{}", stderr(&again));
    assert!(stderr(&again).contains("already exists; outputs are create-only"), "{}", stderr(&again));
    assert_eq!(std::fs::metadata(&out).unwrap().modified().unwrap(), before);
    assert!(!objects(&s3.root.path().join("out")).iter().any(|o| o.contains("staging")));
    assert!(leftovers(&work).is_empty());

    // A missing object is a rejected asset naming the clip, at once.
    std::fs::remove_file(s3.file("media", "shared/blue.mp4")).unwrap();
    let missing = render_from_bucket(&s3, "s3://media/jobs/spec.json", &work);
    assert_eq!(missing.status.code(), Some(4), "{}", stderr(&missing));
    assert!(
        stderr(&missing).contains("timeline.tracks[0].clips[1].src: s3://media/shared/blue.mp4: not found"),
        "{}",
        stderr(&missing)
    );
}

/// `plan` and `validate` read a spec from a bucket through the same door as `render`.
#[test]
fn plan_and_validate_read_a_spec_from_a_bucket() {
    let s3 = S3::start(&["media"]);
    let d = tmp();
    std::fs::create_dir_all(s3.file("media", "jobs/clips")).unwrap();
    color_clip(&s3.file("media", "jobs/clips"), "red.mp4", "red", Some(440), "320x240", "30", 1.0);
    let spec = json!({
        "version": 1, "id": "bucket-plan",
        "output": {"path": "s3://media/out/reel.mp4", "width": 320, "height": 240, "fps": 30},
        "timeline": {"tracks": [{"type": "video", "clips": [
            {"type": "video", "src": "clips/red.mp4"},
            {"type": "color", "color": "blue", "duration": 0.5}
        ]}]}
    });
    std::fs::write(s3.file("media", "jobs/spec.json"), serde_json::to_vec(&spec).unwrap()).unwrap();
    let work = d.path().join("work");
    let run = |cmd: &str| {
        let mut c = cutlist();
        c.arg(cmd).arg("s3://media/jobs/spec.json");
        if cmd == "plan" {
            c.arg("--workdir").arg(&work);
        }
        for (k, v) in s3.env() {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let out = run("plan");
    assert_ok(&out);
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(p["job_id"], "bucket-plan");
    assert_eq!(p["frames"], 45, "the clip's 30 frames, probed from the bucket, and the colour's 15");
    // The clip copied from its source, the colour encoded, the join.
    assert_eq!(p["clips"][0]["video"], "copied", "{p}");
    assert_eq!(p["runs"].as_array().unwrap().len(), 2, "{p}");
    // Planning publishes nothing and leaves nothing behind.
    assert_eq!(objects(&s3.root.path().join("media")), vec!["jobs/clips/red.mp4", "jobs/spec.json"]);
    assert!(leftovers(&work).is_empty());
    let out = run("validate");
    assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid (2 clips)"));
    // A spec that is not there is an invalid spec naming the address.
    let mut c = cutlist();
    c.args(["plan", "s3://media/jobs/missing.json"]);
    for (k, v) in s3.env() {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("s3://media/jobs/missing.json"), "{}", stderr(&out));
}

/// Object keys are judged as written and decoded, never folded into another prefix; with
/// --allow-bucket, objects outside the allowed prefixes are refused, naming the field.
#[test]
fn object_keys_stay_in_their_prefix() {
    let s3 = S3::start(&["media"]);
    let d = tmp();
    for t in ["tenantA", "tenantB"] {
        std::fs::create_dir_all(s3.file("media", t)).unwrap();
        color_clip(&s3.file("media", t), "a.mp4", "red", Some(440), "160x120", "30", 0.5);
    }
    let run = |src: &str, out: &str, extra: &[&str]| {
        let spec = json!({
            "version": 1, "id": "keys",
            "output": {"path": out, "width": 160, "height": 120, "fps": 30, "video": {"preset": "ultrafast"}},
            "timeline": {"tracks": [{"type": "video", "clips": [{"type": "video", "src": src}]}]}
        });
        let path = write_json(d.path(), "keys.json", &spec);
        let mut c = cutlist();
        c.arg("render").arg(&path).arg("--workdir").arg(d.path().join("work")).args(extra);
        for (k, v) in s3.env() {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let out = run("s3://media/tenantA/%2e%2e/tenantB/a.mp4", "s3://media/tenantA/out.mp4", &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("timeline.tracks[0].clips[0].src"), "{}", stderr(&out));
    let allow = ["--allow-bucket", "s3://media/tenantA/"];
    let out = run("s3://media/tenantB/a.mp4", "s3://media/tenantA/out.mp4", &allow);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("--allow-bucket"), "{}", stderr(&out));
    let out = run("s3://media/tenantA/a.mp4", "s3://media/tenantB/out.mp4", &allow);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("output.path"), "{}", stderr(&out));
    assert!(!s3.file("media", "tenantB/out.mp4").exists());
    assert_ok(&run("s3://media/tenantA/a.mp4", "s3://media/tenantA/out.mp4", &allow));
    assert!(s3.file("media", "tenantA/out.mp4").exists());
}

/// A store that refuses the output (wrong credentials: 403) fails the job for good: exit 10,
/// not retryable, so a batch records it instead of retrying forever.
#[test]
fn a_refused_publish_is_not_retryable() {
    let s3 = S3::start(&["out"]);
    let d = tmp();
    color_clip(d.path(), "a.mp4", "red", Some(440), "160x120", "30", 0.5);
    let spec =
        write_spec(d.path(), "s.json", "s3://out/a.mp4", 160, 120, "30", "black", r#"{"type":"video","src":"a.mp4"}"#);
    let mut c = cutlist();
    c.arg("render").arg(&spec).arg("--workdir").arg(d.path().join("work"));
    for (k, v) in s3.env() {
        c.env(k, v);
    }
    let out = c.env("AWS_SECRET_ACCESS_KEY", "not-the-secret").output().unwrap();
    assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
    let failed = stderr(&out).lines().find(|l| l.contains(r#""event":"failed""#)).unwrap_or_default().to_string();
    assert!(failed.contains(r#""retryable":false"#), "{failed}");
    assert!(objects(&s3.root.path().join("out")).is_empty());
}

#[test]
fn outputs_larger_than_a_part_go_up_in_parts_and_never_clobber() {
    let s3 = S3::start(&["big"]);
    for (k, v) in s3.env() {
        // SAFETY: every test in this binary sets the same values.
        unsafe { std::env::set_var(k, v) };
    }
    let d = tmp();
    let file = d.path().join("payload.bin");
    let data: Vec<u8> = (0..(cutlist::storage::PART_BYTES * 2 + 12345)).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let loc = cutlist::storage::locate("s3://big/renders/out.bin").unwrap();
        let never = tokio_util::sync::CancellationToken::new();
        assert_eq!(loc.upload_create_only(&file, &never).await.unwrap(), data.len() as u64);
        let err = loc.upload_create_only(&file, &never).await.unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
    });
    assert_eq!(std::fs::read(s3.file("big", "renders/out.bin")).unwrap(), data, "three parts, reassembled exactly");
    assert_eq!(objects(&s3.root.path().join("big")), vec!["renders/out.bin"]);

    // A cancelled upload is aborted: no object, no staging object, no parts.
    rt.block_on(async {
        let loc = cutlist::storage::locate("s3://big/renders/cancelled.bin").unwrap();
        let cancel = tokio_util::sync::CancellationToken::new();
        cancel.cancel();
        let err = loc.upload_create_only(&file, &cancel).await.unwrap_err();
        assert!(matches!(err, cutlist::storage::StoreError::Cancelled), "{err}");
    });
    assert_eq!(objects(&s3.root.path().join("big")), vec!["renders/out.bin"]);
}

fn job(s3: &S3, work: &Path, vars: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut c = cutlist();
    c.arg("job").args(args).arg("--workdir").arg(work);
    for (k, v) in s3.env() {
        c.env(k, v);
    }
    for (k, v) in vars {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn tasks_share_a_manifest_and_retries_finish_from_their_records() {
    let s3 = S3::start(&["media", "out"]);
    let d = tmp();
    std::fs::create_dir_all(s3.file("media", "b")).unwrap();
    color_clip(&s3.file("media", "b"), "clip.mp4", "green", Some(500), "160x120", "30", 0.5);
    let spec = |i: usize, src: &str| {
        json!({"version": 1, "id": format!("entry-{i}"),
               "output": {"path": format!("s3://out/batch/{i}.mp4"), "width": 160, "height": 120, "fps": 30, "video": {"preset": "ultrafast"}},
               "timeline": {"tracks": [{"type": "video", "clips": [{"type": "video", "src": src}]}]}})
    };
    // Five entries: four good ones (one given by address), one whose source is missing.
    std::fs::write(s3.file("media", "b/three.json"), serde_json::to_vec(&spec(3, "clip.mp4")).unwrap()).unwrap();
    let lines = [
        spec(0, "s3://media/b/clip.mp4").to_string(),
        spec(1, "s3://media/b/clip.mp4").to_string(),
        spec(2, "s3://media/b/missing.mp4").to_string(),
        "\"s3://media/b/three.json\"".to_string(),
        spec(4, "s3://media/b/clip.mp4").to_string(),
    ];
    std::fs::write(s3.file("media", "b/batch.jsonl"), lines.join("\n")).unwrap();
    let work = d.path().join("work");
    let args = ["--manifest", "s3://media/b/batch.jsonl"];

    // Two tasks at once, as a Cloud Run Job with --tasks 2 runs them.
    let (t0, t1) = std::thread::scope(|sc| {
        let run = |i: &'static str| {
            let (s3, work) = (&s3, &work);
            sc.spawn(move || job(s3, work, &[("CLOUD_RUN_TASK_INDEX", i), ("CLOUD_RUN_TASK_COUNT", "2")], &args))
        };
        let (a, b) = (run("0"), run("1"));
        (a.join().unwrap(), b.join().unwrap())
    });
    // Task 0 has entries 0, 2, 4 (2 fails for good: exit 4); task 1 has 1 and 3.
    assert_eq!(t0.status.code(), Some(4), "{}", stderr(&t0));
    assert_eq!(t1.status.code(), Some(0), "{}", stderr(&t1));
    assert!(stderr(&t0).contains("s3://media/b/missing.mp4: not found"), "{}", stderr(&t0));
    let outputs: Vec<String> =
        objects(&s3.root.path().join("out")).into_iter().filter(|o| o.ends_with(".mp4")).collect();
    assert_eq!(
        outputs,
        vec!["batch/0.mp4", "batch/1.mp4", "batch/3.mp4", "batch/4.mp4"],
        "every entry rendered exactly once"
    );
    for i in [0, 1, 3, 4] {
        assert_eq!(video_frames(&probe(&s3.file("out", &format!("batch/{i}.mp4")))), 15);
    }

    // A retried attempt of task 0: nothing is rendered again; the failure is reported at once.
    let before: Vec<_> = [0, 4]
        .iter()
        .map(|i| std::fs::metadata(s3.file("out", &format!("batch/{i}.mp4"))).unwrap().modified().unwrap())
        .collect();
    let retry = job(
        &s3,
        &work,
        &[("CLOUD_RUN_TASK_INDEX", "0"), ("CLOUD_RUN_TASK_COUNT", "2"), ("CLOUD_RUN_TASK_ATTEMPT", "1")],
        &args,
    );
    assert_eq!(retry.status.code(), Some(4), "{}", stderr(&retry));
    let log = stderr(&retry);
    assert!(!log.contains("\"event\":\"accepted\""), "a job was started again:\n{log}");
    assert_eq!(log.matches("\"event\":\"already_done\"").count(), 3, "{log}");
    assert!(log.contains("not found"), "the recorded reason is given: {log}");
    let after: Vec<_> = [0, 4]
        .iter()
        .map(|i| std::fs::metadata(s3.file("out", &format!("batch/{i}.mp4"))).unwrap().modified().unwrap())
        .collect();
    assert_eq!(before, after, "no second object");
    assert!(leftovers(&work).is_empty());
}

#[test]
fn azure_blob_sources_and_outputs_with_create_only() {
    let az = Azurite::start(&["media", "renders"]);
    let d = tmp();
    color_clip(d.path(), "red.mp4", "red", Some(440), "160x120", "30", 1.0);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for (k, v) in az.env() {
        // SAFETY: every test in this binary sets the same values.
        unsafe { std::env::set_var(k, v) };
    }
    let never = tokio_util::sync::CancellationToken::new();
    rt.block_on(async {
        let src = cutlist::storage::locate("az://media/clips/red.mp4").unwrap();
        src.upload(&d.path().join("red.mp4"), &never).await.unwrap();
    });
    let spec = write_spec(
        d.path(),
        "spec.json",
        "az://renders/out/red.mp4",
        160,
        120,
        "30",
        "black",
        r#"{"type":"video","src":"az://media/clips/red.mp4"}"#,
    );
    let run = || {
        let mut c = cutlist();
        c.arg("render").arg(&spec).arg("--workdir").arg(d.path().join("work"));
        for (k, v) in az.env() {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    assert_ok(&run());
    // Read the published output back and check what a viewer would see.
    let back = d.path().join("back.mp4");
    rt.block_on(async {
        let out = cutlist::storage::locate("az://renders/out/red.mp4").unwrap();
        out.download(&back, 1 << 30, std::time::Duration::from_secs(30), |_| Ok(())).await.unwrap();
        let manifest = cutlist::storage::locate("az://renders/out/red.mp4.json").unwrap();
        assert!(manifest.size().await.unwrap() > 100);
    });
    assert_eq!(video_frames(&probe(&back)), 30);
    // Create-only on Azure too.
    let again = run();
    assert_eq!(again.status.code(), Some(10), "{}", stderr(&again));
    assert!(stderr(&again).contains("already exists"), "{}", stderr(&again));
}

#[test]
fn gcs_sources_are_read() {
    let d = tmp();
    let seed = d.path().join("seed");
    std::fs::create_dir_all(seed.join("media/clips")).unwrap();
    color_clip(&seed.join("media/clips"), "blue.mp4", "blue", Some(660), "160x120", "30", 1.0);
    let gcs = FakeGcs::start(&seed);
    let spec = write_spec(
        d.path(),
        "spec.json",
        "out.mp4",
        160,
        120,
        "30",
        "black",
        r#"{"type":"video","src":"gs://media/clips/blue.mp4","out":0.5}"#,
    );
    let mut c = cutlist();
    c.arg("render").arg(&spec).arg("--workdir").arg(d.path().join("work"));
    for (k, v) in gcs.env() {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert_ok(&out);
    let file = d.path().join("out.mp4");
    assert_eq!(video_frames(&probe(&file)), 15);
    assert!(near(frame(&file, 7, 4, 4).at(2, 2), (0, 0, 255), 40));
}

/// Against a real bucket when one is configured (`CUTLIST_SMOKE_URI=gs://bucket/prefix`, with
/// the store's credentials in the environment); says it was skipped otherwise.
#[test]
fn real_bucket_smoke_test_when_configured() {
    let Ok(prefix) = std::env::var("CUTLIST_SMOKE_URI") else {
        println!("skipped: set CUTLIST_SMOKE_URI (e.g. gs://my-bucket/cutlist-smoke) and credentials to run against a real bucket");
        return;
    };
    let d = tmp();
    let file = d.path().join("smoke.bin");
    std::fs::write(&file, vec![42u8; 3 << 20]).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        use object_store::ObjectStoreExt;
        let never = tokio_util::sync::CancellationToken::new();
        let uri = format!("{}/smoke-{}.bin", prefix.trim_end_matches('/'), std::process::id());
        let loc = cutlist::storage::locate(&uri).unwrap();
        loc.upload_create_only(&file, &never).await.unwrap();
        assert!(loc.upload_create_only(&file, &never).await.unwrap_err().to_string().contains("already exists"));
        let back = d.path().join("back.bin");
        assert_eq!(
            loc.download(&back, 1 << 30, std::time::Duration::from_secs(30), |_| Ok(())).await.unwrap(),
            3 << 20
        );
        loc.store.delete(&loc.path).await.unwrap();
    });
}

/// A TCP proxy to `upstream` that lets `bytes_per_sec` through each way: a slow network.
fn slow_proxy(upstream: u16, bytes_per_sec: usize) -> (u16, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else { return };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                let pump = |mut from: tokio::net::tcp::OwnedReadHalf, mut to: tokio::net::tcp::OwnedWriteHalf| async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut buf = vec![0u8; bytes_per_sec / 10];
                    while let Ok(n) = from.read(&mut buf).await {
                        if n == 0 || to.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    let _ = to.shutdown().await;
                };
                let up = tokio::spawn(pump(cr, sw));
                let down = tokio::spawn(pump(sr, cw));
                let _ = tokio::join!(up, down);
            });
        }
    });
    (port, rt)
}

#[test]
fn sigterm_during_an_upload_leaves_no_object() {
    let s3 = S3::start(&["media", "out"]);
    let d = tmp();
    // A local clip whose render is a few MiB, uploaded through a 256 KiB/s link.
    let noisy = d.path().join("noise.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=640x360:r=30:d=3,noise=alls=60:allf=t",
        "-f",
        "lavfi",
        "-i",
        "sine=d=3",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        "10",
        "-c:a",
        "aac",
        "-shortest",
        noisy.to_str().unwrap(),
    ]);
    let (proxy, _rt) = slow_proxy(s3.port, 256 * 1024);
    let spec = write_spec(
        d.path(),
        "spec.json",
        "s3://out/slow.mp4",
        640,
        360,
        "30",
        "black",
        r#"{"type":"video","src":"noise.mp4"}"#,
    );
    let text =
        std::fs::read_to_string(&spec).unwrap().replace(r#""preset":"ultrafast""#, r#""preset":"ultrafast","crf":10"#);
    std::fs::write(&spec, text).unwrap();
    let hook = Receiver::start();
    let work = d.path().join("work");
    let mut c = cutlist();
    c.arg("render").arg(&spec).args(["--workdir", work.to_str().unwrap(), "--allow-private-network"]);
    for (k, v) in s3.env() {
        c.env(k, v);
    }
    c.env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{proxy}"))
        .env("CUTLIST_WEBHOOK_URL", format!("http://127.0.0.1:{}/", hook.port));
    let run = Running::until(&mut c, "\"event\":\"uploading\"");
    std::thread::sleep(std::time::Duration::from_millis(800));
    let (status, rest, took) = run.signal(libc::SIGTERM);
    assert_eq!(status.code(), Some(143), "{rest:?}");
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    // No output, no staging object (s3s-fs keeps unfinished multipart parts out of the bucket).
    assert!(objects(&s3.root.path().join("out")).is_empty(), "{:?}", objects(&s3.root.path().join("out")));
    assert!(leftovers(&work).is_empty());
    assert_eq!(hook.kinds().last().map(String::as_str), Some("cancelled"), "{:?}", hook.kinds());
}
