//! Store models → gitpod.v1 messages.

use chrono::{DateTime, Utc};

use crate::proto::gitpod::v1 as pb;
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
