//! paddock.v1.FleetService: the organization's fleet at a glance (counts by
//! state, stale and outdated runners) and deleting many runners in one call —
//! by the ids named, each checked and deleted as DeleteRunner would, never
//! "all of them" by omission.

mod bulk;
mod runners;
mod summary;

use crate::api::service;

service! {
    package paddock::v1;
    FleetApi: crate::protocol::proto::paddock::v1::fleet_service_server::FleetService {
        get_fleet_summary(GetFleetSummaryRequest) -> GetFleetSummaryResponse = summary::summary;
        delete_runners(DeleteRunnersRequest) -> DeleteRunnersResponse = bulk::delete_runners;
        revoke_runner_credentials(RevokeRunnerCredentialsRequest) -> RevokeRunnerCredentialsResponse = bulk::revoke_credentials;
        list_fleet_runners(ListFleetRunnersRequest) -> ListFleetRunnersResponse = runners::list;
    }
}
