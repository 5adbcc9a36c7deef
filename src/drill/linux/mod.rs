//! The Linux kernel of this machine as a script's stack, the way
//! packetdrill's local mode runs it: this process moves into a network
//! namespace of its own (it dies with the process, so nothing is left
//! behind and no packet leaves it), where `lo` is up and a TUN device
//! `tun0` carries the script's packets: the kernel routes the remote end
//! through it via the gateway. The script's system calls are made on real
//! sockets in that namespace, its shell commands run there with `sh -c`,
//! and time is the real clock since the script started.
//!
//! Not here: the OS calls themselves (`os`, the one module with `unsafe`),
//! the TUN device and its configuration (`device::tap`, shared with
//! lwip-tap's transient TAPs).

#[allow(unsafe_code)]
mod os;
mod sockets;

use std::collections::VecDeque;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use super::sockets::{Attempt, Call, Endpoints, Progress};
use super::target::{for_remote, Addresses, Target};
use crate::device::tap::{self, TapDevice};
use crate::device::{FramePath, VnetHeader};
use sockets::LinuxSockets;

/// The TUN device's name, as packetdrill's scripts know it (`tc qdisc add
/// dev tun0 ...`): the first TUN of a fresh namespace.
const TUN_NAME: &str = "tun0";

/// The prefix length of the stack's IPv6 address (packetdrill's).
const IPV6_PREFIX_LEN: u8 = 48;

/// The first line of what a process without the privilege is told.
pub const NEEDS_PRIVILEGE: &str =
    "--target linux needs root or CAP_NET_ADMIN (in a user namespace): it runs each script in a \
     network namespace of its own";

/// Moves this process into a network namespace of its own: with root (or
/// CAP_SYS_ADMIN) directly, else inside a new user namespace, where this
/// process has CAP_NET_ADMIN over the new network namespace. An error is
/// [`NEEDS_PRIVILEGE`] and what the kernel said.
pub fn isolate() -> Result<(), String> {
    let direct = os::unshare_network(false);
    let Err(first) = direct else {
        return Ok(());
    };
    os::unshare_network(true).map_err(|second| {
        format!("{NEEDS_PRIVILEGE} (unshare: {first}; with a user namespace: {second})")
    })
}

/// Whether this process can run scripts on Linux: a network namespace
/// (which this process moves into, see [`isolate`]) with a TUN device in
/// it. An error is [`NEEDS_PRIVILEGE`] and why.
pub fn probe() -> Result<(), String> {
    isolate()?;
    TapDevice::create_tun(TUN_NAME)
        .map(drop)
        .map_err(|e| format!("{NEEDS_PRIVILEGE} ({e:#})"))
}

/// The flag of a local route in `/proc/net/ipv6_route` (`RTF_LOCAL`).
const RTF_LOCAL: u32 = 0x8000_0000;

/// Waits until the kernel answers for `local` on `tun0`. IPv6 installs
/// the local route of an address (the one that delivers what comes for
/// it) from a deferred piece of work once the device is ready, a
/// millisecond or two after it comes up, even for an address that skips
/// duplicate address detection: a script's first packet before then goes
/// unanswered (seen in about one run in five).
fn wait_until_usable(tun: &TapDevice, local: IpAddr) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let running = tun
            .is_running()
            .map_err(|e| format!("the network namespace: {e:#}"))?;
        let usable = running
            && match local {
                IpAddr::V4(_) => true,
                IpAddr::V6(addr) => has_local_route(addr)?,
            };
        if usable {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the network namespace: {local} on {TUN_NAME} is still not usable after 2 s"
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether `/proc/net/ipv6_route` has the local route of `addr`.
fn has_local_route(addr: std::net::Ipv6Addr) -> Result<bool, String> {
    let hex: String = addr.octets().iter().map(|b| format!("{b:02x}")).collect();
    let table = std::fs::read_to_string("/proc/net/ipv6_route")
        .map_err(|e| format!("cannot read /proc/net/ipv6_route: {e}"))?;
    Ok(table.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() >= 9
            && fields[0] == hex
            && fields[1] == "80"
            && u32::from_str_radix(fields[8], 16).is_ok_and(|f| f & RTF_LOCAL != 0)
    }))
}

/// A blocked call's wake-up: the descriptors and events it waits for,
/// and the script time it gives up at.
struct Wait {
    fds: Vec<os::PollFd>,
    deadline: Option<i64>,
}

/// The Linux kernel in this process's network namespace, behind `tun0`.
pub(crate) struct LinuxTarget {
    tun: TapDevice,
    sockets: LinuxSockets,
    remote: IpAddr,
    /// The real time of the script's time 0, on the monotonic clock and
    /// as time since the Unix epoch (the clock of packet time stamps).
    start: Instant,
    start_epoch: Duration,
    /// A packet socket on `tun0`: what the kernel sends, stamped when it
    /// sent it. The TUN device itself is only drained.
    sniffer: OwnedFd,
    /// The one read buffer: the TUN is drained into it, and the packet
    /// socket read into it.
    buf: Vec<u8>,
    /// IP packets the kernel sent the remote end, with their script times.
    sent: VecDeque<(i64, Vec<u8>)>,
    /// What the last call that blocked waits for.
    waiting: Option<Wait>,
}

/// The largest packet the TUN hands over (a TSO segment of up to 64 KiB),
/// after its virtio-net header.
const READ_SIZE: usize = VnetHeader::LEN + 65_536;

impl LinuxTarget {
    /// A network namespace for this process, with `lo` up, the
    /// `init_scripts` run in it, and `tun0` configured as `addresses`
    /// says; then the script's `init_command`, after which its time 0
    /// starts. An error names the script line it is about (0: none).
    pub(crate) fn start(
        addresses: &Addresses,
        init_scripts: &[(String, u32)],
        init_command: Option<(u32, &str)>,
    ) -> Result<LinuxTarget, (u32, String)> {
        isolate().map_err(|e| (0, e))?;
        let setup = |e: crate::error::Error| (0, format!("the network namespace: {e:#}"));
        tap::bring_up("lo").map_err(setup)?;
        for (script, line) in init_scripts {
            run_shell(script).map_err(|e| (*line, format!("--init_scripts {e}")))?;
        }
        let tun = TapDevice::create_tun(TUN_NAME).map_err(setup)?;
        // Segmentation and checksums offloaded as on a typical Ethernet
        // device (and as packetdrill's TUN): the kernel sends TSO segments
        // of several MSS, which scripts written for Linux expect.
        tun.enable_offload().map_err(setup)?;
        tun.set_mtu(addresses.mtu).map_err(setup)?;
        match addresses.local {
            IpAddr::V4(local) => tun.configure_host(local, addresses.netmask),
            IpAddr::V6(local) => tun.configure_host6(local, IPV6_PREFIX_LEN),
        }
        .map_err(setup)?;
        tun.bring_up().map_err(setup)?;
        let remote = network(addresses.remote, addresses.remote_prefix);
        tun.route_via(remote, addresses.remote_prefix, addresses.gateway)
            .map_err(setup)?;
        wait_until_usable(&tun, addresses.local).map_err(|e| (0, e))?;
        if let Some((line, command)) = init_command {
            run_shell(command).map_err(|e| (line, e))?;
        }
        let sniffer = os::interface_index(TUN_NAME)
            .and_then(os::packet_socket)
            .map_err(|e| (0, format!("a packet socket on {TUN_NAME}: {e}")))?;
        let mut target = LinuxTarget {
            tun,
            sockets: LinuxSockets::new(addresses.local),
            remote: addresses.remote,
            start: Instant::now(),
            start_epoch: since_epoch(),
            sniffer,
            buf: vec![0; READ_SIZE],
            sent: VecDeque::new(),
            waiting: None,
        };
        // What setup left in the TUN's queue is older than time 0.
        target.drain_tun().map_err(|e| (0, e))?;
        Ok(target)
    }

    /// Empties the TUN device's queue: the packets in it are read, with
    /// their time stamps, from the packet socket.
    fn drain_tun(&mut self) -> Result<(), String> {
        loop {
            match self.tun.read(&mut [IoSliceMut::new(&mut self.buf)]) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("cannot read {TUN_NAME}: {e}")),
            }
        }
    }

    /// Takes every packet the kernel has sent through `tun0` so far, each
    /// at the script time the kernel sent it.
    fn read_tun(&mut self) -> Result<(), String> {
        self.drain_tun()?;
        let mut buf = std::mem::take(&mut self.buf);
        let read = self.read_sniffer(&mut buf);
        self.buf = buf;
        read
    }

    /// Takes every packet waiting on the packet socket, read into `buf`.
    fn read_sniffer(&mut self, buf: &mut [u8]) -> Result<(), String> {
        loop {
            let (len, outgoing, stamp) = match os::recv_stamped(self.sniffer.as_fd(), buf) {
                Ok(read) => read,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("cannot read a packet socket on {TUN_NAME}: {e}")),
            };
            let now = stamp.map_or_else(
                || self.now(),
                |at| at.saturating_sub(self.start_epoch).as_micros() as i64,
            );
            if !outgoing || len < VnetHeader::LEN {
                continue;
            }
            let (header, packet) = buf[..len].split_at_mut(VnetHeader::LEN);
            let header = VnetHeader::parse(&(*header).try_into().expect("the header's length"));
            if header.flags & VnetHeader::NEEDS_CSUM != 0 {
                // The TUN offloads checksums: complete what the kernel left.
                header.complete_checksum(packet);
            }
            if let Some(packet) = for_remote(packet, self.remote) {
                self.sent.push_back((now, packet.to_vec()));
            }
        }
    }
}

impl Target for LinuxTarget {
    fn name(&self) -> &'static str {
        "Linux"
    }

    fn now(&self) -> i64 {
        self.start.elapsed().as_micros() as i64
    }

    /// Waits on the TUN device (and on what a blocked call waits for)
    /// until `limit`, returning early when a packet or the call's event
    /// comes.
    fn step(&mut self, limit: i64) -> Result<bool, String> {
        self.read_tun()?;
        let now = self.now();
        if now >= limit {
            return Ok(false);
        }
        let deadline = self.waiting.as_ref().and_then(|w| w.deadline);
        let until = deadline.map_or(limit, |d| d.min(limit));
        let mut fds = vec![os::poll_entry(self.sniffer.as_raw_fd(), libc::POLLIN)];
        if let Some(wait) = &self.waiting {
            fds.extend(wait.fds.iter().copied());
        }
        let timeout = Duration::from_micros((until - now).max(0) as u64);
        let woken = os::poll(&mut fds, Some(timeout)).map_err(|e| format!("poll: {e}"))?;
        self.read_tun()?;
        Ok(woken > 0 || self.now() < limit)
    }

    /// Writes an IP packet to the TUN device: the kernel receives it.
    fn inject(&mut self, packet: &[u8]) -> Result<(), String> {
        let header = VnetHeader::PLAIN.to_bytes();
        self.tun
            .write(&[IoSlice::new(&header), IoSlice::new(packet)])
            .map_err(|e| format!("cannot write to {TUN_NAME}: {e}"))?;
        self.read_tun()
    }

    fn take_sent(&mut self) -> Option<(i64, Vec<u8>)> {
        self.sent.pop_front()
    }

    fn untake(&mut self, packet: (i64, Vec<u8>)) {
        self.sent.push_front(packet);
    }

    fn call(&mut self, call: &Call, progress: &mut Progress) -> Attempt {
        let attempt = self.sockets.attempt(call, progress, self.now());
        self.waiting = match attempt {
            Attempt::Blocked => {
                let (fds, deadline) = self.sockets.wake(call, progress);
                Some(Wait { fds, deadline })
            }
            Attempt::Done(_) => None,
        };
        // What the kernel sent meanwhile, stamped now rather than at the
        // next wait.
        let _ = self.read_tun();
        attempt
    }

    fn tcp_endpoints(&self) -> Vec<Endpoints> {
        self.sockets.tcp_endpoints()
    }

    fn shell(&mut self, command: &str) -> Option<Result<(), String>> {
        Some(run_shell(command))
    }
}

/// The network `addr/prefix_len` is in (the kernel takes a route's
/// destination only with its host bits clear).
fn network(addr: IpAddr, prefix_len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

/// Runs `command` with `sh -c` in this process's namespace; an error says
/// how it ended, with the last line it wrote to stderr.
fn run_shell(command: &str) -> Result<(), String> {
    let output = Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("PACKETDRILL_PID", std::process::id().to_string())
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("`{command}` could not start: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .map_or(String::new(), |l| format!(": {}", l.trim()));
    Err(format!("`{command}` failed ({}){last}", output.status))
}

/// The real-time clock, as packet time stamps give it.
fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
}
