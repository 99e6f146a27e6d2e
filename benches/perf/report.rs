//! The results: a table on stdout, and results.md, results.json and
//! chart.svg in the output directory.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::Options;
use crate::load::Protocol;
use crate::stats::Spread;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Backend {
    #[serde(rename = "SQLite")]
    Sqlite,
    #[serde(rename = "PostgreSQL")]
    Postgres,
}

impl Backend {
    pub fn label(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// One workload at one concurrency: medians over its windows.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: &'static str,
    pub label: String,
    pub protocol: Protocol,
    pub concurrency: usize,
    pub windows: usize,
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// Median per-round ratio of its throughput to the bare echo's.
    pub vs_echo: Option<f64>,
    /// … and to its storage ceiling (point read or 2-row transaction).
    pub vs_storage: Option<f64>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub enum Bound {
    AtLeast(f64),
    AtMost(f64),
    /// A cost that must not be told from noise: the median at least this, or
    /// the interquartile range reaching 1 (no difference).
    WithinNoise(f64),
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: String,
    pub measured: Spread,
    pub target: Option<Bound>,
    pub met: Option<bool>,
}

impl Target {
    pub fn new(name: &str, measured: Spread, target: Option<Bound>) -> Target {
        let met = target.map(|bound| match bound {
            Bound::AtLeast(min) => measured.median >= min,
            Bound::AtMost(max) => measured.median <= max,
            Bound::WithinNoise(min) => measured.median >= min || measured.q3 >= 1.0,
        });
        Target {
            name: name.to_owned(),
            measured,
            target,
            met,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BackendReport {
    pub backend: Backend,
    pub rows: Vec<Row>,
    pub targets: Vec<Target>,
    pub peak_rss_mib: f64,
    pub seed_seconds: f64,
    /// Calls h2load dropped at windows' ends that paddock logged as failed.
    pub cut_calls: usize,
    /// What paddock logged at WARN while under load.
    pub warnings: Vec<String>,
    /// The point-read ceiling's pool sizes as measured (c16 req/s).
    pub point_read_tuning: Vec<Tuning>,
    /// One replica against two on the same database (PostgreSQL).
    pub replicas: Vec<ReplicaRow>,
}

/// A workload against one replica and against two (req/s, all callers).
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaRow {
    pub workload: String,
    pub concurrency: usize,
    pub one: Spread,
    pub two: Spread,
    /// Per round: two replicas' aggregate / one replica's.
    pub ratio: Spread,
}

/// One pool size the point-read ceiling was measured with.
#[derive(Debug, Clone, Serialize)]
pub struct Tuning {
    pub pool: u32,
    pub rps: Spread,
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub h2load: String,
    pub commit: String,
    pub date: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Method {
    pub quick: bool,
    pub pairs: usize,
    pub target_rounds: usize,
    pub table_rounds: usize,
    pub warmup_ms: u128,
    pub measure_ms: u128,
    pub small_fleet: usize,
    pub large_fleet: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub method: Method,
    pub backends: Vec<BackendReport>,
    pub minutes: f64,
    /// What counting one call for /metrics costs, measured in a loop.
    pub metrics_ns_per_call: f64,
}

impl Report {
    pub fn new(options: &Options, backends: Vec<BackendReport>, took: Duration) -> Report {
        Report {
            machine: machine(),
            method: Method {
                quick: options.quick,
                pairs: options.pairs,
                target_rounds: options.target_rounds,
                table_rounds: options.table_rounds,
                warmup_ms: options.warmup.as_millis(),
                measure_ms: options.measure.as_millis(),
                small_fleet: options.small,
                large_fleet: options.large,
            },
            backends,
            minutes: took.as_secs_f64() / 60.0,
            metrics_ns_per_call: crate::metrics_cost_ns(),
        }
    }

    pub fn print(&self) {
        println!("{}", self.markdown());
    }

    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("results.md"), self.markdown())?;
        std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(self)? + "\n")?;
        std::fs::write(dir.join("chart.svg"), self.chart())?;
        Ok(())
    }

    /// The tables, as Markdown (the README quotes it).
    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let method = &self.method;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Machine: {} ({} cores), {:.0} GiB, Linux {}; {}; commit {}, {}.\n",
            m.cpu, m.cores, m.memory_gib, m.kernel, m.h2load, m.commit, m.date
        );
        let _ = writeln!(
            out,
            "Method: h2load, c concurrent calls as up to 4 streams per connection (1 × 1, 4 × 4, 16 × 4); windows of {} ms warm-up + {} ms measured; \
             {} alternating rounds for GetRunner and the point-read ceiling at c16, {} for the other targets' \
             sides, {} for the rest; medians over windows, ratios are medians of per-round ratios. Fleets of {} \
             and {} runners. Took {:.1} min.\n",
            method.warmup_ms,
            method.measure_ms,
            method.pairs,
            method.target_rounds,
            method.table_rounds,
            method.small_fleet,
            method.large_fleet,
            self.minutes
        );
        let _ = writeln!(
            out,
            "Counting a call for /metrics (its call counter, latency histogram and token cache counter), \
             1,000,000 times in a loop: {:.0} ns per call.\n",
            self.metrics_ns_per_call
        );
        for b in &self.backends {
            let _ = writeln!(out, "### {}\n", b.backend.label());
            let _ = writeln!(
                out,
                "| RPC | protocol | c | req/s | p50 ms | p99 ms | × echo | × storage ceiling |\n|---|---|--:|--:|--:|--:|--:|--:|"
            );
            for r in &b.rows {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {} | {} |",
                    r.label,
                    r.protocol.label(),
                    r.concurrency,
                    r.rps,
                    r.p50_us / 1000.0,
                    r.p99_us / 1000.0,
                    ratio(r.vs_echo),
                    ratio(r.vs_storage)
                );
            }
            let _ = writeln!(out, "\n| target | measured (IQR) | target | met |\n|---|---|---|---|");
            for t in &b.targets {
                let bound = match t.target {
                    Some(Bound::AtLeast(v)) => format!("≥ {v}"),
                    Some(Bound::AtMost(v)) => format!("≤ {v}"),
                    Some(Bound::WithinNoise(v)) => format!("≥ {v}, or IQR reaching 1"),
                    None => "—".into(),
                };
                let met = match t.met {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "—",
                };
                let measured = if t.name.ends_with("MiB") {
                    format!("{:.1}", t.measured.median)
                } else {
                    format!(
                        "{:.3} ({:.3}–{:.3}, {} rounds)",
                        t.measured.median, t.measured.q1, t.measured.q3, t.measured.n
                    )
                };
                let _ = writeln!(out, "| {} | {measured} | {bound} | {met} |", t.name);
            }
            let _ = writeln!(
                out,
                "\nSeeding through the store layer took {:.1} s. No call failed; {} calls dropped by h2load at \
                 windows' ends (at most one per connection) were logged CANCELLED or UNKNOWN.\n",
                b.seed_seconds, b.cut_calls
            );
            if !b.point_read_tuning.is_empty() {
                let best = b.point_read_tuning.iter().map(|t| t.rps.median).fold(0.0, f64::max);
                let _ = writeln!(
                    out,
                    "The point-read ceiling was tuned first: each pool size ran as its own server, measured \
                     at c16 in {} alternating rounds; the fastest is the ceiling.\n\n| pool | req/s (IQR) |\n|--:|---|",
                    b.point_read_tuning[0].rps.n
                );
                for t in &b.point_read_tuning {
                    let mark = if t.rps.median == best { " (chosen)" } else { "" };
                    let _ = writeln!(
                        out,
                        "| {} | {:.0} ({:.0}–{:.0}){mark} |",
                        t.pool, t.rps.median, t.rps.q1, t.rps.q3
                    );
                }
                let _ = writeln!(out);
            }
            if !b.replicas.is_empty() {
                let _ = writeln!(
                    out,
                    "Two replicas on this one database, each taking half the callers, against one taking all \
                     ({} alternating rounds). Both replicas, PostgreSQL and h2load share the machine's 2 cores: \
                     this shows what a second replica costs, not scale-out.\n\n\
                     | workload | c | one replica req/s | two replicas req/s (sum) | two / one (IQR) |\n|---|--:|--:|--:|---|",
                    b.replicas[0].ratio.n
                );
                for r in &b.replicas {
                    let _ = writeln!(
                        out,
                        "| {} | {} | {:.0} | {:.0} | {:.2} ({:.2}–{:.2}) |",
                        r.workload, r.concurrency, r.one.median, r.two.median, r.ratio.median, r.ratio.q1, r.ratio.q3
                    );
                }
                let _ = writeln!(out);
            }
            if !b.warnings.is_empty() {
                let _ = writeln!(out, "paddock logged {} warnings under load, e.g.:\n", b.warnings.len());
                for w in b.warnings.iter().take(3) {
                    let _ = writeln!(out, "    {w}");
                }
                let _ = writeln!(out);
            }
        }
        out
    }

    /// Throughput and p99 latency against concurrency, one panel pair per
    /// database, both axes logarithmic.
    pub fn chart(&self) -> String {
        const PANEL_W: f64 = 360.0;
        const PANEL_H: f64 = 240.0;
        const MARGIN: f64 = 60.0;
        let ids: Vec<(&str, String)> = {
            let mut ids: Vec<(&str, String)> = Vec::new();
            for r in self.backends.iter().flat_map(|b| &b.rows) {
                if !ids.iter().any(|(id, _)| *id == r.id) {
                    ids.push((r.id, format!("{} ({})", r.label, r.protocol.label())));
                }
            }
            ids
        };
        let colors = [
            "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#7f7f7f", "#bcbd22", "#17becf",
        ];
        let width = 2.0 * (PANEL_W + MARGIN) + MARGIN + 340.0;
        let height = self.backends.len() as f64 * (PANEL_H + MARGIN) + MARGIN;
        let mut svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
"#
        );
        let x_of = |c: usize| (c as f64).log(4.0) / 3.0 * PANEL_W;
        for (bi, b) in self.backends.iter().enumerate() {
            let top = MARGIN + bi as f64 * (PANEL_H + MARGIN);
            for (pi, (title, value)) in [
                ("requests per second", (|r: &Row| r.rps) as fn(&Row) -> f64),
                ("p99 latency (ms)", |r: &Row| r.p99_us / 1000.0),
            ]
            .into_iter()
            .enumerate()
            {
                let left = MARGIN + pi as f64 * (PANEL_W + MARGIN);
                let values: Vec<f64> = b.rows.iter().map(value).filter(|v| *v > 0.0).collect();
                let (lo, hi) = decades(&values);
                let y_of = |v: f64| PANEL_H - (v.log10() - lo) / (hi - lo) * PANEL_H;
                let _ = writeln!(
                    svg,
                    r##"<g transform="translate({left},{top})"><text x="0" y="-8" font-weight="bold">{} — {title}</text><rect width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#999"/>"##,
                    b.backend.label()
                );
                let mut decade = lo;
                while decade <= hi {
                    let y = y_of(10f64.powf(decade));
                    let _ = writeln!(
                        svg,
                        r##"<line x1="0" x2="{PANEL_W}" y1="{y:.1}" y2="{y:.1}" stroke="#eee"/><text x="-4" y="{:.1}" text-anchor="end">{}</text>"##,
                        y + 4.0,
                        tick(10f64.powf(decade))
                    );
                    decade += 1.0;
                }
                let _ = writeln!(
                    svg,
                    r##"<text x="{}" y="{}" text-anchor="middle" fill="#555">concurrent callers</text>"##,
                    PANEL_W / 2.0,
                    PANEL_H + 28.0
                );
                for c in [1, 16, 64] {
                    let x = x_of(c);
                    let _ = writeln!(
                        svg,
                        r#"<text x="{x:.1}" y="{}" text-anchor="middle">c{c}</text>"#,
                        PANEL_H + 14.0
                    );
                }
                for (i, (id, _)) in ids.iter().enumerate() {
                    let points: Vec<String> = b
                        .rows
                        .iter()
                        .filter(|r| r.id == *id && value(r) > 0.0)
                        .map(|r| format!("{:.1},{:.1}", x_of(r.concurrency), y_of(value(r))))
                        .collect();
                    if points.is_empty() {
                        continue;
                    }
                    let dash = if id.starts_with("echo") || *id == "point_read" || *id == "insert_pair" {
                        r#" stroke-dasharray="4 3""#
                    } else {
                        ""
                    };
                    let _ = writeln!(
                        svg,
                        r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.6"{dash}/>"#,
                        points.join(" "),
                        colors[i % colors.len()]
                    );
                }
                svg += "</g>\n";
            }
        }
        let legend_left = 2.0 * (PANEL_W + MARGIN) + MARGIN;
        for (i, (_, label)) in ids.iter().enumerate() {
            let y = MARGIN + 14.0 * i as f64;
            let _ = writeln!(
                svg,
                r#"<line x1="{legend_left}" x2="{}" y1="{y}" y2="{y}" stroke="{}" stroke-width="2"/><text x="{}" y="{}">{}</text>"#,
                legend_left + 18.0,
                colors[i % colors.len()],
                legend_left + 24.0,
                y + 4.0,
                escape(label)
            );
        }
        svg += "</svg>\n";
        svg
    }
}

fn ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "—".into(), |r| format!("{r:.2}"))
}

/// Whole decades (log10) around `values`.
fn decades(values: &[f64]) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min).log10().floor();
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max).log10().ceil();
    if lo.is_finite() && hi.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (0.0, 1.0)
    }
}

fn tick(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.0}k", v / 1000.0)
    } else {
        format!("{v}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn machine() -> Machine {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory_kib: f64 = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0.0);
    let output = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory_gib: memory_kib / 1024.0 / 1024.0,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        h2load: output("h2load", &["--version"]),
        commit: output("git", &["rev-parse", "--short", "HEAD"]),
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}
