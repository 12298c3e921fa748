//! Status webhooks: signed JSON events about a job, posted in order from a bounded queue by
//! a background task, so a slow or dead receiver never fails or stalls the render.
//!
//! Each POST carries `Cutlist-Event-Id` (stable per state change, so a receiver can drop
//! repeats from retried attempts) and, with a secret, `Cutlist-Signature: t=<unix seconds>,
//! v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

use super::event::{rfc3339, Event};
use crate::retry::ATTEMPTS;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Events waiting to be posted; more are dropped (and logged) rather than waited for.
const QUEUE: usize = 64;

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
                    let (why, wait) = match req.send().await {
                        Ok(r) if r.status().is_success() => break,
                        Ok(r) if !crate::retry::transient(r.status()) => {
                            tracing::warn!(event_id = %id, "webhook refused the event: HTTP {}", r.status());
                            break;
                        }
                        Ok(r) => (format!("HTTP {}", r.status()), crate::retry::retry_after(r.headers())),
                        Err(e) => (e.to_string(), None),
                    };
                    if attempt == ATTEMPTS {
                        tracing::warn!(event_id = %id, "webhook delivery failed after {ATTEMPTS} tries: {why}");
                    } else {
                        tokio::time::sleep(crate::retry::delay(attempt, wait)).await;
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
    /// Queue `event`. Its id is stable per state change (`<job>/<kind>[/<step>]`), so repeats
    /// across attempts share an id.
    pub fn send(&self, event: &Event) {
        let kind = event.kind();
        let id = match event.step() {
            Some(s) => format!("{}/{kind}/{s}", self.job_id),
            None => format!("{}/{kind}", self.job_id),
        };
        let mut body = serde_json::to_value(event).expect("events serialize");
        let envelope = json!({
            "id": id,
            "job_id": self.job_id,
            "attempt": self.attempt,
            "task_index": self.task_index,
            "time": rfc3339(SystemTime::now()),
        });
        if let (Value::Object(b), Value::Object(e)) = (&mut body, envelope) {
            b.extend(e);
        }
        if self.tx.try_send((id.clone(), body)).is_err() {
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
