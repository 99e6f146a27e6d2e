//! CORS for browser clients (gRPC-Web and Connect), for the origins the
//! operator allows with `--cors-origin` (none by default).

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Request headers browsers may send: auth, Connect and gRPC-Web headers.
const ALLOWED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "content-encoding",
    "accept-encoding",
    "connect-protocol-version",
    "connect-timeout-ms",
    "connect-content-encoding",
    "connect-accept-encoding",
    "grpc-timeout",
    "x-grpc-web",
    "x-user-agent",
];

/// Response headers scripts may read: gRPC-Web status and Connect headers.
const EXPOSED_HEADERS: &[&str] = &[
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "grpc-encoding",
    "content-encoding",
    "connect-content-encoding",
    "connect-accept-encoding",
    "etag",
];

/// None when no origin is allowed: then no CORS headers are sent at all.
pub fn layer(origins: &[String]) -> anyhow::Result<Option<CorsLayer>> {
    if origins.is_empty() {
        return Ok(None);
    }
    let any = origins.iter().any(|o| o == "*");
    let allow_origin = if any {
        AllowOrigin::any()
    } else {
        let values = origins
            .iter()
            .map(|o| HeaderValue::from_str(o.trim_end_matches('/')))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("bad --cors-origin: {e}"))?;
        AllowOrigin::list(values)
    };
    let headers = |names: &[&'static str]| names.iter().map(|h| HeaderName::from_static(h)).collect::<Vec<_>>();
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers(headers(ALLOWED_HEADERS))
            .expose_headers(headers(EXPOSED_HEADERS))
            .max_age(Duration::from_secs(7200)),
    ))
}
