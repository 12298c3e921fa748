//! The memory report of a job: a table per phase and process, and a picture (SVG) of memory over time.

use crate::memory::{Peaks, Record};
use crate::report::Phase;
use std::fmt::Write;

const MIB: f64 = 1024.0 * 1024.0;

fn mib(b: u64) -> f64 {
    b as f64 / MIB
}

/// What `--memory-report` asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// No report (the result manifest still carries the peaks).
    #[default]
    Off,
    /// A table per phase and process, printed to stderr when the job ends.
    Table,
    /// The table, and a picture of memory over time published beside the output
    /// (`<output>.memory.svg`) when the job succeeds.
    Detailed,
}

/// What the report states besides the record.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub job_id: &'a str,
    pub limit: u64,
    pub limit_source: &'a str,
    /// The plan's estimate of the peak (whole tree), when the job got as far as planning.
    pub estimate: Option<u64>,
}

/// Rows of processes the table shows at most (largest first); the rest are summed up.
const PROCESS_ROWS: usize = 15;

/// The table `--memory-report` prints: peaks per phase, then the largest processes.
pub fn table(r: &Record, cx: &Context) -> String {
    let mut s = String::new();
    let p = &r.peaks;
    let _ = write!(
        s,
        "memory report, job {}: peak {:.1} MiB of the {:.0} MiB limit ({}; {:.0} %)",
        cx.job_id,
        mib(p.total),
        mib(cx.limit),
        cx.limit_source,
        100.0 * p.total as f64 / cx.limit.max(1) as f64
    );
    if let Some(e) = cx.estimate {
        let _ = write!(s, ", estimate {:.1} MiB", mib(e));
    }
    let _ = writeln!(s, "\nprivate memory (RssAnon + RssShmem), MiB; workspace counted when in RAM");
    let cgroup = p.cgroup.is_some();
    let _ = write!(
        s,
        "  {:<8} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "phase", "from s", "total", "cutlist", "ffmpeg", "workspace"
    );
    if cgroup {
        let _ = write!(s, " {:>8}", "cgroup");
    }
    s.push('\n');
    let row = |s: &mut String, name: &str, from: Option<f64>, k: &Peaks| {
        let from = from.map(|f| format!("{f:.2}")).unwrap_or_default();
        let _ = write!(
            s,
            "  {:<8} {:>8} {:>8.1} {:>8.1} {:>8.1} {:>9.1}",
            name,
            from,
            mib(k.total),
            mib(k.cutlist),
            mib(k.children),
            mib(k.workspace)
        );
        if let Some(c) = k.cgroup {
            let _ = write!(s, " {:>8.1}", mib(c));
        }
        s.push('\n');
    };
    for (name, k) in &r.phases {
        let from = r.phase_starts.iter().find(|(n, _)| n == name).map(|(_, t)| *t);
        row(&mut s, name.as_str(), from, k);
    }
    row(&mut s, "job", None, p);
    let mut procs: Vec<_> = r.processes.iter().collect();
    procs.sort_by_key(|p| std::cmp::Reverse(p.peak));
    let _ = writeln!(s, "processes, largest first ({} in all):", procs.len());
    let _ = writeln!(s, "  {:>8} {:<8} {:>8} {:>8}  process", "peak MiB", "phase", "from s", "to s");
    for p in procs.iter().take(PROCESS_ROWS) {
        let _ = writeln!(s, "  {:>8.1} {:<8} {:>8.2} {:>8.2}  {}", mib(p.peak), p.phase, p.from, p.to, p.name);
    }
    if procs.len() > PROCESS_ROWS {
        let rest = &procs[PROCESS_ROWS..];
        let _ = writeln!(
            s,
            "  … {} more, each at most {:.1} MiB",
            rest.len(),
            mib(rest.iter().map(|p| p.peak).max().unwrap_or(0))
        );
    }
    s
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// What a child does, for its colour and the legend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Probe,
    Segment,
    Join,
    Other,
}

const KINDS: [(Kind, &str); 4] = [
    (Kind::Probe, "ffprobe"),
    (Kind::Segment, "segment runs"),
    (Kind::Join, "join"),
    (Kind::Other, "other FFmpeg runs"),
];

fn kind(name: &str) -> Kind {
    if name.starts_with("ffprobe") {
        Kind::Probe
    } else if name.contains("seg_") {
        Kind::Segment
    } else if name.contains("output") {
        Kind::Join
    } else {
        Kind::Other
    }
}

/// A kind's colour; segment runs alternate two shades (`k` odd) so neighbours stay apart.
fn colour(kind: Kind, k: usize) -> &'static str {
    match kind {
        Kind::Probe => "#9b7fd1",
        Kind::Segment if k % 2 == 1 => "#6aa7dd",
        Kind::Segment => "#3b82c4",
        Kind::Join => "#e0902f",
        Kind::Other => "#4fae6b",
    }
}

/// A step of 1, 2 or 5 × 10^n giving about `n` ticks over `span`.
fn tick(span: f64, n: f64) -> f64 {
    let raw = (span / n).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag)
}

/// The picture `--memory-report=detailed` writes: memory over time stacked by process
/// (cutlist at the bottom, the workspace when in RAM, then each FFmpeg and ffprobe run),
/// the phases marked, and the limit drawn.
pub fn svg(r: &Record, cx: &Context) -> String {
    let (w, h) = (960.0, 440.0);
    let (left, right, top, bottom) = (64.0, 200.0, 64.0, 40.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let peak = r.series.iter().map(|p| p.total()).max().unwrap_or(0).max(r.peaks.total);
    // Draw the limit when it is in reach of the peak; else name it.
    let limit_shown = cx.limit <= peak.saturating_mul(3) && cx.limit > 0;
    let top_bytes = (if limit_shown { cx.limit.max(peak) } else { peak }) as f64 * 1.08;
    let top_bytes = top_bytes.max(MIB);
    let span = r.seconds.max(0.001);
    let x = |t: f64| left + pw * (t / span);
    let y = |b: f64| top + ph * (1.0 - b / top_bytes);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let mut title = format!("cutlist job {}: peak {:.1} MiB", xml(cx.job_id), mib(peak));
    if let Some(e) = cx.estimate {
        let _ = write!(title, ", estimate {:.1} MiB", mib(e));
    }
    let _ = write!(title, ", limit {:.0} MiB ({})", mib(cx.limit), xml(cx.limit_source));
    if !limit_shown {
        title.push_str(", off the chart");
    }
    let _ = writeln!(s, r#"<text x="{left}" y="20" font-size="14" font-weight="bold">{title}</text>"#);

    // Axes and grid.
    let ystep = tick(top_bytes / MIB, 6.0);
    let mut v = 0.0;
    while v * MIB <= top_bytes {
        let yy = y(v * MIB);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#e5e5e5"/><text x="{}" y="{:.1}" text-anchor="end">{v}</text>"##,
            left + pw,
            left - 6.0,
            yy + 4.0
        );
        v += ystep;
    }
    let xstep = tick(span, 8.0);
    let mut t = 0.0;
    while t <= span + 1e-9 {
        let xx = x(t);
        let label = if xstep < 1.0 { format!("{t:.1}") } else { format!("{t:.0}") };
        let _ = writeln!(s, r#"<text x="{xx:.1}" y="{}" text-anchor="middle">{label}</text>"#, top + ph + 16.0);
        t += xstep;
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">seconds</text><text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">MiB (private)</text>"#,
        left + pw / 2.0,
        h - 6.0,
        top + ph / 2.0,
        top + ph / 2.0
    );

    // Stacked areas: cutlist, workspace, then each process over its lifetime.
    let area = |s: &mut String, pts: &[(f64, f64, f64)], fill: &str, tip: &str| {
        if pts.is_empty() {
            return;
        }
        let mut d = String::new();
        for (i, (t, _, hi)) in pts.iter().enumerate() {
            let _ = write!(d, "{}{:.1},{:.1} ", if i == 0 { "M" } else { "L" }, x(*t), y(*hi));
        }
        for (t, lo, _) in pts.iter().rev() {
            let _ = write!(d, "L{:.1},{:.1} ", x(*t), y(*lo));
        }
        let _ = writeln!(s, r#"<path d="{d}Z" fill="{fill}" stroke="none"><title>{}</title></path>"#, xml(tip));
    };
    let cut: Vec<(f64, f64, f64)> = r.series.iter().map(|p| (p.t, 0.0, p.cutlist as f64)).collect();
    area(&mut s, &cut, "#555555", &format!("cutlist: peak {:.1} MiB", mib(r.peaks.cutlist)));
    if r.peaks.workspace > 0 {
        let ws: Vec<(f64, f64, f64)> =
            r.series.iter().map(|p| (p.t, p.cutlist as f64, (p.cutlist + p.workspace) as f64)).collect();
        area(&mut s, &ws, "#c7b199", &format!("workspace in RAM: peak {:.1} MiB", mib(r.peaks.workspace)));
    }
    for (k, proc_) in r.processes.iter().enumerate() {
        let mut pts = Vec::new();
        for p in &r.series {
            let Some(&(_, b)) = p.children.iter().find(|c| c.0 == k) else {
                continue;
            };
            let below: u64 = p.cutlist + p.workspace + p.children.iter().filter(|c| c.0 < k).map(|c| c.1).sum::<u64>();
            pts.push((p.t, below as f64, (below + b) as f64));
        }
        let tip = format!("{} (pid {}): peak {:.1} MiB", proc_.name, proc_.pid, mib(proc_.peak));
        area(&mut s, &pts, colour(kind(&proc_.name), k), &tip);
    }
    // The cgroup's own figure, where readable (it counts page cache too).
    if r.series.iter().any(|p| p.cgroup.is_some()) {
        let pts: String = r
            .series
            .iter()
            .filter_map(|p| p.cgroup.map(|c| format!("{:.1},{:.1}", x(p.t), y((c as f64).min(top_bytes)))))
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(
            s,
            r##"<polyline points="{pts}" fill="none" stroke="#888" stroke-dasharray="2 3"><title>cgroup usage (includes page cache)</title></polyline>"##
        );
    }
    // Phases: a dashed line where each begins, its name above the plot (three rows, so
    // phases that begin close together stay readable).
    for (i, (name, t)) in r.phase_starts.iter().filter(|(n, _)| *n != Phase::Start).enumerate() {
        let xx = x(*t);
        let ty = top - 4.0 - 11.0 * (i % 3) as f64;
        let _ = writeln!(
            s,
            r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{}" y2="{}" stroke="#333" stroke-dasharray="4 3"/><text x="{xx:.1}" y="{ty}" font-size="10">{name}</text>"##,
            ty + 2.0,
            top + ph,
        );
    }
    // The limit.
    if limit_shown {
        let yy = y(cx.limit as f64);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#d62728" stroke-width="2"/><text x="{}" y="{:.1}" fill="#d62728" text-anchor="end">limit {:.0} MiB</text>"##,
            left + pw,
            left + pw - 4.0,
            yy - 4.0,
            mib(cx.limit)
        );
    }
    if let Some(e) = cx.estimate.filter(|e| (*e as f64) < top_bytes) {
        let yy = y(e as f64);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#d62728" stroke-dasharray="6 4"/><text x="{}" y="{:.1}" fill="#d62728" text-anchor="end">estimate {:.0} MiB</text>"##,
            left + pw,
            left + pw - 4.0,
            yy + 13.0,
            mib(e)
        );
    }
    let _ = writeln!(s, r##"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##);
    // Legend.
    let lx = left + pw + 16.0;
    let mut ly = top + 8.0;
    let mut legend = vec![("#555555", "cutlist".to_string())];
    if r.peaks.workspace > 0 {
        legend.push(("#c7b199", "workspace (RAM)".into()));
    }
    for (kd, name) in KINDS {
        if r.processes.iter().any(|p| kind(&p.name) == kd) {
            legend.push((colour(kd, 0), name.to_string()));
        }
    }
    for (fill, name) in legend {
        let _ = writeln!(
            s,
            r#"<rect x="{lx}" y="{ly}" width="12" height="12" fill="{fill}"/><text x="{}" y="{}">{name}</text>"#,
            lx + 18.0,
            ly + 10.0
        );
        ly += 20.0;
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Point, Process};

    fn record() -> Record {
        let m = 1u64 << 20;
        let proc_ = |pid, name: &str, from, to| Process {
            pid,
            name: name.into(),
            phase: Phase::Render,
            peak: 200 * m,
            from,
            to,
        };
        let series = (0..=40)
            .map(|i| {
                let t = i as f64 * 0.1;
                let children = if i < 20 { vec![(0, 150 * m + i * m)] } else { vec![(1, 200 * m)] };
                Point { t, cutlist: 2 * m, workspace: 0, cgroup: None, children }
            })
            .collect();
        Record {
            peaks: Peaks {
                cutlist: 2 * m,
                children: 200 * m,
                tree: 202 * m,
                workspace: 0,
                total: 202 * m,
                cgroup: None,
            },
            phases: vec![(Phase::Render, Peaks { total: 202 * m, ..Default::default() })],
            phase_starts: vec![(Phase::Start, 0.0), (Phase::Render, 0.5)],
            processes: vec![proc_(10, "ffmpeg seg_0000.ts", 0.0, 1.9), proc_(11, "ffmpeg <seg_0001.ts>", 2.0, 4.0)],
            series,
            seconds: 4.0,
            estimate: None,
        }
    }

    #[test]
    fn table_names_phases_and_processes() {
        let cx = Context { job_id: "j", limit: 512 << 20, limit_source: "--memory-limit", estimate: Some(244 << 20) };
        let t = table(&record(), &cx);
        assert!(t.contains("peak 202.0 MiB of the 512 MiB limit"), "{t}");
        assert!(t.contains("estimate 244.0 MiB"), "{t}");
        assert!(t.contains("render") && t.contains("ffmpeg seg_0000.ts"), "{t}");
    }

    #[test]
    fn picture_stacks_processes_marks_phases_and_the_limit() {
        let cx = Context { job_id: "a<b", limit: 512 << 20, limit_source: "cgroup", estimate: None };
        let s = svg(&record(), &cx);
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert_eq!(s.matches("<path").count(), 3, "cutlist + two processes");
        assert!(s.contains("limit 512 MiB") && s.contains(">render</text>"), "{s}");
        assert!(
            s.contains("a&lt;b") && s.contains("&lt;seg_0001.ts&gt;") && !s.contains("<seg"),
            "user text is escaped"
        );
    }
}
