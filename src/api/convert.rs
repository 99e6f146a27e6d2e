//! Store models → gitpod.v1 messages.

use chrono::{DateTime, Utc};

use crate::protocol::proto::gitpod::v1 as pb;
use crate::store::policies::Policy;
use crate::store::runners::Runner;

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
