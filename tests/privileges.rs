//! Least privilege: after setup lwip-tap runs as nobody (or -Z USER), with
//! no capabilities, no_new_privs and a seccomp filter, and a call outside
//! the filter's list kills it with one line.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use common::launch::{Launch, Tun};
use common::{LwipTap, Netns, LWIP_ADDR, TRANSIENT_SPEC};

/// The fields of /proc/PID/status that say what a process may do.
struct Status(String);

impl Status {
    fn of(pid: i32) -> Status {
        Status(std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status"))
    }

    /// The value of `field:`, whitespace-separated words.
    fn field(&self, field: &str) -> Vec<String> {
        let prefix = format!("{field}:");
        let line = self.0.lines().find(|l| l.starts_with(&prefix));
        let line = line.unwrap_or_else(|| panic!("no {field} in\n{}", self.0));
        line[prefix.len()..]
            .split_whitespace()
            .map(String::from)
            .collect()
    }

    fn one(&self, field: &str) -> String {
        self.field(field).join(" ")
    }
}

const NO_CAPABILITIES: &str = "0000000000000000";

/// Waits until lwip-tap has given up its privileges (it logs who it runs
/// as once, after setup) and returns that line.
fn confined(lwip: &mut LwipTap) -> String {
    lwip.wait_for_log("running as ", Duration::from_secs(10))
}

fn transient_gone(ns: &Netns) -> bool {
    let links = ns.sh("ip -o link show");
    links.lines().all(|l| l.contains(": lo:"))
}

#[test]
fn started_as_root_it_serves_as_nobody_with_no_capabilities_under_the_filter() {
    require_network!("ping", "nc", "curl", "iperf");
    let ns = Netns::new("nobody");
    let mut lwip = ns.transient_lwip_tap(&["-E", "-H", "-s"]);
    let line = confined(&mut lwip);
    assert!(
        line.contains("running as nobody (uid 65534")
            && line.contains("without capabilities")
            && line.contains(&format!(
                "seccomp filter on ({} system calls allowed)",
                lwip_tap::sandbox::allowed_syscalls().len()
            )),
        "{line}"
    );
    assert_eq!(lwip.log().matches("running as").count(), 1);
    let status = Status::of(lwip.pid());
    for field in ["Uid", "Gid"] {
        let ids = status.field(field);
        assert_eq!(ids.len(), 4, "{field}: {ids:?}");
        assert!(ids.iter().all(|id| id != "0"), "{field}: {ids:?}");
    }
    assert!(!status.field("Groups").contains(&"0".to_string()));
    for caps in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status.one(caps), NO_CAPABILITIES, "{caps}");
    }
    assert_eq!(status.one("NoNewPrivs"), "1");
    assert_eq!(status.one("Seccomp"), "2");

    assert_eq!(ns.ping(LWIP_ADDR, 3, "0.2"), 3);
    let reply = ns.sh(&format!("echo confined | nc -N -w 5 {LWIP_ADDR} 7"));
    assert_eq!(reply, "confined\n");
    let code = ns.sh(&format!(
        "curl -s -o /dev/null -w '%{{http_code}}' http://{LWIP_ADDR}/"
    ));
    assert_eq!(code, "200");
    let out = ns.sh(&format!("iperf -c {LWIP_ADDR} -p 5001 -n 20M"));
    assert!(out.contains("bits/sec"), "{out}");
    lwip.wait_for_log("iperf: 172.16.0.1 port", Duration::from_secs(10));

    let status = lwip.stop_with(libc::SIGINT);
    assert_eq!(status.code(), Some(0), "{}", lwip.log());
    assert!(transient_gone(&ns), "{}", ns.sh("ip -o link show"));
}

#[test]
fn z_root_keeps_root_and_every_capability_and_says_so() {
    require_network!("ping");
    let ns = Netns::new("keeproot");
    let mut lwip = ns.transient_lwip_tap(&["-Z", "root"]);
    let line = confined(&mut lwip);
    assert!(
        line.contains("WARN") && line.contains("running as root (uid 0) with every capability"),
        "{line}"
    );
    let status = Status::of(lwip.pid());
    let ours = Status::of(std::process::id() as i32);
    assert_eq!(status.field("Uid"), ["0", "0", "0", "0"]);
    assert_eq!(status.one("CapEff"), ours.one("CapEff"));
    assert_ne!(status.one("CapEff"), NO_CAPABILITIES);
    assert_eq!(status.one("CapBnd"), ours.one("CapBnd"));
    // The filter stays on.
    assert_eq!(status.one("NoNewPrivs"), "1");
    assert_eq!(status.one("Seccomp"), "2");
    let status = lwip.stop_with(libc::SIGTERM);
    assert_eq!(status.code(), Some(0), "{}", lwip.log());
    assert!(transient_gone(&ns));
}

#[test]
fn an_unknown_user_is_refused_in_one_line_before_any_tap_exists() {
    require_network!("setpriv");
    let ns = Netns::new("nosuchuser");
    let err = ns.lwip_tap_refuses("", &format!("-Z nosuchuser -i {TRANSIENT_SPEC}"), 1);
    assert!(err.contains("-Z nosuchuser: no such user"), "{err}");
    assert!(transient_gone(&ns), "{}", ns.sh("ip -o link show"));
    // A user a process that is not root cannot become.
    ns.add_tap("tap0", None);
    let err = ns.lwip_tap_refuses(
        &Launch::new().user_nobody().shell_prefix(),
        "-Z root -i name=tap0",
        1,
    );
    assert!(err.contains("cannot switch to user root"), "{err}");
}

/// Compiles tests/tools/seccomp_probe.c into a library to preload.
fn probe_library(dir: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/seccomp_probe.c");
    let library = dir.join("seccomp_probe.so");
    common::successful_output(
        Command::new("cc")
            .args(["-shared", "-fPIC", "-O1", "-o"])
            .arg(&library)
            .arg(&source)
            .arg("-ldl"),
    );
    library
}

/// lwip-tap on a transient TAP with the probe preloaded, confined.
fn probed(ns: &Netns, probe: &str, flags: &[&str]) -> LwipTap {
    let library = probe_library(ns.dir.path());
    let library = library.display().to_string();
    let mut args = vec!["-i", TRANSIENT_SPEC];
    args.extend_from_slice(flags);
    // A backtrace would need calls the filter forbids: lwip-tap must not
    // try.
    let env = [
        ("LD_PRELOAD", library.as_str()),
        ("PROBE", probe),
        ("RUST_BACKTRACE", "1"),
    ];
    let mut lwip = ns.spawn_lwip_tap_with(common::LWIP_TAP, &args, &env);
    confined(&mut lwip);
    lwip
}

/// Sets the probe off: it makes its call on SIGUSR2.
fn set_off(lwip: &LwipTap) {
    lwip.signal(libc::SIGUSR2);
}

/// Sets the probe off where its call ends lwip-tap, and waits for that;
/// returns the exit status and the log.
fn set_off_to_the_end(lwip: &mut LwipTap) -> (ExitStatus, String) {
    set_off(lwip);
    let status = lwip.wait(Duration::from_secs(10)).expect("still running");
    (status, lwip.log())
}

/// The filter bites: a call outside its list (open) is reported in one
/// line naming it, and the process aborts; without the filter the same call
/// goes through.
#[test]
fn a_forbidden_call_is_one_line_then_abort_and_the_tap_goes_away() {
    require_network!("cc");
    let ns = Netns::new("forbidden");
    let mut lwip = probed(&ns, "open", &[]);
    let (status, log) = set_off_to_the_end(&mut lwip);
    assert_eq!(status.signal(), Some(libc::SIGABRT), "{status}\n{log}");
    let expected = format!(
        "lwip-tap: the seccomp filter stopped system call {} ({})",
        libc::SYS_openat,
        std::env::consts::ARCH
    );
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("seccomp filter"))
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(lines[1].starts_with(&expected), "{log}");
    assert!(!log.contains("probe: open"), "{log}");
    assert!(transient_gone(&ns));

    // The same probe with the filter off: the open succeeds, and lwip-tap
    // runs on.
    let mut lwip = probed(&ns, "open", &["--seccomp", "off"]);
    assert!(lwip.log().contains("seccomp filter off"), "{}", lwip.log());
    assert_eq!(Status::of(lwip.pid()).one("Seccomp"), "0");
    set_off(&lwip);
    lwip.wait_for_log("probe: open succeeded", Duration::from_secs(5));
    assert!(ns.wait_for_ping(LWIP_ADDR, Duration::from_secs(5)));
    assert_eq!(lwip.stop_with(libc::SIGTERM).code(), Some(0));
}

/// A panic under the filter still prints its message and ends the
/// process (Rust's 101), taking the transient TAP with it.
#[test]
fn a_panic_under_the_filter_prints_its_message() {
    require_network!("cc");
    let ns = Netns::new("panic");
    let mut lwip = probed(&ns, "panic", &[]);
    let (status, log) = set_off_to_the_end(&mut lwip);
    assert_eq!(status.code(), Some(101), "{status}\n{log}");
    assert!(
        log.contains("thread 'main' panicked at") && log.contains("Invalid argument"),
        "{log}"
    );
    assert!(
        log.contains("no backtrace under the seccomp filter"),
        "{log}"
    );
    assert!(!log.contains("stopped system call"), "{log}");
    assert!(transient_gone(&ns));
}

/// A kernel without seccomp filtering (seccomp(2) failing with EINVAL):
/// a warning and no filter, unless `--seccomp required` makes it an error.
#[test]
fn without_kernel_seccomp_a_warning_unless_required() {
    require_network!("cc", "ping");
    let ns = Netns::new("noseccomp");
    let mut lwip = probed(&ns, "noseccomp", &[]);
    let log = lwip.log();
    assert!(
        log.contains("WARN") && log.contains("cannot install the seccomp filter"),
        "{log}"
    );
    let status = Status::of(lwip.pid());
    assert_eq!(status.one("Seccomp"), "0");
    assert_eq!(status.one("NoNewPrivs"), "1");
    assert_eq!(status.one("CapEff"), NO_CAPABILITIES);
    assert!(ns.wait_for_ping(LWIP_ADDR, Duration::from_secs(10)));
    assert_eq!(lwip.stop_with(libc::SIGTERM).code(), Some(0));

    let library = probe_library(ns.dir.path());
    let out = ns.run(&format!(
        "LD_PRELOAD={} PROBE=noseccomp {} -i {TRANSIENT_SPEC} --seccomp required",
        library.display(),
        common::LWIP_TAP
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("lwip-tap: cannot install the seccomp filter")
            && last.contains("--seccomp required"),
        "{err}"
    );
    assert!(transient_gone(&ns));
}

/// Started by an ordinary user on a TAP it owns: nothing to drop, but
/// no_new_privs and the filter all the same.
#[test]
fn a_non_root_owner_gets_no_new_privs_and_the_filter() {
    require_network!("ping", "setpriv", "unshare");
    let ns = Netns::new("nonroot");
    ns.sh("ip tuntap add dev tap0 mode tap user nobody && ip link set tap0 up && ip addr add 10.33.0.1/24 dev tap0");
    // This machine's /dev/net/tun may be root-only: give lwip-tap a
    // /dev/net of its own with a world-usable node (see tests/foundation.rs).
    let mut lwip = ns.spawn_lwip_tap_under(
        &Launch::new()
            .private_dev_net(Tun::WorldUsable)
            .user_nobody(),
        &["-i", "name=tap0,addr=10.33.0.2,netmask=255.255.255.0"],
    );
    confined(&mut lwip);
    // ip, unshare, sh and setpriv each exec the next: same pid.
    let status = Status::of(lwip.pid());
    assert_eq!(status.field("Uid")[1], "65534");
    assert_eq!(status.one("CapEff"), NO_CAPABILITIES);
    assert_eq!(status.one("NoNewPrivs"), "1");
    assert_eq!(status.one("Seccomp"), "2");
    let text = lwip.log();
    assert!(
        text.contains("running as uid 65534") && text.contains("seccomp filter on"),
        "{text}"
    );
    assert!(ns.wait_for_ping("10.33.0.2", Duration::from_secs(10)));
    let exit = lwip.stop_with(libc::SIGTERM);
    assert_eq!(exit.code(), Some(0), "{}", lwip.log());
}
