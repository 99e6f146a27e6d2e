//! paddock's integration tests: one binary (one link on a 2-core machine),
//! one module per behaviour area.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

mod architecture;
mod audit;

mod agent;
mod authentication;
mod authorization;
mod buf_curl;
mod cli;
mod compat_descriptors;
mod concurrency;
mod configuration;
mod connect;
mod connect_client;
mod connect_stream_client;
mod connect_streams;
mod context_urls;
mod crash;
mod docs_links;
mod fleet;
mod fuzz;
mod fuzz_seeds;
mod groups;
mod hygiene;
mod lifecycle;
mod limits;
mod liveness;
mod metrics;
mod migrations;
mod org_roles;
mod organizations;
mod outage;
mod processes;
mod query_plans;
mod rpc_matrix;
mod runner_interaction;
mod runner_tokens;
mod runners;
mod scm_api;
mod secret_key;
mod server;
mod signing;
mod two_replicas;
mod update_window;
mod users;
mod validation;
mod watch;
