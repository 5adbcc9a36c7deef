//! lwIP's other protocols against their real peers: the TFTP server
//! (`--tftp`) against tftp-hpa's client and scapy's malformed packets, the
//! MQTT client (`--mqtt-publish`, `--mqtt-subscribe`) against mosquitto.
//! lwip-tap runs as it does by default: started as root, it serves as
//! nobody under the seccomp filter.

mod common;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use common::{LwipTap, Netns, LWIP_ADDR};

/// Bytes that are not all alike, so that a block out of place shows.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A directory `served` inside the namespace's scratch directory, with
/// files, a subdirectory, a symbolic link out of it, and a secret beside it;
/// `mode` for the served directory (nobody must be able to enter it, and to
/// write into it for uploads).
fn tftp_root(ns: &Netns, mode: u32) -> std::path::PathBuf {
    let top = ns.dir.path();
    fs::set_permissions(top, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(top.join("secret"), b"not for TFTP clients\n").unwrap();
    let served = top.join("served");
    fs::create_dir_all(served.join("sub")).unwrap();
    fs::write(served.join("image.bin"), pattern(100_000, 1)).unwrap();
    // A multiple of 512: the transfer ends with an empty block.
    fs::write(served.join("sub/exact.bin"), pattern(1024, 2)).unwrap();
    symlink("../secret", served.join("link")).unwrap();
    fs::set_permissions(&served, fs::Permissions::from_mode(mode)).unwrap();
    served
}

/// `tftp -m binary ADDR -c COMMAND` in the namespace's scratch directory;
/// its output (tftp-hpa exits 0 even when the server refuses).
fn tftp(ns: &Netns, command: &str) -> String {
    let dir = ns.dir.path().display();
    let out = ns.run(&format!(
        "cd {dir} && timeout 20 tftp -m binary {LWIP_ADDR} -c {command}"
    ));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_same(got: &Path, want: &Path, lwip: &LwipTap) {
    let (got, want) = (fs::read(got), fs::read(want).unwrap());
    let got = got.unwrap_or_else(|e| panic!("{e}\n{}", lwip.log()));
    assert!(
        got == want,
        "{} bytes, not the {} sent",
        got.len(),
        want.len()
    );
}

#[test]
fn tftp_serves_files_byte_for_byte_and_nothing_outside_its_directory() {
    require_network!("tftp");
    let ns = Netns::new("tftp");
    let served = tftp_root(&ns, 0o755);
    let dir = served.display().to_string();
    let mut lwip = ns.transient_lwip_tap(&["--tftp", &dir]);
    let line = lwip.wait_for_log("running as ", Duration::from_secs(10));
    // The filter lets openat2 and read through, nothing else more.
    let calls = lwip_tap::sandbox::allowed_syscalls().len() + 2;
    assert!(
        line.contains("running as nobody")
            && line.contains(&format!("seccomp filter on ({calls} system calls allowed)")),
        "{line}"
    );
    let before = lwip.stats();

    for (name, local) in [("image.bin", "got1"), ("sub/exact.bin", "got2")] {
        let out = tftp(&ns, &format!("get {name} {local}"));
        assert!(!out.contains("Error"), "{name}: {out}\n{}", lwip.log());
        assert_same(&ns.dir.path().join(local), &served.join(name), &lwip);
    }
    lwip.wait_for_log("'image.bin' sent to 172.16.0.1:", Duration::from_secs(5));
    assert!(lwip.log().contains(": 100000 bytes in "), "{}", lwip.log());

    // Out of the directory, through a link, absent, netascii, a write.
    for (request, reason) in [
        (
            "get ../secret x",
            "refused read of '../secret': '..' in the name",
        ),
        (
            "get /etc/passwd x",
            "refused read of '/etc/passwd': an absolute name",
        ),
        (
            &format!("get {dir}/image.bin x"),
            "an absolute name; names are relative to",
        ),
        ("get sub/../../secret x", "'..' in the name"),
        ("get link x", "refused read of 'link': a symbolic link"),
        (
            "get nothing-here x",
            "refused read of 'nothing-here': no such file",
        ),
        (
            "put got1 new.bin",
            "refused write of 'new.bin': writing is off",
        ),
    ] {
        let out = tftp(&ns, request);
        assert!(out.contains("Error code 1"), "{request}: {out}");
        lwip.wait_for_log(reason, Duration::from_secs(5));
    }
    let netascii = ns.sh(&format!(
        "cd {} && timeout 20 tftp -m netascii {LWIP_ADDR} -c get image.bin x 2>&1; true",
        ns.dir.path().display()
    ));
    assert!(netascii.contains("Error code 1"), "{netascii}");
    lwip.wait_for_log("only octet (binary) transfers", Duration::from_secs(5));
    assert!(
        !ns.dir.path().join("x").exists() || fs::read(ns.dir.path().join("x")).unwrap().is_empty()
    );
    assert!(!served.join("new.bin").exists());
    // One line for each refusal: the error packets lwIP sends after it are
    // not logged again.
    assert_eq!(lwip.log().matches("refused").count(), 8, "{}", lwip.log());

    common::assert_pools_back(&mut lwip, &before);
    assert!(lwip.is_running(), "{}", lwip.log());
}

#[test]
fn tftp_write_mode_stores_uploads_inside_its_directory_only() {
    require_network!("tftp");
    let ns = Netns::new("tftpw");
    // nobody writes into it.
    let served = tftp_root(&ns, 0o777);
    fs::set_permissions(served.join("sub"), fs::Permissions::from_mode(0o777)).unwrap();
    let dir = served.display().to_string();
    let mut lwip = ns.transient_lwip_tap(&["--tftp", &dir, "--tftp-write"]);
    lwip.wait_for_log("(read and write)", Duration::from_secs(5));
    let before = lwip.stats();

    let upload = ns.dir.path().join("upload.bin");
    fs::write(&upload, pattern(70_000, 3)).unwrap();
    let out = tftp(&ns, "put upload.bin sub/stored.bin");
    assert!(!out.contains("Error"), "{out}\n{}", lwip.log());
    lwip.wait_for_log("'sub/stored.bin' received from", Duration::from_secs(5));
    assert_same(&served.join("sub/stored.bin"), &upload, &lwip);
    // And back.
    let out = tftp(&ns, "get sub/stored.bin back.bin");
    assert!(!out.contains("Error"), "{out}");
    assert_same(&ns.dir.path().join("back.bin"), &upload, &lwip);

    for (name, reason) in [
        ("../escaped.bin", "'..' in the name"),
        ("/tmp/escaped.bin", "an absolute name"),
        ("link", "a symbolic link"),
        ("missing-dir/x.bin", "no such file"),
    ] {
        let out = tftp(&ns, &format!("put upload.bin {name}"));
        assert!(out.contains("Error code 1"), "{name}: {out}");
        lwip.wait_for_log(
            &format!("refused write of '{name}': {reason}"),
            Duration::from_secs(5),
        );
    }
    assert!(!ns.dir.path().join("escaped.bin").exists());
    assert!(!Path::new("/tmp/escaped.bin").exists());
    assert_eq!(
        fs::read(ns.dir.path().join("secret")).unwrap(),
        b"not for TFTP clients\n"
    );
    common::assert_pools_back(&mut lwip, &before);
}

#[test]
fn malformed_tftp_packets_get_one_line_each_and_leak_nothing() {
    require_network!("tftp", "/usr/bin/python3");
    let ns = Netns::new("tftpbad");
    let served = tftp_root(&ns, 0o755);
    let dir = served.display().to_string();
    let mut lwip = ns.transient_lwip_tap(&["--tftp", &dir]);
    let before = lwip.stats();
    // From scapy: packets too short for an opcode, a request without its
    // NULs, a name longer than lwIP takes (255), an unknown opcode, data and
    // an acknowledgement outside any transfer, an error packet; then a
    // burst of 60 bad requests within a second (upstream armed a timer for
    // each one and aborted once lwIP's timer pool was empty).
    common::scapy_to_udp_port(
        &ns,
        69,
        "to_port(b'\\x00')\n\
         to_port(b'\\x00\\x01')\n\
         to_port(b'\\x00\\x01image.bin')\n\
         to_port(b'\\x00\\x01' + b'a' * 300 + b'\\x00octet\\x00')\n\
         to_port(b'\\x00\\x01image.bin\\x00' + b'o' * 40 + b'\\x00')\n\
         to_port(b'\\x00\\x09hello')\n\
         to_port(b'\\x00\\x03\\x00\\x01data')\n\
         to_port(b'\\x00\\x04\\x00\\x01')\n\
         to_port(b'\\x00\\x05\\x00\\x01oops\\x00')\n\
         for n in range(60):\n\
         \x20   to_port(b'\\x00\\x01' + b'b' * 300, sport=41000 + n)\n",
    );
    lwip.wait_for_log("Unknown operation", Duration::from_secs(5));
    lwip.wait_for_log("Filename too long", Duration::from_secs(5));
    lwip.wait_for_log("Mode too long", Duration::from_secs(5));
    // Still serving, and back to where it was.
    let out = tftp(&ns, "get image.bin after.bin");
    assert!(!out.contains("Error"), "{out}\n{}", lwip.log());
    assert_same(
        &ns.dir.path().join("after.bin"),
        &served.join("image.bin"),
        &lwip,
    );
    common::assert_pools_back(&mut lwip, &before);
    assert!(lwip.is_running(), "{}", lwip.log());
    // Each bad packet is at most one line.
    let lines = lwip.log().matches("tftp: 172.16.0.1:").count();
    assert!(lines <= 70, "{lines} lines:\n{}", lwip.log());
}

#[test]
fn tftp_refuses_a_directory_it_cannot_open_in_one_line() {
    require_network!();
    let ns = Netns::new("tftpno");
    let err = ns.lwip_tap_refuses(
        "",
        "-i addr=172.16.0.2/24,gw=172.16.0.1 --tftp /nonexistent/dir",
        1,
    );
    assert!(
        err.contains("--tftp /nonexistent/dir: cannot open the directory"),
        "{err}"
    );
    let err = ns.lwip_tap_refuses("", "-i addr=172.16.0.2/24,gw=172.16.0.1 --tftp-write", 2);
    assert!(err.contains("--tftp"), "{err}");
}

/// Starts mosquitto in the namespace on `port` of every address, with
/// anonymous clients allowed or not, and waits until it listens.
fn start_broker(ns: &Netns, port: u16, anonymous: bool) {
    let conf = ns.dir.path().join(format!("mosquitto-{port}.conf"));
    fs::write(
        &conf,
        format!(
            "listener {port} 0.0.0.0\nallow_anonymous {anonymous}\npersistence false\n\
             log_dest stderr\n"
        ),
    )
    .unwrap();
    let mut cmd = ns.command("mosquitto");
    cmd.arg("-c").arg(&conf);
    ns.start_helper(cmd, &format!("mosquitto-{port}.log"));
    let listening = common::wait_until(Duration::from_secs(5), || {
        ns.sh(&format!("ss -Hltn 'sport = :{port}'"))
            .contains("LISTEN")
    });
    assert!(listening, "mosquitto did not start");
}

/// The pools lwIP still uses in the statistics lwip-tap logged on exit
/// (`TCP_PCB used 1` is the connection's TIME-WAIT, not a leak).
fn pools_in_use_at_exit(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split("stats: ").nth(1))
        .filter(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            // A TCP PCB may stay in TIME-WAIT: lwip-tap closed first.
            let limit = if w.first() == Some(&"TCP_PCB") {
                "1"
            } else {
                "0"
            };
            w.len() > 2
                && w[1] == "used"
                && ["TCP_PCB", "TCP_SEG", "PBUF"].contains(&w[0])
                && w[2] > limit
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn mqtt_publish_is_acknowledged_and_reaches_mosquitto_sub() {
    require_network!("mosquitto", "mosquitto_sub", "ss");
    let ns = Netns::new("mqttpub");
    start_broker(&ns, 1883, true);
    let got = ns.dir.path().join("got.txt");
    let mut sub = ns.command("mosquitto_sub");
    sub.args([
        "-h",
        "127.0.0.1",
        "-t",
        "lab/#",
        "-v",
        "-C",
        "1",
        "-W",
        "20",
    ]);
    ns.start_helper(sub, "got.txt");
    // mosquitto_sub has subscribed once the broker logs it.
    let broker_log = ns.dir.path().join("mosquitto-1883.log");
    assert!(common::wait_until(Duration::from_secs(5), || {
        fs::read_to_string(&broker_log).is_ok_and(|l| l.contains("New client connected"))
    }));
    let mut lwip = ns.spawn_lwip_tap(&[
        "-i",
        common::TRANSIENT_SPEC,
        "--mqtt-publish",
        "mqtt://172.16.0.1/lab/greeting",
        "hello from lwIP",
        "--stats",
    ]);
    let log = lwip.exits_with(0, Duration::from_secs(20));
    assert!(
        log.contains("'lab/greeting': published 15 bytes, acknowledged (QoS 1)"),
        "{log}"
    );
    assert!(pools_in_use_at_exit(&log).is_empty(), "{log}");
    assert!(
        common::wait_until(Duration::from_secs(5), || {
            fs::read_to_string(&got).is_ok_and(|t| t.contains("lab/greeting hello from lwIP"))
        }),
        "{:?}",
        fs::read_to_string(&got)
    );
}

#[test]
fn mqtt_subscribe_logs_each_message_until_its_time_is_up() {
    require_network!("mosquitto", "mosquitto_pub", "ss");
    let ns = Netns::new("mqttsub");
    start_broker(&ns, 1883, true);
    let mut lwip = ns.spawn_lwip_tap(&[
        "-i",
        common::TRANSIENT_SPEC,
        "--mqtt-subscribe",
        "172.16.0.1/sensors/+",
        "--time",
        "3",
    ]);
    lwip.wait_for_log("subscribed (QoS 1)", Duration::from_secs(10));
    let big = "x".repeat(3000);
    for (topic, message) in [
        ("sensors/t1", "21.5"),
        ("sensors/t2", "line\nbreak"),
        ("other/t3", "not subscribed"),
        ("sensors/big", big.as_str()),
    ] {
        let out = ns.run(&format!(
            "mosquitto_pub -h 127.0.0.1 -q 1 -t '{topic}' -m '{message}'"
        ));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let log = lwip.exits_with(0, Duration::from_secs(10));
    assert!(log.contains("'sensors/t1': '21.5' (4 bytes)"), "{log}");
    assert!(
        log.contains("'sensors/t2': 'line\\nbreak' (10 bytes)"),
        "{log}"
    );
    assert!(log.contains("'sensors/big': 'xxx"), "{log}");
    assert!(log.contains("(3000 bytes)"), "{log}");
    assert!(!log.contains("not subscribed"), "{log}");
    assert!(log.contains("done, 3 message(s) in 3.0 s"), "{log}");
}

#[test]
fn mqtt_refusals_and_unreachable_brokers_are_one_line_and_exit_1() {
    require_network!("mosquitto", "ss");
    let ns = Netns::new("mqttno");
    start_broker(&ns, 1884, false);
    for (args, expected) in [
        (
            ["mqtt://172.16.0.1:1884/t", "m"],
            "the broker refused the connection: not authorized",
        ),
        (
            ["172.16.0.1:1885/t", "m"],
            "the connection was refused or closed",
        ),
        (
            ["mqtt://172.16.0.99/t", "m"],
            "no answer from the broker within 10 s",
        ),
    ] {
        let mut all = vec!["-i", common::TRANSIENT_SPEC, "--stats", "--mqtt-publish"];
        all.extend(args);
        let mut lwip = ns.spawn_lwip_tap(&all);
        let log = lwip.exits_with(1, Duration::from_secs(25));
        let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
        assert_eq!(errors.len(), 1, "{log}");
        assert!(errors[0].contains(expected), "{log}");
        assert!(pools_in_use_at_exit(&log).is_empty(), "{log}");
    }
    // Bad input: one line, exit 2.
    for (args, expected) in [
        ("--mqtt-publish mqtt://172.16.0.1/a/# m", "has a wildcard"),
        ("--mqtt-publish mqtt://172.16.0.1/ m", "the topic is empty"),
        ("--mqtt-publish mqtt://172.16.0.1 m", "names no topic"),
        (
            "--mqtt-publish mqtt://10.0.0.300/t m",
            "is not an IPv4 address",
        ),
        ("--mqtt-publish 172.16.0.1/t", "2 values required"),
        (
            "--time 3 -E",
            "--time needs --iperf-client or --mqtt-subscribe",
        ),
    ] {
        let err = ns.lwip_tap_refuses("", &format!("-i {} {args}", common::TRANSIENT_SPEC), 2);
        assert!(err.contains(expected), "{args}: {err}");
    }
}
