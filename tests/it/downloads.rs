//! HTTP downloads against a real server on 127.0.0.1 that misbehaves on purpose: a connection
//! dropped mid-body is resumed with a Range request; a trickle is stopped by the stall timeout;
//! Retry-After is honoured; 4xx fails at once naming the asset.

use crate::common::*;
use axum::body::Body;
use axum::http::{HeaderMap, Response, StatusCode};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the server answers request number `n` (from 0) for the media, given its bytes.
type Behaviour = Arc<dyn Fn(usize, &HeaderMap, &[u8]) -> Response<Body> + Send + Sync>;

struct Flaky {
    port: u16,
    requests: Arc<Mutex<Vec<HeaderMap>>>,
    _rt: tokio::runtime::Runtime,
}

fn serve(media: Vec<u8>, behave: Behaviour) -> Flaky {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (rec, media) = (requests.clone(), Arc::new(media));
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (rec, media, behave) = (rec.clone(), media.clone(), behave.clone());
        async move {
            let n = {
                let mut r = rec.lock().unwrap();
                r.push(req.headers().clone());
                r.len() - 1
            };
            behave(n, req.headers(), &media)
        }
    });
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    Flaky { port, requests, _rt: rt }
}

/// Announce the whole length of `full` (ETag `"v1"`), send half, then fail the body: the
/// connection drops.
fn half_then_cut(full: &[u8]) -> Response<Body> {
    let half = full[..full.len() / 2].to_vec();
    let stream = futures_util::stream::unfold(Some(half), |left| async move {
        match left {
            Some(h) => Some((Ok::<_, std::io::Error>(h), None)),
            None => {
                // Let the first half reach the client before the connection drops.
                tokio::time::sleep(Duration::from_millis(300)).await;
                Some((Err(std::io::Error::other("cut")), None))
            }
        }
    });
    Response::builder()
        .header("content-length", full.len())
        .header("etag", "\"v1\"")
        .header("accept-ranges", "bytes")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn spec_for(d: &std::path::Path, url: &str) -> std::path::PathBuf {
    write_spec(d, "s.json", "out.mp4", 160, 120, "30", "black", &format!(r#"{{"type":"video","src":"{url}"}}"#))
}

fn media(d: &std::path::Path) -> Vec<u8> {
    color_clip(d, "m.mp4", "red", Some(440), "160x120", "30", 2.0);
    std::fs::read(d.join("m.mp4")).unwrap()
}

#[test]
fn a_dropped_connection_resumes_where_it_stopped() {
    let d = tmp();
    let bytes = media(d.path());
    let behave: Behaviour = Arc::new(|n, headers, media| {
        let full = media.to_vec();
        if n == 0 {
            return half_then_cut(media);
        }
        let from: usize = headers
            .get("range")
            .and_then(|r| r.to_str().ok())
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.trim_end_matches('-').parse().ok())
            .unwrap_or(0);
        Response::builder()
            .status(StatusCode::PARTIAL_CONTENT)
            .header("etag", "\"v1\"")
            .header("content-range", format!("bytes {from}-{}/{}", full.len() - 1, full.len()))
            .body(Body::from(full[from..].to_vec()))
            .unwrap()
    });
    let server = serve(bytes, behave);
    let spec = spec_for(d.path(), &format!("http://127.0.0.1:{}/m.mp4", server.port));
    let out = render(&spec, &d.path().join("work"), &["--allow-private-network"]);
    assert_ok(&out);
    assert_eq!(video_frames(&probe(&d.path().join("out.mp4"))), 60);
    let reqs = server.requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 2, "one retry");
    let range = reqs[1].get("range").map(|v| v.to_str().unwrap().to_string());
    assert!(
        range.as_deref().is_some_and(|r| r.starts_with("bytes=") && r != "bytes=0-"),
        "the retry resumes: {range:?}"
    );
    assert_eq!(reqs[1].get("if-range").unwrap(), "\"v1\"");
}

/// A server that ignores If-Range and answers a resume with a part of a new version: the
/// part is never appended to the old bytes; the download starts over and gets the new one whole.
#[test]
fn a_resume_from_a_changed_object_starts_over() {
    let d = tmp();
    let old = media(d.path());
    color_clip(d.path(), "new.mp4", "blue", Some(880), "160x120", "30", 2.0);
    let new = std::fs::read(d.path().join("new.mp4")).unwrap();
    let behave: Behaviour = Arc::new(move |n, headers, old| {
        if n == 0 {
            return half_then_cut(old);
        }
        let from: Option<usize> = headers
            .get("range")
            .and_then(|r| r.to_str().ok())
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.trim_end_matches('-').parse().ok());
        match from {
            Some(from) => Response::builder()
                .status(StatusCode::PARTIAL_CONTENT)
                .header("etag", "\"v2\"")
                .header("content-range", format!("bytes {from}-{}/{}", new.len() - 1, new.len()))
                .body(Body::from(new[from.min(new.len())..].to_vec()))
                .unwrap(),
            None => Response::builder().header("etag", "\"v2\"").body(Body::from(new.clone())).unwrap(),
        }
    });
    let server = serve(old, behave);
    let spec = spec_for(d.path(), &format!("http://127.0.0.1:{}/m.mp4", server.port));
    let out = render(&spec, &d.path().join("work"), &["--allow-private-network"]);
    assert_ok(&out);
    let reqs = server.requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 3, "the first, the refused resume, the whole new version");
    assert!(reqs[2].get("range").is_none(), "the third request asks for the whole object");
    let f = frame(&d.path().join("out.mp4"), 30, 4, 4);
    assert!(near(f.at(2, 2), (0, 0, 255), 40), "the new version, whole: {:?}", f.at(2, 2));
}

#[test]
fn a_trickle_is_stopped_by_the_stall_timeout() {
    let d = tmp();
    let bytes = media(d.path());
    let behave: Behaviour = Arc::new(|_, _, media| {
        let first = media[..1000].to_vec();
        let stream = futures_util::stream::unfold(0u32, move |k| {
            let first = first.clone();
            async move {
                if k == 0 {
                    Some((Ok::<_, std::io::Error>(first), 1))
                } else {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    Some((Ok(vec![0u8; 1]), k + 1))
                }
            }
        });
        Response::builder().header("content-length", media.len()).body(Body::from_stream(stream)).unwrap()
    });
    let server = serve(bytes, behave);
    let spec = spec_for(d.path(), &format!("http://127.0.0.1:{}/m.mp4", server.port));
    let t = Instant::now();
    let out = render(&spec, &d.path().join("work"), &["--allow-private-network", "--read-timeout", "1"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("timeline.tracks[0].clips[0].src"), "{}", stderr(&out));
    assert!(t.elapsed() < Duration::from_secs(20), "stalled downloads give up: {:?}", t.elapsed());
    assert!(leftovers(&d.path().join("work")).is_empty());
}

/// A slow-loris body (a byte now and then, each beating the read timeout) is stopped by the
/// throughput floor; a --deadline covers downloads as well.
#[test]
fn a_slow_loris_is_stopped_and_the_deadline_covers_downloads() {
    let d = tmp();
    let bytes = media(d.path());
    let behave: Behaviour = Arc::new(|_, _, media| {
        let stream = futures_util::stream::unfold(0u32, |k| async move {
            if k > 0 {
                tokio::time::sleep(Duration::from_millis(700)).await;
            }
            Some((Ok::<_, std::io::Error>(vec![0u8, 0, 0, 0x20][..1 + (k == 0) as usize * 3].to_vec()), k + 1))
        });
        Response::builder().header("content-length", media.len()).body(Body::from_stream(stream)).unwrap()
    });
    let server = serve(bytes, behave);
    let spec = spec_for(d.path(), &format!("http://127.0.0.1:{}/m.mp4", server.port));
    let t = Instant::now();
    let out = render(&spec, &d.path().join("work"), &["--allow-private-network", "--read-timeout", "2"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("slower than 16 KiB/s for 2 s"), "{}", stderr(&out));
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    let t = Instant::now();
    let out = render(&spec, &d.path().join("work"), &["--allow-private-network", "--deadline", "2", "--min-rate", "0"]);
    assert_eq!(out.status.code(), Some(9), "{}", stderr(&out));
    assert!(stderr(&out).contains("deadline of 2 s passed while in the fetch phase"), "{}", stderr(&out));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(leftovers(&d.path().join("work")).is_empty());
}

#[test]
fn retry_after_is_honoured_and_4xx_fails_at_once() {
    let d = tmp();
    let bytes = media(d.path());
    let behave: Behaviour = Arc::new(|n, _, media| match n {
        0 => Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header("retry-after", "1")
            .body(Body::empty())
            .unwrap(),
        _ => Response::builder().body(Body::from(media.to_vec())).unwrap(),
    });
    let server = serve(bytes.clone(), behave);
    let spec = spec_for(d.path(), &format!("http://127.0.0.1:{}/m.mp4", server.port));
    let t = Instant::now();
    assert_ok(&render(&spec, &d.path().join("work"), &["--allow-private-network"]));
    assert!(t.elapsed() >= Duration::from_secs(1), "waited as the server asked");
    assert_eq!(server.requests.lock().unwrap().len(), 2);

    let gone: Behaviour =
        Arc::new(|_, _, _| Response::builder().status(StatusCode::FORBIDDEN).body(Body::empty()).unwrap());
    let server = serve(bytes, gone);
    let spec = spec_for(d.path(), &format!("http://127.0.0.1:{}/m.mp4", server.port));
    let out = render(&spec, &d.path().join("work"), &["--allow-private-network", "--overwrite"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("HTTP 403"), "{}", stderr(&out));
    assert_eq!(server.requests.lock().unwrap().len(), 1, "no retry on 4xx");
}

#[test]
fn sigterm_during_a_download_stops_at_once_and_cleans_up() {
    let d = tmp();
    let bytes = media(d.path());
    // A download that never finishes.
    let behave: Behaviour = Arc::new(|_, _, media| {
        let first = media[..1000].to_vec();
        let stream = futures_util::stream::unfold(0u32, move |k| {
            let first = first.clone();
            async move {
                if k > 0 {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Some((Ok::<_, std::io::Error>(if k == 0 { first } else { vec![0u8; 10] }), k + 1))
            }
        });
        Response::builder().header("content-length", media.len() * 100).body(Body::from_stream(stream)).unwrap()
    });
    let server = serve(bytes, behave);
    let spec = spec_for(d.path(), &format!("http://127.0.0.1:{}/m.mp4", server.port));
    let work = d.path().join("work");
    let run = Running::until(
        cutlist().arg("render").arg(&spec).args(["--workdir", work.to_str().unwrap(), "--allow-private-network"]),
        "\"event\":\"fetching\"",
    );
    while server.requests.lock().unwrap().is_empty() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, rest, took) = run.signal(libc::SIGTERM);
    assert_eq!(status.code(), Some(143), "{rest:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(leftovers(&work).is_empty(), "{:?}", leftovers(&work));
    assert!(!d.path().join("out.mp4").exists());
}

#[test]
fn a_declared_checksum_is_verified() {
    let d = tmp();
    let bytes = media(d.path());
    let md5_b64 = |b: &[u8]| {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("openssl dgst -md5 -binary | base64")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        out.stdin.as_ref().unwrap().write_all(b).unwrap();
        String::from_utf8(out.wait_with_output().unwrap().stdout).unwrap().trim().to_string()
    };
    let good = md5_b64(&bytes);
    // Right checksum: accepted.
    let g = good.clone();
    let ok: Behaviour = Arc::new(move |_, _, media| {
        Response::builder().header("content-md5", g.as_str()).body(Body::from(media.to_vec())).unwrap()
    });
    let server = serve(bytes.clone(), ok);
    let spec = spec_for(d.path(), &format!("http://127.0.0.1:{}/m.mp4", server.port));
    assert_ok(&render(&spec, &d.path().join("work"), &["--allow-private-network"]));
    // Bytes corrupted on the way (GCS-style x-goog-hash): retried, then refused, naming the asset.
    let bad: Behaviour = Arc::new(move |_, _, media| {
        let mut m = media.to_vec();
        m[500] ^= 0xff;
        Response::builder().header("x-goog-hash", format!("crc32c=AAAAAA==,md5={good}")).body(Body::from(m)).unwrap()
    });
    let server = serve(bytes, bad);
    let spec = spec_for(d.path(), &format!("http://127.0.0.1:{}/m.mp4", server.port));
    let out = render(&spec, &d.path().join("work"), &["--allow-private-network", "--overwrite"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("MD5"), "{}", stderr(&out));
    assert_eq!(server.requests.lock().unwrap().len(), 3, "tried three times");
}
