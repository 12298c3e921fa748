//! The one retry policy of every outbound HTTP request cutlist makes itself (downloads,
//! webhooks): a few tries, exponential backoff with jitter, and the server's `Retry-After`
//! honoured (capped). Object stores retry inside object_store with its own policy (see
//! [`crate::storage`]).

use std::time::Duration;

/// Tries per request (the first and two retries).
pub const ATTEMPTS: u32 = 3;
/// The longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// How long to wait before try `attempt + 1` after try `attempt` (from 1) failed: the server's
/// `Retry-After` (at most [`MAX_RETRY_AFTER`]), else 0.5 s, 1 s, 2 s … ± 50 %.
pub fn delay(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(d) = retry_after {
        return d.min(MAX_RETRY_AFTER);
    }
    let base = 500u64 << attempt.saturating_sub(1).min(6);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    Duration::from_millis(base / 2 + nanos as u64 % base)
}

/// A response's `Retry-After` in seconds (the HTTP-date form is not used by the stores and
/// CDNs cutlist talks to, and is ignored).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers.get("retry-after")?.to_str().ok()?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Whether an HTTP status is worth another try: 5xx, 429 Too Many Requests, 408 Request Timeout.
pub fn transient(status: reqwest::StatusCode) -> bool {
    status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_retry_after_wins() {
        for attempt in 1..=3 {
            let base = Duration::from_millis(500 << (attempt - 1));
            let d = delay(attempt, None);
            assert!(d >= base / 2 && d < base * 3 / 2, "{attempt}: {d:?}");
        }
        assert_eq!(delay(1, Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert_eq!(delay(1, Some(Duration::from_secs(3600))), MAX_RETRY_AFTER);
        assert!(transient(reqwest::StatusCode::TOO_MANY_REQUESTS) && !transient(reqwest::StatusCode::FORBIDDEN));
    }
}
