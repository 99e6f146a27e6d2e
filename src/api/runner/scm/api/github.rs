//! GitHub (github.com and Enterprise Server) REST API v3.

use serde::Deserialize;

use super::{Http, Organization, Page, PullRequestInfo, Repository, ScmApi, ScmError, encode, origin};

pub struct GitHub {
    http: Http,
    api: String,
    /// Where people (not programs) see the SCM, for organization links.
    web: String,
}

impl GitHub {
    pub(super) fn new(http: Http, api: String, host: &str) -> Self {
        GitHub {
            http,
            api,
            web: origin(host),
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<(T, reqwest::header::HeaderMap), ScmError> {
        self.http.get(&format!("{}{path}", self.api)).await
    }
}

#[derive(Deserialize)]
struct Repo {
    full_name: String,
    html_url: String,
    #[serde(default)]
    default_branch: String,
}

impl From<Repo> for Repository {
    fn from(r: Repo) -> Self {
        Repository {
            name: r.full_name,
            url: r.html_url,
            default_branch: r.default_branch,
        }
    }
}

#[derive(Deserialize)]
struct Ref {
    #[serde(rename = "ref")]
    name: String,
    sha: String,
    #[serde(default)]
    repo: Option<RefRepo>,
}

#[derive(Deserialize)]
struct RefRepo {
    clone_url: String,
}

#[derive(Deserialize)]
struct User {
    login: String,
}

#[derive(Deserialize)]
struct Pull {
    title: String,
    state: String,
    #[serde(default)]
    merged: bool,
    #[serde(default)]
    draft: bool,
    head: Ref,
    base: Ref,
    user: User,
}

#[derive(Deserialize)]
struct Issue {
    title: String,
}

#[derive(Deserialize)]
struct Branch {
    commit: Commit,
}

#[derive(Deserialize)]
struct Commit {
    sha: String,
}

#[derive(Deserialize)]
struct SearchResult {
    total_count: u64,
    items: Vec<Repo>,
}

#[derive(Deserialize)]
struct Org {
    login: String,
}

/// Whether a `Link` header names a next page.
fn has_next(headers: &reqwest::header::HeaderMap) -> bool {
    headers
        .get(reqwest::header::LINK)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|link| link.contains("rel=\"next\""))
}

#[tonic::async_trait]
impl ScmApi for GitHub {
    async fn repository(&self, owner: &str, repo: &str) -> Result<Repository, ScmError> {
        let (r, _) = self
            .get::<Repo>(&format!("/repos/{}/{}", encode(owner), encode(repo)))
            .await?;
        Ok(r.into())
    }

    async fn branch_head(&self, owner: &str, repo: &str, branch: &str) -> Result<Option<String>, ScmError> {
        let path = format!("/repos/{}/{}/branches/{}", encode(owner), encode(repo), encode(branch));
        match self.get::<Branch>(&path).await {
            Ok((b, _)) => Ok(Some(b.commit.sha)),
            Err(ScmError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn pull_request(&self, owner: &str, repo: &str, id: &str) -> Result<PullRequestInfo, ScmError> {
        let (p, _) = self
            .get::<Pull>(&format!(
                "/repos/{}/{}/pulls/{}",
                encode(owner),
                encode(repo),
                encode(id)
            ))
            .await?;
        Ok(PullRequestInfo {
            title: p.title,
            from_branch: p.head.name,
            to_branch: p.base.name,
            author: p.user.login,
            head_sha: p.head.sha,
            draft: p.draft,
            state: if p.merged { "merged".into() } else { p.state },
            from_clone_url: p.head.repo.map(|r| r.clone_url).unwrap_or_default(),
        })
    }

    async fn issue_title(&self, owner: &str, repo: &str, id: &str) -> Result<String, ScmError> {
        let (i, _) = self
            .get::<Issue>(&format!(
                "/repos/{}/{}/issues/{}",
                encode(owner),
                encode(repo),
                encode(id)
            ))
            .await?;
        Ok(i.title)
    }

    async fn search_repositories(&self, query: &str, page: u32, per_page: u32) -> Result<Page<Repository>, ScmError> {
        if query.is_empty() {
            // no query: the repositories the user can reach
            let path = format!("/user/repos?sort=updated&per_page={per_page}&page={page}");
            let (repos, headers) = self.get::<Vec<Repo>>(&path).await?;
            return Ok(Page {
                items: repos.into_iter().map(Into::into).collect(),
                more: has_next(&headers),
            });
        }
        let path = format!(
            "/search/repositories?q={}&per_page={per_page}&page={page}",
            encode(query)
        );
        let (result, _) = self.get::<SearchResult>(&path).await?;
        let more = u64::from(page) * u64::from(per_page) < result.total_count;
        Ok(Page {
            items: result.items.into_iter().map(Into::into).collect(),
            more,
        })
    }

    async fn organizations(&self, page: u32, per_page: u32) -> Result<Page<Organization>, ScmError> {
        let (orgs, headers) = self
            .get::<Vec<Org>>(&format!("/user/orgs?per_page={per_page}&page={page}"))
            .await?;
        let web = &self.web;
        let items = orgs
            .into_iter()
            .map(|o| Organization {
                url: format!("{web}/{}", o.login),
                name: o.login,
            })
            .collect();
        Ok(Page {
            items,
            more: has_next(&headers),
        })
    }
}
