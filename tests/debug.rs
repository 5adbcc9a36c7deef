//! The lwIP debug build (`--features debug`) and `-d`.

mod common;

use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::{Netns, LWIP_ADDR};

/// Builds lwip-tap with `--features debug` in the tests' shared build directory
/// (once per test run) and returns the binary.
fn debug_binary() -> &'static str {
    static BINARY: OnceLock<String> = OnceLock::new();
    BINARY.get_or_init(|| {
        let target = common::builds_dir();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = common::successful_output(
            Command::new(cargo)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .args(["build", "--bin", "lwip-tap", "--features", "debug"])
                .arg("--target-dir")
                .arg(&target),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("warning"),
            "the debug build warns:\n{stderr}"
        );
        target.join("debug/lwip-tap").display().to_string()
    })
}

#[test]
fn default_build_refuses_d_with_one_line() {
    let out = common::run_lwip_tap(&["-d", "-i", "name=tap0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("no lwIP debug support") && err.contains("cargo build --features debug"),
        "{err}"
    );
}

#[test]
fn debug_build_with_d_prints_lwip_debug_lines_for_a_ping() {
    require_network!("ping");
    let binary = debug_binary();
    let ns = Netns::new("debug");
    let mut lwip = ns.transient_lwip_tap_with(binary, &["-d"], &[("RUST_LOG", "")]);
    let line = lwip.wait_for_log("lwip: icmp_input: ping", Duration::from_secs(5));
    assert!(line.contains("DEBUG"), "{line}");
    let status = lwip.stop_with(libc::SIGTERM);
    assert!(status.success());
}

#[test]
fn debug_build_without_d_is_as_quiet_as_a_normal_one() {
    require_network!("ping");
    let binary = debug_binary();
    let ns = Netns::new("quiet");
    // Even with every log level enabled, no lwIP debug line appears.
    let mut lwip = ns.transient_lwip_tap_with(binary, &[], &[("RUST_LOG", "trace")]);
    assert_eq!(ns.ping(LWIP_ADDR, 3, "0.05"), 3);
    lwip.stop_with(libc::SIGTERM);
    let log = lwip.log();
    assert!(!log.contains("lwip: "), "{log}");
}
