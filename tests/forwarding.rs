//! IPv4 forwarding through a two-interface lwip-tap router, checked end to
//! end between two Linux hosts (network namespaces), each on its own bridge:
//!
//!     left 172.16.0.100 -- br0 -- tap0 [lwip-tap 172.16.0.1 | 172.16.1.1] tap1 -- br1 -- right 172.16.1.100
//!
//! Every datagram, ping and byte stream must arrive unchanged: fragmented
//! UDP up to 60000 bytes (compared byte for byte on the far side), large
//! pings with a pattern, a 1 MiB TCP echo, in both directions; with the
//! same MTU on both sides and with a smaller one on the right, where lwIP
//! cuts the left's fragments again. The first datagram of each test goes
//! through a router that has not resolved the right host yet, so lwIP
//! queues it until ARP answers. (lwIP's ip4_forward clears the checksums of
//! what it forwards, see docs/forwarding.md.)
//!
//! The bridges' ports towards the hosts segment and checksum in software,
//! so each host receives what a wire would carry. By default lwip-tap
//! merges the segments lwIP forwards into super-frames (the merge stage):
//! the right host must receive exactly the frames lwIP sent, as lwip-tap's
//! own capture of them shows. The same again with super-frame pass-through
//! (`offload=on` on both interfaces): the hosts send TCP super-frames, lwIP
//! forwards them whole, and the kernel cuts them on the bridge port towards
//! the other host, so each host receives wire-sized segments with correct
//! checksums.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{start_lwip_tap, Netns};

const UDP_PORT: u16 = 9000;
const TCP_PORT: u16 = 9007;
/// Sizes after the first: one fragment short of a full one, then several
/// to many fragments, up to 60000 bytes (41 fragments at MTU 1500).
const UDP_SIZES: &[usize] = &[1472, 1473, 3000, 4000, 8000, 16384, 30000, 45000, 60000];

/// The router and the two hosts it connects.
struct Routed {
    /// Holds the bridges, TAPs and the router.
    _ns: Netns,
    left: Netns,
    right: Netns,
    router: common::LwipTap,
    checker: String,
    /// tcpdump on each host, and the file it writes.
    captures: Vec<(Child, PathBuf)>,
    /// lwip-tap's capture of tap1 (default mode only).
    sent_right: PathBuf,
    /// Default mode only: lwip-tap's capture of tap0, and tcpdump on a
    /// port of br0 where the kernel cuts the left host's super-frames in
    /// software (the bridge floods every frame to it).
    received_left: PathBuf,
    kernel_cut: Option<(Child, PathBuf)>,
}

impl Routed {
    /// Builds the topology; `right_mtu` is the MTU of everything on br1
    /// (lwIP's tap1 included). With `pass_through`, the router takes and
    /// forwards super-frames. The bridges' ports towards the hosts cut
    /// super-frames into segments (no segmentation or checksum offload
    /// there). Without `pass_through` lwip-tap captures what it sends on
    /// tap1 (`sent_right`).
    fn new(right_mtu: u32, pass_through: bool) -> Routed {
        let ns = Netns::new("fwd");
        let left = Netns::new("fwdleft");
        let right = Netns::new("fwdright");
        for (host, bridge, tap, subnet, mtu) in [
            (&left, "br0", "tap0", 0, 1500),
            (&right, "br1", "tap1", 1, right_mtu),
        ] {
            ns.add_bridge(bridge, None);
            ns.add_tap(tap, None);
            ns.sh(&format!("ip link set dev {tap} master {bridge}"));
            ns.sh(&format!(
                "ip link add v{bridge} mtu {mtu} type veth peer name eth0 mtu {mtu} netns {}",
                host.name()
            ));
            ns.sh(&format!(
                "ip link set dev v{bridge} master {bridge} up && \
                 ethtool -K v{bridge} tx off tso off gso off >/dev/null"
            ));
            host.sh(&format!(
                "ip addr add 172.16.{subnet}.100/24 dev eth0 && ip link set dev eth0 up && \
                 ip route add default via 172.16.{subnet}.1"
            ));
            if pass_through {
                host.sh(&format!(
                    "ip addr add fd16:{subnet}::100/64 dev eth0 nodad && \
                     ip -6 route add default via fd16:{subnet}::1"
                ));
            }
        }
        let offload = if pass_through { ",offload=on" } else { "" };
        let sent_right = ns.dir.path().join("tap1.pcapng");
        let received_left = ns.dir.path().join("tap0.pcapng");
        let (pcap, pcap_left) = if pass_through {
            (String::new(), String::new())
        } else {
            (
                format!(",pcap={}", sent_right.display()),
                format!(",pcap={}", received_left.display()),
            )
        };
        let kernel_cut = (!pass_through).then(|| {
            ns.sh("ip link set dev br0 type bridge ageing_time 0 && \
                 ip link add mon0 type veth peer name monp && \
                 ethtool -K mon0 tx off tso off gso off >/dev/null && \
                 sysctl -qw net.ipv6.conf.monp.disable_ipv6=1 && \
                 ip link set dev mon0 master br0 up && ip link set dev monp up");
            capture_on(&ns, "monp")
        });
        let addr6 = |subnet: u8| {
            if pass_through {
                format!(",addr6=fd16:{subnet}::1")
            } else {
                String::new()
            }
        };
        let router = start_lwip_tap(
            &ns,
            &[
                "-i",
                &format!(
                    "name=tap0,addr=172.16.0.1,netmask=255.255.255.0{offload}{}{pcap_left}",
                    addr6(0)
                ),
                "-i",
                &format!(
                    "name=tap1,addr=172.16.1.1,netmask=255.255.255.0,mtu={right_mtu}{offload}{}{pcap}",
                    addr6(1)
                ),
            ],
        );
        let captures = vec![capture(&left), capture(&right)];
        for host in [&left, &right] {
            host.start_checker("serve", UDP_PORT);
            host.start_checker("echo", TCP_PORT);
        }
        Routed {
            checker: ns.checker(),
            _ns: ns,
            left,
            right,
            router,
            captures,
            sent_right,
            received_left,
            kernel_cut,
        }
    }

    /// Sends one datagram of each size from `from` to `to_addr` and checks
    /// that each arrived intact. With `first_try`, the first one must get
    /// through at its first attempt (no retry hides a packet lost or
    /// spoiled in lwIP's ARP queue).
    fn udp(&self, from: &Netns, to_addr: &str, sizes: &[usize], first_try: bool) {
        let list: Vec<String> = sizes.iter().map(|s| s.to_string()).collect();
        let out = from.sh(&format!(
            "python3 {} send {to_addr} {UDP_PORT} {}",
            self.checker,
            list.join(" ")
        ));
        for (i, size) in sizes.iter().enumerate() {
            let line = out
                .lines()
                .find(|l| l.starts_with(&format!("{size} ")) || l.starts_with(&format!("{size}:")))
                .unwrap_or_default();
            assert!(
                line.ends_with(&format!(": ok {size}")),
                "UDP {size} bytes to {to_addr}: {line:?}\n{out}\n{}",
                self.router.log()
            );
            if i == 0 && first_try {
                assert!(line.contains("attempt 1:"), "{out}");
            }
        }
    }

    /// Five `ping -s 4000` with a pattern from `from` to `to_addr`, all
    /// answered, with the pattern intact.
    fn big_ping(&self, from: &Netns, to_addr: &str) {
        let out = from.run(&format!(
            "ping -n -c 5 -i 0.1 -W 2 -s 4000 -p 5aa5c33c0ff0 {to_addr}"
        ));
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            common::parse_received(&text),
            Some(5),
            "ping -s 4000 {to_addr}:\n{text}\n{}",
            self.router.log()
        );
        assert!(!text.contains("wrong data"), "{text}");
    }

    /// `bytes` from `from` through the TCP echo server at `to_addr`,
    /// compared.
    fn tcp_echo(&self, from: &Netns, to_addr: &str, bytes: usize) {
        from.tcp_echo(to_addr, TCP_PORT, bytes, 10)
            .unwrap_or_else(|e| panic!("{e}\n{}", self.router.log()));
    }

    /// Every check, both ways; `first` is the size of the first datagram,
    /// sent before the router has resolved the right host (its pieces must
    /// fit lwIP's ARP queue of 3 packets per address).
    fn everything_arrives_intact(&self, first: usize) {
        let (left, right) = (&self.left, &self.right);
        let mut sizes = vec![first];
        sizes.extend_from_slice(UDP_SIZES);
        self.udp(left, "172.16.1.100", &sizes, true);
        self.udp(right, "172.16.0.100", &sizes, false);
        self.big_ping(left, "172.16.1.100");
        self.big_ping(right, "172.16.0.100");
        self.tcp_echo(left, "172.16.1.100", 1 << 20);
        self.tcp_echo(right, "172.16.0.100", 1 << 20);
    }

    /// The TCP segments from the left host to the right one that lwIP sent
    /// on tap1 (lwip-tap's capture, above the merge stage) arrived at the
    /// right host byte for byte, none missing, none extra, in order, though
    /// lwip-tap wrote most of them to the TAP merged into super-frames.
    fn right_host_received_what_lwip_sent(&mut self) {
        self.router.stats();
        let log = self.router.log();
        let superframes = counter(&log, "stats: tap1 merge:", "super-frames");
        assert!(superframes > 0, "nothing was merged on tap1:\n{log}");
        // The capture stage wrote its file with the statistics; tcpdump
        // writes each packet as it comes (-U).
        let received = &self.captures[1].1;
        self.assert_same_tcp(&self.sent_right, received, true, "sent, received");
    }

    /// The TCP segments from the left host to the right one in captures
    /// `a` and `b` are the same, byte for byte, none missing, none extra,
    /// in order if `ordered` (`what` names the two).
    fn assert_same_tcp(&self, a: &Path, b: &Path, ordered: bool, what: &str) {
        let flow = ("172.16.0.100", "172.16.1.100");
        assert_same_tcp(&self.right, a, b, flow, ordered, what);
    }

    /// lwip-tap took the left host's TCP super-frames in on tap0 and cut
    /// them (the cut stage), and lwIP received exactly the segments the
    /// kernel's own segmentation made of them on another port of the same
    /// bridge: byte for byte, none missing, none extra.
    fn lwip_received_what_linux_would_have_cut(&mut self) {
        let (mut tcpdump, kernel) = self.kernel_cut.take().expect("default mode");
        // SAFETY: plain kill(2) on our child; SIGINT makes tcpdump flush.
        unsafe { libc::kill(tcpdump.id() as i32, libc::SIGINT) };
        let _ = tcpdump.wait();
        self.router.stats();
        let log = self.router.log();
        let cut = counter(&log, "stats: tap0 cut:", "super-frames");
        assert!(cut > 0, "no super-frame came in on tap0:\n{log}");
        assert_eq!(counter(&log, "stats: tap0 cut:", "dropped"), 0, "{log}");
        // Sorted: the monitor port's own receive path may reorder (veth
        // delivers each frame on the backlog of the CPU that sent it, and
        // the left host sends its ACKs and its data from both CPUs).
        self.assert_same_tcp(
            &self.received_left,
            &kernel,
            false,
            "lwIP received, the kernel cut",
        );
    }

    /// Stops the captures and checks every checksum of every frame each
    /// host received (tshark verifies the UDP and ICMP checksums over the
    /// reassembled datagram): none is wrong, and no UDP checksum is
    /// missing (all senders here compute one, so a zero was cleared on the
    /// way). A TCP checksum of 0xffff where 0x0000 is computed is right:
    /// both are zero in one's complement, and Linux writes 0xffff when it
    /// finishes a checksum left to offload that comes out 0 (tshark flags
    /// it; about one segment in 65536).
    fn checksums_are_all_correct(mut self) {
        for (mut tcpdump, file) in std::mem::take(&mut self.captures) {
            // SAFETY: plain kill(2) on our child; SIGINT makes tcpdump flush.
            unsafe { libc::kill(tcpdump.id() as i32, libc::SIGINT) };
            let _ = tcpdump.wait();
            let tshark = |filter: &str| {
                let out = common::successful_output(
                    std::process::Command::new("tshark")
                        .arg("-r")
                        .arg(&file)
                        .args(["-o", "ip.check_checksum:TRUE"])
                        .args(["-o", "udp.check_checksum:TRUE"])
                        .args(["-o", "tcp.check_checksum:TRUE"])
                        .args(["-Y", filter]),
                );
                String::from_utf8_lossy(&out.stdout).into_owned()
            };
            let received = tshark("udp || icmp || tcp").lines().count();
            assert!(
                received > 1000,
                "{}: only {received} frames",
                file.display()
            );
            let oversize = tshark("frame.len > 1514");
            assert!(
                oversize.is_empty(),
                "{}: frames longer than the MTU allows:\n{oversize}",
                file.display()
            );
            let bad = tshark(
                "ip.checksum.status == 0 || udp.checksum.status == 0 || \
                 udp.checksum.status == 3 || \
                 (tcp.checksum.status == 0 && \
                  !(tcp.checksum == 0xffff && tcp.checksum_calculated == 0)) || \
                 icmp.checksum.status == 0",
            );
            assert!(
                bad.is_empty(),
                "{}: frames with a wrong or missing checksum:\n{bad}",
                file.display()
            );
        }
    }
}

/// The number after the word `name` in the last line of `log` that
/// contains `line` (a `--stats` counter).
fn counter(log: &str, line: &str, name: &str) -> u64 {
    let found = log.lines().rfind(|l| l.contains(line));
    let words: Vec<&str> = found.map_or(Vec::new(), |l| l.split_whitespace().collect());
    let at = words.iter().position(|w| *w == name);
    at.and_then(|at| words.get(at + 1)?.parse().ok())
        .unwrap_or_else(|| panic!("no counter {name} in a line with {line:?}:\n{log}"))
}

/// The TCP segments of `flow` (source and destination address) in
/// captures `a` and `b` are the same, byte for byte, none missing, none
/// extra, in order if `ordered` (`what` names the two); scapy in `ns`.
fn assert_same_tcp(ns: &Netns, a: &Path, b: &Path, flow: (&str, &str), ordered: bool, what: &str) {
    let out = ns.sh(&format!(
        "/usr/bin/python3 - <<'EOF'\n{}EOF",
        same_tcp_script(a, b, flow, ordered)
    ));
    let words: Vec<&str> = out
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(words.len(), 3, "{out}");
    let count = words[0].parse::<usize>().unwrap();
    assert!(count > 700, "only {count} segments: {out}");
    assert_eq!(
        (words[1], words[2]),
        (words[0], "None"),
        "{what}, first that differs: {out}"
    );
}

/// A Python script that prints how many TCP segments of `flow` each
/// capture holds, and the index of the first that differs between them
/// (None), in the order captured or (not `ordered`) sorted.
fn same_tcp_script(a: &Path, b: &Path, (src, dst): (&str, &str), ordered: bool) -> String {
    format!(
        "from scapy.all import rdpcap, IP, TCP\n\
         def tcp(path):\n\
         \x20   found = [bytes(p) for p in rdpcap(path) if IP in p and TCP in p\n\
         \x20            and p[IP].src == '{src}' and p[IP].dst == '{dst}']\n\
         \x20   return found if {} else sorted(found)\n\
         a, b = tcp('{}'), tcp('{}')\n\
         first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)\n\
         print(len(a), len(b), first)\n\
         if first is not None:\n\
         \x20   x, y = a[first], b[first]\n\
         \x20   print('lengths', len(x), len(y), 'bytes that differ (offset, a, b):',\n\
         \x20         [(i, x[i], y[i]) for i in range(min(len(x), len(y))) if x[i] != y[i]][:12])\n\
",
        if ordered { "True" } else { "False" },
        a.display(),
        b.display()
    )
}

/// Starts tcpdump on `host`'s eth0 for what it receives (what it sends may
/// leave with checksums for the veth to fill in).
fn capture(host: &Netns) -> (Child, PathBuf) {
    capture_on(host, "eth0")
}

/// Starts tcpdump on `dev` in `host` for what it receives.
fn capture_on(host: &Netns, dev: &str) -> (Child, PathBuf) {
    let file = host.dir.path().join(format!("received-{dev}.pcap"));
    let log = host.dir.path().join(format!("tcpdump-{dev}.log"));
    let child = host
        .command("tcpdump")
        // Each frame handed over at once: without it the last block of
        // frames may still be in the kernel's ring when tcpdump stops.
        .args(["-i", dev, "-Q", "in", "-s", "0", "-B", "65536"])
        .args(["--immediate-mode", "-U", "-w"])
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).unwrap())
        .spawn()
        .expect("start tcpdump");
    assert!(
        common::wait_until(Duration::from_secs(5), || {
            fs::read_to_string(&log).is_ok_and(|s| s.contains("listening on"))
        }),
        "tcpdump did not start in {}",
        host.name()
    );
    (child, file)
}

impl Drop for Routed {
    fn drop(&mut self) {
        for (child, _) in self.captures.iter_mut().chain(&mut self.kernel_cut) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn same_mtu_on_both_sides() {
    require_network!(
        "ping",
        "nc",
        "python3",
        "/usr/bin/python3",
        "tcpdump",
        "tshark",
        "ethtool"
    );
    let mut net = Routed::new(1500, false);
    net.everything_arrives_intact(2000);
    net.right_host_received_what_lwip_sent();
    net.lwip_received_what_linux_would_have_cut();
    net.checksums_are_all_correct();
}

/// lwIP cuts what it forwards to the right into pieces of 576 bytes: the
/// left's fragments of 1500 bytes again, and whole packets.
#[test]
fn smaller_mtu_on_the_right_makes_lwip_fragment_again() {
    require_network!("ping", "nc", "python3", "tcpdump", "tshark", "ethtool");
    let net = Routed::new(576, false);
    net.everything_arrives_intact(1000);
    net.checksums_are_all_correct();
}

/// With `offload=on` on both interfaces lwIP forwards the TCP streams as
/// super-frames (counted in `--stats`: tx-super on both TAPs); everything
/// arrives intact, in wire-sized segments with correct checksums, over
/// IPv6 too.
#[test]
fn superframes_pass_through() {
    require_network!("ping", "nc", "python3", "tcpdump", "tshark", "ethtool");
    let mut net = Routed::new(1500, true);
    net.everything_arrives_intact(2000);
    // 4 MiB over IPv6 through the right host's echo server and back.
    assert!(
        net.left
            .wait_for_ping("fd16:1::100", Duration::from_secs(10)),
        "no IPv6 path through the router:\n{}",
        net.router.log()
    );
    net.tcp_echo(&net.left, "fd16:1::100", 4 << 20);
    net.router.stats();
    let log = net.router.log();
    for tap in ["tap0", "tap1"] {
        let line = format!("stats: {tap} rx ");
        // 1 MiB each way: dozens of super-frames, unless the hosts
        // stopped sending them (then this test tests nothing).
        assert!(counter(&log, &line, "tx-super") >= 8, "{tap}:\n{log}");
        assert!(counter(&log, &line, "rx-super") >= 8, "{tap}:\n{log}");
    }
    net.checksums_are_all_correct();
}

/// One interface (receive offload, the default): the segments lwIP's own
/// TCP sends in one write go to the host merged into super-frames (its echo
/// server writes back what it received, up to 64 KiB at a time, and lwIP
/// puts PSH on the last segment of each write only). The host's bridge port
/// towards the peer segments in software, and the peer receives exactly the
/// segments lwip-tap's capture shows lwIP sent, in order.
#[test]
fn one_interface_merges_what_lwip_sends_and_the_host_gets_it_byte_for_byte() {
    require_network!("nc", "python3", "/usr/bin/python3", "tcpdump", "ethtool");
    let ns = Netns::new("mrg");
    let peer = Netns::new("mrgpeer");
    ns.add_bridge("br0", None);
    ns.add_tap("tap0", None);
    ns.sh("ip link set dev tap0 master br0");
    ns.sh(&format!(
        "ip link add vbr0 type veth peer name eth0 netns {} && \
         ip link set dev vbr0 master br0 up && \
         ethtool -K vbr0 tx off tso off gso off >/dev/null",
        peer.name()
    ));
    peer.sh("ip addr add 172.16.0.100/24 dev eth0 && ip link set dev eth0 up");
    let sent = ns.dir.path().join("tap0.pcapng");
    let mut lwip = start_lwip_tap(
        &ns,
        &[
            "-i",
            &format!(
                "name=tap0,addr=172.16.0.2,netmask=255.255.255.0,pcap={}",
                sent.display()
            ),
            "-E",
        ],
    );
    let (mut tcpdump, received) = capture(&peer);
    peer.tcp_echo("172.16.0.2", 7, 1 << 20, 10)
        .unwrap_or_else(|e| panic!("{e}\n{}", lwip.log()));
    // SAFETY: plain kill(2) on our child; SIGINT makes tcpdump flush.
    unsafe { libc::kill(tcpdump.id() as i32, libc::SIGINT) };
    let _ = tcpdump.wait();
    let stats = fs::read_to_string(peer.dir.path().join("tcpdump-eth0.log")).unwrap();
    assert_eq!(common::tcpdump_dropped(&stats), Some(0), "{stats}");
    lwip.stats();
    let log = lwip.log();
    let merged = counter(&log, "stats: tap0 merge:", "super-frames");
    assert!(merged > 0, "nothing was merged on tap0:\n{log}");
    let flow = ("172.16.0.2", "172.16.0.100");
    assert_same_tcp(
        &peer,
        &sent,
        &received,
        flow,
        true,
        "lwIP sent, the peer got",
    );
}
