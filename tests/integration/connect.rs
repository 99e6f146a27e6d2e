//! The Connect protocol over plain HTTP, as curl or a browser speaks it:
//! JSON and binary bodies, gzip, GET, errors with their HTTP statuses, CORS.

use std::io::Write;

use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prost::Message;
use serde_json::{Value, json};

use crate::harness::*;

pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    token: Option<String>,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
}

impl Http {
    pub fn new(server: &TestServer, token: Option<&str>) -> Http {
        Http {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: server.url(),
            token: token.map(str::to_owned),
        }
    }

    pub async fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        // (the request body as sent, for the secrets hygiene records; a
        // gzipped request is recorded compressed and skipped by the scan)
        let sent = body.clone();
        let response = self
            .client
            .request(request.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let gzip = headers.get("content-encoding").is_some_and(|v| v == "gzip");
        crate::hygiene::record_connect(path.split('?').next().unwrap_or(path), content_type, gzip, &sent, &body);
        Answer { status, headers, body }
    }

    pub async fn json(&self, path: &str, body: Value) -> Answer {
        let headers = [("content-type", "application/json"), ("connect-protocol-version", "1")];
        self.send(Method::POST, path, &headers, serde_json::to_vec(&body).unwrap())
            .await
    }

    pub async fn proto(&self, path: &str, body: Vec<u8>) -> Answer {
        self.send(Method::POST, path, &[("content-type", "application/proto")], body)
            .await
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out).unwrap();
    out
}

#[tokio::test]
async fn json_bodies_follow_the_proto3_json_mapping() {
    let server = TestServer::start().await;
    let http = Http::new(&server, Some(&server.admin.token));
    // the reference's own example, under the SDK's /api base path
    let created = http
        .json(
            "/api/gitpod.v1.RunnerService/CreateRunner",
            json!({
                "name": "Production Runner",
                "provider": "RUNNER_PROVIDER_AWS_EC2",
                "spec": {
                    "desiredPhase": "RUNNER_PHASE_ACTIVE",
                    "configuration": {"region": "us-west", "releaseChannel": "RUNNER_RELEASE_CHANNEL_STABLE", "autoUpdate": true}
                }
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{:?}", created.body);
    assert_eq!(created.headers["content-type"], "application/json");
    let body = created.json();
    let runner = &body["runner"];
    assert!(body["exchangeToken"].as_str().unwrap().starts_with("pdk_rex_"));
    assert!(body.get("accessToken").is_none(), "empty fields are omitted");
    assert_eq!(runner["kind"], "RUNNER_KIND_REMOTE", "enums by name");
    assert_eq!(
        runner["spec"]["configuration"]["releaseChannel"],
        "RUNNER_RELEASE_CHANNEL_STABLE"
    );
    assert_eq!(runner["status"]["phase"], "RUNNER_PHASE_CREATED");
    assert_eq!(runner["creator"]["principal"], "PRINCIPAL_USER");
    let created_at = runner["createdAt"].as_str().unwrap();
    assert!(
        created_at.ends_with('Z') && created_at.contains('T'),
        "timestamps as RFC 3339: {created_at}"
    );
    let runner_id = runner["runnerId"].as_str().unwrap().to_owned();

    // input accepts proto field names and enum numbers too
    let snake = http
        .json(
            "/gitpod.v1.RunnerService/CreateRunner",
            json!({"name": "Local Development Runner", "provider": 2, "runner_manager_id": ""}),
        )
        .await;
    assert_eq!(snake.status, StatusCode::OK, "{:?}", snake.body);
    assert_eq!(snake.json()["runner"]["kind"], "RUNNER_KIND_LOCAL");

    // the reference's ListRunners examples
    let listed = http
        .json(
            "/api/gitpod.v1.RunnerService/ListRunners",
            json!({"pagination": {"pageSize": 20}}),
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    let listed = listed.json();
    assert_eq!(listed["runners"].as_array().unwrap().len(), 2);
    assert!(listed["pagination"].is_object());
    let aws = http
        .json(
            "/api/gitpod.v1.RunnerService/ListRunners",
            json!({"filter": {"providers": ["RUNNER_PROVIDER_AWS_EC2"]}, "pagination": {"pageSize": 20}}),
        )
        .await
        .json();
    assert_eq!(aws["runners"].as_array().unwrap().len(), 1);
    assert_eq!(aws["runners"][0]["runnerId"], runner_id.as_str());

    // UpdateRunner's example; empty responses are {}
    let updated = http
        .json(
            "/api/gitpod.v1.RunnerService/UpdateRunner",
            json!({
                "runnerId": runner_id,
                "name": "Updated Runner Name",
                "spec": {"configuration": {"releaseChannel": "RUNNER_RELEASE_CHANNEL_LATEST", "autoUpdate": true}}
            }),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(updated.json(), json!({}));
    let got = http
        .json("/api/gitpod.v1.RunnerService/GetRunner", json!({"runnerId": runner_id}))
        .await
        .json();
    assert_eq!(got["runner"]["name"], "Updated Runner Name");

    // an empty body is an empty message
    let empty = http
        .send(
            Method::POST,
            "/gitpod.v1.IdentityService/GetAuthenticatedIdentity",
            &[("content-type", "application/json")],
            vec![],
        )
        .await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.json()["subject"]["principal"], "PRINCIPAL_USER");
    server.stop().await;
}

#[tokio::test]
async fn binary_bodies_and_gzip_both_ways() {
    let server = TestServer::start().await;
    let http = Http::new(&server, Some(&server.admin.token));
    for i in 0..12 {
        let request = linux_runner(&format!("binary runner {i}")).encode_to_vec();
        let answer = if i % 2 == 0 {
            http.proto("/gitpod.v1.RunnerService/CreateRunner", request).await
        } else {
            let headers = [("content-type", "application/proto"), ("content-encoding", "gzip")];
            http.send(
                Method::POST,
                "/gitpod.v1.RunnerService/CreateRunner",
                &headers,
                gzip(&request),
            )
            .await
        };
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.headers["content-type"], "application/proto");
        let created = pb::CreateRunnerResponse::decode(answer.body).unwrap();
        assert_eq!(created.runner.unwrap().name, format!("binary runner {i}"));
    }
    // a large answer comes gzipped to a client that accepts it
    let headers = [("content-type", "application/proto"), ("accept-encoding", "gzip")];
    let list = pb::ListRunnersRequest::default().encode_to_vec();
    let answer = http
        .send(
            Method::POST,
            "/gitpod.v1.RunnerService/ListRunners",
            &headers,
            list.clone(),
        )
        .await;
    assert_eq!(answer.headers["content-encoding"], "gzip");
    let listed = pb::ListRunnersResponse::decode(gunzip(&answer.body).as_slice()).unwrap();
    assert_eq!(listed.runners.len(), 12);
    // and plain to one that does not
    let answer = http.proto("/gitpod.v1.RunnerService/ListRunners", list).await;
    assert!(answer.headers.get("content-encoding").is_none());
    assert_eq!(pb::ListRunnersResponse::decode(answer.body).unwrap().runners.len(), 12);
    server.stop().await;
}

#[tokio::test]
async fn get_requests_work_for_no_side_effect_methods_with_json_and_base64_proto() {
    let server = TestServer::start().await;
    let http = Http::new(&server, Some(&server.admin.token));
    let created = http
        .json(
            "/gitpod.v1.RunnerService/CreateRunner",
            serde_json::to_value(json!({"name": "gettable", "provider": "RUNNER_PROVIDER_LINUX_HOST"})).unwrap(),
        )
        .await
        .json();
    let runner_id = created["runner"]["runnerId"].as_str().unwrap().to_owned();

    let message: String =
        form_urlencoded::byte_serialize(json!({"runnerId": runner_id}).to_string().as_bytes()).collect();
    let path = format!("/api/gitpod.v1.RunnerService/GetRunner?connect=v1&encoding=json&message={message}");
    let answer = http.send(Method::GET, &path, &[], vec![]).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(answer.json()["runner"]["runnerId"], runner_id.as_str());
    assert_eq!(answer.headers["cache-control"], "private, no-cache");
    assert!(answer.headers["vary"].to_str().unwrap().contains("Authorization"));
    let etag = answer.headers["etag"].to_str().unwrap().to_owned();
    let again = http.send(Method::GET, &path, &[("if-none-match", &etag)], vec![]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);

    let proto = pb::GetRunnerRequest {
        runner_id: runner_id.clone(),
    }
    .encode_to_vec();
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(proto);
    let path = format!("/gitpod.v1.RunnerService/GetRunner?connect=v1&encoding=proto&base64=1&message={encoded}");
    let answer = http.send(Method::GET, &path, &[], vec![]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "application/proto");
    assert_eq!(
        pb::GetRunnerResponse::decode(answer.body)
            .unwrap()
            .runner
            .unwrap()
            .runner_id,
        runner_id
    );

    // compressed GET messages
    let zipped = gzip(
        &pb::GetRunnerRequest {
            runner_id: runner_id.clone(),
        }
        .encode_to_vec(),
    );
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(zipped);
    let path = format!(
        "/gitpod.v1.RunnerService/GetRunner?connect=v1&encoding=proto&base64=1&compression=gzip&message={encoded}"
    );
    assert_eq!(http.send(Method::GET, &path, &[], vec![]).await.status, StatusCode::OK);

    // GET of a method with side effects is refused
    let path = "/gitpod.v1.RunnerService/CreateRunner?connect=v1&encoding=json&message=%7B%7D";
    let answer = http.send(Method::GET, path, &[], vec![]).await;
    assert_ne!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["code"], "unimplemented");
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_answer_the_connect_code_and_http_status() {
    let server = TestServer::start().await;
    let http = Http::new(&server, Some(&server.admin.token));
    let list = "/gitpod.v1.RunnerService/ListRunners";
    let json_ct = [("content-type", "application/json")];
    let proto_ct = [("content-type", "application/proto")];

    let cases: Vec<(&str, Answer, u16, &str)> = vec![
        (
            "unknown method",
            http.json("/gitpod.v1.RunnerService/NoSuchMethod", json!({})).await,
            404,
            "unimplemented",
        ),
        (
            "unknown service",
            http.json("/api/gitpod.v1.NoService/Get", json!({})).await,
            404,
            "unimplemented",
        ),
        (
            "malformed JSON",
            http.send(Method::POST, list, &json_ct, b"{\"pagination\":".to_vec())
                .await,
            400,
            "invalid_argument",
        ),
        (
            "JSON of the wrong shape",
            http.json(list, json!({"pagination": {"pageSize": "many"}})).await,
            400,
            "invalid_argument",
        ),
        (
            "unknown JSON field",
            http.json(list, json!({"colour": "red"})).await,
            400,
            "invalid_argument",
        ),
        (
            "malformed protobuf",
            http.send(Method::POST, list, &proto_ct, vec![0x0a, 0xff, 0xff, 0xff])
                .await,
            400,
            "invalid_argument",
        ),
        (
            "truncated gzip",
            http.send(
                Method::POST,
                list,
                &[("content-type", "application/json"), ("content-encoding", "gzip")],
                gzip(b"{\"pagination\":{\"pageSize\":5}}")[..12].to_vec(),
            )
            .await,
            400,
            "invalid_argument",
        ),
        (
            "unknown compression",
            http.send(
                Method::POST,
                list,
                &[("content-type", "application/json"), ("content-encoding", "br")],
                b"{}".to_vec(),
            )
            .await,
            501,
            "unimplemented",
        ),
        (
            "oversize body",
            http.send(Method::POST, list, &proto_ct, vec![0u8; 5 * 1024 * 1024])
                .await,
            429,
            "resource_exhausted",
        ),
        (
            "oversize once decompressed",
            http.send(
                Method::POST,
                list,
                &[("content-type", "application/proto"), ("content-encoding", "gzip")],
                gzip(&vec![0u8; 6 * 1024 * 1024]),
            )
            .await,
            429,
            "resource_exhausted",
        ),
        (
            "bad protocol version",
            http.send(
                Method::POST,
                list,
                &[("content-type", "application/json"), ("connect-protocol-version", "2")],
                b"{}".to_vec(),
            )
            .await,
            400,
            "invalid_argument",
        ),
        (
            "bad timeout",
            http.send(
                Method::POST,
                list,
                &[("content-type", "application/json"), ("connect-timeout-ms", "soon")],
                b"{}".to_vec(),
            )
            .await,
            400,
            "invalid_argument",
        ),
        (
            "deadline exceeded",
            http.send(
                Method::POST,
                list,
                &[("content-type", "application/json"), ("connect-timeout-ms", "0")],
                b"{}".to_vec(),
            )
            .await,
            504,
            "deadline_exceeded",
        ),
        (
            "not found",
            http.json(
                "/gitpod.v1.RunnerService/GetRunner",
                json!({"runnerId": uuid::Uuid::now_v7().to_string()}),
            )
            .await,
            404,
            "not_found",
        ),
        (
            "unauthenticated",
            Http::new(&server, None).json(list, json!({})).await,
            401,
            "unauthenticated",
        ),
        (
            "unknown token",
            Http::new(&server, Some("pdk_pat_nope")).json(list, json!({})).await,
            401,
            "unauthenticated",
        ),
        (
            "unimplemented RPC",
            http.json("/gitpod.v1.UserService/SetSuspended", json!({})).await,
            501,
            "unimplemented",
        ),
    ];
    let mut failures = Vec::new();
    for (name, answer, status, code) in &cases {
        if answer.status.as_u16() != *status {
            failures.push(format!(
                "{name}: HTTP {} (expected {status}): {:?}",
                answer.status, answer.body
            ));
            continue;
        }
        if answer.headers["content-type"] != "application/json" {
            failures.push(format!("{name}: content-type {:?}", answer.headers["content-type"]));
            continue;
        }
        if answer.json()["code"] != *code {
            failures.push(format!("{name}: {} (expected {code})", answer.json()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // wrong content type: 415, no Connect body
    let answer = http
        .send(Method::POST, list, &[("content-type", "text/plain")], b"{}".to_vec())
        .await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // validation errors carry the same BadRequest details as gRPC
    let answer = http
        .json(
            list,
            json!({"pagination": {"pageSize": 500}, "filter": {"kinds": [1, 99]}}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let body = answer.json();
    assert_eq!(body["code"], "invalid_argument");
    assert!(body["message"].as_str().unwrap().contains("pagination.page_size"));
    let detail = &body["details"][0];
    assert_eq!(detail["type"], "google.rpc.BadRequest");
    let value = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(detail["value"].as_str().unwrap())
        .unwrap();
    let bad_request = tonic_types::pb::BadRequest::decode(value.as_slice()).unwrap();
    let fields: Vec<_> = bad_request.field_violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(fields, vec!["pagination.page_size", "filter.kinds[1]"]);
    server.stop().await;
}

#[tokio::test]
async fn browsers_from_allowed_origins_pass_cors() {
    let server = TestServer::start().await; // allows http://allowed.example
    let http = Http::new(&server, Some(&server.admin.token));
    let preflight = [
        ("origin", "http://allowed.example"),
        ("access-control-request-method", "POST"),
        (
            "access-control-request-headers",
            "authorization,content-type,connect-protocol-version,x-grpc-web",
        ),
    ];
    let answer = http
        .send(
            Method::OPTIONS,
            "/api/gitpod.v1.RunnerService/ListRunners",
            &preflight,
            vec![],
        )
        .await;
    assert!(answer.status.is_success());
    assert_eq!(answer.headers["access-control-allow-origin"], "http://allowed.example");
    let allowed = answer.headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    for header in [
        "authorization",
        "content-type",
        "connect-protocol-version",
        "x-grpc-web",
    ] {
        assert!(allowed.contains(header), "{allowed}");
    }

    let answer = http
        .send(
            Method::POST,
            "/gitpod.v1.RunnerService/ListRunners",
            &[
                ("origin", "http://allowed.example"),
                ("content-type", "application/json"),
            ],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(answer.headers["access-control-allow-origin"], "http://allowed.example");
    let exposed = answer.headers["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    for header in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        assert!(exposed.contains(header), "{exposed}");
    }

    let stranger = [
        ("origin", "http://evil.example"),
        ("access-control-request-method", "POST"),
    ];
    let answer = http
        .send(
            Method::OPTIONS,
            "/gitpod.v1.RunnerService/ListRunners",
            &stranger,
            vec![],
        )
        .await;
    assert!(answer.headers.get("access-control-allow-origin").is_none());
    server.stop().await;
}
