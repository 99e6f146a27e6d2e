//! Compiles proto/ with protox (no system protoc) into prost/tonic code, and
//! writes the descriptor set the server embeds for reflection.

use std::{env, fs, path::PathBuf};

use prost::Message;

const PROTOS: &[&str] = &[
    "gitpod/v1/agent.proto",
    "gitpod/v1/agent_security.proto",
    "gitpod/v1/count.proto",
    "gitpod/v1/event.proto",
    "gitpod/v1/gateway.proto",
    "gitpod/v1/group.proto",
    "gitpod/v1/identity.proto",
    "gitpod/v1/login_provider.proto",
    "gitpod/v1/model.proto",
    "gitpod/v1/organization.proto",
    "gitpod/v1/pagination.proto",
    "gitpod/v1/runner.proto",
    "gitpod/v1/runner_configuration.proto",
    "gitpod/v1/runner_interaction.proto",
    "gitpod/v1/user.proto",
    "paddock/v1/fleet.proto",
    "paddock/v1/runner_tokens.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(PROTOS, ["proto"])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("paddock_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // RPCs not built yet answer UNIMPLEMENTED without hand-written stubs
        .generate_default_stubs(true)
        .compile_fds(fds)?;
    Ok(())
}
