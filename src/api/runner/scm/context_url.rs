//! Offline parsing of context URLs: a repository, branch, tag, commit, file,
//! pull/merge request or issue URL of GitHub, GitLab, Bitbucket (Cloud and
//! Server/Data Center) or Azure DevOps (Services and Server) — from the URL
//! alone, with no network call.
//!
//! Refused (INVALID_ARGUMENT on `context_url`), rather than guessed at:
//! - `.` and `..` path segments, also percent-encoded (`%2e%2e`, `%2E.`,
//!   `.%2e`) or separated by `\`: `Url::parse` resolves them (so
//!   `https://github.com/../../etc/passwd` would name `etc/passwd`), so the
//!   path is read as written, before that; a percent-encoded `/` or `\` (or a
//!   control character) inside a segment is refused too, as no name, ref or
//!   path of a context URL needs one. Names with a dot that are not exactly
//!   `.` or `..` (`.github`, `foo.bar`, `release/1.0`) are fine.
//! - pull request, merge request and issue URLs whose number is not a
//!   positive decimal number (`pull/abc`, `pull/12abc`, `pull/-1`, `pull/`).
//!   A segment is judged after percent-decoding, as everything else here:
//!   `%34%32` is `42` (RFC 3986 §2.3: a percent-encoded unreserved character
//!   is that character), and the number is given back canonical (`42`).
//!
//! `www.` in front of a known host is that host (`www.github.com` is
//! `github.com`).

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
    #[error("{0:?} has a `.` or `..` path segment (also percent-encoded); paddock does not resolve them")]
    DotSegment(String),
    #[error("{0:?} has a percent-encoded `/` or `\\` (or a control character) inside a path segment")]
    EncodedSeparator(String),
    #[error("{value:?} is not a {what} number (a positive decimal number)")]
    NotANumber { what: &'static str, value: String },
}

/// Why the path of a known SCM host was refused; `parse` makes it a
/// [`ParseError`] with the URL.
#[derive(Debug)]
enum Refusal {
    NotARepository,
    NotANumber { what: &'static str, value: String },
}

type Parsed = Result<Context, Refusal>;

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

/// A decoded name as a path segment of a URL paddock writes (a clone or pull
/// request URL): what is not an RFC 3986 `pchar` is percent-encoded, so a
/// name with `?`, `#` or `%` (from `%3F`, `%23`, `%25`) stays one segment.
fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// [`encode`] for each part of a name with slashes (a GitLab group path).
fn encode_path(path: &str) -> String {
    path.split('/').map(encode).collect::<Vec<_>>().join("/")
}

/// The path of an http(s) URL as written, before `Url::parse` resolves its
/// dot segments: as the WHATWG URL parser reads it, tabs and newlines are
/// dropped anywhere, C0 controls and spaces trimmed at the ends, any run of
/// `/` and `\` after the scheme comes before the host, and the host ends at
/// `/`, `\`, `?` or `#`.
fn raw_path(trimmed: &str) -> String {
    let s: String = trimmed.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
    let s = s.trim_matches(|c: char| c <= ' ');
    let after_scheme = s.split_once(':').map_or(s, |(_, rest)| rest);
    let authority_and_path = after_scheme.trim_start_matches(['/', '\\']);
    let path = authority_and_path
        .find(['/', '\\', '?', '#'])
        .map_or("", |i| &authority_and_path[i..]);
    let end = path.find(['?', '#']).unwrap_or(path.len());
    path[..end].to_owned()
}

fn is_dot_segment(s: &str) -> bool {
    s == "." || s == ".."
}

/// Refuses `.` and `..` segments of the path as written (`\` separates
/// segments too; judged after percent-decoding) and segments that decode to
/// a `/`, a `\` or a control character.
fn check_raw_path(raw: &str, trimmed: &str) -> Result<(), ParseError> {
    for segment in raw_path(trimmed).split(['/', '\\']).filter(|s| !s.is_empty()) {
        let decoded = percent_decode(segment);
        if is_dot_segment(&decoded) {
            return Err(ParseError::DotSegment(raw.to_owned()));
        }
        if decoded.contains(['/', '\\']) || decoded.chars().any(char::is_control) {
            return Err(ParseError::EncodedSeparator(raw.to_owned()));
        }
    }
    Ok(())
}

/// Refuses a parse that names no repository (`github.com/org/.git`) or has
/// a `.` or `..` part in a name, ref or path — from the path (`..git` is a
/// repository `.`) or from a query parameter (`?version=GB../x`,
/// `?path=/../..`, `?at=refs/heads/..`), which the path check never sees.
fn check_context(c: &Context, raw: &str) -> Result<(), ParseError> {
    if c.repo.is_empty() {
        return Err(ParseError::NotARepository(raw.to_owned()));
    }
    let dot = [&c.owner, &c.repo, &c.branch, &c.tag, &c.commit, &c.path]
        .iter()
        .any(|v| v.split(['/', '\\']).any(is_dot_segment));
    if dot {
        return Err(ParseError::DotSegment(raw.to_owned()));
    }
    Ok(())
}

fn strip_git(name: &str) -> &str {
    name.strip_suffix(".git").unwrap_or(name)
}

fn query(url: &Url, key: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

/// A pull request, merge request or issue number: ASCII digits of a positive
/// number (a decoded segment, so `%34%32` is `42`), given back canonical.
fn number(what: &'static str, s: &str) -> Result<String, Refusal> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse::<u64>().ok())
        .flatten()
        .filter(|n| *n > 0)
        .map(|n| n.to_string())
        .ok_or_else(|| Refusal::NotANumber {
            what,
            value: s.to_owned(),
        })
}

/// What follows a pull request, merge request or issue keyword: nothing is
/// the SCM's list page when it has one (`list`), else refused; one of
/// `pages` is a page of the SCM's own (`issues/new`); anything else must be
/// the number.
fn numbered(what: &'static str, rest: &[String], list: bool, pages: &[&str]) -> Result<Option<String>, Refusal> {
    match rest.first() {
        None if list => Ok(None),
        None => Err(Refusal::NotANumber {
            what,
            value: String::new(),
        }),
        Some(page) if pages.contains(&page.as_str()) => Ok(None),
        Some(n) => number(what, n).map(Some),
    }
}

/// The known host `host` names: itself, or the known host it is `www.` of.
fn known_host<'a>(hosts: &'a [ScmHost], host: &str) -> Option<&'a ScmHost> {
    let find = |name: &str| hosts.iter().find(|h| h.host == name);
    find(host).or_else(|| host.strip_prefix("www.").and_then(find))
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
    check_raw_path(raw, trimmed)?;
    // Azure DevOps' older domain: https://ORG.visualstudio.com/...
    let visualstudio = ScmHost::cloud(host.as_str(), AZURE_DEVOPS);
    let scm = known_host(hosts, &host).or_else(|| host.ends_with(".visualstudio.com").then_some(&visualstudio));
    let Some(scm) = scm else {
        let context = plain_git(&url, host)?;
        check_context(&context, raw)?;
        return Ok(context);
    };
    let host = scm.host.clone();
    let segs = segments(&url);
    let parsed = match scm.scm_id {
        GITHUB => github(&segs, &host),
        GITLAB => gitlab(&segs, &host),
        BITBUCKET if scm.cloud => bitbucket_cloud(&segs, &host),
        BITBUCKET => bitbucket_server(&segs, &url, &host),
        AZURE_DEVOPS => azure_devops(&segs, &url, &host, scm),
        _ => {
            let context = plain_git(&url, host)?;
            check_context(&context, raw)?;
            return Ok(context);
        }
    };
    let mut context = parsed.map_err(|r| match r {
        Refusal::NotARepository => ParseError::NotARepository(raw.to_owned()),
        Refusal::NotANumber { what, value } => ParseError::NotANumber { what, value },
    })?;
    check_context(&context, raw)?;
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

fn github(segs: &[String], host: &str) -> Parsed {
    let [owner, repo, rest @ ..] = segs else {
        return Err(Refusal::NotARepository);
    };
    if GITHUB_RESERVED.contains(&owner.as_str()) && host == "github.com" {
        return Err(Refusal::NotARepository);
    }
    let repo = strip_git(repo);
    if repo.is_empty() {
        return Err(Refusal::NotARepository);
    }
    let base = format!("https://{host}/{}/{}", encode(owner), encode(repo));
    let mut c = Context {
        owner: owner.clone(),
        repo: repo.to_owned(),
        clone_url: format!("{base}.git"),
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
        // the page `git push` links to for opening a pull request from a branch
        [kind, new, branch @ ..] if kind == "pull" && new == "new" => c.branch = branch.join("/"),
        [kind, r @ ..] if kind == "pull" => {
            if let Some(n) = numbered("pull request", r, false, &[])? {
                c.pull_request = Some(ChangeRequest {
                    url: format!("{base}/pull/{n}"),
                    id: n,
                })
            }
        }
        [kind, r @ ..] if kind == "issues" => c.issue = numbered("issue", r, true, &["new"])?,
        _ => {}
    }
    Ok(c)
}

/// GitLab: `group[/sub…]/repo[/-/…]`; also the older form without `/-/`.
fn gitlab(segs: &[String], host: &str) -> Parsed {
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
    let [groups @ .., repo] = project else {
        return Err(Refusal::NotARepository);
    };
    if groups.is_empty() {
        return Err(Refusal::NotARepository);
    }
    let repo = strip_git(repo);
    let owner = groups.join("/");
    let base = format!("https://{host}/{}/{}", encode_path(&owner), encode(repo));
    let mut c = Context {
        clone_url: format!("{base}.git"),
        owner,
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
        [kind, r @ ..] if kind == "merge_requests" => {
            if let Some(n) = numbered("merge request", r, true, &["new"])? {
                c.pull_request = Some(ChangeRequest {
                    url: format!("{base}/-/merge_requests/{n}"),
                    id: n,
                })
            }
        }
        // an incident is an issue: group/project/-/issues/incident/<n>
        [kind, incident, r @ ..] if kind == "issues" && incident == "incident" => {
            c.issue = numbered("incident", r, false, &[])?
        }
        [kind, r @ ..] if kind == "issues" => c.issue = numbered("issue", r, true, &["new", "service_desk"])?,
        _ => {}
    }
    Ok(c)
}

/// Bitbucket Cloud: `workspace/repo[/src/<ref>/<path>|/branch/<b>|/commits/<sha>|/pull-requests/<n>|/issues/<n>]`.
fn bitbucket_cloud(segs: &[String], host: &str) -> Parsed {
    let [owner, repo, rest @ ..] = segs else {
        return Err(Refusal::NotARepository);
    };
    let repo = strip_git(repo);
    let base = format!("https://{host}/{}/{}", encode(owner), encode(repo));
    let mut c = Context {
        owner: owner.clone(),
        repo: repo.to_owned(),
        clone_url: format!("{base}.git"),
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
        [kind, r @ ..] if kind == "pull-requests" => {
            if let Some(n) = numbered("pull request", r, true, &["new"])? {
                c.pull_request = Some(ChangeRequest {
                    url: format!("{base}/pull-requests/{n}"),
                    id: n,
                })
            }
        }
        [kind, r @ ..] if kind == "issues" => c.issue = numbered("issue", r, true, &["new"])?,
        _ => {}
    }
    Ok(c)
}

/// Bitbucket Server / Data Center:
/// `projects/KEY/repos/REPO[/browse[/path]|/commits/<sha>|/pull-requests/<n>][?at=refs/heads/…]`,
/// `users/USER/repos/REPO…` and the clone form `scm/KEY/repo.git`.
fn bitbucket_server(segs: &[String], url: &Url, host: &str) -> Parsed {
    let (owner, repo, rest) = match segs {
        [kind, key, repos, repo, rest @ ..] if kind == "projects" && repos == "repos" => (key.clone(), repo, rest),
        [kind, user, repos, repo, rest @ ..] if kind == "users" && repos == "repos" => (format!("~{user}"), repo, rest),
        [scm, key, repo] if scm == "scm" => (key.clone(), repo, &segs[3..]),
        _ => return Err(Refusal::NotARepository),
    };
    let repo = strip_git(repo).to_owned();
    let mut c = Context {
        clone_url: format!(
            "https://{host}/scm/{}/{}.git",
            encode(&owner.to_ascii_lowercase()),
            encode(&repo)
        ),
        owner,
        repo,
        ..Default::default()
    };
    match rest {
        [kind, path @ ..] if kind == "browse" => c.path = path.join("/"),
        [kind, sha, ..] if kind == "commits" => c.commit = sha.clone(),
        [kind, r @ ..] if kind == "pull-requests" => {
            if let Some(n) = numbered("pull request", r, true, &[])? {
                let base = segs[..4].iter().map(|s| encode(s)).collect::<Vec<_>>().join("/");
                c.pull_request = Some(ChangeRequest {
                    url: format!("https://{host}/{base}/pull-requests/{n}"),
                    id: n,
                })
            }
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
    Ok(c)
}

/// Azure DevOps: `[virtual directory/]ORG-or-COLLECTION/PROJECT/_git/REPO[/pullrequest/<n>|/commit/<sha>][?version=GB…|GC…|GT…]`;
/// on `ORG.visualstudio.com` the organization is the subdomain.
fn azure_devops(segs: &[String], url: &Url, host: &str, scm: &ScmHost) -> Parsed {
    let mut segs = segs;
    let prefix: Vec<String> = scm
        .virtual_directory
        .as_deref()
        .map(|d| d.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    if !prefix.is_empty() {
        segs = segs.strip_prefix(prefix.as_slice()).ok_or(Refusal::NotARepository)?;
    }
    let git = segs.iter().position(|s| s == "_git").ok_or(Refusal::NotARepository)?;
    let repo = strip_git(segs.get(git + 1).ok_or(Refusal::NotARepository)?).to_owned();
    let rest = &segs[git + 2..];
    let subdomain = || host.split('.').next().map(str::to_owned).ok_or(Refusal::NotARepository);
    let (organization, project) = match &segs[..git] {
        [project] if host.ends_with(".visualstudio.com") => (subdomain()?, project.clone()),
        [] if host.ends_with(".visualstudio.com") => (subdomain()?, repo.clone()),
        [org, project] => (org.clone(), project.clone()),
        // the project's default repository: ORG/_git/PROJECT
        [org] => (org.clone(), repo.clone()),
        _ => return Err(Refusal::NotARepository),
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
        root.push_str(&encode(&organization));
        root
    };
    let repo_url = format!("{root}/{}/_git/{}", encode(&project), encode(&repo));
    let mut c = Context {
        owner: format!("{organization}/{project}"),
        clone_url: repo_url.clone(),
        repo,
        ..Default::default()
    };
    match rest {
        [kind, r @ ..] if kind.eq_ignore_ascii_case("pullrequest") => {
            if let Some(n) = numbered("pull request", r, false, &[])? {
                c.pull_request = Some(ChangeRequest {
                    url: format!("{repo_url}/pullrequest/{n}"),
                    id: n,
                })
            }
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
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::runner::scm::well_known_hosts;

    /// The vendors' clouds and one self-hosted server of each SCM.
    fn hosts() -> Vec<ScmHost> {
        let mut hosts = well_known_hosts();
        for (scm_id, host, virtual_directory) in [
            (GITHUB, "ghe.example.com", None),
            (GITLAB, "gitlab.example.com", None),
            (BITBUCKET, "bitbucket.example.com", None),
            (AZURE_DEVOPS, "ado.example.com", Some("tfs".to_owned())),
        ] {
            hosts.extend(ScmHost::self_hosted(host, scm_id, virtual_directory));
        }
        hosts
    }

    fn ok(url: &str) -> Context {
        parse(url, &hosts()).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    /// Every URL must be refused with an error `want` accepts.
    fn refused(urls: &[&str], want: fn(&ParseError) -> bool) {
        let hosts = hosts();
        let wrong: Vec<String> = urls
            .iter()
            .filter_map(|url| match parse(url, &hosts) {
                Err(e) if want(&e) => None,
                Err(e) => Some(format!("{url}: refused with another error: {e}")),
                Ok(c) => Some(format!("{url}: accepted as {c:?}")),
            })
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn dot_segments_are_refused_on_every_scm_also_encoded() {
        refused(
            &[
                // the one that became https://github.com/etc/passwd.git
                "https://github.com/../../etc/passwd",
                "https://github.com/org/../repo/other",
                "https://github.com/org/repo/..",
                "https://github.com/org/./repo",
                "https://github.com/org/repo/tree/../../x/y",
                "https://github.com/org/repo/tree/main/..",
                "https://github.com/org/repo/blob/main/src/../../../etc/passwd",
                "https://github.com/org/repo/pull/42/..",
                "https://github.com/%2e%2e/%2e%2e/etc/passwd",
                "https://github.com/%2E%2E/x/y",
                "https://github.com/%2E./x/y",
                "https://github.com/.%2e/x/y",
                "https://github.com/org/%2e/repo",
                "https://github.com/org/repo/tree/%2e%2e/x",
                // `\` separates segments in http(s) URLs
                "https://github.com/org\\..\\..\\etc/passwd",
                "https://github.com/org/repo\\..",
                // what the URL parser drops or trims around a segment
                "https://github.com/org/.\t./etc/passwd",
                "https://github.com/org/.\n./etc/passwd",
                "https://github.com/org/repo/..\u{1}",
                "https:github.com/org/../etc/passwd",
                "https:\\\\github.com\\org\\..\\etc/passwd",
                "https://user:secret@github.com/org/../etc/passwd",
                "https://www.github.com/../etc/passwd",
                "https://ghe.example.com/platform/../api/x",
                // GitLab, nested groups and /-/
                "https://gitlab.com/group/../project",
                "https://gitlab.com/group/sub/../../x/project",
                "https://gitlab.com/group/project/-/../../x",
                "https://gitlab.com/group/project/-/tree/main/../..",
                "https://gitlab.com/group/project/-/blob/main/%2e%2e/secret",
                "https://gitlab.com/group/%2e/project",
                "https://gitlab.example.com/infra/tools/../deploy",
                // Bitbucket Cloud
                "https://bitbucket.org/workspace/../repo/x",
                "https://bitbucket.org/workspace/repo/src/main/../../x",
                "https://bitbucket.org/workspace/repo/branch/%2E%2E",
                // Bitbucket Server
                "https://bitbucket.example.com/projects/PLAT/repos/../repos/service",
                "https://bitbucket.example.com/projects/PLAT/repos/service/browse/../../../x",
                "https://bitbucket.example.com/scm/plat/../service.git",
                "https://bitbucket.example.com/scm/%2e%2e/plat/service.git",
                "https://bitbucket.example.com/projects/PLAT/repos/service/browse?at=refs%2Fheads%2F..%2F..%2Fx",
                "https://bitbucket.example.com/projects/PLAT/repos/service/browse?at=..",
                // Azure DevOps: Services, visualstudio.com, Server with a virtual directory
                "https://dev.azure.com/contoso/web/_git/../_git/frontend",
                "https://dev.azure.com/contoso/../web/_git/frontend",
                "https://dev.azure.com/contoso/web/_git/frontend?path=/src/../../..",
                "https://dev.azure.com/contoso/web/_git/frontend?version=GB..",
                "https://dev.azure.com/contoso/web/_git/frontend?version=GBfeature/../../x",
                "https://dev.azure.com/contoso/web/_git/frontend?version=GT.",
                "https://contoso.visualstudio.com/web/../_git/frontend",
                "https://ado.example.com/tfs/../tfs/DefaultCollection/Ops/_git/infra",
                "https://ado.example.com/tfs/DefaultCollection/%2e%2e/Ops/_git/infra",
                // plain git
                "https://git.unknown.example/team/../../tool.git",
                "https://git.unknown.example/team/%2e%2e/tool.git",
                // a repository named `.` or `..` once `.git` is gone
                "https://github.com/org/..git",
                "https://gitlab.com/group/...git",
                "https://git.unknown.example/team/..git",
            ],
            |e| matches!(e, ParseError::DotSegment(_)),
        );
    }

    #[test]
    fn an_encoded_slash_or_backslash_inside_a_segment_is_refused() {
        refused(
            &[
                "https://github.com/org%2Frepo/x",
                "https://github.com/org/repo/tree/..%2f..%2fetc",
                "https://github.com/org/repo/tree/feature%2Fx",
                "https://github.com/org/repo%5C..",
                "https://github.com/org/repo%00",
                "https://gitlab.com/group%2Fsub/project",
                "https://gitlab.com/group/project/-/blob/main/a%2F..%2F..%2Fb",
                "https://bitbucket.org/workspace/repo%2F..",
                "https://bitbucket.example.com/projects/PLAT/repos/a%2Fb/browse",
                "https://dev.azure.com/contoso/web%2F..%2Fx/_git/frontend",
                "https://git.unknown.example/team%2F..%2Fother/tool.git",
            ],
            |e| matches!(e, ParseError::EncodedSeparator(_)),
        );
    }

    #[test]
    fn names_with_dots_are_not_dot_segments() {
        let c = ok("https://github.com/org/.github");
        assert_eq!(
            (c.repo.as_str(), c.clone_url.as_str()),
            (".github", "https://github.com/org/.github.git")
        );
        let c = ok("https://github.com/foo.bar/baz.qux.git");
        assert_eq!((c.owner.as_str(), c.repo.as_str()), ("foo.bar", "baz.qux"));
        assert_eq!(ok("https://github.com/org/repo/tree/release/1.0").branch, "release/1.0");
        assert_eq!(ok("https://github.com/org/...").repo, "...");
        assert_eq!(ok("https://github.com/org/repo/tree/v1..v2").branch, "v1..v2");
        let c = ok("https://github.com/org/repo/blob/main/.config/..rc");
        assert_eq!(c.path, ".config/..rc");
        assert_eq!(ok("https://gitlab.com/my.group/.sub/project.js").owner, "my.group/.sub");
        assert_eq!(
            ok("https://bitbucket.org/workspace/repo/branch/fix/.x").branch,
            "fix/.x"
        );
        // a `..` outside the path is no path segment
        assert_eq!(ok("https://github.com/org/repo?from=../..#../..").repo, "repo");
        assert_eq!(
            ok("https://dev.azure.com/contoso/web/_git/frontend?path=/a..b/.c&version=GBrelease/1.0").path,
            "a..b/.c"
        );
    }

    #[test]
    fn pull_request_merge_request_and_issue_numbers_must_be_numbers() {
        refused(
            &[
                "https://github.com/tokio-rs/tokio/pull/abc",
                "https://github.com/tokio-rs/tokio/issues/abc",
                "https://github.com/tokio-rs/tokio/pull/12abc",
                "https://github.com/tokio-rs/tokio/pull/-1",
                "https://github.com/tokio-rs/tokio/pull/+1",
                "https://github.com/tokio-rs/tokio/pull/0",
                "https://github.com/tokio-rs/tokio/pull/1.5",
                "https://github.com/tokio-rs/tokio/pull/",
                "https://github.com/tokio-rs/tokio/pull",
                "https://github.com/tokio-rs/tokio/pull/%20",
                "https://github.com/tokio-rs/tokio/pull/%31a",
                "https://github.com/tokio-rs/tokio/pull/99999999999999999999999",
                "https://github.com/tokio-rs/tokio/pull/\u{0663}",
                "https://github.com/tokio-rs/tokio/issues/7x/comments",
                "https://ghe.example.com/platform/api/pull/abc",
                "https://gitlab.com/group/project/-/merge_requests/abc",
                "https://gitlab.com/group/sub/project/-/merge_requests/-3/diffs",
                "https://gitlab.com/group/project/-/issues/abc",
                "https://gitlab.com/group/project/-/issues/incident/abc",
                "https://gitlab.com/group/project/merge_requests/abc",
                "https://gitlab.example.com/infra/tools/deploy/-/merge_requests/1e3",
                "https://bitbucket.org/workspace/repo/pull-requests/abc",
                "https://bitbucket.org/workspace/repo/pull-requests/12abc/diff",
                "https://bitbucket.org/workspace/repo/issues/abc",
                "https://bitbucket.example.com/projects/PLAT/repos/service/pull-requests/abc/overview",
                "https://bitbucket.example.com/users/jane/repos/service/pull-requests/-1",
                "https://dev.azure.com/contoso/web/_git/frontend/pullrequest/abc",
                "https://dev.azure.com/contoso/web/_git/frontend/pullrequest/",
                "https://dev.azure.com/contoso/web/_git/frontend/PullRequest/0x1f",
                "https://contoso.visualstudio.com/web/_git/frontend/pullrequest/abc",
                "https://ado.example.com/tfs/DefaultCollection/Ops/_git/infra/pullrequest/abc",
            ],
            |e| matches!(e, ParseError::NotANumber { .. }),
        );
        let e = parse("https://github.com/tokio-rs/tokio/pull/abc", &hosts()).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#""abc" is not a pull request number (a positive decimal number)"#
        );
    }

    #[test]
    fn encoded_digits_are_judged_after_decoding_and_given_back_canonical() {
        let c = ok("https://github.com/org/repo/pull/%34%32");
        let pr = c.pull_request.unwrap();
        assert_eq!(
            (pr.id.as_str(), pr.url.as_str()),
            ("42", "https://github.com/org/repo/pull/42")
        );
        assert_eq!(
            ok("https://github.com/org/repo/pull/042").pull_request.unwrap().id,
            "42"
        );
        assert_eq!(ok("https://github.com/org/repo/issues/%37").issue.as_deref(), Some("7"));
        let c = ok("https://gitlab.com/group/project/-/merge_requests/%31%35");
        assert_eq!(
            c.pull_request.unwrap().url,
            "https://gitlab.com/group/project/-/merge_requests/15"
        );
        assert_eq!(
            ok("https://bitbucket.org/workspace/repo/pull-requests/%31%32")
                .pull_request
                .unwrap()
                .id,
            "12"
        );
        assert_eq!(
            ok("https://dev.azure.com/contoso/web/_git/frontend/pullrequest/%33%31")
                .pull_request
                .unwrap()
                .id,
            "31"
        );
    }

    #[test]
    fn list_and_new_pages_are_the_repository_and_pull_new_is_a_branch() {
        for url in [
            "https://github.com/org/repo/issues",
            "https://github.com/org/repo/issues/",
            "https://github.com/org/repo/issues/new",
            "https://github.com/org/repo/pulls",
            "https://gitlab.com/group/project/-/merge_requests",
            "https://gitlab.com/group/project/-/merge_requests/new?merge_request%5Bsource_branch%5D=x",
            "https://gitlab.com/group/project/-/issues",
            "https://gitlab.com/group/project/-/issues/new",
            "https://gitlab.com/group/project/-/issues/service_desk",
            "https://bitbucket.org/workspace/repo/pull-requests/",
            "https://bitbucket.org/workspace/repo/pull-requests/new",
            "https://bitbucket.org/workspace/repo/issues?status=new",
            "https://bitbucket.example.com/projects/PLAT/repos/service/pull-requests?create",
            "https://dev.azure.com/contoso/web/_git/frontend/pullrequests",
        ] {
            let c = ok(url);
            assert!(c.pull_request.is_none() && c.issue.is_none(), "{url}: {c:?}");
        }
        let c = ok("https://github.com/org/repo/pull/new/feature/x");
        assert_eq!((c.branch.as_str(), c.pull_request), ("feature/x", None));
        let c = ok("https://gitlab.com/group/project/-/issues/incident/5");
        assert_eq!(c.issue.as_deref(), Some("5"));
    }

    #[test]
    fn www_of_a_known_host_is_that_host() {
        for (url, scm_id, host, clone) in [
            (
                "https://www.github.com/owner/repo",
                GITHUB,
                "github.com",
                "https://github.com/owner/repo.git",
            ),
            (
                "https://WWW.GitHub.com/owner/repo/pull/3",
                GITHUB,
                "github.com",
                "https://github.com/owner/repo.git",
            ),
            (
                "https://www.gitlab.com/group/sub/project/-/tree/main",
                GITLAB,
                "gitlab.com",
                "https://gitlab.com/group/sub/project.git",
            ),
            (
                "https://www.bitbucket.org/workspace/repo",
                BITBUCKET,
                "bitbucket.org",
                "https://bitbucket.org/workspace/repo.git",
            ),
            (
                "https://www.ghe.example.com/platform/api",
                GITHUB,
                "ghe.example.com",
                "https://ghe.example.com/platform/api.git",
            ),
            (
                "https://www.bitbucket.example.com/projects/PLAT/repos/service",
                BITBUCKET,
                "bitbucket.example.com",
                "https://bitbucket.example.com/scm/plat/service.git",
            ),
        ] {
            let c = ok(url);
            assert_eq!(
                (c.scm_id.as_str(), c.host.as_str(), c.clone_url.as_str()),
                (scm_id, host, clone),
                "{url}"
            );
        }
        // GitHub's own pages stay refused on www. too
        refused(&["https://www.github.com/settings/profile"], |e| {
            matches!(e, ParseError::NotARepository(_))
        });
        // only a known host's www.: an unknown one stays itself
        assert_eq!(
            ok("https://www.unknown.example/team/tool.git").host,
            "www.unknown.example"
        );
        refused(&["https://www.unknown.example/team/tool"], |e| {
            matches!(e, ParseError::UnknownHost { .. })
        });
        refused(
            &[
                "https://wwwgithub.com/owner/repo",
                "https://www.www.github.com/owner/repo",
            ],
            |e| matches!(e, ParseError::UnknownHost { .. }),
        );
    }

    #[test]
    fn empty_repository_names_are_refused() {
        refused(
            &[
                "https://github.com/org/.git",
                "https://gitlab.com/group/.git",
                "https://bitbucket.org/workspace/.git",
                "https://bitbucket.example.com/scm/plat/.git",
                "https://dev.azure.com/contoso/web/_git/.git",
            ],
            |e| matches!(e, ParseError::NotARepository(_)),
        );
    }

    #[test]
    fn decoded_names_are_encoded_again_in_the_urls_paddock_writes() {
        let c = ok("https://github.com/org/repo%3Fx=1%23y");
        assert_eq!(c.repo, "repo?x=1#y");
        assert_eq!(c.clone_url, "https://github.com/org/repo%3Fx=1%23y.git");
        let c = ok("https://github.com/org/%252e%252e/pull/1");
        assert_eq!(c.repo, "%2e%2e");
        assert_eq!(c.clone_url, "https://github.com/org/%252e%252e.git");
        assert_eq!(c.pull_request.unwrap().url, "https://github.com/org/%252e%252e/pull/1");
        let c = ok("https://dev.azure.com/contoso/My%20Project/_git/My%20Repo");
        assert_eq!((c.owner.as_str(), c.repo.as_str()), ("contoso/My Project", "My Repo"));
        assert_eq!(c.clone_url, "https://dev.azure.com/contoso/My%20Project/_git/My%20Repo");
        let c = ok("https://bitbucket.example.com/users/jane/repos/service");
        assert_eq!(c.clone_url, "https://bitbucket.example.com/scm/~jane/service.git");
    }
}
