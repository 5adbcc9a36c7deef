//! lwip-drill against the lwIP compiled in: our corpus (tests/drill/) passes;
//! scripts that must fail (tests/drill_failures/, each opening with
//! `// must fail: MESSAGE`) fail with their message; a malformed script is
//! one `error:` line; what lwip-drill cannot act out is skipped with its
//! name; a run repeats exactly; `--pcap` writes virtual times. None of it
//! needs root, a TAP or a network namespace.
//!
//! With `--target linux`, against this machine's kernel: our Linux scripts
//! (tests/drill_linux/) pass; a wrong one fails with the expected and the
//! actual packet; a shell command that fails fails the script at its line;
//! without the privilege, one line says what is needed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

use common::drill_scripts as scripts;

const LWIP_DRILL: &str = env!("CARGO_BIN_EXE_lwip-drill");

fn tests_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
}

fn drill(args: &[&str], scripts: &[PathBuf]) -> Output {
    Command::new(LWIP_DRILL)
        .args(args)
        .args(scripts)
        .output()
        .expect("run lwip-drill")
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

#[test]
fn the_corpus_passes_on_the_pinned_lwip() {
    let corpus = scripts(&tests_dir("drill"));
    assert!(corpus.len() >= 5, "the corpus: {corpus:?}");
    let output = drill(&[], &corpus);
    let out = text(&output);
    assert!(
        out.contains(&format!("{} passed, 0 failed, 0 skipped", corpus.len())),
        "{out}"
    );
    assert!(output.status.success(), "{out}");
}

#[test]
fn scripts_that_must_fail_fail_with_their_message() {
    let cases = scripts(&tests_dir("drill_failures"));
    assert!(cases.len() >= 5);
    for script in cases {
        let source = std::fs::read_to_string(&script).unwrap();
        let expected = source
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("// must fail: "))
            .unwrap_or_else(|| panic!("{}: no `// must fail:` line", script.display()));
        let output = drill(&[], std::slice::from_ref(&script));
        let out = text(&output);
        assert_eq!(output.status.code(), Some(1), "{out}");
        let verdict = out.lines().next().unwrap_or("");
        assert!(
            verdict.starts_with(&format!("FAIL {}:", script.display())),
            "{}: {out}",
            script.display()
        );
        assert!(
            out.contains(expected),
            "{}: expected {expected:?} in\n{out}",
            script.display()
        );
        assert!(out.contains("0 passed, 1 failed, 0 skipped"), "{out}");
    }
}

/// Writes `source` to a script file of its own in a temporary directory.
fn script_file(name: &str, source: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("drill");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, source).unwrap();
    path
}

#[test]
fn a_malformed_script_is_one_error_line_with_where_and_what() {
    let path = script_file(
        "malformed.pkt",
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0 win 1000\n",
    );
    let output = drill(&[], std::slice::from_ref(&path));
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("error: {}:2:", path.display())) && first.contains("expected"),
        "{out}"
    );
    assert!(out.contains("0 passed, 1 failed, 0 skipped"), "{out}");
}

#[test]
fn what_lwip_drill_cannot_act_out_is_skipped_with_its_name() {
    let cases = [
        ("gre.pkt", "0 < gre: S 0:0(0) win 1000\n", "unsupported gre"),
        ("syscall.pkt", "0 epoll_create(1) = 3\n", "unsupported system call epoll_create()"),
        ("option.pkt", "--strict_segments\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n", "unsupported option --strict_segments"),
        ("sockopt.pkt", "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, SOL_SOCKET, SO_RCVBUF, [1000], 4) = 0\n", "unsupported setsockopt option SO_RCVBUF"),
        ("unknown_sockopt.pkt", "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, SOL_TCP, TCP_FASTOPEN, [2], 4) = 0\n", "unsupported setsockopt option TCP_FASTOPEN"),
        ("fastopen.pkt", "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 sendto(3, ..., 0, MSG_FASTOPEN, ..., ...) = -1 EINPROGRESS (Operation is now in progress)\n", "unsupported sendto() with MSG_FASTOPEN (TCP Fast Open)"),
        ("unknown_level.pkt", "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, SOL_IP, IP_FREEBIND, [1], 4) = 0\n", "unsupported setsockopt option IP_FREEBIND"),
    ];
    for (name, source, expected) in cases {
        let path = script_file(name, source);
        let output = drill(&[], std::slice::from_ref(&path));
        let out = text(&output);
        assert!(
            out.starts_with(&format!("skipped: {expected} at {}:", path.display())),
            "{out}"
        );
        assert!(out.contains("0 passed, 0 failed, 1 skipped"), "{out}");
        assert_eq!(output.status.code(), Some(1), "a skip is not a pass: {out}");
    }
    // Shell commands and code blocks tune another OS: noted, never fatal.
    let path = script_file(
        "shell.pkt",
        "`sysctl -q net.ipv4.tcp_timestamps=0`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 `echo hi`\n",
    );
    let out = text(&drill(&[], std::slice::from_ref(&path)));
    assert!(out.contains("skipped: shell command at line 1"), "{out}");
    assert!(out.contains("skipped: shell command at line 3"), "{out}");
    assert!(out.contains(&format!("ok {}", path.display())), "{out}");
}

#[test]
fn the_same_script_runs_the_same_every_time() {
    let corpus = scripts(&tests_dir("drill"));
    let first = text(&drill(&["-v", "-j", "1"], &corpus));
    let second = text(&drill(&["-v", "-j", "2"], &corpus));
    assert!(first.lines().count() > corpus.len(), "{first}");
    assert_eq!(first, second);
}

#[test]
fn pcap_files_show_every_frame_at_its_virtual_time() {
    use pcap_file::pcapng::{Block, PcapNgReader};
    let corpus = scripts(&tests_dir("drill"));
    let script = &corpus[0];
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("drill-pcap");
    let _ = std::fs::remove_dir_all(&dir);
    let output = drill(
        &["--pcap", dir.to_str().unwrap()],
        std::slice::from_ref(script),
    );
    assert!(output.status.success(), "{}", text(&output));
    let stem = script.file_stem().unwrap().to_string_lossy();
    let file = std::fs::File::open(dir.join(format!("{stem}.pcapng"))).unwrap();
    let mut reader = PcapNgReader::new(file).unwrap();
    let mut times = Vec::new();
    while let Some(block) = reader.next_block() {
        if let Block::EnhancedPacket(packet) = block.unwrap() {
            times.push(packet.timestamp);
        }
    }
    assert!(times.len() >= 4, "{times:?}");
    // Virtual time starts at the epoch: a script's frames are seconds
    // after 1970, not today.
    assert!(times.iter().all(|t| t.as_secs() < 3600), "{times:?}");
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

#[test]
fn an_icmp_error_quotes_the_udp_datagram_of_the_flow_it_is_about() {
    use pcap_file::pcapng::{Block, PcapNgReader};
    let script = script_file(
        "icmp_quotes_udp.pkt",
        "0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n\
         +0 bind(3, ..., ...) = 0\n\
         +0 connect(3, ..., ...) = 0\n\
         +0 send(3, ..., 20, 0) = 20\n\
         +0 > udp (20)\n\
         +0.1 < icmp unreachable port_unreachable [udp (20)]\n",
    );
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("drill-icmp-quote");
    let _ = std::fs::remove_dir_all(&dir);
    let output = drill(
        &["--pcap", dir.to_str().unwrap()],
        std::slice::from_ref(&script),
    );
    assert!(output.status.success(), "{}", text(&output));
    let file = std::fs::File::open(dir.join("icmp_quotes_udp.pcapng")).unwrap();
    let mut reader = PcapNgReader::new(file).unwrap();
    let mut quoted_ports = Vec::new();
    while let Some(block) = reader.next_block() {
        if let Block::EnhancedPacket(packet) = block.unwrap() {
            let frame = &packet.data;
            // Ethernet, IPv4 (20 bytes), ICMP (8), the quoted IPv4 header
            // (20) and the quoted UDP header's ports.
            if frame.len() >= 14 + 20 + 8 + 20 + 4 && frame[12..14] == [8, 0] && frame[23] == 1 {
                let at = 14 + 20 + 8 + 20;
                let port = |i: usize| u16::from_be_bytes([frame[at + i], frame[at + i + 1]]);
                quoted_ports.push((port(0), port(2)));
            }
        }
    }
    // The datagram went from lwIP's 8080 to the remote end's 8080: the
    // ICMP error quotes those ports.
    assert_eq!(quoted_ports, [(8080, 8080)]);
}

#[test]
fn a_scripts_descriptor_numbers_are_names_for_the_stacks_as_in_packetdrill() {
    // socket() gives lwIP's first descriptor (3), accept() the next: the
    // script's 5, 7 and 9 name them, as packetdrill maps script to live fds.
    let path = script_file(
        "fd_names.pkt",
        "0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 5\n\
         +0 bind(5, ..., ...) = 0\n\
         +0.1 < udp (10)\n\
         +0 poll([{fd=5, events=POLLIN, revents=POLLIN}], 1, 0) = 1\n\
         +0 read(5, ..., 100) = 10\n\
         +0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 7\n\
         +0 bind(7, ..., ...) = 0\n\
         +0 listen(7, 1) = 0\n\
         +0.1 < S 0:0(0) win 65535 <mss 1460>\n\
         +0 > S. 0:0(0) ack 1 <mss 1460>\n\
         +0.1 < . 1:1(0) ack 1 win 65535\n\
         +0 accept(7, ..., ...) = 9\n\
         +0 write(9, ..., 10) = 10\n\
         +0 > P. 1:11(10) ack 1\n",
    );
    let output = drill(&[], std::slice::from_ref(&path));
    assert!(output.status.success(), "{}", text(&output));
}

// --target linux: this machine's kernel, each script in a network
// namespace of its own, so these need root (or a user namespace with a
// usable /dev/net/tun): where that cannot be had, each test reports itself
// skipped (tests/common). Time is real there: the scripts run with a 50 ms
// tolerance so that a busy machine (two cores, the suite running beside)
// does not fail them, and 15 % of the time since the previous line, as the
// kernel's timer wheel may fire a timer an eighth of its timeout late (a
// 300 ms RTO came 40.5 ms late on a CONFIG_HZ=250 kernel; docs/drill.md).

/// The tolerance the tests give real time.
const TOLERANCE: [&str; 2] = ["--tolerance_usecs=50000", "--tolerance_percent=15"];

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

/// lwip-drill on Linux, with the tolerance real time needs here.
fn drill_linux(args: &[&str], scripts: &[PathBuf]) -> Output {
    let args: Vec<&str> = ["--target", "linux"]
        .iter()
        .chain(&TOLERANCE)
        .chain(args)
        .copied()
        .collect();
    drill(&args, scripts)
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
    let scripts = scripts(&tests_dir("drill_linux"));
    assert!(scripts.len() >= 15, "{scripts:?}");
    let output = drill_linux(&[], &scripts);
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
    let right = script_file("linux_right_ack.pkt", &passive_open(1001));
    let wrong = script_file("linux_wrong_ack.pkt", &passive_open(1002));
    let output = drill_linux(&[], &[right.clone(), wrong.clone()]);
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
    let init = script_file("linux_init.sh", "test -d /proc/sys/net/ipv4\n");
    let seen = script_file(
        "shell_sees_tun0.pkt",
        "0 `grep -q tun0 /proc/net/dev`\n+0 `test $(cat /proc/sys/net/ipv6/conf/tun0/mtu) = 1400`\n",
    );
    let init_arg = format!("--init_scripts=sh {}", init.display());
    let output = drill_linux(&["--mtu=1400", &init_arg], std::slice::from_ref(&seen));
    let out = text(&output);
    assert!(output.status.success(), "{out}");

    let failing = script_file(
        "shell_fails.pkt",
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 `echo no such thing >&2; exit 3`\n",
    );
    let output = drill_linux(&[], std::slice::from_ref(&failing));
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

#[test]
fn lwip_and_linux_side_by_side() {
    if !linux_or_skip() {
        return;
    }
    let agree = tests_dir("drill/udp/datagrams.pkt");
    let differ = tests_dir("drill/tcp/ack_to_closed_port.pkt");
    let output = drill(
        &["--compare", "lwip,linux", TOLERANCE[0], TOLERANCE[1]],
        &[agree.clone(), differ.clone()],
    );
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!("| {} | ok | ok |", agree.display())),
        "{out}"
    );
    assert!(
        out.contains(&format!("| {} | **ok** | **FAIL** |", differ.display())),
        "{out}"
    );
    // Linux answers an ACK to a closed port with a RST that has no ACK.
    assert!(
        out.contains("flags: expected R. but the packet has R\n"),
        "{out}"
    );
    assert!(
        out.contains("The targets disagree on 1 of 2 scripts."),
        "{out}"
    );
}
