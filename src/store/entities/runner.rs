use sea_orm::entity::prelude::*;

/// A runner: spec and configuration (written by users), status (written by
/// the runner). Enum columns hold the gitpod.v1 enum numbers.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "runners")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub kind: i32,
    pub provider: i32,
    pub runner_manager_id: Option<Uuid>,
    pub creator_id: Uuid,
    pub creator_principal: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    // spec
    pub desired_phase: i32,
    pub variant: i32,
    // spec.configuration
    pub region: String,
    pub release_channel: i32,
    pub auto_update: bool,
    pub metrics_enabled: bool,
    pub metrics_url: String,
    pub metrics_username: String,
    pub metrics_password_encrypted: Option<Vec<u8>>,
    pub metrics_managed_enabled: bool,
    pub metrics_include_verbose: bool,
    pub log_level: i32,
    pub devcontainer_image_cache_enabled: bool,
    pub update_window_start_hour: Option<i32>,
    pub update_window_end_hour: Option<i32>,
    pub honeycomb_api_key_encrypted: Option<Vec<u8>>,
    pub continuous_profiling: bool,
    // status
    pub phase: i32,
    pub status_updated_at: Option<DateTimeUtc>,
    pub status_version: String,
    pub status_system_details: String,
    pub status_log_url: String,
    pub status_message: String,
    pub status_region: String,
    /// JSON: [{"key": .., "value": ..}]
    pub status_additional_info: String,
    /// JSON: [capability numbers]
    pub status_capabilities: String,
    /// JSON: {"name", "url", "region", "latency_ms"} or "" when unknown
    pub status_gateway_info: String,
    pub status_llm_url: String,
    pub status_support_bundle_url: String,
    pub public_key: Option<Vec<u8>>,
    pub signed_up_at: Option<DateTimeUtc>,
    /// The last lease (MarkRunnerActive) written through; leases in between
    /// are batched in memory.
    pub lease_renewed_at: Option<DateTimeUtc>,
    /// When the liveness sweep found the lease run out (None unless INACTIVE).
    pub inactive_since: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
