//! Bitbucket Cloud REST API 2.0 (bitbucket.org).

use serde::Deserialize;

use super::{Http, Organization, Page, PullRequestInfo, Repository, ScmApi, ScmError, encode};

pub struct Bitbucket {
    http: Http,
    api: String,
}

impl Bitbucket {
    pub(super) fn new(http: Http, api: String) -> Self {
        Bitbucket { http, api }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ScmError> {
        Ok(self.http.get(&format!("{}{path}", self.api)).await?.0)
    }

    fn repo(owner: &str, repo: &str) -> String {
        format!("/repositories/{}/{}", encode(owner), encode(repo))
    }
}

#[derive(Deserialize, Default)]
struct Link {
    #[serde(default)]
    href: String,
}

#[derive(Deserialize, Default)]
struct Links {
    #[serde(default)]
    html: Link,
}

#[derive(Deserialize)]
struct BranchName {
    name: String,
}

#[derive(Deserialize)]
struct Repo {
    full_name: String,
    #[serde(default)]
    links: Links,
    #[serde(default)]
    mainbranch: Option<BranchName>,
}

impl From<Repo> for Repository {
    fn from(r: Repo) -> Self {
        Repository {
            name: r.full_name,
            url: r.links.html.href,
            default_branch: r.mainbranch.map(|b| b.name).unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
struct Target {
    hash: String,
}

#[derive(Deserialize)]
struct BranchRef {
    target: Target,
}

#[derive(Deserialize)]
struct Endpoint {
    branch: BranchName,
    #[serde(default)]
    commit: Option<Target>,
}

#[derive(Deserialize)]
struct Author {
    #[serde(default)]
    display_name: String,
}

#[derive(Deserialize)]
struct PullRequest {
    title: String,
    state: String,
    source: Endpoint,
    destination: Endpoint,
    #[serde(default)]
    draft: bool,
    author: Author,
}

#[derive(Deserialize)]
struct Issue {
    title: String,
}

#[derive(Deserialize)]
struct Workspace {
    slug: String,
    #[serde(default)]
    links: Links,
}

/// Bitbucket's pages: the values, and the URL of the next page if any.
#[derive(Deserialize)]
struct Paged<T> {
    values: Vec<T>,
    #[serde(default)]
    next: Option<String>,
}

#[tonic::async_trait]
impl ScmApi for Bitbucket {
    async fn repository(&self, owner: &str, repo: &str) -> Result<Repository, ScmError> {
        Ok(self.get::<Repo>(&Self::repo(owner, repo)).await?.into())
    }

    async fn branch_head(&self, owner: &str, repo: &str, branch: &str) -> Result<Option<String>, ScmError> {
        let path = format!("{}/refs/branches/{}", Self::repo(owner, repo), encode(branch));
        match self.get::<BranchRef>(&path).await {
            Ok(b) => Ok(Some(b.target.hash)),
            Err(ScmError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn pull_request(&self, owner: &str, repo: &str, id: &str) -> Result<PullRequestInfo, ScmError> {
        let pr = self
            .get::<PullRequest>(&format!("{}/pullrequests/{}", Self::repo(owner, repo), encode(id)))
            .await?;
        Ok(PullRequestInfo {
            title: pr.title,
            from_branch: pr.source.branch.name,
            to_branch: pr.destination.branch.name,
            author: pr.author.display_name,
            head_sha: pr.source.commit.map(|c| c.hash).unwrap_or_default(),
            draft: pr.draft,
            state: match pr.state.as_str() {
                "OPEN" => "open".into(),
                "MERGED" => "merged".into(),
                _ => "closed".into(),
            },
            from_clone_url: String::new(),
        })
    }

    async fn issue_title(&self, owner: &str, repo: &str, id: &str) -> Result<String, ScmError> {
        Ok(self
            .get::<Issue>(&format!("{}/issues/{}", Self::repo(owner, repo), encode(id)))
            .await?
            .title)
    }

    async fn search_repositories(&self, query: &str, page: u32, per_page: u32) -> Result<Page<Repository>, ScmError> {
        let filter = if query.is_empty() {
            String::new()
        } else {
            format!("&q={}", encode(&format!("name ~ \"{query}\"")))
        };
        let path = format!("/repositories?role=member&sort=-updated_on&pagelen={per_page}&page={page}{filter}");
        let result = self.get::<Paged<Repo>>(&path).await?;
        Ok(Page {
            items: result.values.into_iter().map(Into::into).collect(),
            more: result.next.is_some(),
        })
    }

    async fn organizations(&self, page: u32, per_page: u32) -> Result<Page<Organization>, ScmError> {
        let path = format!("/workspaces?role=member&pagelen={per_page}&page={page}");
        let result = self.get::<Paged<Workspace>>(&path).await?;
        let items = result
            .values
            .into_iter()
            .map(|w| Organization {
                name: w.slug,
                url: w.links.html.href,
            })
            .collect();
        Ok(Page {
            items,
            more: result.next.is_some(),
        })
    }
}
