//! Authentication before dispatch: every gitpod.v1 call but the token
//! exchange needs a live bearer token, whether or not its RPC is implemented.
//! The principal goes into the request's extensions for the handlers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use chrono::Utc;
use http::{HeaderMap, Request, Response};
use tonic::Status;
use tower::{Layer, Service};

use super::cache::TokenCache;
use super::{Principal, tokens};
use crate::error::Error;
use crate::store::{self, Db};

/// Calls that carry their own credential.
const PUBLIC_METHODS: &[&str] = &["/gitpod.v1.IdentityService/ExchangeToken"];

fn needs_authentication(path: &str) -> bool {
    path.starts_with("/gitpod.v1.") && !PUBLIC_METHODS.contains(&path)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The caller, and for a runner's token not found in the cache its runner
/// as read while authenticating.
async fn authenticate(
    db: &Db,
    cache: &TokenCache,
    headers: &HeaderMap,
) -> Result<(Principal, Option<RunnerAsAuthenticated>), Error> {
    let token = bearer(headers).ok_or_else(|| Error::Unauthenticated("missing bearer token".into()))?;
    let hash = tokens::hash(token);
    if let Some(known) = cache.get(&hash) {
        return Ok((known, None));
    }
    let found = store::tokens::authenticate(db, &hash, Utc::now())
        .await?
        .ok_or_else(|| Error::Unauthenticated("invalid or expired token".into()))?;
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
}

impl AuthLayer {
    pub fn new(db: Db, cache: Arc<TokenCache>) -> Self {
        AuthLayer { db, cache }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate {
            inner,
            db: self.db.clone(),
            cache: self.cache.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Authenticate<S> {
    inner: S,
    db: Db,
    cache: Arc<TokenCache>,
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
        Box::pin(async move {
            if needs_authentication(request.uri().path()) {
                match authenticate(&db, &cache, request.headers()).await {
                    Ok((principal, runner)) => {
                        request.extensions_mut().insert(principal);
                        if let Some(runner) = runner {
                            request.extensions_mut().insert(runner);
                        }
                    }
                    Err(e) => return Ok(Status::from(e).into_http()),
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
    fn only_the_exchange_is_public() {
        assert!(needs_authentication("/gitpod.v1.RunnerService/GetRunner"));
        assert!(needs_authentication("/gitpod.v1.RunnerService/NoSuchMethod"));
        assert!(!needs_authentication("/gitpod.v1.IdentityService/ExchangeToken"));
        assert!(!needs_authentication("/grpc.health.v1.Health/Check"));
    }
}
