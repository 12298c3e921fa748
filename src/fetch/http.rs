//! HTTP(S) sources: streamed to a workspace file through a bounded buffer, guarded and retried.

use super::guard::{check_host, AddressRefused, GuardedResolver};
use super::{sniff, Failure, FetchPolicy};
use crate::workspace::Workspace;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

const MAX_REDIRECTS: usize = 5;

pub(crate) fn client(policy: &FetchPolicy) -> reqwest::Result<reqwest::Client> {
    // One process-wide TLS provider; installing it twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let allow = policy.allow_private_network;
    reqwest::Client::builder()
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver { allow_private: allow }))
        .connect_timeout(policy.connect_timeout)
        .read_timeout(policy.read_timeout)
        .timeout(policy.asset_timeout)
        .user_agent(concat!("cutlist/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(AddressRefused(format!("more than {MAX_REDIRECTS} redirects")));
            }
            let downgrade =
                attempt.previous().last().is_some_and(|p| p.scheme() == "https") && attempt.url().scheme() != "https";
            if !matches!(attempt.url().scheme(), "http" | "https") || downgrade {
                let msg = format!("redirect to {} refused (scheme)", attempt.url().scheme());
                return attempt.error(AddressRefused(msg));
            }
            match check_host(attempt.url(), allow) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(AddressRefused(format!("redirect refused: {e}"))),
            }
        }))
        .build()
}

/// A client for status webhooks: redirects are never followed; `guard` (`Some(allow_private)`,
/// for a receiver the spec names) puts the address guard in its resolver.
pub(crate) fn webhook_client(guard: Option<bool>) -> reqwest::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("cutlist/", env!("CARGO_PKG_VERSION")));
    if let Some(allow_private) = guard {
        b = b.dns_resolver(Arc::new(GuardedResolver { allow_private }));
    }
    b.build()
}

/// What went wrong with a request, for a log line (a refused address named as such).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    match classify(e) {
        Failure::Rejected(r) | Failure::Unreachable(r) | Failure::Environment(r) => r,
        Failure::Cancelled => "cancelled".into(),
    }
}

/// A file extension for the download, from the URL path (`bin` if none fits).
pub(super) fn extension(url: &url::Url) -> String {
    url.path_segments()
        .and_then(|mut s| s.next_back())
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .filter(|e| (1..=5).contains(&e.len()) && e.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "bin".into())
}

fn refused_in_chain(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<AddressRefused>() {
            return Some(r.0.clone());
        }
        cur = err.source();
    }
    None
}

fn classify(e: &reqwest::Error) -> Failure {
    if let Some(r) = refused_in_chain(e) {
        return Failure::Rejected(format!("refused: {r} (allow with --allow-private-network)"));
    }
    if e.is_timeout() {
        Failure::Unreachable("timed out".into())
    } else if e.is_connect() {
        Failure::Unreachable(format!("cannot connect: {}", root_cause(e)))
    } else {
        Failure::Unreachable(root_cause(e))
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(s) = cur.source() {
        cur = s;
    }
    cur.to_string()
}

/// What the server says `url` weighs, asked with a one-byte ranged GET (which signed URLs
/// allow where a HEAD is not signed): the total of a `206`'s `Content-Range`, or a `200`'s
/// length (its body is not read). `None` when it does not say or cannot be asked (the
/// download then reports why); never a request the address guard refuses.
pub(super) async fn declared_size(client: &reqwest::Client, url: &url::Url, policy: &FetchPolicy) -> Option<u64> {
    check_host(url, policy.allow_private_network).ok()?;
    let ask = client.get(url.clone()).header(reqwest::header::RANGE, "bytes=0-0").send();
    let resp = tokio::time::timeout(policy.connect_timeout + policy.read_timeout, ask).await.ok()?.ok()?;
    match resp.status().as_u16() {
        206 => resp
            .headers()
            .get(reqwest::header::CONTENT_RANGE)?
            .to_str()
            .ok()?
            .rsplit_once('/')
            .and_then(|(_, total)| total.trim().parse().ok()),
        200 => resp.content_length(),
        _ => None,
    }
}

/// What a failed attempt leaves for the next: bytes already on disk and the validator that
/// proves a resumed body is the same object.
#[derive(Default)]
struct Partial {
    written: u64,
    validator: Option<String>,
    retry_after: Option<Duration>,
    /// The MD5 the server declared for the whole object (base64).
    md5: Option<String>,
}

/// Download `url` to `dest`, retrying transient failures (resuming with a Range request where
/// the server allows). `job_bytes` counts every asset of the job against `max_job_bytes`.
/// Returns the byte count.
pub(super) async fn download(
    client: &reqwest::Client,
    url: &url::Url,
    dest: &Path,
    ws: &Workspace,
    policy: &FetchPolicy,
    reserve: u64,
    job_bytes: &AtomicU64,
) -> Result<u64, Failure> {
    check_host(url, policy.allow_private_network)
        .map_err(|e| Failure::Rejected(format!("refused: {e} (allow with --allow-private-network)")))?;
    let mut partial = Partial::default();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match download_once(client, url, dest, ws, policy, reserve, job_bytes, &mut partial).await {
            Err(Failure::Unreachable(reason)) if attempt < policy.attempts => {
                let wait = crate::retry::delay(attempt, partial.retry_after.take());
                tracing::warn!(url = %super::redact(url.as_str()), attempt, resume_at = partial.written, "download failed, retrying in {:.1} s: {reason}", wait.as_secs_f64());
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
}

/// Standard base64 of `bytes` (for comparing with `Content-MD5` and `x-goog-hash`).
fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The MD5 the server vouches for, base64: `Content-MD5`, or GCS's `x-goog-hash: md5=…`.
fn declared_md5(resp: &reqwest::Response) -> Option<String> {
    let h = resp.headers();
    if let Some(v) = h.get("content-md5").and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_string());
    }
    h.get_all("x-goog-hash")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix("md5=").map(str::to_string))
}

#[allow(clippy::too_many_arguments)]
async fn download_once(
    client: &reqwest::Client,
    url: &url::Url,
    dest: &Path,
    ws: &Workspace,
    policy: &FetchPolicy,
    reserve: u64,
    job_bytes: &AtomicU64,
    partial: &mut Partial,
) -> Result<u64, Failure> {
    let mut req = client.get(url.clone());
    let resuming = partial.written > 0 && partial.validator.is_some();
    if resuming {
        req = req
            .header("range", format!("bytes={}-", partial.written))
            .header("if-range", partial.validator.clone().unwrap_or_default());
    }
    let mut resp = req.send().await.map_err(|e| classify(&e))?;
    let status = resp.status();
    if !status.is_success() {
        let reason = format!("HTTP {status}");
        partial.retry_after = crate::retry::retry_after(resp.headers());
        return Err(if crate::retry::transient(status) {
            Failure::Unreachable(reason)
        } else {
            Failure::Rejected(reason)
        });
    }
    // 206 continues the bytes on disk; anything else is the whole object again.
    let resumed = resuming
        && status.as_u16() == 206
        && resp
            .headers()
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with(&format!("bytes {}-", partial.written)));
    let validator = resp
        .headers()
        .get("etag")
        .or_else(|| resp.headers().get("last-modified"))
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.starts_with("W/")) // a weak ETag cannot vouch for bytes
        .map(str::to_string);
    // A part of another version of the object (a server that ignores If-Range), or a part we
    // did not ask for: never appended. Start over, whole.
    let changed = resumed && validator.is_some() && validator != partial.validator;
    if changed || (status.as_u16() == 206 && !resumed) {
        job_bytes.fetch_sub(partial.written, Ordering::Relaxed);
        *partial = Partial::default();
        return Err(Failure::Unreachable(if changed {
            "the object changed while it was downloaded; starting over".into()
        } else {
            "the server sent a part that was not asked for; starting over".into()
        }));
    }
    if !resumed {
        job_bytes.fetch_sub(partial.written, Ordering::Relaxed);
        partial.written = 0;
    }
    partial.validator = validator.or(if resumed { partial.validator.take() } else { None });
    if let Some(len) = resp.content_length().map(|l| l + partial.written) {
        if len > policy.max_asset_bytes {
            return Err(Failure::Rejected(format!(
                "is {} MiB; the limit is {} MiB (--max-asset-bytes)",
                len >> 20,
                policy.max_asset_bytes >> 20
            )));
        }
        let free = ws.free_bytes().unwrap_or(u64::MAX);
        if (len - partial.written).saturating_add(reserve) > free {
            return Err(Failure::Environment(format!(
                "the workdir has {} MiB free; downloading {} ({} MiB) and rendering need {} MiB",
                free >> 20,
                super::redact(url.as_str()),
                len >> 20,
                (len + reserve) >> 20
            )));
        }
    }
    let file = if resumed {
        tokio::fs::OpenOptions::new().append(true).open(dest).await
    } else {
        tokio::fs::File::create(dest).await
    }
    .map_err(|e| Failure::Environment(format!("cannot write to the workspace: {e}")))?;
    let mut out = tokio::io::BufWriter::with_capacity(64 * 1024, file);
    let mut head: Vec<u8> = Vec::with_capacity(64);
    // A checksum the server declares is verified over the whole file, resumed bytes included.
    // (A 206's own Content-MD5 would cover only the range: keep the whole object's.)
    let declared = if resumed { partial.md5.clone() } else { declared_md5(&resp) };
    let mut md5 = declared.as_ref().map(|_| <md5::Md5 as md5::Digest>::new());
    if resumed {
        let mut f =
            std::fs::File::open(dest).map_err(|e| Failure::Environment(format!("cannot read the workspace: {e}")))?;
        let mut b = vec![0u8; 64 * 1024];
        loop {
            let n = std::io::Read::read(&mut f, &mut b).unwrap_or(0);
            if n == 0 {
                break;
            }
            if head.len() < 64 {
                head.extend_from_slice(&b[..n.min(64 - head.len())]);
            }
            if let Some(h) = md5.as_mut() {
                md5::Digest::update(h, &b[..n]);
            }
        }
    }
    partial.md5 = declared.clone();
    let outcome: Result<(), Failure> = async {
        let mut rate = super::Rate::new(policy);
        while let Some(chunk) = resp.chunk().await.map_err(|e| classify(&e))? {
            rate.add(chunk.len()).map_err(Failure::Unreachable)?;
            partial.written += chunk.len() as u64;
            let job = job_bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
            if partial.written > policy.max_asset_bytes {
                return Err(Failure::Rejected(format!(
                    "is larger than the limit of {} MiB (--max-asset-bytes)",
                    policy.max_asset_bytes >> 20
                )));
            }
            if job > policy.max_job_bytes {
                return Err(Failure::Rejected(format!(
                    "the job's assets pass the limit of {} MiB together (--max-job-bytes)",
                    policy.max_job_bytes >> 20
                )));
            }
            if head.len() < 64 {
                head.extend_from_slice(&chunk[..chunk.len().min(64 - head.len())]);
            }
            if let Some(h) = md5.as_mut() {
                md5::Digest::update(h, &chunk);
            }
            out.write_all(&chunk)
                .await
                .map_err(|e| Failure::Environment(format!("cannot write to the workspace: {e}")))?;
        }
        Ok(())
    }
    .await;
    // Keep what arrived (flushed) so a retry can resume after it.
    out.flush().await.map_err(|e| Failure::Environment(format!("cannot write to the workspace: {e}")))?;
    outcome?;
    if let (Some(want), Some(h)) = (declared, md5) {
        let got = base64(&md5::Digest::finalize(h));
        if got != want {
            // Corrupted on the way: start over (no resume from bad bytes).
            job_bytes.fetch_sub(partial.written, Ordering::Relaxed);
            *partial = Partial::default();
            return Err(Failure::Unreachable(format!("the download's MD5 is {got}, the server declared {want}")));
        }
    }
    sniff(&head).map_err(Failure::Rejected)?;
    Ok(partial.written)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_of_digests() {
        // MD5("") = d41d8cd98f00b204e9800998ecf8427e = 1B2M2Y8AsgTpgAmY7PhCfg==
        let d = <md5::Md5 as md5::Digest>::digest(b"");
        assert_eq!(super::base64(&d), "1B2M2Y8AsgTpgAmY7PhCfg==");
        assert_eq!(super::base64(b"ab"), "YWI=");
        assert_eq!(super::base64(b"abc"), "YWJj");
    }
}
