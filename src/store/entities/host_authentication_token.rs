use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "host_authentication_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub runner_id: Uuid,
    pub organization_id: Uuid,
    pub subject_id: Uuid,
    pub subject_principal: i32,
    pub host: String,
    /// Sealed with the server key; never the plaintext.
    pub token_encrypted: Vec<u8>,
    pub refresh_token_encrypted: Option<Vec<u8>>,
    pub source: i32,
    pub expires_at: Option<DateTimeUtc>,
    pub integration_id: Option<Uuid>,
    /// JSON: ["scope", ...]
    pub scopes: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
