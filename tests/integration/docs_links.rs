//! Every relative link in README.md and docs/ resolves: each Markdown link or
//! image `[text](target)`, `![alt](target)` and reference definition
//! `[label]: target` outside fenced code blocks and code spans names a file or
//! folder that exists (relative to the linking file; `/…` from the repository's
//! root), and a `#fragment` into a Markdown file names one of its headings by
//! its GitHub anchor. Links with a scheme (`https:`, `mailto:`, …) are not
//! followed. Uses only std, so that it also runs without cargo:
//! `CARGO_MANIFEST_DIR=$PWD rustc --edition 2021 --test tests/integration/docs_links.rs`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A link found in a Markdown text: its 1-based line and its target as written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Link {
    line: usize,
    target: String,
}

/// The lines of `text` outside fenced code blocks (fenced by three or more
/// backticks or tildes), with their 1-based numbers.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut lines = Vec::new();
    // the open fence's character and length
    let mut fence: Option<(char, usize)> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = marker.map_or(0, |m| trimmed.chars().take_while(|c| *c == m).count());
        match (fence, marker) {
            (None, Some(m)) if run >= 3 && indent <= 3 => fence = Some((m, run)),
            (None, _) => lines.push((index + 1, line)),
            (Some((open, length)), Some(m)) if m == open && run >= length && trimmed[run..].trim().is_empty() => {
                fence = None;
            }
            (Some(_), _) => {}
        }
    }
    lines
}

/// `line` without its code spans (`like this`), which hold no links.
fn without_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let run = after.chars().take_while(|c| *c == '`').count();
        let opener = &after[..run];
        let body = &after[run..];
        if let Some(end) = body.find(opener) {
            rest = &body[end + run..];
        } else {
            // an unmatched run of backticks is literal text
            out.push_str(opener);
            rest = body;
        }
    }
    out.push_str(rest);
    out
}

/// The target inside `(…)` that starts `text` (just after the `(`): up to the
/// matching `)`, without an optional title or angle brackets.
fn inline_target(text: &str) -> Option<String> {
    let mut depth = 0usize;
    let mut end = None;
    for (at, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => {
                end = Some(at);
                break;
            }
            ')' => depth -= 1,
            _ => {}
        }
    }
    let inside = text[..end?].trim();
    let target = match inside.strip_prefix('<') {
        Some(bracketed) => bracketed.split('>').next().unwrap_or_default(),
        None => inside.split_whitespace().next().unwrap_or_default(),
    };
    Some(target.to_owned())
}

/// A reference definition's target (`[label]: target "title"`), if `line` is one.
fn reference_definition(line: &str) -> Option<String> {
    let trimmed = line.trim_start();
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let label = trimmed.strip_prefix('[')?;
    let close = label.find("]:")?;
    if close == 0 || label.starts_with('^') {
        return None;
    }
    let target = label[close + 2..].split_whitespace().next()?;
    Some(target.trim_start_matches('<').trim_end_matches('>').to_owned())
}

/// Every link and image in `text`, outside fenced code blocks and code spans.
fn links(text: &str) -> Vec<Link> {
    let mut found = Vec::new();
    for (line, raw) in prose_lines(text) {
        let prose = without_code_spans(raw);
        if let Some(target) = reference_definition(&prose) {
            found.push(Link { line, target });
            continue;
        }
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            if let Some(target) = inline_target(rest) {
                found.push(Link { line, target });
            }
        }
    }
    found
}

/// Whether a target names a scheme (`https:`, `mailto:`, …): not a file here.
fn has_scheme(target: &str) -> bool {
    match target.find(':') {
        Some(colon) => {
            let scheme = &target[..colon];
            !scheme.is_empty()
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        }
        None => false,
    }
}

/// `%20` and the like, decoded.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes
            .get(at + 1..at + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[at], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                at += 3;
            }
            (byte, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A heading's text as GitHub renders it: inline links as their text, no
/// code, emphasis or image markers.
fn heading_text(raw: &str) -> String {
    let mut text = String::new();
    let mut rest = raw;
    // [text](target) → text
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find("](") else { break };
        let Some(end) = after[close + 2..].find(')') else { break };
        text.push_str(rest[..open].trim_end_matches('!'));
        text.push_str(&after[..close]);
        rest = &after[close + 2 + end + 1..];
    }
    text.push_str(rest);
    text.chars().filter(|c| !matches!(c, '`' | '*')).collect()
}

/// GitHub's anchor for a heading: lower case, punctuation other than `-` and
/// `_` dropped, each space a `-`.
fn slug(heading: &str) -> String {
    heading_text(heading)
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown text: its headings' slugs (a repeated one gets
/// `-1`, `-2`, … as on GitHub) and explicit `id="…"` / `name="…"` anchors.
fn anchors(text: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut found = Vec::new();
    let mut previous: Option<&str> = None;
    for (_, line) in prose_lines(text) {
        let trimmed = line.trim();
        let hashes = trimmed.chars().take_while(|c| *c == '#').count();
        let atx = (1..=6).contains(&hashes) && (trimmed.len() == hashes || trimmed[hashes..].starts_with(' '));
        let setext = !trimmed.is_empty()
            && (trimmed.chars().all(|c| c == '=') || trimmed.chars().all(|c| c == '-'))
            && previous.is_some_and(|p| !p.trim().is_empty() && !p.trim_start().starts_with(['#', '-', '*', '|', '>']));
        let heading = if atx {
            Some(trimmed[hashes..].trim().trim_end_matches('#').trim().to_owned())
        } else if setext {
            previous.map(|p| p.trim().to_owned())
        } else {
            None
        };
        if let Some(heading) = heading {
            let base = slug(&heading);
            let count = seen.entry(base.clone()).or_insert(0);
            found.push(if *count == 0 { base } else { format!("{base}-{count}") });
            *count += 1;
        }
        for attribute in ["id=\"", "name=\""] {
            let mut rest = line;
            while let Some(at) = rest.find(attribute) {
                rest = &rest[at + attribute.len()..];
                let value = rest.split('"').next().unwrap_or_default();
                found.push(value.to_owned());
            }
        }
        previous = Some(line);
    }
    found
}

/// README.md and every Markdown file under docs/, sorted.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md")];
    let mut folders = vec![root.join("docs")];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(&folder).unwrap_or_else(|e| panic!("reading {}: {e}", folder.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Why `link` in `file` does not resolve, if it does not.
fn broken(root: &Path, file: &Path, text: &str, link: &Link) -> Option<String> {
    let target = link.target.as_str();
    if target.is_empty() {
        return Some("an empty target".into());
    }
    if has_scheme(target) {
        return None;
    }
    let (path, fragment) = match target.split_once('#') {
        Some((path, fragment)) => (path, Some(percent_decoded(fragment))),
        None => (target, None),
    };
    let path = percent_decoded(path.split('?').next().unwrap_or_default());
    let (resolved, anchored_text) = if path.is_empty() {
        (file.to_path_buf(), Some(text.to_owned()))
    } else {
        let resolved = match path.strip_prefix('/') {
            Some(from_root) => root.join(from_root),
            None => file.parent().unwrap_or(root).join(&path),
        };
        if !resolved.exists() {
            return Some(format!("no such file or folder: {}", resolved.display()));
        }
        let markdown = resolved.is_file() && resolved.extension().is_some_and(|e| e == "md");
        let anchored_text = match (&fragment, markdown) {
            (Some(_), true) => Some(std::fs::read_to_string(&resolved).unwrap_or_default()),
            _ => None,
        };
        (resolved, anchored_text)
    };
    match (fragment, anchored_text) {
        (Some(fragment), Some(anchored)) if !anchors(&anchored).contains(&fragment) => {
            Some(format!("no heading #{fragment} in {}", resolved.display()))
        }
        _ => None,
    }
}

#[test]
fn every_relative_link_in_readme_and_docs_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in markdown_files(root) {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let shown = file.strip_prefix(root).unwrap_or(&file).display().to_string();
        for link in links(&text) {
            checked += 1;
            if let Some(why) = broken(root, &file, &text, &link) {
                problems.push(format!("{shown}:{}: ({}) {why}", link.line, link.target));
            }
        }
    }
    assert!(checked > 0, "no links found: is the extractor broken?");
    assert!(
        problems.is_empty(),
        "{} broken link(s) in README.md and docs/:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_extractor_finds_links_and_images_but_not_code() {
    let sample = "# Quick start\n\
                  See [the docs](docs/README.md#quick-start) and ![the fleet](docs/console/fleet-1280.png \"fleet\").\n\
                  Inline `[not](a-link.md)` code, a [site](https://example.com) and [a heading](#quick-start).\n\
                  ```sh\n\
                  [inside](a/fence.md)\n\
                  ```\n\
                  ~~~\n\
                  ![also inside](b.png)\n\
                  ~~~\n\
                  [ref]: <docs/operations.md> \"a title\"\n\
                  ## What it serves: `gitpod.v1` (and more)\n";
    let targets: Vec<(usize, String)> = links(sample).into_iter().map(|l| (l.line, l.target)).collect();
    assert_eq!(
        targets,
        vec![
            (2, "docs/README.md#quick-start".to_owned()),
            (2, "docs/console/fleet-1280.png".to_owned()),
            (3, "https://example.com".to_owned()),
            (3, "#quick-start".to_owned()),
            (10, "docs/operations.md".to_owned()),
        ]
    );
    assert_eq!(anchors(sample), vec!["quick-start", "what-it-serves-gitpodv1-and-more"]);
    assert!(has_scheme("mailto:someone@example.com") && !has_scheme("docs/a.md#b:c"));
    assert_eq!(
        slug("A runner's credentials: `paddock.v1.RunnerTokenService`"),
        "a-runners-credentials-paddockv1runnertokenservice"
    );
    assert_eq!(anchors("# Tokens\n## Tokens\n"), vec!["tokens", "tokens-1"]);
}
