//! GitLab (gitlab.com and self-managed) REST API v4.

use serde::Deserialize;

use super::{Http, Organization, Page, PullRequestInfo, Repository, ScmApi, ScmError, encode};

pub struct GitLab {
    http: Http,
    api: String,
}

impl GitLab {
    pub(super) fn new(http: Http, api: String) -> Self {
        GitLab { http, api }
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<(T, reqwest::header::HeaderMap), ScmError> {
        self.http.get(&format!("{}{path}", self.api)).await
    }

    /// `group/sub/project` as GitLab's URL-encoded project id.
    fn project(owner: &str, repo: &str) -> String {
        encode(&format!("{owner}/{repo}"))
    }
}

#[derive(Deserialize)]
struct Project {
    path_with_namespace: String,
    web_url: String,
    #[serde(default)]
    default_branch: Option<String>,
}

impl From<Project> for Repository {
    fn from(p: Project) -> Self {
        Repository {
            name: p.path_with_namespace,
            url: p.web_url,
            default_branch: p.default_branch.unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
struct Branch {
    commit: Commit,
}

#[derive(Deserialize)]
struct Commit {
    id: String,
}

#[derive(Deserialize)]
struct Author {
    username: String,
}

#[derive(Deserialize)]
struct MergeRequest {
    title: String,
    state: String,
    source_branch: String,
    target_branch: String,
    #[serde(default)]
    sha: String,
    #[serde(default)]
    draft: bool,
    author: Author,
}

#[derive(Deserialize)]
struct Issue {
    title: String,
}

#[derive(Deserialize)]
struct Group {
    full_path: String,
    web_url: String,
}

fn has_next(headers: &reqwest::header::HeaderMap) -> bool {
    headers
        .get("x-next-page")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.trim().is_empty())
}

#[tonic::async_trait]
impl ScmApi for GitLab {
    async fn repository(&self, owner: &str, repo: &str) -> Result<Repository, ScmError> {
        let (p, _) = self
            .get::<Project>(&format!("/projects/{}", Self::project(owner, repo)))
            .await?;
        Ok(p.into())
    }

    async fn branch_head(&self, owner: &str, repo: &str, branch: &str) -> Result<Option<String>, ScmError> {
        let path = format!(
            "/projects/{}/repository/branches/{}",
            Self::project(owner, repo),
            encode(branch)
        );
        match self.get::<Branch>(&path).await {
            Ok((b, _)) => Ok(Some(b.commit.id)),
            Err(ScmError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn pull_request(&self, owner: &str, repo: &str, id: &str) -> Result<PullRequestInfo, ScmError> {
        let path = format!("/projects/{}/merge_requests/{}", Self::project(owner, repo), encode(id));
        let (mr, _) = self.get::<MergeRequest>(&path).await?;
        Ok(PullRequestInfo {
            title: mr.title,
            from_branch: mr.source_branch,
            to_branch: mr.target_branch,
            author: mr.author.username,
            head_sha: mr.sha,
            draft: mr.draft,
            state: match mr.state.as_str() {
                "opened" => "open".into(),
                other => other.to_owned(),
            },
            from_clone_url: String::new(),
        })
    }

    async fn issue_title(&self, owner: &str, repo: &str, id: &str) -> Result<String, ScmError> {
        let path = format!("/projects/{}/issues/{}", Self::project(owner, repo), encode(id));
        Ok(self.get::<Issue>(&path).await?.0.title)
    }

    async fn search_repositories(&self, query: &str, page: u32, per_page: u32) -> Result<Page<Repository>, ScmError> {
        let path = format!(
            "/projects?membership=true&simple=true&order_by=last_activity_at&search={}&per_page={per_page}&page={page}",
            encode(query)
        );
        let (projects, headers) = self.get::<Vec<Project>>(&path).await?;
        Ok(Page {
            items: projects.into_iter().map(Into::into).collect(),
            more: has_next(&headers),
        })
    }

    async fn organizations(&self, page: u32, per_page: u32) -> Result<Page<Organization>, ScmError> {
        let path = format!("/groups?min_access_level=10&per_page={per_page}&page={page}");
        let (groups, headers) = self.get::<Vec<Group>>(&path).await?;
        let items = groups
            .into_iter()
            .map(|g| Organization {
                name: g.full_path,
                url: g.web_url,
            })
            .collect();
        Ok(Page {
            items,
            more: has_next(&headers),
        })
    }
}
