//! Malformed frames and floods: lwip-tap keeps serving, counts what it
//! drops, and its memory comes back to where it was.

mod common;

use std::time::{Duration, Instant};

use common::{LwipTap, Netns, Stats};

const FRAMES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/frames.py");

/// A persistent tap0 (host 172.16.0.1) with lwip-tap at 172.16.0.2 and
/// 2001:db8:1::2 serving echo and HTTP. Returns lwIP's MAC too.
fn serving(ns: &Netns) -> (LwipTap, String) {
    ns.add_tap("tap0", Some("172.16.0.1/24"));
    ns.sh("ip addr add 2001:db8:1::1/64 dev tap0 nodad");
    let mut lwip = common::start_lwip_tap(
        ns,
        &[
            "-i",
            "name=tap0,addr=172.16.0.2,netmask=255.255.255.0,gw=172.16.0.1,addr6=2001:db8:1::2",
            "-E",
            "-H",
        ],
    );
    assert!(
        ns.wait_for_ping("172.16.0.2", Duration::from_secs(10)),
        "{}",
        lwip.log()
    );
    let mac = lwip.mac("tap0");
    (lwip, mac)
}

fn frames(ns: &Netns, args: &str) -> String {
    ns.sh(&format!("/usr/bin/python3 {FRAMES} {args}"))
}

/// ping (IPv4 and IPv6), TCP echo and HTTP all still work.
fn assert_serving(ns: &Netns, lwip: &LwipTap) {
    assert_eq!(ns.ping("172.16.0.2", 3, "0.05"), 3, "{}", lwip.log());
    assert!(
        ns.wait_for_ping("2001:db8:1::2", Duration::from_secs(5)),
        "{}",
        lwip.log()
    );
    assert_eq!(
        ns.sh("echo still-here | nc -N -w 5 172.16.0.2 7"),
        "still-here\n"
    );
    let code = ns.sh("curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://172.16.0.2/");
    assert_eq!(code, "200");
}

/// Waits (up to `timeout`) until no pool holds more than it did in `before`
/// (lwIP frees reassembly buffers and neighbour queues on its timers).
fn assert_pools_settle(lwip: &mut LwipTap, before: &Stats, timeout: Duration) {
    let pools = [
        "PBUF_POOL",
        "PBUF_REF/ROM",
        "HEAP",
        "TCP_SEG",
        "REASSDATA",
        "IP6_REASSDATA",
        "ND6_QUEUE",
        "ARP_QUEUE",
        "FRAG_PBUF",
        "UDP_PCB",
    ];
    let settled = common::wait_until(timeout, || {
        let now = lwip.stats();
        pools.iter().all(|p| now.used(p) <= before.used(p))
    });
    assert!(settled, "before {before:?}\nafter {:?}", lwip.stats());
}

fn rx_counters(log: &str) -> String {
    log.lines()
        .rev()
        .find(|l| l.contains("stats: tap0 rx"))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn thousands_of_malformed_frames_crash_nothing_and_leak_nothing() {
    require_network!("ping", "nc", "curl");
    let ns = Netns::new("malformed");
    let (mut lwip, mac) = serving(&ns);
    let before = lwip.stats();
    // Let the host side carry frames longer than lwIP's MTU of 1500.
    ns.sh("ip link set dev tap0 mtu 9000");
    let out = frames(
        &ns,
        &format!("malformed tap0 {mac} 172.16.0.2 172.16.0.1 1"),
    );
    let sent: u64 = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(sent > 20_000, "{out}");
    assert!(
        lwip.wait(Duration::from_millis(100)).is_none(),
        "lwip-tap died:\n{}",
        lwip.log()
    );
    // IPv6 reassembly gives up after 60 s; everything else is quicker.
    assert_pools_settle(&mut lwip, &before, Duration::from_secs(75));
    assert_serving(&ns, &lwip);
}

/// Without receive offload (a stack with two interfaces), lwIP's buffers
/// hold one MTU-sized frame; longer frames are dropped and counted.
#[test]
fn frames_longer_than_the_mtu_are_dropped_and_counted() {
    require_network!("ping");
    let ns = Netns::new("oversize");
    ns.add_tap("tap0", Some("172.16.0.1/24"));
    ns.add_tap("tap1", Some("172.16.1.1/24"));
    let mut lwip = common::start_lwip_tap(
        &ns,
        &[
            "-i",
            "name=tap0,addr=172.16.0.2,netmask=255.255.255.0",
            "-i",
            "name=tap1,addr=172.16.1.2,netmask=255.255.255.0",
        ],
    );
    assert!(ns.wait_for_ping("172.16.0.2", Duration::from_secs(10)));
    let mac = lwip.mac("tap0");
    ns.sh("ip link set dev tap0 mtu 9000");
    let out = frames(&ns, &format!("oversize tap0 {mac} 172.16.0.2 172.16.0.1"));
    assert!(out.starts_with("sent 4"), "{out}");
    lwip.stats();
    let counters = rx_counters(&lwip.log());
    assert!(counters.contains("rx-oversize 4 "), "{counters}");
    assert_eq!(ns.ping("172.16.0.2", 3, "0.05"), 3);
}

#[test]
fn a_syn_flood_leaves_http_and_echo_serving_within_seconds() {
    require_network!("curl", "nc");
    let ns = Netns::new("synflood");
    let (lwip, mac) = serving(&ns);
    let out = frames(&ns, &format!("synflood tap0 {mac} 172.16.0.2 80 20000"));
    assert!(out.starts_with("sent 20000"), "{out}");
    let start = Instant::now();
    let up = common::wait_until(Duration::from_secs(10), || {
        ns.run("curl -s -o /dev/null --max-time 1 http://172.16.0.2/")
            .status
            .success()
    });
    assert!(up, "HTTP did not recover:\n{}", lwip.log());
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "HTTP took {:?}",
        start.elapsed()
    );
    assert_serving(&ns, &lwip);
}

#[test]
fn ping_and_udp_floods_do_not_grow_memory() {
    require_network!("ping", "nc", "curl");
    let ns = Netns::new("flood");
    let (mut lwip, mac) = serving(&ns);
    let rss = |pid: i32| -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .unwrap()
            .to_string();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let before = lwip.stats();
    let rss_before = rss(lwip.pid());
    let out = ns.sh("ping -f -c 20000 -s 1000 172.16.0.2 | tail -2");
    assert!(out.contains("20000 packets transmitted"), "{out}");
    // Echo requests to port 7 from an address nobody answers ARP for: every
    // reply waits in lwIP's ARP queue, which must stay bounded.
    let out = frames(&ns, &format!("udpflood tap0 {mac} 172.16.0.2 7 20000"));
    assert!(out.starts_with("sent 20000"), "{out}");
    assert_pools_settle(&mut lwip, &before, Duration::from_secs(15));
    let grown = rss(lwip.pid()).saturating_sub(rss_before);
    assert!(grown < 2048, "RSS grew by {grown} kB");
    assert_serving(&ns, &lwip);
}
