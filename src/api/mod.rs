//! The services, one folder each: `mod.rs` its `service!` table, its resources in files of their own.
//! May import: auth, fleet, store, base, protocol.
//!
//! A handler is `async fn(&AppState, Principal, Request) -> Result<Response>` and does, in this order:
//! validate → authorize (a capability from `auth::access`) → store → map to protos (`convert`).

pub mod convert;
pub mod event;
pub mod fleet;
pub mod group;
pub mod identity;
pub mod organization;
pub mod runner;
pub mod runner_configuration;
pub mod runner_interaction;
pub mod runner_tokens;
pub mod state;
pub mod user;
pub mod validate;

use tonic::{Request, Status};

use crate::api::validate::Violations;
use crate::auth::Principal;
use crate::base::error::{Error, Result};
use crate::base::pagination::{Page, PageTokens};
use crate::base::secrets::Secrets;
use crate::protocol::proto::gitpod::v1::{PaginationRequest, PaginationResponse};

/// The caller, as the auth layer put it into the request.
pub(crate) fn principal<T>(request: &Request<T>) -> Result<Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| Error::Unauthenticated("no credentials".into()).into())
}

/// The token a call was authenticated with (by its hash).
pub(crate) fn credential<T>(request: &Request<T>) -> Result<crate::auth::layer::Credential, Status> {
    request
        .extensions()
        .get::<crate::auth::layer::Credential>()
        .copied()
        .ok_or_else(|| Error::Unauthenticated("no credentials".into()).into())
}

/// A runner's call about itself: the caller, and the runner as read while
/// authenticating (None when the token came from the cache).
pub(crate) struct RunnerCaller {
    pub principal: Principal,
    pub known: Option<crate::auth::layer::RunnerAsAuthenticated>,
}

pub(crate) fn runner_caller<T>(request: &Request<T>) -> Result<RunnerCaller, Status> {
    Ok(RunnerCaller {
        principal: principal(request)?,
        known: request
            .extensions()
            .get::<crate::auth::layer::RunnerAsAuthenticated>()
            .cloned(),
    })
}

/// What a server-streaming handler answers: its messages, or a status that
/// ends the stream.
pub type ServerStream<T> = tonic::codegen::BoxStream<T>;

/// `PaginationRequest.page_size`'s rule, for every list request.
pub(crate) fn check_page_size(v: &mut Violations, pagination: Option<&PaginationRequest>) {
    v.page_size("pagination.page_size", pagination.map_or(0, |p| p.page_size));
}

/// A request whose only rule is one id field (`string.uuid`).
pub(crate) fn require_uuid(field: &str, value: &str) -> Result<uuid::Uuid> {
    let mut v = Violations::new();
    let id = v.uuid(field, value);
    v.finish(id)
}

/// Every keyset-paged list: reads the request's page (size and signed token,
/// bound to `list` and to the filter's canonical form `filter`), fetches one
/// row more than the page, and answers the rows with the next page's token.
pub(crate) async fn keyset_page<T, Fut>(
    secrets: &Secrets,
    list: &str,
    filter: &impl std::fmt::Debug,
    pagination: Option<PaginationRequest>,
    key: impl Fn(&T) -> uuid::Uuid,
    fetch: impl FnOnce(Page) -> Fut,
) -> Result<(Vec<T>, Option<PaginationResponse>)>
where
    Fut: std::future::Future<Output = Result<Vec<T>>>,
{
    let pagination = pagination.unwrap_or_default();
    let tokens = PageTokens::new(secrets, list, format!("{filter:?}"));
    let page = tokens.page(pagination.page_size, &pagination.token)?;
    let mut rows = fetch(page).await?;
    let next_token = tokens.next_token(&mut rows, page, key);
    Ok((rows, Some(PaginationResponse { next_token })))
}

/// A gitpod.v1 service as a table: each line an RPC of the tonic trait, its
/// request and response types (in `proto::gitpod::v1`) and the handler that
/// serves it. The handler gets the caller the auth layer authenticated;
/// `#[public]` RPCs carry their own credential and get no caller; `#[runner]`
/// RPCs (a runner calling about itself) get a `RunnerCaller`; `@stream` RPCs
/// get the caller's credential too (streams are counted per token) and
/// answer a `ServerStream`.
/// RPCs not in the table answer UNIMPLEMENTED (tonic's default stubs).
macro_rules! service {
    // a gitpod.v1 service (the messages of `proto::gitpod::v1`)
    (
        $(#[$doc:meta])*
        $api:ident: $trait:path {
            $($body:tt)*
        }
    ) => {
        $crate::api::service! {
            $(#[$doc])*
            package gitpod::v1;
            $api: $trait { $($body)* }
        }
    };
    // a service of another package (paddock.v1: `proto::paddock::v1`)
    (
        $(#[$doc:meta])*
        package $pkg:ident :: $ver:ident;
        $api:ident: $trait:path {
            $( $(#[$public:ident])? $rpc:ident($req:ident) -> $resp:ident = $handler:path; )*
            $( @stream $srpc:ident($sreq:ident) -> $sresp:ident = $shandler:path; )*
        }
    ) => {
        $(#[$doc])*
        pub struct $api {
            state: $crate::api::state::AppState,
        }

        impl $api {
            pub fn new(state: $crate::api::state::AppState) -> Self {
                $api { state }
            }
        }

        #[tonic::async_trait]
        impl $trait for $api {
            $(
                async fn $rpc(
                    &self,
                    request: tonic::Request<$crate::protocol::proto::$pkg::$ver::$req>,
                ) -> Result<tonic::Response<$crate::protocol::proto::$pkg::$ver::$resp>, tonic::Status> {
                    let response = $crate::api::service!(@call [$($public)?] $handler, &self.state, request);
                    Ok(tonic::Response::new(response))
                }
            )*
            $(
                async fn $srpc(
                    &self,
                    request: tonic::Request<$crate::protocol::proto::$pkg::$ver::$sreq>,
                ) -> Result<tonic::Response<$crate::api::ServerStream<$crate::protocol::proto::$pkg::$ver::$sresp>>, tonic::Status> {
                    let caller = $crate::api::principal(&request)?;
                    let credential = $crate::api::credential(&request)?;
                    let response = $shandler(&self.state, caller, credential, request.into_inner()).await?;
                    Ok(tonic::Response::new(response))
                }
            )*
        }
    };
    (@call [] $handler:path, $state:expr, $request:ident) => {{
        let caller = $crate::api::principal(&$request)?;
        $handler($state, caller, $request.into_inner()).await?
    }};
    (@call [public] $handler:path, $state:expr, $request:ident) => {
        $handler($state, $request.into_inner()).await?
    };
    (@call [runner] $handler:path, $state:expr, $request:ident) => {{
        let caller = $crate::api::runner_caller(&$request)?;
        $handler($state, caller, $request.into_inner()).await?
    }};
}
pub(crate) use service;
