//! How lwip-tap ends: a TAP deleted under it, no /dev/net/tun.

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
