//! The import rules that keep paddock's layers apart, read off the source:
//! `protocol/` is a leaf that knows nothing of the server; `store/` imports
//! nothing from `auth/`, `api/` or the server; the capability and principal
//! modules are leaves; and only `auth::access` grants capabilities.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The crate modules a source text names (`crate::x`, `use crate::{x, y}`).
fn crate_modules(source: &str) -> BTreeSet<String> {
    let mut modules = BTreeSet::new();
    let code: String = source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    modules.insert(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            modules.insert(name);
        }
    }
    modules
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every file under `dir` (relative to src/) that names one of `forbidden`.
fn offenders(dir: &str, forbidden: &[&str]) -> Vec<String> {
    let root = src().join(dir);
    let files = if root.is_dir() { rust_files(&root) } else { vec![root] };
    let mut found = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        for module in crate_modules(&source) {
            if forbidden.contains(&module.as_str()) {
                found.push(format!("{} imports crate::{module}", file.display()));
            }
        }
    }
    found
}

#[test]
fn the_detector_sees_every_form_of_import() {
    let modules = crate_modules(
        "use crate::server::X;\nuse crate::{auth, store::Db};\nlet x = crate::api::f();\n// crate::telemetry",
    );
    assert_eq!(
        modules,
        BTreeSet::from(["server".into(), "auth".into(), "store".into(), "api".into()])
    );
}

#[test]
fn protocol_is_a_leaf() {
    let found = offenders("protocol", &["server", "telemetry", "api", "auth", "store", "state"]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_store_imports_nothing_from_auth_api_or_the_server() {
    let found = offenders("store", &["auth", "api", "server", "state", "protocol", "telemetry"]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn capabilities_and_principals_are_leaves() {
    for leaf in ["capability.rs", "principal.rs"] {
        let source = std::fs::read_to_string(src().join(leaf)).unwrap();
        let modules = crate_modules(&source);
        assert!(modules.is_empty(), "{leaf} imports {modules:?}");
    }
}

#[test]
fn only_auth_access_grants_capabilities() {
    let mut found = Vec::new();
    for file in rust_files(&src()) {
        let relative = file.strip_prefix(src()).unwrap().to_string_lossy().into_owned();
        if relative == "auth/access.rs" || relative == "capability.rs" {
            continue;
        }
        let source = std::fs::read_to_string(&file).unwrap();
        // `grant` takes no self: every call names its type, `Managed::grant(…)`
        if source.contains("::grant(") {
            found.push(relative);
        }
    }
    assert!(
        found.is_empty(),
        "capabilities granted outside auth/access.rs: {found:?}"
    );
}
