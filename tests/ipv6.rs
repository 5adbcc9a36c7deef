//! IPv6: static addresses, SLAAC from a real router advertisement daemon,
//! the services over IPv6, dual stack next to DHCP, and lwIP as an IPv6
//! router, each checked with the host's own tools (ping, curl, nc, iperf,
//! radvd, traceroute).

mod common;

use std::fs;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{start_lwip_tap, LwipTap, Netns};

/// lwIP's address and the host side of the transient TAP examples.
const LWIP6: &str = "2001:db8:1::2";
const HOST6: &str = "2001:db8:1::1";

/// Waits until lwIP logs that `addr` passed duplicate address detection.
fn wait_usable(lwip: &mut LwipTap, addr: &str) {
    lwip.wait_for_log(&format!("IPv6 {addr}/64"), Duration::from_secs(10));
}

/// The link-local address lwIP forms for `iface`, from its log.
fn link_local(lwip: &mut LwipTap, iface: &str) -> String {
    let log = lwip.wait_for_log(&format!("{iface}: IPv6 fe80:"), Duration::from_secs(10));
    let line = log
        .lines()
        .find(|l| l.contains(&format!("{iface}: IPv6 fe80:")))
        .unwrap();
    let addr = line
        .split("IPv6 ")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    addr.to_string()
}

/// The transient TAP's name, from lwip-tap's log.
fn transient_name(lwip: &mut LwipTap) -> String {
    let log = lwip.wait_for_log(": transient TAP", Duration::from_secs(10));
    let line = log.lines().find(|l| l.contains(": transient TAP")).unwrap();
    line.split("] ")
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn services_answer_on_every_ipv6_address_of_an_ipv6_only_transient_tap() {
    require_network!("ping", "curl", "nc", "cmp", "iperf", "tshark");
    let ns = Netns::new("v6svc");
    let pcap = ns.dir.path().join("v6.pcapng");
    let spec = format!("addr6={LWIP6},gw6={HOST6},pcap={}", pcap.display());
    let mut lwip = ns.spawn_lwip_tap(&["-i", &spec, "-E", "-C", "-H", "-s"]);
    let tap = transient_name(&mut lwip);
    wait_usable(&mut lwip, LWIP6);
    let ll = link_local(&mut lwip, &tap);
    // The host side got gw6 without duplicate address detection.
    let host = ns.sh(&format!("ip -6 addr show dev {tap}"));
    assert!(host.contains(&format!("{HOST6}/64")), "{host}");
    // (The host's own link-local address may still be tentative.)
    let gw6_line = host.lines().find(|l| l.contains(HOST6)).unwrap_or_default();
    assert!(!gw6_line.contains("tentative"), "{host}");

    assert_eq!(
        ns.ping(&format!("{ll}%{tap}"), 3, "0.05"),
        3,
        "{}",
        lwip.log()
    );
    assert_eq!(ns.ping(LWIP6, 3, "0.05"), 3, "{}", lwip.log());

    let code = ns.sh(&format!(
        "curl -6 -s -o /dev/null -w '%{{http_code}}' 'http://[{LWIP6}]/'"
    ));
    assert_eq!(code, "200");

    ns.tcp_echo(LWIP6, 7, 1 << 20, 10)
        .unwrap_or_else(|e| panic!("{e}\n{}", lwip.log()));
    let reply = ns.sh(&format!("echo 'hello over udp6' | nc -6 -u -w 1 {LWIP6} 7"));
    assert_eq!(reply, "hello over udp6\n");

    let chargen = ns.sh(&format!("nc -6 -d {LWIP6} 19 | head -c 74"));
    let first: String = (0..72).map(|k| (b' ' + k as u8) as char).collect();
    assert_eq!(chargen, format!("{first}\r\n"));

    ns.sh(&format!("iperf -V -c {LWIP6} -p 5001 -t 1"));
    let log = lwip.wait_for_log(&format!("iperf: {HOST6} port"), Duration::from_secs(10));
    assert!(log.contains(": done, "), "{log}");

    // No IPv4 address, so no DHCP client either: not one DHCP frame.
    lwip.stop_with(libc::SIGTERM);
    let dhcp = ns.sh(&format!(
        "tshark -r {} -Y 'dhcp || arp' 2>/dev/null | wc -l",
        pcap.display()
    ));
    assert_eq!(dhcp.trim(), "0", "an IPv6-only interface sent DHCP or ARP");
    assert!(!ns.link_exists(&tap), "the transient TAP outlived lwip-tap");
}

/// radvd's configuration: a /64 for SLAAC, advertised quickly.
fn radvd_conf(iface: &str, prefix: &str) -> String {
    format!(
        "interface {iface} {{\n  AdvSendAdvert on;\n  MinRtrAdvInterval 3;\n  \
         MaxRtrAdvInterval 4;\n  AdvDefaultLifetime 60;\n  prefix {prefix} {{\n    \
         AdvOnLink on;\n    AdvAutonomous on;\n  }};\n}};\n"
    )
}

/// The SLAAC address lwIP forms from `prefix` (a /64, "2001:db8:5::") and
/// a MAC: the modified EUI-64 interface identifier.
fn eui64(prefix: &str, mac: &str) -> String {
    let b: Vec<u8> = mac
        .split(':')
        .map(|x| u8::from_str_radix(x, 16).unwrap())
        .collect();
    let id = [b[0] ^ 2, b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]];
    let groups: Vec<String> = id
        .chunks(2)
        .map(|c| format!("{:x}", u16::from_be_bytes([c[0], c[1]])))
        .collect();
    let net: std::net::Ipv6Addr = format!("{prefix}{}", groups.join(":")).parse().unwrap();
    net.to_string()
}

#[test]
fn slaac_forms_an_address_from_radvd_unless_switched_off() {
    require_network!("radvd", "ping");
    let ns = Netns::new("slaac");
    ns.add_bridge("br0", Some("10.5.0.1/24"));
    ns.sh("ip addr add 2001:db8:5::1/64 dev br0 nodad");
    for tap in ["tap0", "tap1"] {
        ns.add_tap(tap, None);
        ns.sh(&format!("ip link set dev {tap} master br0"));
    }
    // radvd wants forwarding on before it advertises a default router.
    ns.sh("sysctl -qw net.ipv6.conf.all.forwarding=1");
    let conf = ns.dir.path().join("radvd.conf");
    fs::write(&conf, radvd_conf("br0", "2001:db8:5::/64")).unwrap();
    let pid = ns.dir.path().join("radvd.pid");
    let mut radvd: Child = ns
        .command("radvd")
        .args(["-n", "-C", &conf.display().to_string()])
        .args(["-p", &pid.display().to_string(), "-m", "stderr"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start radvd");

    let started = Instant::now();
    let mut on = start_lwip_tap(
        &ns,
        &["-i", "name=tap0,addr=10.5.0.2,netmask=255.255.255.0"],
    );
    let mut off = start_lwip_tap(
        &ns,
        &[
            "-i",
            "name=tap1,addr=10.5.0.3,netmask=255.255.255.0,slaac=off",
        ],
    );
    let log = on.wait_for_log("(SLAAC) is preferred", Duration::from_secs(20));
    let took = started.elapsed();
    let expected = eui64("2001:db8:5::", &on.mac("tap0"));
    assert!(
        log.contains(&format!("tap0: IPv6 {expected}/64 (SLAAC) is preferred")),
        "expected {expected}:\n{log}"
    );
    eprintln!("SLAAC address usable {} ms after start", took.as_millis());
    assert_eq!(ns.ping(&expected, 3, "0.05"), 3, "{}", on.log());

    // The same advertisements reached the other stack, which ignored them.
    let unused = eui64("2001:db8:5::", &off.mac("tap1"));
    std::thread::sleep(Duration::from_secs(2));
    assert!(!off.log().contains("SLAAC"), "{}", off.log());
    assert_eq!(ns.ping(&unused, 1, "0.2"), 0);

    let _ = radvd.kill();
    let _ = radvd.wait();
}

#[test]
fn dual_stack_on_one_interface_and_dhcp_on_another() {
    require_network!("ping", "nc", "dnsmasq");
    let ns = Netns::new("dual");
    ns.add_tap("tap0", Some("10.6.0.1/24"));
    ns.sh("ip addr add 2001:db8:6::1/64 dev tap0 nodad");
    ns.add_tap("tap1", Some("10.6.1.1/24"));
    ns.start_dhcp_server("tap1", "10.6.1.50", "10.6.1.60", "1h");
    let mut lwip = start_lwip_tap(
        &ns,
        &[
            "-i",
            "name=tap0,addr=10.6.0.2,netmask=255.255.255.0,addr6=2001:db8:6::2/64,gw6=fe80::1",
            "-i",
            "name=tap1",
            "-E",
        ],
    );
    lwip.wait_for_log("tap1: DHCP lease 10.6.1.", Duration::from_secs(15));
    let log = lwip.log();
    assert!(
        log.contains("tap0: mac ") && log.contains("addr 10.6.0.2/24, addr6 2001:db8:6::2/64"),
        "{log}"
    );
    wait_usable(&mut lwip, "2001:db8:6::2");
    for addr in ["10.6.0.2", "2001:db8:6::2"] {
        assert_eq!(ns.ping(addr, 3, "0.05"), 3, "{addr}\n{}", lwip.log());
        let reply = ns.sh(&format!("echo {addr} | nc -N -w 5 {addr} 7"));
        assert_eq!(reply, format!("{addr}\n"));
    }
    let leased = log
        .lines()
        .find_map(|l| l.split("tap1: DHCP lease ").nth(1))
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_string();
    assert_eq!(ns.ping(&leased, 3, "0.05"), 3, "{}", lwip.log());
}

/// An IPv6 router: three hosts, each in its own namespace behind its own
/// bridge, and a three-interface lwip-tap between them. `small` has an MTU
/// of 1280 (IPv6's minimum) on its side, lwIP's tap2 included.
///
///     left  2001:db8:a::100 -- br0 -- tap0 [2001:db8:a::1
///     right 2001:db8:b::100 -- br1 -- tap1  2001:db8:b::1   lwip-tap]
///     small 2001:db8:c::100 -- br2 -- tap2  2001:db8:c::1 (mtu 1280)
struct Router6 {
    _ns: Netns,
    left: Netns,
    /// The far hosts, kept (with their checkers) while the test runs.
    _right: Netns,
    _small: Netns,
    router: LwipTap,
    checker: String,
}

impl Router6 {
    fn new() -> Router6 {
        let ns = Netns::new("r6");
        let hosts = [
            Netns::new("r6left"),
            Netns::new("r6right"),
            Netns::new("r6small"),
        ];
        for (n, (host, net, mtu)) in hosts
            .iter()
            .zip([("a", 1500), ("b", 1500), ("c", 1280)])
            .map(|(h, (net, mtu))| (h, net, mtu))
            .enumerate()
        {
            ns.add_bridge(&format!("br{n}"), None);
            ns.add_tap(&format!("tap{n}"), None);
            ns.sh(&format!(
                "ip link set dev tap{n} mtu {mtu} master br{n} && \
                 ip link add vbr{n} mtu {mtu} type veth peer name eth0 mtu {mtu} netns {} && \
                 ip link set dev vbr{n} master br{n} up",
                host.name()
            ));
            // lwIP sends no router advertisements: each host needs its
            // route to the others through lwIP.
            host.sh(&format!(
                "ip addr add 2001:db8:{net}::100/64 dev eth0 nodad && \
                 ip addr add 2001:db8:{net}::101/64 dev eth0 nodad && ip link set dev eth0 up && \
                 ip -6 route add 2001:db8::/32 via 2001:db8:{net}::1"
            ));
        }
        let mut router = start_lwip_tap(
            &ns,
            &[
                "-i",
                "name=tap0,addr6=2001:db8:a::1",
                "-i",
                "name=tap1,addr6=2001:db8:b::1",
                "-i",
                "name=tap2,addr6=2001:db8:c::1,mtu=1280",
            ],
        );
        for net in ["a", "b", "c"] {
            wait_usable(&mut router, &format!("2001:db8:{net}::1"));
        }
        let [left, right, small] = hosts;
        right.start_checker("echo", 9007);
        small.start_checker("serve", 9000);
        Router6 {
            checker: left.checker(),
            _ns: ns,
            left,
            _right: right,
            _small: small,
            router,
        }
    }
}

#[test]
fn lwip_routes_ipv6_and_answers_hop_limit_and_mtu_errors_except_for_icmpv6() {
    require_network!("ping", "nc", "cmp", "traceroute", "python3");
    let net = Router6::new();
    let (left, router) = (&net.left, &net.router);
    let right_addr = "2001:db8:b::100";

    // Forwarded, with the hop limit decremented: the right host answers
    // with 64, the left one sees 63.
    let out = left.run(&format!("ping -n -c 3 -i 0.05 {right_addr}"));
    let out = String::from_utf8_lossy(&out.stdout);
    let neigh = left.sh("ip -6 neigh; ip -6 addr; ip -6 route");
    assert!(
        out.contains("3 received"),
        "{out}\n{neigh}\n{}",
        router.log()
    );
    assert!(out.contains("ttl=63"), "{out}");

    // A fragmented echo: lwIP forwards the fragments one by one.
    let out = left.sh(&format!("ping -n -c 2 -i 0.2 -s 3000 {right_addr}"));
    assert!(out.contains("2 received"), "{out}\n{}", router.log());

    // A mebibyte through lwIP and back, unchanged.
    left.tcp_echo(right_addr, 9007, 1 << 20, 10)
        .unwrap_or_else(|e| panic!("{e}\n{}", router.log()));

    // Hop limit 1: lwIP answers a UDP probe with Time Exceeded…
    let trace = left.sh(&format!("traceroute -6 -U -n -q 1 -w 1 -m 3 {right_addr}"));
    let hop1 = trace.lines().nth(1).unwrap_or_default();
    assert!(hop1.contains(" 2001:db8:a::1 "), "{trace}");
    assert!(trace.lines().any(|l| l.contains(right_addr)), "{trace}");
    // …but stays silent for an ICMPv6 echo (stock lwIP sends no ICMPv6
    // error about an ICMPv6 packet, ip6_forward), so ping sees nothing.
    let out = left.run(&format!("ping -n -c 2 -i 0.2 -W 1 -t 1 {right_addr}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0 received"), "{text}");
    assert!(!text.contains("Time exceeded"), "{text}");

    // Pings too big for tap2's MTU of 1280. Unfragmented, an echo request
    // is ICMPv6, so lwIP drops it without a Packet Too Big and the sender
    // never learns: every one is lost. Fragmented by the sender (bigger
    // than its own MTU), its next header is Fragment: lwIP answers the
    // first with Packet Too Big, and the sender fragments for 1280 from then on.
    let out = left.run("ping -n -c 2 -i 0.2 -W 1 -s 1300 2001:db8:c::101");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0 received"), "{text}");
    assert!(!text.contains("Packet too big"), "{text}");
    let out = left.run("ping -n -c 3 -i 0.3 -W 1 -s 2000 2001:db8:c::101");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Packet too big: mtu=1280"), "{text}");
    assert!(text.contains("2 received"), "{text}");

    // 1400 bytes do not fit tap2's MTU of 1280: lwIP drops the datagram
    // and sends Packet Too Big; the left host then fragments for 1280 and
    // the retry gets through.
    let out = left.sh(&format!(
        "python3 {} send 2001:db8:c::100 9000 1400",
        net.checker
    ));
    assert!(out.contains(": ok 1400"), "{out}\n{}", router.log());
    assert!(
        !out.contains("attempt 1:"),
        "1400 bytes fit a 1280 MTU? {out}"
    );
    let route = left.sh("ip -6 route get 2001:db8:c::100");
    assert!(route.contains("mtu 1280"), "no path MTU learned: {route}");
}

#[test]
fn bad_ipv6_keys_exit_2_with_one_line_and_create_nothing() {
    require_network!();
    let ns = Netns::new("v6bad");
    let five = "addr6=2001:db8::1,addr6=2001:db8::2,addr6=2001:db8::3,addr6=2001:db8::4,\
                addr6=2001:db8::5";
    let cases: &[(&str, &str)] = &[
        ("addr6=2001:db8::zz,gw6=2001:db8::1", "not an IPv6 address"),
        (
            "addr6=2001:db8::2/48,gw6=2001:db8::1",
            "/48 is not possible",
        ),
        ("addr6=2001:db8::2/x,gw6=2001:db8::1", "not a prefix length"),
        ("addr6=ff02::2,gw6=2001:db8::1", "multicast"),
        ("addr6=fe80::2,gw6=fe80::1", "link-local"),
        (
            "addr=10.0.0.2,netmask=255.255.255.0,gw=10.0.0.1,gw6=fe80::1",
            "gw6=fe80::1 needs an addr6=",
        ),
        (
            "addr6=2001:db8::2,gw6=2001:db9::1",
            "neither link-local nor inside",
        ),
        ("addr6=2001:db8::2", "needs a host-side IPv6 address (gw6=)"),
        (five, "5 addr6= given; lwIP has room for 4"),
        (
            "addr6=2001:db8::2,addr6=2001:db8::2,gw6=2001:db8::1",
            "more than once",
        ),
        (
            "addr6=2001:db8::2,gw6=2001:db8::1,slaac=maybe",
            "expected on or off",
        ),
    ];
    for (spec, expect) in cases {
        let err = ns.lwip_tap_refuses("", &format!("-i '{spec}'"), 2);
        assert!(err.contains(expect), "{spec}: {err}");
    }
    // A named TAP, too: refused before it is opened.
    let err = ns.lwip_tap_refuses("", &format!("-i 'name=tap0,{five}'"), 2);
    assert!(err.contains("room for 4"), "{err}");
    let links = ns.sh("ip -o link show");
    assert_eq!(links.lines().count(), 1, "only lo exists:\n{links}");
}

#[test]
fn an_address_another_node_holds_fails_duplicate_address_detection() {
    require_network!();
    let ns = Netns::new("v6dad");
    ns.add_tap("tap0", None);
    // The host side already holds the address lwIP is given.
    ns.sh("ip addr add 2001:db8:8::2/64 dev tap0 nodad");
    let mut lwip = start_lwip_tap(
        &ns,
        &["-i", "name=tap0,addr6=2001:db8:8::2,addr6=2001:db8:8::3"],
    );
    let log = lwip.wait_for_log(
        "duplicate address detection failed",
        Duration::from_secs(10),
    );
    assert!(log.contains("tap0: IPv6 2001:db8:8::2 (static)"), "{log}");
    // The other address is unaffected.
    wait_usable(&mut lwip, "2001:db8:8::3");
    assert!(
        !lwip.log().contains("IPv6 2001:db8:8::2/64"),
        "{}",
        lwip.log()
    );
}
