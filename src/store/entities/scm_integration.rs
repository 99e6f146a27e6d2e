use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scm_integrations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub runner_id: Uuid,
    pub organization_id: Uuid,
    pub scm_id: String,
    pub host: String,
    pub oauth_client_id: Option<String>,
    /// Sealed with the server key; never the plaintext.
    pub oauth_client_secret_encrypted: Option<Vec<u8>>,
    pub issuer_url: Option<String>,
    pub pat: bool,
    pub virtual_directory: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
