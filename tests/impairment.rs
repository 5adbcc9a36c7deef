//! Impairment (`-i …,loss=5,delay=50,…`): lwIP on a bad link, against the
//! real tools.

mod common;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::tools::parse_ping;
use common::{LwipTap, Netns, TempDir, LWIP_ADDR, TRANSIENT_SPEC};
use lwip_tap::config::{Addressing, CaptureConfig, Config, InterfaceConfig};
use lwip_tap::stack::Stack;
use lwip_tap::wire::arp::{self, ArpPacket};
use lwip_tap::wire::{builder, EtherType, EthernetFrame};

/// The counters of one direction ("in" or "out") from the last
/// `stats: IFACE impair in: … ; out: …` line in the log.
fn impair_counter(log: &str, way: &str, counter: &str) -> u64 {
    let line = log
        .lines()
        .rfind(|l| l.contains(" impair in: "))
        .unwrap_or_else(|| panic!("no impairment statistics in:\n{log}"));
    let part = line
        .split(&format!("{way}: "))
        .nth(1)
        .unwrap_or_else(|| panic!("{line}"));
    let words: Vec<&str> = part.split([' ', ';']).collect();
    let at = words
        .iter()
        .position(|w| *w == counter)
        .unwrap_or_else(|| panic!("no {counter} in {line}"));
    words[at + 1].parse().unwrap()
}

/// lwIP's counter `field` of protocol `proto` from the last `--stats` block
/// (0 for a protocol left out of it: all its counters are 0).
fn lwip_counter(log: &str, proto: &str, field: &str) -> u64 {
    // The block after the impairment stage's line, which every
    // interface here has.
    let (_, block) = log
        .rsplit_once(" impair in: ")
        .unwrap_or_else(|| panic!("no statistics in:\n{log}"));
    assert!(
        block.contains("unused pools and protocols left out"),
        "{log}"
    );
    let Some(line) = block
        .lines()
        .find(|l| l.contains(&format!("stats: {proto} xmit ")))
    else {
        return 0;
    };
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == field).unwrap();
    words[at + 1].parse().unwrap()
}

/// Starts lwip-tap on a transient TAP with `keys` added to its `-i` and
/// waits until it has set the interface up (without sending it anything).
fn impaired_lwip_tap(ns: &Netns, keys: &str, flags: &[&str]) -> LwipTap {
    let spec = format!("{TRANSIENT_SPEC},{keys}");
    let mut args = vec!["-i", spec.as_str()];
    args.extend_from_slice(flags);
    let mut lwip = ns.spawn_lwip_tap(&args);
    lwip.wait_for_log(": mac", Duration::from_secs(10));
    lwip
}

#[test]
fn a_mebibyte_echoed_over_5_percent_loss_both_ways_comes_back_intact() {
    require_network!("nc", "cmp", "tshark");
    let ns = Netns::new("lossecho");
    let dir = ns.dir.path().display().to_string();
    // The capture sees lwIP's segments before the loss does, so it shows
    // what lwIP sent again. (lwIP's own statistics count no retransmission
    // by timeout, and MIB2's counter only fast ones.)
    let keys = format!("loss=5,pcap={dir}/lwip.pcapng");
    let mut lwip = impaired_lwip_tap(&ns, &keys, &["-E", "--stats"]);
    assert!(ns.wait_for_ping(LWIP_ADDR, Duration::from_secs(10)));
    ns.sh(&format!("head -c 1048576 /dev/urandom > {dir}/in"));
    ns.sh(&format!(
        "timeout 120 nc -N -w 30 {LWIP_ADDR} 7 < {dir}/in > {dir}/out"
    ));
    let cmp = ns.run(&format!("cmp {dir}/in {dir}/out"));
    assert!(cmp.status.success(), "echo differs:\n{}", lwip.log());
    assert!(lwip.stop_with(libc::SIGTERM).success());
    let log = lwip.log();
    for way in ["in", "out"] {
        let frames = impair_counter(&log, way, "frames");
        let lost = impair_counter(&log, way, "lost");
        assert!(frames > 500 && lost > 0, "{way}: {lost} of {frames}\n{log}");
        // 5 %, within what chance allows for this many frames.
        let share = lost as f64 / frames as f64;
        assert!((0.02..0.09).contains(&share), "{way}: {lost} of {frames}");
    }
    let retransmitted = ns.sh(&format!(
        "tshark -r {dir}/lwip.pcapng -Y 'tcp.analysis.retransmission && ip.src == {LWIP_ADDR}' \
         -T fields -e frame.number 2>/dev/null | wc -l"
    ));
    let retransmitted: u64 = retransmitted.trim().parse().unwrap();
    assert!(retransmitted > 0, "lwIP retransmitted nothing:\n{log}");
}

/// The host side of the link in [`lost_pings`].
#[derive(Clone, Copy)]
enum HostSide {
    /// A transient TAP: the host side has no IPv6 (lwIP asks for none), so
    /// the host sends lwIP nothing of its own.
    Transient,
    /// A TAP of the test's own, with IPv6 on the host side and an IPv6
    /// address on lwIP's side: the host's solicitations, MLD reports and
    /// an IPv6 ping of lwIP come between the pings, at moments that differ
    /// from run to run.
    Noisy,
}

/// The sequence numbers of the pings of `ping -c 50 -i 0.05` that got no
/// reply, with `loss=20` and `--seed seed`.
fn lost_pings(side: HostSide, seed: &str) -> BTreeSet<u32> {
    let ns = Netns::new("seed");
    let spec = match side {
        HostSide::Transient => format!("{TRANSIENT_SPEC},loss=20"),
        HostSide::Noisy => {
            ns.add_tap("tap0", Some("172.16.0.1/24"));
            ns.sh("ip addr add 2001:db8:5::1/64 dev tap0 nodad");
            let mut noise = ns.command("ping");
            noise.args(["-6", "-n", "-i", "0.07", "-w", "8", "2001:db8:5::2"]);
            ns.start_helper(noise, "ping6.log");
            format!("name=tap0,{TRANSIENT_SPEC},addr6=2001:db8:5::2,loss=20")
        }
    };
    let mut lwip = ns.spawn_lwip_tap(&["-i", &spec, "--seed", seed, "--stats"]);
    lwip.wait_for_log(": mac", Duration::from_secs(10));
    if let HostSide::Transient = side {
        let host = ns.sh("cat /proc/sys/net/ipv6/conf/tap0/disable_ipv6");
        assert_eq!(host.trim(), "1", "the host side keeps IPv6");
    }
    let out = ns.run(&format!("ping -n -c 50 -i 0.05 -W 2 {LWIP_ADDR}"));
    let text = String::from_utf8_lossy(&out.stdout);
    let answered: BTreeSet<u32> = text
        .lines()
        .filter_map(|l| l.split("icmp_seq=").nth(1))
        .filter_map(|s| s.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(!answered.is_empty(), "{text}");
    if let HostSide::Noisy = side {
        // The noise was there: lwIP received IPv6 frames of the host's.
        assert!(lwip.stop_with(libc::SIGTERM).success());
        let log = lwip.log();
        let v6 = lwip_counter(&log, "IP6", "recv");
        assert!(v6 >= 5, "only {v6} IPv6 packets from the host:\n{log}");
    }
    (1..=50).filter(|n| !answered.contains(n)).collect()
}

#[test]
fn the_same_seed_loses_the_same_pings_whatever_else_the_host_sends() {
    require_network!("ping");
    // Three runs with the host's own IPv6 traffic (a new MAC, so new
    // link-local addresses, each run) and one without it: the same pings.
    let first = lost_pings(HostSide::Noisy, "1");
    assert!(!first.is_empty() && first.len() < 30, "{first:?}");
    assert_eq!(lost_pings(HostSide::Noisy, "1"), first);
    assert_eq!(lost_pings(HostSide::Noisy, "1"), first);
    assert_eq!(lost_pings(HostSide::Transient, "1"), first);
    assert_ne!(lost_pings(HostSide::Transient, "2"), first);
}

#[test]
fn corrupted_frames_are_caught_by_lwips_checksum_checks() {
    require_network!("ping");
    let ns = Netns::new("corrupt");
    let mut lwip = impaired_lwip_tap(&ns, "corrupt-in=20", &["--stats"]);
    assert!(ns.wait_for_ping(LWIP_ADDR, Duration::from_secs(10)));
    // Large pings: most flipped bits land in the ICMP data, which only the
    // ICMP checksum covers.
    ns.ping(&format!("{LWIP_ADDR} -s 1000"), 100, "0.01");
    assert!(ns.wait_for_ping(LWIP_ADDR, Duration::from_secs(10)));
    assert!(lwip.stop_with(libc::SIGTERM).success(), "{}", lwip.log());
    let log = lwip.log();
    let corrupted = impair_counter(&log, "in", "corrupted");
    let caught: u64 = ["IP", "ICMP", "TCP", "UDP", "ETHARP"]
        .iter()
        .map(|p| lwip_counter(&log, p, "chkerr"))
        .sum();
    assert!(
        corrupted >= 10 && caught >= 5,
        "corrupted {corrupted}, caught {caught}\n{log}"
    );
    assert!(caught <= corrupted, "{log}");
}

#[test]
fn a_delay_of_50_ms_each_way_makes_the_round_trip_at_least_100_ms() {
    require_network!("ping");
    let ns = Netns::new("delay");
    let lwip = impaired_lwip_tap(&ns, "delay=50", &[]);
    assert!(ns.wait_for_ping(LWIP_ADDR, Duration::from_secs(10)));
    let out = ns.sh(&format!("ping -n -c 5 -i 0.2 {LWIP_ADDR}"));
    let summary = parse_ping(&out).unwrap_or_else(|| panic!("{out}"));
    assert_eq!(summary.received, 5, "{out}");
    let [min, _, max, _] = summary.rtt.unwrap();
    assert!(min >= 100.0 && max < 1000.0, "{out}\n{}", lwip.log());
}

#[test]
fn a_rate_limit_of_50_mbits_shapes_iperf_to_it() {
    require_network!("iperf");
    let ns = Netns::new("rate");
    let mut lwip = impaired_lwip_tap(&ns, "rate=50", &["-s", "--stats"]);
    assert!(ns.wait_for_ping(LWIP_ADDR, Duration::from_secs(10)));
    ns.sh(&format!("iperf -c {LWIP_ADDR} -p 5001 -t 4"));
    let line = lwip.wait_for_log("iperf: 172.16.0.1 port", Duration::from_secs(20));
    let mbits: f64 = line
        .split(", ")
        .find_map(|p| p.strip_suffix(" Mbit/s"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    // TCP's payload is 1448 of each 1514-byte frame: 47.8 Mbit/s.
    assert!((42.5..=57.5).contains(&mbits), "{line}");
    // Shaped, not policed: the queue absorbed the bursts.
    assert!(lwip.stop_with(libc::SIGTERM).success());
    let log = lwip.log();
    assert_eq!(impair_counter(&log, "in", "overflow"), 0, "{log}");
    assert_eq!(impair_counter(&log, "in", "lost"), 0, "{log}");
}

#[test]
fn frames_over_max_frame_are_dropped() {
    require_network!("ping");
    let ns = Netns::new("maxframe");
    let mut lwip = impaired_lwip_tap(&ns, "max-frame-in=1000", &["--stats"]);
    assert!(ns.wait_for_ping(LWIP_ADDR, Duration::from_secs(10)));
    assert_eq!(ns.ping(&format!("{LWIP_ADDR} -s 958"), 3, "0.05"), 3);
    assert_eq!(ns.ping(&format!("{LWIP_ADDR} -s 959"), 3, "0.05"), 0);
    assert!(lwip.stop_with(libc::SIGTERM).success());
    assert_eq!(impair_counter(&lwip.log(), "in", "oversize"), 3);
}

#[test]
fn bad_impairment_arguments_are_refused_in_one_line() {
    require_network!();
    let ns = Netns::new("impairbad");
    for (keys, expected) in [
        ("loss=101", "loss=101 is not a percentage from 0 to 100"),
        (
            "delay-out=-1",
            "delay-out=-1 is not a number of milliseconds",
        ),
        ("rate=0", "rate=0 is not a rate in Mbit/s"),
        ("wobble=3", "unknown key 'wobble'"),
        ("loss=1,offload=on", "cannot be combined with impairment"),
    ] {
        let err = ns.lwip_tap_refuses("", &format!("-i {TRANSIENT_SPEC},{keys}"), 2);
        assert!(err.contains(expected), "{keys}: {err}");
    }
    let err = ns.lwip_tap_refuses("", &format!("-i {TRANSIENT_SPEC} --seed x"), 2);
    assert!(err.contains("'x'"), "{err}");
}

/// The library way, in-process (no TAP, no privileges; the only stack of
/// this test binary): a frame delayed on its way in reaches lwIP only when
/// due, from `Stack::poll`, and the capture records it when lwIP gets it.
#[test]
fn in_process_a_delayed_frame_reaches_lwip_when_due_and_is_captured() {
    const LWIP_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
    const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
    let request = builder::arp(
        arp::REQUEST,
        (HOST_MAC, Ipv4Addr::new(10, 0, 0, 1)),
        ([0; 6], Ipv4Addr::new(10, 0, 0, 2)),
    );
    let arp_request = builder::ethernet([0xff; 6], HOST_MAC, EtherType::Arp, &request);
    let is_arp_reply = |f: &[u8]| {
        EthernetFrame::new_checked(f).is_ok_and(|frame| {
            frame.ethertype() == EtherType::Arp
                && ArpPacket::new_checked(frame.payload())
                    .is_ok_and(|a| a.operation() == arp::REPLY)
        })
    };

    let dir = TempDir::new("inproc");
    let file = dir.path().join("a.pcapng");
    let mut interface = InterfaceConfig::in_process(
        "a",
        LWIP_MAC,
        Addressing::Static {
            addr: Ipv4Addr::new(10, 0, 0, 2),
            netmask: Ipv4Addr::new(255, 255, 255, 0),
            gw: None,
        },
    );
    interface.impairments.inbound.delay = Duration::from_millis(30);
    interface.capture = Some(CaptureConfig::new(&file));
    let config = Config {
        interfaces: vec![interface],
        seed: Some(1),
        ..Config::default()
    };
    let mut stack = Stack::new(&config).unwrap();
    let port = stack.in_process_port(0).unwrap();
    while port.take_sent().is_some() {}
    let sent = Instant::now();
    stack.inject(0, &arp_request, false).unwrap();
    let replied = loop {
        stack.poll().unwrap();
        if let Some(frame) = port.take_sent() {
            if is_arp_reply(&frame) {
                break sent.elapsed();
            }
        }
        assert!(sent.elapsed() < Duration::from_secs(5), "no ARP reply");
        std::thread::sleep(Duration::from_millis(1));
    };
    assert!(replied >= Duration::from_millis(30), "{replied:?}");
    // Dropping the stack writes the capture out: a pcapng file (section
    // header block first) holding the request as lwIP received it.
    drop(stack);
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(bytes[..4], [0x0a, 0x0d, 0x0d, 0x0a]);
    let at = bytes
        .windows(arp_request.len())
        .position(|w| w == arp_request.as_slice());
    assert!(at.is_some(), "the request is not in the capture");
}
