//! Status webhooks: JSON events about a job, posted in order by a background task per
//! receiver, so a slow or dead receiver never fails or stalls the render, nor delays another.
//!
//! Two kinds of receiver: the operator's (`--webhook-url`, trusted: it may be on a private
//! network, and it alone gets events signed with `CUTLIST_WEBHOOK_SECRET`), and the spec's
//! `webhook.url` (untrusted: accepted only when its origin is one the operator allows with
//! `--webhook-allow`, posted through the address guard without following redirects, and
//! never signed).
//!
//! Each POST carries `Cutlist-Event-Id` (stable per state change, so a receiver can drop
//! repeats from retried attempts) and, when signed, `Cutlist-Signature: t=<unix seconds>,
//! v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. Delivery: each event has 5 s in all (its
//! tries included); progress events waiting behind a slow receiver are coalesced to the
//! latest; final events are never dropped; at exit the queues get at most 2 s.

use super::event::{rfc3339, Event};
use crate::retry::ATTEMPTS;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// Events waiting for one receiver; past it, the oldest that is not final is dropped.
const QUEUE: usize = 64;
/// The time one event may take to deliver, its tries included.
pub const EVENT_DEADLINE: Duration = Duration::from_secs(5);
/// The time the queues get when the job ends.
pub const DRAIN: Duration = Duration::from_secs(2);

/// One receiver of a job's events.
#[derive(Clone)]
pub struct Target {
    pub url: url::Url,
    /// Signs the events (the operator's receiver only).
    pub secret: Option<String>,
    pub client: reqwest::Client,
    /// Checked by the address guard before each post (a spec's receiver): `Some(allow_private)`.
    pub guard: Option<bool>,
}

struct Item {
    id: String,
    body: Value,
    /// `succeeded`, `failed`, `cancelled`: never dropped.
    last: bool,
    /// `fetching`, `rendering`: a newer one replaces one still waiting.
    progress: Option<&'static str>,
}

#[derive(Default)]
struct Queue {
    items: Mutex<VecDeque<Item>>,
    ready: Notify,
    closed: AtomicBool,
}

impl Queue {
    fn push(&self, item: Item) {
        let mut q = self.items.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(kind) = item.progress {
            if let Some(waiting) = q.iter_mut().find(|i| i.progress == Some(kind)) {
                *waiting = item;
                return;
            }
        }
        if q.len() >= QUEUE {
            if let Some(k) = q.iter().position(|i| !i.last) {
                let dropped = q.remove(k).map(|i| i.id).unwrap_or_default();
                tracing::warn!(event_id = %dropped, "webhook queue full: event dropped");
            }
        }
        q.push_back(item);
        drop(q);
        self.ready.notify_one();
    }

    async fn pop(&self) -> Option<Item> {
        loop {
            let notified = self.ready.notified();
            if let Some(i) = self.items.lock().unwrap_or_else(|e| e.into_inner()).pop_front() {
                return Some(i);
            }
            if self.closed.load(Ordering::Acquire) {
                return None;
            }
            notified.await;
        }
    }
}

/// Sends a job's events to its receivers. Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    queues: Vec<Arc<Queue>>,
    job_id: String,
    attempt: u64,
    task_index: u64,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("job_id", &self.job_id).finish()
    }
}

/// The posting side: a task per receiver.
pub struct Webhook {
    pub notifier: Notifier,
    tasks: Vec<tokio::task::JoinHandle<()>>,
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

/// Post one event to `t`: tries with backoff (Retry-After honoured), all within
/// [`EVENT_DEADLINE`]. Returns `false` when the receiver's address is refused for good.
async fn deliver(t: &Target, id: &str, body: &[u8]) -> bool {
    if let Some(allow_private) = t.guard {
        if let Err(e) = crate::fetch::guard::check_host(&t.url, allow_private) {
            tracing::warn!(event_id = %id, "webhook {} refused: {e}; its events are dropped", t.url);
            return false;
        }
    }
    let tries = async {
        for attempt in 1..=ATTEMPTS {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
            let mut req = t
                .client
                .post(t.url.clone())
                .header("content-type", "application/json")
                .header("cutlist-event-id", id)
                .body(body.to_vec());
            if let Some(s) = &t.secret {
                req = req.header("cutlist-signature", signature(s.as_bytes(), now, body));
            }
            let (why, wait) = match req.send().await {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) if !crate::retry::transient(r.status()) => return Err(format!("HTTP {}", r.status())),
                Ok(r) => (format!("HTTP {}", r.status()), crate::retry::retry_after(r.headers())),
                Err(e) => (crate::fetch::http::describe(&e), None),
            };
            if attempt == ATTEMPTS {
                return Err(format!("{why} after {ATTEMPTS} tries"));
            }
            tokio::time::sleep(crate::retry::delay(attempt, wait)).await;
        }
        Ok(())
    };
    match tokio::time::timeout(EVENT_DEADLINE, tries).await {
        Ok(Ok(())) => {}
        Ok(Err(why)) => tracing::warn!(event_id = %id, "webhook delivery failed: {why}"),
        Err(_) => {
            tracing::warn!(event_id = %id, "webhook delivery failed: not done within {} s", EVENT_DEADLINE.as_secs())
        }
    }
    true
}

impl Webhook {
    /// Start posting to each of `targets`.
    pub fn start(targets: Vec<Target>, job_id: &str, attempt: u64, task_index: u64) -> Webhook {
        let mut queues = Vec::new();
        let mut tasks = Vec::new();
        for t in targets {
            let q = Arc::new(Queue::default());
            queues.push(q.clone());
            tasks.push(tokio::spawn(async move {
                let mut refused = false;
                while let Some(item) = q.pop().await {
                    if !refused {
                        let body = serde_json::to_vec(&item.body).expect("events serialize");
                        refused = !deliver(&t, &item.id, &body).await;
                    }
                }
            }));
        }
        Webhook { notifier: Notifier { queues, job_id: job_id.into(), attempt, task_index }, tasks }
    }

    /// Stop taking events and deliver what is queued, waiting at most [`DRAIN`].
    pub async fn finish(self) {
        let Webhook { notifier, tasks } = self;
        for q in &notifier.queues {
            q.closed.store(true, Ordering::Release);
            q.ready.notify_one();
        }
        let aborts: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
        if tokio::time::timeout(DRAIN, futures_util::future::join_all(tasks)).await.is_err() {
            tracing::warn!("webhook: undelivered events dropped after {} s", DRAIN.as_secs());
            aborts.iter().for_each(|a| a.abort());
        }
    }
}

impl Notifier {
    /// Queue `event` for every receiver. Its id is stable per state change
    /// (`<job>/<kind>[/<step>]`), so repeats across attempts share an id.
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
        let last = matches!(event, Event::Succeeded { .. } | Event::Failed { .. } | Event::Cancelled {});
        let progress = matches!(event, Event::Fetching { .. } | Event::Rendering { .. }).then_some(kind);
        for q in &self.queues {
            q.push(Item { id: id.clone(), body: body.clone(), last, progress });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_the_docs_say() {
        // HMAC-SHA256("secret", "1700000000.{}") — checked with `openssl dgst -sha256 -hmac secret`.
        let s = signature(b"secret", 1_700_000_000, b"{}");
        assert_eq!(s, "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163");
    }

    #[test]
    fn a_slow_receiver_gets_the_latest_progress_and_every_final_event() {
        let q = Queue::default();
        let item = |id: &str, last: bool, progress: Option<&'static str>| Item {
            id: id.into(),
            body: Value::Null,
            last,
            progress,
        };
        q.push(item("accepted", false, None));
        for p in 0..10 {
            q.push(item(&format!("rendering/{p}"), false, Some("rendering")));
        }
        for k in 0..QUEUE {
            q.push(item(&format!("warning/{k}"), false, None));
        }
        q.push(item("succeeded", true, None));
        let ids: Vec<String> = q.items.lock().unwrap().iter().map(|i| i.id.clone()).collect();
        assert_eq!(ids.len(), QUEUE);
        assert!(!ids.contains(&"rendering/0".to_string()), "coalesced");
        assert_eq!(ids.last().map(String::as_str), Some("succeeded"), "the final event is kept");
    }
}
