//! Object stores: `s3://`, `gs://` and `az://` addresses read and written through
//! `object_store`, configured and authenticated from the environment (never from the spec).
//!
//! S3 reads the standard `AWS_*` variables (`AWS_ENDPOINT_URL` for S3-compatible stores,
//! `AWS_ALLOW_HTTP` for a plain-HTTP endpoint, `AWS_COPY_IF_NOT_EXISTS` for how the store does
//! create-only copies); GCS `GOOGLE_*`; Azure `AZURE_*`.

use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ClientConfigKey, ObjectStore, ObjectStoreExt, RetryConfig, WriteMultipart};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// Size of each part of a multipart upload; the upload holds at most
/// `PART_BYTES × (PARTS_IN_FLIGHT + 1)` in memory (24 MiB).
pub const PART_BYTES: usize = 8 << 20;
pub const PARTS_IN_FLIGHT: usize = 2;
/// How long aborting an upload may take before cutlist goes on without its answer.
const ABORT_WITHIN: Duration = Duration::from_secs(2);

/// An object in a store.
#[derive(Debug, Clone)]
pub struct Location {
    pub store: Arc<dyn ObjectStore>,
    pub path: ObjectPath,
    /// As written: `s3://bucket/key`.
    pub uri: String,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Retrying cannot help: not found, access denied, already exists, bad address.
    #[error("{0}")]
    Permanent(String),
    /// The store could not be reached or failed transiently (after object_store's retries).
    #[error("{0}")]
    Transient(String),
    /// The job was cancelled; an upload in progress was aborted.
    #[error("cancelled")]
    Cancelled,
}

fn classify(e: object_store::Error) -> StoreError {
    use object_store::Error as E;
    match e {
        E::NotFound { .. } => StoreError::Permanent("not found".into()),
        E::AlreadyExists { .. } => StoreError::Permanent("already exists".into()),
        E::PermissionDenied { source, .. } => StoreError::Permanent(format!("access denied: {source}")),
        E::Unauthenticated { source, .. } => StoreError::Permanent(format!("not authenticated: {source}")),
        E::Precondition { .. } => StoreError::Permanent("a precondition failed (it already exists?)".into()),
        E::NotSupported { source } => StoreError::Permanent(format!("not supported by this store: {source}")),
        e @ E::NotImplemented { .. } => StoreError::Permanent(format!("not supported by this store: {e}")),
        other => StoreError::Transient(other.to_string()),
    }
}

/// HTTP client settings for every store (set as config keys, so the environment's other
/// client settings, such as `*_ALLOW_HTTP`, stay): a request may take up to 10 minutes (an
/// 8 MiB part over a slow link; a large download resumes by range after it), connecting 10 s.
const CLIENT: [(ClientConfigKey, &str); 2] =
    [(ClientConfigKey::Timeout, "600s"), (ClientConfigKey::ConnectTimeout, "10s")];

fn retry() -> RetryConfig {
    // object_store's default retries for up to 3 minutes; a job wants to know sooner.
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            base: 2.0,
        },
        max_retries: 4,
        retry_timeout: Duration::from_secs(60),
    }
}

/// An object address split as written: (scheme, bucket, key). The key is taken as it stands
/// in the text (a URL parser would fold `a/%2e%2e/b` into `b`: another prefix); one that,
/// percent-decoded, has an empty, `.` or `..` segment or a control character is refused, and
/// so are query strings and credentials.
pub fn object_parts(s: &str) -> Result<(&str, &str, &str), String> {
    let (scheme, rest) = s.split_once("://").ok_or("not an object address")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err("no bucket: write s3://bucket/key".into());
    }
    if bucket.contains(['@', ':']) || key.contains(['?', '#']) {
        return Err(
            "no query string, port or credentials in a bucket address (credentials come from the environment)".into()
        );
    }
    if !bucket.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return Err(format!("{bucket:?} is not a bucket name"));
    }
    if key.is_empty() || key.ends_with('/') {
        return Err("no object name after the bucket".into());
    }
    let decoded = percent_decode(key);
    if decoded.split('/').any(|p| p.is_empty() || p == "." || p == "..") || decoded.chars().any(char::is_control) {
        return Err(
            "the object name has an empty, . or .. segment (percent-encoded or not) or a control character".into()
        );
    }
    Ok((scheme, bucket, key))
}

/// Whether `uri` lies within one of `prefixes` (`s3://media/tenantA/`; a prefix without a
/// final `/` is a whole segment: `s3://media/tenantA` does not hold `s3://media/tenantAB/x`).
/// No prefixes: every object is within.
pub fn within(uri: &str, prefixes: &[String]) -> bool {
    prefixes.is_empty()
        || prefixes.iter().any(|p| {
            let p = p.trim_end_matches('/');
            uri.strip_prefix(p).is_some_and(|rest| rest.starts_with('/'))
        })
}

/// `%2e` → `.`; invalid escapes stay as written.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Open the object `uri` names, its store built from the environment.
pub fn locate(uri: &str) -> Result<Location, StoreError> {
    // object_store's HTTP client takes the process-wide TLS provider (installing it twice is harmless).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bad = |why: &str| StoreError::Permanent(format!("{uri}: {why}"));
    let (scheme, bucket, key) = object_parts(uri).map_err(|e| bad(&e))?;
    let bucket = bucket.to_string();
    let path = ObjectPath::parse(key).map_err(|e| bad(&format!("bad object name: {e}")))?;
    let built: object_store::Result<Arc<dyn ObjectStore>> = match scheme {
        "s3" => {
            let mut b = AmazonS3Builder::from_env().with_bucket_name(&bucket).with_retry(retry());
            for (k, v) in CLIENT {
                b = b.with_config(object_store::aws::AmazonS3ConfigKey::Client(k), v);
            }
            // Create-only copies the way AWS S3 itself supports them (a conditional multipart
            // completion), unless the operator configured the store's own way.
            if std::env::var("AWS_COPY_IF_NOT_EXISTS").map_or(true, |v| v.trim().is_empty()) {
                b = b.with_config(object_store::aws::AmazonS3ConfigKey::CopyIfNotExists, "multipart");
            }
            b.build().map(|s| Arc::new(s) as _)
        }
        "gs" => {
            let mut b = GoogleCloudStorageBuilder::from_env().with_bucket_name(&bucket).with_retry(retry());
            for (k, v) in CLIENT {
                b = b.with_config(object_store::gcp::GoogleConfigKey::Client(k), v);
            }
            b.build().map(|s| Arc::new(s) as _)
        }
        "az" => {
            let mut b = MicrosoftAzureBuilder::from_env().with_container_name(&bucket).with_retry(retry());
            for (k, v) in CLIENT {
                b = b.with_config(object_store::azure::AzureConfigKey::Client(k), v);
            }
            b.build().map(|s| Arc::new(s) as _)
        }
        other => return Err(bad(&format!("unsupported scheme {other:?}"))),
    };
    let store = built
        .map_err(|e| StoreError::Permanent(format!("{uri}: cannot configure the store from the environment: {e}")))?;
    Ok(Location { store, path, uri: uri.to_string() })
}

impl Location {
    /// The object beside this one, with `name` as its last segment.
    pub fn sibling(&self, name: &str) -> Location {
        let mut parts: Vec<String> = self.path.parts().map(|p| p.as_ref().to_string()).collect();
        parts.pop();
        parts.push(name.to_string());
        let path = ObjectPath::from_iter(parts.iter().map(String::as_str));
        let base = self.uri.rsplit_once('/').map(|(b, _)| b).unwrap_or(&self.uri);
        Location { store: self.store.clone(), path, uri: format!("{base}/{name}") }
    }

    /// The object's size in bytes.
    pub async fn size(&self) -> Result<u64, StoreError> {
        Ok(self.store.head(&self.path).await.map_err(classify)?.size)
    }

    /// Stream the object into `dest` (a 64 KiB buffer; never whole in memory). `max` bytes
    /// at most; no byte for `stall` ends it (object_store itself resumes a broken body by
    /// range). Returns the byte count.
    /// `check` sees each chunk's size and may end the download (a throughput floor).
    pub async fn download(
        &self,
        dest: &Path,
        max: u64,
        stall: Duration,
        mut check: impl FnMut(usize) -> Result<(), String>,
    ) -> Result<u64, StoreError> {
        use futures_util::StreamExt;
        let got = self.store.get(&self.path).await.map_err(classify)?;
        if got.meta.size > max {
            return Err(StoreError::Permanent(format!(
                "is {} MiB; the limit is {} MiB (--max-asset-bytes)",
                got.meta.size >> 20,
                max >> 20
            )));
        }
        let file = tokio::fs::File::create(dest)
            .await
            .map_err(|e| StoreError::Permanent(format!("cannot write to the workspace: {e}")))?;
        let mut out = tokio::io::BufWriter::with_capacity(64 * 1024, file);
        let mut stream = got.into_stream();
        let mut written = 0u64;
        loop {
            let next = tokio::time::timeout(stall, stream.next())
                .await
                .map_err(|_| StoreError::Transient(format!("no data for {} s", stall.as_secs())))?;
            let Some(chunk) = next else { break };
            let chunk = chunk.map_err(classify)?;
            check(chunk.len()).map_err(StoreError::Transient)?;
            written += chunk.len() as u64;
            if written > max {
                return Err(StoreError::Permanent(format!(
                    "is larger than the limit of {} MiB (--max-asset-bytes)",
                    max >> 20
                )));
            }
            out.write_all(&chunk)
                .await
                .map_err(|e| StoreError::Permanent(format!("cannot write to the workspace: {e}")))?;
        }
        out.flush().await.map_err(|e| StoreError::Permanent(format!("cannot write to the workspace: {e}")))?;
        Ok(written)
    }

    /// Read a small object whole (a spec, at most `max` bytes).
    pub async fn read_small(&self, max: u64) -> Result<Vec<u8>, StoreError> {
        self.read_optional(max).await?.ok_or_else(|| StoreError::Permanent("not found".into()))
    }

    /// Write a small object (a manifest, a record, a caption file) from memory, create-only:
    /// one conditional PUT, whole or not at all.
    pub async fn put_small_create_only(&self, bytes: Vec<u8>) -> Result<(), StoreError> {
        let opts = object_store::PutOptions { mode: object_store::PutMode::Create, ..Default::default() };
        match self.store.put_opts(&self.path, bytes.into(), opts).await {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => {
                Err(StoreError::Permanent(format!("{} already exists; outputs are create-only", self.uri)))
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// Read a small object whole, or `None` if there is none.
    pub async fn read_optional(&self, max: u64) -> Result<Option<Vec<u8>>, StoreError> {
        match self.store.get(&self.path).await {
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(classify(e)),
            Ok(got) if got.meta.size > max => {
                Err(StoreError::Permanent(format!("{} is larger than {max} bytes", self.uri)))
            }
            Ok(got) => Ok(Some(got.bytes().await.map_err(classify)?.to_vec())),
        }
    }

    /// Upload `file` to this object, **create-only**: streamed in parts to a staging object
    /// (bounded memory), then copied to this name only if nothing is there yet, and the
    /// staging object deleted. The object appears whole or not at all; an existing object
    /// is never overwritten (a retried job cannot clobber a published output).
    pub async fn upload_create_only(&self, file: &Path, cancel: &CancellationToken) -> Result<u64, StoreError> {
        let staging =
            self.sibling(&format!(".{}.cutlist-staging-{:08x}", self.path.filename().unwrap_or("object"), rand_u32()));
        let bytes = staging.upload(file, cancel).await?;
        if cancel.is_cancelled() {
            let _ = tokio::time::timeout(ABORT_WITHIN, self.store.delete(&staging.path)).await;
            return Err(StoreError::Cancelled);
        }
        let copied = self.store.copy_if_not_exists(&staging.path, &self.path).await;
        let _ = self.store.delete(&staging.path).await;
        match copied {
            Ok(()) => Ok(bytes),
            Err(object_store::Error::AlreadyExists { .. }) | Err(object_store::Error::Precondition { .. }) => {
                Err(StoreError::Permanent(format!("{} already exists; outputs are create-only", self.uri)))
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// Upload `file` here (overwriting), in parts of `PART_BYTES`, `PARTS_IN_FLIGHT` at once;
    /// an upload that fails or is cancelled is aborted (no parts left behind).
    pub async fn upload(&self, file: &Path, cancel: &CancellationToken) -> Result<u64, StoreError> {
        let upload = self.store.put_multipart(&self.path).await.map_err(classify)?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let result: Result<u64, StoreError> = async {
            let mut f = tokio::fs::File::open(file)
                .await
                .map_err(|e| StoreError::Permanent(format!("cannot read {}: {e}", file.display())))?;
            let mut buf = vec![0u8; 256 * 1024];
            let mut total = 0u64;
            loop {
                let n = f
                    .read(&mut buf)
                    .await
                    .map_err(|e| StoreError::Permanent(format!("cannot read {}: {e}", file.display())))?;
                if n == 0 {
                    break;
                }
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Err(StoreError::Cancelled),
                    r = w.wait_for_capacity(PARTS_IN_FLIGHT) => r.map_err(classify)?,
                }
                w.write(&buf[..n]);
                total += n as u64;
            }
            Ok(total)
        }
        .await;
        // Wait for the parts in flight before completing, so that a cancel in the meantime
        // aborts the upload (no part left behind) instead of completing it.
        let result = match result {
            Ok(total) => tokio::select! {
                biased;
                _ = cancel.cancelled() => Err(StoreError::Cancelled),
                r = w.wait_for_capacity(0) => r.map(|()| total).map_err(classify),
            },
            e => e,
        };
        match result {
            // Completing is one short request; a cancel that comes during it is seen by the
            // caller, which deletes the (staging) object.
            Ok(total) => w.finish().await.map_err(classify).map(|_| total),
            Err(e) => {
                // Bounded: a cancelled job must exit well inside a platform's grace period.
                let _ = tokio::time::timeout(ABORT_WITHIN, w.abort()).await;
                Err(e)
            }
        }
    }
}

fn rand_u32() -> u32 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (t.subsec_nanos() ^ std::process::id().rotate_left(16)) ^ (t.as_secs() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert!(matches!(locate("s3://bucket/"), Err(StoreError::Permanent(m)) if m.contains("no object name")));
        assert!(matches!(locate("s3:///key"), Err(StoreError::Permanent(_))));
        for escape in ["s3://b/tenantA/%2e%2e/tenantB/a.mp4", "s3://b/a/../b.mp4", "s3://b/a/%2E/b.mp4", "s3://b/a//b"]
        {
            assert!(object_parts(escape).is_err(), "{escape}");
        }
        assert_eq!(object_parts("s3://b/tenantA/a%20b.mp4").unwrap(), ("s3", "b", "tenantA/a%20b.mp4"));
        assert!(object_parts("s3://user:pw@b/k").is_err() && object_parts("s3://b/k?x=1").is_err());
        let allowed = ["s3://media/tenantA".to_string()];
        assert!(within("s3://media/tenantA/x.mp4", &allowed) && !within("s3://media/tenantAB/x.mp4", &allowed));
        assert!(!within("s3://other/tenantA/x.mp4", &allowed) && within("s3://any/k", &[]));
    }
}
