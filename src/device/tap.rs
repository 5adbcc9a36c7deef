//! The Linux TAP device: open `/dev/net/tun`, attach to a named TAP or create
//! a transient one, read its MAC and MTU, configure its host side, and move
//! Ethernet frames in and out with `readv`/`writev`. The same device in TUN
//! mode (IP packets, no Ethernet) is lwip-drill's link to the Linux kernel
//! under test ([`TapDevice::create_tun`]).
//!
//! This module knows nothing about lwIP; `netif.rs` connects the two.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::FramePath;
use crate::config::IFNAMSIZ;
use crate::error::Error;

/// `struct ifreq`: a name and a 24-byte union, 40 bytes on 64-bit Linux.
#[repr(C)]
struct IfReq {
    name: [u8; IFNAMSIZ],
    data: [u8; 24],
}

impl IfReq {
    fn new(name: &str) -> IfReq {
        let mut req = IfReq {
            name: [0; IFNAMSIZ],
            data: [0; 24],
        };
        let bytes = name.as_bytes();
        let len = bytes.len().min(IFNAMSIZ - 1);
        req.name[..len].copy_from_slice(&bytes[..len]);
        req
    }

    fn name(&self) -> String {
        let end = self.name.iter().position(|&b| b == 0).unwrap_or(IFNAMSIZ);
        String::from_utf8_lossy(&self.name[..end]).into_owned()
    }

    fn short(&self) -> i16 {
        i16::from_ne_bytes([self.data[0], self.data[1]])
    }

    fn set_short(&mut self, value: i16) {
        self.data[..2].copy_from_slice(&value.to_ne_bytes());
    }

    fn int(&self) -> i32 {
        i32::from_ne_bytes(self.data[..4].try_into().expect("4 bytes"))
    }

    fn set_int(&mut self, value: i32) {
        self.data[..4].copy_from_slice(&value.to_ne_bytes());
    }

    /// Stores an AF_INET `struct sockaddr_in`.
    fn set_ipv4(&mut self, addr: Ipv4Addr) {
        self.data = [0; 24];
        self.data[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        self.data[4..8].copy_from_slice(&addr.octets());
    }

    /// The hardware address of a `struct sockaddr` (SIOCGIFHWADDR).
    fn hwaddr(&self) -> [u8; 6] {
        self.data[2..8].try_into().expect("6 bytes")
    }
}

/// An open TAP device. A transient one (created without a name) disappears
/// when this is dropped, or when the process dies.
#[derive(Debug)]
pub struct TapDevice {
    fd: OwnedFd,
    name: String,
    /// Created by us (its host side is the host's own stack).
    transient: bool,
}

impl TapDevice {
    /// Attaches to an existing TAP device `name`.
    pub fn attach(name: &str) -> Result<TapDevice, Error> {
        let cname = std::ffi::CString::new(name)
            .map_err(|_| Error::tap(name, "name contains a NUL byte"))?;
        // SAFETY: cname is a valid NUL-terminated string.
        if unsafe { libc::if_nametoindex(cname.as_ptr()) } == 0 {
            return Err(Error::tap(
                name,
                format!(
                    "no such device; create it with `ip tuntap add dev {name} mode tap` \
                     (add `user $USER` to use it without root), or omit name= for a transient TAP"
                ),
            ));
        }
        Self::open(name)
    }

    /// Creates a transient TAP device with a name chosen by the kernel.
    pub fn create() -> Result<TapDevice, Error> {
        let mut tap = Self::open("tap%d")?;
        tap.transient = true;
        Ok(tap)
    }

    /// Creates a TUN device `name` (IP packets, each after a virtio-net
    /// header, no Ethernet): it disappears when this is dropped, or when
    /// the process dies.
    pub(crate) fn create_tun(name: &str) -> Result<TapDevice, Error> {
        let mut tun = Self::open_mode(name, libc::IFF_TUN)?;
        tun.transient = true;
        Ok(tun)
    }

    fn open(name: &str) -> Result<TapDevice, Error> {
        Self::open_mode(name, libc::IFF_TAP)
    }

    /// Opens `name` as a TAP (`IFF_TAP`) or TUN (`IFF_TUN`) device.
    fn open_mode(name: &str, mode: libc::c_int) -> Result<TapDevice, Error> {
        let fd = open_tun().map_err(|e| tun_error(name, e))?;
        let mut req = IfReq::new(name);
        // Every frame carries a virtio-net header (see `VnetHeader`), which is
        // how the kernel can hand over checksum-less and 64 KiB frames.
        req.set_short((mode | libc::IFF_NO_PI | libc::IFF_VNET_HDR) as i16);
        // SAFETY: TUNSETIFF reads and writes a struct ifreq, which `req` is.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut req as *mut IfReq) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            return Err(attach_error(name, err));
        }
        Ok(TapDevice {
            fd,
            name: req.name(),
            transient: false,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host side's MAC address.
    fn host_mac(&self) -> Result<[u8; 6], Error> {
        let mut req = IfReq::new(&self.name);
        self.control(libc::SIOCGIFHWADDR, &mut req, "read the MAC address")?;
        Ok(req.hwaddr())
    }

    /// Whether the host side is administratively up.
    pub fn is_up(&self) -> Result<bool, Error> {
        Ok(self.flags()? & libc::IFF_UP as i16 != 0)
    }

    /// Whether the kernel has the host side running (`IFF_RUNNING`: its
    /// operational state is up, which the kernel settles a moment after
    /// the device is brought up; IPv6 waits for it).
    pub fn is_running(&self) -> Result<bool, Error> {
        Ok(self.flags()? & libc::IFF_RUNNING as i16 != 0)
    }

    fn flags(&self) -> Result<i16, Error> {
        let mut req = IfReq::new(&self.name);
        self.control(libc::SIOCGIFFLAGS, &mut req, "read the flags")?;
        Ok(req.short())
    }

    /// Gives the host side an IPv4 address and netmask; once it is up the
    /// kernel routes the subnet through this device.
    pub fn configure_host(&self, addr: Ipv4Addr, netmask: Ipv4Addr) -> Result<(), Error> {
        let mut req = IfReq::new(&self.name);
        req.set_ipv4(addr);
        self.control(libc::SIOCSIFADDR, &mut req, "set the host address")?;
        let mut req = IfReq::new(&self.name);
        req.set_ipv4(netmask);
        self.control(libc::SIOCSIFNETMASK, &mut req, "set the host netmask")
    }

    /// Gives the host side an IPv6 address with prefix length `prefix_len`,
    /// through rtnetlink, marked to skip duplicate address detection: the
    /// only other node on this link is lwIP, whose addresses the
    /// configuration already keeps apart, and a tentative address would
    /// leave the host unable to reach lwIP for the first second or two.
    pub fn configure_host6(&self, addr: Ipv6Addr, prefix_len: u8) -> Result<(), Error> {
        let index = self.index()?;
        super::netlink::add_ipv6_address(index, addr, prefix_len).map_err(|e| {
            Error::tap_io(
                &self.name,
                format!("cannot set the host address {addr}/{prefix_len}"),
                e,
            )
        })
    }

    /// Turns IPv6 off on the host side (`/proc/sys/net/ipv6/conf/NAME/
    /// disable_ipv6`), before it is up: the host then sends no router
    /// solicitations, MLD reports or duplicate address probes of its own
    /// down the TAP. A kernel without IPv6 has nothing to turn off; the
    /// error names the file that could not be written.
    pub(crate) fn disable_host_ipv6(&self) -> Result<(), String> {
        let path = format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", self.name);
        match std::fs::write(&path, "1") {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            result => result.map_err(|e| format!("cannot write 1 to {path}: {e}")),
        }
    }

    /// Brings the host side up.
    pub fn bring_up(&self) -> Result<(), Error> {
        bring_up(&self.name)
    }

    /// Routes `dst/prefix_len` through this device, via `gateway`
    /// (rtnetlink, IPv4 or IPv6).
    pub(crate) fn route_via(
        &self,
        dst: IpAddr,
        prefix_len: u8,
        gateway: IpAddr,
    ) -> Result<(), Error> {
        let index = self.index()?;
        super::netlink::add_route(index, dst, prefix_len, gateway).map_err(|e| {
            Error::tap_io(
                &self.name,
                format!("cannot add the route to {dst}/{prefix_len} via {gateway}"),
                e,
            )
        })
    }

    /// The host side's interface index.
    fn index(&self) -> Result<u32, Error> {
        let mut req = IfReq::new(&self.name);
        self.control(libc::SIOCGIFINDEX, &mut req, "read the interface index")?;
        Ok(req.int() as u32)
    }

    fn control(&self, request: libc::Ioctl, req: &mut IfReq, what: &str) -> Result<(), Error> {
        control(&self.name, request, req, what)
    }
}

/// Brings the interface `name` up (any interface: `lo` too).
pub(crate) fn bring_up(name: &str) -> Result<(), Error> {
    let mut req = IfReq::new(name);
    control(name, libc::SIOCGIFFLAGS, &mut req, "read the flags")?;
    req.set_short(req.short() | libc::IFF_UP as i16);
    control(name, libc::SIOCSIFFLAGS, &mut req, "bring the device up")
}

/// One interface ioctl on a throwaway AF_INET socket.
fn control(name: &str, request: libc::Ioctl, req: &mut IfReq, what: &str) -> Result<(), Error> {
    let fail = |err: io::Error| Error::tap_io(name, format!("cannot {what}"), err);
    // SAFETY: plain socket(2) call; the result is checked.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(fail(io::Error::last_os_error()));
    }
    // SAFETY: `raw` is a fresh descriptor that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: every request used here takes a struct ifreq.
    if unsafe { libc::ioctl(sock.as_raw_fd(), request, req as *mut IfReq) } < 0 {
        return Err(fail(io::Error::last_os_error()));
    }
    Ok(())
}

impl TapDevice {
    /// The host side's MAC with the lowest bit of the last byte flipped: a
    /// neighbour of the host's, and different from it.
    pub(crate) fn mac(&self) -> Result<[u8; 6], Error> {
        let mut mac = self.host_mac()?;
        mac[5] ^= 1;
        Ok(mac)
    }

    pub(crate) fn mtu(&self) -> Result<u32, Error> {
        let mut req = IfReq::new(&self.name);
        self.control(libc::SIOCGIFMTU, &mut req, "read the MTU")?;
        Ok(req.int() as u32)
    }

    /// Sets the MTU of the device (its host side, and so lwIP's).
    pub(crate) fn set_mtu(&self, mtu: u32) -> Result<(), Error> {
        let mut req = IfReq::new(&self.name);
        req.set_int(mtu as i32);
        self.control(libc::SIOCSIFMTU, &mut req, "set the MTU")
    }

    /// Lets the kernel send frames whose checksum it has not computed and
    /// TCP segments of up to 64 KiB (TSO/GSO) instead of cutting them to the
    /// MTU: far fewer reads per byte.
    pub(crate) fn enable_offload(&self) -> Result<(), Error> {
        let flags = libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6;
        // SAFETY: TUNSETOFFLOAD takes its argument by value.
        if unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::TUNSETOFFLOAD,
                flags as libc::c_ulong,
            )
        } < 0
        {
            return Err(Error::tap_io(
                &self.name,
                "cannot enable offloads",
                io::Error::last_os_error(),
            ));
        }
        Ok(())
    }

    /// The descriptor to wait on for frames.
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The host's own stack (a transient TAP), a Linux bridge and Open
    /// vSwitch's kernel datapath take super-frames (and cut them where a
    /// port needs it). A TAP with no master may be read by anything, such
    /// as Open vSwitch's userspace datapath through a packet socket, which
    /// takes a 64 KiB frame for one too big for the link: no.
    pub(crate) fn takes_superframes(&self) -> bool {
        let sys = std::path::Path::new("/sys/class/net").join(&self.name);
        let master = std::fs::read_link(sys.join("master")).ok();
        let master = master.as_ref().and_then(|m| m.file_name());
        self.transient || sys.join("brport").exists() || master.is_some_and(|m| m == "ovs-system")
    }
}

impl FramePath for TapDevice {
    fn read(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        // SAFETY: IoSliceMut is ABI-compatible with iovec and describes
        // writable memory borrowed for this call.
        byte_count(unsafe {
            libc::readv(
                self.fd.as_raw_fd(),
                bufs.as_ptr().cast::<libc::iovec>(),
                bufs.len() as i32,
            )
        })
    }

    fn write(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        // SAFETY: IoSlice is ABI-compatible with iovec and describes readable
        // memory borrowed for this call.
        byte_count(unsafe {
            libc::writev(
                self.fd.as_raw_fd(),
                bufs.as_ptr().cast::<libc::iovec>(),
                bufs.len() as i32,
            )
        })
    }
}

impl AsRawFd for TapDevice {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// A readv/writev result: the byte count, or the error it reported.
fn byte_count(n: isize) -> io::Result<usize> {
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

fn open_tun() -> io::Result<OwnedFd> {
    let path = c"/dev/net/tun";
    // SAFETY: path is NUL-terminated; the result is checked.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

const NEED_PRIVILEGE: &str = "run as root (or with CAP_NET_ADMIN), or use a TAP created for your \
                              user with `ip tuntap add dev NAME mode tap user $USER` and name=NAME";

fn tun_error(name: &str, err: io::Error) -> Error {
    let reason = match err.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENODEV) | Some(libc::ENXIO) => {
            "/dev/net/tun is missing; load the tun module (`modprobe tun`)".to_string()
        }
        Some(libc::EACCES) | Some(libc::EPERM) => {
            format!("no permission to open /dev/net/tun; {NEED_PRIVILEGE}")
        }
        _ => "cannot open /dev/net/tun".to_string(),
    };
    Error::tap_io(&display_name(name), reason, err)
}

fn attach_error(name: &str, err: io::Error) -> Error {
    let reason = match err.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            format!("no permission to attach; {NEED_PRIVILEGE}")
        }
        Some(libc::EBUSY) => "already in use by another process".to_string(),
        Some(libc::EINVAL) => "not a TAP device (or not one in `mode tap`)".to_string(),
        _ => "cannot attach".to_string(),
    };
    Error::tap_io(&display_name(name), reason, err)
}

fn display_name(name: &str) -> String {
    if name.contains('%') {
        "transient TAP".to_string()
    } else {
        name.to_string()
    }
}
