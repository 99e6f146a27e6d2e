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

/// The crate paths a source text names, as `folder::module…` strings:
/// `crate::x::y`, `super::…` resolved from `module` (the file's module path,
/// e.g. `["store", "runners"]`), brace groups expanded however nested
/// (`use crate::{x::{y, z}, w}`); comments left out. A `super` that climbs
/// to the crate's root (a nested test module's) names no folder.
fn crate_paths_in(source: &str, module: &[&str]) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut paths = BTreeSet::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while at < code.len() {
        let rest = &code[at..];
        let starts = (rest.starts_with("crate::") || rest.starts_with("super::"))
            && (at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_' || bytes[at - 1] == b':'));
        if !starts {
            at += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        }
        // the whole path: path characters, and brace groups with what they hold
        let mut depth = 0;
        let mut end = 0;
        for (i, c) in rest.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                c if c.is_alphanumeric() || c == '_' || c == ':' => {}
                c if depth > 0 && (c == ',' || c.is_whitespace()) => {}
                _ if depth > 0 => {}
                _ => break,
            }
            end = i + c.len_utf8();
        }
        let text = &rest[..end];
        let (base, tree) = if let Some(tree) = text.strip_prefix("crate::") {
            (Vec::new(), tree)
        } else {
            let mut tree = text;
            let mut base: Vec<&str> = module.to_vec();
            while let Some(up) = tree.strip_prefix("super::") {
                tree = up;
                base.pop();
            }
            (base, tree)
        };
        expand(
            &base.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            tree,
            &mut paths,
        );
        at += end.max(1);
    }
    paths.retain(|p| !p.is_empty());
    paths
}

/// Adds the paths of one use-tree (`a::b`, `a::{b, c::{d}}`) below `base`.
fn expand(base: &[String], tree: &str, out: &mut BTreeSet<String>) {
    let tree = tree.trim().trim_end_matches(':');
    if let Some(open) = tree.find('{') {
        let close = tree.rfind('}').unwrap_or(tree.len());
        let mut prefix = base.to_vec();
        prefix.extend(tree[..open].split("::").filter(|s| !s.is_empty()).map(str::to_owned));
        let inner = &tree[open + 1..close];
        let (mut depth, mut start) = (0, 0);
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&prefix, &inner[start..i], out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&prefix, &inner[start..], out);
        return;
    }
    let tree = tree.split(" as ").next().unwrap_or(tree).trim();
    let mut path = base.to_vec();
    path.extend(
        tree.split("::")
            .filter(|s| !s.is_empty() && *s != "self" && *s != "*")
            .map(str::to_owned),
    );
    out.insert(path.join("::"));
}

/// The crate paths of a source at the crate's root (`crate::` only).
fn crate_paths(source: &str) -> BTreeSet<String> {
    crate_paths_in(source, &[])
}

/// The module path of a file under src/: `store/runners.rs` → `[store,
/// runners]`, `store/mod.rs` → `[store]`.
fn module_of(relative: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = relative.trim_end_matches(".rs").split('/').collect();
    if parts.last() == Some(&"mod") || parts.last() == Some(&"lib") || parts.last() == Some(&"main") {
        parts.pop();
    }
    parts
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
        for path in crate_paths_in(&source, &module_of(&rel)) {
            let to = folder_of(&path);
            // a root item (`crate::DEFAULT_ORGANIZATION`, or what a nested
            // test module's `super` reaches) is no layer
            let is_layer = rules.contains_key(to);
            if to == folder || allowed.contains(&to) || !is_layer {
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
    // nested groups, renames, and `super` from a file's module
    let nested = crate_paths_in(
        "use crate::server::{cli::{ServeArgs, self}, settings::Settings as S};\nuse super::error::Error;\nuse super::super::api::state;",
        &["base", "capability"],
    );
    assert_eq!(
        nested,
        BTreeSet::from([
            "server::cli::ServeArgs".into(),
            "server::cli".into(),
            "server::settings::Settings".into(),
            "base::error::Error".into(),
            "api::state".into(),
        ])
    );
    assert_eq!(module_of("store/mod.rs"), ["store"]);
    assert_eq!(module_of("store/runners.rs"), ["store", "runners"]);
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
    for (folder, allowed) in LAYERS {
        let head = std::fs::read_to_string(src().join(folder).join("mod.rs")).unwrap();
        let mut lines = head.lines();
        let holds = lines.next().unwrap_or("");
        assert!(
            holds.starts_with("//! ") && holds.len() > 20,
            "src/{folder}/mod.rs: line 1 says what it holds"
        );
        let may = lines.next().unwrap_or("");
        let listed = may
            .strip_prefix("//! May import: ")
            .unwrap_or_else(|| panic!("src/{folder}/mod.rs: line 2 is `//! May import: …`, not {may:?}"))
            .trim_end_matches('.');
        let listed: BTreeSet<&str> = match listed {
            "nothing of paddock" => BTreeSet::new(),
            "everything" => LAYERS.iter().map(|(f, _)| *f).filter(|f| f != folder).collect(),
            list => list.split(", ").collect(),
        };
        assert_eq!(
            listed,
            allowed.iter().copied().collect::<BTreeSet<_>>(),
            "src/{folder}/mod.rs's `May import` and the rules here"
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
        let paths = crate_paths_in(&source, &module_of(leaf));
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
        let names_cli = crate_paths_in(&source, &module_of(&rel))
            .iter()
            .any(|p| p.starts_with("server::cli"));
        if names_cli || source.contains("clap::") {
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
    list.lines()
        .filter_map(|entry| {
            let (_, api) = entry.split_once("=>")?;
            Some(api.trim().trim_end_matches(',').rsplit("::").next()?.to_owned())
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

/// The plain functions of `source` (any visibility, any nesting; an async
/// one reads or writes, it does not map) that take a store type and answer
/// a proto: `name` for each. The store's
/// types are those named through `crate::store::` (imports resolved from
/// `module`) or written with a `store::` path.
fn store_to_proto_mappings(source: &str, module: &[&str]) -> Vec<String> {
    let store_types: BTreeSet<String> = crate_paths_in(source, module)
        .into_iter()
        .filter(|p| p.starts_with("store::"))
        .filter_map(|p| p.rsplit("::").next().map(str::to_owned))
        .filter(|name| name.chars().next().is_some_and(char::is_uppercase))
        .collect();
    let words = |text: &str| -> BTreeSet<String> {
        text.split(|c: char| !c.is_alphanumeric() && c != '_')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("fn ") {
        let before = rest[..at].chars().last();
        let signature = &rest[at + 3..];
        rest = signature;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') || rest_before(source, rest).ends_with("async ") {
            continue;
        }
        let signature = &signature[..signature.find(['{', ';']).unwrap_or(signature.len())];
        let Some((params, returns)) = signature.split_once("->") else {
            continue;
        };
        let takes_store = params.contains("store::") || !words(params).is_disjoint(&store_types);
        let answers_proto = ["pb::", "gitpod::", "paddock::"].iter().any(|p| returns.contains(p));
        if takes_store && answers_proto {
            found.push(signature.split('(').next().unwrap_or("").trim().to_owned());
        }
    }
    found
}

/// What of `source` comes before the (sub)slice `rest`, up to its `fn `.
fn rest_before<'a>(source: &'a str, rest: &str) -> &'a str {
    let at = source.len() - rest.len();
    &source[..at.saturating_sub(3)]
}

#[test]
fn the_mapping_detector_sees_any_function_that_maps_a_store_type() {
    let source = "use crate::store::runners::{self, Runner};\n\
        pub(super) fn row(r: Runner) -> pb::Runner { todo!() }\n\
        impl X {\n    fn other(t: crate::store::tokens::Token) -> Option<paddock::RunnerToken> { todo!() }\n}\n\
        async fn lookup(r: &Runner) -> Result<pb::RunnerConfigurationSchema> { todo!() }\n\
        fn fine(id: Uuid) -> pb::Runner { todo!() }\n\
        fn handler(state: &AppState, req: pb::GetRunnerRequest) -> Result<pb::GetRunnerResponse> { todo!() }";
    assert_eq!(
        store_to_proto_mappings(source, &["api", "runner", "runners"]),
        ["row", "other"]
    );
}

/// Proto mapping lives in api/convert.rs: no function elsewhere in api/
/// takes a store type and answers a proto.
#[test]
fn proto_mapping_lives_in_api_convert() {
    let mut found = Vec::new();
    for file in rust_files(&src().join("api")) {
        let rel = relative(&file);
        if rel == "api/convert.rs" {
            continue;
        }
        let source = std::fs::read_to_string(&file).unwrap();
        for name in store_to_proto_mappings(&source, &module_of(&rel)) {
            found.push(format!("{rel}: fn {name}"));
        }
    }
    assert!(
        found.is_empty(),
        "store → proto mapping outside api/convert.rs: {found:?}"
    );
}

/// docs/development.md's "Adding an RPC" names only what the tree has:
/// every `src/…` path (with `<service>` for each service's folder) and
/// every `auth::access` rule it names.
#[test]
fn adding_an_rpc_matches_the_tree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("docs/development.md")).unwrap();
    let section = docs
        .split("## Adding an RPC")
        .nth(1)
        .expect("docs/development.md has Adding an RPC");
    let section = section.split("\n## ").next().unwrap();
    let services: Vec<String> = std::fs::read_dir(src().join("api"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut missing = Vec::new();
    let mut named = 0;
    for quoted in section.split('`').skip(1).step_by(2) {
        if let Some(path) = quoted.strip_prefix("src/") {
            let path = path.trim_end_matches('/');
            named += 1;
            let each: Vec<String> = if path.contains("<service>") {
                services.iter().map(|s| path.replace("<service>", s)).collect()
            } else {
                vec![path.to_owned()]
            };
            missing.extend(
                each.into_iter()
                    .filter(|p| !src().join(p).exists())
                    .map(|p| format!("src/{p}")),
            );
        }
    }
    assert!(named >= 4, "the section names the files to touch ({named})");
    let access = std::fs::read_to_string(src().join("auth/access.rs")).unwrap();
    let rules = section
        .split("`auth::access` (")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or("");
    for rule in rules.split('`').skip(1).step_by(2) {
        if !access.contains(&format!("fn {rule}(")) && !access.contains(&format!("fn {rule}<")) {
            missing.push(format!("auth::access::{rule}"));
        }
    }
    assert!(
        missing.is_empty(),
        "Adding an RPC names what the tree lacks: {missing:?}"
    );
}
