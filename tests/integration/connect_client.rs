//! A Connect unary client under tonic's generated clients, so that the
//! behaviour tests also run over Connect: the gRPC request a tonic client
//! produces becomes a real Connect call over HTTP/1.1 (binary or JSON body),
//! and the Connect answer becomes the gRPC response tonic expects.
//!
//! It follows the Connect protocol specification
//! (https://connectrpc.com/docs/protocol) rather than the server's code, so
//! that it checks the server instead of agreeing with it.

use std::future::Future;
use std::io::{Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use bytes::{BufMut, Bytes, BytesMut};
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use tonic::body::Body;
use tower::{BoxError, Service};

/// How a Connect call encodes its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Proto,
    Json,
}

/// The Connect error codes: (gRPC code number, Connect name, HTTP status of
/// a unary error), from the specification's table.
const CODES: [(u8, &str, u16); 16] = [
    (1, "canceled", 499),
    (2, "unknown", 500),
    (3, "invalid_argument", 400),
    (4, "deadline_exceeded", 504),
    (5, "not_found", 404),
    (6, "already_exists", 409),
    (7, "permission_denied", 403),
    (8, "resource_exhausted", 429),
    (9, "failed_precondition", 400),
    (10, "aborted", 409),
    (11, "out_of_range", 400),
    (12, "unimplemented", 501),
    (13, "internal", 500),
    (14, "unavailable", 503),
    (15, "data_loss", 500),
    (16, "unauthenticated", 401),
];
const UNKNOWN: u8 = 2;

#[derive(Clone)]
pub struct ConnectClient {
    http: Client<HttpConnector, Full<Bytes>>,
    base: String,
    codec: Codec,
    descriptors: DescriptorPool,
}

impl ConnectClient {
    /// A client of the server at `base` (e.g. `http://127.0.0.1:1234`).
    pub fn new(base: String, codec: Codec) -> Result<Self, BoxError> {
        Ok(ConnectClient {
            http: Client::builder(TokioExecutor::new()).build_http(),
            base,
            codec,
            descriptors: DescriptorPool::decode(paddock::protocol::proto::FILE_DESCRIPTOR_SET)?,
        })
    }

    /// The input and output message types of `/pkg.Service/Method`.
    fn method(&self, path: &str) -> Result<(MessageDescriptor, MessageDescriptor), BoxError> {
        let (service, method) = path
            .trim_start_matches('/')
            .split_once('/')
            .ok_or_else(|| format!("{path} is not a method path"))?;
        let method = self
            .descriptors
            .get_service_by_name(service)
            .and_then(|s| s.methods().find(|m| m.name() == method))
            .ok_or_else(|| format!("{path} is not a method of the descriptors"))?;
        Ok((method.input(), method.output()))
    }

    async fn unary(self, request: Request<Body>) -> Result<Response<Body>, BoxError> {
        let (grpc, body) = request.into_parts();
        let path = grpc.uri.path();
        let (input, output) = self.method(path)?;
        let frame = body.collect().await?.to_bytes();
        let compressed = frame.first() == Some(&1);
        if compressed && grpc.headers.get("grpc-encoding").is_none_or(|e| e != "gzip") {
            return Err("a compressed gRPC frame that is not gzip".into());
        }
        let message = unframe(&frame)?;
        let message = if compressed { gunzip(&message)? } else { message };

        let (content_type, mut body) = match self.codec {
            Codec::Proto => ("application/proto", message),
            Codec::Json => ("application/json", to_json(&input, &message)?),
        };
        let mut connect = Request::post(format!("{}{path}", self.base))
            .header(CONTENT_TYPE, content_type)
            .header("connect-protocol-version", "1");
        if compressed {
            body = gzip(&body)?;
            connect = connect.header(CONTENT_ENCODING, "gzip");
        }
        if accepts_gzip(&grpc.headers) {
            connect = connect.header(ACCEPT_ENCODING, "gzip");
        }
        if let Some(timeout) = grpc.headers.get("grpc-timeout") {
            connect = connect.header("connect-timeout-ms", timeout_ms(timeout)?);
        }
        for (name, value) in grpc.headers.iter().filter(|(name, _)| is_metadata(name)) {
            connect = connect.header(name, value);
        }
        let answer = self.http.request(connect.body(Full::new(Bytes::from(body)))?).await?;

        let (answer, body) = answer.into_parts();
        let mut data = body.collect().await?.to_bytes().to_vec();
        if answer.headers.get(CONTENT_ENCODING).is_some_and(|e| e == "gzip") {
            data = gunzip(&data)?;
        }
        if answer.status != StatusCode::OK {
            return grpc_error(answer.status, &answer.headers, &data);
        }
        let media_type = media_type(&answer.headers);
        if media_type != content_type {
            return Err(format!("{path}: a Connect answer of {media_type:?}, not {content_type}").into());
        }
        let message = match self.codec {
            Codec::Proto => data,
            Codec::Json => from_json(&output, &data)?,
        };
        grpc_ok(&answer.headers, message)
    }
}

impl Service<Request<Body>> for ConnectClient {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        Box::pin(self.clone().unary(request))
    }
}

/// The message of a gRPC request body: one length-prefixed frame.
fn unframe(frame: &[u8]) -> Result<Vec<u8>, BoxError> {
    let (prefix, message) = frame
        .split_at_checked(5)
        .ok_or("a gRPC frame shorter than its prefix")?;
    let length = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
    if message.len() != length {
        return Err(format!("a gRPC frame of {} bytes announcing {length}", message.len()).into());
    }
    Ok(message.to_vec())
}

/// The Content-Type without parameters.
fn media_type(headers: &HeaderMap) -> &str {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    content_type
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
}

fn accepts_gzip(grpc_headers: &HeaderMap) -> bool {
    grpc_headers
        .get_all("grpc-accept-encoding")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|e| e.trim() == "gzip"))
}

/// `grpc-timeout` (digits and a unit) in milliseconds.
fn timeout_ms(value: &HeaderValue) -> Result<String, BoxError> {
    let text = value.to_str()?;
    let (digits, unit) = text
        .split_at_checked(text.len().saturating_sub(1))
        .ok_or("empty grpc-timeout")?;
    let amount: u64 = digits.parse()?;
    let ms = match unit {
        "H" => amount * 3_600_000,
        "M" => amount * 60_000,
        "S" => amount * 1000,
        "m" => amount,
        "u" => amount.div_ceil(1000),
        "n" => amount.div_ceil(1_000_000),
        _ => return Err(format!("grpc-timeout {text:?}").into()),
    };
    Ok(ms.to_string())
}

/// Headers that are the caller's metadata rather than gRPC's transport.
fn is_metadata(name: &HeaderName) -> bool {
    let name = name.as_str();
    !(matches!(
        name,
        "te" | "content-type" | "content-length" | "host" | "connection" | "user-agent"
    ) || name.starts_with("grpc-"))
}

/// Headers of a Connect answer that are HTTP's, not the server's metadata.
fn is_http(name: &HeaderName) -> bool {
    let name = name.as_str();
    matches!(name, "date" | "connection" | "transfer-encoding" | "keep-alive") || name.starts_with("content-")
}

fn to_json(descriptor: &MessageDescriptor, message: &[u8]) -> Result<Vec<u8>, BoxError> {
    let message = DynamicMessage::decode(descriptor.clone(), message)?;
    Ok(serde_json::to_vec(&message)?)
}

fn from_json(descriptor: &MessageDescriptor, json: &[u8]) -> Result<Vec<u8>, BoxError> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let message = DynamicMessage::deserialize(descriptor.clone(), &mut deserializer)?;
    deserializer.end()?;
    Ok(message.encode_to_vec())
}

fn gzip(data: &[u8]) -> Result<Vec<u8>, BoxError> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data)?;
    Ok(encoder.finish()?)
}

fn gunzip(data: &[u8]) -> Result<Vec<u8>, BoxError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out)?;
    Ok(out)
}

/// A gRPC answer of one message: the server's metadata as headers, its
/// `trailer-` metadata and `grpc-status: 0` as trailers.
fn grpc_ok(connect_headers: &HeaderMap, message: Vec<u8>) -> Result<Response<Body>, BoxError> {
    let mut response = Response::builder().header(CONTENT_TYPE, "application/grpc");
    let mut trailers = HeaderMap::new();
    for (name, value) in connect_headers.iter().filter(|(name, _)| !is_http(name)) {
        match name.as_str().strip_prefix("trailer-") {
            Some(trailer) => {
                trailers.append(HeaderName::from_bytes(trailer.as_bytes())?, value.clone());
            }
            None => response = response.header(name, value),
        }
    }
    trailers.insert("grpc-status", HeaderValue::from_static("0"));

    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.put_u8(0);
    frame.put_u32(u32::try_from(message.len())?);
    frame.put_slice(&message);
    let body = Full::new(frame.freeze()).with_trailers(async move { Some(Ok(trailers)) });
    Ok(response.body(Body::new(body))?)
}

/// A Connect error body (the spec's JSON form).
#[derive(serde::Deserialize)]
struct ConnectError {
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: Vec<ConnectDetail>,
}

#[derive(serde::Deserialize)]
struct ConnectDetail {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

/// The code a Connect client infers from the HTTP status of an answer whose
/// body is not a Connect error.
fn code_of_http_status(status: StatusCode) -> u8 {
    let name = match status.as_u16() {
        400 => "internal",
        401 => "unauthenticated",
        403 => "permission_denied",
        404 => "unimplemented",
        429 | 502 | 503 | 504 => "unavailable",
        _ => "unknown",
    };
    code_named(name).map_or(UNKNOWN, |(code, _)| code)
}

/// The gRPC code number and HTTP status of a Connect code name.
fn code_named(name: &str) -> Option<(u8, u16)> {
    CODES
        .iter()
        .find(|(_, n, _)| *n == name)
        .map(|&(code, _, http_status)| (code, http_status))
}

/// A Connect error as the trailers-only gRPC answer tonic reads a status
/// from: grpc-status, grpc-message, grpc-status-details-bin. An error whose
/// HTTP status is not its code's is no answer at all.
fn grpc_error(status: StatusCode, connect_headers: &HeaderMap, body: &[u8]) -> Result<Response<Body>, BoxError> {
    let error = if media_type(connect_headers) == "application/json" {
        serde_json::from_slice::<ConnectError>(body).ok()
    } else {
        None
    };
    let (code, message, details) = match error {
        Some(e) => {
            let (code, http_status) =
                code_named(&e.code).ok_or_else(|| format!("a Connect error of code {:?}", e.code))?;
            if status.as_u16() != http_status {
                return Err(format!(
                    "a Connect {} error answered with HTTP {status}, not {http_status}",
                    e.code
                )
                .into());
            }
            (code, e.message, e.details)
        }
        None => (code_of_http_status(status), String::new(), Vec::new()),
    };
    let mut any = Vec::with_capacity(details.len());
    for detail in details {
        any.push(prost_types::Any {
            type_url: format!("type.googleapis.com/{}", detail.kind),
            value: STANDARD_NO_PAD.decode(detail.value.trim_end_matches('='))?,
        });
    }
    let status_details = tonic_types::pb::Status {
        code: i32::from(code),
        message: message.clone(),
        details: any,
    };

    let mut response = Response::builder().header(CONTENT_TYPE, "application/grpc");
    for (name, value) in connect_headers.iter().filter(|(name, _)| !is_http(name)) {
        response = response.header(name, value);
    }
    Ok(response
        .header("grpc-status", code.to_string())
        .header("grpc-message", percent_encode(&message))
        .header(
            "grpc-status-details-bin",
            STANDARD_NO_PAD.encode(status_details.encode_to_vec()),
        )
        .body(Body::empty())?)
}

/// grpc-message's encoding: bytes outside printable ASCII, and `%`, as %XX.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
