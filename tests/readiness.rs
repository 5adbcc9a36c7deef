//! Readiness: the `ready` line once every configured address is usable and
//! every service listens, the `--ready-file`, and systemd's notification
//! socket (`NOTIFY_SOCKET`, a unix datagram socket the test listens on).

mod common;

use std::fs;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{LwipTap, Netns, LWIP_ADDR, TRANSIENT_SPEC};

/// A notification socket as systemd makes one: a bound unix datagram
/// socket, its path in NOTIFY_SOCKET.
fn notify_socket(dir: &Path) -> (UnixDatagram, String) {
    let path = dir.join("notify");
    let socket = UnixDatagram::bind(&path).expect("bind the notification socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    (socket, path.display().to_string())
}

/// The messages received on `socket` within `timeout`, until one contains
/// `until`.
fn messages(socket: &UnixDatagram, until: &str, timeout: Duration) -> Vec<String> {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < timeout {
        if let Ok(n) = socket.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            if got.last().unwrap().contains(until) {
                break;
            }
        }
    }
    got
}

/// Seconds from the log's `ready after S s` line.
fn ready_after(line: &str) -> f64 {
    line.split("ready after ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{line}"))
}

fn spawn(ns: &Netns, args: &[&str], notify: &str) -> LwipTap {
    ns.spawn_lwip_tap_with(common::LWIP_TAP, args, &[("NOTIFY_SOCKET", notify)])
}

/// A static IPv6 address: ready only once it has passed duplicate address
/// detection (about 2 s), and a ping -6 right after ready is answered at
/// once (before, the host's neighbor solicitations went unanswered).
#[test]
fn with_addr6_ready_comes_after_duplicate_address_detection() {
    require_network!("ping");
    let ns = Netns::new("ready6");
    let file = ns.dir.path().join("ready");
    let (socket, notify) = notify_socket(ns.dir.path());
    let file_arg = file.display().to_string();
    let mut lwip = spawn(
        &ns,
        &[
            "-i",
            "addr6=2001:db8:1::2,gw6=2001:db8:1::1",
            "-E",
            "-H",
            "--ready-file",
            &file_arg,
        ],
        &notify,
    );
    lwip.wait_for_log(": mac", Duration::from_secs(10));
    // Created at start, empty until ready.
    assert_eq!(fs::read_to_string(&file).unwrap(), "", "{}", lwip.log());
    let got = messages(&socket, "READY=1", Duration::from_secs(10));
    let line = lwip.wait_for_log("ready after", Duration::from_secs(1));
    let out = ns.sh("ping -6 -c 1 -W 2 2001:db8:1::2 | grep time=");
    let log = lwip.log();
    assert!(
        line.contains("waited for tap0 IPv6 duplicate address detection; listening: echo, http"),
        "{line}"
    );
    let secs = ready_after(&line);
    assert!((0.9..5.0).contains(&secs), "{line}");
    // The address was logged usable before the ready line.
    let preferred = log.find("IPv6 2001:db8:1::2/64 (static) is preferred");
    assert!(
        preferred.is_some_and(|p| p < log.find("ready after").unwrap()),
        "{log}"
    );
    assert!(
        got.last()
            .is_some_and(|m| m.starts_with("READY=1\nSTATUS=ready after")),
        "{got:?}\n{log}"
    );
    let content = fs::read_to_string(&file).unwrap();
    assert!(
        content.starts_with("ready after") && content.ends_with(")\n"),
        "{content:?}"
    );
    let rtt: f64 = out
        .split("time=")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    eprintln!("ready after {secs} s; the first ping -6 after it: {rtt} ms");
    assert!(rtt < 200.0, "{out}");
    // Stopping is told too; the seccomp filter let all of it through.
    assert!(lwip.stop_with(libc::SIGTERM).success(), "{}", lwip.log());
    let got = messages(&socket, "STOPPING=1", Duration::from_secs(2));
    assert_eq!(got, ["STOPPING=1"], "{}", lwip.log());
}

/// Static IPv4 only: nothing to wait for, ready at once.
#[test]
fn with_static_ipv4_ready_comes_at_once() {
    require_network!("ping");
    let ns = Netns::new("ready4");
    let (socket, notify) = notify_socket(ns.dir.path());
    let mut lwip = spawn(&ns, &["-i", TRANSIENT_SPEC], &notify);
    let got = messages(&socket, "READY=1", Duration::from_secs(10));
    assert!(got.iter().any(|m| m.contains("READY=1")), "{got:?}");
    let line = lwip.wait_for_log("ready after", Duration::from_secs(1));
    assert!(line.contains("(waited for nothing; no service)"), "{line}");
    assert!(ready_after(&line) < 0.5, "{line}");
    assert!(ns.wait_for_ping(LWIP_ADDR, Duration::from_secs(5)));
}

/// DHCP without a server: never ready, and after 10 s it says what it is
/// waiting for; once a server answers, the lease makes it ready.
#[test]
fn with_dhcp_ready_waits_for_a_lease_and_says_so() {
    require_network!("dnsmasq");
    let ns = Netns::new("readydhcp");
    ns.add_tap("tap0", Some("10.26.0.1/24"));
    let file = ns.dir.path().join("ready");
    let (socket, notify) = notify_socket(ns.dir.path());
    let file_arg = file.display().to_string();
    let mut lwip = spawn(
        &ns,
        &["-i", "name=tap0", "--ready-file", &file_arg],
        &notify,
    );
    let line = lwip.wait_for_log("still waiting after 10 s", Duration::from_secs(15));
    assert!(line.contains("for tap0 DHCP lease"), "{line}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "");
    let got = messages(&socket, "STATUS", Duration::from_secs(1));
    assert!(
        got.iter().all(|m| !m.contains("READY=1"))
            && got
                .iter()
                .any(|m| m.starts_with("STATUS=waiting for tap0 DHCP lease")),
        "{got:?}"
    );
    ns.start_dhcp_server("tap0", "10.26.0.50", "10.26.0.59", "2m");
    let line = lwip.wait_for_log("ready after", Duration::from_secs(40));
    assert!(
        line.contains("waited for tap0 DHCP lease 10.26.0.5"),
        "{line}"
    );
    let content = fs::read_to_string(&file).unwrap();
    assert!(content.contains("DHCP lease 10.26.0.5"), "{content:?}");
    let got = messages(&socket, "READY=1", Duration::from_secs(2));
    assert!(got.iter().any(|m| m.starts_with("READY=1")), "{got:?}");
}

/// A ready file that cannot be created, or a notification socket nobody
/// listens on: one line, status 1, no TAP created.
#[test]
fn an_unusable_ready_file_or_notify_socket_is_refused_in_one_line() {
    require_network!();
    let ns = Netns::new("readybad");
    let err = ns.lwip_tap_refuses(
        "",
        &format!("-i {TRANSIENT_SPEC} --ready-file /no/such/dir/ready"),
        1,
    );
    assert!(
        err.contains("--ready-file /no/such/dir/ready: cannot create it"),
        "{err}"
    );
    let err = ns.lwip_tap_refuses(
        "NOTIFY_SOCKET=/no/such/socket",
        &format!("-i {TRANSIENT_SPEC}"),
        1,
    );
    assert!(
        err.contains("NOTIFY_SOCKET=/no/such/socket: cannot connect"),
        "{err}"
    );
    assert!(!ns.link_exists("tap0"));
}
