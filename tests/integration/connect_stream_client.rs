//! A Connect streaming client, written from the protocol specification
//! (https://connectrpc.com/docs/protocol/#streaming-rpcs) rather than the
//! server's code: enveloped messages both ways, sent and read one at a time
//! while the call is open, so that a test can tell a full-duplex server from
//! one that waits for the whole request.

use std::convert::Infallible;
use std::io::{Read, Write};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use http_body::Frame;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, StreamBody};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tower::BoxError;

/// How long the client waits for anything from the server before it fails
/// the test rather than hang it.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(20);

pub const COMPRESSED: u8 = 0x01;
pub const END_STREAM: u8 = 0x02;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Http {
    /// HTTP/1.1 (chunked bodies)
    One,
    /// HTTP/2 with prior knowledge (h2c)
    Two,
}

type Answer = BoxBody<Bytes, BoxError>;
type Head = tokio::task::JoinHandle<Result<http::Response<Answer>, BoxError>>;

/// An open stream: what the client still sends, and the server's answer.
pub struct Stream {
    requests: Option<mpsc::Sender<Result<Frame<Bytes>, Infallible>>>,
    /// Gzip request messages (Connect-Content-Encoding: gzip).
    gzip: bool,
    /// The answer's head, until it arrived.
    pending: Option<Head>,
    pub status: StatusCode,
    pub headers: HeaderMap,
    body: Option<Answer>,
    buffer: BytesMut,
    body_ended: bool,
}

/// What the server sent next.
#[derive(Debug)]
pub enum Received {
    /// A message (decompressed), and whether it came compressed.
    Message { data: Vec<u8>, compressed: bool },
    /// The end-of-stream message.
    End(serde_json::Value),
}

impl Received {
    pub fn message(self) -> Vec<u8> {
        match self {
            Received::Message { data, .. } => data,
            Received::End(end) => panic!("the stream ended instead of answering: {end}"),
        }
    }

    pub fn end(self) -> serde_json::Value {
        match self {
            Received::End(end) => end,
            Received::Message { data, .. } => panic!("a message instead of the end: {data:?}"),
        }
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out).unwrap();
    out
}

pub fn envelope(flags: u8, message: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + message.len());
    out.put_u8(flags);
    out.put_u32(u32::try_from(message.len()).unwrap());
    out.put_slice(message);
    out.freeze()
}

fn client<B>(http: Http) -> Client<HttpConnector, B>
where
    B: http_body::Body<Data = Bytes> + Send + 'static + Unpin,
    B::Error: Into<BoxError>,
{
    let mut builder = Client::builder(TokioExecutor::new());
    if http == Http::Two {
        builder.http2_only(true);
    }
    builder.build_http()
}

fn request<B>(url: &str, headers: &[(&str, &str)], body: B) -> http::Request<B> {
    let mut request = http::Request::post(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(body).unwrap()
}

/// Opens a stream to `url` (`http://host:port/pkg.Service/Method`) with the
/// request headers given (content-type among them). The request body stays
/// open for `send` until `close`; the answer's head is awaited by `head` or
/// the first `next`, so that a server stream's one request can go first.
pub fn open(http: Http, url: &str, headers: &[(&str, &str)]) -> Stream {
    let (tx, rx) = mpsc::channel(16);
    let body = BoxBody::new(StreamBody::new(ReceiverStream::new(rx)));
    let response = client(http).request(request(url, headers, body));
    let pending = tokio::spawn(async move {
        let response = response.await?;
        Ok(response.map(|body| body.map_err(BoxError::from).boxed()))
    });
    Stream {
        requests: Some(tx),
        gzip: headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("connect-content-encoding") && *v == "gzip"),
        pending: Some(pending),
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body: None,
        buffer: BytesMut::new(),
        body_ended: false,
    }
}

/// The request body of a stream sent in full: each message an envelope,
/// gzipped or not.
pub fn request_body(messages: &[&[u8]], gzip_them: bool) -> Bytes {
    let mut body = BytesMut::new();
    for message in messages {
        if gzip_them {
            body.put_slice(&envelope(COMPRESSED, &gzip(message)));
        } else {
            body.put_slice(&envelope(0, message));
        }
    }
    body.freeze()
}

/// A call whose request body is sent whole (the client half-closed before
/// any answer), as clients without full duplex make them.
pub async fn call(http: Http, url: &str, headers: &[(&str, &str)], body: Bytes) -> Stream {
    let response = client(http)
        .request(request(url, headers, http_body_util::Full::new(body)))
        .await
        .expect("the response head");
    Stream {
        requests: None,
        gzip: false,
        pending: None,
        status: response.status(),
        headers: response.headers().clone(),
        body: Some(response.into_body().map_err(BoxError::from).boxed()),
        buffer: BytesMut::new(),
        body_ended: false,
    }
}

impl Stream {
    /// Sends one message, gzipped if the stream said so.
    pub async fn send(&mut self, message: &[u8]) {
        let data = if self.gzip {
            envelope(COMPRESSED, &gzip(message))
        } else {
            envelope(0, message)
        };
        self.send_raw(data).await;
    }

    /// Sends bytes as they are (malformed envelopes, for the tests of bad input).
    pub async fn send_raw(&mut self, data: Bytes) {
        let requests = self.requests.as_ref().expect("the request is still open");
        requests
            .send(Ok(Frame::data(data)))
            .await
            .expect("the request body is open");
    }

    /// Waits for the answer's head (status and headers).
    pub async fn head(&mut self) {
        if let Some(pending) = self.pending.take() {
            let response = tokio::time::timeout(PATIENCE, pending)
                .await
                .unwrap_or_else(|_| panic!("no response head within {PATIENCE:?}"))
                .unwrap()
                .expect("the response head");
            self.status = response.status();
            self.headers = response.headers().clone();
            self.body = Some(response.into_body());
        }
    }

    /// Ends the request stream (half-close).
    pub fn close(&mut self) {
        self.requests = None;
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The next envelope of the answer; panics on anything the protocol
    /// does not allow (a compressed message without Connect-Content-Encoding,
    /// unknown flags, bytes after the end, a body that stops inside an envelope).
    pub async fn next(&mut self) -> Received {
        self.head().await;
        loop {
            if self.buffer.len() >= 5 {
                let flags = self.buffer[0];
                let length =
                    u32::from_be_bytes([self.buffer[1], self.buffer[2], self.buffer[3], self.buffer[4]]) as usize;
                if self.buffer.len() >= 5 + length {
                    self.buffer.advance(5);
                    let raw = self.buffer.split_to(length).to_vec();
                    assert_eq!(flags & !(COMPRESSED | END_STREAM), 0, "unknown flags {flags:#04x}");
                    let compressed = flags & COMPRESSED != 0;
                    let data = if compressed {
                        let encoding = self.headers.get("connect-content-encoding");
                        assert!(
                            encoding.is_some_and(|e| e == "gzip"),
                            "a compressed message, but connect-content-encoding is {encoding:?}"
                        );
                        gunzip(&raw)
                    } else {
                        raw
                    };
                    if flags & END_STREAM != 0 {
                        let end: serde_json::Value = serde_json::from_slice(&data)
                            .unwrap_or_else(|e| panic!("end-of-stream is not JSON ({e}): {data:?}"));
                        self.expect_nothing_more().await;
                        return Received::End(end);
                    }
                    return Received::Message { data, compressed };
                }
            }
            assert!(
                !self.body_ended,
                "the answer ended without an end-of-stream message ({} bytes left)",
                self.buffer.len()
            );
            let body = self.body.as_mut().expect("the answer's body");
            let frame = tokio::time::timeout(PATIENCE, body.frame()).await.unwrap_or_else(|_| {
                panic!("no answer within {PATIENCE:?} (does the server wait for the whole request?)")
            });
            match frame {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
                Some(Err(e)) => panic!("reading the answer: {e}"),
                None => self.body_ended = true,
            }
        }
    }

    async fn expect_nothing_more(&mut self) {
        assert!(self.buffer.is_empty(), "bytes after the end-of-stream message");
        let body = self.body.as_mut().expect("the answer's body");
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.expect("the rest of the answer").into_data() {
                assert!(data.is_empty(), "bytes after the end-of-stream message");
            }
        }
    }
}
