use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// SHA-256 of the whole token; the token itself is never stored.
    pub hash: Vec<u8>,
    /// See `auth::tokens::TokenKind`.
    pub kind: String,
    pub organization_id: Uuid,
    pub user_id: Option<Uuid>,
    pub runner_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    /// What the owner said the token is for.
    pub description: String,
    /// A read-only token calls only side-effect-free RPCs.
    pub read_only: bool,
    /// When the token last authenticated a call, to within a minute or so
    /// (see `auth::usage`); `used_at` marks an exchange token as spent.
    pub last_used_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// A runner's token: authenticating it reads the runner in the same query.
    #[sea_orm(
        belongs_to = "super::runner::Entity",
        from = "Column::RunnerId",
        to = "super::runner::Column::Id"
    )]
    Runner,
}

impl Related<super::runner::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Runner.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
