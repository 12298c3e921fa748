//! A job's reporter: its events go to the webhook through here, and progress to a bar on a
//! terminal or to `event=progress` lines otherwise.

use super::event::{Event, Phase};
use super::webhook::Notifier;
use std::time::{Duration, Instant};

/// Reports one job: its events (log and webhook) and its progress.
pub struct Reporter {
    bar: Option<indicatif::ProgressBar>,
    job_id: String,
    last: Option<(Instant, Phase, u32)>,
    /// Status webhook, if any, and the last step it was told per phase.
    notify: Option<Notifier>,
    told: Option<(Phase, u64)>,
}

impl Reporter {
    pub fn new(job_id: &str, interactive: bool, notify: Option<Notifier>) -> Self {
        let bar = interactive.then(|| {
            let b = indicatif::ProgressBar::new(1000);
            b.set_style(
                indicatif::ProgressStyle::with_template("{prefix:>9} [{bar:40}] {percent:>3}% {msg}")
                    .expect("static template")
                    .progress_chars("=> "),
            );
            b
        });
        Reporter { bar, job_id: job_id.into(), last: None, notify, told: None }
    }

    /// Tell the webhook of a state change (the caller writes its log line, with the event's
    /// name as `event` and more detail than the webhook gets).
    pub fn notify(&self, event: Event) {
        if let Some(n) = &self.notify {
            n.send(&event);
        }
    }

    /// The webhook's sender, for a thread that reports on its own (the memory warning).
    pub fn notifier(&self) -> Option<Notifier> {
        self.notify.clone()
    }

    /// Report `done` of `total` in `phase` (`fetch`, `render`).
    pub fn update(&mut self, phase: Phase, done: f64, total: f64, detail: &str) {
        let pct = if total > 0.0 { (done / total * 100.0).clamp(0.0, 100.0) } else { 100.0 };
        // The webhook hears each asset fetched, and rendering in 5 % steps, never going back.
        if let Some(n) = &self.notify {
            let event = match phase {
                Phase::Fetch => Event::Fetching { done: done as u64, total: total as u64 },
                _ => Event::Rendering { percent: (pct / 5.0).floor() * 5.0 },
            };
            let step = event.step().unwrap_or(0);
            if self.told.is_none_or(|(p, s)| p != phase || step > s) {
                self.told = Some((phase, step));
                n.send(&event);
            }
        }
        if let Some(b) = &self.bar {
            b.set_prefix(phase.as_str());
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
            let phase = phase.as_str();
            tracing::info!(job_id = %self.job_id, event = "progress", phase, percent = (pct * 10.0).round() / 10.0, detail, "{phase} {pct:.0}%");
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Log `event` as one line: `event` = its name, its data at the top level (JSON lines); a
/// failure as an error, a cancellation or a memory warning as a warning.
pub fn log(job_id: Option<&str>, event: &Event, message: &str) {
    let kind = event.kind();
    let data = serde_json::to_value(event).ok().map(|v| v["data"].to_string()).unwrap_or_default();
    match event {
        Event::Failed { .. } => tracing::error!(job_id, event = kind, data, "{message}"),
        Event::Cancelled {} | Event::MemoryWarning { .. } => tracing::warn!(job_id, event = kind, data, "{message}"),
        _ => tracing::info!(job_id, event = kind, data, "{message}"),
    }
}
