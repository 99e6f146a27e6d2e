use sea_orm::entity::prelude::*;

/// A configuration schema a runner published for itself (protobuf-encoded
/// gitpod.v1.RunnerConfigurationSchema); it replaces the provider default.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "runner_configuration_schemas")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub runner_id: Uuid,
    pub schema: Vec<u8>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
