//! The foundation: persistent and transient TAPs, the router example, and
//! the errors that must come before any device is touched.

mod common;

use std::time::Duration;

use common::launch::{Launch, Tun};
use common::{run_lwip_tap, Netns};

const STARTUP: Duration = Duration::from_secs(10);

fn mac_of(ns: &Netns, dev: &str) -> String {
    let out = ns.sh(&format!("cat /sys/class/net/{dev}/address"));
    out.trim().to_string()
}

#[test]
fn ping_over_a_persistent_tap() {
    require_network!("ping");
    let ns = Netns::new("persist");
    ns.add_tap("tap0", Some("172.16.0.1/24"));
    let mut lwip = ns.spawn_lwip_tap(&[
        "-i",
        "name=tap0,addr=172.16.0.2,netmask=255.255.255.0,gw=172.16.0.1",
    ]);
    lwip.wait_for_log("tap0: mac", STARTUP);
    assert_eq!(ns.ping("172.16.0.2", 50, "0.01"), 50, "{}", lwip.log());

    // lwIP's MAC is the TAP's with the lowest bit of the last byte flipped.
    let host_mac = mac_of(&ns, "tap0");
    let neigh = ns.sh("ip neigh show 172.16.0.2 dev tap0");
    let mut expected: Vec<u8> = host_mac
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    expected[5] ^= 1;
    let expected: Vec<String> = expected.iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        neigh.contains(&expected.join(":")),
        "host {host_mac}, neighbour: {neigh}"
    );
    assert!(lwip.log().contains(&format!("mac {}", expected.join(":"))));

    let status = lwip.stop_with(libc::SIGINT);
    assert!(status.success(), "exit {status}: {}", lwip.log());
    assert!(ns.link_exists("tap0"), "a persistent TAP stays");
}

#[test]
fn mtu_comes_from_the_device() {
    require_network!("ping");
    let ns = Netns::new("mtu");
    ns.add_tap("tap0", Some("10.1.0.1/24"));
    ns.sh("ip link set dev tap0 mtu 1280");
    let mut lwip = ns.spawn_lwip_tap(&["-i", "name=tap0,addr=10.1.0.2,netmask=255.255.255.0"]);
    let line = lwip.wait_for_log("tap0: mac", STARTUP);
    assert!(line.contains("mtu 1280"), "{line}");
    // A full-size ping at that MTU gets through; one above it needs
    // fragmentation, which lwIP reassembles and answers.
    assert_eq!(ns.ping("10.1.0.2 -s 1252 -M do", 3, "0.05"), 3);
    assert_eq!(ns.ping("10.1.0.2 -s 3000", 3, "0.05"), 3, "{}", lwip.log());
}

#[test]
fn ping_over_a_transient_tap_which_is_gone_after_sigterm() {
    require_network!("ping");
    let ns = Netns::new("transient");
    let mut lwip =
        ns.spawn_lwip_tap(&["-i", "addr=172.16.0.2,netmask=255.255.255.0,gw=172.16.0.1"]);
    let line = lwip.wait_for_log("transient TAP, host side 172.16.0.1/24", STARTUP);
    let name = line
        .split(": transient")
        .next()
        .and_then(|s| s.split_whitespace().last())
        .expect("TAP name in the log")
        .to_string();
    assert!(ns.link_exists(&name), "{name} exists while running");
    let addr = ns.sh(&format!("ip -4 -o addr show dev {name}"));
    assert!(addr.contains("172.16.0.1/24"), "{addr}");
    assert_eq!(ns.ping("172.16.0.2", 10, "0.05"), 10, "{}", lwip.log());

    let status = lwip.stop_with(libc::SIGTERM);
    assert_eq!(status.code(), Some(0), "{}", lwip.log());
    assert!(!ns.link_exists(&name), "{name} is gone after exit");
}

#[test]
fn transient_tap_is_removed_by_the_kernel_after_sigkill() {
    require_network!("ping");
    let ns = Netns::new("sigkill");
    let mut lwip = ns.spawn_lwip_tap(&["-i", "addr=10.2.0.2,netmask=255.255.255.0,gw=10.2.0.1"]);
    lwip.wait_for_log("transient TAP", STARTUP);
    assert!(ns.link_exists("tap0"));
    lwip.stop_with(libc::SIGKILL);
    assert!(common::wait_until(Duration::from_secs(2), || !ns.link_exists("tap0")));
}

/// The original README's router example on Linux bridges: br0 has the host
/// address and a route to 172.16.1.0/24 via lwIP; br1 has no address; a
/// leaf lwip-tap on tap2 and a router lwip-tap on tap0 + tap1.
#[test]
fn router_example_with_linux_bridges() {
    require_network!("ping");
    let ns = Netns::new("router");
    ns.add_bridge("br0", Some("172.16.0.1/24"));
    ns.sh("ip route add 172.16.1.0/24 via 172.16.0.2");
    ns.add_bridge("br1", None);
    for (tap, bridge) in [("tap0", "br0"), ("tap1", "br1"), ("tap2", "br1")] {
        ns.add_tap(tap, None);
        ns.sh(&format!("ip link set dev {tap} master {bridge}"));
    }
    let mut leaf = ns.spawn_lwip_tap(&[
        "-i",
        "name=tap2,addr=172.16.1.2,netmask=255.255.255.0,gw=172.16.1.1",
    ]);
    let mut router = ns.spawn_lwip_tap(&[
        "-i",
        "name=tap0,addr=172.16.0.2,netmask=255.255.255.0,gw=172.16.0.1",
        "-i",
        "name=tap1,addr=172.16.1.1,netmask=255.255.255.0",
    ]);
    leaf.wait_for_log("tap2: mac", STARTUP);
    router.wait_for_log("tap1: mac", STARTUP);
    // Bridge ports start forwarding at once (no STP), but give ARP a moment.
    assert!(
        ns.wait_for_ping("172.16.1.2", Duration::from_secs(10)),
        "{}",
        router.log()
    );
    for addr in ["172.16.0.2", "172.16.1.1", "172.16.1.2"] {
        assert_eq!(
            ns.ping(addr, 5, "0.05"),
            5,
            "{addr}: {}\n{}",
            router.log(),
            leaf.log()
        );
    }
    // The leaf's replies really went through the router: TTL 255 - 1.
    let out = ns.sh("ping -n -c 1 172.16.1.2");
    assert!(out.contains("ttl=254"), "{out}");
}

#[test]
fn attaching_to_a_missing_tap_says_how_to_create_it() {
    require_network!();
    let ns = Netns::new("missing");
    let err = ns.lwip_tap_refuses("", "-i name=tap7,addr=10.0.0.2,netmask=255.255.255.0", 1);
    assert!(err.contains("tap7: no such device"), "{err}");
    assert!(err.contains("ip tuntap add dev tap7 mode tap"), "{err}");
    assert!(!ns.link_exists("tap7"), "nothing was created");
}

#[test]
fn attaching_to_a_non_tap_device_is_refused() {
    require_network!();
    let ns = Netns::new("nontap");
    ns.sh("ip link add veth0 type veth peer name veth1");
    let err = ns.lwip_tap_refuses("", "-i name=veth0,addr=10.0.0.2,netmask=255.255.255.0", 1);
    assert!(err.contains("veth0: "), "{err}");
}

/// A TAP created for an ordinary user works without root. This machine's
/// /dev/net/tun is root-only, so the test gives lwip-tap a /dev/net of its
/// own with a world-usable device node (as most distributions ship it).
#[test]
fn persistent_tap_works_for_its_non_root_owner() {
    require_network!("ping", "setpriv", "unshare");
    let ns = Netns::new("user");
    ns.sh("ip tuntap add dev tap0 mode tap user nobody && ip link set tap0 up && ip addr add 10.3.0.1/24 dev tap0");
    let as_nobody = Launch::new().user_nobody();
    let lwip = ns.spawn_lwip_tap_under(
        &as_nobody.clone().private_dev_net(Tun::WorldUsable),
        &["-i", "name=tap0,addr=10.3.0.2,netmask=255.255.255.0"],
    );
    let up = ns.wait_for_ping("10.3.0.2", Duration::from_secs(10));
    let text = lwip.log();
    assert!(up, "no reply from lwip-tap running as nobody:\n{text}");
    let uid_line = text.lines().find(|l| l.contains("tap0: mac"));
    assert!(uid_line.is_some(), "{text}");

    // Without access to /dev/net/tun, the message says what is needed.
    let err = ns.lwip_tap_refuses(
        &as_nobody.shell_prefix(),
        "-i name=tap0,addr=10.3.0.2,netmask=255.255.255.0",
        1,
    );
    assert!(
        err.contains("CAP_NET_ADMIN") && err.contains("user $USER"),
        "{err}"
    );
}

#[test]
fn bad_arguments_exit_2_with_one_line_and_touch_no_device() {
    require_network!();
    let ns = Netns::new("badargs");
    let cases: &[(&[&str], &str)] = &[
        (&["-i", "name=tap0,colour=blue"], "unknown key 'colour'"),
        (
            &["-i", "name=tap0,name=tap1"],
            "name= is given more than once",
        ),
        (&["-i", "name=tap0,addr="], "empty value"),
        (
            &["-i", "name=tap0,addr=10.0.0.256,netmask=255.0.0.0"],
            "not an IPv4 address",
        ),
        (
            &["-i", "name=tap0,addr=10.0.0.2,netmask=255.0.255.0"],
            "not contiguous",
        ),
        (&["-i", "name=averyveryverylongname"], "too long"),
        (&["-i", "name=ta/p"], "not allowed"),
        (&["-i", "name=tap0", "-i", "name=tap0"], "more than once"),
        (&["-i", "addr=10.0.0.2,netmask=255.0.0.0"], "gw="),
        (&["-i", "name=tap0", "--bogus"], "--bogus"),
    ];
    for (args, expect) in cases {
        let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        let err = ns.lwip_tap_refuses("", &quoted.join(" "), 2);
        assert!(err.contains(expect), "{args:?}: {err}");
    }
    let links = ns.sh("ip -o link show");
    assert_eq!(links.lines().count(), 1, "only lo exists:\n{links}");
}

#[test]
fn help_and_no_arguments() {
    let out = run_lwip_tap(&["-h"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["-i", "-E", "-C", "-H", "-s", "-d"] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
    let out = run_lwip_tap(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage: lwip-tap -i"));
}

#[test]
fn mtu_key_sets_the_tap_and_lwip() {
    require_network!("ping");
    let ns = Netns::new("jumbo");
    let mut lwip = ns.spawn_lwip_tap(&[
        "-i",
        "addr=172.16.0.2,netmask=255.255.255.0,gw=172.16.0.1,mtu=9000",
    ]);
    let line = lwip.wait_for_log(": mac", STARTUP);
    assert!(line.contains("mtu 9000"), "{line}");
    let name = line
        .split(": mac")
        .next()
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_string();
    let host_mtu = ns.sh(&format!("cat /sys/class/net/{name}/mtu"));
    assert_eq!(host_mtu.trim(), "9000");
    // A jumbo frame that may not be fragmented gets through whole.
    assert!(ns.wait_for_ping(common::LWIP_ADDR, STARTUP));
    assert_eq!(
        ns.ping("172.16.0.2 -s 8972 -M do", 3, "0.05"),
        3,
        "{}",
        lwip.log()
    );
}
