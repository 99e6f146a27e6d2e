//! The Connect streaming protocol against the real server: bidi reflection
//! in binary and JSON, full duplex over HTTP/2, gzip both ways, server
//! streams over HTTP/1.1, every way a stream can end, and bad input.

use http::StatusCode;
use prost::Message;
use serde_json::{Value, json};
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

use crate::connect_stream_client::{Http, Received, call, envelope, open, request_body};
use crate::harness::*;

const REFLECTION: &str = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
const WATCH: &str = "/grpc.health.v1.Health/Watch";
const PROTO: (&str, &str) = ("content-type", "application/connect+proto");
const JSON: (&str, &str) = ("content-type", "application/connect+json");

fn ask(request: MessageRequest) -> Vec<u8> {
    ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    }
    .encode_to_vec()
}

fn list_services() -> Vec<u8> {
    ask(MessageRequest::ListServices(String::new()))
}

fn file_containing(symbol: &str) -> Vec<u8> {
    ask(MessageRequest::FileContainingSymbol(symbol.into()))
}

fn answer(message: Received) -> MessageResponse {
    ServerReflectionResponse::decode(message.message().as_slice())
        .unwrap()
        .message_response
        .expect("an answer")
}

fn service_names(answer: MessageResponse) -> Vec<String> {
    let MessageResponse::ListServicesResponse(list) = answer else {
        panic!("{answer:?}")
    };
    list.service.into_iter().map(|s| s.name).collect()
}

fn json_message(received: Received) -> Value {
    serde_json::from_slice(&received.message()).unwrap()
}

#[tokio::test]
async fn bidi_reflection_in_binary_is_full_duplex_over_http2() {
    let server = TestServer::start().await;
    let mut stream = open(Http::Two, &format!("{}{REFLECTION}", server.url()), &[PROTO]);
    stream.send(&list_services()).await;
    // answered while the request stream is still open: nothing waits for the whole request
    let names = service_names(answer(stream.next().await));
    assert_eq!(stream.status, StatusCode::OK);
    assert_eq!(stream.content_type(), "application/connect+proto");
    for expected in ["gitpod.v1.RunnerService", "grpc.health.v1.Health"] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    stream.send(&file_containing("gitpod.v1.RunnerService")).await;
    let MessageResponse::FileDescriptorResponse(files) = answer(stream.next().await) else {
        panic!("no file descriptors")
    };
    assert!(!files.file_descriptor_proto.is_empty());
    stream.close();
    assert_eq!(
        stream.next().await.end(),
        json!({}),
        "a successful end carries no error"
    );
}

#[tokio::test]
async fn bidi_reflection_in_json_under_the_api_prefix() {
    let server = TestServer::start().await;
    let mut stream = open(Http::Two, &format!("{}/api{REFLECTION}", server.url()), &[JSON]);
    stream.send(br#"{"listServices": ""}"#).await;
    let listed = json_message(stream.next().await);
    assert_eq!(stream.content_type(), "application/connect+json");
    assert_eq!(
        listed["originalRequest"]["listServices"], "",
        "proto3 JSON names: {listed}"
    );
    let names: Vec<&str> = listed["listServicesResponse"]["service"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"gitpod.v1.RunnerService"), "{names:?}");

    stream
        .send(br#"{"fileContainingSymbol": "grpc.health.v1.Health"}"#)
        .await;
    let file = json_message(stream.next().await);
    // bytes fields are base64 in proto3 JSON
    let first = file["fileDescriptorResponse"]["fileDescriptorProto"][0]
        .as_str()
        .unwrap();
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(first).unwrap();
    let descriptor = prost_types::FileDescriptorProto::decode(bytes.as_slice()).unwrap();
    assert_eq!(descriptor.package(), "grpc.health.v1");

    // a malformed message ends the call; what came before stands
    stream.send(br#"{"listServices": 1, "nope": true}"#).await;
    let end = stream.next().await.end();
    assert_eq!(end["error"]["code"], "invalid_argument", "{end}");
}

#[tokio::test]
async fn gzip_messages_both_ways() {
    let server = TestServer::start().await;
    let headers = [
        PROTO,
        ("connect-content-encoding", "gzip"),
        ("connect-accept-encoding", "gzip"),
    ];
    let mut stream = open(Http::Two, &format!("{}{REFLECTION}", server.url()), &headers);
    // every request message goes gzipped (flag 0x01)
    stream.send(&list_services()).await;
    let Received::Message { data, compressed } = stream.next().await else {
        panic!("no answer")
    };
    assert_eq!(stream.headers["connect-content-encoding"], "gzip");
    assert!(!compressed, "a short message is not worth compressing");
    assert!(
        service_names(
            ServerReflectionResponse::decode(data.as_slice())
                .unwrap()
                .message_response
                .unwrap()
        )
        .len()
            > 3
    );

    stream.send(&file_containing("gitpod.v1.RunnerService")).await;
    let Received::Message { data, compressed } = stream.next().await else {
        panic!("no answer")
    };
    assert!(compressed, "the runner service's files are large: gzipped");
    let answer = ServerReflectionResponse::decode(data.as_slice()).unwrap();
    assert!(matches!(
        answer.message_response,
        Some(MessageResponse::FileDescriptorResponse(_))
    ));
    stream.close();
    assert_eq!(stream.next().await.end(), json!({}));
}

#[tokio::test]
async fn a_server_stream_over_http1_holds_until_its_deadline() {
    let server = TestServer::start().await;
    let headers = [JSON, ("connect-timeout-ms", "400")];
    let mut stream = open(Http::One, &format!("{}{WATCH}", server.url()), &headers);
    stream.send(br#"{"service": "gitpod.v1.RunnerService"}"#).await;
    stream.close();
    assert_eq!(json_message(stream.next().await), json!({"status": "SERVING"}));
    let started = std::time::Instant::now();
    // a watch answers again only when the status changes: the stream stays open
    let end = stream.next().await.end();
    assert_eq!(end["error"]["code"], "deadline_exceeded", "{end}");
    assert!(started.elapsed() > std::time::Duration::from_millis(200));
    assert_eq!(stream.status, StatusCode::OK);
}

#[tokio::test]
async fn reflection_over_http1_answers_a_request_sent_whole() {
    let server = TestServer::start().await;
    let body = request_body(&[&list_services(), &file_containing("grpc.health.v1.Health")], true);
    let headers = [PROTO, ("connect-content-encoding", "gzip")];
    let mut stream = call(Http::One, &format!("{}{REFLECTION}", server.url()), &headers, body).await;
    assert_eq!(stream.status, StatusCode::OK);
    assert!(service_names(answer(stream.next().await)).len() > 3);
    assert!(matches!(
        answer(stream.next().await),
        MessageResponse::FileDescriptorResponse(_)
    ));
    assert_eq!(stream.next().await.end(), json!({}));
}

/// HTTP/1.1 itself does not forbid an answer while the request is still
/// being sent; paddock's server (hyper) does it, so a client that can (this
/// one; not a browser's fetch) gets full duplex over HTTP/1.1 too.
#[tokio::test]
async fn bidi_over_http1_with_a_client_that_can() {
    let server = TestServer::start().await;
    let mut stream = open(Http::One, &format!("{}{REFLECTION}", server.url()), &[PROTO]);
    stream.send(&list_services()).await;
    assert!(service_names(answer(stream.next().await)).len() > 3);
    stream.send(&list_services()).await;
    assert!(service_names(answer(stream.next().await)).len() > 3);
    stream.close();
    assert_eq!(stream.next().await.end(), json!({}));
}

#[tokio::test]
async fn errors_end_the_stream_with_http_200() {
    let server = TestServer::start().await;
    // the service's own error
    let mut stream = open(Http::Two, &format!("{}{WATCH}", server.url()), &[JSON]);
    stream.send(br#"{"service": "nope"}"#).await;
    stream.close();
    let end = stream.next().await.end();
    assert_eq!(stream.status, StatusCode::OK);
    assert_eq!(stream.content_type(), "application/connect+json");
    assert_eq!(
        end,
        json!({"error": {"code": "not_found", "message": "service not registered"}})
    );

    // the deadline, on a bidi stream the client keeps open
    let headers = [PROTO, ("connect-timeout-ms", "300")];
    let mut stream = open(Http::Two, &format!("{}{REFLECTION}", server.url()), &headers);
    stream.send(&list_services()).await;
    service_names(answer(stream.next().await));
    let end = stream.next().await.end();
    assert_eq!(end["error"]["code"], "deadline_exceeded", "{end}");

    // refused by authentication: a gitpod.v1 method called as a stream
    let url = format!("{}/gitpod.v1.RunnerService/GetRunner", server.url());
    let mut stream = open(Http::Two, &url, &[JSON]);
    stream
        .send(br#"{"runnerId": "01a235dd-3cd2-7486-b3e9-d04c9dc7cee8"}"#)
        .await;
    stream.close();
    let end = stream.next().await.end();
    assert_eq!(stream.status, StatusCode::OK);
    assert_eq!(end["error"]["code"], "unauthenticated", "{end}");
}

#[tokio::test]
async fn a_unary_method_called_as_a_stream_answers_one_message() {
    let server = TestServer::start().await;
    let created = server
        .runners(Protocol::Grpc, &server.admin.token)
        .await
        .create_runner(linux_runner("streamed"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap();
    let url = format!("{}/gitpod.v1.RunnerService/GetRunner", server.url());
    let bearer = format!("Bearer {}", server.admin.token);
    let mut stream = open(Http::Two, &url, &[JSON, ("authorization", &bearer)]);
    stream
        .send(json!({"runnerId": created.runner_id}).to_string().as_bytes())
        .await;
    stream.close();
    let got = json_message(stream.next().await);
    assert_eq!(got["runner"]["name"], "streamed");
    assert_eq!(stream.next().await.end(), json!({}));
}

#[tokio::test]
async fn bad_input_ends_the_stream_with_the_protocols_error() {
    let server = TestServer::start().await;
    let url = format!("{}{REFLECTION}", server.url());
    let prefix_only = envelope(0, &list_services())[..5].to_vec();
    let mut truncated = envelope(0, &list_services()).to_vec();
    truncated.truncate(truncated.len() - 2);
    let timeout = ("connect-timeout-ms", "soon");
    let version_2 = ("connect-protocol-version", "2");
    let gzip = ("connect-content-encoding", "gzip");
    let brotli = ("connect-content-encoding", "br");
    let ok = envelope(0, &list_services()).to_vec();
    // (what, headers besides the content type, body, the code it ends with)
    let cases = [
        ("truncated message", PROTO, None, truncated, "invalid_argument"),
        ("a length prefix alone", PROTO, None, prefix_only, "invalid_argument"),
        ("half a length prefix", PROTO, None, vec![0, 0], "invalid_argument"),
        (
            "the end-of-stream flag",
            PROTO,
            None,
            envelope(0x02, b"{}").to_vec(),
            "invalid_argument",
        ),
        (
            "unknown flags",
            PROTO,
            None,
            envelope(0x80, &list_services()).to_vec(),
            "invalid_argument",
        ),
        (
            "compressed, no encoding",
            PROTO,
            None,
            envelope(0x01, &list_services()).to_vec(),
            "invalid_argument",
        ),
        (
            "not gzip",
            PROTO,
            Some(gzip),
            envelope(0x01, b"not gzip").to_vec(),
            "invalid_argument",
        ),
        ("unknown compression", PROTO, Some(brotli), ok.clone(), "unimplemented"),
        (
            "not protobuf",
            PROTO,
            None,
            envelope(0, &[0xff, 0xff]).to_vec(),
            "invalid_argument",
        ),
        ("not JSON", JSON, None, envelope(0, b"{").to_vec(), "invalid_argument"),
        (
            "over the size limit",
            PROTO,
            None,
            vec![0, 0x7f, 0xff, 0xff, 0xff],
            "resource_exhausted",
        ),
        ("a bad timeout", PROTO, Some(timeout), ok.clone(), "invalid_argument"),
        ("protocol version 2", PROTO, Some(version_2), ok, "invalid_argument"),
    ];
    for (case, content_type, extra, body, code) in cases {
        let headers: Vec<(&str, &str)> = [content_type].into_iter().chain(extra).collect();
        for http in [Http::One, Http::Two] {
            let mut stream = call(http, &url, &headers, body.clone().into()).await;
            assert_eq!(stream.status, StatusCode::OK, "{case}");
            let end = stream.next().await.end();
            assert_eq!(end["error"]["code"], code, "{case} over {http:?}: {end}");
            if code == "unimplemented" {
                assert_eq!(
                    stream.headers["connect-accept-encoding"], "gzip",
                    "what the server accepts"
                );
            }
        }
    }
    // a server stream takes exactly one request message (connect-go's code for it)
    let watch = format!("{}{WATCH}", server.url());
    let one = br#"{"service": ""}"#;
    for (case, body) in [
        ("none", request_body(&[], false)),
        ("two", request_body(&[one, one], false)),
    ] {
        let mut stream = call(Http::Two, &watch, &[JSON], body).await;
        let end = stream.next().await.end();
        assert_eq!(end["error"]["code"], "unimplemented", "{case}: {end}");
    }
    // and the server is none the worse for it
    let body = request_body(&[&list_services()], false);
    let mut stream = call(Http::Two, &url, &[PROTO], body).await;
    assert!(service_names(answer(stream.next().await)).len() > 3);
}

#[tokio::test]
async fn the_unary_and_streaming_protocols_do_not_mix_up() {
    let server = TestServer::start().await;
    let http = crate::connect::Http::new(&server, None);
    // a stream cannot be called with the unary protocol
    let refused = http.proto(REFLECTION, list_services()).await;
    assert_eq!(refused.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        refused.headers["accept-post"],
        "application/connect+json, application/connect+proto"
    );
    // an unknown method is a 404 in either protocol
    let url = format!("{}/grpc.reflection.v1.ServerReflection/Nope", server.url());
    let stream = call(Http::Two, &url, &[PROTO], request_body(&[b""], false)).await;
    assert_eq!(stream.status, StatusCode::NOT_FOUND);
    // and unary Connect reaches the other registered services too
    let health = http.json("/grpc.health.v1.Health/Check", json!({})).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json(), json!({"status": "SERVING"}));
}

const WATCH_EVENTS: &str = "/gitpod.v1.EventService/WatchEvents";

/// WatchEvents, a gitpod.v1 server stream, over Connect: refused without a
/// token, bad requests naming their field, and a change made by another
/// client arriving on the open stream, in binary and JSON, over HTTP/1.1
/// and HTTP/2.
#[tokio::test]
async fn watch_events_over_connect_streams() {
    let server = TestServer::start().await;
    let url = format!("{}{WATCH_EVENTS}", server.url());
    let bearer = format!("Bearer {}", server.admin.token);
    let organization = pb::WatchEventsRequest {
        scope: Some(pb::watch_events_request::Scope::Organization(true)),
        resource_type_filters: vec![],
    }
    .encode_to_vec();

    for http in [Http::One, Http::Two] {
        let mut stream = open(http, &url, &[PROTO]);
        stream.send(&organization).await;
        stream.close();
        let end = stream.next().await.end();
        assert_eq!(stream.status, StatusCode::OK);
        assert_eq!(end["error"]["code"], "unauthenticated", "{http:?}: {end}");

        let mut stream = open(http, &url, &[JSON, ("authorization", &bearer)]);
        stream.send(b"{}").await;
        stream.close();
        let end = stream.next().await.end();
        assert_eq!(end["error"]["code"], "invalid_argument", "{end}");
        let detail = &end["error"]["details"][0];
        assert_eq!(detail["type"], "google.rpc.BadRequest", "{end}");
        use base64::Engine;
        let value = detail["value"].as_str().unwrap().trim_end_matches('=');
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD.decode(value).unwrap();
        let bad = tonic_types::pb::BadRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(bad.field_violations[0].field, "scope");
    }

    let mut runners = server.runners(Protocol::Grpc, &server.admin.token).await;
    for (http, codec) in [
        (Http::One, JSON),
        (Http::Two, PROTO),
        (Http::One, PROTO),
        (Http::Two, JSON),
    ] {
        let mut stream = open(http, &url, &[codec, ("authorization", &bearer)]);
        if codec == JSON {
            stream.send(br#"{"organization": true}"#).await;
        } else {
            stream.send(&organization).await;
        }
        stream.close();
        stream.head().await; // the watch is open before the change
        let name = format!("watched over {http:?} {}", codec.1);
        let created = runners
            .create_runner(linux_runner(&name))
            .await
            .unwrap()
            .into_inner()
            .runner
            .unwrap();
        let message = stream.next().await.message();
        if codec == JSON {
            let event: Value = serde_json::from_slice(&message).unwrap();
            assert_eq!(event["operation"], "RESOURCE_OPERATION_CREATE", "{event}");
            assert_eq!(event["resourceType"], "RESOURCE_TYPE_RUNNER", "{event}");
            assert_eq!(event["resourceId"], created.runner_id.as_str(), "{event}");
        } else {
            let event = pb::WatchEventsResponse::decode(message.as_slice()).unwrap();
            assert_eq!(event.operation, pb::ResourceOperation::Create as i32);
            assert_eq!(event.resource_id, created.runner_id);
        }
    }
}

/// An open Connect watch does not hold a shutdown: it gets its end-of-stream
/// message, and the server stops in time.
#[tokio::test]
async fn a_connect_watch_ends_properly_when_the_server_stops() {
    let server = TestServer::start().await;
    let url = format!("{}{WATCH_EVENTS}", server.url());
    let bearer = format!("Bearer {}", server.admin.token);
    let mut stream = open(Http::Two, &url, &[JSON, ("authorization", &bearer)]);
    stream.send(br#"{"organization": true}"#).await;
    stream.close();
    stream.head().await;
    let started = std::time::Instant::now();
    let stopping = tokio::spawn(server.stop());
    // the service ends its watches when the server stops: a clean end
    assert_eq!(stream.next().await.end(), json!({}));
    stopping.await.unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
