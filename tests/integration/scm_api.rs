//! The SCM-backed RPCs against a stub GitHub Enterprise on loopback, started
//! by the test: real HTTP from paddock to it, with the user's host token.

use std::time::{Duration, Instant};

use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tonic::Code;

use crate::harness::*;

/// A stub of GitHub's REST API v3 under /api/v3. Token `good` reads
/// everything but acme/private; `expired` is refused.
async fn stub_github() -> String {
    serve_stub(route).await
}

/// An HTTP/1.1 stub on loopback answering each request with `handler(target,
/// bearer token, https://HOST)` → (status line, JSON body, Link header).
async fn serve_stub<F, Fut>(handler: F) -> String
where
    F: Fn(String, String, String) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = (&'static str, String, Option<String>)> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let base = format!("https://{host}");
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let base = base.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let target = head.split_whitespace().nth(1).unwrap_or_default().to_owned();
                let token = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("authorization: bearer ")
                            .map(str::to_owned)
                    })
                    .unwrap_or_default();
                let (status, body, link) = handler(target, token.trim().to_owned(), base).await;
                let link = link.map(|l| format!("Link: {l}\r\n")).unwrap_or_default();
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{link}Connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    host
}

async fn route(target: String, token: String, base: String) -> (&'static str, String, Option<String>) {
    let (target, token, base) = (target.as_str(), token.as_str(), base.as_str());
    if token != "good" {
        return ("401 Unauthorized", r#"{"message":"Bad credentials"}"#.into(), None);
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let page: u32 = query
        .split('&')
        .find_map(|p| p.strip_prefix("page="))
        .and_then(|p| p.parse().ok())
        .unwrap_or(1);
    let repo =
        |name: &str| format!(r#"{{"full_name":"{name}","html_url":"{base}/{name}","default_branch":"develop"}}"#);
    let ok = |body: String| ("200 OK", body, None);
    match path {
        "/api/v3/repos/acme/widgets" => ok(repo("acme/widgets")),
        "/api/v3/repos/acme/widgets/branches/develop" => ok(r#"{"commit":{"sha":"abc123"}}"#.into()),
        "/api/v3/repos/acme/widgets/branches/feature%2Fx" => ok(r#"{"commit":{"sha":"def456"}}"#.into()),
        "/api/v3/repos/acme/widgets/pulls/7" => ok(format!(
            r#"{{"title":"Add widgets","state":"open","merged":false,"draft":true,"user":{{"login":"octo"}},
               "head":{{"ref":"feature/x","sha":"def456","repo":{{"clone_url":"{base}/fork/widgets.git"}}}},
               "base":{{"ref":"develop","sha":"abc123","repo":{{"clone_url":"{base}/acme/widgets.git"}}}}}}"#
        )),
        "/api/v3/repos/acme/widgets/issues/3" => ok(r#"{"title":"Widgets break on Tuesdays"}"#.into()),
        "/api/v3/repos/acme/private" => ("403 Forbidden", r#"{"message":"Forbidden"}"#.into(), None),
        "/api/v3/repos/acme/slow" => {
            tokio::time::sleep(Duration::from_secs(8)).await;
            ok(repo("acme/slow"))
        }
        "/api/v3/search/repositories" => {
            // five matches, echoing the query in their names
            let q = url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "q")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let per_page: u32 = query
                .split('&')
                .find_map(|p| p.strip_prefix("per_page="))
                .and_then(|p| p.parse().ok())
                .unwrap_or(30);
            let first = (page - 1) * per_page;
            let items: Vec<String> = (first..(first + per_page).min(5))
                .map(|i| repo(&format!("acme/{i}-{q}")))
                .collect();
            ok(format!(r#"{{"total_count":5,"items":[{}]}}"#, items.join(",")))
        }
        "/api/v3/user/orgs" => {
            let body = if page == 1 {
                r#"[{"login":"acme"},{"login":"widgetco"}]"#
            } else {
                r#"[{"login":"zeta"}]"#
            };
            let link = (page == 1).then(|| format!(r#"<{base}/api/v3/user/orgs?page=2>; rel="next""#));
            ("200 OK", body.into(), link)
        }
        _ => ("404 Not Found", r#"{"message":"Not Found"}"#.into(), None),
    }
}

struct Setup {
    server: TestServer,
    host: String,
    runner_id: String,
    alice: User,
}

/// A runner with an SCM integration for the stub; alice holds a good token for it.
async fn setup(protocol: Protocol) -> Setup {
    let server = TestServer::start().await;
    let host = stub_github().await;
    let mut api = server.runners(protocol, &server.admin.token).await;
    let runner_id = api
        .create_runner(linux_runner("scm runner"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id;
    let mut config = server.configuration(protocol, &server.admin.token).await;
    config
        .create_scm_integration(pb::CreateScmIntegrationRequest {
            runner_id: runner_id.clone(),
            scm_id: "github".into(),
            host: host.clone(),
            pat: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let alice = server.member("alice").await;
    give_token(&server, protocol, &alice, &runner_id, &host, "good").await;
    Setup {
        server,
        host,
        runner_id,
        alice,
    }
}

async fn give_token(server: &TestServer, protocol: Protocol, user: &User, runner_id: &str, host: &str, token: &str) {
    let mut config = server.configuration(protocol, &user.token).await;
    config
        .create_host_authentication_token(pb::CreateHostAuthenticationTokenRequest {
            runner_id: runner_id.into(),
            host: host.into(),
            token: token.into(),
            source: pb::HostAuthenticationTokenSource::Pat as i32,
            ..Default::default()
        })
        .await
        .unwrap();
}

protocol_tests!(
    parse_context_url_asks_the_scm_when_the_user_has_a_token,
    flavor = "multi_thread",
    worker_threads = 2
);
async fn parse_context_url_asks_the_scm_when_the_user_has_a_token(protocol: Protocol) {
    let Setup {
        server,
        host,
        runner_id,
        alice,
    } = setup(protocol).await;
    let mut api = server.runners(protocol, &alice.token).await;
    let parse = |path: &str| pb::ParseContextUrlRequest {
        runner_id: runner_id.clone(),
        context_url: format!("https://{host}{path}"),
    };

    // the default branch and its head
    let root = api
        .parse_context_url(parse("/acme/widgets"))
        .await
        .unwrap()
        .into_inner();
    let git = root.git.unwrap();
    assert_eq!((git.branch.as_str(), git.commit.as_str()), ("develop", "abc123"));
    // a branch with a slash, followed by a path: the longest existing branch wins
    let tree = api
        .parse_context_url(parse("/acme/widgets/tree/feature/x/src/lib"))
        .await
        .unwrap()
        .into_inner();
    let git = tree.git.unwrap();
    assert_eq!((git.branch.as_str(), git.commit.as_str()), ("feature/x", "def456"));
    // a pull request from a fork
    let pr = api
        .parse_context_url(parse("/acme/widgets/pull/7"))
        .await
        .unwrap()
        .into_inner();
    let details = pr.pull_request.clone().unwrap();
    assert_eq!(details.title, "Add widgets");
    assert_eq!(
        (details.from_branch.as_str(), details.to_branch.as_str()),
        ("feature/x", "develop")
    );
    assert_eq!(details.state, pb::pull_request::State::Open as i32);
    assert!(details.draft);
    assert_eq!(details.author, "octo");
    let git = pr.git.clone().unwrap();
    assert_eq!(git.clone_url, format!("https://{host}/fork/widgets.git"));
    assert_eq!(git.upstream_remote_url, format!("https://{host}/acme/widgets.git"));
    assert_eq!((git.branch.as_str(), git.commit.as_str()), ("feature/x", "def456"));
    #[allow(deprecated)]
    let old = pr.pr.unwrap();
    assert_eq!(old.title, "Add widgets");
    // an issue's title
    let issue = api
        .parse_context_url(parse("/acme/widgets/issues/3"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(issue.issue.unwrap().title, "Widgets break on Tuesdays");

    // what the token cannot read, or what does not exist
    let err = api.parse_context_url(parse("/acme/private")).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = api.parse_context_url(parse("/acme/missing")).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = api
        .parse_context_url(parse("/acme/widgets/tree/no-such-branch"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // without a token: parsed from the URL alone, no error
    let bob = server.member("bob").await;
    let mut as_bob = server.runners(protocol, &bob.token).await;
    let offline = as_bob
        .parse_context_url(parse("/acme/widgets"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(offline.git.unwrap().branch, "");
    server.stop().await;
}

// The SCM's time budget is the server's, whatever the protocol, and this
// waits 5 s: it runs over gRPC only (connect.rs has Connect's
// deadline_exceeded answer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_scm_is_a_clear_error_within_the_budget() {
    let protocol = Protocol::Grpc;
    let Setup {
        server,
        host,
        runner_id,
        alice,
    } = setup(protocol).await;
    let mut api = server.runners(protocol, &alice.token).await;
    let parse = |path: &str| pb::ParseContextUrlRequest {
        runner_id: runner_id.clone(),
        context_url: format!("https://{host}{path}"),
    };

    let started = Instant::now();
    let err = api.parse_context_url(parse("/acme/slow")).await.unwrap_err();
    assert!(
        matches!(err.code(), Code::DeadlineExceeded | Code::Unavailable),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(7), "{:?}", started.elapsed());
    server.stop().await;
}

protocol_tests!(a_refused_token_is_failed_precondition_with_where_to_sign_in);
async fn a_refused_token_is_failed_precondition_with_where_to_sign_in(protocol: Protocol) {
    let Setup {
        server,
        host,
        runner_id,
        ..
    } = setup(protocol).await;
    let carol = server.member("carol").await;
    give_token(&server, protocol, &carol, &runner_id, &host, "expired").await;
    let mut api = server.runners(protocol, &carol.token).await;
    let err = api
        .parse_context_url(pb::ParseContextUrlRequest {
            runner_id: runner_id.clone(),
            context_url: format!("https://{host}/acme/widgets"),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    // google.rpc.Status { details: [Any(ParseContextURLPreconditionFailureDetails)] }
    let status = tonic_types::pb::Status::decode(err.details()).unwrap();
    let any = &status.details[0];
    assert_eq!(
        any.type_url,
        "type.googleapis.com/gitpod.v1.ParseContextURLPreconditionFailureDetails"
    );
    let details = pb::ParseContextUrlPreconditionFailureDetails::decode(any.value.as_slice()).unwrap();
    assert_eq!(details.scm_id, "github");
    assert_eq!(details.runner_ids, vec![runner_id.clone()]);
    assert!(
        details.authentication_required_url.contains(&host),
        "{}",
        details.authentication_required_url
    );

    let err = api
        .check_repository_access(pb::CheckRepositoryAccessRequest {
            runner_id: runner_id.clone(),
            repository_url: format!("https://{host}/acme/widgets"),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    server.stop().await;
}

protocol_tests!(search_repositories_pages_through_the_scm);
async fn search_repositories_pages_through_the_scm(protocol: Protocol) {
    let Setup {
        server,
        host,
        runner_id,
        alice,
    } = setup(protocol).await;
    let mut api = server.runners(protocol, &alice.token).await;
    let search = |token: String| pb::SearchRepositoriesRequest {
        runner_id: runner_id.clone(),
        search_string: "widg".into(),
        pagination: Some(pb::PaginationRequest { page_size: 2, token }),
        scm_host: host.clone(),
        search_mode: pb::SearchMode::Keyword as i32,
        ..Default::default()
    };
    let mut names = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = api.search_repositories(search(token)).await.unwrap().into_inner();
        pages += 1;
        names.extend(page.repositories.iter().map(|r| r.name.clone()));
        token = page.pagination.unwrap().next_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 5);
    assert!(
        names.iter().all(|n| n.ends_with("widg in:name")),
        "keyword search looks at names: {names:?}"
    );
    let native = pb::SearchRepositoriesRequest {
        search_mode: pb::SearchMode::Native as i32,
        ..search(String::new())
    };
    let page = api.search_repositories(native).await.unwrap().into_inner();
    assert!(
        page.repositories[0].name.ends_with("-widg"),
        "native passes the query through"
    );

    // no token for the host: sign in first
    let bob = server.member("bob").await;
    let mut as_bob = server.runners(protocol, &bob.token).await;
    let err = as_bob.search_repositories(search(String::new())).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let err = api
        .search_repositories(pb::SearchRepositoriesRequest {
            search_mode: 9,
            ..search(String::new())
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["search_mode"]);
    server.stop().await;
}

protocol_tests!(organizations_and_repository_access_come_from_the_scm);
async fn organizations_and_repository_access_come_from_the_scm(protocol: Protocol) {
    let Setup {
        server,
        host,
        runner_id,
        alice,
    } = setup(protocol).await;
    let mut api = server.runners(protocol, &alice.token).await;
    let orgs = |token: String| pb::ListScmOrganizationsRequest {
        runner_id: runner_id.clone(),
        scm_host: host.clone(),
        query: String::new(),
        pagination: Some(pb::PaginationRequest { page_size: 2, token }),
    };
    let first = api
        .list_scm_organizations(orgs(String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        first.organizations.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
        ["acme", "widgetco"]
    );
    // a loopback SCM is spoken to (and linked) over plain http
    assert_eq!(first.organizations[0].url, format!("http://{host}/acme"));
    let next = first.pagination.unwrap().next_token;
    assert!(!next.is_empty());
    let second = api.list_scm_organizations(orgs(next)).await.unwrap().into_inner();
    assert_eq!(
        second.organizations.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
        ["zeta"]
    );
    assert!(second.pagination.unwrap().next_token.is_empty());
    let err = api.list_scm_organizations(pb::ListScmOrganizationsRequest {
        scm_host: String::new(),
        ..orgs(String::new())
    });
    assert_eq!(violated_fields(&err.await.unwrap_err()), ["scm_host"]);

    let access = |repo: &str| pb::CheckRepositoryAccessRequest {
        runner_id: runner_id.clone(),
        repository_url: format!("https://{host}/{repo}"),
    };
    let yes = api
        .check_repository_access(access("acme/widgets"))
        .await
        .unwrap()
        .into_inner();
    assert!(yes.has_access && yes.error_message.is_empty());
    let forbidden = api
        .check_repository_access(access("acme/private"))
        .await
        .unwrap()
        .into_inner();
    assert!(!forbidden.has_access && !forbidden.error_message.is_empty());
    let missing = api
        .check_repository_access(access("acme/missing"))
        .await
        .unwrap()
        .into_inner();
    assert!(!missing.has_access && !missing.error_message.is_empty());
    let err = api
        .check_repository_access(pb::CheckRepositoryAccessRequest {
            runner_id: runner_id.clone(),
            repository_url: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["repository_url"]);
    server.stop().await;
}

/// A stub of GitLab's REST API v4 (token `good`), which paddock reaches
/// through `--scm-api-url` while the integration names gitlab.example.com.
async fn gitlab_route(target: String, token: String, _base: String) -> (&'static str, String, Option<String>) {
    if token != "good" {
        return ("401 Unauthorized", r#"{"message":"401 Unauthorized"}"#.into(), None);
    }
    let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
    let project = r#"{"path_with_namespace":"group/sub/project","web_url":"https://gitlab.example.com/group/sub/project","default_branch":"main"}"#;
    match path {
        "/api/v4/projects/group%2Fsub%2Fproject" => ("200 OK", project.into(), None),
        "/api/v4/projects/group%2Fsub%2Fproject/repository/branches/main" => ("200 OK", r#"{"commit":{"id":"aaa111"}}"#.into(), None),
        "/api/v4/projects/group%2Fsub%2Fproject/merge_requests/5" => (
            "200 OK",
            r#"{"title":"Tidy up","state":"merged","source_branch":"tidy","target_branch":"main","sha":"bbb222","author":{"username":"gl-user"}}"#.into(),
            None,
        ),
        "/api/v4/projects" if query.contains("search=proj") => ("200 OK", format!("[{project}]"), None),
        "/api/v4/groups" => ("200 OK", r#"[{"full_path":"group/sub","web_url":"https://gitlab.example.com/groups/group/sub"}]"#.into(), None),
        _ => ("404 Not Found", r#"{"message":"404 Not found"}"#.into(), None),
    }
}

protocol_tests!(gitlab_through_an_api_url_set_by_the_operator);
async fn gitlab_through_an_api_url_set_by_the_operator(protocol: Protocol) {
    let stub = serve_stub(gitlab_route).await;
    let server = TestServer::start_with(|settings| {
        settings
            .scm_api_urls
            .insert("gitlab.example.com".into(), format!("http://{stub}/api/v4"));
    })
    .await;
    let mut api = server.runners(protocol, &server.admin.token).await;
    let runner_id = api
        .create_runner(linux_runner("gitlab runner"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id;
    let mut config = server.configuration(protocol, &server.admin.token).await;
    config
        .create_scm_integration(pb::CreateScmIntegrationRequest {
            runner_id: runner_id.clone(),
            scm_id: "gitlab".into(),
            host: "gitlab.example.com".into(),
            pat: true,
            ..Default::default()
        })
        .await
        .unwrap();
    give_token(
        &server,
        protocol,
        &server.admin,
        &runner_id,
        "gitlab.example.com",
        "good",
    )
    .await;
    let parse = |path: &str| pb::ParseContextUrlRequest {
        runner_id: runner_id.clone(),
        context_url: format!("https://gitlab.example.com{path}"),
    };
    let root = api
        .parse_context_url(parse("/group/sub/project"))
        .await
        .unwrap()
        .into_inner()
        .git
        .unwrap();
    assert_eq!((root.branch.as_str(), root.commit.as_str()), ("main", "aaa111"));
    let mr = api
        .parse_context_url(parse("/group/sub/project/-/merge_requests/5"))
        .await
        .unwrap()
        .into_inner();
    let details = mr.pull_request.unwrap();
    assert_eq!(
        (details.title.as_str(), details.from_branch.as_str()),
        ("Tidy up", "tidy")
    );
    assert_eq!(details.state, pb::pull_request::State::Merged as i32);
    let found = api
        .search_repositories(pb::SearchRepositoriesRequest {
            runner_id: runner_id.clone(),
            search_string: "proj".into(),
            scm_host: "gitlab.example.com".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        found.repositories.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["group/sub/project"]
    );
    let groups = api
        .list_scm_organizations(pb::ListScmOrganizationsRequest {
            runner_id: runner_id.clone(),
            scm_host: "gitlab.example.com".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(groups.organizations[0].name, "group/sub");
    let access = api
        .check_repository_access(pb::CheckRepositoryAccessRequest {
            runner_id,
            repository_url: "https://gitlab.example.com/group/other".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!access.has_access);
    server.stop().await;
}

/// A stub of Bitbucket Cloud's API 2.0 (token `good`).
async fn bitbucket_route(target: String, token: String, _base: String) -> (&'static str, String, Option<String>) {
    if token != "good" {
        return ("401 Unauthorized", r#"{"type":"error"}"#.into(), None);
    }
    let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
    let repo = r#"{"full_name":"team/app","links":{"html":{"href":"https://bitbucket.org/team/app"}},"mainbranch":{"name":"trunk"}}"#;
    match path {
        "/2.0/repositories/team/app" => ("200 OK", repo.into(), None),
        "/2.0/repositories/team/app/refs/branches/trunk" => ("200 OK", r#"{"target":{"hash":"ccc333"}}"#.into(), None),
        "/2.0/repositories/team/app/pullrequests/4" => (
            "200 OK",
            r#"{"title":"Faster","state":"OPEN","source":{"branch":{"name":"speed"},"commit":{"hash":"ddd444"}},
               "destination":{"branch":{"name":"trunk"}},"author":{"display_name":"Ann"}}"#
                .into(),
            None,
        ),
        "/2.0/repositories" => {
            let next = if query.contains("page=1") {
                r#","next":"https://api.bitbucket.org/2.0/repositories?page=2""#
            } else {
                ""
            };
            ("200 OK", format!(r#"{{"values":[{repo}]{next}}}"#), None)
        }
        "/2.0/workspaces" => (
            "200 OK",
            r#"{"values":[{"slug":"team","links":{"html":{"href":"https://bitbucket.org/team/"}}}]}"#.into(),
            None,
        ),
        _ => ("404 Not Found", r#"{"type":"error"}"#.into(), None),
    }
}

protocol_tests!(bitbucket_cloud_through_its_api);
async fn bitbucket_cloud_through_its_api(protocol: Protocol) {
    let stub = serve_stub(bitbucket_route).await;
    let server = TestServer::start_with(|settings| {
        settings
            .scm_api_urls
            .insert("bitbucket.org".into(), format!("http://{stub}/2.0"));
    })
    .await;
    let mut api = server.runners(protocol, &server.admin.token).await;
    let runner_id = api
        .create_runner(linux_runner("bitbucket runner"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id;
    give_token(&server, protocol, &server.admin, &runner_id, "bitbucket.org", "good").await;
    let parse = |path: &str| pb::ParseContextUrlRequest {
        runner_id: runner_id.clone(),
        context_url: format!("https://bitbucket.org{path}"),
    };
    let root = api
        .parse_context_url(parse("/team/app"))
        .await
        .unwrap()
        .into_inner()
        .git
        .unwrap();
    assert_eq!((root.branch.as_str(), root.commit.as_str()), ("trunk", "ccc333"));
    let pr = api
        .parse_context_url(parse("/team/app/pull-requests/4"))
        .await
        .unwrap()
        .into_inner();
    let details = pr.pull_request.unwrap();
    assert_eq!(
        (
            details.title.as_str(),
            details.from_branch.as_str(),
            details.to_branch.as_str()
        ),
        ("Faster", "speed", "trunk")
    );
    assert_eq!(details.state, pb::pull_request::State::Open as i32);
    let found = api
        .search_repositories(pb::SearchRepositoriesRequest {
            runner_id: runner_id.clone(),
            search_string: "app".into(),
            scm_host: "bitbucket.org".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.repositories[0].name, "team/app");
    assert!(!found.pagination.unwrap().next_token.is_empty());
    let workspaces = api
        .list_scm_organizations(pb::ListScmOrganizationsRequest {
            runner_id,
            scm_host: "bitbucket.org".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(workspaces.organizations[0].name, "team");
    server.stop().await;
}
