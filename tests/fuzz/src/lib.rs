//! Entry points the fuzz targets (tests/fuzz) drive: each takes arbitrary
//! bytes and runs one parser paddock exposes to clients.
//!
//! Every entry drives the real code the server runs — the Connect layer in
//! front of an in-process echo service, `context_url::parse`,
//! `PageTokens::page`, the bearer-token reader — and then checks what must
//! hold whatever the input (a panic is a finding): Connect answers are
//! well-formed JSON or well-formed envelope streams, a page token is
//! accepted only in the form paddock writes, a parsed context URL clones
//! from the host it names, and so on. docs/fuzzing.md says how to run them.
//!
//! Each entry's input layout is documented on it; the seeds under
//! tests/fuzz/seeds/<entry>/ are examples, and tests/integration/fuzz_seeds.rs replays them in `cargo test`.

use std::convert::Infallible;
use std::future::Future;
use std::io::{Read, Write};
use std::sync::LazyLock;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use tonic::body::Body;
use tower::{Layer, Service, ServiceExt};
use uuid::Uuid;

use paddock::api::runner::scm::context_url;
use paddock::api::runner::scm::{AZURE_DEVOPS, BITBUCKET, GITHUB, GITLAB, ScmHost};
use paddock::auth::cache::TokenCache;
use paddock::auth::tokens::TokenKind;
use paddock::base::pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageTokens};
use paddock::base::principal::Principal;
use paddock::base::secrets::{SecretKey, Secrets};
use paddock::protocol::connect::{ConnectLayer, Routes};

/// The descriptor sets of everything the server serves.
use paddock::server::services::DESCRIPTOR_SETS;

/// The routes of those services, sorted, so that an input byte picks one.
pub struct RouteLists {
    pub all: Vec<String>,
    /// Neither client nor server streaming: what the unary protocol may call.
    pub unary: Vec<String>,
    /// Unary and NO_SIDE_EFFECTS: what GET may call.
    pub get: Vec<String>,
}

pub static ROUTES: LazyLock<RouteLists> = LazyLock::new(|| {
    let mut pool = prost_reflect::DescriptorPool::new();
    for set in DESCRIPTOR_SETS {
        pool.decode_file_descriptor_set(*set)
            .expect("the embedded descriptor sets decode");
    }
    let mut lists = RouteLists {
        all: Vec::new(),
        unary: Vec::new(),
        get: Vec::new(),
    };
    for service in pool.services() {
        for method in service.methods() {
            let route = format!("/{}/{}", service.full_name(), method.name());
            let streaming = method.is_client_streaming() || method.is_server_streaming();
            let no_side_effects =
                method.method_descriptor_proto().options.as_ref().is_some_and(|o| {
                    o.idempotency_level() == prost_types::method_options::IdempotencyLevel::NoSideEffects
                });
            if !streaming {
                lists.unary.push(route.clone());
                if no_side_effects {
                    lists.get.push(route.clone());
                }
            }
            lists.all.push(route);
        }
    }
    for list in [&mut lists.all, &mut lists.unary, &mut lists.get] {
        list.sort();
        list.dedup();
    }
    lists
});

/// The route `selector` picks from `list`.
fn pick(list: &[String], selector: u8) -> &str {
    if list.is_empty() {
        return "/";
    }
    &list[usize::from(selector) % list.len()]
}

static CONNECT: LazyLock<ConnectLayer> = LazyLock::new(|| {
    ConnectLayer::new(Routes::new(DESCRIPTOR_SETS).expect("the embedded descriptor sets make routes"))
});

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
}

fn block_on<F: Future>(future: F) -> F::Output {
    RUNTIME.with(|runtime| runtime.block_on(future))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

pub fn gunzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out)?;
    Ok(out)
}

/// The gRPC service behind the Connect layer: answers each request with its
/// own body (every message it was sent) and status OK in the trailers.
async fn echo(request: Request<Body>) -> Result<Response<Body>, Infallible> {
    let body = request.into_body().with_trailers(async {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        trailers.insert("x-echo", HeaderValue::from_static("1"));
        Some(Ok(trailers))
    });
    let mut response = Response::new(Body::new(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    Ok(response)
}

/// What the Connect layer answered, read to the end.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// Sends `request` through the Connect layer in front of `inner`.
fn exchange<S>(request: Request<Full<Bytes>>, inner: S) -> Answer
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    block_on(async move {
        let response = match CONNECT.layer(inner).oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => panic!("the answer's body could not be read: {e}"),
        };
        Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// What holds for every answer of the Connect layer: a JSON answer is JSON
/// (an error one names its code), a stream answer is whole envelopes ended
/// by exactly one end-of-stream envelope holding a JSON object.
fn check_answer(answer: &Answer) {
    let content_type = header(&answer.headers, "content-type");
    if content_type == "application/json" {
        let body = if header(&answer.headers, "content-encoding") == "gzip" {
            gunzip(&answer.body).unwrap_or_else(|e| panic!("a gzip answer that does not gunzip: {e}"))
        } else {
            answer.body.to_vec()
        };
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!(
                "a JSON answer that is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&body)
            )
        });
        if answer.status != StatusCode::OK {
            assert!(json["code"].is_string(), "an error answer without a code: {json}");
        }
    } else if let Some(codec) = content_type.strip_prefix("application/connect+") {
        assert_eq!(answer.status, StatusCode::OK, "a stream answer is always HTTP 200");
        let compressed_ok = header(&answer.headers, "connect-content-encoding") == "gzip";
        let mut rest = &answer.body[..];
        let mut ended = false;
        while !rest.is_empty() {
            assert!(!ended, "bytes after the end-of-stream envelope");
            let [flags, a, b, c, d, tail @ ..] = rest else {
                panic!("a stream answer cut inside an envelope prefix: {rest:?}");
            };
            let length = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
            assert!(tail.len() >= length, "a stream answer cut inside an envelope");
            let (message, after) = tail.split_at(length);
            rest = after;
            let message = if flags & 0x01 != 0 {
                assert!(compressed_ok, "a compressed envelope the client did not accept");
                gunzip(message).unwrap_or_else(|e| panic!("a compressed envelope that does not gunzip: {e}"))
            } else {
                message.to_vec()
            };
            match flags & !0x01 {
                0x02 => {
                    ended = true;
                    let end: serde_json::Value = serde_json::from_slice(&message)
                        .unwrap_or_else(|e| panic!("an end-of-stream message that is not JSON: {e}"));
                    assert!(end.is_object(), "an end-of-stream message that is not an object: {end}");
                }
                0x00 if codec == "json" => {
                    serde_json::from_slice::<serde_json::Value>(&message)
                        .unwrap_or_else(|e| panic!("a JSON stream message that is not JSON: {e}"));
                }
                0x00 => {}
                other => panic!("an envelope with flags {other:#04x}"),
            }
        }
        assert!(ended, "a stream answer without its end-of-stream envelope");
    }
}

/// Headers from `name: value` lines; lines that are no valid header are skipped.
fn parse_headers<'a>(lines: impl Iterator<Item = &'a [u8]>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.trim_ascii();
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim_ascii()),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    headers
}

/// Splits `data` at its first blank line: (head, body).
fn split_head(data: &[u8]) -> (&[u8], &[u8]) {
    let blank = data.windows(2).position(|w| w == b"\n\n");
    match blank {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[]),
    }
}

/// Any HTTP request through the Connect layer (unary POST, GET, streams,
/// and what it passes through), written as text:
///
/// ```text
/// POST /gitpod.v1.RunnerService/GetRunner
/// content-type: application/json
/// connect-timeout-ms: 1000
///
/// {"runnerId":"…"}
/// ```
///
/// the request line, header lines, a blank line, then the body bytes.
/// Requests hyper would not have parsed (a bad method or target) are
/// skipped.
pub fn connect_request(data: &[u8]) {
    let (head, body) = split_head(data);
    let mut lines = head.split(|b| *b == b'\n');
    let request_line = lines.next().unwrap_or_default();
    let request_line = request_line.strip_suffix(b"\r").unwrap_or(request_line);
    let Some(space) = request_line.iter().position(|b| *b == b' ') else {
        return;
    };
    let Ok(method) = Method::from_bytes(&request_line[..space]) else {
        return;
    };
    let Ok(uri) = Uri::try_from(&request_line[space + 1..]) else {
        return;
    };
    let headers = parse_headers(lines);
    let mut request = Request::new(Full::new(Bytes::copy_from_slice(body)));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    let answer = exchange(request, tower::service_fn(echo));
    check_answer(&answer);
}

/// A unary Connect POST (`application/proto` or `application/json`):
/// byte 0 holds options — bit 0 JSON (else proto), bit 1 the harness
/// gzips the body and says `content-encoding: gzip`, bit 2
/// `content-encoding: gzip` on the body as it is, bit 3 `accept-encoding:
/// gzip`, bit 4 the `/api` prefix; byte 1 picks the unary route; the rest
/// is the body. A proto body the layer accepts must come back unchanged
/// from the echo.
pub fn connect_post(data: &[u8]) {
    let [options, route, body @ ..] = data else {
        return;
    };
    let json = options & 0x01 != 0;
    let harness_gzip = options & 0x02 != 0;
    let raw_gzip = options & 0x04 != 0 && !harness_gzip;
    let accept_gzip = options & 0x08 != 0;
    let prefix = if options & 0x10 != 0 { "/api" } else { "" };
    let route = pick(&ROUTES.unary, *route);
    let sent = if harness_gzip { gzip(body) } else { body.to_vec() };
    let mut request = Request::post(format!("{prefix}{route}")).header(
        CONTENT_TYPE,
        if json { "application/json" } else { "application/proto" },
    );
    if harness_gzip || raw_gzip {
        request = request.header(CONTENT_ENCODING, "gzip");
    }
    if accept_gzip {
        request = request.header(ACCEPT_ENCODING, "gzip");
    }
    let Ok(request) = request.body(Full::new(Bytes::from(sent))) else {
        return;
    };
    let answer = exchange(request, tower::service_fn(echo));
    check_answer(&answer);
    if answer.status == StatusCode::OK && !json && !raw_gzip {
        let echoed = if header(&answer.headers, "content-encoding") == "gzip" {
            gunzip(&answer.body).unwrap_or_else(|e| panic!("a gzip answer that does not gunzip: {e}"))
        } else {
            answer.body.to_vec()
        };
        assert_eq!(echoed, body, "the proto message came back changed");
    }
}

/// A Connect GET (`?connect=v1&encoding=…&message=…[&base64=1][&compression=gzip]`):
/// byte 0 picks the GET-able route; byte 1 holds options — bit 0 the `/api`
/// prefix, bit 1 `accept-encoding: gzip`; the rest is the query string
/// (targets that are no valid URI are skipped, as hyper refuses them).
pub fn connect_get(data: &[u8]) {
    let [route, options, query @ ..] = data else {
        return;
    };
    let prefix: &[u8] = if options & 0x01 != 0 { b"/api" } else { b"" };
    let mut target = prefix.to_vec();
    target.extend_from_slice(pick(&ROUTES.get, *route).as_bytes());
    target.push(b'?');
    target.extend_from_slice(query);
    let Ok(uri) = Uri::try_from(target) else {
        return;
    };
    let mut request = Request::get(uri);
    if options & 0x02 != 0 {
        request = request.header(ACCEPT_ENCODING, "gzip");
    }
    let Ok(request) = request.body(Full::new(Bytes::new())) else {
        return;
    };
    check_answer(&exchange(request, tower::service_fn(echo)));
}

/// Gzips the message of every envelope flagged compressed (0x01), fixing
/// its length: the fuzzer writes the plaintext, the layer gets real gzip.
/// A last envelope cut short is passed on as it is.
pub fn compress_envelopes(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    while let [flags, a, b, c, d, rest @ ..] = body {
        let length = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
        if rest.len() < length {
            break;
        }
        let (message, after) = rest.split_at(length);
        if flags & 0x01 != 0 {
            let compressed = gzip(message);
            out.push(*flags);
            out.extend_from_slice(&(compressed.len() as u32).to_be_bytes());
            out.extend_from_slice(&compressed);
        } else {
            out.extend_from_slice(&body[..5 + length]);
        }
        body = after;
    }
    out.extend_from_slice(body);
    out
}

/// A Connect stream (`application/connect+proto` or `+json`): byte 0 holds
/// options — bit 0 JSON (else proto), bit 1 `connect-content-encoding:
/// gzip`, bit 2 the harness gzips envelopes flagged 0x01 (see
/// `compress_envelopes`), bit 3 `connect-accept-encoding: gzip`, bit 4 the
/// `/api` prefix, bit 5 `connect-timeout-ms: 0`; byte 1 picks the route
/// (any: the streaming protocol may call unary methods too); the rest is
/// the request body, envelopes (flags, 4-byte big-endian length, message).
pub fn connect_stream(data: &[u8]) {
    let [options, route, body @ ..] = data else {
        return;
    };
    let json = options & 0x01 != 0;
    let prefix = if options & 0x10 != 0 { "/api" } else { "" };
    let body = if options & 0x04 != 0 {
        compress_envelopes(body)
    } else {
        body.to_vec()
    };
    let mut request = Request::post(format!("{prefix}{}", pick(&ROUTES.all, *route))).header(
        CONTENT_TYPE,
        if json {
            "application/connect+json"
        } else {
            "application/connect+proto"
        },
    );
    if options & 0x02 != 0 {
        request = request.header("connect-content-encoding", "gzip");
    }
    if options & 0x08 != 0 {
        request = request.header("connect-accept-encoding", "gzip");
    }
    if options & 0x20 != 0 {
        request = request.header("connect-timeout-ms", "0");
    }
    let Ok(request) = request.body(Full::new(Bytes::from(body))) else {
        return;
    };
    let answer = exchange(request, tower::service_fn(echo));
    check_answer(&answer);
    if content_type_is_stream(&answer) {
        assert_eq!(answer.status, StatusCode::OK);
    }
}

fn content_type_is_stream(answer: &Answer) -> bool {
    header(&answer.headers, "content-type").starts_with("application/connect+")
}

/// What the gRPC side answers a Connect call with, translated back: the
/// request is a valid empty message (byte 0: bits 0-1 pick unary proto
/// POST, unary JSON POST, GET, or a JSON stream; bit 2 the client accepts
/// gzip; byte 1 picks the route); the rest is the gRPC answer as text —
/// header lines (a line starting `~` is a trailer instead), a blank line,
/// then the raw gRPC body (frames the fuzzer writes, `grpc-status`,
/// `grpc-message` percent-encoding and `grpc-status-details-bin` in its
/// hands).
pub fn connect_answer(data: &[u8]) {
    let [options, route, rest @ ..] = data else {
        return;
    };
    let (head, body) = split_head(rest);
    let lines: Vec<&[u8]> = head.split(|b| *b == b'\n').collect();
    let mut headers = parse_headers(lines.iter().copied().filter(|l| !l.starts_with(b"~")));
    // HTTP's own framing headers are hyper's, never a handler's
    for name in [
        CONTENT_ENCODING,
        http::header::CONTENT_LENGTH,
        http::header::TRANSFER_ENCODING,
    ] {
        headers.remove(name);
    }
    let trailer_lines: Vec<&[u8]> = lines.iter().filter_map(|l| l.strip_prefix(b"~")).collect();
    let trailers = (!trailer_lines.is_empty()).then(|| parse_headers(trailer_lines.into_iter()));
    let body = Bytes::copy_from_slice(body);
    let inner = tower::service_fn(move |_request: Request<Body>| {
        let (headers, body, trailers) = (headers.clone(), body.clone(), trailers.clone());
        async move {
            let body = Full::new(body)
                .map_err(|never: Infallible| match never {})
                .with_trailers(async move { trailers.map(Ok::<_, Infallible>) });
            let mut response = Response::new(Body::new(body));
            *response.headers_mut() = headers;
            Ok::<_, Infallible>(response)
        }
    });
    let accept_gzip = options & 0x04 != 0;
    let request = match options & 0x03 {
        0 | 1 => {
            let json = options & 0x01 != 0;
            let mut request = Request::post(pick(&ROUTES.unary, *route)).header(
                CONTENT_TYPE,
                if json { "application/json" } else { "application/proto" },
            );
            if accept_gzip {
                request = request.header(ACCEPT_ENCODING, "gzip");
            }
            request.body(Full::new(Bytes::from_static(if json { b"{}" } else { b"" })))
        }
        2 => {
            let mut request = Request::get(format!(
                "{}?connect=v1&encoding=json&message=%7B%7D",
                pick(&ROUTES.get, *route)
            ));
            if accept_gzip {
                request = request.header(ACCEPT_ENCODING, "gzip");
            }
            request.body(Full::new(Bytes::new()))
        }
        _ => {
            let mut request = Request::post(pick(&ROUTES.all, *route)).header(CONTENT_TYPE, "application/connect+json");
            if accept_gzip {
                request = request.header("connect-accept-encoding", "gzip");
            }
            request.body(Full::new(Bytes::from_static(b"\x00\x00\x00\x00\x02{}")))
        }
    };
    let Ok(request) = request else {
        return;
    };
    check_answer(&exchange(request, inner));
}

/// The hosts the context URL entry knows: the vendors' clouds and one
/// self-hosted server of each SCM (Azure DevOps Server under `tfs/`).
static SCM_HOSTS: LazyLock<Vec<ScmHost>> = LazyLock::new(|| {
    let mut hosts = paddock::api::runner::scm::well_known_hosts();
    for (scm_id, host, virtual_directory) in [
        (GITHUB, "ghe.example.com", None),
        (GITLAB, "gitlab.example.com", None),
        (BITBUCKET, "bitbucket.example.com:8443", None),
        (AZURE_DEVOPS, "ado.example.com", Some("tfs".to_owned())),
    ] {
        hosts.extend(ScmHost::self_hosted(host, scm_id, virtual_directory));
    }
    hosts
});

fn is_dot_segment(s: &str) -> bool {
    s == "." || s == ".."
}

/// A URL paddock writes: it must read back as itself (nothing resolved or
/// re-encoded on the way to git) and point at `host`.
fn check_written_url(what: &str, written: &str, host: &str) {
    let url = url::Url::parse(written).unwrap_or_else(|e| panic!("the {what} {written:?} is no URL: {e}"));
    assert_eq!(url.as_str(), written, "the {what} does not read back as itself");
    assert_eq!(url.scheme(), "https", "the {what} {written:?}");
    let url_host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    assert_eq!(url_host, host, "the {what} {written:?} points at another host");
}

fn check_positive_number(what: &str, n: &str) {
    assert!(
        n.parse::<u64>().is_ok_and(|v| v > 0 && v.to_string() == n),
        "the {what} {n:?} is not a canonical positive number"
    );
}

/// `api::runner::scm::context_url::parse` on the input as UTF-8 (a context URL arrives
/// in a protobuf string, so other input is skipped).
pub fn context_url(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(context) = context_url::parse(raw, &SCM_HOSTS) else {
        return;
    };
    assert!(!context.repo.is_empty(), "{raw:?}: a context without a repository");
    for part in [
        &context.owner,
        &context.repo,
        &context.branch,
        &context.tag,
        &context.commit,
        &context.path,
    ] {
        assert!(
            !part.split(['/', '\\']).any(is_dot_segment),
            "{raw:?}: a dot segment in {part:?}"
        );
    }
    if context.scm_id.is_empty() {
        return;
    }
    check_written_url("clone URL", &context.clone_url, &context.host);
    if let Some(pull_request) = &context.pull_request {
        check_written_url("pull request URL", &pull_request.url, &context.host);
        check_positive_number("pull request", &pull_request.id);
    }
    if let Some(issue) = &context.issue {
        check_positive_number("issue", issue);
    }
}

static PAGE_SECRETS: LazyLock<Secrets> = LazyLock::new(|| Secrets::new(&SecretKey::from_bytes([7; 32])));

/// `PageTokens::page`: bytes 0-3 are `page_size` (i32, little-endian),
/// byte 4 holds options — bits 0-1 pick the list and filter, bit 2 signs a
/// real token for the key in the next 16 bytes and then overwrites it at
/// the (position, byte) pairs that follow; otherwise the rest is the token
/// (lossy UTF-8). An accepted token must be exactly the one paddock writes
/// for its key.
pub fn page_token(data: &[u8]) {
    let [a, b, c, d, options, rest @ ..] = data else {
        return;
    };
    let page_size = i32::from_le_bytes([*a, *b, *c, *d]);
    let (scope, filter): (&str, &[u8]) = match options & 0x03 {
        0 => ("runners", b""),
        1 => ("runners", b"org=1"),
        2 => ("members", b""),
        _ => ("", b"\0"),
    };
    let tokens = PageTokens::new(&PAGE_SECRETS, scope, filter.to_vec());
    let token = match rest.split_first_chunk::<16>() {
        Some((key, edits)) if options & 0x04 != 0 => {
            let mut token = tokens.encode(Uuid::from_bytes(*key)).into_bytes();
            for edit in edits.chunks_exact(2) {
                if !token.is_empty() {
                    let at = usize::from(edit[0]) % (token.len() + 1);
                    match at.checked_sub(token.len()) {
                        Some(_) => token.push(edit[1]),
                        None => token[at] = edit[1],
                    }
                }
            }
            String::from_utf8_lossy(&token).into_owned()
        }
        _ => String::from_utf8_lossy(rest).into_owned(),
    };
    let expected_size = if page_size <= 0 {
        DEFAULT_PAGE_SIZE
    } else {
        page_size.min(MAX_PAGE_SIZE) as u64
    };
    match tokens.page(page_size, &token) {
        Ok(page) => {
            assert_eq!(page.size, expected_size, "page_size {page_size}");
            match page.after {
                None => assert!(token.is_empty(), "{token:?} accepted as no token"),
                Some(key) => assert_eq!(tokens.encode(key), token, "a token accepted in another form"),
            }
            // the token continues only its own list under its own filter
            if let Some(key) = page.after {
                let other = PageTokens::new(&PAGE_SECRETS, "other", filter.to_vec());
                assert!(other.page(page_size, &tokens.encode(key)).is_err());
            }
        }
        Err(_) => assert!(!token.is_empty(), "no token refused"),
    }
}

/// The personal access token the token entry's cache knows.
const KNOWN_TOKEN: &str = "pdk_pat_fuzzing-known-token";

static TOKEN_CACHE: LazyLock<TokenCache> = LazyLock::new(|| {
    let cache = TokenCache::new(Duration::from_secs(1 << 30), 16);
    let principal = Principal::User {
        id: Uuid::from_u128(1),
        organization_id: Uuid::from_u128(2),
        org_admin: false,
        read_only: true,
    };
    cache.put(paddock::auth::tokens::hash(KNOWN_TOKEN), principal, None);
    cache
});

/// How the auth layer reads a bearer token: each input line is one
/// `authorization` header (lines that are no header value are skipped);
/// the token read from them is hashed and looked up as the layer does, and
/// the whole input is also read as a stored token kind.
pub fn bearer_token(data: &[u8]) {
    let mut headers = HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(AUTHORIZATION, value);
        }
    }
    if let Some(token) = paddock::auth::layer::bearer(&headers) {
        assert!(!token.is_empty() && token.trim() == token, "{token:?}");
        let first = header(&headers, "authorization");
        let (scheme, rest) = first.split_once(' ').unwrap_or_default();
        assert!(
            scheme.eq_ignore_ascii_case("bearer"),
            "{first:?} read with scheme {scheme:?}"
        );
        assert_eq!(rest.trim(), token);
        let hash = paddock::auth::tokens::hash(token);
        assert_eq!(TOKEN_CACHE.get(&hash).is_some(), token == KNOWN_TOKEN, "{token:?}");
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(kind) = TokenKind::parse(text)
    {
        assert_eq!(kind.as_str(), text);
    }
}

/// An entry: takes the fuzzer's bytes, panics on a finding.
pub type Entry = fn(&[u8]);

/// The entries by the name of their fuzz target (and seed directory).
pub const ENTRIES: &[(&str, Entry)] = &[
    ("connect_request", connect_request),
    ("connect_post", connect_post),
    ("connect_get", connect_get),
    ("connect_stream", connect_stream),
    ("connect_answer", connect_answer),
    ("context_url", context_url),
    ("page_token", page_token),
    ("bearer_token", bearer_token),
];
