//! The servers under load, each its own process on a loopback port with its
//! log in a file: started, checked for failed calls, measured, stopped.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How a server's log line tells of a failed call.
#[derive(Debug, Clone, Copy)]
pub enum LogKind {
    /// paddock: one `paddock::call` line per call, `code=OK` when it succeeded.
    Paddock,
    /// The reference servers print a line only for a failed call.
    Reference,
}

pub struct Server {
    pub name: String,
    pub url: String,
    child: Child,
    log: PathBuf,
    kind: LogKind,
    read_to: u64,
    /// Warnings paddock logged (not failures).
    pub warnings: Vec<String>,
}

/// A port nobody listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Server {
    /// Starts `command` (which must listen on `port`) and waits until it accepts.
    pub fn start(name: &str, mut command: Command, port: u16, log: PathBuf, kind: LogKind) -> anyhow::Result<Server> {
        let log_file = File::create(&log)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let mut server = Server {
            name: name.to_owned(),
            url: format!("http://127.0.0.1:{port}"),
            child,
            log,
            kind,
            read_to: 0,
            warnings: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = server.child.try_wait()? {
                bail!("{name} exited ({status}):\n{}", std::fs::read_to_string(&server.log)?);
            }
            if Instant::now() > deadline {
                bail!("{name} did not listen on port {port} within a minute");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads what the server logged since the last check and fails on any
    /// failure in it. Exception: at a window's end h2load drops the calls in
    /// flight — at most one per connection — and paddock logs those it was
    /// still reading as CANCELLED or UNKNOWN; up to `connections` of them
    /// pass, and their number is returned.
    pub fn check_calls(&mut self, connections: usize) -> anyhow::Result<usize> {
        let mut file = File::open(&self.log)?;
        file.seek(SeekFrom::Start(self.read_to))?;
        let mut text = Vec::new();
        file.read_to_end(&mut text)?;
        // only whole lines; a line being written waits for the next check
        let whole = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        self.read_to += whole as u64;
        let text = String::from_utf8_lossy(&text[..whole]);
        let mut cut = 0;
        for line in text.lines() {
            let failed = match self.kind {
                LogKind::Paddock if line.contains("paddock::call") => {
                    if line.contains("code=\"CANCELLED\"") || line.contains("code=\"UNKNOWN\"") {
                        cut += 1;
                        cut > connections
                    } else {
                        !line.contains("code=\"OK\"")
                    }
                }
                // sqlx's notice of a rollback after COMMIT was sent: a call
                // dropped at a window's end
                LogKind::Paddock if line.contains("sqlx::postgres::notice") => false,
                // e.g. sqlx's slow pool acquire: worth reporting, not a failed call
                LogKind::Paddock if line.contains(" WARN ") => {
                    self.warnings.push(line.to_owned());
                    false
                }
                LogKind::Paddock => line.contains("ERROR"),
                LogKind::Reference => true,
            };
            if failed {
                bail!("{} logged a failure: {line}", self.name);
            }
        }
        Ok(cut)
    }

    /// Peak resident set size since start or since `reset_peak_rss`, in KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        status_field(self.pid(), "VmHWM:")
    }

    /// Starts a new peak (Linux: writing 5 to clear_refs); false where that
    /// is not allowed, so that the peak covers the whole run.
    pub fn reset_peak_rss(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").is_ok()
    }
}

fn status_field(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .with_context(|| format!("{field} in /proc/{pid}/status"))?;
    let kib = line[field.len()..].trim().trim_end_matches(" kB").trim();
    Ok(kib.parse()?)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
