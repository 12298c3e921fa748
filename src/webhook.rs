//! Status webhooks: signed JSON events about a job, posted in order from a bounded queue by
//! a background task, so a slow or dead receiver never fails or stalls the render.
//!
//! Each POST carries `Cutlist-Event-Id` (stable per state change, so a receiver can drop
//! repeats from retried attempts) and, with a secret, `Cutlist-Signature: t=<unix seconds>,
//! v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Events waiting to be posted; more are dropped (and logged) rather than waited for.
const QUEUE: usize = 64;
const ATTEMPTS: u32 = 3;

/// Sends a job's events to one URL. Cheap to clone; the posting task ends when every
/// clone is dropped (see [`Webhook::finish`]).
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::Sender<(String, Value)>,
    job_id: String,
    attempt: u64,
    task_index: u64,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("job_id", &self.job_id).finish()
    }
}

/// The posting side: owns the background task.
pub struct Webhook {
    pub notifier: Notifier,
    task: tokio::task::JoinHandle<()>,
}

/// `t=<t>,v1=<hex>`: HMAC-SHA256 of `"<t>.<body>"`.
pub fn signature(secret: &[u8], t: u64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let mut msg = format!("{t}.").into_bytes();
    msg.extend_from_slice(body);
    let tag = ring::hmac::sign(&key, &msg);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

impl Webhook {
    /// Start posting to `url` with `client` (the fetcher's guarded client: the address guard
    /// applies to webhook URLs too).
    pub fn start(
        client: reqwest::Client,
        url: url::Url,
        secret: Option<String>,
        job_id: &str,
        attempt: u64,
        task_index: u64,
    ) -> Webhook {
        let (tx, mut rx) = mpsc::channel::<(String, Value)>(QUEUE);
        let task = tokio::spawn(async move {
            while let Some((id, event)) = rx.recv().await {
                let body = serde_json::to_vec(&event).expect("events serialize");
                for attempt in 1..=ATTEMPTS {
                    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
                    let mut req = client
                        .post(url.clone())
                        .timeout(Duration::from_secs(5))
                        .header("content-type", "application/json")
                        .header("cutlist-event-id", &id)
                        .body(body.clone());
                    if let Some(s) = &secret {
                        req = req.header("cutlist-signature", signature(s.as_bytes(), t, &body));
                    }
                    match req.send().await {
                        Ok(r) if r.status().is_success() => break,
                        Ok(r) if r.status().is_client_error() && r.status().as_u16() != 429 => {
                            tracing::warn!(event_id = %id, "webhook refused the event: HTTP {}", r.status());
                            break;
                        }
                        outcome => {
                            let why = match outcome {
                                Ok(r) => format!("HTTP {}", r.status()),
                                Err(e) => e.to_string(),
                            };
                            if attempt == ATTEMPTS {
                                tracing::warn!(event_id = %id, "webhook delivery failed after {ATTEMPTS} tries: {why}");
                            } else {
                                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
                            }
                        }
                    }
                }
            }
        });
        Webhook { notifier: Notifier { tx, job_id: job_id.into(), attempt, task_index }, task }
    }

    /// Stop taking events and deliver what is queued, waiting at most `within`.
    pub async fn finish(self, within: Duration) {
        let Webhook { notifier, task } = self;
        drop(notifier);
        if tokio::time::timeout(within, task).await.is_err() {
            tracing::warn!("webhook: undelivered events dropped after {} s", within.as_secs());
        }
    }
}

impl Notifier {
    /// Queue an event of `kind` with `data`; `step` makes its id unique per state change
    /// (a progress percentage, an asset count), so repeats across attempts share an id.
    pub fn send(&self, kind: &str, step: Option<u64>, data: Value) {
        let id = match step {
            Some(s) => format!("{}/{kind}/{s}", self.job_id),
            None => format!("{}/{kind}", self.job_id),
        };
        let event = json!({
            "id": id,
            "type": kind,
            "job_id": self.job_id,
            "attempt": self.attempt,
            "task_index": self.task_index,
            "time": crate::report::rfc3339(SystemTime::now()),
            "data": data,
        });
        if self.tx.try_send((id.clone(), event)).is_err() {
            tracing::warn!(event_id = %id, "webhook queue full: event dropped");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signs_like_the_docs_say() {
        // HMAC-SHA256("secret", "1700000000.{}") — checked with `openssl dgst -sha256 -hmac secret`.
        let s = super::signature(b"secret", 1_700_000_000, b"{}");
        assert_eq!(s, "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163");
    }
}
