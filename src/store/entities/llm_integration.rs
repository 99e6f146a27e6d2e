use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "llm_integrations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub runner_id: Uuid,
    pub organization_id: Uuid,
    /// JSON: [SupportedModel numbers]
    pub models: String,
    pub endpoint: String,
    /// Sealed with the server key; never the plaintext.
    pub api_key_encrypted: Option<Vec<u8>>,
    pub max_tokens: i64,
    pub phase: i32,
    pub phase_reason: String,
    /// JSON: [{"key", "value" (base64), "header_type"}]
    pub request_headers: String,
    pub provider: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
