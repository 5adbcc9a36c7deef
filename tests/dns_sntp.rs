//! lwIP's DNS client (`--resolve`, `-i dns=`, a DHCP lease's DNS server)
//! against dnsmasq, its SNTP client (`--sntp`) against chrony, and both
//! against a server that does not answer and one (scapy) whose answers are
//! malformed.

mod common;

use std::fs;
use std::time::Duration;

use common::Netns;

/// A persistent TAP for lwIP with the host side at 172.16.0.1, where the
/// servers listen from before lwip-tap starts.
const SPEC: &str = "name=tap0,addr=172.16.0.2/24,gw=172.16.0.1,dns=172.16.0.1";

/// dnsmasq as the namespace's DNS server for lab.test (authoritative: a
/// name it does not know is NXDOMAIN), with `extra` options.
fn start_dnsmasq(ns: &Netns, extra: &[&str]) {
    let mut dnsmasq = ns.command("dnsmasq");
    dnsmasq
        .args([
            "--no-daemon",
            "--conf-file=/dev/null",
            "--user=root",
            "--bind-interfaces",
            "--listen-address=172.16.0.1",
            "--no-resolv",
            "--no-hosts",
            "--local=/lab.test/",
            "--host-record=www.lab.test,172.16.0.80,fd00::80",
            "--host-record=v4.lab.test,172.16.0.81",
            "--log-queries",
        ])
        .arg(format!(
            "--pid-file={}",
            ns.dir.path().join("dnsmasq.pid").display()
        ))
        .args(extra);
    ns.start_helper(dnsmasq, "dnsmasq.log");
    let log = ns.dir.path().join("dnsmasq.log");
    assert!(
        common::wait_until(Duration::from_secs(5), || {
            fs::read_to_string(&log).is_ok_and(|l| l.contains("started"))
        }),
        "dnsmasq did not start: {}",
        fs::read_to_string(&log).unwrap_or_default()
    );
}

/// The README's example: the DNS server comes with the DHCP lease; A and
/// AAAA of one name, a name with an A record only, and one that does not
/// exist, each in one line. The unknown name fails the run.
#[test]
fn resolve_asks_the_dhcp_leases_dnsmasq_for_a_and_aaaa() {
    require_network!("dnsmasq");
    let ns = Netns::new("dnsdhcp");
    ns.add_tap("tap0", Some("172.16.0.1/24"));
    let leases = ns.dir.path().join("leases");
    start_dnsmasq(
        &ns,
        &[
            "--interface=tap0",
            "--dhcp-range=172.16.0.50,172.16.0.60,255.255.255.0,1h",
            &format!("--dhcp-leasefile={}", leases.display()),
        ],
    );
    let mut lwip = ns.spawn_lwip_tap(&[
        "-i",
        "name=tap0",
        "--resolve",
        "www.lab.test",
        "--resolve",
        "v4.lab.test.",
        "--resolve",
        "nosuch.lab.test",
    ]);
    let log = lwip.exits_with(1, Duration::from_secs(30));
    let lease = log
        .lines()
        .find(|l| l.contains("tap0: DHCP lease "))
        .unwrap_or_else(|| panic!("no lease:\n{log}"));
    assert!(lease.ends_with(", DNS 172.16.0.1"), "{lease}");
    for line in [
        "resolve www.lab.test: waiting for a DNS server and a route to it (a DHCP lease?)",
        "resolve www.lab.test: asking 172.16.0.1 for A and AAAA",
        "resolve www.lab.test: A 172.16.0.80, AAAA fd00::80",
        "resolve v4.lab.test.: A 172.16.0.81, AAAA: no such record",
        "resolve nosuch.lab.test: NXDOMAIN (no such name) from 172.16.0.1",
        "lwip-tap: 1 of 3 clients failed: resolve nosuch.lab.test\n",
    ] {
        assert!(log.contains(line), "no {line:?} in:\n{log}");
    }
    // The queries come from the leased address (dnsmasq picks it in the
    // range from the MAC: .50 to .60).
    let leased = lease
        .split("DHCP lease ")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {lease}"));
    let queries = fs::read_to_string(ns.dir.path().join("dnsmasq.log")).unwrap();
    assert!(
        queries.contains(&format!("query[AAAA] www.lab.test from {leased}\n")),
        "{queries}"
    );
}

/// The README's example: chrony serves the host's clock; lwIP's SNTP client
/// logs an offset close to zero and the run succeeds.
#[test]
fn sntp_logs_the_offset_from_chrony() {
    require_network!("chronyd");
    let ns = Netns::new("sntp");
    ns.add_tap("tap0", Some("172.16.0.1/24"));
    let dir = ns.dir.path();
    let conf = dir.join("chrony.conf");
    fs::write(
        &conf,
        format!(
            "local stratum 1\nallow\nport 123\nbindaddress 172.16.0.1\ncmdport 0\n\
             pidfile {0}/chronyd.pid\ndriftfile {0}/chrony.drift\n",
            dir.display()
        ),
    )
    .unwrap();
    let mut chronyd = ns.command("chronyd");
    // -x: never touch the host's clock; -u root: no user to switch to.
    chronyd.args(["-d", "-x", "-u", "root", "-f"]).arg(&conf);
    ns.start_helper(chronyd, "chronyd.log");
    let mut lwip = ns.spawn_lwip_tap(&["-i", SPEC, "--sntp", "172.16.0.1"]);
    let log = lwip.exits_with(0, Duration::from_secs(20));
    let line = log
        .lines()
        .find(|l| l.contains("sntp 172.16.0.1: offset "))
        .unwrap_or_else(|| panic!("no offset:\n{log}"));
    let offset: f64 = line
        .split("offset ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    eprintln!("{line}");
    // chrony serves this very clock: the offset is the round trip's
    // asymmetry, well under a millisecond.
    assert!(offset.abs() < 0.05, "{line}");
}

/// Nobody answers on 172.16.0.1's ports 53 and 123 (the kernel's port
/// unreachable is no answer): each client says so in one line, after lwIP's
/// tries, and the run fails.
#[test]
fn silent_servers_are_reported_once_each() {
    require_network!();
    let ns = Netns::new("dnsquiet");
    ns.add_tap("tap0", Some("172.16.0.1/24"));
    let mut lwip = ns.spawn_lwip_tap(&[
        "-i",
        SPEC,
        "--resolve",
        "www.lab.test",
        "--sntp",
        "172.16.0.1",
    ]);
    let log = lwip.exits_with(1, Duration::from_secs(20));
    for line in [
        "resolve www.lab.test: no answer from 172.16.0.1 (4 tries each, about 7 s)",
        "sntp 172.16.0.1: no valid answer within 5 s",
        "lwip-tap: 2 of 2 clients failed: resolve www.lab.test, sntp 172.16.0.1",
    ] {
        assert_eq!(log.matches(line).count(), 1, "{line:?} once in:\n{log}");
    }
}

/// scapy answers every DNS and SNTP query with malformed messages (cut
/// short, a label past the end, a pointer to itself, data lengths past the
/// end, 65535 answers announced, a wrong originate timestamp, a
/// kiss-of-death...): one line each, no crash, and lwIP's pools are back
/// where a stack without clients has them.
#[test]
fn malformed_answers_give_one_line_and_leak_nothing() {
    require_network!("/usr/bin/python3");
    let ns = Netns::new("dnsbad");
    ns.add_tap("tap0", Some("172.16.0.1/24"));
    let tool = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/bad_answers.py");
    for kind in ["dns", "ntp"] {
        let mut cmd = ns.command("/usr/bin/python3");
        cmd.args([tool, kind, "172.16.0.1"]);
        ns.start_helper(cmd, &format!("bad-{kind}.log"));
        let out = ns.dir.path().join(format!("bad-{kind}.log"));
        assert!(
            common::wait_until(Duration::from_secs(10), || {
                fs::read_to_string(&out).is_ok_and(|l| l.contains("ready"))
            }),
            "{kind} server: {}",
            fs::read_to_string(&out).unwrap_or_default()
        );
    }
    // What a stack with the echo service and no client uses.
    let mut lwip = ns.spawn_lwip_tap(&["-i", SPEC, "-E"]);
    lwip.wait_for_log("ready", Duration::from_secs(10));
    // Frames in first: the receive path keeps a spare pbuf chain (43 pool
    // buffers) from the first frame on, which the run with clients has too.
    assert_eq!(ns.ping("172.16.0.2", 2, "0.2"), 2);
    let baseline = lwip.stats();
    lwip.stop_with(libc::SIGTERM);

    let mut lwip = ns.spawn_lwip_tap(&[
        "-i",
        SPEC,
        "-E",
        "--resolve",
        "bad.lab.test",
        "--sntp",
        "172.16.0.1",
    ]);
    lwip.wait_for_log("sntp 172.16.0.1: no valid answer", Duration::from_secs(15));
    let log = lwip.log();
    assert_eq!(
        log.matches("resolve bad.lab.test: no such record from 172.16.0.1")
            .count(),
        1,
        "{log}"
    );
    assert_eq!(
        log.matches("sntp 172.16.0.1: no valid answer within 5 s")
            .count(),
        1
    );
    let bad = fs::read_to_string(ns.dir.path().join("bad-dns.log")).unwrap();
    assert!(bad.contains("with 8 malformed"), "{bad}");
    let bad = fs::read_to_string(ns.dir.path().join("bad-ntp.log")).unwrap();
    assert!(bad.contains("with 5 malformed"), "{bad}");
    // lwIP's timers settle (the DNS client's sockets stay: lwIP keeps up to
    // DNS_MAX_SOURCE_PORTS of them for later queries).
    std::thread::sleep(Duration::from_millis(500));
    let after = lwip.stats();
    for (pool, used) in &after.0 {
        if pool == "MLD6_GROUP" {
            // IPv6 joins its groups as duplicate address detection goes.
            continue;
        }
        let allowed = baseline.used(pool) + if pool == "UDP_PCB" { 4 } else { 0 };
        assert!(
            *used <= allowed,
            "{pool}: {used} in use, {} without clients\n{after:?}\n{baseline:?}",
            baseline.used(pool)
        );
    }
    let status = lwip.stop_with(libc::SIGTERM);
    assert_eq!(status.code(), Some(1), "{}", lwip.log());
}
