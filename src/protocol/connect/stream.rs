//! The Connect streaming protocol (client, server and bidi streams) ⇄ gRPC,
//! in-process. Both bodies are translated while they flow: a request
//! envelope becomes a gRPC message as soon as it has arrived whole, and a
//! message the service produces becomes an envelope at once. Bidi calls are
//! therefore full duplex, and nothing is held beyond one message.
//!
//! A stream always answers HTTP 200: how the call ended is said by its last
//! envelope (flag 0x02), a JSON object with the error, if any, and the
//! trailers as `metadata`. Failures of the request stream (a malformed
//! envelope, an unknown compression) end the call the same way.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{BufMut, Bytes, BytesMut};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::Full;
use prost_reflect::MessageDescriptor;
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};
use tonic::Code;
use tonic::body::Body;
use tower::{BoxError, Service, ServiceExt};

use super::{
    COMPRESS_MIN_BYTES, Codec, Failure, MAX_MESSAGE_SIZE, Routes, StreamCallCode, check_protocol_version, codes,
    decompress, error_json, grpc_failure, grpc_frame, grpc_request, gzip, lists_gzip, plain_status, timeout, to_json,
    to_protobuf, unknown_route,
};

const FLAG_COMPRESSED: u8 = 0x01;
const FLAG_END_STREAM: u8 = 0x02;

/// Serves one Connect stream on the tonic route of its path.
pub(super) async fn serve<S, ReqBody, ResBody>(
    inner: S,
    routes: &Routes,
    request: Request<ReqBody>,
    codec: Codec,
) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<ResBody>> + Send,
    S::Future: Send,
    ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<BoxError>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    let path = request.uri().path().to_owned();
    let Some(method) = routes.methods.get(&path) else {
        return unknown_route(&path);
    };
    let (parts, body) = request.into_parts();
    let answer = Answer {
        codec,
        output: method.output.clone(),
        gzip: lists_gzip(&parts.headers, "connect-accept-encoding"),
        code: StreamCallCode::default(),
    };
    let checked = check_protocol_version(parts.headers.get("connect-protocol-version"))
        .and_then(|()| request_is_gzip(&parts.headers))
        .and_then(|is_gzip| Ok((is_gzip, timeout(&parts.headers)?)));
    let (is_gzip, budget) = match checked {
        Ok(checked) => checked,
        Err(failure) => return answer.ended(&HeaderMap::new(), Some(failure)),
    };
    // a zero budget is spent before the call starts
    if budget.is_some_and(|b| b.is_zero()) {
        return answer.ended(&HeaderMap::new(), Some(deadline_exceeded()));
    }
    let deadline = budget.map(|b| Instant::now() + b);

    let (failed_tx, mut failed_rx) = oneshot::channel();
    let envelopes = RequestEnvelopes {
        body,
        limit: routes.max_message,
        buffer: BytesMut::new(),
        input: method.input.clone(),
        codec,
        is_gzip,
        one_message: !method.client_streaming,
        messages: 0,
        failed: Some(failed_tx),
        done: false,
    };
    let grpc = match grpc_request(&path, &parts.headers, &parts.extensions, budget, Body::new(envelopes)) {
        Ok(grpc) => grpc,
        Err(failure) => return answer.ended(&HeaderMap::new(), Some(failure)),
    };
    let called = inner.oneshot(grpc);
    let response = match deadline {
        Some(at) => match tokio::time::timeout_at(at, called).await {
            Ok(response) => response,
            Err(_) => return answer.ended(&HeaderMap::new(), Some(deadline_exceeded())),
        },
        None => called.await,
    };
    let Ok(response) = response else {
        return answer.ended(
            &HeaderMap::new(),
            Some(Failure::new(Code::Unavailable, "the service is unavailable")),
        );
    };
    let (head, body) = response.into_parts();

    // A trailers-only answer (e.g. refused before the handler ran) carries
    // its status, and its trailers, in the headers.
    if let Some(status) = head.headers.get("grpc-status") {
        let code = codes::from_grpc_status(status.as_bytes());
        let failure = if let Ok(failure) = failed_rx.try_recv() {
            Some(failure)
        } else if deadline.is_some_and(|at| Instant::now() >= at) {
            // tonic's own timer may have ended the call a moment before ours
            Some(deadline_exceeded())
        } else {
            (code != Code::Ok).then(|| grpc_failure(code, &head.headers))
        };
        return answer.ended(&head.headers, failure);
    }
    answer.streaming(&head.headers, Body::new(body), failed_rx, deadline)
}

fn deadline_exceeded() -> Failure {
    Failure::new(Code::DeadlineExceeded, "the call exceeded connect-timeout-ms")
}

/// Whether the request's messages may be gzipped (`Connect-Content-Encoding`);
/// any other compression is UNIMPLEMENTED, as the protocol says.
fn request_is_gzip(headers: &HeaderMap) -> Result<bool, Failure> {
    let Some(value) = headers.get("connect-content-encoding") else {
        return Ok(false);
    };
    let encoding = String::from_utf8_lossy(value.as_bytes()).trim().to_ascii_lowercase();
    match encoding.as_str() {
        "identity" => Ok(false),
        "gzip" => Ok(true),
        _ => Err(Failure::new(
            Code::Unimplemented,
            format!("unsupported compression {encoding:?}: use gzip or identity"),
        )),
    }
}

/// Headers (or trailers) of the gRPC side that are the service's metadata
/// rather than gRPC's own.
fn is_metadata(name: &HeaderName) -> bool {
    let name = name.as_str();
    !(name.starts_with("grpc-") || name == "content-type" || name == "content-length")
}

/// Takes one length-prefixed message (gRPC frame or Connect envelope, the
/// same layout) off the front of `buffer` once it is all there. Err holds
/// an announced length over `limit`.
fn take_message(buffer: &mut BytesMut, limit: usize) -> Result<Option<(u8, Bytes)>, usize> {
    let Some(prefix) = buffer.first_chunk::<5>() else {
        return Ok(None);
    };
    let flags = prefix[0];
    let length = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
    if length > limit {
        return Err(length);
    }
    if buffer.len() < 5 + length {
        buffer.reserve((5 + length - buffer.len()).min(MAX_MESSAGE_SIZE));
        return Ok(None);
    }
    let mut message = buffer.split_to(5 + length);
    let _prefix = message.split_to(5);
    Ok(Some((flags, message.freeze())))
}

fn envelope(flags: u8, message: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + message.len());
    out.put_u8(flags);
    out.put_u32(message.len() as u32);
    out.put_slice(message);
    out.freeze()
}

pin_project_lite::pin_project! {
    /// The Connect request body as a gRPC request body: envelopes in,
    /// uncompressed protobuf messages out, one at a time as they arrive.
    struct RequestEnvelopes<B> {
        #[pin]
        body: B,
        // the largest request message taken
        limit: usize,
        buffer: BytesMut,
        input: MessageDescriptor,
        codec: Codec,
        is_gzip: bool,
        // the method takes exactly one request message (unary, server stream)
        one_message: bool,
        messages: usize,
        // where a failure of the request stream goes, for the response to end with
        failed: Option<oneshot::Sender<Failure>>,
        done: bool,
    }
}

impl<B> RequestEnvelopes<B> {
    /// One request envelope as protobuf; a client's mistakes are
    /// INVALID_ARGUMENT, as in the unary protocol.
    fn translate(
        input: &MessageDescriptor,
        codec: Codec,
        is_gzip: bool,
        flags: u8,
        message: Bytes,
        limit: usize,
    ) -> Result<Bytes, Failure> {
        if flags & !FLAG_COMPRESSED != 0 {
            return Err(Failure::new(
                Code::InvalidArgument,
                format!("a request envelope with flags {flags:#04x}: only 0x01 (compressed) is allowed"),
            ));
        }
        let raw = if flags & FLAG_COMPRESSED != 0 {
            if !is_gzip {
                return Err(Failure::new(
                    Code::InvalidArgument,
                    "a compressed envelope in a request without connect-content-encoding",
                ));
            }
            decompress("gzip", message, limit)?
        } else {
            message
        };
        to_protobuf(input, codec, raw)
    }
}

/// Records the failure for the response and ends the request stream with it.
fn fail(failed: &mut Option<oneshot::Sender<Failure>>, done: &mut bool, failure: Failure) -> BoxError {
    *done = true;
    let message = failure.message.clone();
    if let Some(tx) = failed.take() {
        let _ = tx.send(failure);
    }
    message.into()
}

impl<B> http_body::Body for RequestEnvelopes<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        loop {
            if *this.done {
                return Poll::Ready(None);
            }
            match take_message(this.buffer, *this.limit) {
                Ok(Some((flags, message))) => {
                    *this.messages += 1;
                    if *this.one_message && *this.messages > 1 {
                        let failure =
                            Failure::new(Code::Unimplemented, "this method takes one request message, not more");
                        return Poll::Ready(Some(Err(fail(this.failed, this.done, failure))));
                    }
                    let translated =
                        Self::translate(this.input, *this.codec, *this.is_gzip, flags, message, *this.limit);
                    return Poll::Ready(Some(match translated {
                        Ok(message) => Ok(Frame::data(grpc_frame(&message))),
                        Err(failure) => Err(fail(this.failed, this.done, failure)),
                    }));
                }
                Ok(None) => {}
                Err(length) => {
                    let failure = Failure::new(
                        Code::ResourceExhausted,
                        format!("a request message of {length} bytes: at most {}", this.limit),
                    );
                    return Poll::Ready(Some(Err(fail(this.failed, this.done, failure))));
                }
            }
            match ready!(this.body.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => {
                    // HTTP trailers of a request mean nothing to Connect
                    if let Ok(data) = frame.into_data() {
                        this.buffer.extend_from_slice(&data);
                    }
                }
                Some(Err(_)) => {
                    let failure = Failure::new(Code::Cancelled, "the request body could not be read");
                    return Poll::Ready(Some(Err(fail(this.failed, this.done, failure))));
                }
                // the code connect-go gives a request stream of the wrong length
                None if this.buffer.is_empty() && *this.one_message && *this.messages == 0 => {
                    let failure = Failure::new(Code::Unimplemented, "this method takes one request message, not none");
                    return Poll::Ready(Some(Err(fail(this.failed, this.done, failure))));
                }
                None if this.buffer.is_empty() => {
                    *this.done = true;
                    return Poll::Ready(None);
                }
                None => {
                    let failure = Failure::new(
                        Code::InvalidArgument,
                        format!(
                            "the request ended inside an envelope ({} bytes of it arrived)",
                            this.buffer.len()
                        ),
                    );
                    return Poll::Ready(Some(Err(fail(this.failed, this.done, failure))));
                }
            }
        }
    }
}

/// How the client wants its answer.
struct Answer {
    codec: Codec,
    output: MessageDescriptor,
    /// The client accepts gzipped messages (`Connect-Accept-Encoding`).
    gzip: bool,
    code: StreamCallCode,
}

impl Answer {
    fn head(&self) -> http::response::Builder {
        let content_type = match self.codec {
            Codec::Proto => "application/connect+proto",
            Codec::Json => "application/connect+json",
        };
        let mut builder = Response::builder()
            .status(StatusCode::OK)
            .header(CONTENT_TYPE, content_type)
            .header("connect-accept-encoding", "gzip");
        if self.gzip {
            builder = builder.header("connect-content-encoding", "gzip");
        }
        builder
    }

    fn respond(&self, builder: http::response::Builder, body: Body) -> Response<Body> {
        let mut response = builder
            .body(body)
            .unwrap_or_else(|_| plain_status(StatusCode::INTERNAL_SERVER_ERROR, Code::Internal));
        response.extensions_mut().insert(self.code.clone());
        response
    }

    /// A stream that ends before it carried any message.
    fn ended(self, trailers: &HeaderMap, failure: Option<Failure>) -> Response<Body> {
        let end = end_stream(&self.code, trailers, failure);
        self.respond(self.head(), Body::new(Full::new(end)))
    }

    /// The stream of the service's messages, then its end.
    fn streaming(
        self,
        headers: &HeaderMap,
        grpc: Body,
        failed: oneshot::Receiver<Failure>,
        deadline: Option<Instant>,
    ) -> Response<Body> {
        let mut builder = self.head();
        for (name, value) in headers.iter().filter(|(name, _)| is_metadata(name)) {
            builder = builder.header(name, value);
        }
        let grpc_encoding = headers
            .get("grpc-encoding")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("identity")
            .to_owned();
        let code = self.code.clone();
        let body = ResponseEnvelopes {
            grpc: Some(grpc),
            buffer: BytesMut::new(),
            grpc_encoding,
            answer: self,
            failed: Some(failed),
            deadline: deadline.map(|at| Box::pin(tokio::time::sleep_until(at))),
        };
        let mut response = builder
            .body(Body::new(body))
            .unwrap_or_else(|_| plain_status(StatusCode::INTERNAL_SERVER_ERROR, Code::Internal));
        response.extensions_mut().insert(code);
        response
    }

    /// One message of the service as an envelope in the client's codec.
    fn envelope(&self, message: Bytes) -> Result<Bytes, Failure> {
        let data = match self.codec {
            Codec::Proto => message,
            Codec::Json => Bytes::from(
                to_json(&self.output, &message)
                    .map_err(|e| Failure::new(Code::Internal, format!("encoding the response: {e}")))?,
            ),
        };
        if self.gzip
            && data.len() >= COMPRESS_MIN_BYTES
            && let Some(compressed) = gzip(&data)
        {
            return Ok(envelope(FLAG_COMPRESSED, &compressed));
        }
        Ok(envelope(0, &data))
    }
}

/// The end-of-stream envelope; records the call's code for the call log.
fn end_stream(code: &StreamCallCode, trailers: &HeaderMap, failure: Option<Failure>) -> Bytes {
    let _ = code.0.set(failure.as_ref().map_or(Code::Ok, |f| f.code));
    let mut end = serde_json::Map::new();
    if let Some(failure) = failure {
        end.insert("error".into(), error_json(failure));
    }
    let mut metadata = serde_json::Map::new();
    for (name, value) in trailers.iter().filter(|(name, _)| is_metadata(name)) {
        let values = metadata
            .entry(name.as_str())
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        if let serde_json::Value::Array(values) = values {
            values.push(String::from_utf8_lossy(value.as_bytes()).into());
        }
    }
    if !metadata.is_empty() {
        end.insert("metadata".into(), metadata.into());
    }
    let json = serde_json::to_vec(&serde_json::Value::Object(end)).unwrap_or_else(|_| b"{}".to_vec());
    envelope(FLAG_END_STREAM, &json)
}

/// The gRPC response body as Connect envelopes, ended by the end-of-stream
/// envelope whatever happens: the service's status, a failure of the
/// request stream, or the deadline.
struct ResponseEnvelopes {
    /// None once the end-of-stream envelope is out; dropping it cancels the call.
    grpc: Option<Body>,
    buffer: BytesMut,
    grpc_encoding: String,
    answer: Answer,
    failed: Option<oneshot::Receiver<Failure>>,
    deadline: Option<Pin<Box<Sleep>>>,
}

type Polled = Poll<Option<Result<Frame<Bytes>, Infallible>>>;

impl ResponseEnvelopes {
    fn end(&mut self, trailers: &HeaderMap, failure: Option<Failure>) -> Polled {
        self.grpc = None;
        // the request's own failure explains the end better than what the
        // service made of its broken request stream
        let failure = match self.failed.as_mut().map(|rx| rx.try_recv()) {
            Some(Ok(request_failure)) => Some(request_failure),
            _ => failure,
        };
        self.failed = None;
        self.deadline = None;
        let end = end_stream(&self.answer.code, trailers, failure);
        Poll::Ready(Some(Ok(Frame::data(end))))
    }

    fn fail(&mut self, failure: Failure) -> Polled {
        self.end(&HeaderMap::new(), Some(failure))
    }
}

impl http_body::Body for ResponseEnvelopes {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Polled {
        let this = self.get_mut();
        if this.grpc.is_none() {
            return Poll::Ready(None);
        }
        if let Some(deadline) = this.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            return this.fail(deadline_exceeded());
        }
        if let Some(failed) = this.failed.as_mut() {
            match Pin::new(failed).poll(cx) {
                Poll::Ready(Ok(failure)) => return this.fail(failure),
                // the request stream ended without fault
                Poll::Ready(Err(_)) => this.failed = None,
                Poll::Pending => {}
            }
        }
        loop {
            match take_message(&mut this.buffer, usize::MAX) {
                Ok(Some((flags, message))) => {
                    let message = if flags & FLAG_COMPRESSED != 0 {
                        match decompress(&this.grpc_encoding, message, usize::MAX) {
                            Ok(message) => message,
                            Err(_) => return this.fail(Failure::new(Code::Internal, "malformed gRPC response")),
                        }
                    } else {
                        message
                    };
                    return match this.answer.envelope(message) {
                        Ok(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                        Err(failure) => this.fail(failure),
                    };
                }
                Ok(None) => {}
                Err(_) => return this.fail(Failure::new(Code::Internal, "malformed gRPC response")),
            }
            let Some(grpc) = this.grpc.as_mut() else {
                return Poll::Ready(None);
            };
            match ready!(Pin::new(grpc).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => this.buffer.extend_from_slice(&data),
                    Err(frame) => {
                        let Ok(trailers) = frame.into_trailers() else { continue };
                        if !this.buffer.is_empty() {
                            return this.fail(Failure::new(Code::Internal, "malformed gRPC response"));
                        }
                        let code = trailers
                            .get("grpc-status")
                            .map_or(Code::Unknown, |v| codes::from_grpc_status(v.as_bytes()));
                        let failure = (code != Code::Ok).then(|| grpc_failure(code, &trailers));
                        return this.end(&trailers, failure);
                    }
                },
                Some(Err(_)) => return this.fail(Failure::new(Code::Internal, "the response could not be read")),
                None => return this.fail(Failure::new(Code::Internal, "the call ended without a status")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http_body_util::BodyExt;
    use tower::Layer;

    use super::super::ConnectLayer;
    use super::*;

    const REFLECTION: &str = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";

    fn layer() -> ConnectLayer {
        ConnectLayer::new(Routes::new(&[tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET]).unwrap())
    }

    /// Sends `body` as a Connect stream through the layer in front of
    /// `service`; answers (head, envelopes).
    async fn call<S>(service: S, headers: &[(&str, &str)], body: Vec<u8>) -> (http::response::Parts, Vec<(u8, Bytes)>)
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone + Send + 'static,
        S::Future: Send,
    {
        let mut request = Request::post(REFLECTION);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(Bytes::from(body))).unwrap();
        let response = layer().layer(service).oneshot(request).await.unwrap();
        let (head, body) = response.into_parts();
        let mut data = BytesMut::from(body.collect().await.unwrap().to_bytes());
        let mut envelopes = Vec::new();
        while let Some(envelope) = take_message(&mut data, usize::MAX).unwrap() {
            envelopes.push(envelope);
        }
        assert!(data.is_empty(), "bytes after the last envelope: {data:?}");
        (head, envelopes)
    }

    fn end_of(envelopes: &[(u8, Bytes)]) -> serde_json::Value {
        let (flags, end) = envelopes.last().expect("an end-of-stream envelope");
        assert_eq!(*flags, FLAG_END_STREAM);
        serde_json::from_slice(end).unwrap()
    }

    #[tokio::test]
    async fn messages_metadata_and_trailers_cross_both_ways() {
        // a bidi service that answers every request message with itself
        let echo = tower::service_fn(|request: Request<Body>| async move {
            assert_eq!(request.headers()["x-asked"], "1");
            assert!(request.headers().get("connect-content-encoding").is_none());
            let body = request.into_body().with_trailers(async {
                let mut trailers = HeaderMap::new();
                trailers.insert("grpc-status", "0".parse().unwrap());
                trailers.insert("x-said", "2".parse().unwrap());
                Some(Ok(trailers))
            });
            Ok::<_, Infallible>(
                Response::builder()
                    .header("content-type", "application/grpc")
                    .header("x-answered", "3")
                    .body(Body::new(body))
                    .unwrap(),
            )
        });
        let mut body = envelope(0, br#"{"host":"a"}"#).to_vec();
        body.extend_from_slice(&envelope(FLAG_COMPRESSED, &gzip(br#"{"host":"b"}"#).unwrap()));
        let headers = [
            ("content-type", "application/connect+json"),
            ("connect-content-encoding", "gzip"),
            ("x-asked", "1"),
        ];
        let (head, envelopes) = call(echo, &headers, body).await;
        assert_eq!(head.status, StatusCode::OK);
        assert_eq!(head.headers["content-type"], "application/connect+json");
        assert_eq!(head.headers["x-answered"], "3");
        let messages: Vec<_> = envelopes[..envelopes.len() - 1]
            .iter()
            .map(|(f, m)| (*f, m.clone()))
            .collect();
        assert_eq!(
            messages,
            [
                (0, Bytes::from(r#"{"validHost":"a"}"#)),
                (0, Bytes::from(r#"{"validHost":"b"}"#))
            ]
        );
        assert_eq!(end_of(&envelopes), serde_json::json!({"metadata": {"x-said": ["2"]}}));
        assert_eq!(
            head.extensions.get::<StreamCallCode>().unwrap().0.get(),
            Some(&Code::Ok)
        );
    }

    #[tokio::test]
    async fn a_refusal_before_the_handler_ends_the_stream_with_http_200() {
        // what the authentication layer answers for a gitpod.v1 stream without a token
        let refuse = tower::service_fn(|_: Request<Body>| async {
            Ok::<_, Infallible>(tonic::Status::unauthenticated("missing bearer token").into_http())
        });
        let (head, envelopes) = call(refuse, &[("content-type", "application/connect+proto")], Vec::new()).await;
        assert_eq!(head.status, StatusCode::OK);
        assert_eq!(head.headers["content-type"], "application/connect+proto");
        assert_eq!(envelopes.len(), 1);
        assert_eq!(
            end_of(&envelopes),
            serde_json::json!({"error": {"code": "unauthenticated", "message": "missing bearer token"}})
        );
        assert_eq!(
            head.extensions.get::<StreamCallCode>().unwrap().0.get(),
            Some(&Code::Unauthenticated)
        );
    }

    #[tokio::test]
    async fn a_failed_request_stream_ends_the_call_with_its_own_error() {
        // a service that reads its request stream to the end, then says OK
        let drain = tower::service_fn(|request: Request<Body>| async move {
            let failed = request.into_body().collect().await.is_err();
            let status = if failed { "2" } else { "0" };
            let mut response = Response::new(Body::empty());
            response.headers_mut().insert("grpc-status", status.parse().unwrap());
            Ok::<_, Infallible>(response)
        });
        let truncated = envelope(0, &[0x0a, 0x01, b'a'])[..6].to_vec();
        let gzip = Some(("connect-content-encoding", "gzip"));
        let cases = [
            (None, truncated, "invalid_argument"),
            (None, envelope(FLAG_END_STREAM, b"{}").to_vec(), "invalid_argument"),
            (None, envelope(FLAG_COMPRESSED, b"x").to_vec(), "invalid_argument"),
            (gzip, envelope(FLAG_COMPRESSED, b"x").to_vec(), "invalid_argument"),
            (None, vec![0, 0xff, 0xff, 0xff, 0xff], "resource_exhausted"),
        ];
        for (extra, body, code) in cases {
            let mut headers = vec![("content-type", "application/connect+proto")];
            headers.extend(extra);
            let (head, envelopes) = call(drain, &headers, body).await;
            assert_eq!(head.status, StatusCode::OK);
            assert_eq!(end_of(&envelopes)["error"]["code"], code, "{headers:?}");
        }
    }

    #[tokio::test]
    async fn an_unknown_compression_is_unimplemented_before_any_call() {
        let called = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let service = {
            let called = called.clone();
            tower::service_fn(move |_: Request<Body>| {
                called.store(true, std::sync::atomic::Ordering::SeqCst);
                async { Ok::<_, Infallible>(Response::new(Body::empty())) }
            })
        };
        let headers = [
            ("content-type", "application/connect+proto"),
            ("connect-content-encoding", "br"),
        ];
        let (head, envelopes) = call(service, &headers, envelope(0, b"").to_vec()).await;
        assert_eq!(head.status, StatusCode::OK);
        assert_eq!(head.headers["connect-accept-encoding"], "gzip");
        assert_eq!(end_of(&envelopes)["error"]["code"], "unimplemented");
        assert!(!called.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn messages_are_taken_only_once_whole() {
        let mut buffer = BytesMut::from(&envelope(1, b"abc")[..7]);
        assert_eq!(take_message(&mut buffer, 10), Ok(None));
        buffer.extend_from_slice(b"c");
        assert_eq!(take_message(&mut buffer, 10), Ok(Some((1, Bytes::from("abc")))));
        assert!(buffer.is_empty());
        let mut buffer = BytesMut::from(&envelope(0, b"abc")[..]);
        assert_eq!(take_message(&mut buffer, 2), Err(3));
    }
}
