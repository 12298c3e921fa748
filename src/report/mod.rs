//! Report: log lines and progress in one schema — JSON lines off a terminal, readable lines
//! and a progress bar on one.
//!
//! Every JSON line has `time` (RFC 3339, UTC), `severity` (Google Cloud Logging's names:
//! DEBUG, INFO, WARNING, ERROR), `message`, and the event's fields (`job_id`, `event`,
//! `phase`, `percent`, …) at the top level. Documented in docs/logging.md.

pub mod event;
pub mod progress;
pub mod webhook;

pub use event::{rfc3339, Event, Phase, Status};
pub use progress::Reporter;

use serde_json::{Map, Value};
use std::fmt;
use std::io::IsTerminal;
use std::time::SystemTime;
use tracing::field::{Field, Visit};
use tracing::{Level, Subscriber};
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
        LogFormat::Text => builder.event_format(TextLines).try_init(),
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

struct JsonLines;

/// Readable lines for a terminal: `LEVEL message field=value …`, control characters escaped
/// (a value with a newline cannot forge a line).
struct TextLines;

/// `s` with control characters written as escapes (`\n`, `\u{1b}`).
fn escape_controls(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { c.escape_debug().to_string() } else { c.to_string() }).collect()
}

impl<S, N> FormatEvent<S, N> for TextLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &tracing::Event<'_>) -> fmt::Result {
        let mut fields = Fields::of(event);
        let text = |v: &Value| match v {
            Value::String(s) => escape_controls(s),
            other => escape_controls(&other.to_string()),
        };
        let message = fields.0.remove("message").map(|m| text(&m)).unwrap_or_default();
        write!(w, "{:>7} {message}", severity(event.metadata().level()))?;
        for (k, v) in &fields.0 {
            write!(w, " {k}={}", text(v))?;
        }
        writeln!(w)
    }
}

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

impl Fields {
    /// An event's fields, with the data of a job event (see [`progress::log`], one JSON
    /// field) spread among them: text and JSON lines carry the same fields.
    fn of(event: &tracing::Event<'_>) -> Fields {
        let mut fields = Fields(Map::new());
        event.record(&mut fields);
        if let Some(Value::String(data)) = fields.0.get("data").cloned() {
            if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(&data) {
                fields.0.remove("data");
                for (k, v) in m {
                    fields.0.entry(k).or_insert(v);
                }
            }
        }
        fields
    }
}

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
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &tracing::Event<'_>) -> fmt::Result {
        let mut fields = Fields::of(event);
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

#[cfg(test)]
mod tests {
    #[test]
    fn text_lines_cannot_be_forged() {
        assert_eq!(super::escape_controls("a.mp4\n INFO job done\u{1b}[2J"), "a.mp4\\n INFO job done\\u{1b}[2J");
    }
}
