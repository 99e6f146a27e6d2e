//! Authentication before dispatch: every gitpod.v1 and paddock.v1 call but the token
//! exchange needs a live bearer token, whether or not its RPC is implemented.
//! The principal goes into the request's extensions for the handlers.

use std::collections::HashSet;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};

use chrono::Utc;
use http::{HeaderMap, Request, Response};
use tonic::Status;
use tower::{Layer, Service};

use prost::Message;

use super::cache::TokenCache;
use super::usage::UsageBook;
use super::{Principal, tokens};
use crate::auth::limits::{Limits, OverLimit};
use crate::base::error::Error;
use crate::store::{self, Db};

const EXCHANGE_TOKEN: &str = "/gitpod.v1.IdentityService/ExchangeToken";

/// Calls that carry their own credential.
const PUBLIC_METHODS: &[&str] = &[EXCHANGE_TOKEN];

fn needs_authentication(path: &str) -> bool {
    (path.starts_with("/gitpod.v1.") || path.starts_with("/paddock.v1.")) && !PUBLIC_METHODS.contains(&path)
}

/// The RPCs a read-only token may call: those declared free of side effects
/// (NO_SIDE_EFFECTS), and watches (server streams that only read).
fn read_methods() -> &'static HashSet<String> {
    static METHODS: LazyLock<HashSet<String>> = LazyLock::new(|| {
        let Ok(set) = prost_types::FileDescriptorSet::decode(crate::protocol::proto::FILE_DESCRIPTOR_SET) else {
            return HashSet::new();
        };
        let mut methods = HashSet::new();
        for file in &set.file {
            for service in &file.service {
                for method in &service.method {
                    let no_side_effects = method.options.as_ref().is_some_and(|o| {
                        o.idempotency_level() == prost_types::method_options::IdempotencyLevel::NoSideEffects
                    });
                    let watch = method.server_streaming() && !method.client_streaming();
                    if no_side_effects || watch {
                        methods.insert(format!("/{}.{}/{}", file.package(), service.name(), method.name()));
                    }
                }
            }
        }
        methods
    });
    &METHODS
}

/// PERMISSION_DENIED for a read-only token calling an RPC that may change something.
fn check_read_only(principal: &Principal, path: &str) -> Result<(), Error> {
    if principal.read_only() && !read_methods().contains(path) {
        return Err(Error::PermissionDenied(
            "this personal access token is read-only: it may call only RPCs without side effects".into(),
        ));
    }
    Ok(())
}

#[doc(hidden)] // public for the fuzz harness (tests/fuzz)
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The bearer token a call was authenticated with (its hash): what the
/// limits on one token's open streams count by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credential(pub [u8; 32]);

/// The caller, and for a runner's token not found in the cache its runner
/// as read while authenticating.
///
/// A token verified moments ago (in the cache) is served whatever the
/// limits say, so that a client behind the address of a guesser keeps
/// working; any other call from an address, or with a token, that failed
/// too often lately is refused before the database is asked, and each
/// failure counts against both.
async fn authenticate(
    db: &Db,
    cache: &TokenCache,
    usage: &UsageBook,
    limits: &Limits,
    client: Option<IpAddr>,
    hash: Option<[u8; 32]>,
) -> Result<(Principal, Option<RunnerAsAuthenticated>), Error> {
    if let Some(known) = hash.and_then(|h| cache.get(&h)) {
        crate::base::metrics::record_token_cache(true);
        return Ok((known, None));
    }
    let over = |limited: Result<(), OverLimit>| {
        limited.map_err(|over| {
            Error::ResourceExhausted(
                "too many failed authentications: wait before trying again".into(),
                over.retry_after,
            )
        })
    };
    if let Some(client) = client {
        over(limits.failed_auth_by_address.check(&client))?;
    }
    if let Some(hash) = hash {
        over(limits.failed_auth_by_token.check(&hash))?;
    }
    let failed = |why: &str| {
        if let Some(client) = client {
            let _ = limits.failed_auth_by_address.spend(&client);
        }
        if let Some(hash) = hash {
            let _ = limits.failed_auth_by_token.spend(&hash);
        }
        Error::Unauthenticated(why.into())
    };
    let Some(hash) = hash else {
        return Err(failed("missing bearer token"));
    };
    crate::base::metrics::record_token_cache(false);
    let now = Utc::now();
    let found = store::tokens::authenticate(db, &hash, now)
        .await?
        .ok_or_else(|| failed("invalid or expired token"))?;
    usage.note(found.token_id, found.last_used_at, now);
    cache.put(hash, found.principal.clone(), found.expires_at);
    Ok((
        found.principal,
        found.runner.map(|r| RunnerAsAuthenticated(Arc::new(r))),
    ))
}

/// A runner read in the query that authenticated its token, moments ago in
/// this same call: the runner's own RPCs use it instead of reading it again.
#[derive(Debug, Clone)]
pub struct RunnerAsAuthenticated(pub Arc<store::runners::Runner>);

#[derive(Clone)]
pub struct AuthLayer {
    db: Db,
    cache: Arc<TokenCache>,
    usage: Arc<UsageBook>,
    limits: Arc<Limits>,
}

impl AuthLayer {
    pub fn new(db: Db, cache: Arc<TokenCache>, usage: Arc<UsageBook>, limits: Arc<Limits>) -> Self {
        AuthLayer {
            db,
            cache,
            usage,
            limits,
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate {
            inner,
            db: self.db.clone(),
            cache: self.cache.clone(),
            usage: self.usage.clone(),
            limits: self.limits.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Authenticate<S> {
    inner: S,
    db: Db,
    cache: Arc<TokenCache>,
    usage: Arc<UsageBook>,
    limits: Arc<Limits>,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Authenticate<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    ReqBody: Send + 'static,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The clone that was polled ready serves this call (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let db = self.db.clone();
        let cache = self.cache.clone();
        let usage = self.usage.clone();
        let limits = self.limits.clone();
        Box::pin(async move {
            let client = crate::auth::limits::client_address(request.extensions());
            if request.uri().path() == EXCHANGE_TOKEN
                && let Some(client) = client
                && let Err(over) = limits.exchange_by_address.spend(&client)
            {
                let refused = Error::ResourceExhausted(
                    "too many token exchanges from this address: wait before trying again".into(),
                    over.retry_after,
                );
                return Ok(Status::from(refused).into_http());
            }
            if needs_authentication(request.uri().path()) {
                let hash = bearer(request.headers()).map(tokens::hash);
                let authenticated =
                    authenticate(&db, &cache, &usage, &limits, client, hash)
                        .await
                        .and_then(|(principal, runner)| {
                            check_read_only(&principal, request.uri().path())?;
                            Ok((principal, runner))
                        });
                match (authenticated, hash) {
                    (Ok((principal, runner)), Some(hash)) => {
                        request.extensions_mut().insert(principal);
                        request.extensions_mut().insert(Credential(hash));
                        if let Some(runner) = runner {
                            request.extensions_mut().insert(runner);
                        }
                    }
                    (Err(e), _) => return Ok(Status::from(e).into_http()),
                    (Ok(_), None) => {
                        return Ok(Status::unauthenticated("missing bearer token").into_http());
                    }
                }
            }
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
        h.insert("authorization", "Bearer ".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn read_only_tokens_call_only_reads() {
        assert!(read_methods().contains("/gitpod.v1.RunnerService/ListRunners"));
        assert!(read_methods().contains("/gitpod.v1.EventService/WatchEvents"));
        assert!(!read_methods().contains("/gitpod.v1.RunnerService/UpdateRunner"));
        assert!(!read_methods().contains("/gitpod.v1.UserService/CreatePersonalAccessToken"));
    }

    #[test]
    fn only_the_exchange_is_public() {
        assert!(needs_authentication("/gitpod.v1.RunnerService/GetRunner"));
        assert!(needs_authentication("/gitpod.v1.RunnerService/NoSuchMethod"));
        assert!(needs_authentication("/paddock.v1.RunnerTokenService/ListRunnerTokens"));
        assert!(!needs_authentication("/gitpod.v1.IdentityService/ExchangeToken"));
        assert!(!needs_authentication("/grpc.health.v1.Health/Check"));
    }
}
