//! Load from h2load (nghttp2): one process per window, every request a
//! pre-encoded body POSTed over h2c, latencies from its per-request log.
//! h2load calls any HTTP 2xx a success, but a failed gRPC call is a 200 too:
//! the caller checks the servers' own logs for failed calls (see `procs`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail, ensure};

use crate::stats::quantile;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Protocol {
    #[serde(rename = "gRPC")]
    Grpc,
    #[serde(rename = "Connect+proto")]
    ConnectProto,
    #[serde(rename = "Connect+JSON")]
    ConnectJson,
}

impl Protocol {
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Grpc => "gRPC",
            Protocol::ConnectProto => "Connect+proto",
            Protocol::ConnectJson => "Connect+JSON",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Protocol::Grpc => "application/grpc",
            Protocol::ConnectProto => "application/proto",
            Protocol::ConnectJson => "application/json",
        }
    }
}

/// One kind of request against one server: what h2load sends, over and over.
#[derive(Debug, Clone)]
pub struct Request {
    pub url: String,
    pub protocol: Protocol,
    pub token: Option<String>,
    /// The request body as sent (a gRPC frame for gRPC).
    pub body_file: PathBuf,
}

impl Request {
    /// Writes `message` (protobuf or JSON bytes) to `dir`, framed for gRPC
    /// when the protocol needs it.
    pub fn new(
        dir: &Path,
        name: &str,
        url: String,
        protocol: Protocol,
        token: Option<String>,
        message: &[u8],
    ) -> anyhow::Result<Request> {
        let body = match protocol {
            Protocol::Grpc => grpc_frame(message),
            Protocol::ConnectProto | Protocol::ConnectJson => message.to_vec(),
        };
        let body_file = dir.join(format!("{name}.body"));
        std::fs::write(&body_file, body).with_context(|| format!("writing {}", body_file.display()))?;
        Ok(Request {
            url,
            protocol,
            token,
            body_file,
        })
    }
}

/// A length-prefixed, uncompressed gRPC message.
pub fn grpc_frame(message: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(message.len() + 5);
    frame.push(0);
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(message);
    frame
}

/// What one measured window saw.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Window {
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub requests: u64,
}

/// How `concurrency` callers are spread over connections: up to 4 streams on
/// each (as a client multiplexing calls over a few channels does), 1 × 1,
/// 4 × 4, 16 × 4.
pub fn shape(concurrency: usize) -> (usize, usize) {
    let streams = concurrency.clamp(1, 4);
    (concurrency.div_ceil(streams), streams)
}

/// Drives `request` with `concurrency` concurrent calls (`shape`) for
/// `warmup`, then measures for `measure`. Fails unless every request in the
/// measured part succeeded at the HTTP level.
pub fn window(
    request: &Request,
    concurrency: usize,
    warmup: Duration,
    measure: Duration,
    scratch: &Path,
) -> anyhow::Result<Window> {
    let log_file = scratch.join("h2load.log");
    let output = command(request, concurrency, warmup, measure, &log_file)?
        .output()
        .context("running h2load (make bench installs it)")?;
    finish(request, &output, &log_file, measure)
}

/// Several loads at once, each `(request, concurrency)` from its own h2load
/// process (two replicas, each with its own callers): what each saw.
pub fn windows_together(
    loads: &[(&Request, usize)],
    warmup: Duration,
    measure: Duration,
    scratch: &Path,
) -> anyhow::Result<Vec<Window>> {
    let mut running = Vec::new();
    for (i, (request, concurrency)) in loads.iter().enumerate() {
        let log_file = scratch.join(format!("h2load-{i}.log"));
        let child = command(request, *concurrency, warmup, measure, &log_file)?
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .context("running h2load (make bench installs it)")?;
        running.push((request, child, log_file));
    }
    let mut windows = Vec::new();
    for (request, child, log_file) in running {
        let output = child.wait_with_output()?;
        windows.push(finish(request, &output, &log_file, measure)?);
    }
    Ok(windows)
}

fn command(
    request: &Request,
    concurrency: usize,
    warmup: Duration,
    measure: Duration,
    log_file: &Path,
) -> anyhow::Result<Command> {
    // h2load appends to its log
    let _ = std::fs::remove_file(log_file);
    let (clients, streams) = shape(concurrency);
    let mut command = Command::new("h2load");
    command
        .arg(format!("--clients={clients}"))
        .arg(format!("--max-concurrent-streams={streams}"))
        .arg("--threads=1")
        .arg(format!("--duration={}ms", measure.as_millis()))
        .arg(format!("--warm-up-time={}ms", warmup.as_millis()))
        .arg(format!("--data={}", request.body_file.display()))
        .arg(format!("--header=content-type: {}", request.protocol.content_type()))
        .arg(format!("--log-file={}", log_file.display()));
    match request.protocol {
        Protocol::Grpc => command.arg("--header=te: trailers"),
        Protocol::ConnectProto | Protocol::ConnectJson => command.arg("--header=connect-protocol-version: 1"),
    };
    if let Some(token) = &request.token {
        command.arg(format!("--header=authorization: Bearer {token}"));
    }
    command.arg(&request.url);
    Ok(command)
}

/// The window h2load's report and log describe, if every request succeeded.
fn finish(
    request: &Request,
    output: &std::process::Output,
    log_file: &Path,
    measure: Duration,
) -> anyhow::Result<Window> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "h2load failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = Summary::parse(&stdout)?;
    ensure!(
        summary.failed == 0 && summary.errored == 0 && summary.timeout == 0 && summary.succeeded > 0,
        "requests to {} failed:\n{stdout}",
        request.url
    );
    let latencies = measured_latencies(log_file, measure)?;
    Ok(Window {
        rps: summary.rps,
        p50_us: quantile(&latencies, 0.5),
        p99_us: quantile(&latencies, 0.99),
        requests: summary.succeeded,
    })
}

/// The lines of h2load's report that matter here.
#[derive(Debug, Default)]
struct Summary {
    rps: f64,
    succeeded: u64,
    failed: u64,
    errored: u64,
    timeout: u64,
}

impl Summary {
    fn parse(report: &str) -> anyhow::Result<Summary> {
        let mut summary = Summary::default();
        let mut seen = (false, false);
        for line in report.lines() {
            if let Some(rest) = line.strip_prefix("finished in ") {
                // "finished in 2.00s, 9406.50 req/s, 2.05MB/s"
                let rps = rest.split(", ").nth(1).and_then(|s| s.strip_suffix(" req/s"));
                summary.rps = rps.context("req/s in h2load's report")?.parse()?;
                seen.0 = true;
            } else if let Some(rest) = line.strip_prefix("requests: ") {
                // "requests: 18813 total, 18829 started, 18813 done, 18813 succeeded, 0 failed, 0 errored, 0 timeout"
                for part in rest.split(", ") {
                    let (count, what) = part.split_once(' ').context("a request count")?;
                    let count: u64 = count.parse()?;
                    match what {
                        "succeeded" => summary.succeeded = count,
                        "failed" => summary.failed = count,
                        "errored" => summary.errored = count,
                        "timeout" => summary.timeout = count,
                        _ => {}
                    }
                }
                seen.1 = true;
            }
        }
        if seen != (true, true) {
            bail!("unexpected h2load report:\n{report}");
        }
        Ok(summary)
    }
}

/// Latencies (µs) of the requests that ended in the last `measure` of the
/// log: h2load logs warm-up requests too, and ends with the measured part.
fn measured_latencies(log_file: &Path, measure: Duration) -> anyhow::Result<Vec<f64>> {
    let text = std::fs::read_to_string(log_file).context("reading h2load's request log")?;
    let mut rows = Vec::new();
    for line in text.lines() {
        let mut columns = line.split('\t');
        let (Some(start), Some(_status), Some(duration)) = (columns.next(), columns.next(), columns.next()) else {
            continue;
        };
        let (start, duration): (u64, u64) = (start.parse()?, duration.parse()?);
        rows.push((start + duration, duration as f64));
    }
    let last_end = rows.iter().map(|r| r.0).max().context("h2load logged no requests")?;
    let from = last_end.saturating_sub(measure.as_micros() as u64);
    Ok(rows.into_iter().filter(|r| r.0 >= from).map(|r| r.1).collect())
}
