//! Where log lines go: a buffer in memory that a thread of its own writes to
//! stderr every few milliseconds. A call appends its line and goes on — no
//! write to stderr, and no wake-up of a writer thread, on the call's path
//! (one of either per call cost GetRunner a tenth to a fifth of its
//! throughput at one caller).

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// How long a line may wait in the buffer.
const INTERVAL: Duration = Duration::from_millis(20);
/// A buffer this full is written by the caller that filled it: memory stays
/// bounded under a flood, and the flood slows down instead of losing lines.
const HIGH_WATER: usize = 1 << 20;

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    stopped: Condvar,
}

#[derive(Default)]
struct State {
    buffer: Vec<u8>,
    stopping: bool,
}

/// The writer the log's layer is given (cheap to clone).
#[derive(Clone)]
pub struct BatchedStderr(Arc<Shared>);

/// Writes what is left and stops the writer's thread when dropped.
#[must_use = "the log's last lines are written when the guard is dropped"]
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BatchedStderr {
    /// The writer, and the guard that ends it; the thread writes every `INTERVAL`.
    pub fn start() -> std::io::Result<(BatchedStderr, FlushGuard)> {
        let shared = Arc::new(Shared::default());
        let thread = std::thread::Builder::new().name("paddock-log".into()).spawn({
            let shared = shared.clone();
            move || {
                let mut state = lock(&shared);
                loop {
                    let stopping = state.stopping;
                    let lines = std::mem::take(&mut state.buffer);
                    drop(state);
                    write_out(&lines);
                    if stopping {
                        return;
                    }
                    state = lock(&shared);
                    if !state.stopping {
                        state = shared
                            .stopped
                            .wait_timeout(state, INTERVAL)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0;
                    }
                }
            }
        })?;
        Ok((
            BatchedStderr(shared.clone()),
            FlushGuard {
                shared,
                thread: Some(thread),
            },
        ))
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    // a panic while holding the lock leaves only bytes behind: still usable
    shared.state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn write_out(lines: &[u8]) {
    if !lines.is_empty() {
        // nowhere to say that stderr failed
        let _ = std::io::stderr().lock().write_all(lines);
    }
}

impl Write for BatchedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut state = lock(&self.0);
        state.buffer.extend_from_slice(buf);
        if state.buffer.len() >= HIGH_WATER {
            let lines = std::mem::take(&mut state.buffer);
            // in order: nothing else appends until these are out
            write_out(&lines);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchedStderr {
    type Writer = BatchedStderr;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        lock(&self.shared).stopping = true;
        self.shared.stopped.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Logs to stderr through `filter` (`--log`): a level, or directives such as
/// `paddock=debug,info`, through `log_writer` so that no call waits for
/// stderr. Keep the guard until the end: dropping it writes what is left.
pub fn init_logging(filter: &str) -> anyhow::Result<FlushGuard> {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let targets: Targets = filter.parse().map_err(|_| {
        anyhow::anyhow!(
            "--log {filter:?} is not a log filter: give a level such as info, or directives such as paddock=debug,info"
        )
    })?;
    // each migration's two lines would bury the first line of paddock's own
    // (which names the console); the store logs one line for them all
    let targets = if filter.contains("sea_orm_migration") {
        targets
    } else {
        targets.with_target("sea_orm_migration", tracing_subscriber::filter::LevelFilter::WARN)
    };
    let (writer, guard) = BatchedStderr::start().map_err(|e| anyhow::anyhow!("cannot start the log's writer ({e})"))?;
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .with(targets)
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot set up logging ({e})"))?;
    Ok(guard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_wait_in_the_buffer_until_the_thread_takes_them() {
        let (mut writer, guard) = BatchedStderr::start().unwrap();
        writer.write_all(b"one line\n").unwrap();
        // taken within an interval or two
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while !lock(&writer.0).buffer.is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the writer thread never took the line"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(guard);
    }

    #[test]
    fn the_guard_writes_what_is_left_and_stops_the_thread() {
        let (mut writer, guard) = BatchedStderr::start().unwrap();
        writer.write_all(b"last words\n").unwrap();
        drop(guard);
        assert!(lock(&writer.0).buffer.is_empty());
        assert!(lock(&writer.0).stopping);
    }
}
