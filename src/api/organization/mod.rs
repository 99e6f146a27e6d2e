//! gitpod.v1.OrganizationService, the part paddock serves: the caller's
//! organization, its members (filtered, sorted, paged, counted) and their
//! roles — set by organization admins, never leaving the organization
//! without one. A role change reaches the changed user's calls within the
//! token cache's bound (5 s).

mod members;
mod organizations;

use crate::api::service;

service! {
    OrganizationApi: crate::protocol::proto::gitpod::v1::organization_service_server::OrganizationService {
        get_organization(GetOrganizationRequest) -> GetOrganizationResponse = organizations::get_organization;
        list_members(ListMembersRequest) -> ListMembersResponse = members::list_members;
        set_role(SetRoleRequest) -> SetRoleResponse = members::set_role;
    }
}
