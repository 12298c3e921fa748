//! Report: log lines and progress in one schema — JSON lines off a terminal, readable lines
//! and a progress bar on one.
//!
//! Every JSON line has `time` (RFC 3339, UTC), `severity` (Google Cloud Logging's names:
//! DEBUG, INFO, WARNING, ERROR), `message`, and the event's fields (`job_id`, `event`,
//! `phase`, `percent`, …) at the top level. Documented in docs/logging.md.

use serde_json::{Map, Value};
use std::fmt;
use std::io::IsTerminal;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// Log format: JSON lines, or human-readable text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

impl LogFormat {
    /// JSON unless stderr is a terminal.
    pub fn auto() -> LogFormat {
        if std::io::stderr().is_terminal() {
            LogFormat::Text
        } else {
            LogFormat::Json
        }
    }
}

/// Install the global subscriber (stderr). `RUST_LOG` filters; the default is `info`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.event_format(JsonLines).try_init(),
        LogFormat::Text => builder.with_target(false).without_time().try_init(),
    };
}

/// Google Cloud Logging's severity names.
pub fn severity(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        _ => "DEBUG",
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

struct JsonLines;

/// Labels every JSON line carries (Cloud Logging's `logging.googleapis.com/labels`): the
/// task's index and attempt, set once by `cutlist job`.
static TASK_LABELS: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();

/// Label every later log line with this task's place (index, count, attempt, platform).
pub fn set_task_labels(index: u64, count: u64, attempt: u64, platform: &str) {
    let mut m = Map::new();
    m.insert("task_index".into(), index.to_string().into());
    m.insert("task_count".into(), count.to_string().into());
    m.insert("attempt".into(), attempt.to_string().into());
    m.insert("platform".into(), platform.into());
    let _ = TASK_LABELS.set(m);
}

struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().into(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Value::String(value.into()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0
            .insert(field.name().into(), serde_json::Number::from_f64(value).map(Value::Number).unwrap_or(Value::Null));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut fields = Fields(Map::new());
        event.record(&mut fields);
        let mut line = Map::new();
        line.insert("time".into(), rfc3339(SystemTime::now()).into());
        line.insert("severity".into(), severity(event.metadata().level()).into());
        line.insert("message".into(), fields.0.remove("message").unwrap_or(Value::String(String::new())));
        // Cloud Logging indexes labels (string values): the job and the task.
        let mut labels = TASK_LABELS.get().cloned().unwrap_or_default();
        if let Some(Value::String(id)) = fields.0.get("job_id") {
            labels.insert("job_id".into(), id.clone().into());
        }
        if !labels.is_empty() {
            line.insert("logging.googleapis.com/labels".into(), Value::Object(labels));
        }
        line.extend(fields.0);
        writeln!(w, "{}", Value::Object(line))
    }
}

/// Progress of a job's phases: a bar on a terminal, `event=progress` lines otherwise.
pub struct ProgressReporter {
    bar: Option<indicatif::ProgressBar>,
    job_id: String,
    last: Option<(Instant, &'static str, u32)>,
    /// Status webhook, if any, and the last step it was told per phase.
    notify: Option<crate::webhook::Notifier>,
    told: Option<(&'static str, u64)>,
}

impl ProgressReporter {
    pub fn new(job_id: &str, interactive: bool, notify: Option<crate::webhook::Notifier>) -> Self {
        let bar = interactive.then(|| {
            let b = indicatif::ProgressBar::new(1000);
            b.set_style(
                indicatif::ProgressStyle::with_template("{prefix:>9} [{bar:40}] {percent:>3}% {msg}")
                    .expect("static template")
                    .progress_chars("=> "),
            );
            b
        });
        ProgressReporter { bar, job_id: job_id.into(), last: None, notify, told: None }
    }

    /// A state change for the webhook (`accepted`, `uploading`, …).
    pub fn event(&self, kind: &str, data: serde_json::Value) {
        if let Some(n) = &self.notify {
            n.send(kind, None, data);
        }
    }

    /// Report `done` of `total` in `phase` (`fetch`, `render`, `publish`).
    pub fn update(&mut self, phase: &'static str, done: f64, total: f64, detail: &str) {
        let pct = if total > 0.0 { (done / total * 100.0).clamp(0.0, 100.0) } else { 100.0 };
        // The webhook hears each asset fetched, and rendering in 5 % steps, never going back.
        if let Some(n) = &self.notify {
            let (kind, step, data) = match phase {
                "fetch" => ("fetching", done as u64, serde_json::json!({"done": done as u64, "total": total as u64})),
                _ => (
                    "rendering",
                    (pct / 5.0).floor() as u64 * 5,
                    serde_json::json!({"percent": (pct / 5.0).floor() * 5.0}),
                ),
            };
            if self.told.is_none_or(|(p, s)| p != phase || step > s) {
                self.told = Some((phase, step));
                n.send(kind, Some(step), data);
            }
        }
        if let Some(b) = &self.bar {
            b.set_prefix(phase);
            b.set_position((pct * 10.0) as u64);
            b.set_message(detail.to_string());
            return;
        }
        // JSON: at most one line a second per phase, plus the first and the last.
        let whole = pct.floor() as u32;
        let due = match self.last {
            None => true,
            Some((t, p, w)) => p != phase || (whole != w && (t.elapsed() >= Duration::from_secs(1) || whole == 100)),
        };
        if due {
            self.last = Some((Instant::now(), phase, whole));
            tracing::info!(job_id = %self.job_id, event = "progress", phase, percent = (pct * 10.0).round() / 10.0, detail, "{phase} {pct:.0}%");
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_millis(1_795_000_000_123)), "2026-11-18T11:06:40.123Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00.000Z");
    }
}
