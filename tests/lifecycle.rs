//! How lwip-tap starts and ends: what it refuses or warns about at the
//! start, its log level, a TAP deleted under it, no /dev/net/tun.

mod common;

use std::time::{Duration, Instant};

use common::launch::{Launch, Tun};
use common::Netns;

#[test]
fn a_tap_deleted_while_running_is_named_and_ends_the_process() {
    require_network!();
    let ns = Netns::new("deleted");
    ns.add_tap("tap0", Some("10.30.0.1/24"));
    let mut lwip = ns.spawn_lwip_tap(&["-i", "name=tap0,addr=10.30.0.2,netmask=255.255.255.0"]);
    lwip.wait_for_log("tap0: mac", Duration::from_secs(10));
    ns.sh("ip link del dev tap0");
    let start = Instant::now();
    let status = lwip
        .wait(Duration::from_secs(5))
        .expect("lwip-tap keeps running");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(status.code(), Some(1));
    let log = lwip.log();
    let last = log.lines().last().unwrap_or_default();
    assert!(last.contains("tap0: the device went away"), "{log}");
}

/// A /dev/net of its own, empty, hides /dev/net/tun from lwip-tap.
#[test]
fn missing_dev_net_tun_says_what_is_needed() {
    require_network!("unshare");
    let ns = Netns::new("notun");
    let err = ns.lwip_tap_refuses(
        &Launch::new().private_dev_net(Tun::Missing).shell_prefix(),
        "-i addr=10.31.0.2,netmask=255.255.255.0,gw=10.31.0.1",
        1,
    );
    assert!(
        err.contains("/dev/net/tun is missing") && err.contains("modprobe tun"),
        "{err}"
    );
}

/// Two interfaces with one address are refused before any TAP exists.
#[test]
fn the_same_address_on_two_interfaces_is_refused() {
    require_network!();
    let ns = Netns::new("sameaddr");
    let err = ns.lwip_tap_refuses(
        "",
        "-i addr=10.32.0.2/24,gw=10.32.0.1 -i addr=10.32.0.2,netmask=255.255.255.0,gw=10.32.0.3",
        2,
    );
    assert_eq!(
        err.trim_end(),
        "lwip-tap: -i 'addr=10.32.0.2,netmask=255.255.255.0,gw=10.32.0.3': addr=10.32.0.2 is \
         already lwIP's address on interface 0; each interface needs an address of its own"
    );
    assert!(!ns.link_exists("tap0"), "{}", ns.sh("ip link"));
}

/// Overlapping subnets start, with a warning that -q keeps and RUST_LOG
/// still chooses the level when no flag does; an address with a prefix
/// length answers like one with a netmask.
#[test]
fn overlapping_subnets_are_warned_about_and_the_log_level_is_chosen() {
    require_network!();
    let ns = Netns::new("overlap");
    let args = [
        "-i",
        "addr=10.33.0.2/24,gw=10.33.0.1",
        "-i",
        "addr=10.33.1.2/16,gw=10.33.1.1",
    ];
    let warning = "10.33.0.2/24 (interface 0) and 10.33.1.2/16 (interface 1) overlap: lwIP \
                   reaches the addresses they share through only one of them";
    let quiet: Vec<&str> = args.iter().copied().chain(["-q"]).collect();
    // The harness sets RUST_LOG=info; -q wins over it.
    for (args, env) in [(&quiet[..], "info"), (&args[..], "warn")] {
        let mut lwip = ns.spawn_lwip_tap_with(common::LWIP_TAP, args, &[("RUST_LOG", env)]);
        let line = lwip.wait_for_log("overlap", Duration::from_secs(10));
        assert!(line.ends_with(warning), "{line}");
        assert!(
            ns.wait_for_ping("10.33.0.2", Duration::from_secs(10)),
            "{}",
            lwip.log()
        );
        assert_eq!(lwip.stop_with(libc::SIGTERM).code(), Some(0));
        let log = lwip.log();
        assert!(!log.contains("INFO"), "{args:?} RUST_LOG={env}:\n{log}");
    }
    let mut lwip = ns.spawn_lwip_tap(&args);
    lwip.wait_for_log("tap1: mac", Duration::from_secs(10));
    assert_eq!(lwip.stop_with(libc::SIGTERM).code(), Some(0));
    assert!(lwip.log().contains("INFO"), "{}", lwip.log());
}
