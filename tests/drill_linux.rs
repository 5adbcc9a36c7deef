//! lwip-drill against this machine's Linux kernel (`--target linux`): our
//! Linux scripts (tests/drill_linux/) pass; a wrong one fails with the
//! expected and the actual packet; a shell command that fails fails the
//! script at its line; without the privilege, one line says what is
//! needed. Each script runs in a network namespace of its own, so these
//! need root (or a user namespace with a usable /dev/net/tun): where that
//! cannot be had, each test reports itself skipped (tests/common).
//!
//! Time is real here: the scripts run with a 40 ms tolerance so that a
//! busy machine (two cores, the suite running beside) does not fail them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

const LWIP_DRILL: &str = env!("CARGO_BIN_EXE_lwip-drill");

/// The tolerance the tests give real time.
const TOLERANCE: &str = "--tolerance_usecs=40000";

/// Whether a network namespace with a TUN can be had here; else the
/// calling test is recorded as skipped (with lwip-drill's reason).
fn linux_or_skip() -> bool {
    let output = Command::new(LWIP_DRILL)
        .arg("--probe-linux")
        .output()
        .expect("run lwip-drill");
    if output.status.success() {
        return true;
    }
    common::skip(String::from_utf8_lossy(&output.stderr).trim());
    false
}

fn drill(args: &[&str], scripts: &[PathBuf]) -> Output {
    Command::new(LWIP_DRILL)
        .args(["--target", "linux", TOLERANCE])
        .args(args)
        .args(scripts)
        .output()
        .expect("run lwip-drill")
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// Writes `source` to a script file of its own in a temporary directory.
fn script_file(name: &str, source: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("drill_linux");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, source).unwrap();
    path
}

/// A passive open with timestamps, as Linux answers it; `ack` is what the
/// last line expects of the kernel's ACK of 1000 bytes.
fn passive_open(ack: u32) -> String {
    format!(
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
         +0 bind(3, ..., ...) = 0\n\
         +0 listen(3, 1) = 0\n\
         +0 < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>\n\
         +0 > S. 0:0(0) ack 1 <...>\n\
         +.01 < . 1:1(0) ack 1 win 514\n\
         +0 accept(3, ..., ...) = 4\n\
         +0 < P. 1:1001(1000) ack 1 win 514\n\
         +0~+.05 > . 1:1(0) ack {ack} <...>\n"
    )
}

#[test]
fn the_linux_scripts_pass_on_this_kernel() {
    if !linux_or_skip() {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/drill_linux");
    let scripts = common::drill_scripts(&dir);
    assert!(scripts.len() >= 5, "{scripts:?}");
    let output = drill(&[], &scripts);
    let out = text(&output);
    assert!(
        out.contains(&format!("{} passed, 0 failed, 0 skipped", scripts.len())),
        "{out}"
    );
    assert!(output.status.success(), "{out}");
}

#[test]
fn a_wrong_linux_script_fails_with_the_expected_and_the_actual_packet() {
    if !linux_or_skip() {
        return;
    }
    let right = script_file("right_ack.pkt", &passive_open(1001));
    let wrong = script_file("wrong_ack.pkt", &passive_open(1002));
    let output = drill(&[], &[right.clone(), wrong.clone()]);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("ok {}", right.display()), "{out}");
    assert_eq!(
        lines[1],
        format!(
            "FAIL {}:9: ack: expected 1002 but the packet has 1001",
            wrong.display()
        ),
        "{out}"
    );
    assert!(
        lines[2].starts_with("  expected: ") && lines[2].ends_with("> . 1:1(0) ack 1002 <...>"),
        "{out}"
    );
    assert!(
        lines[3].starts_with("  actual:   ") && lines[3].contains("> . 1:1(0) ack 1001 win "),
        "{out}"
    );
    assert!(out.contains("1 passed, 1 failed, 0 skipped"), "{out}");
}

#[test]
fn shell_commands_run_in_the_scripts_namespace_and_a_failing_one_fails_its_line() {
    if !linux_or_skip() {
        return;
    }
    // The command sees the script's namespace: tun0 with the stack's
    // address; --init_scripts run there too, before the script.
    let init = script_file("init.sh", "test -d /proc/sys/net/ipv4\n");
    let seen = script_file(
        "shell_sees_tun0.pkt",
        "0 `grep -q tun0 /proc/net/dev`\n+0 `test $(cat /proc/sys/net/ipv6/conf/tun0/mtu) = 1400`\n",
    );
    let init_arg = format!("--init_scripts=sh {}", init.display());
    let output = drill(&["--mtu=1400", &init_arg], std::slice::from_ref(&seen));
    let out = text(&output);
    assert!(output.status.success(), "{out}");

    let failing = script_file(
        "shell_fails.pkt",
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 `echo no such thing >&2; exit 3`\n",
    );
    let output = drill(&[], std::slice::from_ref(&failing));
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.starts_with(&format!(
            "FAIL {}:2: `echo no such thing >&2; exit 3` failed (exit status: 3): no such thing",
            failing.display()
        )),
        "{out}"
    );
}

#[test]
fn without_the_privilege_one_line_says_what_is_needed() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || !common::have_tool("setpriv") {
        common::skip("needs root and setpriv to run lwip-drill as another user");
        return;
    }
    let script = script_file(
        "unprivileged.pkt",
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n",
    );
    // Readable by the user the run switches to.
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args([LWIP_DRILL, "--target", "linux"])
        .arg(&script)
        .output()
        .expect("run setpriv");
    let out = text(&output);
    if output.status.success() {
        // A user namespace with a TUN is allowed here: the script ran.
        assert!(out.contains("1 passed"), "{out}");
        return;
    }
    assert_eq!(output.status.code(), Some(2), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with(
            "lwip-drill: --target linux needs root or CAP_NET_ADMIN (in a user namespace)"
        ),
        "{out}"
    );
}
