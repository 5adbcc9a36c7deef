//! An idle lwip-tap: how often it wakes up, and that sleeping past lwIP's
//! idle timers (lwip/timeouts_glue.c) leaves lwIP's timing as it was: MLD
//! reports still go out within a query's Maximum Response Delay. The DHCP
//! client's timing (dhcp_fine_tmr) is exercised by tests/dhcp.rs.

mod common;

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::Duration;

use common::Netns;

const MLD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/mld.py");

/// The process's voluntary context switches: one per sleep in ppoll.
fn sleeps(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("voluntary_ctxt_switches in /proc/PID/status")
}

/// Once start-up has settled, an idle instance wakes only for lwIP's
/// 1-second timers; mld6_tmr (every 100 ms) and dhcp_fine_tmr (every
/// 500 ms), which have nothing to do, no longer wake it (10 times a second
/// before).
#[test]
fn an_idle_instance_wakes_about_once_a_second() {
    require_network!("sysctl");
    let ns = Netns::new("idlewake");
    // The host side stays silent (no IPv6: no router solicitations, MLD
    // reports or DAD), so every wakeup counted is lwIP's own timers'.
    ns.sh("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
    let mut lwip = ns.spawn_lwip_tap(&["-i", common::TRANSIENT_SPEC]);
    // Start-up: duplicate address detection of the link-local address (on
    // the 1 s timers), MLD's join reports (up to 500 ms after joining).
    lwip.wait_for_log("(link-local) is preferred", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(1500));
    let window = Duration::from_secs(3);
    let before = sleeps(lwip.pid());
    std::thread::sleep(window);
    let woke = sleeps(lwip.pid()) - before;
    let per_second = woke as f64 / window.as_secs_f64();
    assert!(
        per_second < 2.5,
        "{woke} wakeups in {window:?} ({per_second:.1}/s) while idle:\n{}",
        lwip.log()
    );
    // Still alive and answering after sleeping.
    assert!(
        ns.wait_for_ping(common::LWIP_ADDR, Duration::from_secs(5)),
        "{}",
        lwip.log()
    );
}

/// General queries reach an lwIP that has been idle (mld6_tmr slept past):
/// it still reports each of its groups within the Maximum Response Delay
/// (lwIP picks 1 to 9 ticks of 100 ms for 1000 ms), as stock lwIP does.
#[test]
fn mld_reports_answer_a_query_within_its_maximum_response_delay() {
    require_network!("/usr/bin/python3");
    let ns = Netns::new("idlemld");
    ns.add_tap("tap0", Some("10.32.0.1/24"));
    let mut lwip = common::start_lwip_tap(
        &ns,
        &[
            "-i",
            "name=tap0,addr=10.32.0.2,netmask=255.255.255.0,addr6=2001:db8:32::2",
        ],
    );
    let mac = lwip.mac("tap0");
    let link_local = lwip.wait_for_log("(link-local) is preferred", Duration::from_secs(10));
    lwip.wait_for_log(
        "2001:db8:32::2/64 (static) is preferred",
        Duration::from_secs(10),
    );
    // The join reports are out and lwIP is idle before the first query.
    std::thread::sleep(Duration::from_millis(1500));
    let queries = 3;
    let out = ns.sh(&format!(
        "/usr/bin/python3 {MLD} tap0 {mac} 1000 {queries} 1.5"
    ));
    // (query, group) -> milliseconds until lwIP's first report of it.
    let mut first: BTreeMap<(u32, Ipv6Addr), u32> = BTreeMap::new();
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let [_, query, _, group, _, ms] = words[..] else {
            panic!("unexpected line from mld.py: {line}");
        };
        let key = (query.parse().unwrap(), group.parse().unwrap());
        first.entry(key).or_insert(ms.parse().unwrap());
    }
    // The solicited-node groups of the static and the link-local address.
    let link_local: Ipv6Addr = link_local
        .split("IPv6 ")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in {link_local:?}"));
    let groups = [
        solicited_node("2001:db8:32::2".parse().unwrap()),
        solicited_node(link_local),
    ];
    for query in 1..=queries {
        for group in groups {
            let ms = first.get(&(query, group)).unwrap_or_else(|| {
                panic!(
                    "query {query}: no report for {group}:\n{out}\n{}",
                    lwip.log()
                )
            });
            // 1000 ms and a margin for a loaded machine; lwIP's last tick
            // comes at 900 ms.
            assert!(
                *ms <= 1200,
                "query {query}: {group} reported after {ms} ms:\n{out}"
            );
        }
    }
}

/// The solicited-node multicast group of `addr` (ff02::1:ffXX:XXXX).
fn solicited_node(addr: Ipv6Addr) -> Ipv6Addr {
    let [.., a, b, c] = addr.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(a),
        u16::from_be_bytes([b, c]),
    )
}
