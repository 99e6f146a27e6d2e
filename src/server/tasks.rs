//! The one supervisor of background tasks: each is started with a name
//! (which every line it logs carries), told to stop at shutdown, awaited,
//! and reported when it failed.

use std::future::Future;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The background tasks of one server.
pub(crate) struct Tasks {
    stop: watch::Sender<bool>,
    running: Vec<(&'static str, JoinHandle<()>)>,
}

impl Default for Tasks {
    fn default() -> Self {
        Tasks {
            stop: watch::channel(false).0,
            running: Vec::new(),
        }
    }
}

impl Tasks {
    /// Starts `task`, which must end soon after the future it is given resolves.
    pub fn spawn<F, T>(&mut self, name: &'static str, task: F)
    where
        F: FnOnce(Stop) -> T,
        T: Future<Output = ()> + Send + 'static,
    {
        let mut stopped = self.stop.subscribe();
        let stop: Stop = Box::pin(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        });
        tracing::debug!(task = name, "background task started");
        // every line the task logs says which task it is (at every level)
        let task = tokio::spawn(tracing::Instrument::instrument(
            task(stop),
            tracing::error_span!("task", name),
        ));
        // a task that fails is said at once, not at shutdown
        let watched = tokio::spawn(async move {
            match task.await {
                Ok(()) => tracing::debug!(task = name, "background task ended"),
                Err(e) => tracing::error!(task = name, error = %e, "background task failed"),
            }
        });
        self.running.push((name, watched));
    }

    /// Tells every task to stop, then waits for each (the flushers write
    /// their last batch now).
    pub async fn stop(self) {
        self.stop.send_replace(true);
        for (name, watched) in self.running {
            if let Err(e) = watched.await {
                tracing::error!(task = name, error = %e, "background task's watcher failed");
            }
        }
    }
}

/// Resolves when the supervisor stops its tasks.
pub(crate) type Stop = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// Stopping tells every task, waits for each to finish what it does on
    /// stop, and survives one that failed.
    #[tokio::test]
    async fn stop_tells_every_task_and_waits_for_each() {
        let mut tasks = Tasks::default();
        let flushed = Arc::new(AtomicBool::new(false));
        let flag = flushed.clone();
        tasks.spawn("flusher", move |stop| async move {
            stop.await;
            // the last batch, after the stop: stop() must wait for it
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            flag.store(true, Ordering::SeqCst);
        });
        tasks.spawn("broken", |_stop| async {
            if true {
                panic!("a task that fails")
            }
        });
        let waiter = Arc::new(AtomicBool::new(false));
        let waited = waiter.clone();
        tasks.spawn("waiter", move |stop| async move {
            stop.await;
            waited.store(true, Ordering::SeqCst);
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!flushed.load(Ordering::SeqCst), "nothing stops before it is told");
        tasks.stop().await;
        assert!(flushed.load(Ordering::SeqCst) && waiter.load(Ordering::SeqCst));
    }
}
