//! What a job tells the world, as types: its phases, its final status, and the one event type
//! that log lines, progress and webhooks are all made from.

use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// A phase of a job, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Start,
    Fetch,
    Probe,
    Text,
    Render,
    Publish,
    Upload,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Start => "start",
            Phase::Fetch => "fetch",
            Phase::Probe => "probe",
            Phase::Text => "text",
            Phase::Render => "render",
            Phase::Publish => "publish",
            Phase::Upload => "upload",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Succeeded,
    Failed,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A state change of a job: what the webhook posts (as `type` and `data`) and what the log
/// says (`event`). Documented in README.md ("Status webhooks").
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Event {
    Accepted {
        output: String,
    },
    Fetching {
        done: u64,
        total: u64,
    },
    Rendering {
        percent: f64,
    },
    Uploading {
        output: String,
        bytes: u64,
    },
    Succeeded {
        output: String,
        manifest: String,
        sidecars: Vec<String>,
        duration: f64,
        bytes: u64,
    },
    Failed {
        error: &'static str,
        exit_code: u8,
        retryable: bool,
        message: String,
        path: Option<String>,
    },
    Cancelled {},
    MemoryWarning {
        bytes: u64,
        limit: u64,
    },
    /// FFmpeg reported decoding errors in these sources (the output is still made).
    DecodeErrors {
        lines: u64,
        sources: Vec<String>,
    },
    /// The finished file misses its loudness target by more than 1 LU, or its true peak is
    /// over the ceiling, or it is silent (the output is still made).
    LoudnessWarning {
        target: f64,
        ceiling: f64,
        integrated: Option<f64>,
        true_peak: Option<f64>,
        message: String,
    },
}

impl Event {
    /// The event's name (`type` in the webhook, `event` in the log).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Accepted { .. } => "accepted",
            Event::Fetching { .. } => "fetching",
            Event::Rendering { .. } => "rendering",
            Event::Uploading { .. } => "uploading",
            Event::Succeeded { .. } => "succeeded",
            Event::Failed { .. } => "failed",
            Event::Cancelled {} => "cancelled",
            Event::MemoryWarning { .. } => "memory_warning",
            Event::DecodeErrors { .. } => "decode_errors",
            Event::LoudnessWarning { .. } => "loudness_warning",
        }
    }

    /// What makes this event's id unique within its kind (a percentage, an asset count), so
    /// that repeats from a retried attempt share an id: `<job>/<kind>[/<step>]`.
    pub fn step(&self) -> Option<u64> {
        match self {
            Event::Fetching { done, .. } => Some(*done),
            Event::Rendering { percent } => Some(*percent as u64),
            _ => None,
        }
    }

    /// The failure event of an error (`cancelled` for a cancellation).
    pub fn of_error(e: &crate::error::Error) -> Event {
        match e {
            crate::error::Error::Cancelled => Event::Cancelled {},
            e => Event::Failed {
                error: e.kind(),
                exit_code: e.exit_code(),
                retryable: e.retryable(),
                message: e.to_string(),
                path: e.culprit(),
            },
        }
    }
}

/// RFC 3339 UTC timestamp with milliseconds, without a date crate.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_utc_times() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_millis(1_795_000_000_123)), "2026-11-18T11:06:40.123Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn events_serialize_as_type_and_data() {
        let v = serde_json::to_value(Event::Rendering { percent: 40.0 }).unwrap();
        assert_eq!(v, serde_json::json!({"type": "rendering", "data": {"percent": 40.0}}));
        let v = serde_json::to_value(Event::Cancelled {}).unwrap();
        assert_eq!(v, serde_json::json!({"type": "cancelled", "data": {}}));
        assert_eq!(Event::Fetching { done: 2, total: 3 }.step(), Some(2));
    }
}
