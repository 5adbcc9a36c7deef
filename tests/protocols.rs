//! lwIP's other protocols against their real peers: the mDNS responder
//! (`--mdns`) against avahi, AutoIP with address conflict detection
//! (`autoip=on`) against arping and a second host claiming its address.
//!
//! Each test has a named TAP `tap0` in its own namespace; the namespace's
//! side of it is the peer host (172.16.0.1/24 and its link-local IPv6
//! address).

mod common;

use std::time::Duration;

use common::{wait_until, Netns};

/// A namespace with `tap0` (host side 172.16.0.1/24, up).
fn tap_namespace(tag: &str) -> Netns {
    let ns = Netns::new(tag);
    ns.add_tap("tap0", Some("172.16.0.1/24"));
    ns
}

// ---- mDNS ----

/// Starts a private D-Bus system bus and avahi-daemon on tap0 in `ns`
/// (avahi's tools only talk to the daemon over D-Bus). avahi publishes
/// nothing of its own; its pid file lands on a tmpfs over /run that only
/// its own mount namespace sees. Returns the bus address.
fn start_avahi(ns: &Netns) -> String {
    let dir = ns.dir.path();
    let bus = dir.join("bus");
    let address = format!("unix:path={}", bus.display());
    let dbus_conf = dir.join("dbus.conf");
    std::fs::write(
        &dbus_conf,
        format!(
            "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" \
             \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
             <busconfig><type>system</type><listen>{address}</listen><auth>EXTERNAL</auth>\
             <policy context=\"default\"><allow user=\"*\"/><allow own=\"*\"/>\
             <allow send_destination=\"*\"/><allow receive_sender=\"*\"/></policy></busconfig>\n"
        ),
    )
    .unwrap();
    let mut dbus = ns.command("dbus-daemon");
    dbus.arg(format!("--config-file={}", dbus_conf.display()))
        .arg("--nofork");
    ns.start_helper(dbus, "dbus.log");
    assert!(
        wait_until(Duration::from_secs(5), || bus.exists()),
        "dbus-daemon did not start"
    );
    let avahi_conf = dir.join("avahi.conf");
    std::fs::write(
        &avahi_conf,
        "[server]\nuse-ipv4=yes\nuse-ipv6=yes\nallow-interfaces=tap0\nenable-dbus=yes\n\
         ratelimit-interval-usec=0\n[publish]\npublish-addresses=no\npublish-hinfo=no\n\
         publish-workstation=no\npublish-domain=no\n",
    )
    .unwrap();
    let mut avahi = ns.command("sh");
    avahi.env("DBUS_SYSTEM_BUS_ADDRESS", &address).args([
        "-c",
        &format!(
            "mount -t tmpfs none /run && exec avahi-daemon --no-drop-root --no-chroot \
             --no-rlimits -f {}",
            avahi_conf.display()
        ),
    ]);
    ns.start_helper(avahi, "avahi.log");
    let log = dir.join("avahi.log");
    assert!(
        wait_until(Duration::from_secs(10), || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Server startup complete"))
        }),
        "avahi-daemon did not start: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    address
}

/// Runs an avahi tool in `ns` against the private bus.
fn avahi(ns: &Netns, bus: &str, command: &str) -> String {
    ns.sh(&format!("DBUS_SYSTEM_BUS_ADDRESS={bus} {command}"))
}

#[test]
fn avahi_resolves_the_name_over_ipv4_and_ipv6_and_browses_the_services() {
    require_network!(
        "avahi-daemon",
        "avahi-browse",
        "avahi-resolve",
        "dbus-daemon"
    );
    let ns = tap_namespace("mdns");
    let bus = start_avahi(&ns);
    let mut lwip = ns.spawn_lwip_tap(&[
        "-i",
        "name=tap0,addr=172.16.0.2/24",
        "-E",
        "-H",
        "--mdns",
        "lwipbox",
    ]);
    let mac = lwip.mac("tap0");
    lwip.wait_for_log("mDNS: lwipbox.local and", Duration::from_secs(10));

    let v4 = avahi(&ns, &bus, "avahi-resolve -4 -n lwipbox.local");
    assert_eq!(v4.trim(), "lwipbox.local\t172.16.0.2", "{}", lwip.log());
    // lwIP's link-local address, formed from its MAC (EUI-64).
    let v6 = avahi(&ns, &bus, "avahi-resolve -6 -n lwipbox.local");
    let b: Vec<u8> = mac
        .split(':')
        .map(|x| u8::from_str_radix(x, 16).unwrap())
        .collect();
    let link_local = std::net::Ipv6Addr::new(
        0xfe80,
        0,
        0,
        0,
        u16::from_be_bytes([b[0] ^ 2, b[1]]),
        u16::from_be_bytes([b[2], 0xff]),
        u16::from_be_bytes([0xfe, b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
    );
    assert_eq!(v6.trim(), format!("lwipbox.local\t{link_local}"));
    let reverse = avahi(&ns, &bus, "avahi-resolve -a 172.16.0.2");
    assert_eq!(reverse.trim(), "172.16.0.2\tlwipbox.local");

    // Every service that runs, resolved to its host and port, seen over
    // both IP versions.
    let browse = avahi(&ns, &bus, "avahi-browse -rtp -a");
    for (kind, port) in [("_http._tcp", 80), ("_echo._tcp", 7), ("_echo._udp", 7)] {
        for ip in ["IPv4", "IPv6"] {
            let found = browse.lines().any(|l| {
                let f: Vec<&str> = l.split(';').collect();
                f.len() > 8
                    && f[0] == "="
                    && f[2] == ip
                    && f[3] == "lwipbox"
                    && (f[4] == kind || (kind == "_http._tcp" && f[4] == "Web Site"))
                    && f[6] == "lwipbox.local"
                    && f[8] == port.to_string()
            });
            assert!(found, "{kind} over {ip} not found:\n{browse}");
        }
    }
}

#[test]
fn malformed_mdns_queries_are_logged_dropped_and_leak_nothing() {
    require_network!();
    let ns = tap_namespace("mdns-bad");
    let mut lwip = ns.spawn_lwip_tap(&[
        "-i",
        "name=tap0,addr=172.16.0.2/24",
        "-H",
        "--mdns",
        "lwipbox",
    ]);
    lwip.wait_for_log("mDNS: lwipbox.local and", Duration::from_secs(10));
    let before = lwip.stats();
    // A name cut off, a label of 64 bytes (its length byte, 0x40, is a
    // label type DNS does not have), a pointer loop, a record
    // counted and missing: to 224.0.0.251 and ff02::fb, port 5353.
    let script = r#"
import time
from scapy.all import Ether, IP, IPv6, UDP, Raw, sendp, conf, get_if_hwaddr
conf.verb = 0
h = b"\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"
bad = [h + b"\x07lwipbox\x05loc",
       h + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01",
       h + b"\xc0\x0c\x00\x01\x00\x01",
       h[:7] + b"\x01" + h[8:] + b"\x07lwipbox\x05local\x00\x00\x01\x00\x01"]
mac = get_if_hwaddr("tap0")
for n, payload in enumerate(bad):
    v4 = Ether(src=mac, dst="01:00:5e:00:00:fb") / IP(src="172.16.0.1", dst="224.0.0.251", ttl=255)
    v6 = Ether(src=mac, dst="33:33:00:00:00:fb") / IPv6(src="fe80::1", dst="ff02::fb", hlim=255)
    for l3 in (v4, v6):
        sendp(l3 / UDP(sport=5353, dport=5353) / Raw(payload), iface="tap0")
    time.sleep(1.1)
"#;
    let path = ns.dir.path().join("bad.py");
    std::fs::write(&path, script).unwrap();
    ns.sh(&format!("/usr/bin/python3 {}", path.display()));
    let log = lwip.wait_for_log("mDNS: malformed packet from", Duration::from_secs(5));
    assert!(
        log.contains("172.16.0.1:5353") || log.contains("fe80::1"),
        "{log}"
    );
    let lines: Vec<String> = lwip
        .log()
        .lines()
        .filter(|l| l.contains("mDNS: malformed packet"))
        .map(str::to_string)
        .collect();
    // One line a second at most: each of the 4 rounds (IPv4 then IPv6)
    // is logged once, the second of each counted in the next line.
    assert!((4..=8).contains(&lines.len()), "{lines:#?}\n{}", lwip.log());
    let all = lines.join("\n");
    for what in [
        "the message ends inside it",
        "a name has a label of an unknown type",
        "a name's compression pointer does not point back",
        "record 1",
    ] {
        assert!(all.contains(what), "{what}:\n{all}");
    }
    assert!(lwip.is_running(), "{}", lwip.log());
    // Nothing held: the heap and every pool that holds packets or state
    // back where they were (the responder's own timers come and go).
    let held = |stats: &common::Stats| {
        [
            "HEAP",
            "PBUF_POOL",
            "PBUF",
            "MDNS_PKTS",
            "UDP_PCB",
            "IGMP_GROUP",
            "MLD6_GROUP",
        ]
        .map(|pool| stats.used(pool))
    };
    let settled = wait_until(Duration::from_secs(5), || {
        held(&lwip.stats()) == held(&before)
    });
    assert!(
        settled,
        "pools before {:?}, after {:?}",
        before.0,
        lwip.stats().0
    );
    assert!(lwip.stats().used("SYS_TIMEOUT") <= before.used("SYS_TIMEOUT"));
}

#[test]
fn bad_mdns_names_are_refused_in_one_line() {
    require_network!();
    let ns = Netns::new("mdns-names");
    for (name, why) in [
        (&"a".repeat(64)[..], "longer than 63 bytes"),
        ("lwip.box", "one label"),
        ("lwip_box", "only letters, digits and '-'"),
        ("lwip-", "cannot start or end with '-'"),
        ("''", "it is empty"),
    ] {
        let err = ns.lwip_tap_refuses("", &format!("-i name=tap0 --mdns {name}"), 2);
        assert!(err.contains(why), "{name}: {err}");
    }
}

// ---- AutoIP ----

/// The first address lwIP's AutoIP tries for `mac` (autoip.c's
/// LWIP_AUTOIP_CREATE_SEED_ADDR: 169.254.1.0 plus the MAC's last two
/// bytes, kept within 169.254.1.0-169.254.254.255), and each next one.
fn autoip_candidate(mac: [u8; 6], tries: u32) -> std::net::Ipv4Addr {
    const START: u32 = 0xa9fe_0100;
    const END: u32 = 0xa9fe_feff;
    let seed = START + (u32::from(mac[4]) | u32::from(mac[5]) << 8);
    let mut addr = 0xa9fe_0000 | (seed.wrapping_add(tries) & 0xffff);
    if addr < START {
        addr += END - START + 1;
    }
    if addr > END {
        addr -= END - START + 1;
    }
    addr.into()
}

#[test]
fn autoip_skips_a_taken_address_answers_arping_defends_once_then_moves() {
    require_network!("arping");
    let ns = tap_namespace("autoip");
    // lwIP's MAC is the TAP's with the lowest bit of the last byte flipped.
    let host_mac = ns.sh("cat /sys/class/net/tap0/address");
    let mut mac: Vec<u8> = host_mac
        .trim()
        .split(':')
        .map(|x| u8::from_str_radix(x, 16).unwrap())
        .collect();
    mac[5] ^= 1;
    let mac: [u8; 6] = mac.try_into().unwrap();
    let (first, second, third) = (
        autoip_candidate(mac, 0),
        autoip_candidate(mac, 1),
        autoip_candidate(mac, 2),
    );
    // The host has the first address: the kernel answers lwIP's probe.
    ns.sh(&format!("ip addr add {first}/16 dev tap0"));
    // No DHCP server: after the first DISCOVER goes unanswered, AutoIP.
    let mut lwip = ns.spawn_lwip_tap(&["-i", "name=tap0,autoip=on"]);
    let line = lwip.wait_for_log("AutoIP: another host claims", Duration::from_secs(15));
    assert!(
        line.contains(&format!("claims {first}; not taking it")),
        "{line}"
    );
    let line = lwip.wait_for_log("AutoIP address", Duration::from_secs(20));
    assert!(line.contains(&format!("{second}/16")), "{}", lwip.log());
    lwip.wait_for_log("ready after", Duration::from_secs(5));
    let arping = ns.sh(&format!("arping -c 2 -w 3 -I tap0 {second}"));
    assert!(arping.to_lowercase().contains(&format_mac(mac)), "{arping}");

    // A host claims lwIP's address (a gratuitous ARP from another MAC):
    // lwIP defends it with an announcement (RFC 5227 2.4 b)) and keeps
    // it; a second claim within 10 s makes it retreat to a new address.
    let claim = format!(
        "from scapy.all import Ether, ARP, sendp, conf\nconf.verb = 0\n\
         m = '02:00:00:00:be:ef'\n\
         sendp(Ether(src=m, dst='ff:ff:ff:ff:ff:ff') / ARP(op=1, hwsrc=m, psrc='{second}', \
         pdst='{second}'), iface='tap0')\n"
    );
    let path = ns.dir.path().join("claim.py");
    std::fs::write(&path, claim).unwrap();
    let claim = format!("/usr/bin/python3 {}", path.display());
    ns.sh(&claim);
    let line = lwip.wait_for_log("defended it", Duration::from_secs(5));
    assert!(line.contains(&second.to_string()), "{line}");
    ns.sh(&format!("arping -c 1 -w 2 -I tap0 {second}"));
    ns.sh(&claim);
    let line = lwip.wait_for_log("retreating", Duration::from_secs(5));
    assert!(line.contains(&second.to_string()), "{line}");
    let moved = wait_until(Duration::from_secs(15), || {
        lwip.log().contains(&format!("AutoIP address {third}/16"))
    });
    assert!(moved, "{}", lwip.log());
    ns.sh(&format!("arping -c 1 -w 3 -I tap0 {third}"));
}

#[test]
fn autoip_needs_dhcp_and_says_so() {
    require_network!();
    let ns = Netns::new("autoip-keys");
    let err = ns.lwip_tap_refuses("", "-i name=tap0,addr=10.0.0.2/24,autoip=on", 2);
    assert!(err.contains("autoip=on is DHCP's fallback"), "{err}");
    let err = ns.lwip_tap_refuses("", "-i name=tap0,autoip=maybe", 2);
    assert!(err.contains("autoip"), "{err}");
}

fn format_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
