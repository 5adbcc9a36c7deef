//! A test that cannot run here is reported as skipped, never as passed, and
//! under CI=true it fails (tests/common: `skip`, `require_network!`).

use std::process::Command;

mod common;

/// Stands for any network test on a machine that lacks a tool. Run only by
/// the test below (it is ignored in a normal run).
#[test]
#[ignore = "run by a_test_that_cannot_run_is_skipped_not_passed"]
fn network_test_without_its_tool() {
    require_network!("lwip-tap-no-such-tool");
    panic!("the test ran although its tool is missing");
}

#[test]
fn a_test_that_cannot_run_is_skipped_not_passed() {
    let dir = common::TempDir::new("skips");
    let log = dir.path().join("skipped");
    let probe = |ci: Option<&str>| {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--ignored",
            "--exact",
            "--nocapture",
            "network_test_without_its_tool",
        ])
        .env("LWIP_TAP_SKIP_LOG", &log)
        .env_remove("CI");
        if let Some(ci) = ci {
            cmd.env("CI", ci);
        }
        cmd.output().unwrap()
    };

    let out = probe(None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("SKIPPED: network_test_without_its_tool"),
        "{stderr}"
    );
    let recorded = std::fs::read_to_string(&log).unwrap();
    assert_eq!(recorded.trim(), "network_test_without_its_tool");

    let out = probe(Some("true"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "CI=true must fail: {stderr}");
    assert!(stderr.contains("cannot run"), "{stderr}");
}
