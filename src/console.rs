//! The browser console, served from this binary on the API's port: a page
//! and its ES modules (src/console/), compiled in. It calls the same public
//! API as any client (Connect JSON over fetch, WatchEvents as a Connect
//! stream); nothing here reads the database.
//!
//! It owns GET and HEAD of `/`, `/assets/…` and its page routes; every API
//! path (`/gitpod.v1.…`, `/paddock.v1.…`, `/grpc.…`, `/api/…`,
//! `/.well-known/…`, `/metrics`) passes through untouched.

use std::sync::LazyLock;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{Either, Full};
use tower::{Layer, Service};

use crate::protocol::answered::CallOrAnswer;

/// One file of the console.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    etag: HeaderValue,
}

macro_rules! asset {
    ($path:literal, $file:literal, $type:literal) => {
        ($path, $type, include_bytes!(concat!("console/", $file)).as_slice())
    };
}

/// Every file, with a strong ETag of its content (computed once).
static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    [
        asset!("/", "index.html", "text/html; charset=utf-8"),
        asset!("/assets/style.css", "style.css", "text/css; charset=utf-8"),
        asset!("/assets/api.js", "api.js", "text/javascript; charset=utf-8"),
        asset!("/assets/app.js", "app.js", "text/javascript; charset=utf-8"),
        asset!("/assets/fleet.js", "fleet.js", "text/javascript; charset=utf-8"),
        asset!("/assets/format.js", "format.js", "text/javascript; charset=utf-8"),
    ]
    .into_iter()
    .map(|(path, content_type, body)| {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(body);
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        Asset {
            path,
            content_type,
            body,
            etag: HeaderValue::from_str(&format!("\"{hex}\"")).unwrap_or_else(|_| HeaderValue::from_static("\"0\"")),
        }
    })
    .collect()
});

/// The page's routes (the address bar's paths): each answers the page,
/// whose script shows the right view.
const PAGE_ROUTES: &[&str] = &["/sign-in", "/fleet", "/runners"];

/// Scripts, styles and calls only from this origin; nothing inline, no
/// framing, no referrer (a page's URL never holds a token, but may hold ids).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn asset_for(path: &str) -> Option<&'static Asset> {
    let page = PAGE_ROUTES
        .iter()
        .any(|route| path == *route || path.strip_prefix(route).is_some_and(|rest| rest.starts_with('/')));
    let path = if page { "/" } else { path };
    ASSETS.iter().find(|a| a.path == path)
}

fn respond(asset: &Asset, request_etag: Option<&HeaderValue>, head: bool) -> Response<Full<Bytes>> {
    let unchanged = request_etag.is_some_and(|e| e == asset.etag);
    let body = if unchanged || head {
        Bytes::new()
    } else {
        Bytes::from_static(asset.body)
    };
    let mut response = Response::new(Full::new(body));
    if unchanged {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
    }
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(ETAG, asset.etag.clone());
    // revalidated each time (a 304 when unchanged): a new paddock's console is never stale
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleLayer;

impl<S> Layer<S> for ConsoleLayer {
    type Service = Console<S>;

    fn layer(&self, inner: S) -> Console<S> {
        Console { inner }
    }
}

#[derive(Debug, Clone)]
pub struct Console<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Console<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<Either<ResBody, Full<Bytes>>>;
    type Error = S::Error;
    type Future = CallOrAnswer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let method = request.method();
        if (method == Method::GET || method == Method::HEAD)
            && let Some(asset) = asset_for(request.uri().path())
        {
            let head = method == Method::HEAD;
            return CallOrAnswer::answer(respond(asset, request.headers().get(IF_NONE_MATCH), head));
        }
        CallOrAnswer::call(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_owns_its_pages_and_nothing_of_the_api() {
        assert_eq!(asset_for("/").map(|a| a.path), Some("/"));
        assert_eq!(asset_for("/fleet").map(|a| a.path), Some("/"));
        assert_eq!(asset_for("/runners/019a").map(|a| a.path), Some("/"));
        assert_eq!(asset_for("/assets/app.js").map(|a| a.path), Some("/assets/app.js"));
        for api in [
            "/gitpod.v1.RunnerService/ListRunners",
            "/api/gitpod.v1.RunnerService/ListRunners",
            "/paddock.v1.FleetService/GetFleetSummary",
            "/grpc.health.v1.Health/Check",
            "/.well-known/jwks.json",
            "/metrics",
            "/fleetx",
            "/assets/missing.js",
        ] {
            assert!(asset_for(api).is_none(), "{api}");
        }
    }
}
