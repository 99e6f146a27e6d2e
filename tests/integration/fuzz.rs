//! Random and mutated bodies on the Connect path: every answer is a proper
//! non-5xx HTTP response, in time; the server never panics or hangs.

use std::time::Duration;

use http::Method;
use prost::Message;
use serde_json::json;

use crate::connect::Http;
use crate::harness::*;

/// xorshift64*: deterministic, so a failure can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const METHODS: &[&str] = &[
    "/gitpod.v1.RunnerService/CreateRunner",
    "/gitpod.v1.RunnerService/GetRunner",
    "/gitpod.v1.RunnerService/ListRunners",
    "/gitpod.v1.RunnerService/UpdateRunner",
    "/gitpod.v1.RunnerService/DeleteRunner",
    "/gitpod.v1.RunnerService/CreateRunnerToken",
    "/gitpod.v1.RunnerService/ListRunnerPolicies",
    "/gitpod.v1.RunnerService/CreateRunnerPolicy",
    "/gitpod.v1.RunnerService/UpdateRunnerPolicy",
    "/gitpod.v1.RunnerService/DeleteRunnerPolicy",
    "/gitpod.v1.IdentityService/ExchangeToken",
    "/gitpod.v1.IdentityService/GetAuthenticatedIdentity",
];

fn seeds(runner_id: &str, group_id: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let pairs: Vec<(serde_json::Value, Vec<u8>)> = vec![
        (
            json!({"name": "fuzzed runner", "provider": "RUNNER_PROVIDER_AWS_EC2", "spec": {"configuration": {"region": "eu", "updateWindow": {"startHour": 3}}}}),
            linux_runner("fuzzed runner").encode_to_vec(),
        ),
        (
            json!({"runnerId": runner_id}),
            pb::GetRunnerRequest {
                runner_id: runner_id.into(),
            }
            .encode_to_vec(),
        ),
        (
            json!({"pagination": {"pageSize": 3, "token": "AAAA"}, "filter": {"kinds": ["RUNNER_KIND_LOCAL"], "creatorIds": [runner_id]}}),
            pb::ListRunnersRequest {
                pagination: Some(pb::PaginationRequest {
                    page_size: 3,
                    token: String::new(),
                }),
                filter: Some(pb::list_runners_request::Filter {
                    kinds: vec![1, 2],
                    ..Default::default()
                }),
            }
            .encode_to_vec(),
        ),
        (
            json!({"runnerId": runner_id, "name": "renamed", "spec": {"desiredPhase": 3, "configuration": {"metrics": {"password": "x"}, "honeycombApiKey": "k"}}}),
            pb::UpdateRunnerRequest {
                runner_id: runner_id.into(),
                name: Some("renamed".into()),
                spec: None,
            }
            .encode_to_vec(),
        ),
        (
            json!({"runnerId": runner_id, "groupId": group_id, "role": "RUNNER_ROLE_ADMIN"}),
            pb::CreateRunnerPolicyRequest {
                runner_id: runner_id.into(),
                group_id: group_id.into(),
                role: 1,
            }
            .encode_to_vec(),
        ),
        (
            json!({"exchangeToken": "pdk_rex_x"}),
            pb::ExchangeTokenRequest {
                exchange_token: "pdk_rex_x".into(),
            }
            .encode_to_vec(),
        ),
    ];
    pairs
        .into_iter()
        .map(|(j, p)| (serde_json::to_vec(&j).unwrap(), p))
        .collect()
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut body = seed.to_vec();
    match rng.below(6) {
        // random bytes
        0 => (0..rng.below(64)).map(|_| rng.next() as u8).collect(),
        // bit flips
        1 => {
            for _ in 0..=rng.below(4) {
                if !body.is_empty() {
                    let i = rng.below(body.len());
                    body[i] ^= 1 << rng.below(8);
                }
            }
            body
        }
        // truncation
        2 => {
            let n = rng.below(body.len() + 1);
            body.truncate(n);
            body
        }
        // inserted junk
        3 => {
            let at = rng.below(body.len() + 1);
            const JUNK: &[u8] = b"{}[]\":,0x\\\x00\xff";
            let junk: Vec<u8> = (0..=rng.below(8)).map(|_| JUNK[rng.below(JUNK.len())]).collect();
            body.splice(at..at, junk);
            body
        }
        // duplicated slices
        4 => {
            let a = rng.below(body.len() + 1);
            let b = a + rng.below(body.len() - a + 1);
            let slice = body[a..b].to_vec();
            body.extend_from_slice(&slice);
            body
        }
        _ => body,
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_mangled_bodies_never_break_the_server() {
    const REQUESTS: usize = 10_000;
    const WORKERS: usize = 8;
    let server = TestServer::start().await;
    let setup = Http::new(&server, Some(&server.admin.token));
    let runner = setup
        .json(
            "/gitpod.v1.RunnerService/CreateRunner",
            json!({"name": "seed", "provider": 2}),
        )
        .await
        .json();
    let runner_id = runner["runner"]["runnerId"].as_str().unwrap().to_owned();
    let group_id = server
        .group(server.admin.organization_id, "fuzz", &[])
        .await
        .to_string();
    let seeds = std::sync::Arc::new(seeds(&runner_id, &group_id));

    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let http = Http::new(&server, Some(&server.admin.token));
        let seeds = seeds.clone();
        workers.push(tokio::spawn(async move {
            let seed = 0x9E37_79B9_7F4A_7C15 ^ (worker as u64 + 1);
            let mut rng = Rng(seed);
            let mut statuses = std::collections::BTreeMap::new();
            for i in 0..REQUESTS / WORKERS {
                let (json_seed, proto_seed) = &seeds[rng.below(seeds.len())];
                let json = rng.below(2) == 0;
                let mut body = mutate(&mut rng, if json { json_seed } else { proto_seed });
                let mut headers = vec![(
                    "content-type",
                    if json { "application/json" } else { "application/proto" },
                )];
                match rng.below(5) {
                    0 => {
                        body = gzip(&body);
                        headers.push(("content-encoding", "gzip"));
                    }
                    1 => headers.push(("content-encoding", "gzip")), // claims gzip, is not
                    2 => headers.push(("accept-encoding", "gzip")),
                    _ => {}
                }
                let path = METHODS[rng.below(METHODS.len())];
                let answer = tokio::time::timeout(
                    Duration::from_secs(20),
                    http.send(Method::POST, path, &headers, body.clone()),
                )
                .await
                .unwrap_or_else(|_| panic!("worker {worker} request {i} hung: {path} {body:?}"));
                assert!(
                    answer.status.as_u16() < 500,
                    "worker {worker} request {i}: {path} answered {} to {body:?}: {:?}",
                    answer.status,
                    answer.body
                );
                if answer.status != http::StatusCode::OK {
                    assert_eq!(answer.headers["content-type"], "application/json", "{path} {body:?}");
                }
                *statuses.entry(answer.status.as_u16()).or_insert(0usize) += 1;
            }
            statuses
        }));
    }
    let mut totals = std::collections::BTreeMap::new();
    for worker in workers {
        for (status, n) in worker.await.unwrap() {
            *totals.entry(status).or_insert(0) += n;
        }
    }
    assert_eq!(totals.values().sum::<usize>(), REQUESTS);
    assert!(
        totals.get(&200).copied().unwrap_or(0) > 100,
        "some mutants are valid calls: {totals:?}"
    );
    assert!(totals.get(&400).copied().unwrap_or(0) > 100, "most are not: {totals:?}");
    eprintln!("fuzz statuses: {totals:?}");

    // and the server still serves
    let alive = setup
        .json("/gitpod.v1.IdentityService/GetAuthenticatedIdentity", json!({}))
        .await;
    assert_eq!(alive.status, http::StatusCode::OK);
    server.stop().await;
}

/// Mangled Connect streams: every answer is HTTP 200 and a well-formed run of
/// envelopes closed by one end-of-stream message, in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_mangled_streams_end_properly() {
    use crate::connect_stream_client::envelope;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;

    const REQUESTS: usize = 2_000;
    const WORKERS: usize = 8;
    const REFLECTION: &str = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
    const WATCH: &str = "/grpc.health.v1.Health/Watch";
    let server = TestServer::start().await;
    let ask = |request| {
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(request),
        }
        .encode_to_vec()
    };
    // (path, JSON seed, binary seed)
    let seeds = std::sync::Arc::new(vec![
        (
            REFLECTION,
            br#"{"listServices": ""}"#.to_vec(),
            ask(MessageRequest::ListServices(String::new())),
        ),
        (
            REFLECTION,
            br#"{"fileContainingSymbol": "gitpod.v1.RunnerService"}"#.to_vec(),
            ask(MessageRequest::FileContainingSymbol("gitpod.v1.RunnerService".into())),
        ),
        (
            WATCH,
            br#"{"service": ""}"#.to_vec(),
            tonic_health::pb::HealthCheckRequest { service: String::new() }.encode_to_vec(),
        ),
    ]);

    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let http = Http::new(&server, None);
        let seeds = seeds.clone();
        workers.push(tokio::spawn(async move {
            let mut rng = Rng(0x2545_F491_4F6C_DD1D ^ (worker as u64 + 1));
            let mut ends = std::collections::BTreeMap::new();
            for i in 0..REQUESTS / WORKERS {
                let (path, json_seed, proto_seed) = &seeds[rng.below(seeds.len())];
                let json = rng.below(2) == 0;
                let mut headers = vec![
                    (
                        "content-type",
                        if json {
                            "application/connect+json"
                        } else {
                            "application/connect+proto"
                        },
                    ),
                    // a watch that works stays open: the deadline ends it
                    ("connect-timeout-ms", "200"),
                ];
                let mut body = Vec::new();
                for _ in 0..=rng.below(3) {
                    let message = mutate(&mut rng, if json { json_seed } else { proto_seed });
                    match rng.below(4) {
                        0 => {
                            body.extend_from_slice(&envelope(1, &gzip(&message)));
                            headers.push(("connect-content-encoding", "gzip"));
                        }
                        1 => body.extend_from_slice(&envelope(1, &message)), // claims gzip, is not
                        _ => body.extend_from_slice(&envelope(0, &message)),
                    }
                }
                if rng.below(4) == 0 {
                    body = mutate(&mut rng, &body); // the envelopes themselves
                }
                headers.dedup();
                if rng.below(3) == 0 {
                    headers.push(("connect-accept-encoding", "gzip"));
                }
                let answer = tokio::time::timeout(
                    Duration::from_secs(20),
                    http.send(Method::POST, path, &headers, body.clone()),
                )
                .await
                .unwrap_or_else(|_| panic!("worker {worker} stream {i} hung: {path} {body:?}"));
                assert_eq!(answer.status, http::StatusCode::OK, "{path} {body:?}");
                let mut data = &answer.body[..];
                let end = loop {
                    assert!(
                        data.len() >= 5,
                        "worker {worker} stream {i}: no end-of-stream in {:?}",
                        answer.body
                    );
                    let flags = data[0];
                    let length = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
                    assert!(data.len() >= 5 + length, "a cut envelope: {:?}", answer.body);
                    let message = &data[5..5 + length];
                    data = &data[5 + length..];
                    if flags & 0x02 != 0 {
                        assert!(data.is_empty(), "bytes after the end: {:?}", answer.body);
                        break serde_json::from_slice::<serde_json::Value>(message).unwrap();
                    }
                };
                let code = end["error"]["code"].as_str().unwrap_or("ok").to_owned();
                assert!(
                    !["internal", "unknown", "unavailable"].contains(&code.as_str()),
                    "worker {worker} stream {i}: {path} ended {end} for {body:?}"
                );
                *ends.entry(code).or_insert(0usize) += 1;
            }
            ends
        }));
    }
    let mut totals = std::collections::BTreeMap::new();
    for worker in workers {
        for (code, n) in worker.await.unwrap() {
            *totals.entry(code).or_insert(0) += n;
        }
    }
    assert_eq!(totals.values().sum::<usize>(), REQUESTS);
    assert!(totals.get("invalid_argument").copied().unwrap_or(0) > 100, "{totals:?}");
    assert!(
        totals.get("ok").copied().unwrap_or(0) > 20,
        "some mutants are valid: {totals:?}"
    );
    eprintln!("stream fuzz ends: {totals:?}");
    server.stop().await;
}
