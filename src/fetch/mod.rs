//! Fetch: every asset a job needs, as a local file FFmpeg may open.
//!
//! Local paths are checked (beneath an allowed root, a regular file, within the size
//! limit) and used in place; `http(s)://` URLs are streamed into the workspace through a
//! bounded buffer, at most N at once, with timeouts, a few retries on transient failures
//! and the address guard of [`guard`]. Object stores plug in here as further sources.

pub mod guard;
pub(crate) mod http;
mod local;

use crate::error::{Error, Result};
use crate::spec::address::Address;
use crate::workspace::Workspace;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What a job may fetch and how.
#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// Allow loopback, private and link-local addresses (tests, private deployments).
    pub allow_private_network: bool,
    /// Local sources must lie beneath one of these (the spec's directory is added by the job).
    pub allowed_roots: Vec<PathBuf>,
    /// When not empty, objects (sources and a spec's outputs) must lie within one of these
    /// prefixes (`s3://media/tenantA/`).
    pub allowed_buckets: Vec<String>,
    pub max_parallel: usize,
    pub max_asset_bytes: u64,
    /// Largest total of all of a job's downloads.
    pub max_job_bytes: u64,
    pub connect_timeout: Duration,
    /// No byte for this long ends a download (stall).
    pub read_timeout: Duration,
    /// Fewer bytes a second than this, over any `read_timeout` window, end a download too (a
    /// trickle that beats the read timeout byte by byte).
    pub min_rate: u64,
    /// The longest one download may take.
    pub asset_timeout: Duration,
    /// Attempts per asset on transient failures (5xx, 429, resets, timeouts).
    pub attempts: u32,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            allow_private_network: false,
            allowed_roots: Vec::new(),
            allowed_buckets: Vec::new(),
            max_parallel: 4,
            max_asset_bytes: 2 << 30,
            max_job_bytes: 8 << 30,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            min_rate: 16 << 10,
            asset_timeout: Duration::from_secs(600),
            attempts: crate::retry::ATTEMPTS,
        }
    }
}

/// One asset to fetch: its address (resolved at the spec's base: a local path is absolute)
/// and the JSON path of the field that first names it.
#[derive(Debug, Clone)]
pub struct Request {
    pub src: String,
    pub used_at: String,
}

/// A fetched asset: the local file FFmpeg opens.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub src: String,
    pub path: PathBuf,
    pub bytes: u64,
    pub downloaded: bool,
    /// A local source's open file, which `path` names: keep it while the job reads it.
    pub handle: Option<std::sync::Arc<std::fs::File>>,
}

/// Where an asset comes from.
enum Source {
    Local(PathBuf),
    Http(url::Url),
    Object(crate::storage::Location),
}

/// Why one asset failed; the job turns it into an [`Error`] naming the clip.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Permanent: retrying cannot help.
    Rejected(String),
    /// Transient: a later attempt may succeed.
    Unreachable(String),
    /// The machine, not the asset (no space in the workdir).
    Environment(String),
    Cancelled,
}

/// The throughput check of a download: at least `min_rate` bytes a second over each window
/// of `read_timeout`.
pub(crate) struct Rate {
    window: Duration,
    min_rate: u64,
    since: std::time::Instant,
    bytes: u64,
}

impl Rate {
    pub(crate) fn new(policy: &FetchPolicy) -> Rate {
        Rate { window: policy.read_timeout, min_rate: policy.min_rate, since: std::time::Instant::now(), bytes: 0 }
    }

    /// Count `n` bytes that arrived; an error once a whole window passed below the rate.
    pub(crate) fn add(&mut self, n: usize) -> Result<(), String> {
        self.bytes += n as u64;
        let elapsed = self.since.elapsed();
        if elapsed < self.window {
            return Ok(());
        }
        if (self.bytes as f64) < self.min_rate as f64 * elapsed.as_secs_f64() {
            return Err(format!(
                "slower than {} KiB/s for {} s (--min-rate)",
                self.min_rate >> 10,
                self.window.as_secs()
            ));
        }
        (self.since, self.bytes) = (std::time::Instant::now(), 0);
        Ok(())
    }
}

/// Refuse content that would make FFmpeg open something else or is not media at all.
pub(crate) fn sniff(head: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(&head[..head.len().min(64)]);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with("#EXTM3U") || t.starts_with("#EXT") {
        return Err("is an HLS playlist, not a media file".into());
    }
    if t.starts_with("ffconcat") || t.starts_with("file ") {
        return Err("is an FFmpeg concat script, not a media file".into());
    }
    if t.starts_with('<') || t.starts_with("[playlist]") || t.starts_with('{') {
        return Err("is a text document (HTML, XML, JSON or a playlist), not a media file".into());
    }
    if head.is_empty() {
        return Err("is empty".into());
    }
    Ok(())
}

/// What each request would add to the workspace, as its server or store declares it, asked
/// before any download (at most `policy.max_parallel` at once): a local source is read in
/// place and adds nothing; `None` where the source does not say (or may not be asked: a
/// refused address or bucket is never contacted here, its fetch reports it).
pub async fn declared_sizes(reqs: &[Request], policy: &FetchPolicy, cancel: &CancellationToken) -> Vec<Option<u64>> {
    let Ok(client) = http::client(policy) else { return vec![None; reqs.len()] };
    let ask = |r: &Request| {
        let client = &client;
        let src = r.src.clone();
        async move {
            match Address::parse(&src) {
                Ok(Address::Local(_)) => Some(0),
                Ok(Address::Http(url)) => http::declared_size(client, &url, policy).await,
                Ok(Address::Object(uri)) if crate::storage::within(&uri, &policy.allowed_buckets) => {
                    let loc = crate::storage::locate(&uri).ok()?;
                    tokio::time::timeout(policy.connect_timeout + policy.read_timeout, loc.size()).await.ok()?.ok()
                }
                _ => None,
            }
        }
    };
    tokio::select! {
        sizes = stream::iter(reqs).map(ask).buffered(policy.max_parallel.max(1)).collect::<Vec<_>>() => sizes,
        _ = cancel.cancelled() => vec![None; reqs.len()],
    }
}

/// Refuse at once a job whose downloads, as declared, and the render's own files (`reserve`)
/// cannot fit in `room` bytes of workspace (`where_` says what bounds it), naming the
/// largest sources.
pub fn check_declared(reqs: &[Request], sizes: &[Option<u64>], reserve: u64, room: u64, where_: &str) -> Result<()> {
    let total: u64 = sizes.iter().flatten().sum();
    if total.saturating_add(reserve) <= room {
        return Ok(());
    }
    let mut big: Vec<(u64, &Request)> = sizes.iter().zip(reqs).filter_map(|(s, r)| Some(((*s)?, r))).collect();
    big.sort_by_key(|b| std::cmp::Reverse(b.0));
    let named: Vec<String> = big
        .iter()
        .filter(|(s, _)| *s > 0)
        .take(3)
        .map(|(s, r)| format!("{} at {} ({} MiB)", redact(&r.src), r.used_at, s.div_ceil(1 << 20)))
        .collect();
    let render = match reserve.div_ceil(1 << 20) {
        0 => String::new(),
        r => format!(" and the render needs about {r} MiB more"),
    };
    Err(Error::Environment(format!(
        "this job cannot fit in its workspace: its sources declare {} MiB{render}, but {where_} has {} MiB; \
         nothing was downloaded. Largest: {}. Give it more room (a bigger disk or --workdir on one, or more \
         memory when the workspace is in RAM) or use shorter or fewer sources",
        total.div_ceil(1 << 20),
        room >> 20,
        named.join(", ")
    )))
}

/// Fetch every request, at most `policy.max_parallel` at once. Results are in request order.
pub async fn fetch_all(
    reqs: &[Request],
    ws: &Workspace,
    policy: &FetchPolicy,
    reserve: u64,
    cancel: &CancellationToken,
    on_done: impl Fn(usize, usize),
) -> Result<Vec<Fetched>> {
    let client = http::client(policy).map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))?;
    let total = reqs.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let job_bytes = std::sync::atomic::AtomicU64::new(0);
    let results: Vec<Fetched> = stream::iter(reqs.iter().enumerate())
        .map(|(i, r)| {
            let client = &client;
            let done = &done;
            let on_done = &on_done;
            let job_bytes = &job_bytes;
            async move {
                let out = fetch_one(i, r, ws, policy, client, reserve, cancel, job_bytes).await;
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                on_done(n, total);
                out
            }
        })
        .buffered(policy.max_parallel.max(1))
        .try_collect()
        .await?;
    Ok(results)
}

#[allow(clippy::too_many_arguments)]
async fn fetch_one(
    index: usize,
    req: &Request,
    ws: &Workspace,
    policy: &FetchPolicy,
    client: &reqwest::Client,
    reserve: u64,
    cancel: &CancellationToken,
    job_bytes: &std::sync::atomic::AtomicU64,
) -> Result<Fetched> {
    let source = match Address::parse(&req.src) {
        Ok(Address::Http(url)) => Ok(Source::Http(url)),
        Ok(Address::Object(uri)) if !crate::storage::within(&uri, &policy.allowed_buckets) => {
            Err("is outside the buckets this deployment allows (--allow-bucket)".to_string())
        }
        Ok(Address::Object(uri)) => crate::storage::locate(&uri).map(Source::Object).map_err(|e| e.to_string()),
        Ok(Address::Local(p)) => Ok(Source::Local(p)),
        Err(reason) => Err(reason),
    };
    let outcome = match source {
        Err(reason) => Err(Failure::Rejected(reason)),
        Ok(Source::Local(p)) => local::open(&p, policy).map(|o| Fetched {
            src: req.src.clone(),
            path: o.path,
            bytes: o.bytes,
            downloaded: false,
            handle: Some(o.file),
        }),
        Ok(Source::Http(url)) => {
            let dest = ws.file(&format!("in_{index:04}.{}", http::extension(&url)));
            tokio::select! {
                r = http::download(client, &url, &dest, ws, policy, reserve, job_bytes) => r.map(|bytes| Fetched {
                    src: req.src.clone(),
                    path: dest,
                    bytes,
                    downloaded: true,
                    handle: None,
                }),
                _ = cancel.cancelled() => Err(Failure::Cancelled),
            }
        }
        Ok(Source::Object(loc)) => {
            let ext = loc
                .path
                .extension()
                .filter(|e| (1..=5).contains(&e.len()) && e.chars().all(|c| c.is_ascii_alphanumeric()))
                .unwrap_or("bin");
            let dest = ws.file(&format!("in_{index:04}.{}", ext.to_ascii_lowercase()));
            let got = tokio::select! {
                r = loc.download(&dest, policy.max_asset_bytes, policy.read_timeout, {
                    let mut rate = Rate::new(policy);
                    move |n| rate.add(n)
                }) => r,
                _ = cancel.cancelled() => return Err(Error::Cancelled),
            };
            let head = got.as_ref().ok().and_then(|_| std::fs::File::open(&dest).ok()).map(|mut f| {
                let mut b = [0u8; 64];
                let n = std::io::Read::read(&mut f, &mut b).unwrap_or(0);
                b[..n].to_vec()
            });
            let job_total =
                got.as_ref().map(|b| job_bytes.fetch_add(*b, std::sync::atomic::Ordering::Relaxed) + b).unwrap_or(0);
            match got {
                Ok(_) if job_total > policy.max_job_bytes => Err(Failure::Rejected(format!(
                    "the job's assets pass the limit of {} MiB together (--max-job-bytes)",
                    policy.max_job_bytes >> 20
                ))),
                Ok(bytes) => sniff(&head.unwrap_or_default()).map_err(Failure::Rejected).map(|()| Fetched {
                    src: req.src.clone(),
                    path: dest,
                    bytes,
                    downloaded: true,
                    handle: None,
                }),
                Err(crate::storage::StoreError::Permanent(r)) => Err(Failure::Rejected(r)),
                Err(crate::storage::StoreError::Transient(r)) => Err(Failure::Unreachable(r)),
                Err(crate::storage::StoreError::Cancelled) => Err(Failure::Cancelled),
            }
        }
    };
    let path = req.used_at.clone();
    let src = redact(&req.src);
    outcome.map_err(|f| match f {
        Failure::Rejected(reason) => Error::AssetRejected { path, src, reason },
        Failure::Unreachable(reason) => Error::AssetUnreachable { path, src, reason },
        Failure::Environment(reason) => Error::Environment(reason),
        Failure::Cancelled => Error::Cancelled,
    })
}

/// A URL as it may appear in logs: no query string (signed URLs carry secrets there).
pub fn redact(src: &str) -> String {
    match url::Url::parse(src) {
        Ok(mut u) if matches!(u.scheme(), "http" | "https") => {
            if u.query().is_some() {
                u.set_query(Some("…"));
            }
            u.to_string()
        }
        _ => src.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_scripts_and_pages() {
        assert!(sniff(b"#EXTM3U\n#EXT-X-VERSION:3").is_err());
        assert!(sniff(b"ffconcat version 1.0\nfile /etc/passwd").is_err());
        assert!(sniff(b"  <!DOCTYPE html><html>").is_err());
        assert!(sniff(b"").is_err());
        assert!(sniff(b"\x00\x00\x00\x20ftypisom").is_ok());
        assert!(sniff(&[0xff, 0xd8, 0xff, 0xe0]).is_ok());
    }

    #[test]
    fn redacts_signatures() {
        assert_eq!(redact("https://h/a.mp4?X-Amz-Signature=abc"), "https://h/a.mp4?%E2%80%A6");
        assert_eq!(redact("clips/a.mp4"), "clips/a.mp4");
    }
}
