//! The fuzz targets' seeds, replayed in `cargo test`: every committed seed
//! runs through its entry (tests/fuzz/src/lib.rs, the code the fuzz targets
//! drive) and holds its checks; and the findings, kept as regression tests.

use paddock_fuzz::{ENTRIES, ROUTES, compress_envelopes, connect_answer, gunzip};

fn seeds_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/seeds")
}

/// Every committed seed runs through its entry (and holds its checks).
#[test]
fn every_seed_replays() {
    for (name, entry) in ENTRIES {
        let dir = seeds_dir().join(name);
        let mut seeds: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        seeds.sort();
        assert!(!seeds.is_empty(), "no seeds for {name}");
        for seed in seeds {
            let data = std::fs::read(&seed).unwrap();
            if let Err(panic) = std::panic::catch_unwind(|| entry(&data)) {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// Every fuzz target has seeds, and every seed directory a target.
#[test]
fn seed_directories_match_the_entries() {
    let mut dirs: Vec<String> = std::fs::read_dir(seeds_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut names: Vec<String> = ENTRIES.iter().map(|(n, _)| (*n).to_owned()).collect();
    names.sort();
    assert_eq!(dirs, names);
}

/// The route lists as JSON, for tests/fuzz/tools/make_seeds.py:
/// `cargo test --test integration fuzz_seeds::route_lists -- --ignored --nocapture`.
#[test]
#[ignore]
fn route_lists() {
    let json = serde_json::json!({"all": ROUTES.all, "unary": ROUTES.unary, "get": ROUTES.get});
    println!("{json}");
}

#[test]
fn the_route_lists_are_the_servers() {
    assert!(ROUTES.get.contains(&"/gitpod.v1.RunnerService/ListRunners".to_owned()));
    assert!(
        ROUTES
            .unary
            .contains(&"/gitpod.v1.RunnerService/UpdateRunner".to_owned())
    );
    assert!(!ROUTES.get.contains(&"/gitpod.v1.RunnerService/UpdateRunner".to_owned()));
    assert!(ROUTES.all.contains(&"/gitpod.v1.EventService/WatchEvents".to_owned()));
    assert!(!ROUTES.unary.contains(&"/gitpod.v1.EventService/WatchEvents".to_owned()));
}

fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// Finding 1 (connect_answer): a unary gRPC answer whose one frame is
/// gzip-compressed (`grpc-encoding: gzip`, frame flag 1) panics in
/// `unframe` → `decompress(encoding, message, usize::MAX)`:
/// `limit as u64 + 1` overflows (src/protocol/connect.rs, "attempt to add
/// with overflow"); without overflow checks it wraps to `take(0)` and
/// the message comes out empty. Fixed with a saturating bound; this keeps it so.
#[test]
fn regression_a_compressed_unary_grpc_answer() {
    // byte 1 (0x3b, GetRunner when found) picks the route; any unary route fails
    let mut data = from_hex(
        "003b677270632d656e636f64696e673a20677a69700a7e677270632d7374617475733a20300a0a\
         01000000191f8b0800000000000203e3624e4c4a060082d8425405000000",
    );
    data[1] = ROUTES
        .unary
        .iter()
        .position(|r| r == "/gitpod.v1.RunnerService/GetRunner")
        .unwrap() as u8;
    connect_answer(&data);
}

/// Finding 1, the streaming way: a compressed frame of a gRPC stream
/// answer (`grpc-encoding: gzip`) panics the same way, through
/// `ResponseEnvelopes::poll_frame` → `decompress(&this.grpc_encoding,
/// message, usize::MAX)` (src/protocol/connect/stream.rs). Fixed the same way.
#[test]
fn regression_a_compressed_grpc_stream_answer() {
    // byte 1 (0x02, WatchEvents when found) picks the route
    let mut data = from_hex(
        "0302677270632d656e636f64696e673a20677a69700a7e677270632d7374617475733a20300a0a\
         01000000141f8b080000000000020303000000000000000000",
    );
    data[1] = ROUTES
        .all
        .iter()
        .position(|r| r == "/gitpod.v1.EventService/WatchEvents")
        .unwrap() as u8;
    connect_answer(&data);
}

#[test]
fn envelopes_flagged_compressed_are_gzipped_by_the_harness() {
    let mut body = vec![1, 0, 0, 0, 3];
    body.extend_from_slice(b"abc");
    body.extend_from_slice(&[0, 0, 0, 0, 9, b'x']);
    let out = compress_envelopes(&body);
    let length = u32::from_be_bytes([out[1], out[2], out[3], out[4]]) as usize;
    assert_eq!(gunzip(&out[5..5 + length]).unwrap(), b"abc");
    assert_eq!(&out[5 + length..], &[0, 0, 0, 0, 9, b'x']);
}
