//! Connect ⇄ gRPC, in-process, the way tonic-web translates gRPC-Web: a
//! Connect unary call (POST with `application/proto` or `application/json`,
//! or GET for NO_SIDE_EFFECTS methods) becomes a gRPC request to the same
//! tonic route, and the gRPC answer becomes a Connect answer. Connect streams
//! (`application/connect+proto`, `application/connect+json`) are translated
//! envelope by envelope as they flow (see `stream`). JSON is converted by the
//! embedded descriptors (proto3 JSON mapping).
//!
//! The layer also accepts every route under `/api/` (the SDK's base URL form)
//! for all protocols, and leaves gRPC and gRPC-Web requests to tonic.

use std::collections::HashMap;
use std::future::Future;
use std::io::{Read, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use bytes::{BufMut, Bytes, BytesMut};
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt, Full, Limited};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};
use tonic::Code;
use tonic::body::Body;
use tower::{Layer, Service, ServiceExt};

use super::MAX_MESSAGE_SIZE;
use super::codes;

mod stream;

/// Responses at least this large are gzipped for clients that accept it.
const COMPRESS_MIN_BYTES: usize = 1024;
/// The base path the official SDK puts in front of every route.
const API_PREFIX: &str = "/api";

/// The status of a call, for the call log (Connect answers carry no
/// grpc-status header).
#[derive(Debug, Clone, Copy)]
pub struct CallCode(pub Code);

/// The status of a Connect stream, for the call log: known only once the
/// end-of-stream message is written, long after the response head left.
/// Never set means the stream was cut off before it ended.
#[derive(Debug, Clone, Default)]
pub struct StreamCallCode(pub Arc<std::sync::OnceLock<Code>>);

struct Method_ {
    input: MessageDescriptor,
    output: MessageDescriptor,
    no_side_effects: bool,
    /// Client, server or bidi streaming: only the streaming protocol can call it.
    streaming: bool,
    /// Takes a stream of requests; any other method takes exactly one.
    client_streaming: bool,
}

/// The methods Connect may call, by route (`/pkg.Service/Method`), and the
/// largest request message it takes.
pub struct Routes {
    methods: HashMap<String, Method_>,
    max_message: usize,
}

impl Routes {
    /// Every method of every service in the descriptor sets: give it the sets
    /// of the services the server registers, so that every route tonic
    /// serves is reachable over Connect too.
    pub fn new(file_descriptor_sets: &[&[u8]]) -> anyhow::Result<Self> {
        let mut pool = DescriptorPool::new();
        for set in file_descriptor_sets {
            pool.decode_file_descriptor_set(*set)?;
        }
        let mut methods = HashMap::new();
        for service in pool.services() {
            for method in service.methods() {
                let no_side_effects = method.method_descriptor_proto().options.as_ref().is_some_and(|o| {
                    o.idempotency_level() == prost_types::method_options::IdempotencyLevel::NoSideEffects
                });
                methods.insert(
                    format!("/{}/{}", service.full_name(), method.name()),
                    Method_ {
                        input: method.input(),
                        output: method.output(),
                        no_side_effects,
                        streaming: method.is_client_streaming() || method.is_server_streaming(),
                        client_streaming: method.is_client_streaming(),
                    },
                );
            }
        }
        Ok(Routes {
            methods,
            max_message: MAX_MESSAGE_SIZE,
        })
    }

    /// The largest request message taken, in bytes after decompression.
    pub fn with_max_message_size(self, max_message: usize) -> Self {
        Routes { max_message, ..self }
    }
}

#[derive(Clone)]
pub struct ConnectLayer {
    routes: Arc<Routes>,
}

impl ConnectLayer {
    pub fn new(routes: Routes) -> Self {
        ConnectLayer {
            routes: Arc::new(routes),
        }
    }
}

impl<S> Layer<S> for ConnectLayer {
    type Service = Connect<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Connect {
            inner,
            routes: self.routes.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Connect<S> {
    inner: S,
    routes: Arc<Routes>,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    Proto,
    Json,
}

/// A Connect failure before or after the gRPC call.
#[derive(Debug)]
struct Failure {
    code: Code,
    message: String,
    /// (type name, serialized message) of google.rpc error details
    details: Vec<(String, Vec<u8>)>,
}

impl Failure {
    fn new(code: Code, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }
}

/// What one Connect call asks for.
struct Call<'a> {
    method: &'a Method_,
    codec: Codec,
    /// The request message, encoded as protobuf.
    message: Bytes,
    accepts_gzip: bool,
    timeout: Option<Duration>,
    is_get: bool,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Connect<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<tower::BoxError>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<tower::BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        strip_api_prefix(&mut request);
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let routes = self.routes.clone();

        let kind = classify(&request);
        Box::pin(async move {
            match kind {
                Kind::PassThrough => {
                    let response = inner.call(request.map(Body::new)).await?;
                    Ok(response.map(Body::new))
                }
                Kind::Connect(codec) => Ok(serve_connect(inner, &routes, request, codec).await),
                Kind::ConnectStream(codec) => Ok(stream::serve(inner, &routes, request, codec).await),
                Kind::UnsupportedMediaType => Ok(unsupported_media_type(ACCEPT_POST)),
            }
        })
    }
}

enum Kind {
    PassThrough,
    /// Some(codec) for POST; None for GET (the codec is in the query).
    Connect(Option<Codec>),
    /// The streaming protocol: enveloped messages both ways.
    ConnectStream(Codec),
    UnsupportedMediaType,
}

const ACCEPT_POST: &str = "application/json, application/proto, application/connect+json, application/connect+proto";
/// What a streaming method accepts: the unary protocol cannot carry a stream.
const ACCEPT_POST_STREAM: &str = "application/connect+json, application/connect+proto";

fn unsupported_media_type(accept_post: &'static str) -> Response<Body> {
    let mut response = plain_status(StatusCode::UNSUPPORTED_MEDIA_TYPE, Code::Unknown);
    response
        .headers_mut()
        .insert("accept-post", HeaderValue::from_static(accept_post));
    response
}

fn strip_api_prefix<B>(request: &mut Request<B>) {
    let path = request.uri().path();
    let Some(rest) = path.strip_prefix(API_PREFIX) else {
        return;
    };
    if !rest.starts_with('/') || rest.len() < 2 {
        return;
    }
    let mut parts = request.uri().clone().into_parts();
    let path_and_query = match request.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_owned(),
    };
    if let Ok(pq) = path_and_query.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
}

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn classify<B>(request: &Request<B>) -> Kind {
    let media = media_type(request.headers());
    if media.starts_with("application/grpc") {
        return Kind::PassThrough;
    }
    let is_service_route = request.uri().path().matches('/').count() == 2;
    match *request.method() {
        Method::POST => match media.as_str() {
            "application/proto" => Kind::Connect(Some(Codec::Proto)),
            "application/json" => Kind::Connect(Some(Codec::Json)),
            "application/connect+proto" => Kind::ConnectStream(Codec::Proto),
            "application/connect+json" => Kind::ConnectStream(Codec::Json),
            _ if is_service_route => Kind::UnsupportedMediaType,
            _ => Kind::PassThrough,
        },
        Method::GET if is_service_route && request.uri().query().is_some() => Kind::Connect(None),
        _ => Kind::PassThrough,
    }
}

/// Serves one Connect call; every failure becomes a Connect error answer.
async fn serve_connect<S, ReqBody, ResBody>(
    inner: S,
    routes: &Routes,
    request: Request<ReqBody>,
    post_codec: Option<Codec>,
) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<ResBody>> + Send,
    S::Future: Send,
    ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<tower::BoxError>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<tower::BoxError>,
{
    let path = request.uri().path().to_owned();
    let Some(method) = routes.methods.get(&path) else {
        return unknown_route(&path);
    };
    if method.streaming && post_codec.is_some() {
        return unsupported_media_type(ACCEPT_POST_STREAM);
    }
    let (parts, body) = request.into_parts();
    let accepts_gzip = accepts_gzip(&parts.headers);
    let call = match post_codec {
        Some(codec) => read_post(method, codec, &parts.headers, body, accepts_gzip, routes.max_message).await,
        None => read_get(method, &parts.uri, accepts_gzip, routes.max_message),
    };
    let call = match call.and_then(|c| timeout(&parts.headers).map(|t| Call { timeout: t, ..c })) {
        Ok(call) => call,
        Err(failure) => return error_response(failure, accepts_gzip),
    };
    match invoke(inner, &path, &parts, &call).await {
        Ok((metadata, message)) => success_response(&call, metadata, message, &parts.headers),
        Err(failure) => error_response(failure, call.accepts_gzip),
    }
}

fn unknown_route(path: &str) -> Response<Body> {
    // an unknown route is a 404, whatever the code table says for the code
    let mut response = error_response(
        Failure::new(Code::Unimplemented, format!("{path} is not a known method")),
        false,
    );
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    lists_gzip(headers, ACCEPT_ENCODING)
}

/// Whether a comma-separated encoding list header names gzip.
fn lists_gzip(headers: &HeaderMap, name: impl http::header::AsHeaderName) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            e.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("gzip")
        })
}

fn timeout(headers: &HeaderMap) -> Result<Option<Duration>, Failure> {
    let Some(value) = headers.get("connect-timeout-ms") else {
        return Ok(None);
    };
    let bad = || Failure::new(Code::InvalidArgument, "connect-timeout-ms: at most 10 digits");
    let text = value.to_str().map_err(|_| bad())?;
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let ms: u64 = text.parse().map_err(|_| bad())?;
    Ok(Some(Duration::from_millis(ms)))
}

fn check_protocol_version(value: Option<&HeaderValue>) -> Result<(), Failure> {
    match value {
        None => Ok(()),
        Some(v) if v == "1" => Ok(()),
        Some(v) => Err(Failure::new(
            Code::InvalidArgument,
            format!(
                "connect-protocol-version must be 1, not {:?}",
                String::from_utf8_lossy(v.as_bytes())
            ),
        )),
    }
}

async fn read_post<'m, B>(
    method: &'m Method_,
    codec: Codec,
    headers: &HeaderMap,
    body: B,
    accepts_gzip: bool,
    limit: usize,
) -> Result<Call<'m>, Failure>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<tower::BoxError>,
{
    check_protocol_version(headers.get("connect-protocol-version"))?;
    let encoding = headers
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity");
    let raw = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(Failure::new(
                Code::ResourceExhausted,
                format!("request larger than {limit} bytes"),
            ));
        }
        Err(_) => return Err(Failure::new(Code::Cancelled, "the request body could not be read")),
    };
    let message = decompress(encoding, raw, limit)?;
    Ok(Call {
        method,
        codec,
        message: to_protobuf(&method.input, codec, message)?,
        accepts_gzip,
        timeout: None,
        is_get: false,
    })
}

fn read_get<'a>(method: &'a Method_, uri: &Uri, accepts_gzip: bool, limit: usize) -> Result<Call<'a>, Failure> {
    if !method.no_side_effects || method.streaming {
        return Err(Failure::new(
            Code::Unimplemented,
            "this method does not accept GET; use POST",
        ));
    }
    let mut connect = None;
    let mut encoding = None;
    let mut message = None;
    let mut base64 = false;
    let mut compression = None;
    for (key, value) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "connect" => connect = Some(value.into_owned()),
            "encoding" => encoding = Some(value.into_owned()),
            "message" => message = Some(value.into_owned()),
            "base64" => base64 = value == "1",
            "compression" => compression = Some(value.into_owned()),
            _ => {}
        }
    }
    if let Some(version) = connect
        && version != "v1"
    {
        return Err(Failure::new(Code::InvalidArgument, "connect must be v1"));
    }
    let codec = match encoding.as_deref() {
        Some("proto") => Codec::Proto,
        Some("json") => Codec::Json,
        _ => return Err(Failure::new(Code::InvalidArgument, "encoding must be json or proto")),
    };
    let message = message.unwrap_or_default();
    let raw = if base64 {
        let trimmed = message.trim_end_matches('=');
        URL_SAFE_NO_PAD
            .decode(trimmed)
            .or_else(|_| STANDARD_NO_PAD.decode(trimmed))
            .or_else(|_| URL_SAFE.decode(&message))
            .map_err(|_| Failure::new(Code::InvalidArgument, "message is not base64"))?
    } else {
        message.into_bytes()
    };
    let raw = decompress(compression.as_deref().unwrap_or("identity"), Bytes::from(raw), limit)?;
    Ok(Call {
        method,
        codec,
        message: to_protobuf(&method.input, codec, raw)?,
        accepts_gzip,
        timeout: None,
        is_get: true,
    })
}

/// `raw` decompressed, refused past `limit` bytes (a small gzip body can
/// unpack to gigabytes).
fn decompress(encoding: &str, raw: Bytes, limit: usize) -> Result<Bytes, Failure> {
    match encoding {
        "identity" | "" => Ok(raw),
        "gzip" => {
            let mut out = Vec::new();
            let mut decoder = flate2::read::GzDecoder::new(raw.as_ref()).take((limit as u64).saturating_add(1));
            decoder
                .read_to_end(&mut out)
                .map_err(|e| Failure::new(Code::InvalidArgument, format!("malformed gzip body: {e}")))?;
            if out.len() > limit {
                return Err(Failure::new(
                    Code::ResourceExhausted,
                    format!("request larger than {limit} bytes once decompressed"),
                ));
            }
            Ok(Bytes::from(out))
        }
        other => Err(Failure::new(
            Code::Unimplemented,
            format!("unsupported compression {other:?}: use gzip or identity"),
        )),
    }
}

/// The request as protobuf bytes; malformed input is INVALID_ARGUMENT here,
/// before any handler runs.
fn to_protobuf(input: &MessageDescriptor, codec: Codec, raw: Bytes) -> Result<Bytes, Failure> {
    match codec {
        Codec::Proto => {
            DynamicMessage::decode(input.clone(), raw.as_ref())
                .map_err(|e| Failure::new(Code::InvalidArgument, format!("malformed protobuf message: {e}")))?;
            Ok(raw)
        }
        Codec::Json => {
            let text = if raw.iter().all(u8::is_ascii_whitespace) {
                &b"{}"[..]
            } else {
                raw.as_ref()
            };
            let mut deserializer = serde_json::Deserializer::from_slice(text);
            let message = DynamicMessage::deserialize(input.clone(), &mut deserializer)
                .and_then(|m| deserializer.end().map(|()| m))
                .map_err(|e| Failure::new(Code::InvalidArgument, format!("malformed JSON message: {e}")))?;
            Ok(Bytes::from(message.encode_to_vec()))
        }
    }
}

/// Headers of the Connect request that must not reach the gRPC side as they are.
fn is_transport_header(name: &HeaderName) -> bool {
    let name = name.as_str();
    matches!(
        name,
        "content-type"
            | "content-length"
            | "content-encoding"
            | "accept-encoding"
            | "te"
            | "connection"
            | "host"
            | "transfer-encoding"
    ) || name.starts_with("connect-")
        || name.starts_with("grpc-")
}

/// One gRPC length-prefixed message, uncompressed.
fn grpc_frame(message: &[u8]) -> Bytes {
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.put_u8(0);
    frame.put_u32(message.len() as u32);
    frame.put_slice(message);
    frame.freeze()
}

/// The in-process gRPC request for a Connect call: the caller's metadata,
/// without Connect's and HTTP's own headers, and its deadline; and the
/// connection's extensions (the client's address, for the rate limits).
fn grpc_request(
    path: &str,
    headers: &HeaderMap,
    extensions: &http::Extensions,
    timeout: Option<Duration>,
    body: Body,
) -> Result<Request<Body>, Failure> {
    let mut grpc = Request::builder()
        .method(Method::POST)
        .uri(path)
        .version(Version::HTTP_2)
        .header(CONTENT_TYPE, "application/grpc")
        .header("te", "trailers");
    if let Some(h) = grpc.headers_mut() {
        for (name, value) in headers.iter().filter(|(n, _)| !is_transport_header(n)) {
            h.append(name.clone(), value.clone());
        }
        if let Some(t) = timeout
            && let Ok(v) = HeaderValue::from_str(&format!("{}m", t.as_millis()))
        {
            h.insert("grpc-timeout", v);
        }
    }
    if let Some(e) = grpc.extensions_mut() {
        *e = extensions.clone();
    }
    grpc.body(body)
        .map_err(|e| Failure::new(Code::Internal, format!("building the gRPC request: {e}")))
}

/// Calls the tonic route over gRPC and returns (response metadata, message).
async fn invoke<S, ResBody>(
    inner: S,
    path: &str,
    request: &http::request::Parts,
    call: &Call<'_>,
) -> Result<(HeaderMap, Bytes), Failure>
where
    S: Service<Request<Body>, Response = Response<ResBody>> + Send,
    S::Future: Send,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<tower::BoxError>,
{
    let grpc = grpc_request(
        path,
        &request.headers,
        &request.extensions,
        call.timeout,
        Body::new(Full::new(grpc_frame(&call.message))),
    )?;

    let exchange = async move {
        let response = inner
            .oneshot(grpc)
            .await
            .map_err(|_| Failure::new(Code::Unavailable, "the service is unavailable"))?;
        let (parts, body) = response.into_parts();
        let collected = body
            .collect()
            .await
            .map_err(|_| Failure::new(Code::Internal, "the response could not be read"))?;
        let trailers = collected.trailers().cloned().unwrap_or_default();
        Ok::<_, Failure>((parts.headers, trailers, collected.to_bytes()))
    };
    let (headers, trailers, body) = match call.timeout {
        // a zero budget is spent before the call starts
        Some(t) if t.is_zero() => {
            return Err(Failure::new(
                Code::DeadlineExceeded,
                "the call exceeded connect-timeout-ms",
            ));
        }
        Some(t) => tokio::time::timeout(t, exchange)
            .await
            .map_err(|_| Failure::new(Code::DeadlineExceeded, "the call exceeded connect-timeout-ms"))??,
        None => exchange.await?,
    };

    // A trailers-only answer carries its status in the headers.
    let status_source = if headers.contains_key("grpc-status") {
        &headers
    } else {
        &trailers
    };
    let code = status_source
        .get("grpc-status")
        .map(|v| codes::from_grpc_status(v.as_bytes()))
        .unwrap_or(Code::Unknown);
    if code != Code::Ok {
        return Err(grpc_failure(code, status_source));
    }
    let message = unframe(&headers, body)?;
    let mut metadata = headers;
    for (name, value) in trailers.iter() {
        if let Ok(prefixed) = HeaderName::from_bytes(format!("trailer-{name}").as_bytes()) {
            metadata.append(prefixed, value.clone());
        }
    }
    Ok((metadata, message))
}

/// The one message of a unary gRPC response body.
fn unframe(headers: &HeaderMap, body: Bytes) -> Result<Bytes, Failure> {
    let broken = || Failure::new(Code::Internal, "malformed gRPC response");
    if body.len() < 5 {
        return Err(broken());
    }
    let compressed = body[0] == 1;
    let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    let message = body.slice(5..).slice(..len.min(body.len() - 5));
    if message.len() != len {
        return Err(broken());
    }
    if compressed {
        let encoding = headers
            .get("grpc-encoding")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("identity");
        return decompress(encoding, message, usize::MAX).map_err(|_| broken());
    }
    Ok(message)
}

fn grpc_failure(code: Code, metadata: &HeaderMap) -> Failure {
    let message = metadata
        .get("grpc-message")
        .map(|v| percent_decode(v.as_bytes()))
        .unwrap_or_default();
    let details = metadata
        .get("grpc-status-details-bin")
        .and_then(|v| {
            STANDARD_NO_PAD
                .decode(v.as_bytes())
                .or_else(|_| STANDARD.decode(v.as_bytes()))
                .ok()
        })
        .and_then(|bytes| tonic_types::pb::Status::decode(bytes.as_slice()).ok())
        .map(|status| {
            status
                .details
                .into_iter()
                .map(|any| {
                    let name = any.type_url.rsplit('/').next().unwrap_or_default().to_owned();
                    (name, any.value)
                })
                .collect()
        })
        .unwrap_or_default();
    Failure { code, message, details }
}

/// grpc-message is percent-encoded (gRPC over HTTP/2 spec).
fn percent_decode(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%'
            && i + 2 < raw.len()
            && let Ok(byte) = u8::from_str_radix(&String::from_utf8_lossy(&raw[i + 1..i + 3]), 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(raw[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn gzip(data: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).ok()?;
    encoder.finish().ok()
}

/// Sets the body, compressing it when the client accepts gzip and it pays.
fn with_body(mut builder: http::response::Builder, data: Vec<u8>, accepts_gzip: bool) -> Response<Body> {
    let data = if accepts_gzip && data.len() >= COMPRESS_MIN_BYTES {
        match gzip(&data) {
            Some(compressed) => {
                builder = builder.header(CONTENT_ENCODING, "gzip");
                compressed
            }
            None => data,
        }
    } else {
        data
    };
    builder = builder.header(CONTENT_LENGTH, data.len());
    builder
        .body(Body::new(Full::new(Bytes::from(data))))
        .unwrap_or_else(|_| plain_status(StatusCode::INTERNAL_SERVER_ERROR, Code::Internal))
}

fn success_response(
    call: &Call<'_>,
    metadata: HeaderMap,
    message: Bytes,
    request_headers: &HeaderMap,
) -> Response<Body> {
    let (content_type, data) = match call.codec {
        Codec::Proto => ("application/proto", message.to_vec()),
        Codec::Json => match to_json(&call.method.output, &message) {
            Ok(json) => ("application/json", json),
            Err(e) => {
                return error_response(
                    Failure::new(Code::Internal, format!("encoding the response: {e}")),
                    call.accepts_gzip,
                );
            }
        },
    };
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, content_type);
    for (name, value) in metadata.iter() {
        let n = name.as_str();
        let transport = n.starts_with("grpc-") || n.starts_with("trailer-grpc-");
        if !(transport || n == "content-type" || n == "content-length") {
            builder = builder.header(name, value);
        }
    }
    if call.is_get {
        // Answers depend on who asks: caches may keep them per user and must
        // revalidate; an ETag lets them.
        let etag = format!("\"{}\"", &hex_digest(&data)[..32]);
        if request_headers
            .get(http::header::IF_NONE_MATCH)
            .is_some_and(|v| v.as_bytes() == etag.as_bytes())
        {
            let mut response = plain_status(StatusCode::NOT_MODIFIED, Code::Ok);
            if let Ok(v) = HeaderValue::from_str(&etag) {
                response.headers_mut().insert(http::header::ETAG, v);
            }
            return response;
        }
        builder = builder
            .header(http::header::CACHE_CONTROL, "private, no-cache")
            .header(http::header::VARY, "Authorization, Accept-Encoding")
            .header(http::header::ETAG, etag);
    }
    let mut response = with_body(builder, data, call.accepts_gzip);
    response.extensions_mut().insert(CallCode(Code::Ok));
    response
}

/// A protobuf message as proto3 JSON (lowerCamelCase names, enums by name,
/// 64-bit integers and well-known types as strings, defaults omitted).
fn to_json(descriptor: &MessageDescriptor, message: &[u8]) -> anyhow::Result<Vec<u8>> {
    let message = DynamicMessage::decode(descriptor.clone(), message)?;
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::new(&mut out);
    message.serialize_with_options(&mut serializer, &SerializeOptions::new())?;
    Ok(out)
}

fn hex_digest(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// A Connect error as JSON, the same in a unary answer's body and in a
/// stream's end-of-stream message.
fn error_json(failure: Failure) -> serde_json::Value {
    let mut body = serde_json::Map::new();
    body.insert("code".into(), codes::connect_name(failure.code).into());
    if !failure.message.is_empty() {
        body.insert("message".into(), failure.message.into());
    }
    if !failure.details.is_empty() {
        let details: Vec<serde_json::Value> = failure
            .details
            .into_iter()
            .map(|(kind, value)| serde_json::json!({"type": kind, "value": STANDARD_NO_PAD.encode(value)}))
            .collect();
        body.insert("details".into(), details.into());
    }
    serde_json::Value::Object(body)
}

fn error_response(failure: Failure, accepts_gzip: bool) -> Response<Body> {
    let code = failure.code;
    let retry_after = retry_after(&failure);
    let data = serde_json::to_vec(&error_json(failure)).unwrap_or_default();
    let mut builder = Response::builder()
        .status(codes::http_status(code))
        .header(CONTENT_TYPE, "application/json");
    if let Some(seconds) = retry_after {
        builder = builder.header(http::header::RETRY_AFTER, seconds);
    }
    let mut response = with_body(builder, data, accepts_gzip);
    response.extensions_mut().insert(CallCode(code));
    response
}

/// HTTP's Retry-After (whole seconds, rounded up) for a failure that carries
/// google.rpc.RetryInfo, so that plain HTTP clients and proxies back off too.
fn retry_after(failure: &Failure) -> Option<u64> {
    let (_, value) = failure
        .details
        .iter()
        .find(|(kind, _)| kind == "google.rpc.RetryInfo")?;
    let delay = tonic_types::pb::RetryInfo::decode(value.as_slice()).ok()?.retry_delay?;
    let seconds = u64::try_from(delay.seconds).ok()?;
    Some(seconds + u64::from(delay.nanos > 0))
}

fn plain_status(status: StatusCode, code: Code) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response.extensions_mut().insert(CallCode(code));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_prefix_is_stripped_once() {
        let mut r = Request::builder()
            .uri("/api/gitpod.v1.RunnerService/GetRunner?x=1")
            .body(())
            .unwrap();
        strip_api_prefix(&mut r);
        assert_eq!(r.uri().path(), "/gitpod.v1.RunnerService/GetRunner");
        assert_eq!(r.uri().query(), Some("x=1"));
        let mut r = Request::builder().uri("/apis/x").body(()).unwrap();
        strip_api_prefix(&mut r);
        assert_eq!(r.uri().path(), "/apis/x");
    }

    #[test]
    fn grpc_messages_are_percent_decoded() {
        assert_eq!(percent_decode(b"a%20b%25"), "a b%");
        assert_eq!(percent_decode(b"100%"), "100%");
        assert_eq!(percent_decode(b"%zz"), "%zz");
    }

    #[test]
    fn timeouts_are_ten_digits_at_most() {
        let mut h = HeaderMap::new();
        h.insert("connect-timeout-ms", "1500".parse().unwrap());
        assert_eq!(timeout(&h).unwrap(), Some(Duration::from_millis(1500)));
        h.insert("connect-timeout-ms", "12345678901".parse().unwrap());
        assert!(timeout(&h).is_err());
        h.insert("connect-timeout-ms", "-1".parse().unwrap());
        assert!(timeout(&h).is_err());
    }
}
