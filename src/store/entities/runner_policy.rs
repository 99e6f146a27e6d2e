use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "runner_policies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub runner_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub group_id: Uuid,
    /// A gitpod.v1.RunnerRole value.
    pub role: i32,
    pub created_at: DateTimeUtc,
    /// The policy as a role assignment (GroupService): its id (unique).
    pub id: Uuid,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
