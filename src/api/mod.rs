//! One module per gitpod.v1 service: thin tonic trait impls that validate,
//! authorize, call the store and map the result to protos.

pub mod context;
pub mod convert;
pub mod identity;
pub mod runner;
pub mod runner_configuration;

use tonic::{Request, Status};

use crate::auth::Principal;
use crate::error::Error;

/// The caller, as the auth layer put it into the request.
pub(crate) fn principal<T>(request: &Request<T>) -> Result<Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| Error::Unauthenticated("no credentials".into()).into())
}

/// A request's one id field, checked as buf.validate's `string.uuid`.
pub(crate) fn require_uuid(field: &str, value: &str) -> Result<uuid::Uuid, Error> {
    let mut v = crate::validate::Violations::new();
    let id = v.uuid(field, value);
    v.finish()?;
    id.ok_or_else(|| Error::invalid(field, "value must be a valid UUID"))
}

/// Keyset-paged listing over a store query: validates the page size, reads
/// the token, fetches one extra row and makes the next token.
pub(crate) async fn page_of<T, F, Fut>(
    secrets: &crate::secrets::Secrets,
    scope: &str,
    filter: String,
    pagination: Option<crate::proto::gitpod::v1::PaginationRequest>,
    key: impl Fn(&T) -> uuid::Uuid,
    fetch: F,
) -> Result<(Vec<T>, crate::proto::gitpod::v1::PaginationResponse), Error>
where
    F: FnOnce(crate::pagination::Page) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, Error>>,
{
    let pagination = pagination.unwrap_or_default();
    let tokens = crate::pagination::PageTokens::new(secrets, scope, filter);
    let page = tokens.page(pagination.page_size, &pagination.token)?;
    let mut rows = fetch(page).await?;
    let next_token = tokens.next_token(&mut rows, page, key);
    Ok((rows, crate::proto::gitpod::v1::PaginationResponse { next_token }))
}
