//! Status webhooks against a real HTTP receiver on 127.0.0.1: signed, ordered, complete; and a
//! dead receiver never fails the render.

use crate::common::*;

fn job_spec(d: &std::path::Path) -> std::path::PathBuf {
    color_clip(d, "a.mp4", "red", Some(440), "160x120", "30", 1.0);
    write_spec(
        d,
        "spec.json",
        "out.mp4",
        160,
        120,
        "30",
        "black",
        r#"{"type":"video","src":"a.mp4"},{"type":"color","color":"blue","duration":0.5}"#,
    )
}

#[test]
fn events_are_signed_ordered_and_end_with_the_outcome() {
    let r = Receiver::start();
    let d = tmp();
    let spec = job_spec(d.path());
    let out = cutlist()
        .arg("render")
        .arg(&spec)
        .args(["--workdir", d.path().join("work").to_str().unwrap(), "--allow-private-network"])
        .env("CUTLIST_WEBHOOK_URL", format!("http://127.0.0.1:{}/hooks/cutlist", r.port))
        .env("CUTLIST_WEBHOOK_SECRET", "s3cret")
        .output()
        .unwrap();
    assert_ok(&out);
    let got = r.got.lock().unwrap().clone();
    let mut kinds = Vec::new();
    let mut ids = std::collections::HashSet::new();
    let mut last_percent = -1.0;
    for (headers, body) in &got {
        // The signature is HMAC-SHA256 over "<t>.<body>" with the shared secret.
        let sig = headers["cutlist-signature"].to_str().unwrap();
        let (t, v1) = sig.strip_prefix("t=").unwrap().split_once(",v1=").unwrap();
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"s3cret");
        let want: String = ring::hmac::sign(&key, &[format!("{t}.").as_bytes(), body].concat())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(v1, want, "bad signature on {}", String::from_utf8_lossy(body));
        let e: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(e["id"], headers["cutlist-event-id"].to_str().unwrap());
        assert!(ids.insert(e["id"].as_str().unwrap().to_string()), "repeated id {}", e["id"]);
        assert_eq!(e["job_id"], "test");
        if e["type"] == "rendering" {
            let p = e["data"]["percent"].as_f64().unwrap();
            assert!(p >= last_percent, "progress went back: {last_percent} → {p}");
            last_percent = p;
        }
        kinds.push(e["type"].as_str().unwrap().to_string());
    }
    println!("webhook events: {kinds:?}");
    assert_eq!(kinds.first().map(String::as_str), Some("accepted"));
    assert!(kinds.contains(&"fetching".to_string()) && kinds.contains(&"uploading".to_string()));
    assert!(last_percent >= 95.0, "rendering reached {last_percent} %");
    assert_eq!(kinds.last().map(String::as_str), Some("succeeded"));
    let last: serde_json::Value = serde_json::from_slice(&got.last().unwrap().1).unwrap();
    assert!(last["data"]["output"].as_str().unwrap().ends_with("out.mp4"));
    assert!(last["data"]["manifest"].as_str().unwrap().ends_with("out.mp4.json"));
}

#[test]
fn a_dead_receiver_never_fails_the_render() {
    let d = tmp();
    let spec = job_spec(d.path());
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port(); // closed once dropped
    let t = std::time::Instant::now();
    let out = cutlist()
        .arg("render")
        .arg(&spec)
        .args(["--workdir", d.path().join("work").to_str().unwrap(), "--allow-private-network"])
        .env("CUTLIST_WEBHOOK_URL", format!("http://127.0.0.1:{dead}/"))
        .output()
        .unwrap();
    assert_ok(&out);
    assert!(t.elapsed() < std::time::Duration::from_secs(20), "took {:?}", t.elapsed());
    assert!(stderr(&out).contains("webhook"), "the failed delivery is logged");
}

#[test]
fn a_failure_names_its_culprit() {
    let r = Receiver::start();
    let d = tmp();
    let spec = write_spec(
        d.path(),
        "spec.json",
        "out.mp4",
        160,
        120,
        "30",
        "black",
        r#"{"type":"video","src":"missing.mp4"}"#,
    );
    let out = cutlist()
        .arg("render")
        .arg(&spec)
        .args(["--workdir", d.path().join("work").to_str().unwrap(), "--allow-private-network"])
        .env("CUTLIST_WEBHOOK_URL", format!("http://127.0.0.1:{}/", r.port))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let got = r.got.lock().unwrap().clone();
    let last: serde_json::Value = serde_json::from_slice(&got.last().unwrap().1).unwrap();
    assert_eq!(last["type"], "failed");
    assert_eq!(last["data"]["exit_code"], 4);
    assert_eq!(last["data"]["path"], "timeline.tracks[0].clips[0].src");
    assert_eq!(last["data"]["retryable"], false);
}

#[test]
fn crossing_the_warning_threshold_is_reported_once() {
    let r = Receiver::start();
    let d = tmp();
    let spec = job_spec(d.path());
    let out = cutlist()
        .arg("render")
        .arg(&spec)
        .args(["--workdir", d.path().join("work").to_str().unwrap(), "--allow-private-network"])
        .args(["--memory-limit", "200M", "--memory-warn", "0.05"]) // 10 MiB: any FFmpeg run passes it
        .env("CUTLIST_WEBHOOK_URL", format!("http://127.0.0.1:{}/", r.port))
        .output()
        .unwrap();
    assert_ok(&out);
    assert_eq!(stderr(&out).matches("\"event\":\"memory_warning\"").count(), 1, "{}", stderr(&out));
    let kinds = r.kinds();
    assert_eq!(kinds.iter().filter(|k| *k == "memory_warning").count(), 1, "{kinds:?}");
    assert_eq!(kinds.last().map(String::as_str), Some("succeeded"));
}

/// The operator's receiver is trusted (no --allow-private-network needed) and alone gets signed
/// events; a spec's receiver must be at an origin the operator allows, passes the address
/// guard, and gets the same events unsigned; a canary on 127.0.0.2 hears nothing it should not.
#[test]
fn a_spec_names_a_receiver_only_where_the_operator_allows() {
    let d = tmp();
    color_clip(d.path(), "a.mp4", "red", Some(440), "160x120", "30", 1.0);
    let operator = Receiver::start();
    let canary = Receiver::start_at("127.0.0.2");
    let canary_origin = format!("http://127.0.0.2:{}", canary.port);
    let spec = serde_json::json!({
        "version": 1, "id": "hooked",
        "output": {"path": "out.mp4", "width": 160, "height": 120, "fps": 30, "video": {"preset": "ultrafast"}},
        "timeline": {"tracks": [{"type": "video", "clips": [{"type": "video", "src": "a.mp4"}]}]},
        "webhook": {"url": format!("{canary_origin}/steal")}
    });
    let spec = write_json(d.path(), "spec.json", &spec);
    let run = |extra: &[&str]| {
        let _ = std::fs::remove_file(d.path().join("out.mp4"));
        let _ = std::fs::remove_file(d.path().join("out.mp4.json"));
        cutlist()
            .arg("render")
            .arg(&spec)
            .arg("--workdir")
            .arg(d.path().join("work"))
            .args(extra)
            .env("CUTLIST_WEBHOOK_URL", format!("http://127.0.0.1:{}/hooks", operator.port))
            .env("CUTLIST_WEBHOOK_SECRET", "s3cret")
            .output()
            .unwrap()
    };
    let signed = |r: &Receiver| r.got.lock().unwrap().iter().all(|(h, _)| h.contains_key("cutlist-signature"));

    // No origin allowed: the spec is refused, naming the field; the operator hears why.
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("webhook.url"), "{}", stderr(&out));
    assert_eq!(operator.kinds(), vec!["failed"]);
    assert!(signed(&operator));
    assert!(canary.got.lock().unwrap().is_empty());

    // Allowed, but on a private address without --allow-private-network: the guard refuses it.
    operator.got.lock().unwrap().clear();
    let out = run(&["--webhook-allow", &canary_origin]);
    assert_ok(&out);
    assert!(canary.got.lock().unwrap().is_empty(), "{:?}", canary.kinds());
    assert_eq!(operator.kinds().last().map(String::as_str), Some("succeeded"));
    assert!(signed(&operator));

    // Allowed and reachable: the same events, unsigned.
    operator.got.lock().unwrap().clear();
    let out = run(&["--webhook-allow", &canary_origin, "--allow-private-network"]);
    assert_ok(&out);
    assert_eq!(canary.kinds(), operator.kinds());
    assert!(canary.got.lock().unwrap().iter().all(|(h, _)| !h.contains_key("cutlist-signature")));
    assert!(signed(&operator));
}

/// A receiver that accepts connections and never answers delays nothing but its own events,
/// and the job ends within its bounds.
#[test]
fn a_hanging_receiver_does_not_hold_the_job() {
    let d = tmp();
    let spec = job_spec(d.path());
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hang.local_addr().unwrap().port();
    let t = std::time::Instant::now();
    let out = cutlist()
        .arg("render")
        .arg(&spec)
        .args(["--workdir", d.path().join("work").to_str().unwrap()])
        .env("CUTLIST_WEBHOOK_URL", format!("http://127.0.0.1:{port}/"))
        .output()
        .unwrap();
    drop(hang);
    assert_ok(&out);
    // The render takes a few seconds; the webhook adds at most its 2 s drain.
    assert!(t.elapsed() < std::time::Duration::from_secs(15), "took {:?}", t.elapsed());
    assert!(stderr(&out).contains("not done within 5 s") || stderr(&out).contains("undelivered"), "{}", stderr(&out));
}
