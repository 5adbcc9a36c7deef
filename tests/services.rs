//! The built-in services against the standard clients: nc, curl, iperf.

mod common;

use std::time::Duration;

use common::{Netns, LWIP_ADDR, TRANSIENT_SPEC};

#[test]
fn tcp_echo_streams_a_mebibyte_back_unchanged_and_udp_echo_answers() {
    require_network!("nc", "cmp");
    let ns = Netns::new("echo");
    let lwip = ns.transient_lwip_tap(&["-E"]);
    ns.tcp_echo(LWIP_ADDR, 7, 1 << 20, 10)
        .unwrap_or_else(|e| panic!("{e}\n{}", lwip.log()));

    let reply = ns.sh(&format!("echo 'hello over udp' | nc -u -w 1 {LWIP_ADDR} 7"));
    assert_eq!(reply, "hello over udp\n");
}

#[test]
fn chargen_lines_follow_rfc_864_and_vanishing_clients_leak_nothing() {
    require_network!("nc", "head");
    let ns = Netns::new("chargen");
    let mut lwip = ns.transient_lwip_tap(&["-C"]);
    let before = lwip.stats();
    let out = ns
        .command("sh")
        .args(["-c", &format!("nc -d {LWIP_ADDR} 19 | head -c 100000")])
        .output()
        .unwrap();
    let data = out.stdout;
    assert_eq!(data.len(), 100_000, "{}", lwip.log());
    let full_lines = data.len() / 74;
    for (n, line) in data.chunks(74).enumerate() {
        let expected: Vec<u8> = (0..72)
            .map(|k| b' ' + ((n + k) % 95) as u8)
            .chain(*b"\r\n")
            .collect();
        if n < full_lines {
            assert_eq!(line, &expected[..], "line {n}");
        } else {
            assert_eq!(line, &expected[..line.len()], "partial last line");
        }
    }
    // nc died with unread data, so the kernel reset the connection; lwIP
    // must have freed the PCB.
    let freed = common::wait_until(Duration::from_secs(5), || {
        lwip.stats().used("TCP_PCB") == before.used("TCP_PCB")
    });
    assert!(freed, "TCP PCB still in use: {:?}", lwip.stats());
}

#[test]
fn http_serves_the_index_404s_the_rest_and_handles_50_parallel_clients() {
    require_network!("curl");
    let ns = Netns::new("http");
    let _lwip = ns.transient_lwip_tap(&["-H"]);
    let dir = ns.dir.path().display().to_string();
    let code = ns.sh(&format!(
        "curl -s -o {dir}/index -w '%{{http_code}}' http://{LWIP_ADDR}/"
    ));
    assert_eq!(code, "200");
    let body = std::fs::read_to_string(format!("{dir}/index")).unwrap();
    assert!(body.to_lowercase().contains("<html"), "{body}");
    let code = ns.sh(&format!(
        "curl -s -o /dev/null -w '%{{http_code}}' http://{LWIP_ADDR}/no-such-page"
    ));
    assert_eq!(code, "404");

    let urls = format!("-o /dev/null http://{LWIP_ADDR}/ ").repeat(50);
    let codes = ns.sh(&format!(
        "curl -s --parallel --parallel-immediate --parallel-max 50 -w '%{{http_code}}\\n' {urls}"
    ));
    let codes: Vec<&str> = codes.lines().collect();
    assert_eq!(codes.len(), 50, "{codes:?}");
    assert!(codes.iter().all(|c| *c == "200"), "{codes:?}");
}

/// The pages compiled into lwIP carry headers made by lwIP 2.0.3d; what a
/// client (or a scanner) sees must be the lwIP compiled in. (lwIP's httpd
/// answers GET only, so curl -I would get no headers.)
#[test]
fn http_answers_name_the_lwip_compiled_in() {
    require_network!("curl");
    let ns = Netns::new("http-server");
    let _lwip = ns.transient_lwip_tap(&["-H"]);
    let version = lwip_tap::version::lwip_version();
    let compiled = version.split_whitespace().next().unwrap();
    for (path, status) in [("/", "HTTP/1.0 200 OK"), ("/nope", "HTTP/1.0 404")] {
        let headers = ns.sh(&format!(
            "curl -s -D - -o /dev/null http://{LWIP_ADDR}{path}"
        ));
        assert!(headers.starts_with(status), "{path}: {headers}");
        let server = headers
            .lines()
            .find(|l| l.starts_with("Server: "))
            .unwrap_or_else(|| panic!("{path}: no Server header in {headers}"));
        assert!(
            server.starts_with(&format!("Server: lwIP/{compiled} ")),
            "{path}: {server} (compiled in: {compiled})"
        );
        assert!(headers.contains("Content-Length: "), "{path}: {headers}");
    }
}

#[test]
fn iperf2_client_completes_and_lwip_tap_logs_the_report() {
    require_network!("iperf");
    let ns = Netns::new("iperf");
    let mut lwip = ns.transient_lwip_tap(&["-s"]);
    let out = ns.sh(&format!("iperf -c {LWIP_ADDR} -p 5001 -t 2"));
    assert!(out.contains("bits/sec"), "{out}");
    let line = lwip.wait_for_log("iperf: 172.16.0.1 port", Duration::from_secs(10));
    assert!(line.contains("done") && line.contains("Mbit/s"), "{line}");
    let bytes: u64 = line
        .split(": done, ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(bytes > 1_000_000, "{line}");
}

#[test]
fn a_thousand_echo_connections_leave_lwip_memory_as_it_was() {
    require_network!("nc");
    let ns = Netns::new("leak");
    let mut lwip = ns.transient_lwip_tap(&["-E", "--stats"]);
    // One connection first, so that lazily created state (ARP entry) exists.
    ns.sh(&format!("echo warm | nc -N -w 5 {LWIP_ADDR} 7"));
    let before = lwip.stats();
    ns.sh(&format!(
        "for i in $(seq 1000); do r=$(echo x$i | nc -N -w 5 {LWIP_ADDR} 7); \
         [ \"$r\" = x$i ] || {{ echo \"connection $i got '$r'\" >&2; exit 1; }}; done"
    ));
    let pools = ["TCP_PCB", "TCP_SEG", "PBUF_POOL", "PBUF_REF/ROM", "HEAP"];
    let settled = common::wait_until(Duration::from_secs(10), || {
        let after = lwip.stats();
        pools.iter().all(|p| after.used(p) == before.used(p))
    });
    let after = lwip.stats();
    assert!(settled, "before {before:?}\nafter {after:?}");
    let status = lwip.stop_with(libc::SIGTERM);
    assert!(status.success());
    assert!(
        lwip.log().contains("stats: TCP_PCB used"),
        "--stats logs on exit"
    );
}

#[test]
fn services_answer_on_the_second_interface_of_a_router() {
    require_network!("curl", "nc");
    let ns = Netns::new("second");
    ns.add_tap("tap0", Some("10.10.0.1/24"));
    ns.add_tap("tap1", Some("10.10.1.1/24"));
    let mut lwip = ns.spawn_lwip_tap(&[
        "-H",
        "-i",
        "name=tap0,addr=10.10.0.2,netmask=255.255.255.0,gw=10.10.0.1",
        "-E",
        "-i",
        "name=tap1,addr=10.10.1.2,netmask=255.255.255.0",
    ]);
    lwip.wait_for_log("tap1: mac", Duration::from_secs(10));
    assert!(ns.wait_for_ping("10.10.1.2", Duration::from_secs(10)));
    let code =
        ns.sh("curl -s -o /dev/null -w '%{http_code}' --interface 10.10.1.1 http://10.10.1.2/");
    assert_eq!(code, "200");
    let reply = ns.sh("echo second | nc -N -w 5 10.10.1.2 7");
    assert_eq!(reply, "second\n");
}

/// Frames lwip-tap read during a 100 MiB iperf test with `-i` spec `spec`,
/// lwIP's address being `addr`.
fn frames_for_100_mib(tag: &str, spec: &str, addr: &str) -> u64 {
    let ns = Netns::new(tag);
    let mut lwip = ns.spawn_lwip_tap(&["-i", spec, "-s", "--stats"]);
    lwip.wait_for_log(": mac", Duration::from_secs(10));
    assert!(ns.wait_for_ping(addr, Duration::from_secs(10)));
    let v6 = if addr.contains(':') { "-V" } else { "" };
    ns.sh(&format!("iperf {v6} -c {addr} -p 5001 -n 100M"));
    lwip.wait_for_log(": done, ", Duration::from_secs(20));
    lwip.stop_with(libc::SIGTERM);
    let log = lwip.log();
    let line = log.lines().find(|l| l.contains("stats: tap0 rx")).unwrap();
    line.split("rx ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Asserts what offload does to 100 MiB of iperf data sent to lwIP at
/// `addr` on the transient TAP `spec`, with TCP's MSS `mss`: with it, at
/// most a quarter of the frames 100 MiB / MSS makes; with `offload=off`,
/// nine tenths of them at least.
fn offload_makes_large_segments(tag: &str, spec: &str, addr: &str, mss: u64) {
    let mss_frames = 100 * 1024 * 1024 / mss;
    let frames = frames_for_100_mib(tag, spec, addr);
    assert!(
        frames < mss_frames / 4,
        "offload on: {frames} frames for 100 MiB"
    );
    let frames = frames_for_100_mib(&format!("no{tag}"), &format!("{spec},offload=off"), addr);
    assert!(
        frames > mss_frames * 9 / 10,
        "offload off: {frames} frames for 100 MiB"
    );
}

/// With one interface, the kernel hands lwIP whole 64 KiB TCP segments
/// (TSO through the TAP's virtio-net header): far fewer frames than
/// bytes/MSS. `offload=off` gets MTU-sized frames, as a router does.
#[test]
fn iperf_data_arrives_in_large_segments_unless_offload_is_off() {
    require_network!("iperf");
    offload_makes_large_segments("offload", TRANSIENT_SPEC, LWIP_ADDR, 1460);
}

/// The same over IPv6: TSO6 segments with kernel-checked checksums.
#[test]
fn iperf_over_ipv6_arrives_in_large_segments_unless_offload_is_off() {
    require_network!("iperf");
    let (spec, addr) = ("addr6=2001:db8:1::2,gw6=2001:db8:1::1", "2001:db8:1::2");
    offload_makes_large_segments("offload6", spec, addr, 1440);
}

/// Stopping lwip-tap in the middle of an iperf test aborts the session
/// cleanly (upstream lwiperf crashed here; see lwip/lwiperf_glue.c).
#[test]
fn stopping_during_an_iperf_test_is_clean() {
    require_network!("iperf");
    let ns = Netns::new("iperfstop");
    let mut lwip = ns.transient_lwip_tap(&["-s"]);
    let mut client = ns
        .command("iperf")
        .args(["-c", LWIP_ADDR, "-p", "5001", "-t", "10"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let status = lwip.stop_with(libc::SIGTERM);
    let _ = client.kill();
    let _ = client.wait();
    assert_eq!(status.code(), Some(0), "{}", lwip.log());
    assert!(
        lwip.log().contains("iperf: a client: aborted"),
        "{}",
        lwip.log()
    );
}
