//! lwIP as the one that starts traffic: `--iperf-client` against the
//! kernel's `iperf -s`, `--ping`, waiting for a DHCP lease, the exit status
//! and how clients end. (lwIP against lwIP, across a VXLAN tunnel, is in
//! tests/across_hosts.rs.)

mod common;

use std::fs;
use std::time::Duration;

use common::{Netns, TRANSIENT_SPEC};

/// The byte count of a line such as
/// `iperf client: 172.16.0.1:5001: done, 286295804 bytes in 2.000 s, 1145.2 Mbit/s`.
fn reported_bytes(line: &str) -> u64 {
    let before = line.split(" bytes in ").next().unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

/// The README's example: lwIP sends to the kernel's iperf server for 2 s and
/// pings the host, then exits 0; the server receives what lwiperf reports.
#[test]
fn iperf_client_feeds_the_kernels_iperf_server_and_ping_counts_replies() {
    require_network!("iperf", "ss");
    let ns = Netns::new("iperfc");
    let mut iperf = ns.command("iperf");
    iperf.args(["-s", "-y", "C"]);
    ns.start_helper(iperf, "iperf-s.log");
    let server = ns.dir.path().join("iperf-s.log");
    assert!(ns.wait_for_tcp_listener(5001, Duration::from_secs(5)));
    let mut lwip = ns.spawn_lwip_tap(&[
        "-i",
        TRANSIENT_SPEC,
        "--iperf-client",
        "172.16.0.1",
        "--time",
        "2",
        "--ping",
        "172.16.0.1",
        "--count",
        "3",
        "--interval",
        "0.2",
    ]);
    let log = lwip.exits_with(0, Duration::from_secs(20));
    let report = log
        .lines()
        .find(|l| l.contains("iperf client: 172.16.0.1:5001: done, "))
        .unwrap_or_else(|| panic!("no report:\n{log}"));
    let sent = reported_bytes(report);
    assert!(report.contains(" bytes in 2.0"), "{report}");
    assert!(sent > 1_000_000, "{report}");
    for seq in 1..=3 {
        assert!(log.contains(&format!("ping 172.16.0.1: seq {seq}: reply in ")));
    }
    assert!(
        log.contains("ping 172.16.0.1: 3 sent, 3 received, 0% loss, rtt min/avg/max "),
        "{log}"
    );
    // iperf's CSV report: …,interval,bytes,bits/s.
    let mut csv = String::new();
    assert!(common::wait_until(Duration::from_secs(5), || {
        csv = fs::read_to_string(&server).unwrap_or_default();
        csv.lines().any(|l| l.split(',').count() >= 9)
    }));
    let line = csv.lines().find(|l| l.split(',').count() >= 9).unwrap();
    let received: u64 = line.split(',').nth(7).unwrap().parse().unwrap();
    // Everything lwiperf handed to TCP arrived before lwip-tap exited,
    // except what iperf does not count of the 48 header bytes lwiperf
    // sends first (iperf 2.1.8 counts all but 4).
    assert!(
        received <= sent && sent - received <= 48,
        "iperf -s: {line}\nlwip-tap: {report}"
    );
}

/// A client on a DHCP interface waits for the lease, then pings the server.
#[test]
fn ping_waits_for_the_dhcp_lease() {
    require_network!("dnsmasq");
    let ns = Netns::new("pingdhcp");
    ns.add_tap("tap0", Some("172.16.0.1/24"));
    ns.start_dhcp_server("tap0", "172.16.0.50", "172.16.0.60", "1h");
    let mut lwip = ns.spawn_lwip_tap(&[
        "-i",
        "name=tap0",
        "--ping",
        "172.16.0.1",
        "--count",
        "2",
        "--interval",
        "0.1",
    ]);
    let log = lwip.exits_with(0, Duration::from_secs(30));
    let at = |text: &str| {
        log.find(text)
            .unwrap_or_else(|| panic!("no {text:?} in:\n{log}"))
    };
    assert!(at("ping 172.16.0.1: waiting for a route") < at("tap0: DHCP lease"));
    assert!(at("tap0: DHCP lease") < at("ping 172.16.0.1: seq 1: reply"));
    assert!(log.contains("ping 172.16.0.1: 2 sent, 2 received, 0% loss"));
    // It leaves as any stack does: the lease is released.
    assert!(log.contains("tap0: DHCP lease released"), "{log}");
}

/// Several clients run at once and the exit status is 1 if any failed; the
/// message names it.
#[test]
fn a_failed_client_makes_the_exit_status_1() {
    require_network!();
    let ns = Netns::new("clientfail");
    // Nothing listens on port 5009: the kernel refuses the connection.
    let mut lwip = ns.spawn_lwip_tap(&[
        "-i",
        TRANSIENT_SPEC,
        "--ping",
        "172.16.0.1",
        "--count",
        "1",
        "--iperf-client",
        "172.16.0.1:5009",
        "--time",
        "1",
    ]);
    let log = lwip.exits_with(1, Duration::from_secs(20));
    assert!(
        log.contains("iperf client: 172.16.0.1:5009: failed: connection refused"),
        "{log}"
    );
    assert!(log.contains("ping 172.16.0.1: 1 sent, 1 received, 0% loss"));
    assert!(
        log.contains("lwip-tap: 1 of 2 clients failed: iperf client to 172.16.0.1:5009\n"),
        "{log}"
    );

    // No one at 172.16.0.99: no ARP reply, no echo reply.
    let mut lwip = ns.spawn_lwip_tap(&[
        "-i",
        TRANSIENT_SPEC,
        "--ping",
        "172.16.0.99",
        "--count",
        "2",
        "--interval",
        "0.1",
    ]);
    let log = lwip.exits_with(1, Duration::from_secs(20));
    assert!(
        log.contains("ping 172.16.0.99: 2 sent, 0 received, 100% loss, no reply to seq 1, 2"),
        "{log}"
    );
    assert!(log.contains("lwip-tap: ping 172.16.0.99 failed\n"), "{log}");
}

/// With a service, lwip-tap keeps running after its clients; a stop signal
/// then ends it, with the clients' outcome as the exit status. A client cut
/// short by a signal reports what it has.
#[test]
fn a_service_keeps_it_running_and_a_signal_cuts_a_client_short() {
    require_network!("nc");
    let ns = Netns::new("clientsvc");
    let mut lwip = ns.spawn_lwip_tap(&[
        "-i",
        TRANSIENT_SPEC,
        "-E",
        "--ping",
        "172.16.0.1",
        "--count",
        "2",
        "--interval",
        "0.05",
    ]);
    lwip.wait_for_log("2 sent, 2 received", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    let echo = ns.sh("echo still here | nc -N -w 2 172.16.0.2 7");
    assert_eq!(echo, "still here\n", "{}", lwip.log());
    let status = lwip.stop_with(libc::SIGTERM);
    assert!(status.success(), "{status}: {}", lwip.log());

    let mut lwip = ns.spawn_lwip_tap(&[
        "-i",
        TRANSIENT_SPEC,
        "--ping",
        "172.16.0.1",
        "--count",
        "1000",
        "--interval",
        "0.05",
    ]);
    lwip.wait_for_log("ping 172.16.0.1: seq 3: reply", Duration::from_secs(10));
    let status = lwip.stop_with(libc::SIGINT);
    let log = lwip.log();
    assert!(status.success(), "replies came, so it worked: {log}");
    let summary = log
        .lines()
        .find(|l| l.contains(" sent, ") && l.contains("ping 172.16.0.1"))
        .unwrap_or_else(|| panic!("no summary:\n{log}"));
    assert!(!summary.contains("1000 sent"), "{summary}");
}

#[test]
fn bad_client_arguments_exit_2_with_one_line_and_touch_no_device() {
    require_network!();
    let ns = Netns::new("clientargs");
    let spec = format!("-i {TRANSIENT_SPEC}");
    for (args, expected) in [
        (
            "--ping 10.0.0.256",
            "--ping '10.0.0.256' is not an IPv4 address",
        ),
        ("--ping example.org", "is not an IPv4 address"),
        (
            "--iperf-client 10.0.0.1:99999",
            "--iperf-client '10.0.0.1:99999'",
        ),
        (
            "--iperf-client 10.0.0.1:http",
            "--iperf-client '10.0.0.1:http'",
        ),
        ("--ping 10.0.0.1 --count 0", "--count 0 is not a number"),
        (
            "--ping 10.0.0.1 --interval 0",
            "--interval 0 is not a number",
        ),
        (
            "--iperf-client 10.0.0.1 --time -1",
            "--time -1 is not a number",
        ),
        (
            "--iperf-client 10.0.0.1 --time 0",
            "--time 0 is not a number",
        ),
        ("--time 5", "--time needs --iperf-client"),
    ] {
        let err = ns.lwip_tap_refuses("", &format!("{spec} {args}"), 2);
        assert!(err.contains(expected), "{args}: {err}");
    }
    let links = ns.sh("ip -o link show");
    assert_eq!(links.lines().count(), 1, "only lo exists:\n{links}");
}

/// On the sender path the host receives exactly the frames lwIP sent: every
/// TCP segment of an iperf test that lwip-tap's capture shows lwIP sending
/// is what tcpdump on the TAP's host side saw arrive, byte for byte (MD5
/// per frame), none missing, none extra, in order. (This TAP has no
/// master, so nothing merges here: lwiperf puts PSH on every segment
/// anyway. What the merge stage writes for lwIP's own segments is checked
/// in tests/forwarding.rs.)
#[test]
fn the_host_receives_the_frames_lwip_sends_byte_for_byte() {
    require_network!("iperf", "ss", "tcpdump", "tshark");
    let ns = Netns::new("sendcap");
    ns.add_tap("tap0", Some("172.16.0.1/24"));
    let mut iperf = ns.command("iperf");
    iperf.args(["-s"]);
    ns.start_helper(iperf, "iperf-s.log");
    assert!(ns.wait_for_tcp_listener(5001, Duration::from_secs(5)));
    let received = ns.dir.path().join("host.pcap");
    let tcpdump_log = ns.dir.path().join("tcpdump.log");
    let mut tcpdump = ns
        .command("tcpdump")
        .args(["-i", "tap0", "-Q", "in", "-s", "0", "-B", "65536"])
        // Each frame handed over at once: without it the last block of
        // frames is still in the kernel's ring when tcpdump stops.
        .args(["--immediate-mode", "-U", "-w"])
        .arg(&received)
        .arg("tcp")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(fs::File::create(&tcpdump_log).unwrap())
        .spawn()
        .expect("start tcpdump");
    assert!(common::wait_until(Duration::from_secs(5), || {
        fs::read_to_string(&tcpdump_log).is_ok_and(|s| s.contains("listening on"))
    }));
    let sent = ns.dir.path().join("lwip.pcapng");
    let mut lwip = ns.spawn_lwip_tap(&[
        "-i",
        &format!(
            "name=tap0,addr=172.16.0.2,netmask=255.255.255.0,pcap={}",
            sent.display()
        ),
        "--iperf-client",
        "172.16.0.1",
        "--time",
        "1",
    ]);
    let log = lwip.exits_with(0, Duration::from_secs(20));
    // tcpdump writes what its buffer holds until the file stops growing.
    let size = || fs::metadata(&received).map_or(0, |m| m.len());
    let mut last = u64::MAX;
    common::wait_until(Duration::from_secs(20), || {
        std::thread::sleep(Duration::from_millis(300));
        let now = size();
        std::mem::replace(&mut last, now) == now
    });
    // SAFETY: plain kill(2) on our child; SIGINT makes tcpdump flush.
    unsafe { libc::kill(tcpdump.id() as i32, libc::SIGINT) };
    let _ = tcpdump.wait();
    let stats = fs::read_to_string(&tcpdump_log).unwrap_or_default();
    // ("received by filter" also counts the host's own ACKs, which -Q in
    // then leaves out.)
    assert_eq!(common::tcpdump_dropped(&stats), Some(0), "{stats}");
    let hashes = |file: &std::path::Path| -> Vec<String> {
        let out = common::successful_output(
            std::process::Command::new("tshark")
                .arg("-r")
                .arg(file)
                .args(["-o", "frame.generate_md5_hash:TRUE"])
                .args(["-Y", "ip.src == 172.16.0.2 && tcp"])
                .args(["-T", "fields", "-e", "frame.md5_hash"]),
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    let (lwip_sent, host_got) = (hashes(&sent), hashes(&received));
    assert!(
        lwip_sent.len() > 1000,
        "{} segments\n{log}",
        lwip_sent.len()
    );
    let first = lwip_sent.iter().zip(&host_got).position(|(a, b)| a != b);
    assert_eq!(
        (lwip_sent.len(), first),
        (host_got.len(), None),
        "segments lwIP sent, the host got; the first that differs"
    );
}
