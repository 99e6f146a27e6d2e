//! The browser console, served from this binary on the API's port: a page
//! and its ES modules (beside this file), compiled in. It calls the same public
//! API as any client (Connect JSON over fetch, WatchEvents as a Connect
//! stream); nothing here reads the database.
//!
//! It owns GET and HEAD of `/`, `/assets/…` and its page routes; every API
//! path (`/gitpod.v1.…`, `/paddock.v1.…`, `/grpc.…`, `/api/…`,
//! `/.well-known/…`, `/metrics`) passes through untouched.

use std::sync::LazyLock;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{Either, Full};
use tower::{Layer, Service};

use crate::protocol::answered::CallOrAnswer;

/// One file of the console, as it is and gzipped (compressed once, at the
/// first request: the scripts and styles shrink to about a third).
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    etag: HeaderValue,
    gzipped: Bytes,
    gzipped_etag: HeaderValue,
}

fn gzip(body: &[u8]) -> Bytes {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // writing to a Vec cannot fail
    let _ = encoder.write_all(body);
    Bytes::from(encoder.finish().unwrap_or_default())
}

/// Whether the request's Accept-Encoding takes gzip: named with a quality
/// above 0, or not named and `*` is (an explicit `gzip;q=0` refuses it).
fn accepts_gzip(accept_encoding: Option<&HeaderValue>) -> bool {
    let Some(value) = accept_encoding.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let quality_of = |wanted: &str| {
        value.split(',').find_map(|part| {
            let mut pieces = part.split(';').map(str::trim);
            let coding = pieces.next().unwrap_or_default();
            coding.eq_ignore_ascii_case(wanted).then(|| {
                pieces
                    .find_map(|p| p.strip_prefix("q="))
                    .map_or(1.0, |q| q.trim().parse::<f32>().unwrap_or(0.0))
            })
        })
    };
    quality_of("gzip").or_else(|| quality_of("*")).is_some_and(|q| q > 0.0)
}

macro_rules! asset {
    ($path:literal, $file:literal, $type:literal) => {
        ($path, $type, include_bytes!($file).as_slice())
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
        asset!("/assets/runner.js", "runner.js", "text/javascript; charset=utf-8"),
        asset!("/assets/create.js", "create.js", "text/javascript; charset=utf-8"),
        asset!("/assets/people.js", "people.js", "text/javascript; charset=utf-8"),
        asset!("/assets/audit.js", "audit.js", "text/javascript; charset=utf-8"),
    ]
    .into_iter()
    .map(|(path, content_type, body)| {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(body);
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        let tag = |suffix: &str| {
            HeaderValue::from_str(&format!("\"{hex}{suffix}\"")).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
        };
        Asset {
            path,
            content_type,
            body,
            etag: tag(""),
            gzipped: gzip(body),
            // another representation, another tag
            gzipped_etag: tag("-gzip"),
        }
    })
    .collect()
});

/// The page's routes (the address bar's paths): each answers the page,
/// whose script shows the right view.
const PAGE_ROUTES: &[&str] = &["/sign-in", "/fleet", "/runners", "/groups", "/audit", "/tokens"];

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

fn respond(asset: &Asset, request: &http::HeaderMap, head: bool) -> Response<Full<Bytes>> {
    let gzipped = accepts_gzip(request.get(ACCEPT_ENCODING));
    let (etag, full) = if gzipped {
        (&asset.gzipped_etag, asset.gzipped.clone())
    } else {
        (&asset.etag, Bytes::from_static(asset.body))
    };
    let unchanged = request.get(IF_NONE_MATCH).is_some_and(|e| e == etag);
    let body = if unchanged || head { Bytes::new() } else { full };
    let mut response = Response::new(Full::new(body));
    if unchanged {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
    }
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(ETAG, etag.clone());
    headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    if gzipped {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
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
            return CallOrAnswer::answer(respond(asset, request.headers(), head));
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
        for page in [
            "/runners/new",
            "/groups",
            "/groups/019a",
            "/audit",
            "/tokens",
            "/sign-in",
        ] {
            assert_eq!(asset_for(page).map(|a| a.path), Some("/"), "{page}");
        }
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

    #[test]
    fn gzip_is_sent_to_whoever_takes_it() {
        for (header, takes) in [
            ("gzip, deflate, br", true),
            ("br;q=1.0, gzip;q=0.5", true),
            ("*", true),
            ("gzip;q=0", false),
            ("gzip;q=0, *", false),
            ("br, *;q=0.1", true),
            ("gzip; q=0.0", false),
            ("identity", false),
            ("", false),
        ] {
            assert_eq!(accepts_gzip(Some(&HeaderValue::from_static(header))), takes, "{header}");
        }
        assert!(!accepts_gzip(None));
        let app = asset_for("/assets/app.js").unwrap();
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&app.gzipped[..]), &mut plain).unwrap();
        assert_eq!(plain, app.body);
        assert!(app.gzipped.len() < app.body.len() / 2);
        assert_ne!(app.etag, app.gzipped_etag);
    }

    /// A module added to src/server/console/ but not to ASSETS would be a 404 in
    /// the browser, found only there.
    #[test]
    fn every_file_of_the_console_is_served() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/server/console");
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name == "mod.rs" {
                continue;
            }
            let path = if name == "index.html" {
                "/".to_owned()
            } else {
                format!("/assets/{name}")
            };
            assert!(asset_for(&path).is_some(), "{name} is not in ASSETS");
        }
    }
}
