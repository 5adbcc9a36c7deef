//! Capture (`-i …,pcap=FILE`): what lwIP received and sent, read back with
//! tcpdump and tshark.

mod common;

use std::time::Duration;

use common::{Netns, LWIP_ADDR, TRANSIENT_SPEC};

/// `tshark -r FILE -T fields -e …` for the frames matching `filter`; fails
/// the test if tshark reports anything on stderr (but its warning about
/// running as root). Hexadecimal values come back in decimal (tshark
/// versions differ in how many digits they print).
fn tshark_fields(ns: &Netns, file: &str, filter: &str, fields: &[&str]) -> Vec<String> {
    let fields: Vec<String> = fields.iter().map(|f| format!("-e {f}")).collect();
    let out = ns.run(&format!(
        "tshark -n -r {file} -Y '{filter}' -T fields -E separator=' ' {}",
        fields.join(" ")
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    let complaints = err
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("Running as user \"root\""))
        .count();
    assert!(
        out.status.success() && complaints == 0,
        "tshark ({}): {err}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    let decimal = |word: &str| match word.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).map_or(word.to_string(), |n| n.to_string()),
        None => word.to_string(),
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split(' ').map(decimal).collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn tcpdump_shows_the_pings_and_a_tcp_handshake_lwip_received_and_sent() {
    require_network!("ping", "nc", "tcpdump", "tshark");
    let ns = Netns::new("pcap");
    let file = ns.dir.path().join("lwip.pcapng").display().to_string();
    let spec = format!("{TRANSIENT_SPEC},pcap={file}");
    let mut lwip = ns.spawn_lwip_tap(&["-i", &spec, "-E"]);
    lwip.wait_for_log(": mac", Duration::from_secs(10));
    assert_eq!(ns.ping(LWIP_ADDR, 5, "0.05"), 5, "{}", lwip.log());
    assert_eq!(
        ns.sh(&format!("echo hi | nc -N -w 5 {LWIP_ADDR} 7")),
        "hi\n"
    );
    // The file is complete once lwip-tap has exited.
    assert!(lwip.stop_with(libc::SIGTERM).success(), "{}", lwip.log());
    assert!(
        lwip.log().contains("records written: tap0 "),
        "{}",
        lwip.log()
    );

    let text = ns.sh(&format!("tcpdump -n -r {file} 2>/dev/null"));
    for seq in 1..=5 {
        let request = format!("172.16.0.1 > {LWIP_ADDR}: ICMP echo request, id");
        let reply = format!("{LWIP_ADDR} > 172.16.0.1: ICMP echo reply, id");
        let has = |what: &str| {
            text.lines()
                .any(|l| l.contains(what) && l.contains(&format!("seq {seq},")))
        };
        assert!(has(&request) && has(&reply), "ping {seq}:\n{text}");
    }
    let handshake = [
        format!("172.16.0.1.* > {LWIP_ADDR}.7: Flags [S],"),
        format!("{LWIP_ADDR}.7 > 172.16.0.1.*: Flags [S.],"),
        format!("172.16.0.1.* > {LWIP_ADDR}.7: Flags [.],"),
    ];
    let mut lines = text.lines();
    for step in &handshake {
        let (before, after) = step.split_once('*').unwrap();
        assert!(
            lines.any(|l| l.contains(before) && l.contains(after)),
            "no {step:?} in order:\n{text}"
        );
    }

    // tshark reads it without a complaint, and knows the interface and
    // which way each frame went: requests in (1), replies out (2).
    let icmp = tshark_fields(
        &ns,
        &file,
        "icmp",
        &[
            "frame.interface_name",
            "frame.packet_flags_direction",
            "icmp.type",
        ],
    );
    let count = |line: &str| icmp.iter().filter(|l| l.as_str() == line).count();
    assert!(count("tap0 1 8") >= 5, "{icmp:?}");
    assert!(count("tap0 2 0") >= 5, "{icmp:?}");
}

/// A router that captures both interfaces into one file: each forwarded
/// packet appears twice, once on each interface.
#[test]
fn a_router_capture_shows_forwarded_packets_on_both_interfaces() {
    require_network!("ping", "tshark");
    let ns = Netns::new("pcaprouter");
    let client = Netns::new("pcapclient");
    ns.add_tap("tap0", Some("10.10.0.1/24"));
    ns.sh("ip route add 10.10.1.0/24 via 10.10.0.2");
    ns.add_bridge("br1", None);
    ns.add_tap("tap1", None);
    ns.sh(&format!(
        "ip link set dev tap1 master br1 && \
         ip link add veth0 type veth peer name veth1 netns {} && \
         ip link set dev veth0 master br1 && ip link set dev veth0 up",
        client.name()
    ));
    client.sh(
        "ip addr add 10.10.1.100/24 dev veth1 && ip link set dev veth1 up && \
         ip route add default via 10.10.1.1",
    );
    let file = ns.dir.path().join("router.pcapng").display().to_string();
    let mut lwip = common::start_lwip_tap(
        &ns,
        &[
            "-i",
            &format!("name=tap0,addr=10.10.0.2,netmask=255.255.255.0,pcap={file}"),
            "-i",
            &format!("name=tap1,addr=10.10.1.1,netmask=255.255.255.0,pcap={file}"),
        ],
    );
    assert!(
        ns.wait_for_ping("10.10.1.100", Duration::from_secs(10)),
        "{}",
        lwip.log()
    );
    assert_eq!(ns.ping("10.10.1.100", 3, "0.05"), 3);
    assert!(lwip.stop_with(libc::SIGTERM).success(), "{}", lwip.log());

    let icmp = tshark_fields(
        &ns,
        &file,
        "icmp && ip.addr == 10.10.1.100",
        &[
            "frame.interface_name",
            "frame.packet_flags_direction",
            "icmp.type",
            "icmp.seq",
        ],
    );
    let has = |line: &str| icmp.iter().any(|l| l == line);
    for seq in 1..=3 {
        // The request comes in on tap0 and leaves on tap1; the reply the
        // other way round.
        for line in [
            format!("tap0 1 8 {seq}"),
            format!("tap1 2 8 {seq}"),
            format!("tap1 1 0 {seq}"),
            format!("tap0 2 0 {seq}"),
        ] {
            assert!(has(&line), "no {line:?} in {icmp:#?}");
        }
    }
}

/// A full disk while running: one warning, the capture stops and counts what
/// it lost, lwIP goes on. (/dev/full opens but every write fails.)
#[test]
fn a_full_disk_stops_the_capture_with_one_warning_and_lwip_goes_on() {
    require_network!("ping");
    let ns = Netns::new("pcapfull");
    let spec = format!("{TRANSIENT_SPEC},pcap=/dev/full");
    let mut lwip = ns.spawn_lwip_tap(&["-i", &spec, "--stats"]);
    lwip.wait_for_log(": mac", Duration::from_secs(10));
    assert!(ns.wait_for_ping(LWIP_ADDR, Duration::from_secs(10)));
    // SIGUSR1 flushes: the write fails.
    lwip.stats();
    lwip.wait_for_log("capture stopped", Duration::from_secs(5));
    assert_eq!(ns.ping(LWIP_ADDR, 5, "0.05"), 5, "{}", lwip.log());
    lwip.stats();
    assert!(lwip.stop_with(libc::SIGTERM).success(), "{}", lwip.log());
    let log = lwip.log();
    assert_eq!(log.matches("capture stopped").count(), 1, "{log}");
    let line = log
        .lines()
        .rfind(|l| l.contains("stats: tap0 pcap /dev/full"))
        .unwrap_or_else(|| panic!("{log}"));
    let lost: u64 = line
        .split("lost ")
        .nth(1)
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    // At least the five pings and their replies after the failure.
    assert!(lost >= 10, "{line}");
}

#[test]
fn bad_capture_arguments_and_an_unwritable_path_are_refused_in_one_line() {
    require_network!();
    let ns = Netns::new("pcapbad");
    let err = ns.lwip_tap_refuses(
        "",
        &format!("-i {TRANSIENT_SPEC},pcap=/no/such/dir/x.pcapng"),
        1,
    );
    assert!(
        err.contains("pcap=/no/such/dir/x.pcapng: cannot open it for writing"),
        "{err}"
    );
    let dir = ns.dir.path().display().to_string();
    let err = ns.lwip_tap_refuses("", &format!("-i {TRANSIENT_SPEC},pcap={dir}"), 1);
    assert!(err.contains("cannot open it for writing"), "{err}");
    // Refused before any device was touched: no TAP was made.
    assert!(!ns.link_exists("tap0"));
    let err = ns.lwip_tap_refuses("", &format!("-i {TRANSIENT_SPEC},pcap=x,snaplen=0"), 2);
    assert!(
        err.contains("snaplen=0 is not a number from 1 to 65535"),
        "{err}"
    );
    let err = ns.lwip_tap_refuses("", &format!("-i {TRANSIENT_SPEC},snaplen=100"), 2);
    assert!(err.contains("snaplen= needs pcap="), "{err}");
}

/// snaplen= cuts each record but keeps the frame's length.
#[test]
fn snaplen_cuts_records_but_keeps_frame_lengths() {
    require_network!("ping", "tshark");
    let ns = Netns::new("pcapsnap");
    let file = ns.dir.path().join("snap.pcapng").display().to_string();
    let spec = format!("{TRANSIENT_SPEC},pcap={file},snaplen=64");
    let mut lwip = ns.spawn_lwip_tap(&["-i", &spec]);
    lwip.wait_for_log(": mac", Duration::from_secs(10));
    assert!(ns.wait_for_ping(LWIP_ADDR, Duration::from_secs(10)));
    assert_eq!(ns.ping(&format!("{LWIP_ADDR} -s 1000"), 2, "0.05"), 2);
    assert!(lwip.stop_with(libc::SIGTERM).success());
    let lengths = tshark_fields(
        &ns,
        &file,
        "frame.len == 1042",
        &["frame.cap_len", "frame.len"],
    );
    assert!(lengths.len() >= 4, "{lengths:?}");
    assert!(lengths.iter().all(|l| l == "64 1042"), "{lengths:?}");
}

/// The capture is written at least once a second while lwip-tap runs, so
/// `tshark -r` reads the frames live, without SIGUSR1.
#[test]
fn tshark_reads_the_capture_while_lwip_tap_runs() {
    require_network!("ping", "tshark");
    let ns = Netns::new("pcaplive");
    let file = ns.dir.path().join("live.pcapng").display().to_string();
    let spec = format!("{TRANSIENT_SPEC},pcap={file}");
    let mut lwip = ns.spawn_lwip_tap(&["-i", &spec]);
    let line = lwip.wait_for_log("capturing into", Duration::from_secs(10));
    assert!(line.contains("buffered: written within 1 s"), "{line}");
    assert!(ns.wait_for_ping(LWIP_ADDR, Duration::from_secs(10)));
    assert_eq!(ns.ping(LWIP_ADDR, 3, "0.05"), 3, "{}", lwip.log());
    let sent = std::time::Instant::now();
    let mut replies = Vec::new();
    let seen = common::wait_until(Duration::from_secs(2), || {
        replies = tshark_fields(&ns, &file, "icmp.type == 0", &["icmp.seq"]);
        replies.len() >= 3
    });
    let latency = sent.elapsed();
    assert!(seen, "after {latency:?}: {replies:?}\n{}", lwip.log());
    eprintln!("the last replies were in the file {latency:?} after the ping ended");
    assert!(lwip.is_running());
    assert!(!lwip.log().contains("stats:"), "{}", lwip.log());
    assert!(lwip.stop_with(libc::SIGTERM).success(), "{}", lwip.log());
}

/// The last line of standard output that is a JSON object (`--stats=json`
/// prints one per report; the log file holds both streams).
fn last_json(log: &str) -> serde_json::Value {
    let line = log
        .lines()
        .rfind(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line in:\n{log}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

/// Sends SIGUSR1 and returns the JSON report it prints.
fn json_stats(lwip: &mut common::LwipTap) -> serde_json::Value {
    let reports = |log: &str| log.lines().filter(|l| l.starts_with('{')).count();
    let before = reports(&lwip.log());
    lwip.signal(libc::SIGUSR1);
    assert!(
        common::wait_until(Duration::from_secs(5), || reports(&lwip.log()) > before),
        "no JSON after SIGUSR1:\n{}",
        lwip.log()
    );
    last_json(&lwip.log())
}

/// `--stats=json`: every counter in one JSON line, on SIGUSR1 and on exit;
/// seven pings show as seven ICMP requests received and seven replies sent.
#[test]
fn json_statistics_count_the_pings() {
    require_network!("ping");
    let ns = Netns::new("statsjson");
    let file = ns.dir.path().join("s.pcapng").display().to_string();
    let spec = format!("{TRANSIENT_SPEC},pcap={file},max-frame=9000");
    let mut lwip = ns.spawn_lwip_tap(&["-i", &spec, "-E", "--stats=json"]);
    lwip.wait_for_log(": mac", Duration::from_secs(10));
    assert!(ns.wait_for_ping(LWIP_ADDR, Duration::from_secs(10)));
    let before = json_stats(&mut lwip);
    assert_eq!(ns.ping(LWIP_ADDR, 7, "0.05"), 7, "{}", lwip.log());
    let after = json_stats(&mut lwip);
    let icmp = |v: &serde_json::Value, k: &str| v["protocols"]["ICMP"][k].as_u64().unwrap();
    assert_eq!(icmp(&after, "recv") - icmp(&before, "recv"), 7, "{after}");
    assert_eq!(icmp(&after, "xmit") - icmp(&before, "xmit"), 7, "{after}");
    let tap0 = &after["interfaces"]["tap0"];
    let rx = |v: &serde_json::Value| v["interfaces"]["tap0"]["rx"].as_u64().unwrap();
    assert!(rx(&after) - rx(&before) >= 7, "{after}");
    assert!(tap0["tx_errors"].is_u64(), "{tap0}");
    // The stages' counters: the capture, and the impairment each way.
    assert!(tap0["pcap"]["written"].as_u64().unwrap() >= 14, "{tap0}");
    assert!(
        tap0["impair"]["out"]["frames"].as_u64().unwrap() >= 7,
        "{tap0}"
    );
    assert_eq!(tap0["impair"]["in"]["oversize"], 0, "{tap0}");
    // Every pool and protocol, the unused ones too.
    let pools = after["pools"].as_object().unwrap();
    assert!(pools["HEAP"]["avail"].as_u64().unwrap() > 0, "{after}");
    assert!(
        pools
            .values()
            .any(|p| p["used"] == 0 && p["max"] == 0 && p["err"] == 0),
        "{after}"
    );
    for proto in [
        "ETHARP", "IP", "IP_FRAG", "ICMP", "UDP", "TCP", "IP6", "ICMP6", "ND6",
    ] {
        assert!(
            after["protocols"][proto]["drop"].is_u64(),
            "{proto}: {after}"
        );
    }
    // No text report besides.
    assert!(!lwip.log().contains("stats: ICMP"), "{}", lwip.log());
    assert!(lwip.stop_with(libc::SIGTERM).success(), "{}", lwip.log());
    let last = last_json(&lwip.log());
    assert!(icmp(&last, "recv") >= icmp(&after, "recv"), "{last}");
}

/// `--stats` as text leaves out the pools and protocols with nothing in
/// them, and says how many it left out.
#[test]
fn text_statistics_leave_out_rows_of_zeros() {
    require_network!("ping");
    let ns = Netns::new("statstext");
    let mut lwip = ns.transient_lwip_tap(&["--stats"]);
    assert_eq!(ns.ping(LWIP_ADDR, 2, "0.05"), 2);
    assert!(lwip.stop_with(libc::SIGTERM).success(), "{}", lwip.log());
    let log = lwip.log();
    let rows: Vec<Vec<&str>> = log
        .lines()
        .filter_map(|l| l.split("stats: ").nth(1))
        .map(|r| r.split_whitespace().collect())
        .filter(|w: &Vec<&str>| !w[0].starts_with("tap") && w.len() > 2)
        .collect();
    let numbers =
        |w: &Vec<&str>| -> Vec<u64> { w.iter().skip(1).filter_map(|n| n.parse().ok()).collect() };
    let mut shown = 0;
    for row in &rows {
        if row[1] == "used" {
            // used, max, avail, err: avail is the pool's size.
            let n = numbers(row);
            assert!(n[0] + n[1] + n[3] > 0, "{row:?}\n{log}");
            shown += 1;
        } else if row[1] == "xmit" {
            assert!(numbers(row).iter().any(|n| *n > 0), "{row:?}\n{log}");
            shown += 1;
        }
    }
    let end = log
        .lines()
        .find(|l| l.contains("unused pools and protocols left out"))
        .unwrap_or_else(|| panic!("{log}"));
    let left_out: u64 = end
        .split("stats: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{end}"));
    assert!(left_out > 0 && shown > 0, "{log}");
    eprintln!("text statistics: {shown} rows shown, {left_out} left out");
}
