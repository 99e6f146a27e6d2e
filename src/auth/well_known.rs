//! The OIDC discovery documents, served on the API's port next to it:
//! `/.well-known/openid-configuration` and the JWKS it points to. A cloud
//! provider's OIDC federation (or a runner's log endpoint) fetches them to
//! verify the tokens paddock signs, without any secret shared.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use tonic::body::Body;
use tower::{Layer, Service};

use crate::auth::signing::KeyRing;

pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
pub const JWKS: &str = "/.well-known/jwks.json";

#[derive(Clone)]
pub struct WellKnownLayer {
    keys: Arc<KeyRing>,
}

impl WellKnownLayer {
    pub fn new(keys: Arc<KeyRing>) -> Self {
        WellKnownLayer { keys }
    }
}

impl<S> Layer<S> for WellKnownLayer {
    type Service = WellKnown<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WellKnown {
            inner,
            keys: self.keys.clone(),
        }
    }
}

#[derive(Clone)]
pub struct WellKnown<S> {
    inner: S,
    keys: Arc<KeyRing>,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

fn json(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::new(http_body_util::Full::new(Bytes::from(body.to_string()))));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // verifiers cache them: a new key is published for longer than this
    // before it signs (`signing::PUBLISHED_BEFORE_SIGNING`)
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    response
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for WellKnown<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    ReqBody: Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<tower::BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let path = request.uri().path();
        let document = if path == OPENID_CONFIGURATION {
            Some(self.keys.openid_configuration())
        } else if path == JWKS {
            serde_json::to_value(self.keys.jwks()).ok()
        } else {
            None
        };
        if let Some(document) = document {
            let response = if request.method() == Method::GET || request.method() == Method::HEAD {
                json(StatusCode::OK, &document)
            } else {
                let mut r = json(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &serde_json::json!({"error": "GET only"}),
                );
                r.headers_mut()
                    .insert(http::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
                r
            };
            return Box::pin(async move { Ok(response) });
        }
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move { Ok(inner.call(request).await?.map(Body::new)) })
    }
}
