//! DHCP against a real server (dnsmasq on the host side of the TAP).

mod common;

use std::fs;
use std::time::Duration;

use common::Netns;

/// The leased address from a log line such as
/// `tap0: DHCP lease 10.20.0.50/24, gw 10.20.0.1, server 10.20.0.1, lease 120 s`.
fn leased_address(line: &str) -> String {
    let rest = line.split("DHCP lease ").nth(1).expect("lease line");
    rest.split('/').next().unwrap().to_string()
}

#[test]
fn lease_from_dnsmasq_answers_ping_and_is_released_on_exit() {
    require_network!("dnsmasq", "ping");
    let ns = Netns::new("dhcp");
    // The README's DHCP example.
    ns.add_tap("tap0", Some("172.16.0.1/24"));
    let leases = ns.start_dhcp_server("tap0", "172.16.0.50", "172.16.0.60", "1h");
    let mut lwip = ns.spawn_lwip_tap(&["-i", "name=tap0"]);
    let line = lwip.wait_for_log("tap0: DHCP lease", Duration::from_secs(20));
    let addr = leased_address(&line);
    assert!(
        addr.starts_with("172.16.0.") && addr != "172.16.0.1",
        "{line}"
    );
    assert!(
        line.contains("/24, gw 172.16.0.1, server 172.16.0.1, lease 3600 s"),
        "{line}"
    );
    assert_eq!(ns.ping(&addr, 5, "0.05"), 5, "{}", lwip.log());

    let mac = ns.sh("cat /sys/class/net/tap0/address");
    let lease_file = fs::read_to_string(&leases).unwrap();
    assert!(lease_file.contains(&addr), "dnsmasq's leases: {lease_file}");
    assert!(
        lease_file.contains(&mac.trim()[..14]),
        "lease is for lwIP's MAC: {lease_file}"
    );

    let status = lwip.stop_with(libc::SIGTERM);
    assert!(status.success(), "{}", lwip.log());
    assert!(lwip.log().contains("tap0: DHCP lease released"));
    let released = common::wait_until(Duration::from_secs(5), || {
        !fs::read_to_string(&leases).unwrap().contains(&addr)
    });
    assert!(
        released,
        "lease still in dnsmasq's file: {}",
        fs::read_to_string(&leases).unwrap()
    );
}

#[test]
fn static_and_dhcp_interfaces_in_one_process() {
    require_network!("dnsmasq", "ping");
    let ns = Netns::new("dhcpmix");
    ns.add_tap("tap0", Some("10.21.0.1/24"));
    ns.add_tap("tap1", Some("10.22.0.1/24"));
    ns.start_dhcp_server("tap1", "10.22.0.100", "10.22.0.110", "2m");
    let mut lwip = ns.spawn_lwip_tap(&[
        "-i",
        "name=tap0,addr=10.21.0.2,netmask=255.255.255.0,gw=10.21.0.1",
        "-i",
        "name=tap1",
    ]);
    let line = lwip.wait_for_log("tap1: DHCP lease", Duration::from_secs(20));
    let addr = leased_address(&line);
    assert!(addr.starts_with("10.22.0.1"), "{line}");
    assert_eq!(ns.ping("10.21.0.2", 3, "0.05"), 3);
    assert_eq!(ns.ping(&addr, 3, "0.05"), 3);
    assert!(
        !lwip.log().contains("tap0: DHCP"),
        "the static interface does not use DHCP"
    );
}

/// dnsmasq asks for renewal after three seconds (DHCP option 58, T1).
#[test]
fn lease_renewal_is_logged() {
    require_network!("dnsmasq");
    let ns = Netns::new("renew");
    ns.add_tap("tap0", Some("10.23.0.1/24"));
    ns.start_dhcp_server_with(
        "tap0",
        "10.23.0.50",
        "10.23.0.60",
        "2m",
        &["--dhcp-option=option:T1,3s"],
    );
    let mut lwip = ns.spawn_lwip_tap(&["-i", "name=tap0"]);
    let bound = lwip.wait_for_log("tap0: DHCP lease", Duration::from_secs(20));
    let renewed = lwip.wait_for_log("tap0: DHCP lease renewed", Duration::from_secs(15));
    assert!(renewed.contains(&leased_address(&bound)), "{renewed}");
}

/// A server that no longer knows the lease refuses its renewal (DHCPNAK):
/// lwip-tap logs the loss and binds a new lease.
#[test]
fn lost_lease_is_logged_and_replaced() {
    require_network!("dnsmasq");
    let ns = Netns::new("nak");
    ns.add_tap("tap0", Some("10.24.0.1/24"));
    let t1 = ["--dhcp-option=option:T1,3s", "--dhcp-authoritative"];
    ns.start_dhcp_server_with("tap0", "10.24.0.50", "10.24.0.59", "2m", &t1);
    let mut lwip = ns.spawn_lwip_tap(&["-i", "name=tap0"]);
    let first = lwip.wait_for_log("tap0: DHCP lease 10.24.0.5", Duration::from_secs(20));
    // Replace the server with one that hands out another range.
    ns.stop_helpers();
    ns.start_dhcp_server_with("tap0", "10.24.0.100", "10.24.0.109", "2m", &t1);
    lwip.wait_for_log("tap0: DHCP lease lost", Duration::from_secs(15));
    let second = lwip.wait_for_log("tap0: DHCP lease 10.24.0.10", Duration::from_secs(20));
    assert_ne!(leased_address(&first), leased_address(&second));
}
