//! Offline parsing of context URLs: a repository, branch, tag, commit, file,
//! pull/merge request or issue URL of GitHub, GitLab, Bitbucket (Cloud and
//! Server/Data Center) or Azure DevOps (Services and Server) — from the URL
//! alone, with no network call.

use url::Url;

use super::{AZURE_DEVOPS, BITBUCKET, GITHUB, GITLAB, ScmHost};

/// What a context URL points at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub scm_id: String,
    pub host: String,
    /// GitHub user or organization, GitLab group path (`group/sub`), Bitbucket
    /// workspace or project key, Azure DevOps `organization/project`.
    pub owner: String,
    pub repo: String,
    pub clone_url: String,
    pub branch: String,
    pub commit: String,
    pub tag: String,
    /// A file or folder inside the repository, when the URL names one.
    pub path: String,
    pub pull_request: Option<ChangeRequest>,
    pub issue: Option<String>,
}

/// A pull request (GitHub, Bitbucket, Azure DevOps) or merge request (GitLab).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeRequest {
    pub id: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("{0:?} is not an http(s) URL")]
    NotAUrl(String),
    #[error("{host} is not a known SCM host: add an SCM integration for it to the runner")]
    UnknownHost { host: String },
    #[error("{0:?} does not point at a repository")]
    NotARepository(String),
}

/// GitHub paths that are not `owner/repo`.
const GITHUB_RESERVED: &[&str] = &[
    "about",
    "apps",
    "codespaces",
    "collections",
    "customer-stories",
    "enterprise",
    "events",
    "explore",
    "features",
    "issues",
    "login",
    "marketplace",
    "new",
    "notifications",
    "orgs",
    "organizations",
    "pricing",
    "pulls",
    "search",
    "settings",
    "sponsors",
    "topics",
    "trending",
    "users",
];

/// The host as written in URLs and integrations: lowercase, with a port
/// only when it is not the scheme's default.
fn host_of(url: &Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// Path segments, without empty ones (trailing or doubled slashes).
fn segments(url: &Url) -> Vec<String> {
    url.path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).map(percent_decode).collect())
        .unwrap_or_default()
}

fn percent_decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| segment.to_owned())
}

fn strip_git(name: &str) -> &str {
    name.strip_suffix(".git").unwrap_or(name)
}

fn query(url: &Url, key: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses `raw` against the SCM hosts paddock knows (the well-known ones and
/// those of the runner's SCM integrations).
pub fn parse(raw: &str, hosts: &[ScmHost]) -> Result<Context, ParseError> {
    let trimmed = raw.trim();
    let url = Url::parse(trimmed).map_err(|_| ParseError::NotAUrl(raw.to_owned()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ParseError::NotAUrl(raw.to_owned()));
    }
    let host = host_of(&url).ok_or_else(|| ParseError::NotAUrl(raw.to_owned()))?;
    // Azure DevOps' older domain: https://ORG.visualstudio.com/...
    let visualstudio = ScmHost::cloud(host.as_str(), AZURE_DEVOPS);
    let scm = hosts
        .iter()
        .find(|h| h.host == host)
        .or_else(|| host.ends_with(".visualstudio.com").then_some(&visualstudio));
    let Some(scm) = scm else {
        return plain_git(&url, host);
    };
    let segs = segments(&url);
    let not_a_repo = || ParseError::NotARepository(raw.to_owned());
    let mut context = match scm.scm_id {
        GITHUB => github(&segs, &host).ok_or_else(not_a_repo)?,
        GITLAB => gitlab(&segs, &host).ok_or_else(not_a_repo)?,
        BITBUCKET if scm.cloud => bitbucket_cloud(&segs, &host).ok_or_else(not_a_repo)?,
        BITBUCKET => bitbucket_server(&segs, &url, &host).ok_or_else(not_a_repo)?,
        AZURE_DEVOPS => azure_devops(&segs, &url, &host, scm).ok_or_else(not_a_repo)?,
        _ => return plain_git(&url, host),
    };
    context.scm_id = scm.scm_id.to_owned();
    context.host = host;
    Ok(context)
}

/// An unknown host: a `.git` URL is a plain git repository, anything else is
/// not understood.
fn plain_git(url: &Url, host: String) -> Result<Context, ParseError> {
    let segs = segments(url);
    let Some(last) = segs.last().filter(|s| s.ends_with(".git") && s.len() > 4) else {
        return Err(ParseError::UnknownHost { host });
    };
    let mut clone = url.clone();
    clone.set_query(None);
    clone.set_fragment(None);
    Ok(Context {
        host,
        owner: segs[..segs.len() - 1].join("/"),
        repo: strip_git(last).to_owned(),
        clone_url: clone.to_string().trim_end_matches('/').to_owned(),
        ..Default::default()
    })
}

fn github(segs: &[String], host: &str) -> Option<Context> {
    let [owner, repo, rest @ ..] = segs else { return None };
    if GITHUB_RESERVED.contains(&owner.as_str()) && host == "github.com" {
        return None;
    }
    let repo = strip_git(repo);
    if repo.is_empty() {
        return None;
    }
    let mut c = Context {
        owner: owner.clone(),
        repo: repo.to_owned(),
        clone_url: format!("https://{host}/{owner}/{repo}.git"),
        ..Default::default()
    };
    match rest {
        [kind, r @ ..] if kind == "tree" && !r.is_empty() => c.branch = r.join("/"),
        [kind, reference, path @ ..] if kind == "blob" => {
            c.branch = reference.clone();
            c.path = path.join("/");
        }
        [kind, sha, ..] if kind == "commit" => c.commit = sha.clone(),
        [kind, sha] if kind == "commits" && sha.len() >= 7 && sha.bytes().all(|b| b.is_ascii_hexdigit()) => {
            c.commit = sha.clone()
        }
        [releases, tag_kw, tag @ ..] if releases == "releases" && tag_kw == "tag" && !tag.is_empty() => {
            c.tag = tag.join("/")
        }
        [kind, n, ..] if kind == "pull" && is_number(n) => {
            c.pull_request = Some(ChangeRequest {
                id: n.clone(),
                url: format!("https://{host}/{owner}/{repo}/pull/{n}"),
            })
        }
        [kind, n, ..] if kind == "issues" && is_number(n) => c.issue = Some(n.clone()),
        _ => {}
    }
    Some(c)
}

/// GitLab: `group[/sub…]/repo[/-/…]`; also the older form without `/-/`.
fn gitlab(segs: &[String], host: &str) -> Option<Context> {
    const KINDS: &[&str] = &["tree", "blob", "commit", "commits", "merge_requests", "issues", "tags"];
    let split = segs.iter().position(|s| s == "-").or_else(|| {
        // the older form: group/repo/tree/main (a kind after at least two segments)
        segs.iter()
            .enumerate()
            .skip(2)
            .find(|(_, s)| KINDS.contains(&s.as_str()))
            .map(|(i, _)| i)
    });
    let (project, rest) = match split {
        Some(i) if segs.get(i).is_some_and(|s| s == "-") => (&segs[..i], &segs[i + 1..]),
        Some(i) => (&segs[..i], &segs[i..]),
        None => (segs, &segs[segs.len()..]),
    };
    let [groups @ .., repo] = project else { return None };
    if groups.is_empty() {
        return None;
    }
    let repo = strip_git(repo);
    let owner = groups.join("/");
    let mut c = Context {
        clone_url: format!("https://{host}/{owner}/{repo}.git"),
        owner: owner.clone(),
        repo: repo.to_owned(),
        ..Default::default()
    };
    match rest {
        [kind, r @ ..] if kind == "tree" && !r.is_empty() => c.branch = r.join("/"),
        [kind, reference, path @ ..] if kind == "blob" => {
            c.branch = reference.clone();
            c.path = path.join("/");
        }
        [kind, sha, ..] if kind == "commit" => c.commit = sha.clone(),
        [kind, r @ ..] if kind == "tags" && !r.is_empty() => c.tag = r.join("/"),
        [kind, n, ..] if kind == "merge_requests" && is_number(n) => {
            c.pull_request = Some(ChangeRequest {
                id: n.clone(),
                url: format!("https://{host}/{owner}/{repo}/-/merge_requests/{n}"),
            })
        }
        [kind, n, ..] if kind == "issues" && is_number(n) => c.issue = Some(n.clone()),
        _ => {}
    }
    Some(c)
}

/// Bitbucket Cloud: `workspace/repo[/src/<ref>/<path>|/branch/<b>|/commits/<sha>|/pull-requests/<n>|/issues/<n>]`.
fn bitbucket_cloud(segs: &[String], host: &str) -> Option<Context> {
    let [owner, repo, rest @ ..] = segs else { return None };
    let repo = strip_git(repo);
    let mut c = Context {
        owner: owner.clone(),
        repo: repo.to_owned(),
        clone_url: format!("https://{host}/{owner}/{repo}.git"),
        ..Default::default()
    };
    match rest {
        [kind, reference, path @ ..] if kind == "src" => {
            if reference.len() == 40 && reference.bytes().all(|b| b.is_ascii_hexdigit()) {
                c.commit = reference.clone();
            } else {
                c.branch = reference.clone();
            }
            c.path = path.join("/");
        }
        [kind, r @ ..] if kind == "branch" && !r.is_empty() => c.branch = r.join("/"),
        [kind, sha, ..] if kind == "commits" => c.commit = sha.clone(),
        [kind, n, ..] if kind == "pull-requests" && is_number(n) => {
            c.pull_request = Some(ChangeRequest {
                id: n.clone(),
                url: format!("https://{host}/{owner}/{repo}/pull-requests/{n}"),
            })
        }
        [kind, n, ..] if kind == "issues" && is_number(n) => c.issue = Some(n.clone()),
        _ => {}
    }
    Some(c)
}

/// Bitbucket Server / Data Center:
/// `projects/KEY/repos/REPO[/browse[/path]|/commits/<sha>|/pull-requests/<n>][?at=refs/heads/…]`,
/// `users/USER/repos/REPO…` and the clone form `scm/KEY/repo.git`.
fn bitbucket_server(segs: &[String], url: &Url, host: &str) -> Option<Context> {
    let (owner, repo, rest) = match segs {
        [kind, key, repos, repo, rest @ ..] if kind == "projects" && repos == "repos" => (key.clone(), repo, rest),
        [kind, user, repos, repo, rest @ ..] if kind == "users" && repos == "repos" => (format!("~{user}"), repo, rest),
        [scm, key, repo] if scm == "scm" => (key.clone(), repo, &segs[3..]),
        _ => return None,
    };
    let repo = strip_git(repo).to_owned();
    let mut c = Context {
        clone_url: format!("https://{host}/scm/{}/{repo}.git", owner.to_ascii_lowercase()),
        owner,
        repo,
        ..Default::default()
    };
    match rest {
        [kind, path @ ..] if kind == "browse" => c.path = path.join("/"),
        [kind, sha, ..] if kind == "commits" => c.commit = sha.clone(),
        [kind, n, ..] if kind == "pull-requests" && is_number(n) => {
            let base = segs[..4].join("/");
            c.pull_request = Some(ChangeRequest {
                id: n.clone(),
                url: format!("https://{host}/{base}/pull-requests/{n}"),
            })
        }
        _ => {}
    }
    if let Some(at) = query(url, "at") {
        if let Some(branch) = at.strip_prefix("refs/heads/") {
            c.branch = branch.to_owned();
        } else if let Some(tag) = at.strip_prefix("refs/tags/") {
            c.tag = tag.to_owned();
        } else if at.len() == 40 && at.bytes().all(|b| b.is_ascii_hexdigit()) {
            c.commit = at;
        } else {
            c.branch = at;
        }
    }
    Some(c)
}

/// Azure DevOps: `[virtual directory/]ORG-or-COLLECTION/PROJECT/_git/REPO[/pullrequest/<n>|/commit/<sha>][?version=GB…|GC…|GT…]`;
/// on `ORG.visualstudio.com` the organization is the subdomain.
fn azure_devops(segs: &[String], url: &Url, host: &str, scm: &ScmHost) -> Option<Context> {
    let mut segs = segs;
    let prefix: Vec<String> = scm
        .virtual_directory
        .as_deref()
        .map(|d| d.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    if !prefix.is_empty() {
        segs = segs.strip_prefix(prefix.as_slice())?;
    }
    let git = segs.iter().position(|s| s == "_git")?;
    let repo = strip_git(segs.get(git + 1)?).to_owned();
    let rest = &segs[git + 2..];
    let (organization, project) = match &segs[..git] {
        [project] if host.ends_with(".visualstudio.com") => (host.split('.').next()?.to_owned(), project.clone()),
        [] if host.ends_with(".visualstudio.com") => (host.split('.').next()?.to_owned(), repo.clone()),
        [org, project] => (org.clone(), project.clone()),
        // the project's default repository: ORG/_git/PROJECT
        [org] => (org.clone(), repo.clone()),
        _ => return None,
    };
    let root = if host.ends_with(".visualstudio.com") {
        format!("https://{host}")
    } else {
        let mut root = format!("https://{host}");
        for p in &prefix {
            root.push('/');
            root.push_str(p);
        }
        root.push('/');
        root.push_str(&organization);
        root
    };
    let repo_url = format!("{root}/{project}/_git/{repo}");
    let mut c = Context {
        owner: format!("{organization}/{project}"),
        clone_url: repo_url.clone(),
        repo,
        ..Default::default()
    };
    match rest {
        [kind, n, ..] if kind.eq_ignore_ascii_case("pullrequest") && is_number(n) => {
            c.pull_request = Some(ChangeRequest {
                id: n.clone(),
                url: format!("{repo_url}/pullrequest/{n}"),
            })
        }
        [kind, sha, ..] if kind == "commit" => c.commit = sha.clone(),
        _ => {}
    }
    if let Some(version) = query(url, "version") {
        match version.get(..2) {
            Some("GB") => c.branch = version[2..].to_owned(),
            Some("GC") => c.commit = version[2..].to_owned(),
            Some("GT") => c.tag = version[2..].to_owned(),
            _ => {}
        }
    }
    if let Some(path) = query(url, "path") {
        c.path = path.trim_start_matches('/').to_owned();
    }
    Some(c)
}
