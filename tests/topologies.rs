//! The topologies of docs/topologies.md, each on a Linux bridge and on Open vSwitch
//! (userspace datapath), built in a fresh namespace and torn down after.

mod common;

use std::time::Duration;

use common::{start_lwip_tap, Netns, Switch};

on_both_switches!(
    single_host_on_a_bridge,
    router_between_two_bridges,
    iperf_on_a_bridged_tap,
    two_lwip_stacks_on_one_bridge,
);

fn ready(kind: Switch, tools: &[&str]) -> bool {
    let all: Vec<&str> = kind.tools().iter().chain(tools).copied().collect();
    common::can_run_network_tests(&all)
}

fn assert_pings(ns: &Netns, addr: &str, logs: &[&common::LwipTap]) {
    assert!(
        ns.wait_for_ping(addr, Duration::from_secs(10)),
        "{addr} never answered"
    );
    let replies = ns.ping(addr, 5, "0.05");
    let logs: Vec<String> = logs.iter().map(|l| l.log()).collect();
    assert_eq!(replies, 5, "{addr}:\n{}", logs.join("\n"));
}

/// One lwip-tap on a bridge that carries the host's addresses, reached
/// over IPv4 and IPv6.
fn single_host_on_a_bridge(kind: Switch) {
    if !ready(kind, &["ping", "curl"]) {
        return;
    }
    let ns = Netns::new("single");
    ns.add_switch(kind, "br0", Some("172.16.0.1/24"));
    ns.sh("ip addr add 2001:db8:7::1/64 dev br0 nodad");
    ns.add_tap_port(kind, "br0", "tap0");
    let mut lwip = start_lwip_tap(
        &ns,
        &[
            "-i",
            "name=tap0,addr=172.16.0.2,netmask=255.255.255.0,gw=172.16.0.1,addr6=2001:db8:7::2",
            "-H",
        ],
    );
    assert_pings(&ns, "172.16.0.2", &[&lwip]);
    let code = ns.sh("curl -s -o /dev/null -w '%{http_code}' http://172.16.0.2/");
    assert_eq!(code, "200");
    lwip.wait_for_log("IPv6 2001:db8:7::2/64", Duration::from_secs(10));
    assert_pings(&ns, "2001:db8:7::2", &[&lwip]);
    let code = ns.sh("curl -6 -s -o /dev/null -w '%{http_code}' 'http://[2001:db8:7::2]/'");
    assert_eq!(code, "200");
}

/// The original README's router, dual stack: br0 (host addresses, routes
/// to 172.16.1.0/24 and 2001:db8:1::/64 via lwIP), br1 without address, a
/// router lwip-tap on tap0 + tap1 and a leaf lwip-tap on tap2 that serves
/// echo and HTTP through the router.
fn router_between_two_bridges(kind: Switch) {
    if !ready(kind, &["ping", "curl", "nc"]) {
        return;
    }
    let ns = Netns::new("router");
    ns.add_switch(kind, "br0", Some("172.16.0.1/24"));
    ns.sh("ip addr add 2001:db8::1/64 dev br0 nodad");
    ns.sh("ip route add 172.16.1.0/24 via 172.16.0.2");
    ns.sh("ip -6 route add 2001:db8:1::/64 via 2001:db8::2");
    ns.add_switch(kind, "br1", None);
    ns.add_tap_port(kind, "br0", "tap0");
    ns.add_tap_port(kind, "br1", "tap1");
    ns.add_tap_port(kind, "br1", "tap2");
    let leaf = start_lwip_tap(
        &ns,
        &[
            "-i",
            "name=tap2,addr=172.16.1.2,netmask=255.255.255.0,gw=172.16.1.1,\
             addr6=2001:db8:1::2,gw6=2001:db8:1::1",
            "-E",
            "-H",
        ],
    );
    let mut router = start_lwip_tap(
        &ns,
        &[
            "-i",
            "name=tap0,addr=172.16.0.2,netmask=255.255.255.0,gw=172.16.0.1,\
             addr6=2001:db8::2,gw6=2001:db8::1",
            "-i",
            "name=tap1,addr=172.16.1.1,netmask=255.255.255.0,addr6=2001:db8:1::1",
        ],
    );
    for addr in ["172.16.0.2", "172.16.1.1", "172.16.1.2"] {
        assert_pings(&ns, addr, &[&router, &leaf]);
    }
    // TCP through the router, both ways at full segment size.
    ns.tcp_echo("172.16.1.2", 7, 256 << 10, 10)
        .unwrap_or_else(|e| panic!("{e}"));
    let code = ns.sh("curl -s -o /dev/null -w '%{http_code}' http://172.16.1.2/");
    assert_eq!(code, "200", "{}", router.log());

    // The same over IPv6 (lwIP sends no router advertisements: the leaf
    // has gw6=, the host a route).
    router.wait_for_log("IPv6 2001:db8:1::1/64", Duration::from_secs(10));
    for addr in ["2001:db8::2", "2001:db8:1::1", "2001:db8:1::2"] {
        assert_pings(&ns, addr, &[&router, &leaf]);
    }
    ns.tcp_echo("2001:db8:1::2", 7, 256 << 10, 10)
        .unwrap_or_else(|e| panic!("{e}"));
    let code = ns.sh("curl -6 -s -o /dev/null -w '%{http_code}' 'http://[2001:db8:1::2]/'");
    assert_eq!(code, "200", "{}", router.log());
}

/// The original README's iperf example: `-s` on a bridged TAP.
fn iperf_on_a_bridged_tap(kind: Switch) {
    if !ready(kind, &["iperf"]) {
        return;
    }
    let ns = Netns::new("iperf");
    ns.add_switch(kind, "br0", Some("172.16.0.1/24"));
    ns.add_tap_port(kind, "br0", "tap2");
    let mut lwip = start_lwip_tap(
        &ns,
        &[
            "-i",
            "addr=172.16.0.3,netmask=255.255.255.0,gw=172.16.0.1,name=tap2",
            "-s",
        ],
    );
    assert_pings(&ns, "172.16.0.3", &[&lwip]);
    let out = ns.sh("iperf -c 172.16.0.3 -p 5001 -t 2");
    assert!(out.contains("bits/sec"), "{out}");
    lwip.wait_for_log("iperf: 172.16.0.1 port", Duration::from_secs(10));
}

/// Two lwIP stacks on one bridge: A (172.16.0.2) is a host whose gateway is
/// B (172.16.0.3), which routes to br1 (172.16.1.0/24). A client in a second
/// namespace on br1 reaches A only through B, so A and B must resolve each
/// other with ARP and forward between them.
fn two_lwip_stacks_on_one_bridge(kind: Switch) {
    if !ready(kind, &["ping", "curl", "ethtool"]) {
        return;
    }
    let ns = Netns::new("pair");
    let client = Netns::new("pairclient");
    ns.add_switch(kind, "br0", Some("172.16.0.1/24"));
    ns.add_switch(kind, "br1", None);
    ns.add_tap_port(kind, "br0", "tapa");
    ns.add_tap_port(kind, "br0", "tapb");
    ns.add_tap_port(kind, "br1", "tapc");
    ns.sh(&format!(
        "ip link add veth0 type veth peer name veth1 netns {}",
        client.name()
    ));
    ns.sh("ip link set dev veth0 up");
    ns.add_port(kind, "br1", "veth0");
    client.sh("ip addr add 172.16.1.100/24 dev veth1 && ip link set dev veth1 up");
    if kind == Switch::Ovs {
        // Open vSwitch's userspace datapath passes on what a veth sends
        // without finishing the checksums the veth left to offload, so the
        // client's TCP would reach B with a wrong checksum, and B forwards
        // packets as they are (see docs/forwarding.md, "What comes out").
        client.sh("ethtool -K veth1 tx off >/dev/null");
    }
    client.sh("ip route add default via 172.16.1.1");

    let a = start_lwip_tap(
        &ns,
        &[
            "-i",
            "name=tapa,addr=172.16.0.2,netmask=255.255.255.0,gw=172.16.0.3",
            "-H",
        ],
    );
    let b = start_lwip_tap(
        &ns,
        &[
            "-i",
            "name=tapb,addr=172.16.0.3,netmask=255.255.255.0,gw=172.16.0.1",
            "-i",
            "name=tapc,addr=172.16.1.1,netmask=255.255.255.0",
        ],
    );
    assert_pings(&ns, "172.16.0.2", &[&a, &b]);
    assert_pings(&ns, "172.16.0.3", &[&a, &b]);
    assert_pings(&client, "172.16.0.2", &[&a, &b]);
    // Routed through B: one hop fewer TTL than a direct reply.
    let out = client.sh("ping -n -c 1 172.16.0.2");
    assert!(out.contains("ttl=254"), "{out}");
    let code = client.sh("curl -s -o /dev/null -w '%{http_code}' http://172.16.0.2/");
    assert_eq!(code, "200", "{}\n{}", a.log(), b.log());
}

/// Teardown happens even when a test fails: namespaces, lwip-tap and the
/// OVS daemons are gone after a panic inside a topology.
#[test]
fn a_failing_test_leaves_nothing_behind() {
    if !ready(Switch::Ovs, &[]) {
        return;
    }
    let mut name = String::new();
    let mut ovs_dir = std::path::PathBuf::new();
    let mut lwip_pid = 0;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let ns = Netns::new("teardown");
        name = ns.name().to_string();
        ns.add_switch(Switch::Ovs, "br0", Some("172.16.0.1/24"));
        ns.add_tap_port(Switch::Ovs, "br0", "tap0");
        ovs_dir = ns.dir.path().join("ovs");
        let lwip = start_lwip_tap(
            &ns,
            &["-i", "name=tap0,addr=172.16.0.2,netmask=255.255.255.0"],
        );
        lwip_pid = lwip.pid();
        panic!("deliberate failure");
    }));
    assert!(result.is_err());
    let namespaces = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&namespaces.stdout).contains(&name),
        "{name} still exists"
    );
    assert!(!ovs_dir.exists(), "the namespace's temp dir is gone");
    // The OVS daemons were started with paths in that directory.
    let procs = std::process::Command::new("pgrep")
        .args(["-f", &ovs_dir.display().to_string()])
        .output()
        .unwrap();
    assert!(
        procs.stdout.is_empty(),
        "OVS left: {}",
        String::from_utf8_lossy(&procs.stdout)
    );
    assert!(lwip_pid > 0 && !std::path::Path::new(&format!("/proc/{lwip_pid}")).exists());
}
