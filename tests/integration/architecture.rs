//! The layout is the architecture: src/ holds lib.rs, main.rs and one folder
//! per layer, and each folder imports only the layers below it (the rules
//! below, read off the source). Also: the capability and principal modules
//! are leaves, only `auth::access` grants capabilities, only main.rs reads
//! the command line, and every api service is a folder laid out alike.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each folder of src/ and the folders it may import from (besides itself).
/// The order is the layering, top to bottom; `agent` is a client beside it.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "server",
        &["api", "auth", "fleet", "store", "base", "protocol", "agent"],
    ),
    ("api", &["auth", "fleet", "store", "base", "protocol"]),
    ("auth", &["fleet", "store", "base", "protocol"]),
    ("fleet", &["store", "base", "protocol"]),
    ("store", &["base"]),
    ("base", &["protocol"]),
    ("protocol", &[]),
    ("agent", &["base", "protocol"]),
];

/// The crate paths a source text names, as `folder::module…` strings
/// (`crate::x::y`, `use crate::{x::y, z}`), comments left out.
fn crate_paths(source: &str) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    let code: String = source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let path_chars = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let path: String = item.trim().chars().take_while(|c| path_chars(*c)).collect();
                if !path.is_empty() {
                    paths.insert(path.trim_end_matches(':').to_owned());
                }
            }
        } else {
            let path: String = rest.chars().take_while(|c| path_chars(*c)).collect();
            paths.insert(path.trim_end_matches(':').to_owned());
        }
    }
    paths
}

/// The folder a crate path starts with.
fn folder_of(path: &str) -> &str {
    path.split("::").next().unwrap_or(path)
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

fn relative(file: &Path) -> String {
    file.strip_prefix(src()).unwrap().to_string_lossy().into_owned()
}

/// Every import in `root` (a src/ folder) that the rules forbid, as
/// "file imports crate::path".
fn violations_in(root: &Path) -> Vec<String> {
    let rules: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let mut found = Vec::new();
    for file in rust_files(root) {
        let rel = file
            .strip_prefix(root.parent().unwrap())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let folder = rel.split('/').next().unwrap().to_owned();
        let allowed = rules.get(folder.as_str()).copied().unwrap_or(&[]);
        let source = std::fs::read_to_string(&file).unwrap();
        for path in crate_paths(&source) {
            let to = folder_of(&path);
            if to == folder || allowed.contains(&to) || to == "DEFAULT_ORGANIZATION" {
                continue;
            }
            found.push(format!("{rel} imports crate::{path}"));
        }
    }
    found
}

#[test]
fn the_detector_sees_every_form_of_import() {
    let paths = crate_paths(
        "use crate::server::X;\nuse crate::{auth, store::Db};\nlet x = crate::api::f();\n// crate::telemetry",
    );
    assert_eq!(
        paths,
        BTreeSet::from(["server::X".into(), "auth".into(), "store::Db".into(), "api::f".into()])
    );
}

#[test]
fn src_holds_lib_main_and_one_folder_per_layer() {
    let mut entries: Vec<String> = std::fs::read_dir(src())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    let mut expected: Vec<String> = LAYERS.iter().map(|(folder, _)| (*folder).to_owned()).collect();
    expected.extend(["lib.rs".to_owned(), "main.rs".to_owned()]);
    expected.sort();
    assert_eq!(entries, expected, "src/ is lib.rs, main.rs and the layers' folders");
    assert!(entries.len() <= 10);
    for (folder, _) in LAYERS {
        let head = std::fs::read_to_string(src().join(folder).join("mod.rs")).unwrap();
        assert!(
            head.lines().any(|l| l.starts_with("//! May import:")),
            "src/{folder}/mod.rs says what it holds and what it may import"
        );
    }
}

#[test]
fn each_folder_imports_only_the_layers_below_it() {
    let mut found = Vec::new();
    for (folder, _) in LAYERS {
        found.extend(violations_in(&src().join(folder)));
    }
    assert!(found.is_empty(), "imports against the layering:\n{}", found.join("\n"));
}

/// The rules themselves are a ladder: no folder may import one that may
/// import it back (directly or around a circle).
#[test]
fn the_layering_has_no_circle() {
    let rules: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    fn reaches(rules: &BTreeMap<&str, &[&str]>, from: &str, to: &str, seen: &mut BTreeSet<String>) -> bool {
        rules
            .get(from)
            .copied()
            .unwrap_or(&[])
            .iter()
            .any(|next| *next == to || (seen.insert((*next).to_owned()) && reaches(rules, next, to, seen)))
    }
    for (folder, _) in LAYERS {
        assert!(
            !reaches(&rules, folder, folder, &mut BTreeSet::new()),
            "{folder} reaches itself"
        );
    }
}

/// The detector catches an import against the rules: a store module naming
/// the api, written into a scratch copy of src/store.
#[test]
fn an_import_against_the_rules_is_caught() {
    let scratch = tempfile::tempdir().unwrap();
    let store = scratch.path().join("store");
    std::fs::create_dir(&store).unwrap();
    std::fs::write(store.join("mod.rs"), "use crate::base::error::Result;\n").unwrap();
    assert!(violations_in(&store).is_empty());
    std::fs::write(store.join("runners.rs"), "use crate::api::state::AppState;\n").unwrap();
    assert_eq!(
        violations_in(&store),
        ["store/runners.rs imports crate::api::state::AppState"]
    );
}

#[test]
fn capabilities_and_principals_are_leaves() {
    for leaf in ["base/capability.rs", "base/principal.rs"] {
        let source = std::fs::read_to_string(src().join(leaf)).unwrap();
        let paths = crate_paths(&source);
        assert!(paths.is_empty(), "{leaf} imports {paths:?}");
    }
}

#[test]
fn only_auth_access_grants_capabilities() {
    let mut found = Vec::new();
    for file in rust_files(&src()) {
        let rel = relative(&file);
        if rel == "auth/access.rs" || rel == "base/capability.rs" {
            continue;
        }
        // `grant` takes no self: every call names its type, `Managed::grant(…)`
        if std::fs::read_to_string(&file).unwrap().contains("::grant(") {
            found.push(rel);
        }
    }
    assert!(
        found.is_empty(),
        "capabilities granted outside auth/access.rs: {found:?}"
    );
}

/// The command line is main.rs's: the server runs on `Settings`, and
/// nothing below the binary reads the flags.
#[test]
fn only_main_reads_the_command_line() {
    let mut found = Vec::new();
    for file in rust_files(&src()) {
        let rel = relative(&file);
        if rel == "main.rs" || rel == "server/cli.rs" {
            continue;
        }
        let source = std::fs::read_to_string(&file).unwrap();
        if crate_paths(&source).iter().any(|p| p.starts_with("server::cli")) || source.contains("clap::") {
            found.push(rel);
        }
    }
    // the agent's own flags are its module's (agent/args.rs), read by main.rs too
    found.retain(|f| f != "agent/args.rs");
    assert!(found.is_empty(), "the command line read below main.rs: {found:?}");
}

/// The files at api/'s root that are not services.
const API_SHARED: &[&str] = &["mod.rs", "convert.rs", "state.rs", "validate.rs"];

/// The `XApi` types the registry (server/services.rs) serves.
fn registered_apis() -> BTreeSet<String> {
    let source = std::fs::read_to_string(src().join("server/services.rs")).unwrap();
    let list = source
        .split("api_services! {")
        .nth(1)
        .expect("the registry's api_services! list");
    let list = &list[..list.find('}').unwrap()];
    list.split(',')
        .filter_map(|entry| {
            let (_, api) = entry.split_once('(')?;
            Some(api.trim_end_matches(')').trim().to_owned())
        })
        .collect()
}

/// Every service is a folder of api/ whose mod.rs is its `service!` table
/// (and no handler), served by one line of the registry; the rest of api/
/// is the shared code docs/development.md names.
#[test]
fn every_api_service_is_a_folder_with_its_table_and_a_line_in_the_registry() {
    let api = src().join("api");
    let mut served = BTreeSet::new();
    for entry in std::fs::read_dir(&api).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_file() {
            assert!(
                API_SHARED.contains(&name.as_str()),
                "api/{name}: a service belongs in a folder of its own"
            );
            continue;
        }
        let table =
            std::fs::read_to_string(path.join("mod.rs")).unwrap_or_else(|_| panic!("api/{name}/ has no mod.rs"));
        let after = table
            .split("service! {")
            .nth(1)
            .unwrap_or_else(|| panic!("api/{name}/mod.rs has no service! table"));
        let header = after.trim_start();
        // a paddock.v1 service names its package first
        let header = header
            .strip_prefix("package")
            .map_or(header, |rest| &rest[rest.find(';').unwrap() + 1..]);
        let api_type = header.trim_start().split(':').next().unwrap().trim().to_owned();
        served.insert(api_type);
        let handlers: Vec<&str> = table.lines().filter(|l| l.contains("fn ")).collect();
        assert!(
            handlers.is_empty(),
            "api/{name}/mod.rs holds the table only; its handlers go in the resources' files: {handlers:?}"
        );
    }
    assert_eq!(served, registered_apis(), "api/'s services and the registry's list");
}

/// Proto mapping lives in api/convert.rs: no function elsewhere in api/
/// takes a store type and returns a proto.
#[test]
fn proto_mapping_lives_in_api_convert() {
    let mut found = Vec::new();
    for file in rust_files(&src().join("api")) {
        let rel = relative(&file);
        if rel == "api/convert.rs" {
            continue;
        }
        let source = std::fs::read_to_string(&file).unwrap();
        // the store's types this file names by their short names
        let store_types: BTreeSet<String> = source
            .lines()
            .filter(|l| l.starts_with("use crate::store::"))
            .flat_map(|l| {
                let names = l.rsplit("::").next().unwrap_or("");
                names
                    .trim_matches(|c| c == '{' || c == '}' || c == ';')
                    .split(',')
                    .map(|n| n.trim().to_owned())
                    .filter(|n| n.chars().next().is_some_and(char::is_uppercase))
                    .collect::<Vec<_>>()
            })
            .collect();
        for signature in source
            .split("\nfn ")
            .chain(source.split("\npub fn "))
            .chain(source.split("\npub(crate) fn "))
            .skip(1)
        {
            let signature = &signature[..signature.find('{').unwrap_or(signature.len())];
            let Some((params, returns)) = signature.split_once("->") else {
                continue;
            };
            let takes_store = params.contains("store::")
                || store_types
                    .iter()
                    .any(|t| params.split(|c: char| !c.is_alphanumeric() && c != '_').any(|w| w == t));
            if takes_store && returns.contains("pb::") {
                found.push(format!("{rel}: fn {}", signature.split('(').next().unwrap_or("")));
            }
        }
    }
    assert!(
        found.is_empty(),
        "store → proto mapping outside api/convert.rs: {found:?}"
    );
}
