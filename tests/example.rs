//! The README's library example, `examples/in_process_ping.rs`, run as the
//! binary `cargo test` builds: a ping routed by lwIP between two in-process
//! interfaces.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn in_process_ping_example_routes_a_ping() {
    // target/<profile>/deps/example-HASH -> target/<profile>/examples/
    let exe = std::env::current_exe().unwrap();
    let examples: PathBuf = exe.parent().unwrap().parent().unwrap().join("examples");
    let out = Command::new(examples.join("in_process_ping"))
        .output()
        .expect("run the in_process_ping example (cargo test builds it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("host B got an echo request (type 8, id 0x4242, seq 1) with ttl 63"),
        "{stdout}"
    );
    assert!(
        stdout.contains("host A got an echo reply from 10.0.2.2 (id 0x4242, seq 1) with ttl 63"),
        "{stdout}"
    );
}
