//! Secrets hygiene over the whole suite. With PADDOCK_TEST_HYGIENE_DIR set,
//! every call the harness's clients make is recorded (request and response
//! bodies) and the servers log at debug level into that directory; then
//! `secrets_never_leak` (run after the suite, `make test-sqlite` does) finds
//! every secret the tests sent or were given and checks that no log line
//! holds one, and that no response holds one but the response that minted it.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Frame;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, ReflectMessage, Value};
use tonic::body::Body;
use tower::BoxError;
use tower::util::BoxCloneService;

use crate::harness::Transport;

const DIR: &str = "PADDOCK_TEST_HYGIENE_DIR";

/// Where the records go, when recording.
pub fn dir() -> Option<PathBuf> {
    static DIR_: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR_.get_or_init(|| {
        let dir = PathBuf::from(std::env::var_os(DIR)?);
        std::fs::create_dir_all(&dir).ok()?;
        Some(dir)
    })
    .clone()
}

fn file(name: &str) -> Option<&'static Mutex<std::fs::File>> {
    static CALLS: OnceLock<Option<Mutex<std::fs::File>>> = OnceLock::new();
    static LOG: OnceLock<Option<Mutex<std::fs::File>>> = OnceLock::new();
    let cell = if name == "calls" { &CALLS } else { &LOG };
    cell.get_or_init(|| {
        let path = dir()?.join(format!("{name}.{}", std::process::id()));
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path).ok()?;
        Some(Mutex::new(file))
    })
    .as_ref()
}

/// Server log lines (in-process servers' and child processes') go here.
#[derive(Clone, Copy)]
pub struct LogFile;

impl Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(log) = file("log") {
            log.lock().unwrap().write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A child process's log line.
pub fn log_line(line: &str) {
    if dir().is_some() {
        let _ = writeln!(LogFile, "{line}");
    }
}

/// How a record's bodies are framed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// gRPC's 5-byte prefixed messages (gzip when flagged); what the
    /// harness's transports carry for every protocol.
    Grpc = 0,
    /// A Connect unary body as sent (JSON or proto, maybe gzip).
    Connect = 1,
}

fn write_record(framing: Framing, path: &str, content_type: &str, gzip: bool, request: &[u8], response: &[u8]) {
    let Some(calls) = file("calls") else { return };
    let mut record = vec![framing as u8, u8::from(gzip)];
    for part in [path.as_bytes(), content_type.as_bytes(), request, response] {
        record.extend_from_slice(&(part.len() as u32).to_le_bytes());
        record.extend_from_slice(part);
    }
    calls.lock().unwrap().write_all(&record).unwrap();
}

/// A Connect call made over plain HTTP (`connect::Http`).
pub fn record_connect(path: &str, content_type: &str, gzip: bool, request: &[u8], response: &[u8]) {
    if dir().is_some() {
        write_record(Framing::Connect, path, content_type, gzip, request, response);
    }
}

/// One call's bodies as they pass; written when both are done with.
struct Call {
    path: String,
    request: Vec<u8>,
    response: Vec<u8>,
}

impl Drop for Call {
    fn drop(&mut self) {
        write_record(
            Framing::Grpc,
            &self.path,
            "application/grpc",
            false,
            &self.request,
            &self.response,
        );
    }
}

pin_project_lite::pin_project! {
    struct Tee {
        #[pin]
        body: Body,
        call: Arc<Mutex<Call>>,
        response: bool,
    }
}

impl http_body::Body for Tee {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        let polled = this.body.poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let mut call = this.call.lock().unwrap();
            if *this.response {
                call.response.extend_from_slice(data);
            } else {
                call.request.extend_from_slice(data);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }
}

/// The transport's calls with their bodies recorded.
#[derive(Clone)]
struct Tap {
    inner: Transport,
}

impl tower::Service<Request<Body>> for Tap {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn std::future::Future<Output = Result<Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let call = Arc::new(Mutex::new(Call {
            path: request.uri().path().to_owned(),
            request: Vec::new(),
            response: Vec::new(),
        }));
        let request = request.map(|body| {
            Body::new(Tee {
                body,
                call: call.clone(),
                response: false,
            })
        });
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            Ok(response.map(|body| {
                Body::new(Tee {
                    body,
                    call,
                    response: true,
                })
            }))
        })
    }
}

/// `transport` recording every call's bodies, when recording.
pub fn recorded(transport: Transport) -> Transport {
    if dir().is_none() {
        return transport;
    }
    BoxCloneService::new(Tap { inner: transport })
}

// ---- the scan ----

struct Record {
    framing: Framing,
    gzip: bool,
    path: String,
    content_type: String,
    request: Vec<u8>,
    response: Vec<u8>,
}

fn read_records(bytes: &[u8]) -> Vec<Record> {
    let mut records = Vec::new();
    let mut at = 0;
    let take = |at: &mut usize| {
        let len = u32::from_le_bytes(bytes[*at..*at + 4].try_into().unwrap()) as usize;
        let part = bytes[*at + 4..*at + 4 + len].to_vec();
        *at += 4 + len;
        part
    };
    while at < bytes.len() {
        let framing = if bytes[at] == 0 {
            Framing::Grpc
        } else {
            Framing::Connect
        };
        let gzip = bytes[at + 1] == 1;
        at += 2;
        let path = String::from_utf8(take(&mut at)).unwrap();
        let content_type = String::from_utf8(take(&mut at)).unwrap();
        let request = take(&mut at);
        let response = take(&mut at);
        records.push(Record {
            framing,
            gzip,
            path,
            content_type,
            request,
            response,
        });
    }
    records
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = flate2::read::GzDecoder::new(data).read_to_end(&mut out);
    out
}

/// The messages of a gRPC-framed body, uncompressed (trailer frames skipped).
fn messages(body: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 5 <= body.len() {
        let flags = body[at];
        let len = u32::from_be_bytes(body[at + 1..at + 5].try_into().unwrap()) as usize;
        let Some(message) = body.get(at + 5..at + 5 + len) else {
            break;
        };
        if flags & 0x80 == 0 {
            out.push(if flags & 1 == 1 {
                gunzip(message)
            } else {
                message.to_vec()
            });
        }
        at += 5 + len;
    }
    out
}

/// Fields that carry a secret a client chose (host tokens, client secrets,
/// API keys, passwords) or one the server minted (the tokens it shows once).
const SECRET_FIELDS: &[&str] = &[
    "token",
    "refresh_token",
    "password",
    "honeycomb_api_key",
    "oauth_plaintext_client_secret",
    "api_key",
    "exchange_token",
    "access_token",
];

/// Messages whose `token` is no secret (page tokens).
const NOT_SECRET: &[&str] = &["gitpod.v1.PaginationRequest", "gitpod.v1.PaginationResponse"];

/// Values this short are test placeholders ("t", "x"): too common to scan for.
const SHORTEST: usize = 8;

fn secrets_in(message: &DynamicMessage, out: &mut Vec<String>) {
    let skip = NOT_SECRET.contains(&message.descriptor().full_name());
    for (field, value) in message.fields() {
        match value {
            Value::String(s) if !skip && SECRET_FIELDS.contains(&field.name()) && s.len() >= SHORTEST => {
                out.push(s.clone());
            }
            Value::Message(inner) => secrets_in(inner, out),
            Value::List(items) => {
                for item in items {
                    if let Value::Message(inner) = item {
                        secrets_in(inner, out);
                    }
                }
            }
            _ => {}
        }
    }
}

fn decoded(descriptor: MessageDescriptor, record: &Record, body: &[u8]) -> Vec<DynamicMessage> {
    let raw = match record.framing {
        Framing::Grpc => messages(body),
        Framing::Connect => vec![if record.gzip { gunzip(body) } else { body.to_vec() }],
    };
    raw.iter()
        .filter_map(|bytes| {
            if record.framing == Framing::Connect && record.content_type.contains("json") {
                let mut de = serde_json::Deserializer::from_slice(bytes);
                DynamicMessage::deserialize(descriptor.clone(), &mut de).ok()
            } else {
                DynamicMessage::decode(descriptor.clone(), bytes.as_slice()).ok()
            }
        })
        .collect()
}

/// What can be read of a body for scanning: messages uncompressed.
fn readable(record: &Record, body: &[u8]) -> Vec<u8> {
    match record.framing {
        Framing::Grpc => messages(body).concat(),
        Framing::Connect if record.gzip => gunzip(body),
        Framing::Connect => body.to_vec(),
    }
}

/// Secrets by their first SHORTEST bytes: a body is scanned once whatever
/// the number of secrets.
struct Needles<'a> {
    by_start: HashMap<&'a [u8], Vec<&'a str>>,
}

impl<'a> Needles<'a> {
    fn new(secrets: impl Iterator<Item = &'a String>) -> Self {
        let mut by_start: HashMap<&[u8], Vec<&str>> = HashMap::new();
        for secret in secrets {
            by_start.entry(&secret.as_bytes()[..SHORTEST]).or_default().push(secret);
        }
        Needles { by_start }
    }

    fn found_in(&self, haystack: &[u8]) -> Vec<&'a str> {
        let mut found = Vec::new();
        for (at, window) in haystack.windows(SHORTEST).enumerate() {
            if let Some(candidates) = self.by_start.get(window) {
                for secret in candidates {
                    if haystack[at..].starts_with(secret.as_bytes()) {
                        found.push(*secret);
                    }
                }
            }
        }
        found
    }
}

/// Minted-looking tokens (`pdk_…`) in `haystack`.
fn tokens_in(haystack: &[u8]) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut at = 0;
    while let Some(offset) = haystack[at..].windows(4).position(|w| w == b"pdk_") {
        let start = at + offset;
        let token: String = haystack[start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'-')
            .map(|b| *b as char)
            .collect();
        tokens.push(token);
        at = start + 4;
    }
    tokens
}

#[test]
#[ignore = "run after the suite, with PADDOCK_TEST_HYGIENE_DIR (make test-sqlite)"]
fn secrets_never_leak() {
    let dir = dir().expect("PADDOCK_TEST_HYGIENE_DIR names the suite's records");
    let pool = DescriptorPool::decode(paddock::protocol::proto::FILE_DESCRIPTOR_SET).unwrap();
    let methods: HashMap<String, (MessageDescriptor, MessageDescriptor)> = pool
        .services()
        .flat_map(|s| {
            let service = s.full_name().to_owned();
            s.methods()
                .map(move |m| (format!("/{service}/{}", m.name()), (m.input(), m.output())))
                .collect::<Vec<_>>()
        })
        .collect();

    let mut records = Vec::new();
    let mut log = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        if name.starts_with("calls.") {
            records.extend(read_records(&bytes));
        } else if name.starts_with("log.") {
            log.extend(bytes);
        }
    }
    assert!(
        records.len() > 1000,
        "the suite's calls were recorded: {}",
        records.len()
    );
    assert!(
        log.len() > 100_000,
        "the suite's servers logged at debug: {} bytes",
        log.len()
    );

    // every secret, and the one response allowed to hold it (its minting)
    let mut minted_in: HashMap<String, usize> = HashMap::new();
    let mut chosen: HashSet<String> = HashSet::new();
    for (i, record) in records.iter().enumerate() {
        let path = record.path.strip_prefix("/api").unwrap_or(&record.path);
        let Some((input, output)) = methods.get(path) else {
            continue;
        };
        for message in decoded(input.clone(), record, &record.request) {
            let mut found = Vec::new();
            secrets_in(&message, &mut found);
            chosen.extend(found);
        }
        for message in decoded(output.clone(), record, &record.response) {
            let mut found = Vec::new();
            secrets_in(&message, &mut found);
            for secret in found {
                minted_in.entry(secret).or_insert(i);
            }
        }
    }
    // a secret a client sent that the server minted is the minted one; and
    // paddock's own token forms a client made up (unknown or mangled tokens,
    // bare prefixes) are checked below as tokens, not as chosen secrets
    chosen.retain(|s| !minted_in.contains_key(s) && !s.starts_with("pdk_"));
    assert!(
        minted_in.len() > 100 && chosen.len() >= 5,
        "{} minted, {} chosen",
        minted_in.len(),
        chosen.len()
    );

    let needles = Needles::new(chosen.iter());
    let mut leaks = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let body = readable(record, &record.response);
        for secret in needles.found_in(&body) {
            leaks.push(format!(
                "{}: the response holds a secret it was sent ({secret:.6}…)",
                record.path
            ));
        }
        for token in tokens_in(&body) {
            if minted_in.get(&token).is_some_and(|minted| *minted != i) {
                leaks.push(format!(
                    "{}: the response holds a token minted elsewhere ({token:.12}…)",
                    record.path
                ));
            }
        }
    }
    for secret in needles.found_in(&log) {
        leaks.push(format!("the log holds a secret a client sent ({secret:.6}…)"));
    }
    // any whole token in a log line is a leak, minted or merely presented
    for token in tokens_in(&log) {
        if minted_in.contains_key(&token) || token.len() >= "pdk_pat_".len() + 43 {
            leaks.push(format!("the log holds a bearer token ({token:.12}…)"));
        }
    }
    leaks.sort();
    leaks.dedup();
    assert!(leaks.is_empty(), "{} leaks:\n{}", leaks.len(), leaks.join("\n"));
    eprintln!(
        "secrets hygiene: {} calls, {} bytes of debug log, {} minted and {} chosen secrets: none leaked",
        records.len(),
        log.len(),
        minted_in.len(),
        chosen.len()
    );
}
