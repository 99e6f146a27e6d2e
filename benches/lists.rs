//! ListRunners (page_size 100, a filter on) deep into a large fleet against
//! the first page of a small one: keyset pagination should make the last of
//! 1,000 pages at 100,000 runners cost about what the first page at 1,000
//! runners does. Two paddocks on fresh SQLite files, seeded through the store
//! layer; latencies at concurrency 1 in alternating windows (A B B A …).
//!
//!   cargo bench --bench lists [-- PAIRS [LARGE]]
//!
//! Not a test: nothing here passes or fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use paddock::proto::gitpod::v1 as pb;
use paddock::store::runners::{self, NewRunner};
use paddock::{auth, config, secrets::SecretKey, server, store};

const WINDOW: Duration = Duration::from_secs(2);

struct Fleet {
    url: String,
    token: String,
    _dir: tempfile::TempDir,
}

/// A paddock whose organization has `n` Linux-host runners.
async fn fleet(n: usize) -> Fleet {
    let dir = tempfile::tempdir().unwrap();
    let settings = config::Settings {
        database_url: format!("sqlite://{}", dir.path().join("fleet.db").display()),
        secret_key: SecretKey::generate().unwrap(),
        admin_token: None,
        public_url: "http://bench".into(),
        scm_api_urls: Default::default(),
        token_cache_ttl: paddock::auth::cache::DEFAULT_TTL,
    };
    let state = server::prepare(&settings).await.unwrap();
    let org = store::organizations::ensure(&state.db, "bench").await.unwrap();
    let token = auth::tokens::generate(auth::tokens::TokenKind::PersonalAccess).unwrap();
    let user = store::organizations::NewUser {
        organization_id: org.id,
        name: "bench",
        org_admin: true,
        token_hash: token.hash,
    };
    let user = store::organizations::create_user(&state.db, user).await.unwrap();
    let started = Instant::now();
    for i in 0..n {
        let exchange = auth::tokens::generate(auth::tokens::TokenKind::RunnerExchange).unwrap();
        let new = NewRunner {
            organization_id: org.id,
            name: format!("runner {i}"),
            kind: pb::RunnerKind::Local as i32,
            provider: pb::RunnerProvider::LinuxHost as i32,
            runner_manager_id: None,
            creator_id: user.id,
            creator_principal: auth::principal::PRINCIPAL_USER,
            desired_phase: pb::RunnerPhase::Active as i32,
            variant: 0,
            configuration: Default::default(),
        };
        runners::create(&state.db, new, exchange.hash, chrono::Utc::now())
            .await
            .unwrap();
    }
    eprintln!("seeded {n} runners in {:.1?}", started.elapsed());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(server::serve(
        listener,
        state,
        server::ServerOptions::default(),
        std::future::pending(),
    ));
    Fleet {
        url,
        token: token.plaintext,
        _dir: dir,
    }
}

type Client = pb::runner_service_client::RunnerServiceClient<tonic::transport::Channel>;

fn request(fleet: &Fleet, token: &str) -> tonic::Request<pb::ListRunnersRequest> {
    let mut request = tonic::Request::new(pb::ListRunnersRequest {
        pagination: Some(pb::PaginationRequest {
            page_size: 100,
            token: token.into(),
        }),
        filter: Some(pb::list_runners_request::Filter {
            kinds: vec![pb::RunnerKind::Local as i32],
            ..Default::default()
        }),
    });
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {}", fleet.token).parse().unwrap());
    request
}

/// The page token of the last page (walking there page by page).
async fn last_page_token(client: &mut Client, fleet: &Fleet) -> String {
    let mut token = String::new();
    loop {
        let page = client.list_runners(request(fleet, &token)).await.unwrap().into_inner();
        let next = page.pagination.unwrap().next_token;
        if next.is_empty() {
            return token;
        }
        token = next;
    }
}

/// Median latency of ListRunners for `WINDOW`, one call at a time.
async fn window(client: &mut Client, fleet: &Fleet, token: &str, expect: usize) -> Duration {
    let mut latencies = Vec::new();
    let until = Instant::now() + WINDOW;
    while Instant::now() < until {
        let started = Instant::now();
        let page = client.list_runners(request(fleet, token)).await.unwrap().into_inner();
        latencies.push(started.elapsed());
        assert_eq!(page.runners.len(), expect);
    }
    latencies.sort();
    latencies[latencies.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let pairs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let large: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let small = fleet(1_000).await;
        let big = fleet(large).await;
        let connect = |url: String| async move {
            Client::new(
                tonic::transport::Endpoint::from_shared(url)
                    .unwrap()
                    .connect()
                    .await
                    .unwrap(),
            )
        };
        let (mut a, mut b) = (connect(small.url.clone()).await, connect(big.url.clone()).await);
        let last = last_page_token(&mut b, &big).await;
        let last_len = if large.is_multiple_of(100) { 100 } else { large % 100 };
        // warm both
        window(&mut a, &small, "", 100).await;
        window(&mut b, &big, &last, last_len).await;
        println!("ListRunners page_size 100, filter kinds=[LOCAL], concurrency 1, {pairs} pairs of {WINDOW:?} windows");
        let mut ratios = Vec::new();
        let (mut firsts, mut lasts) = (Vec::new(), Vec::new());
        for pair in 0..pairs {
            let (first, deep) = if pair % 2 == 0 {
                let f = window(&mut a, &small, "", 100).await;
                (f, window(&mut b, &big, &last, last_len).await)
            } else {
                let d = window(&mut b, &big, &last, last_len).await;
                (window(&mut a, &small, "", 100).await, d)
            };
            let ratio = deep.as_secs_f64() / first.as_secs_f64();
            println!(
                "pair {pair:2}: first page @1k {first:>10.2?}   last page @{large} {deep:>10.2?}   ratio {ratio:.3}"
            );
            ratios.push(ratio);
            firsts.push(first);
            lasts.push(deep);
        }
        ratios.sort_by(|x, y| x.total_cmp(y));
        firsts.sort();
        lasts.sort();
        let q = |v: &[f64], p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        println!(
            "median: first page @1k {:.2?}, last page @{large} {:.2?}; ratio {:.3} (IQR {:.3}–{:.3})",
            firsts[firsts.len() / 2],
            lasts[lasts.len() / 2],
            q(&ratios, 0.5),
            q(&ratios, 0.25),
            q(&ratios, 0.75)
        );
    });
}
