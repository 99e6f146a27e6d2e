//! Store models → gitpod.v1 and paddock.v1 messages: every mapping of a
//! store value to a proto, in one place.

use chrono::{DateTime, Utc};

use crate::protocol::proto::gitpod::v1 as pb;
use crate::protocol::proto::paddock::v1 as paddock;
use crate::store::audit::AuditEntry;
use crate::store::fleet::{Drift, State};
use crate::store::groups::{Group, Member};
use crate::store::personal_tokens::PersonalToken;
use crate::store::policies::Policy;
use crate::store::runner_tokens::RunnerToken;
use crate::store::runners::Runner;
use crate::store::tokens::TokenKind;

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub fn runner(r: Runner) -> pb::Runner {
    let gateway_info = r.gateway_info().map(|g| pb::GatewayInfo {
        gateway: Some(pb::Gateway {
            name: g.name,
            url: g.url,
            region: g.region,
        }),
        latency: g.latency_ms.map(|ms| prost_types::Duration {
            seconds: ms.div_euclid(1000),
            nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
        }),
    });
    let additional_info = r
        .additional_info()
        .into_iter()
        .map(|(key, value)| pb::FieldValue { key, value })
        .collect();
    let status = pb::RunnerStatus {
        updated_at: r.status_updated_at.map(timestamp),
        version: r.status_version.clone(),
        system_details: r.status_system_details.clone(),
        phase: r.phase,
        log_url: r.status_log_url.clone(),
        message: r.status_message.clone(),
        region: r.status_region.clone(),
        additional_info,
        capabilities: r.capabilities(),
        gateway_info,
        llm_url: r.status_llm_url.clone(),
        public_key: r.public_key.clone().unwrap_or_default(),
        support_bundle_url: r.status_support_bundle_url.clone(),
    };
    let configuration = pb::RunnerConfiguration {
        region: r.region,
        release_channel: r.release_channel,
        auto_update: r.auto_update,
        metrics: Some(pb::MetricsConfiguration {
            enabled: r.metrics_enabled,
            url: r.metrics_url,
            username: r.metrics_username,
            // kept encrypted for the runner; never handed back to API callers
            password: String::new(),
            managed_metrics_enabled: r.metrics_managed_enabled,
            include_verbose_metrics: r.metrics_include_verbose,
        }),
        log_level: r.log_level,
        devcontainer_image_cache_enabled: r.devcontainer_image_cache_enabled,
        update_window: (r.update_window_start_hour.is_some() || r.update_window_end_hour.is_some()).then(|| {
            pb::UpdateWindow {
                start_hour: r.update_window_start_hour.map(|h| h as u32),
                end_hour: r.update_window_end_hour.map(|h| h as u32),
            }
        }),
        encrypted_honeycomb_api_key: r.honeycomb_api_key_encrypted.unwrap_or_default(),
        continuous_profiling: r.continuous_profiling,
    };
    pb::Runner {
        runner_id: r.id.to_string(),
        created_at: Some(timestamp(r.created_at)),
        updated_at: Some(timestamp(r.updated_at)),
        name: r.name,
        spec: Some(pb::RunnerSpec {
            desired_phase: r.desired_phase,
            configuration: Some(configuration),
            variant: r.variant,
        }),
        status: Some(status),
        creator: Some(pb::Subject {
            id: r.creator_id.to_string(),
            principal: r.creator_principal,
        }),
        kind: r.kind,
        provider: r.provider,
        runner_manager_id: r.runner_manager_id.map(|id| id.to_string()).unwrap_or_default(),
    }
}

pub fn policy(p: Policy) -> pb::RunnerPolicy {
    pb::RunnerPolicy {
        group_id: p.group_id.to_string(),
        role: p.role,
    }
}

pub fn environment_class(c: crate::store::environment_classes::EnvironmentClass) -> pb::EnvironmentClass {
    pb::EnvironmentClass {
        configuration: c
            .configuration()
            .into_iter()
            .map(|(key, value)| pb::FieldValue { key, value })
            .collect(),
        id: c.id.to_string(),
        display_name: c.display_name,
        description: c.description,
        runner_id: c.runner_id.to_string(),
        enabled: c.enabled,
    }
}

pub fn scm_integration(s: crate::store::scm_integrations::ScmIntegration) -> pb::ScmIntegration {
    let oauth = s
        .oauth_client_id
        .clone()
        .map(|client_id| pb::ScmIntegrationOAuthConfig {
            client_id,
            // the sealed secret: only this server's key opens it
            encrypted_client_secret: s.oauth_client_secret_encrypted.clone().unwrap_or_default(),
            issuer_url: s.issuer_url.clone().unwrap_or_default(),
        });
    pb::ScmIntegration {
        id: s.id.to_string(),
        scm_id: s.scm_id,
        host: s.host,
        oauth,
        pat: s.pat,
        runner_id: s.runner_id.to_string(),
        virtual_directory: s.virtual_directory,
    }
}

/// A host token's metadata; the token and refresh token never leave the server.
pub fn host_token(t: crate::store::host_tokens::HostToken) -> pb::HostAuthenticationToken {
    let scopes = t.scopes();
    #[allow(deprecated)]
    pb::HostAuthenticationToken {
        id: t.id.to_string(),
        runner_id: t.runner_id.to_string(),
        user_id: t.subject_id.to_string(),
        host: t.host,
        source: t.source,
        expires_at: t.expires_at.map(timestamp),
        integration_id: t.integration_id.map(|id| id.to_string()).unwrap_or_default(),
        scopes,
        subject: Some(pb::Subject {
            id: t.subject_id.to_string(),
            principal: t.subject_principal,
        }),
    }
}

pub fn llm_integration(l: crate::store::llm_integrations::LlmIntegration) -> pb::LlmIntegration {
    pb::LlmIntegration {
        models: l.models(),
        request_headers: l
            .request_headers()
            .into_iter()
            .map(|h| pb::LlmIntegrationRequestHeader {
                key: h.key,
                value: h.value,
                header_type: h.header_type,
            })
            .collect(),
        id: l.id.to_string(),
        runner_id: l.runner_id.to_string(),
        endpoint: l.endpoint,
        encrypted_api_key: l.api_key_encrypted.unwrap_or_default(),
        max_tokens: l.max_tokens.max(0) as u64,
        phase: l.phase,
        phase_reason: l.phase_reason,
        provider: l.provider,
    }
}

pub(crate) fn group(g: Group, members: i64) -> pb::Group {
    pb::Group {
        id: g.id.to_string(),
        organization_id: g.organization_id.to_string(),
        name: g.name,
        system_managed: false,
        created_at: Some(timestamp(g.created_at)),
        updated_at: Some(timestamp(g.updated_at.unwrap_or(g.created_at))),
        description: g.description,
        member_count: members.clamp(0, i32::MAX as i64) as i32,
        direct_share: false,
    }
}

pub(crate) fn group_membership(m: Member) -> pb::GroupMembership {
    pb::GroupMembership {
        id: m.membership.id.to_string(),
        subject: Some(pb::Subject {
            id: m.membership.user_id.to_string(),
            principal: pb::Principal::User as i32,
        }),
        group_id: m.membership.group_id.to_string(),
        name: m.name,
        avatar_url: String::new(),
    }
}

pub(crate) fn org_role_assignment(r: crate::store::org_roles::OrgRole) -> pb::RoleAssignment {
    pb::RoleAssignment {
        id: r.id.to_string(),
        group_id: r.group_id.to_string(),
        organization_id: r.organization_id.to_string(),
        resource_id: r.organization_id.to_string(),
        resource_type: pb::ResourceType::Organization as i32,
        resource_role: r.role,
        derived_from_org_role: None,
    }
}

pub(crate) fn runner_role_assignment(
    p: crate::store::policies::Policy,
    organization_id: uuid::Uuid,
) -> pb::RoleAssignment {
    pb::RoleAssignment {
        id: p.id.to_string(),
        group_id: p.group_id.to_string(),
        organization_id: organization_id.to_string(),
        resource_id: p.runner_id.to_string(),
        resource_type: pb::ResourceType::Runner as i32,
        resource_role: resource_role_of(p.role),
        derived_from_org_role: None,
    }
}

pub(crate) fn audit_log_entry(e: AuditEntry) -> pb::list_audit_logs_response::AuditLogEntry {
    pb::list_audit_logs_response::AuditLogEntry {
        id: e.id.to_string(),
        actor_id: e.actor_id.to_string(),
        actor_principal: e.actor_principal,
        subject_id: e.subject_id.to_string(),
        subject_type: e.subject_type,
        action: e.action,
        created_at: Some(timestamp(e.created_at)),
        kind: e.kind,
    }
}

pub(crate) fn fleet_state(s: State) -> paddock::FleetState {
    match s {
        State::NeverConnected => paddock::FleetState::NeverConnected,
        State::Active => paddock::FleetState::Active,
        State::Degraded => paddock::FleetState::Degraded,
        State::Inactive => paddock::FleetState::Inactive,
        State::Stale => paddock::FleetState::Stale,
        State::Deleting => paddock::FleetState::Deleting,
    }
}

pub(crate) fn version_drift(d: Drift) -> paddock::VersionDrift {
    match d {
        Drift::UpToDate => paddock::VersionDrift::UpToDate,
        Drift::Outdated => paddock::VersionDrift::Outdated,
        Drift::Unknown => paddock::VersionDrift::Unknown,
    }
}

pub(crate) fn organization_member(u: crate::store::members::Member) -> pb::OrganizationMember {
    pb::OrganizationMember {
        user_id: u.id.to_string(),
        role: if u.org_admin {
            pb::OrganizationRole::Admin
        } else {
            pb::OrganizationRole::Member
        } as i32,
        member_since: Some(timestamp(u.created_at)),
        avatar_url: String::new(),
        full_name: u.name,
        email: String::new(),
        status: pb::UserStatus::Active as i32,
        login_provider: String::new(),
    }
}

pub(crate) fn runner_token(t: RunnerToken) -> paddock::RunnerToken {
    let now = Utc::now();
    let kind = match TokenKind::parse(&t.kind) {
        Some(TokenKind::RunnerAccess) => paddock::RunnerTokenKind::Access,
        Some(TokenKind::RunnerExchange) => paddock::RunnerTokenKind::Exchange,
        _ => paddock::RunnerTokenKind::Unspecified,
    };
    paddock::RunnerToken {
        active: crate::store::runner_tokens::is_active(&t, now),
        id: t.id.to_string(),
        runner_id: t.runner_id.map(|r| r.to_string()).unwrap_or_default(),
        kind: kind as i32,
        created_at: Some(timestamp(t.created_at)),
        last_used_at: t.last_used_at.map(timestamp),
        expires_at: t.expires_at.map(timestamp),
        exchanged_at: t.used_at.map(timestamp),
        revoked_at: t.revoked_at.map(timestamp),
    }
}

pub(crate) fn user(u: crate::store::members::Member) -> pb::User {
    pb::User {
        id: u.id.to_string(),
        organization_id: u.organization_id.to_string(),
        name: u.name,
        avatar_url: String::new(),
        created_at: Some(timestamp(u.created_at)),
        // paddock's users are active while they exist
        status: pb::UserStatus::Active as i32,
        email: String::new(),
    }
}

pub(crate) fn personal_access_token(t: PersonalToken) -> pb::PersonalAccessToken {
    let user_id = t.user_id.map(|u| u.to_string()).unwrap_or_default();
    pb::PersonalAccessToken {
        id: t.id.to_string(),
        creator: Some(pb::Subject {
            id: user_id.clone(),
            principal: pb::Principal::User as i32,
        }),
        user_id,
        description: t.description,
        created_at: Some(timestamp(t.created_at)),
        expires_at: t.expires_at.map(timestamp),
        last_used: t.last_used_at.map(timestamp),
        read_only: t.read_only,
    }
}

/// gitpod.v1.RunnerRole ⇄ gitpod.v1.ResourceRole of a runner's role assignment.
const RUNNER_ROLES: [(pb::RunnerRole, pb::ResourceRole); 2] = [
    (pb::RunnerRole::Admin, pb::ResourceRole::RunnerAdmin),
    (pb::RunnerRole::User, pb::ResourceRole::RunnerUser),
];

pub(crate) fn runner_role_of(resource_role: i32) -> Option<i32> {
    RUNNER_ROLES
        .iter()
        .find(|(_, r)| *r as i32 == resource_role)
        .map(|(runner, _)| *runner as i32)
}

pub(crate) fn resource_role_of(runner_role: i32) -> i32 {
    RUNNER_ROLES
        .iter()
        .find(|(r, _)| *r as i32 == runner_role)
        .map_or(0, |(_, resource)| *resource as i32)
}

pub(crate) fn organization(o: crate::store::entities::organization::Model) -> pb::Organization {
    let created_at = Some(timestamp(o.created_at));
    pb::Organization {
        id: o.id.to_string(),
        name: o.name,
        updated_at: created_at,
        created_at,
        invite_domains: None,
        // self-hosted: every feature paddock has is there
        tier: pb::OrganizationTier::Enterprise as i32,
    }
}

/// A runner as the fleet page lists it; `last_lease` is the latest the
/// replica knows (written, or held and not yet written).
pub(crate) fn fleet_runner(
    r: Runner,
    view: &crate::store::fleet::FleetView,
    last_lease: Option<DateTime<Utc>>,
) -> paddock::FleetRunner {
    paddock::FleetRunner {
        state: fleet_state(view.state_of(&r)) as i32,
        last_lease_at: last_lease.map(timestamp),
        inactive_since: r.inactive_since.map(timestamp),
        drift: version_drift(view.drift_of(&r)) as i32,
        release_version: view.release_of(&r).unwrap_or_default().to_owned(),
        region: crate::store::fleet::region_of(&r).to_owned(),
        runner: Some(runner(r)),
    }
}

pub(crate) fn fleet_summary(
    counts: &crate::store::fleet::FleetCounts,
    regions: Vec<String>,
    stale_after: std::time::Duration,
) -> paddock::GetFleetSummaryResponse {
    use crate::store::runners::phase;
    paddock::GetFleetSummaryResponse {
        total: counts.total,
        active: counts.in_phase(phase::ACTIVE),
        inactive: counts.in_phase(phase::INACTIVE),
        degraded: counts.in_phase(phase::DEGRADED),
        deleting: counts.in_phase(phase::DELETING),
        never_connected: counts.in_phase(phase::CREATED),
        stale: counts.stale,
        outdated: counts.outdated,
        stale_after: Some(prost_types::Duration {
            seconds: i64::try_from(stale_after.as_secs()).unwrap_or(i64::MAX),
            nanos: 0,
        }),
        regions,
    }
}
