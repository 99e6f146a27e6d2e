//! The fleet's heartbeats at a fixed rate: call j goes at start + j/rate, as
//! runner j mod n, over connection j mod c (connections spread over the
//! replicas). One whole cycle warms up (every runner's lease once, as a
//! running fleet has), the next is measured. Latency counts from when a call
//! was due, not when it left, so a server that falls behind shows it.

use std::time::{Duration, Instant};

use anyhow::Context;
use paddock::protocol::proto::gitpod::v1 as pb;
use pb::runner_interaction_service_client::RunnerInteractionServiceClient;
use tokio::sync::mpsc;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};

use crate::seed::Member;

pub struct LoadResult {
    pub calls: usize,
    pub failures: usize,
    pub first_failure: Option<String>,
    pub seconds: f64,
    /// CPU seconds each server process used during the measured cycle.
    pub server_cpu: Vec<f64>,
    /// CPU seconds the load generator (this process) used meanwhile.
    pub client_cpu: f64,
    pub latencies: Vec<Duration>,
}

impl LoadResult {
    pub fn rate(&self) -> f64 {
        self.calls as f64 / self.seconds
    }

    /// The servers' CPU as a fraction of the whole machine.
    pub fn machine_fraction(&self) -> f64 {
        self.server_cpu.iter().sum::<f64>() / (self.seconds * cores() as f64)
    }

    pub fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(i).copied().unwrap_or_default()
    }
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// user + system CPU seconds of a process so far (all its threads).
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after_name = stat.rsplit_once(')').context("/proc/PID/stat")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // fields 14 and 15 of proc(5); the slice starts at field 3
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    Ok(ticks as f64 / clock_ticks() as f64)
}

fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

pub async fn drive(
    urls: &[String],
    server_pids: &[u32],
    fleet: &[Member],
    rate: f64,
    connections: usize,
) -> anyhow::Result<LoadResult> {
    let mut channels: Vec<Channel> = Vec::with_capacity(connections);
    for c in 0..connections {
        let url = &urls[c % urls.len()];
        let channel = Endpoint::from_shared(url.clone())?
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("connecting to {url}"))?;
        channels.push(channel);
    }
    let bearers: Vec<MetadataValue<Ascii>> = fleet
        .iter()
        .map(|m| m.bearer.parse())
        .collect::<Result<_, _>>()
        .context("a bearer header")?;
    let n = fleet.len();
    let total = 2 * n;
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(usize, Duration, Option<String>)>();
    let start = tokio::time::Instant::now() + Duration::from_millis(200);
    let mut measured_from = None;
    for j in 0..total {
        let due = start + Duration::from_secs_f64(j as f64 / rate);
        tokio::time::sleep_until(due).await;
        if j == n {
            let cpu: Vec<f64> = server_pids.iter().map(|p| cpu_seconds(*p)).collect::<Result<_, _>>()?;
            measured_from = Some((Instant::now(), cpu, cpu_seconds(std::process::id())?));
        }
        let mut client = RunnerInteractionServiceClient::new(channels[j % connections].clone());
        let member = &fleet[j % n];
        let mut request = tonic::Request::new(pb::MarkRunnerActiveRequest {
            runner_id: member.runner_id.clone(),
        });
        request.metadata_mut().insert("authorization", bearers[j % n].clone());
        let done = done_tx.clone();
        tokio::spawn(async move {
            let answer = client.mark_runner_active(request).await;
            let failure = match answer {
                Ok(r) if r.get_ref().phase == pb::RunnerPhase::Active as i32 => None,
                Ok(r) => Some(format!("phase {} in {:?}", r.get_ref().phase, r.get_ref())),
                Err(status) => Some(format!("{status:?}")),
            };
            let _ = done.send((j, due.elapsed(), failure));
        });
    }
    drop(done_tx);
    let mut result = LoadResult {
        calls: 0,
        failures: 0,
        first_failure: None,
        seconds: 0.0,
        server_cpu: Vec::new(),
        client_cpu: 0.0,
        latencies: Vec::with_capacity(n),
    };
    let mut warmup_failures = 0;
    while let Some((j, latency, failure)) = done_rx.recv().await {
        if let Some(failure) = failure {
            if j < n {
                warmup_failures += 1;
            } else {
                result.failures += 1;
            }
            result.first_failure.get_or_insert(failure);
        }
        if j >= n {
            result.calls += 1;
            result.latencies.push(latency);
        }
    }
    let (from, cpu_before, client_before) = measured_from.context("the measured cycle never started")?;
    result.seconds = from.elapsed().as_secs_f64();
    for (pid, before) in server_pids.iter().zip(cpu_before) {
        result.server_cpu.push(cpu_seconds(*pid)? - before);
    }
    result.client_cpu = cpu_seconds(std::process::id())? - client_before;
    result.failures += warmup_failures;
    Ok(result)
}
