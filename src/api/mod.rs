//! One module per gitpod.v1 service: thin tonic trait impls that validate,
//! authorize, call the store and map the result to protos.

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
