//! ParseContextURL from the URL alone, across the four SCMs and their
//! self-hosted forms (and the bad input it refuses: numbers that are no
//! numbers, dot segments, encoded slashes), and CheckAuthenticationForHost.

use tonic::Code;

use crate::harness::*;

/// An expected parse: scm, host, owner, repo, clone URL and the ref parts.
#[derive(Default, Debug)]
struct Expect {
    scm: &'static str,
    host: &'static str,
    owner: &'static str,
    repo: &'static str,
    clone: &'static str,
    branch: &'static str,
    commit: &'static str,
    tag: &'static str,
    pr: &'static str,
    issue: &'static str,
}

fn gh(owner: &'static str, repo: &'static str) -> Expect {
    Expect {
        scm: "github",
        host: "github.com",
        owner,
        repo,
        clone: leak(format!("https://github.com/{owner}/{repo}.git")),
        ..Default::default()
    }
}

fn gl(owner: &'static str, repo: &'static str) -> Expect {
    Expect {
        scm: "gitlab",
        host: "gitlab.com",
        owner,
        repo,
        clone: leak(format!("https://gitlab.com/{owner}/{repo}.git")),
        ..Default::default()
    }
}

fn bb(owner: &'static str, repo: &'static str) -> Expect {
    Expect {
        scm: "bitbucket",
        host: "bitbucket.org",
        owner,
        repo,
        clone: leak(format!("https://bitbucket.org/{owner}/{repo}.git")),
        ..Default::default()
    }
}

fn ado(org: &'static str, project: &'static str, repo: &'static str) -> Expect {
    Expect {
        scm: "azure-devops",
        host: "dev.azure.com",
        owner: leak(format!("{org}/{project}")),
        repo,
        clone: leak(format!("https://dev.azure.com/{org}/{project}/_git/{repo}")),
        ..Default::default()
    }
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn cases() -> Vec<(&'static str, Option<Expect>)> {
    vec![
        // GitHub
        ("https://github.com/gitpod-io/gitpod", Some(gh("gitpod-io", "gitpod"))),
        ("https://github.com/gitpod-io/gitpod/", Some(gh("gitpod-io", "gitpod"))),
        (
            "https://github.com/gitpod-io/gitpod.git",
            Some(gh("gitpod-io", "gitpod")),
        ),
        (
            "https://GitHub.com/gitpod-io/gitpod?tab=readme#intro",
            Some(gh("gitpod-io", "gitpod")),
        ),
        (
            "https://github.com/org/repo/tree/main",
            Some(Expect {
                branch: "main",
                ..gh("org", "repo")
            }),
        ),
        (
            "https://github.com/org/repo/tree/feature/deep/branch",
            Some(Expect {
                branch: "feature/deep/branch",
                ..gh("org", "repo")
            }),
        ),
        (
            "https://github.com/org/repo/blob/main/src/lib.rs",
            Some(Expect {
                branch: "main",
                ..gh("org", "repo")
            }),
        ),
        (
            "https://github.com/org/repo/commit/4f0c2d7a1b9e",
            Some(Expect {
                commit: "4f0c2d7a1b9e",
                ..gh("org", "repo")
            }),
        ),
        (
            "https://github.com/org/repo/pull/42",
            Some(Expect {
                pr: "42",
                ..gh("org", "repo")
            }),
        ),
        (
            "https://github.com/org/repo/pull/42/files",
            Some(Expect {
                pr: "42",
                ..gh("org", "repo")
            }),
        ),
        (
            "https://github.com/org/repo/issues/7",
            Some(Expect {
                issue: "7",
                ..gh("org", "repo")
            }),
        ),
        (
            "https://github.com/org/repo/releases/tag/v1.2.3",
            Some(Expect {
                tag: "v1.2.3",
                ..gh("org", "repo")
            }),
        ),
        ("https://github.com/org/repo/actions", Some(gh("org", "repo"))),
        ("http://github.com/org/repo", Some(gh("org", "repo"))),
        // GitHub Enterprise (an SCM integration of the runner)
        (
            "https://ghe.example.com/platform/api/tree/release/2.0",
            Some(Expect {
                scm: "github",
                host: "ghe.example.com",
                owner: "platform",
                repo: "api",
                clone: "https://ghe.example.com/platform/api.git",
                branch: "release/2.0",
                ..Default::default()
            }),
        ),
        (
            "https://ghe.example.com/platform/api/pull/9",
            Some(Expect {
                scm: "github",
                host: "ghe.example.com",
                owner: "platform",
                repo: "api",
                clone: "https://ghe.example.com/platform/api.git",
                pr: "9",
                ..Default::default()
            }),
        ),
        // GitLab
        ("https://gitlab.com/group/project", Some(gl("group", "project"))),
        ("https://gitlab.com/group/project.git", Some(gl("group", "project"))),
        (
            "https://gitlab.com/group/sub/deeper/project",
            Some(gl("group/sub/deeper", "project")),
        ),
        (
            "https://gitlab.com/group/project/-/tree/main",
            Some(Expect {
                branch: "main",
                ..gl("group", "project")
            }),
        ),
        (
            "https://gitlab.com/group/sub/project/-/tree/feat/x-y",
            Some(Expect {
                branch: "feat/x-y",
                ..gl("group/sub", "project")
            }),
        ),
        (
            "https://gitlab.com/group/project/-/blob/dev/README.md",
            Some(Expect {
                branch: "dev",
                ..gl("group", "project")
            }),
        ),
        (
            "https://gitlab.com/group/project/-/commit/9a8b7c6d",
            Some(Expect {
                commit: "9a8b7c6d",
                ..gl("group", "project")
            }),
        ),
        (
            "https://gitlab.com/group/project/-/merge_requests/15",
            Some(Expect {
                pr: "15",
                ..gl("group", "project")
            }),
        ),
        (
            "https://gitlab.com/group/project/-/merge_requests/15/diffs",
            Some(Expect {
                pr: "15",
                ..gl("group", "project")
            }),
        ),
        (
            "https://gitlab.com/group/project/-/issues/3",
            Some(Expect {
                issue: "3",
                ..gl("group", "project")
            }),
        ),
        (
            "https://gitlab.com/group/project/-/tags/v2.0",
            Some(Expect {
                tag: "v2.0",
                ..gl("group", "project")
            }),
        ),
        (
            "https://gitlab.com/group/project/tree/main",
            Some(Expect {
                branch: "main",
                ..gl("group", "project")
            }),
        ),
        (
            "https://gitlab.com/group/project/-/pipelines",
            Some(gl("group", "project")),
        ),
        // self-managed GitLab
        (
            "https://gitlab.example.com/infra/tools/deploy/-/tree/main",
            Some(Expect {
                scm: "gitlab",
                host: "gitlab.example.com",
                owner: "infra/tools",
                repo: "deploy",
                clone: "https://gitlab.example.com/infra/tools/deploy.git",
                branch: "main",
                ..Default::default()
            }),
        ),
        // Bitbucket Cloud
        ("https://bitbucket.org/workspace/repo", Some(bb("workspace", "repo"))),
        (
            "https://bitbucket.org/workspace/repo.git",
            Some(bb("workspace", "repo")),
        ),
        (
            "https://bitbucket.org/workspace/repo/src/main/README.md",
            Some(Expect {
                branch: "main",
                ..bb("workspace", "repo")
            }),
        ),
        (
            "https://bitbucket.org/workspace/repo/src/0123456789abcdef0123456789abcdef01234567/",
            Some(Expect {
                commit: "0123456789abcdef0123456789abcdef01234567",
                ..bb("workspace", "repo")
            }),
        ),
        (
            "https://bitbucket.org/workspace/repo/branch/feature/login",
            Some(Expect {
                branch: "feature/login",
                ..bb("workspace", "repo")
            }),
        ),
        (
            "https://bitbucket.org/workspace/repo/commits/abcdef1",
            Some(Expect {
                commit: "abcdef1",
                ..bb("workspace", "repo")
            }),
        ),
        (
            "https://bitbucket.org/workspace/repo/pull-requests/12",
            Some(Expect {
                pr: "12",
                ..bb("workspace", "repo")
            }),
        ),
        (
            "https://bitbucket.org/workspace/repo/pull-requests/12/diff",
            Some(Expect {
                pr: "12",
                ..bb("workspace", "repo")
            }),
        ),
        (
            "https://bitbucket.org/workspace/repo/issues/5",
            Some(Expect {
                issue: "5",
                ..bb("workspace", "repo")
            }),
        ),
        // Bitbucket Server / Data Center
        (
            "https://bitbucket.example.com/projects/PLAT/repos/service/browse",
            Some(Expect {
                scm: "bitbucket",
                host: "bitbucket.example.com",
                owner: "PLAT",
                repo: "service",
                clone: "https://bitbucket.example.com/scm/plat/service.git",
                ..Default::default()
            }),
        ),
        (
            "https://bitbucket.example.com/projects/PLAT/repos/service/browse?at=refs%2Fheads%2Ffeature%2Fx",
            Some(Expect {
                scm: "bitbucket",
                host: "bitbucket.example.com",
                owner: "PLAT",
                repo: "service",
                clone: "https://bitbucket.example.com/scm/plat/service.git",
                branch: "feature/x",
                ..Default::default()
            }),
        ),
        (
            "https://bitbucket.example.com/projects/PLAT/repos/service/commits/0a1b2c3d",
            Some(Expect {
                scm: "bitbucket",
                host: "bitbucket.example.com",
                owner: "PLAT",
                repo: "service",
                clone: "https://bitbucket.example.com/scm/plat/service.git",
                commit: "0a1b2c3d",
                ..Default::default()
            }),
        ),
        (
            "https://bitbucket.example.com/projects/PLAT/repos/service/pull-requests/77/overview",
            Some(Expect {
                scm: "bitbucket",
                host: "bitbucket.example.com",
                owner: "PLAT",
                repo: "service",
                clone: "https://bitbucket.example.com/scm/plat/service.git",
                pr: "77",
                ..Default::default()
            }),
        ),
        (
            "https://bitbucket.example.com/scm/plat/service.git",
            Some(Expect {
                scm: "bitbucket",
                host: "bitbucket.example.com",
                owner: "plat",
                repo: "service",
                clone: "https://bitbucket.example.com/scm/plat/service.git",
                ..Default::default()
            }),
        ),
        (
            "https://bitbucket.example.com/projects/PLAT/repos/service/browse?at=refs%2Ftags%2Fv3",
            Some(Expect {
                scm: "bitbucket",
                host: "bitbucket.example.com",
                owner: "PLAT",
                repo: "service",
                clone: "https://bitbucket.example.com/scm/plat/service.git",
                tag: "v3",
                ..Default::default()
            }),
        ),
        // Azure DevOps Services
        (
            "https://dev.azure.com/contoso/web/_git/frontend",
            Some(ado("contoso", "web", "frontend")),
        ),
        (
            "https://contoso@dev.azure.com/contoso/web/_git/frontend",
            Some(ado("contoso", "web", "frontend")),
        ),
        (
            "https://dev.azure.com/contoso/web/_git/frontend?version=GBmain",
            Some(Expect {
                branch: "main",
                ..ado("contoso", "web", "frontend")
            }),
        ),
        (
            "https://dev.azure.com/contoso/web/_git/frontend?path=/src&version=GBfeature/nav",
            Some(Expect {
                branch: "feature/nav",
                ..ado("contoso", "web", "frontend")
            }),
        ),
        (
            "https://dev.azure.com/contoso/web/_git/frontend?version=GC0f1e2d3c",
            Some(Expect {
                commit: "0f1e2d3c",
                ..ado("contoso", "web", "frontend")
            }),
        ),
        (
            "https://dev.azure.com/contoso/web/_git/frontend?version=GTv1.0",
            Some(Expect {
                tag: "v1.0",
                ..ado("contoso", "web", "frontend")
            }),
        ),
        (
            "https://dev.azure.com/contoso/web/_git/frontend/pullrequest/31",
            Some(Expect {
                pr: "31",
                ..ado("contoso", "web", "frontend")
            }),
        ),
        (
            "https://dev.azure.com/contoso/web/_git/frontend/commit/abc1234",
            Some(Expect {
                commit: "abc1234",
                ..ado("contoso", "web", "frontend")
            }),
        ),
        (
            "https://dev.azure.com/contoso/_git/web",
            Some(ado("contoso", "web", "web")),
        ),
        (
            "https://contoso.visualstudio.com/web/_git/frontend",
            Some(Expect {
                scm: "azure-devops",
                host: "contoso.visualstudio.com",
                owner: "contoso/web",
                repo: "frontend",
                clone: "https://contoso.visualstudio.com/web/_git/frontend",
                ..Default::default()
            }),
        ),
        // Azure DevOps Server with a virtual directory
        (
            "https://ado.example.com/tfs/DefaultCollection/Ops/_git/infra?version=GBrelease",
            Some(Expect {
                scm: "azure-devops",
                host: "ado.example.com",
                owner: "DefaultCollection/Ops",
                repo: "infra",
                clone: "https://ado.example.com/tfs/DefaultCollection/Ops/_git/infra",
                branch: "release",
                ..Default::default()
            }),
        ),
        // an unknown host: .git URLs are plain git repositories
        (
            "https://git.unknown.example/team/tool.git",
            Some(Expect {
                scm: "",
                host: "git.unknown.example",
                owner: "team",
                repo: "tool",
                clone: "https://git.unknown.example/team/tool.git",
                ..Default::default()
            }),
        ),
        (
            "https://git.unknown.example:8443/tool.git",
            Some(Expect {
                scm: "",
                host: "git.unknown.example:8443",
                owner: "",
                repo: "tool",
                clone: "https://git.unknown.example:8443/tool.git",
                ..Default::default()
            }),
        ),
        // rejected
        ("https://github.com/", None),
        ("https://github.com/gitpod-io", None),
        ("https://github.com/settings/profile", None),
        ("https://github.com/orgs/gitpod-io", None),
        ("https://gitlab.com/project-without-group", None),
        ("https://bitbucket.org/workspace", None),
        ("https://bitbucket.example.com/dashboard", None),
        ("https://dev.azure.com/contoso/web", None),
        ("https://dev.azure.com/contoso/web/_boards", None),
        ("https://example.com/some/page", None),
        ("https://unknown.example/team/tool", None),
        ("ftp://github.com/org/repo", None),
        ("not a url", None),
        ("github.com/org/repo", None),
        ("", None),
        // www. of a known host is that host
        ("https://www.github.com/owner/repo", Some(gh("owner", "repo"))),
        (
            "https://WWW.github.com/owner/repo/pull/5",
            Some(Expect {
                pr: "5",
                ..gh("owner", "repo")
            }),
        ),
        (
            "https://www.gitlab.com/group/sub/project",
            Some(gl("group/sub", "project")),
        ),
        (
            "https://www.bitbucket.org/workspace/repo",
            Some(bb("workspace", "repo")),
        ),
        (
            "https://www.ghe.example.com/platform/api",
            Some(Expect {
                scm: "github",
                host: "ghe.example.com",
                owner: "platform",
                repo: "api",
                clone: "https://ghe.example.com/platform/api.git",
                ..Default::default()
            }),
        ),
        ("https://www.github.com/settings/profile", None),
        // names with dots that are no dot segments
        ("https://github.com/org/.github", Some(gh("org", ".github"))),
        ("https://github.com/foo.bar/baz", Some(gh("foo.bar", "baz"))),
        (
            "https://github.com/org/repo/tree/release/1.0",
            Some(Expect {
                branch: "release/1.0",
                ..gh("org", "repo")
            }),
        ),
        // a number is judged after percent-decoding and given back canonical
        (
            "https://github.com/org/repo/pull/%34%32",
            Some(Expect {
                pr: "42",
                ..gh("org", "repo")
            }),
        ),
        (
            "https://gitlab.com/group/project/-/merge_requests/%31%35",
            Some(Expect {
                pr: "15",
                ..gl("group", "project")
            }),
        ),
        // rejected: a pull request, merge request or issue number that is no number
        ("https://github.com/tokio-rs/tokio/pull/abc", None),
        ("https://github.com/tokio-rs/tokio/issues/abc", None),
        ("https://github.com/tokio-rs/tokio/pull/12abc", None),
        ("https://github.com/tokio-rs/tokio/pull/-1", None),
        ("https://github.com/tokio-rs/tokio/pull/0", None),
        ("https://github.com/tokio-rs/tokio/pull/", None),
        ("https://github.com/tokio-rs/tokio/pull/%31a", None),
        ("https://ghe.example.com/platform/api/pull/abc", None),
        ("https://gitlab.com/group/project/-/merge_requests/abc", None),
        ("https://gitlab.com/group/sub/project/-/issues/abc", None),
        ("https://gitlab.com/group/project/merge_requests/abc", None),
        (
            "https://gitlab.example.com/infra/tools/deploy/-/merge_requests/1e3",
            None,
        ),
        ("https://bitbucket.org/workspace/repo/pull-requests/abc", None),
        ("https://bitbucket.org/workspace/repo/issues/abc", None),
        (
            "https://bitbucket.example.com/projects/PLAT/repos/service/pull-requests/abc/overview",
            None,
        ),
        ("https://dev.azure.com/contoso/web/_git/frontend/pullrequest/abc", None),
        ("https://dev.azure.com/contoso/web/_git/frontend/pullrequest/", None),
        (
            "https://contoso.visualstudio.com/web/_git/frontend/pullrequest/abc",
            None,
        ),
        (
            "https://ado.example.com/tfs/DefaultCollection/Ops/_git/infra/pullrequest/abc",
            None,
        ),
        // rejected: dot segments, also percent-encoded or separated by \, and
        // an encoded / inside a segment
        ("https://github.com/../../etc/passwd", None),
        ("https://github.com/%2e%2e/%2e%2e/etc/passwd", None),
        ("https://github.com/%2E./x/y", None),
        ("https://github.com/.%2e/x/y", None),
        ("https://github.com/org/./repo", None),
        ("https://github.com/org\\..\\..\\etc/passwd", None),
        ("https://github.com/org/repo/tree/../../x/y", None),
        ("https://github.com/org/repo/blob/main/../../../etc/passwd", None),
        ("https://github.com/org/repo/tree/..%2f..%2fetc", None),
        ("https://github.com/org%2Frepo/x", None),
        ("https://github.com/org/..git", None),
        ("https://www.github.com/../etc/passwd", None),
        ("https://gitlab.com/group/sub/../../x/project", None),
        ("https://gitlab.com/group/project/-/blob/main/%2e%2e/secret", None),
        ("https://gitlab.example.com/infra/tools/../deploy", None),
        ("https://bitbucket.org/workspace/../repo/x", None),
        ("https://bitbucket.org/workspace/repo/src/main/../../x", None),
        (
            "https://bitbucket.example.com/projects/PLAT/repos/service/browse/../../../x",
            None,
        ),
        ("https://bitbucket.example.com/scm/%2e%2e/plat/service.git", None),
        (
            "https://bitbucket.example.com/projects/PLAT/repos/service/browse?at=refs%2Fheads%2F..%2Fx",
            None,
        ),
        ("https://dev.azure.com/contoso/../web/_git/frontend", None),
        (
            "https://dev.azure.com/contoso/web/_git/frontend?path=/src/../../..",
            None,
        ),
        ("https://dev.azure.com/contoso/web/_git/frontend?version=GB..", None),
        ("https://contoso.visualstudio.com/web/../_git/frontend", None),
        (
            "https://ado.example.com/tfs/DefaultCollection/%2e%2e/Ops/_git/infra",
            None,
        ),
        ("https://git.unknown.example/team/../../tool.git", None),
        ("https://git.unknown.example/team/%2e%2e/tool.git", None),
    ]
}

async fn runner_with_self_hosted_scms(server: &TestServer, protocol: Protocol) -> String {
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
    for (scm_id, host, virtual_directory) in [
        ("github", "ghe.example.com", None),
        ("gitlab", "gitlab.example.com", None),
        ("bitbucket", "bitbucket.example.com", None),
        ("azure-devops", "ado.example.com", Some("tfs".to_owned())),
    ] {
        config
            .create_scm_integration(pb::CreateScmIntegrationRequest {
                runner_id: runner_id.clone(),
                scm_id: scm_id.into(),
                host: host.into(),
                pat: true,
                virtual_directory,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    runner_id
}

protocol_tests!(context_urls_parse_from_the_url_alone);
async fn context_urls_parse_from_the_url_alone(protocol: Protocol) {
    let server = TestServer::start().await;
    let runner_id = runner_with_self_hosted_scms(&server, protocol).await;
    let mut api = server.runners(protocol, &server.admin.token).await;
    let cases = cases();
    assert!(cases.len() >= 120, "{} cases", cases.len());
    assert!(cases.iter().filter(|(_, e)| e.is_none()).count() >= 55);
    let mut failures = Vec::new();
    for (url, expected) in cases {
        let result = api
            .parse_context_url(pb::ParseContextUrlRequest {
                runner_id: runner_id.clone(),
                context_url: url.into(),
            })
            .await;
        match (result, expected) {
            (Err(status), None) => {
                if status.code() != Code::InvalidArgument {
                    failures.push(format!("{url}: {:?} instead of INVALID_ARGUMENT", status.code()));
                } else if violated_fields(&status) != ["context_url"] {
                    failures.push(format!("{url}: violates {:?}", violated_fields(&status)));
                }
            }
            (Ok(r), None) => failures.push(format!("{url}: accepted as {:?}", r.into_inner().git)),
            (Err(status), Some(_)) => failures.push(format!("{url}: {}", status.message())),
            (Ok(r), Some(e)) => {
                let r = r.into_inner();
                let git = r.git.clone().unwrap_or_default();
                let pr = r.pull_request.as_ref().map(|p| p.id.as_str()).unwrap_or_default();
                let issue = r.issue.as_ref().map(|i| i.id.as_str()).unwrap_or_default();
                let got = (
                    r.scm_id.as_str(),
                    git.host.as_str(),
                    git.owner.as_str(),
                    git.repo.as_str(),
                    git.clone_url.as_str(),
                    git.branch.as_str(),
                    git.commit.as_str(),
                    git.tag.as_str(),
                    pr,
                    issue,
                );
                let want = (
                    e.scm, e.host, e.owner, e.repo, e.clone, e.branch, e.commit, e.tag, e.pr, e.issue,
                );
                if got != want {
                    failures.push(format!("{url}:\n   got  {got:?}\n   want {want:?}"));
                }
                if r.original_context_url != url {
                    failures.push(format!("{url}: original_context_url {:?}", r.original_context_url));
                }
                #[allow(deprecated)]
                if !pr.is_empty() && r.pr.as_ref().map(|p| p.id.as_str()) != Some(pr) {
                    failures.push(format!("{url}: the deprecated pr differs"));
                }
                if let Some(p) = &r.pull_request {
                    let repository = p.repository.clone().unwrap_or_default();
                    if repository.clone_url != git.clone_url || p.url.is_empty() {
                        failures.push(format!("{url}: pull request {p:?}"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    server.stop().await;
}

protocol_tests!(self_hosted_hosts_need_an_integration_and_runner_id_is_optional);
async fn self_hosted_hosts_need_an_integration_and_runner_id_is_optional(protocol: Protocol) {
    let server = TestServer::start().await;
    let mut api = server.runners(protocol, &server.admin.token).await;
    let url = "https://ghe.example.com/platform/api";
    let err = api
        .parse_context_url(pb::ParseContextUrlRequest {
            runner_id: String::new(),
            context_url: url.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("not a known SCM"), "{}", err.message());
    let well_known = api
        .parse_context_url(pb::ParseContextUrlRequest {
            runner_id: String::new(),
            context_url: "https://github.com/a/b".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(well_known.scm_id, "github");

    runner_with_self_hosted_scms(&server, protocol).await;
    // without a runner, the integrations of every runner of the organization count
    let parsed = api
        .parse_context_url(pb::ParseContextUrlRequest {
            runner_id: String::new(),
            context_url: url.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(parsed.scm_id, "github");
    let err = api
        .parse_context_url(pb::ParseContextUrlRequest {
            runner_id: "x".into(),
            context_url: url.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["runner_id"]);
    let err = api
        .parse_context_url(pb::ParseContextUrlRequest {
            runner_id: uuid::Uuid::now_v7().to_string(),
            context_url: url.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}

protocol_tests!(check_authentication_for_host_before_and_after_a_host_token);
async fn check_authentication_for_host_before_and_after_a_host_token(protocol: Protocol) {
    let server = TestServer::start().await;
    let alice = server.member("alice").await;
    let mut admin_api = server.runners(protocol, &server.admin.token).await;
    let runner_id = admin_api
        .create_runner(linux_runner("auth runner"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id;
    let mut api = server.runners(protocol, &alice.token).await;
    let check = |host: &str| pb::CheckAuthenticationForHostRequest {
        runner_id: runner_id.clone(),
        host: host.into(),
    };

    // github.com, no integration: PATs, no OAuth, not yet authenticated
    let before = api
        .check_authentication_for_host(check("github.com"))
        .await
        .unwrap()
        .into_inner();
    assert!(!before.authenticated);
    assert_eq!((before.scm_id.as_str(), before.scm_name.as_str()), ("github", "GitHub"));
    assert!(before.supports_oauth2.is_none());
    let pat = before.supports_pat.clone().unwrap();
    assert!(pat.create_url.starts_with("https://github.com/settings/tokens/new"));
    assert!(pat.required_scopes.contains(&"repo".to_owned()));
    assert!(!pat.docs_url.is_empty() && !pat.example.is_empty());
    #[allow(deprecated)]
    {
        assert!(before.pat_supported);
        assert_eq!(before.authentication_url, pat.create_url);
    }

    // with a host token of hers for github.com on that runner, she is authenticated
    let mut config = server.configuration(protocol, &alice.token).await;
    config
        .create_host_authentication_token(pb::CreateHostAuthenticationTokenRequest {
            runner_id: runner_id.clone(),
            host: "github.com".into(),
            token: "ghp_alice".into(),
            source: pb::HostAuthenticationTokenSource::Pat as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    let after = api
        .check_authentication_for_host(check("github.com"))
        .await
        .unwrap()
        .into_inner();
    assert!(after.authenticated);
    // the admin has no token of their own
    let admins = admin_api
        .check_authentication_for_host(check("github.com"))
        .await
        .unwrap()
        .into_inner();
    assert!(!admins.authenticated);

    // an OAuth integration for a self-hosted GitLab offers OAuth
    let mut admin_config = server.configuration(protocol, &server.admin.token).await;
    admin_config
        .create_scm_integration(pb::CreateScmIntegrationRequest {
            runner_id: runner_id.clone(),
            scm_id: "gitlab".into(),
            host: "gitlab.example.com".into(),
            oauth_client_id: Some("gl-client".into()),
            oauth_plaintext_client_secret: Some("gl-secret".into()),
            pat: false,
            ..Default::default()
        })
        .await
        .unwrap();
    let gitlab = api
        .check_authentication_for_host(check("gitlab.example.com"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((gitlab.scm_id.as_str(), gitlab.scm_name.as_str()), ("gitlab", "GitLab"));
    let oauth = gitlab.supports_oauth2.clone().unwrap();
    assert!(
        oauth.auth_url.starts_with("https://paddock.test/auth/oauth2/"),
        "{}",
        oauth.auth_url
    );
    assert!(gitlab.supports_pat.is_none(), "the integration turned PATs off");
    #[allow(deprecated)]
    {
        assert!(!gitlab.pat_supported);
        assert_eq!(gitlab.authentication_url, oauth.auth_url);
    }

    // an unknown host is no SCM at all
    let unknown = api
        .check_authentication_for_host(check("git.unknown.example"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unknown, pb::CheckAuthenticationForHostResponse::default());
    let err = api
        .check_authentication_for_host(pb::CheckAuthenticationForHostRequest {
            runner_id: "r".into(),
            host: "github.com".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["runner_id"]);
    server.stop().await;
}
