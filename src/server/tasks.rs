//! The one supervisor of background tasks: each is started with a name,
//! told to stop at shutdown, awaited, and reported when it failed.

use std::future::Future;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The background tasks of one server.
pub struct Tasks {
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
        self.running.push((name, tokio::spawn(task(stop))));
    }

    /// Tells every task to stop, then waits for each (the flushers write
    /// their last batch now).
    pub async fn stop(self) {
        self.stop.send_replace(true);
        for (name, task) in self.running {
            match task.await {
                Ok(()) => tracing::debug!(task = name, "background task stopped"),
                Err(e) => tracing::error!(task = name, error = %e, "background task failed"),
            }
        }
    }
}

/// Resolves when the supervisor stops its tasks.
pub type Stop = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;
