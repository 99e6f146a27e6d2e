//! gRPC health follows the database: a probe every second, and every
//! service NOT_SERVING while the database cannot be reached (SERVING again
//! once it can), so that a load balancer sends calls to a replica that can
//! answer them.

use std::time::Duration;

use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::store::Db;

/// How often the database is probed.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Probes `db` every `every` until `stop` resolves, and reports the
/// outcome for the overall status ("") and each of `services`.
pub async fn follow_database(
    db: Db,
    reporter: HealthReporter,
    services: Vec<&'static str>,
    every: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut beat = crate::base::beat::Beat::new(every);
    let mut serving = true;
    tokio::pin!(stop);
    while beat.next(&mut stop).await {
        // the probe waits no longer than a call would (the pool's checkout timeout)
        let reachable = match db.ping().await {
            Ok(()) => true,
            Err(e) => {
                if serving {
                    tracing::warn!(error = %e, "the database is unreachable: health NOT_SERVING");
                }
                false
            }
        };
        if reachable == serving {
            continue;
        }
        if reachable {
            tracing::info!("the database is reachable again: health SERVING");
        }
        serving = reachable;
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        reporter.set_service_status("", status).await;
        for service in &services {
            reporter.set_service_status(*service, status).await;
        }
    }
}
