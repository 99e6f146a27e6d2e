use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_logs")]
pub struct Model {
    /// UUIDv7: id order is time order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organization_id: Uuid,
    pub actor_id: Uuid,
    /// A gitpod.v1.Principal value.
    pub actor_principal: i32,
    pub subject_id: Uuid,
    /// A gitpod.v1.ResourceType value.
    pub subject_type: i32,
    /// e.g. `runner.update`
    pub action: String,
    /// A gitpod.v1.AuditLogEntryKind value.
    pub kind: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
