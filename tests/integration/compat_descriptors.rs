//! Our hand-written protos must be wire-identical to the official SDK's schema.
//!
//! The reference descriptor set is produced at test time from PyPI
//! `gitpod-sdk==1.2.0` by scripts/sdk-descriptors (or read from
//! PADDOCK_SDK_DESCRIPTORS). Without python3 the test is skipped with a message,
//! unless PADDOCK_REQUIRE_COMPAT=1 (as in CI and `make compat`) makes it fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use prost::Message;
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorSet, ServiceDescriptorProto};

/// Files of the reference whose every message and enum paddock must declare.
const REQUIRED_FILES: &[&str] = &[
    "gitpod/v1/runner.proto",
    "gitpod/v1/runner_configuration.proto",
    "gitpod/v1/identity.proto",
    "gitpod/v1/pagination.proto",
    "gitpod/v1/event.proto",
    "gitpod/v1/agent_security.proto",
    "gitpod/v1/group.proto",
    "gitpod/v1/user.proto",
    "gitpod/v1/count.proto",
    "gitpod/v1/login_provider.proto",
];
/// paddock's own definition of a gitpod.v1 service the SDK has no client for.
const PADDOCK_DEFINED: &str = "gitpod/v1/runner_interaction.proto";

const SERVICES: &[&str] = &[
    "gitpod.v1.RunnerService",
    "gitpod.v1.RunnerConfigurationService",
    "gitpod.v1.IdentityService",
    "gitpod.v1.EventService",
    "gitpod.v1.GroupService",
    "gitpod.v1.UserService",
];
/// Services paddock declares only in part (their other RPCs would pull in
/// most of the Ona API): each RPC declared must be the reference's.
const PARTIAL_SERVICES: &[&str] = &["gitpod.v1.OrganizationService"];

#[derive(Default)]
struct Index {
    messages: BTreeMap<String, DescriptorProto>,
    enums: BTreeMap<String, EnumDescriptorProto>,
    services: BTreeMap<String, ServiceDescriptorProto>,
    /// Full names declared by each file (top-level and nested).
    by_file: BTreeMap<String, BTreeSet<String>>,
}

impl Index {
    fn new(set: &FileDescriptorSet) -> Self {
        let mut index = Index::default();
        for file in &set.file {
            let package = file.package();
            let declared = index.by_file.entry(file.name().to_owned()).or_default();
            let mut names = Vec::new();
            for m in &file.message_type {
                collect_message(package, m, &mut index.messages, &mut index.enums, &mut names);
            }
            for e in &file.enum_type {
                let name = format!("{package}.{}", e.name());
                index.enums.insert(name.clone(), e.clone());
                names.push(name);
            }
            for s in &file.service {
                index.services.insert(format!("{package}.{}", s.name()), s.clone());
            }
            declared.extend(names);
        }
        index
    }
}

fn collect_message(
    scope: &str,
    m: &DescriptorProto,
    messages: &mut BTreeMap<String, DescriptorProto>,
    enums: &mut BTreeMap<String, EnumDescriptorProto>,
    names: &mut Vec<String>,
) {
    let name = format!("{scope}.{}", m.name());
    for nested in &m.nested_type {
        collect_message(&name, nested, messages, enums, names);
    }
    for e in &m.enum_type {
        let enum_name = format!("{name}.{}", e.name());
        enums.insert(enum_name.clone(), e.clone());
        names.push(enum_name);
    }
    messages.insert(name.clone(), m.clone());
    names.push(name);
}

/// Everything about a field that reaches the wire or the JSON mapping.
fn field_shape(m: &DescriptorProto) -> BTreeMap<i32, String> {
    m.field
        .iter()
        .map(|f| {
            let oneof = f
                .oneof_index
                .and_then(|i| m.oneof_decl.get(i as usize))
                .map(|o| o.name().to_owned())
                .unwrap_or_default();
            let shape = format!(
                "name={} type={:?} type_name={} label={:?} json_name={} oneof={} proto3_optional={}",
                f.name(),
                f.r#type(),
                f.type_name(),
                f.label(),
                f.json_name(),
                oneof,
                f.proto3_optional(),
            );
            (f.number(), shape)
        })
        .collect()
}

fn enum_shape(e: &EnumDescriptorProto) -> BTreeMap<String, i32> {
    e.value.iter().map(|v| (v.name().to_owned(), v.number())).collect()
}

fn service_shape(s: &ServiceDescriptorProto) -> BTreeMap<String, String> {
    s.method
        .iter()
        .map(|m| {
            let shape = format!(
                "{} -> {} client_streaming={} server_streaming={}",
                m.input_type(),
                m.output_type(),
                m.client_streaming(),
                m.server_streaming()
            );
            (m.name().to_owned(), shape)
        })
        .collect()
}

fn compare(ours: &Index, reference: &Index) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, m) in &ours.messages {
        match reference.messages.get(name) {
            None => problems.push(format!("message {name}: not in the reference")),
            Some(r) => {
                let (a, b) = (field_shape(m), field_shape(r));
                for (number, shape) in &b {
                    match a.get(number) {
                        None => problems.push(format!("{name} #{number}: missing ({shape})")),
                        Some(ours) if ours != shape => {
                            problems.push(format!("{name} #{number}: ours {ours}, reference {shape}"))
                        }
                        Some(_) => {}
                    }
                }
                for number in a.keys().filter(|n| !b.contains_key(n)) {
                    problems.push(format!("{name} #{number}: not in the reference"));
                }
                let oneofs =
                    |d: &DescriptorProto| -> Vec<String> { d.oneof_decl.iter().map(|o| o.name().to_owned()).collect() };
                if oneofs(m) != oneofs(r) {
                    problems.push(format!("{name}: oneofs {:?} vs reference {:?}", oneofs(m), oneofs(r)));
                }
            }
        }
    }
    for (name, e) in &ours.enums {
        match reference.enums.get(name) {
            None => problems.push(format!("enum {name}: not in the reference")),
            Some(r) if enum_shape(e) != enum_shape(r) => problems.push(format!(
                "enum {name}: ours {:?}, reference {:?}",
                enum_shape(e),
                enum_shape(r)
            )),
            Some(_) => {}
        }
    }
    for file in REQUIRED_FILES {
        for name in reference.by_file.get(*file).into_iter().flatten() {
            if !ours.messages.contains_key(name) && !ours.enums.contains_key(name) {
                problems.push(format!("{name} (from {file}): not declared by paddock"));
            }
        }
    }
    for service in SERVICES {
        match (ours.services.get(*service), reference.services.get(*service)) {
            (Some(a), Some(b)) if service_shape(a) != service_shape(b) => problems.push(format!(
                "service {service}: ours {:#?}, reference {:#?}",
                service_shape(a),
                service_shape(b)
            )),
            (None, _) => problems.push(format!("service {service}: not declared by paddock")),
            (_, None) => problems.push(format!("service {service}: not in the reference")),
            _ => {}
        }
    }
    for service in PARTIAL_SERVICES {
        match (ours.services.get(*service), reference.services.get(*service)) {
            (Some(a), Some(b)) => {
                let reference = service_shape(b);
                for (method, shape) in service_shape(a) {
                    match reference.get(&method) {
                        Some(r) if *r == shape => {}
                        Some(r) => problems.push(format!("{service}.{method}: ours {shape}, reference {r}")),
                        None => problems.push(format!("{service}.{method}: not in the reference")),
                    }
                }
            }
            (None, _) => problems.push(format!("service {service}: not declared by paddock")),
            (_, None) => problems.push(format!("service {service}: not in the reference")),
        }
    }
    problems
}

fn reference_descriptors() -> Option<Vec<u8>> {
    if let Ok(path) = std::env::var("PADDOCK_SDK_DESCRIPTORS") {
        return Some(std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}")));
    }
    let required = std::env::var("PADDOCK_REQUIRE_COMPAT").is_ok_and(|v| v == "1");
    let has_python = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_python {
        assert!(!required, "PADDOCK_REQUIRE_COMPAT=1 but python3 is not available");
        eprintln!(
            "SKIPPED descriptor compatibility test: python3 is not available \
             (CI and `make compat` run it with PADDOCK_REQUIRE_COMPAT=1)"
        );
        return None;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::NamedTempFile::new().expect("temp file");
    let status = Command::new(root.join("scripts/sdk-descriptors"))
        .arg(out.path())
        .status()
        .expect("running scripts/sdk-descriptors");
    if !status.success() {
        assert!(!required, "scripts/sdk-descriptors failed: {status}");
        eprintln!("SKIPPED descriptor compatibility test: scripts/sdk-descriptors failed ({status})");
        return None;
    }
    Some(std::fs::read(out.path()).expect("reading the reference descriptor set"))
}

#[test]
fn our_protos_are_wire_identical_to_the_sdk() {
    let Some(bytes) = reference_descriptors() else { return };
    let reference = Index::new(&FileDescriptorSet::decode(bytes.as_slice()).expect("reference set"));
    let ours = Index::new(
        &FileDescriptorSet::decode(paddock::protocol::proto::FILE_DESCRIPTOR_SET).expect("our descriptor set"),
    );
    // Only our gitpod.v1 declarations are held to the reference (google.protobuf
    // comes from protox), and of those not paddock's own definition of a
    // service the SDK does not ship (RunnerInteractionService).
    let paddocks_own = ours.by_file.get(PADDOCK_DEFINED).cloned().unwrap_or_default();
    assert!(!paddocks_own.is_empty(), "{PADDOCK_DEFINED} declares nothing");
    let held = |n: &String| n.starts_with("gitpod.v1.") && !paddocks_own.contains(n);
    let ours = Index {
        messages: ours.messages.into_iter().filter(|(n, _)| held(n)).collect(),
        enums: ours.enums.into_iter().filter(|(n, _)| held(n)).collect(),
        services: ours.services,
        by_file: ours.by_file,
    };
    assert!(
        ours.messages.len() > 100,
        "too few messages compiled: {}",
        ours.messages.len()
    );
    let problems = compare(&ours, &reference);
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
