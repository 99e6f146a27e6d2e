use sea_orm::entity::prelude::*;

/// A key paddock signs JWTs with. The newest unretired key signs; retired
/// keys stay published until the tokens they signed have expired.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    /// The JWT `kid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The PKCS#8 private key, sealed with the server's secret key.
    pub sealed_private_key: Vec<u8>,
    /// The public key as a JWK (JSON), as the JWKS document serves it.
    pub public_jwk: String,
    pub created_at: DateTimeUtc,
    pub retired_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
