//! docs/topologies.md, "Across machines": two network namespaces play two hosts,
//! joined by a veth pair as the underlay (192.0.2.1 and 192.0.2.2). Each
//! runs a switch with lwIP nodes on TAPs, and the switches are joined by
//! VXLAN (VNI 42, UDP port 4789): a kernel `vxlan` device on a Linux bridge,
//! or a VXLAN port on Open vSwitch's userspace datapath, whose tunnel
//! endpoint is the underlay address on a bridge of its own (`br-phy`).

mod common;

use std::time::{Duration, Instant};

use common::{start_lwip_tap, LwipTap, Netns, Switch};

on_both_switches!(
    nodes_on_two_hosts_reach_each_other,
    the_router_on_one_host_and_the_leaf_on_the_other,
    without_room_for_vxlan_big_frames_are_lost,
);

/// How the 50 bytes VXLAN adds are made room for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Room {
    /// The underlay carries 1550-byte packets.
    UnderlayMtu,
    /// The TAPs (and so lwIP) use `mtu=1450`.
    TapMtu,
    /// Neither: 1500 everywhere.
    None,
}

/// Two hosts whose switches `segment` (on each) are one Ethernet segment.
struct Lab {
    kind: Switch,
    a: Netns,
    b: Netns,
}

const UNDERLAY: [&str; 2] = ["192.0.2.1", "192.0.2.2"];

impl Lab {
    fn new(kind: Switch, tag: &str, segment: &str, room: Room) -> Lab {
        let lab = Lab {
            kind,
            a: Netns::new(&format!("{tag}a")),
            b: Netns::new(&format!("{tag}b")),
        };
        lab.a.sh(&format!(
            "ip link add ul0 type veth peer name ul0 netns {}",
            lab.b.name()
        ));
        for (n, host) in [&lab.a, &lab.b].into_iter().enumerate() {
            let (local, remote) = (UNDERLAY[n], UNDERLAY[1 - n]);
            if room == Room::UnderlayMtu {
                host.sh("ip link set dev ul0 mtu 1550");
            }
            host.sh("ip link set dev ul0 up");
            match kind {
                // docs/topologies.md's Linux commands: the vxlan device takes its
                // MTU from the underlay's, less 50.
                Switch::Linux => {
                    host.sh(&format!("ip addr add {local}/24 dev ul0"));
                    host.add_switch(kind, segment, None);
                    host.sh(&format!(
                        "ip link add vx0 type vxlan id 42 local {local} remote {remote} \
                         dstport 4789 dev ul0 && ip link set dev vx0 up"
                    ));
                    host.add_port(kind, segment, "vx0");
                }
                // docs/topologies.md's Open vSwitch commands: the underlay port and
                // address on br-phy, the VXLAN port on the segment's bridge.
                Switch::Ovs => {
                    host.add_switch(kind, "br-phy", Some(&format!("{local}/24")));
                    host.add_port(kind, "br-phy", "ul0");
                    host.add_switch(kind, segment, None);
                    host.ovs_vsctl(&format!(
                        "add-port {segment} vx0 -- set interface vx0 type=vxlan \
                         options:remote_ip={remote} options:key=42 options:dst_port=4789"
                    ));
                    let rundir = host.dir.path().join("ovs");
                    let appctl = |command: &str| {
                        host.sh(&format!(
                            "OVS_RUNDIR={} ovs-appctl {command}",
                            rundir.display()
                        ))
                    };
                    let ports = appctl("tnl/ports/show");
                    assert!(ports.contains("vxlan_sys_4789"), "{ports}");
                    let routes = appctl("ovs/route/show");
                    assert!(routes.contains("192.0.2.0/24 dev br-phy"), "{routes}");
                }
            }
        }
        lab
    }

    /// A TAP plugged into `segment` on `host`.
    fn tap(&self, host: &Netns, segment: &str, tap: &str) {
        host.add_tap_port(self.kind, segment, tap);
    }

    /// The kernel's own address on `segment` on `host`.
    fn host_address(&self, host: &Netns, segment: &str, cidr: &str, room: Room) {
        host.sh(&format!("ip addr add {cidr} dev {segment}"));
        if room == Room::TapMtu {
            host.sh(&format!("ip link set dev {segment} mtu 1450"));
        }
    }
}

fn ready(kind: Switch, tools: &[&str]) -> bool {
    let mut all: Vec<&str> = kind.tools().iter().chain(tools).copied().collect();
    if kind == Switch::Ovs {
        all.push("ovs-appctl");
    }
    common::can_run_network_tests(&all)
}

fn logs(taps: &[&LwipTap]) -> String {
    taps.iter().map(|t| t.log()).collect::<Vec<_>>().join("\n")
}

/// lwIP nodes on host B are reached from host A through the tunnel: ARP,
/// ping, TCP echo, HTTP, a DHCP lease from host A; and an lwIP node on host
/// A starts traffic: an iperf test against an lwIP node on host B and a
/// ping of host B's kernel. The underlay has room for VXLAN (MTU 1550).
fn nodes_on_two_hosts_reach_each_other(kind: Switch) {
    if !ready(kind, &["ping", "curl", "nc", "cmp", "dnsmasq"]) {
        return;
    }
    let started = Instant::now();
    let lab = Lab::new(kind, "vxn", "br0", Room::UnderlayMtu);
    let (a, b) = (&lab.a, &lab.b);
    lab.host_address(a, "br0", "10.42.0.1/24", Room::UnderlayMtu);
    lab.host_address(b, "br0", "10.42.0.2/24", Room::UnderlayMtu);
    lab.tap(a, "br0", "tapa1");
    lab.tap(b, "br0", "tapb1");
    lab.tap(b, "br0", "tapb2");
    a.start_dhcp_server("br0", "10.42.0.50", "10.42.0.60", "1h");
    let mut b1 = start_lwip_tap(
        b,
        &[
            "-i",
            "name=tapb1,addr=10.42.0.21,netmask=255.255.255.0",
            "-E",
            "-H",
            "-s",
        ],
    );
    let mut b2 = start_lwip_tap(b, &["-i", "name=tapb2"]);

    // ARP and ping from host A's kernel.
    assert!(
        a.wait_for_ping("10.42.0.21", Duration::from_secs(10)),
        "{}",
        b1.log()
    );
    assert_eq!(a.ping("10.42.0.21", 5, "0.05"), 5);
    let mac = b1.mac("tapb1");
    let neighbour = a.sh("ip neigh show 10.42.0.21 dev br0");
    assert!(neighbour.contains(&mac), "{neighbour} (lwIP's MAC {mac})");

    // TCP and HTTP.
    a.tcp_echo("10.42.0.21", 7, 1 << 20, 10)
        .unwrap_or_else(|e| panic!("{e}\n{}", b1.log()));
    let code = a.sh("curl -s -o /dev/null -w '%{http_code}' http://10.42.0.21/");
    assert_eq!(code, "200");

    // DHCP: dnsmasq on host A leases to the lwIP node on host B.
    let line = b2.wait_for_log("tapb2: DHCP lease", Duration::from_secs(20));
    assert!(line.contains("server 10.42.0.1"), "{line}");
    let leased = line
        .split("DHCP lease ")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_string();
    assert_eq!(a.ping(&leased, 3, "0.05"), 3, "{}", b2.log());

    // lwIP starts traffic: lwIP on host A tests lwIP on host B, and pings
    // host B's kernel.
    let mut a1 = a.spawn_lwip_tap(&[
        "-i",
        "name=tapa1,addr=10.42.0.11,netmask=255.255.255.0",
        "--iperf-client",
        "10.42.0.21",
        "--time",
        "2",
        "--ping",
        "10.42.0.2",
        "--count",
        "3",
        "--interval",
        "0.2",
    ]);
    let status = a1.finish(Duration::from_secs(20));
    assert!(status.success(), "{status}:\n{}", logs(&[&a1, &b1]));
    let log = a1.log();
    assert!(
        log.contains("iperf client: 10.42.0.21:5001: done, "),
        "{log}"
    );
    assert!(
        log.contains("ping 10.42.0.2: 3 sent, 3 received, 0% loss"),
        "{log}"
    );
    b1.wait_for_log("iperf: 10.42.0.11 port", Duration::from_secs(5));
    assert!(
        b1.log().contains("iperf: 10.42.0.11 port") && b1.log().contains(": done, "),
        "{}",
        b1.log()
    );
    eprintln!("{kind:?}: nodes across hosts: {:?}", started.elapsed());
}

/// docs/topologies.md's two-stack router split over the hosts: the router on host
/// A between its br0 (the host's own segment) and br1, which VXLAN
/// stretches to host B, where the leaf is. Host A reaches the leaf through
/// lwIP and the tunnel. The TAPs on br1 use mtu=1450, so VXLAN fits in a
/// 1500-byte underlay, and 1 MiB goes through the router and back.
fn the_router_on_one_host_and_the_leaf_on_the_other(kind: Switch) {
    if !ready(kind, &["ping", "curl", "nc", "cmp"]) {
        return;
    }
    let started = Instant::now();
    let lab = Lab::new(kind, "vxr", "br1", Room::TapMtu);
    let (a, b) = (&lab.a, &lab.b);
    a.add_switch(kind, "br0", Some("172.16.0.1/24"));
    a.sh("ip route add 172.16.1.0/24 via 172.16.0.2");
    lab.tap(a, "br0", "tap0");
    lab.tap(a, "br1", "tap1");
    lab.tap(b, "br1", "tap2");
    let leaf = start_lwip_tap(
        b,
        &[
            "-i",
            "name=tap2,addr=172.16.1.2,netmask=255.255.255.0,gw=172.16.1.1,mtu=1450",
            "-E",
            "-H",
        ],
    );
    let router = start_lwip_tap(
        a,
        &[
            "-i",
            "name=tap0,addr=172.16.0.2,netmask=255.255.255.0,gw=172.16.0.1",
            "-i",
            "name=tap1,addr=172.16.1.1,netmask=255.255.255.0,mtu=1450",
        ],
    );
    assert!(
        a.wait_for_ping("172.16.1.2", Duration::from_secs(10)),
        "{}",
        logs(&[&router, &leaf])
    );
    assert_eq!(a.ping("172.16.1.2", 5, "0.05"), 5);
    let out = a.sh("ping -n -c 1 172.16.1.2");
    assert!(out.contains("ttl=254"), "through the router: {out}");
    a.tcp_echo("172.16.1.2", 7, 1 << 20, 10)
        .unwrap_or_else(|e| panic!("{e}\n{}", logs(&[&router, &leaf])));
    let code = a.sh("curl -s -o /dev/null -w '%{http_code}' http://172.16.1.2/");
    assert_eq!(code, "200");
    eprintln!("{kind:?}: router across hosts: {:?}", started.elapsed());
}

/// Neither a larger underlay MTU nor smaller TAPs: VXLAN's 50 bytes make
/// full-size frames too big for the underlay. Small packets cross either
/// way. A kernel vxlan device then fragments the UDP packets that carry
/// them (its default leaves DF clear), so TCP between two lwIP nodes still
/// works, in two fragments per frame; Open vSwitch drops them, so the
/// transfer stalls and the iperf client fails. Raising the underlay's MTU
/// (and, on Linux, the vxlan device's) mends both.
fn without_room_for_vxlan_big_frames_are_lost(kind: Switch) {
    if !ready(kind, &["ping"]) {
        return;
    }
    let started = Instant::now();
    let lab = Lab::new(kind, "vxm", "br0", Room::None);
    let (a, b) = (&lab.a, &lab.b);
    lab.tap(a, "br0", "tapa1");
    lab.tap(b, "br0", "tapb1");
    let b1 = start_lwip_tap(
        b,
        &[
            "-i",
            "name=tapb1,addr=10.42.0.21,netmask=255.255.255.0",
            "-s",
        ],
    );
    let client = [
        "-i",
        "name=tapa1,addr=10.42.0.11,netmask=255.255.255.0",
        "--ping",
        "10.42.0.21",
        "--count",
        "2",
        "--interval",
        "0.1",
        "--iperf-client",
        "10.42.0.21",
        "--time",
        "1",
    ];
    let fragmented_before = fragmented(a);
    let mut a1 = a.spawn_lwip_tap(&client);
    let status = a1.finish(Duration::from_secs(20));
    let log = a1.log();
    assert!(log.contains("ping 10.42.0.21: 2 sent, 2 received"), "{log}");
    let fragmented_during = fragmented(a) - fragmented_before;
    match kind {
        Switch::Linux => {
            assert!(status.success(), "{status}:\n{}", logs(&[&a1, &b1]));
            assert!(
                fragmented_during > 1000,
                "{fragmented_during} datagrams fragmented"
            );
        }
        Switch::Ovs => {
            assert_eq!(status.code(), Some(1), "{log}");
            assert!(
                log.contains("lwip-tap: 1 TCP connection(s) did not close within 5 s"),
                "{log}"
            );
        }
    }

    for host in [a, b] {
        host.sh("ip link set dev ul0 mtu 1550");
        if kind == Switch::Linux {
            host.sh("ip link set dev vx0 mtu 1500");
        }
    }
    let fragmented_before = fragmented(a);
    let mut a1 = a.spawn_lwip_tap(&client);
    let status = a1.finish(Duration::from_secs(20));
    assert!(status.success(), "{status}:\n{}", logs(&[&a1, &b1]));
    assert_eq!(fragmented(a), fragmented_before, "nothing fragmented now");
    eprintln!("{kind:?}: MTU: {:?}", started.elapsed());
}

/// How many IPv4 datagrams the host's kernel has fragmented (FragOKs).
fn fragmented(host: &Netns) -> u64 {
    let snmp = host.sh("cat /proc/net/snmp");
    let mut ip = snmp.lines().filter(|l| l.starts_with("Ip: "));
    let (names, values) = (ip.next().unwrap(), ip.next().unwrap());
    let at = names
        .split_whitespace()
        .position(|n| n == "FragOKs")
        .unwrap();
    values.split_whitespace().nth(at).unwrap().parse().unwrap()
}
