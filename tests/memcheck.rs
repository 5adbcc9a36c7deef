//! A whole session under valgrind memcheck: ping, echo, HTTP, iperf, exit.
//! No invalid reads or writes, and nothing definitely lost. The seccomp
//! filter is off (`--seccomp off`): it would bind valgrind's own calls too.

mod common;

use std::time::Duration;

use common::{Netns, LWIP_ADDR, TRANSIENT_SPEC};

#[test]
fn a_session_under_valgrind_is_clean() {
    require_network!("valgrind", "ping", "nc", "curl", "iperf");
    let ns = Netns::new("valgrind");
    let report = ns.dir.path().join("valgrind.txt");
    let log_file = format!("--log-file={}", report.display());
    let mut lwip = ns.spawn_lwip_tap_with(
        "valgrind",
        &[
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            &log_file,
            common::LWIP_TAP,
            "-i",
            TRANSIENT_SPEC,
            "-E",
            "-H",
            "-s",
            "-C",
            "--seccomp",
            "off",
        ],
        &[],
    );
    lwip.wait_for_log(": mac", Duration::from_secs(60));
    assert!(
        ns.wait_for_ping(LWIP_ADDR, Duration::from_secs(30)),
        "{}",
        lwip.log()
    );
    assert_eq!(ns.ping(LWIP_ADDR, 5, "0.1"), 5);
    ns.tcp_echo(LWIP_ADDR, 7, 200_000, 20)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ns.sh(&format!("echo udp | nc -u -w 2 {LWIP_ADDR} 7")),
        "udp\n"
    );
    let code = ns.sh(&format!(
        "curl -s -o /dev/null -w '%{{http_code}}' --max-time 20 http://{LWIP_ADDR}/"
    ));
    assert_eq!(code, "200");
    let chargen = ns.sh(&format!(
        "nc -d -w 5 {LWIP_ADDR} 19 | head -c 10000 | wc -c"
    ));
    assert_eq!(chargen.trim(), "10000");
    let out = ns.sh(&format!("iperf -c {LWIP_ADDR} -p 5001 -n 4M"));
    assert!(out.contains("bits/sec"), "{out}");
    lwip.wait_for_log("iperf: 172.16.0.1 port", Duration::from_secs(30));

    let status = lwip.stop_with(libc::SIGTERM);
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    assert_eq!(
        status.code(),
        Some(0),
        "valgrind or lwip-tap failed:\n{text}\n{}",
        lwip.log()
    );
    assert!(
        text.contains("Memcheck") && text.contains("ERROR SUMMARY: 0 errors"),
        "{text}"
    );
    eprintln!("{text}");
    assert!(
        !text.contains("definitely lost:") || text.contains("definitely lost: 0 bytes"),
        "{text}"
    );
}
