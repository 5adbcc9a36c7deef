//! The OS edge of the Linux target: a network namespace of its own for
//! this process, and the socket calls a script makes, as safe functions on
//! owned or borrowed descriptors. Each returns what the kernel said,
//! errno included; nothing here decides what a script means.

use std::io;
use std::mem;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// A return value of -1 as the errno it set.
fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn check_size(rc: libc::ssize_t) -> io::Result<usize> {
    usize::try_from(rc).map_err(|_| io::Error::last_os_error())
}

/// Moves this process into a new network namespace (`CLONE_NEWNET`); with
/// `user`, into a new user namespace too, where it is root (uid and gid 0
/// mapped to its own), which lets a process without privilege own the
/// network namespace. A user namespace needs a single-threaded process.
pub(crate) fn unshare_network(user: bool) -> io::Result<()> {
    // SAFETY: getuid and getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let flags = if user {
        libc::CLONE_NEWUSER | libc::CLONE_NEWNET
    } else {
        libc::CLONE_NEWNET
    };
    // SAFETY: unshare takes flags by value and changes only this process's
    // namespaces; the result is checked.
    check(unsafe { libc::unshare(flags) })?;
    if user {
        std::fs::write("/proc/self/setgroups", "deny")?;
        std::fs::write("/proc/self/uid_map", format!("0 {uid} 1"))?;
        std::fs::write("/proc/self/gid_map", format!("0 {gid} 1"))?;
    }
    Ok(())
}

/// `struct sockaddr_storage` holding `addr`, and its length.
fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data, valid when zeroed.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for
            // sockaddr_in.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for
            // sockaddr_in6.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// The address in a `struct sockaddr_storage` the kernel filled in.
fn socket_addr(storage: &libc::sockaddr_storage) -> io::Result<SocketAddr> {
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, and
            // sockaddr_storage is aligned for it.
            let sin =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Ok(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            Ok(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        family => Err(io::Error::other(format!("address family {family}"))),
    }
}

/// socket(2), close-on-exec.
pub(crate) fn socket(ip: IpAddr, kind: libc::c_int) -> io::Result<OwnedFd> {
    let domain = match ip {
        IpAddr::V4(_) => libc::AF_INET,
        IpAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: plain socket(2) call; the result is checked.
    let fd = check(unsafe { libc::socket(domain, kind | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(crate) fn bind(fd: BorrowedFd<'_>, addr: &SocketAddr) -> io::Result<()> {
    let (storage, len) = sockaddr(addr);
    // SAFETY: `storage` holds a sockaddr of `len` bytes.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&storage as *const libc::sockaddr_storage).cast(),
            len,
        )
    })
    .map(drop)
}

pub(crate) fn connect(fd: BorrowedFd<'_>, addr: &SocketAddr) -> io::Result<()> {
    let (storage, len) = sockaddr(addr);
    // SAFETY: `storage` holds a sockaddr of `len` bytes.
    check(unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&storage as *const libc::sockaddr_storage).cast(),
            len,
        )
    })
    .map(drop)
}

pub(crate) fn listen(fd: BorrowedFd<'_>, backlog: i32) -> io::Result<()> {
    // SAFETY: plain listen(2) call.
    check(unsafe { libc::listen(fd.as_raw_fd(), backlog) }).map(drop)
}

/// accept4(2), close-on-exec (the new socket blocks, as accept's do).
pub(crate) fn accept(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: null address pointers ask for no peer address.
    let new = check(unsafe {
        libc::accept4(
            fd.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_CLOEXEC,
        )
    })?;
    // SAFETY: `new` is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// send(2), or sendto(2) with `to`.
pub(crate) fn send(
    fd: BorrowedFd<'_>,
    data: &[u8],
    flags: libc::c_int,
    to: Option<&SocketAddr>,
) -> io::Result<usize> {
    let (storage, len) = match to {
        Some(to) => {
            let (storage, len) = sockaddr(to);
            (Some(storage), len)
        }
        None => (None, 0),
    };
    let addr = storage.as_ref().map_or(std::ptr::null(), |s| {
        (s as *const libc::sockaddr_storage).cast()
    });
    // SAFETY: `data` is readable for its length; `addr` is null or holds a
    // sockaddr of `len` bytes.
    check_size(unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            data.as_ptr().cast(),
            data.len(),
            flags,
            addr,
            len,
        )
    })
}

pub(crate) fn recv(fd: BorrowedFd<'_>, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: `buf` is writable for its length.
    check_size(unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags) })
}

pub(crate) fn shutdown(fd: BorrowedFd<'_>, how: libc::c_int) -> io::Result<()> {
    // SAFETY: plain shutdown(2) call.
    check(unsafe { libc::shutdown(fd.as_raw_fd(), how) }).map(drop)
}

/// setsockopt(2) of an int option.
pub(crate) fn set_int_option(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    set_option(fd, level, name, &value)
}

/// getsockopt(2) of an int option.
pub(crate) fn int_option(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<libc::c_int> {
    option(fd, level, name)
}

/// SO_LINGER: on or off, and the time in seconds.
pub(crate) fn set_linger(fd: BorrowedFd<'_>, on: bool, seconds: i32) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: i32::from(on),
        l_linger: seconds,
    };
    set_option(fd, libc::SOL_SOCKET, libc::SO_LINGER, &linger)
}

pub(crate) fn linger(fd: BorrowedFd<'_>) -> io::Result<(i32, i32)> {
    let linger: libc::linger = option(fd, libc::SOL_SOCKET, libc::SO_LINGER)?;
    Ok((linger.l_onoff, linger.l_linger))
}

/// Options whose value is a plain-data `T` (int, struct linger).
fn set_option<T: Copy>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` is readable for size_of::<T>() bytes.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Only for `T` valid when zeroed (int, struct linger): the kernel may
/// write fewer bytes than asked.
fn option<T: Copy>(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int) -> io::Result<T> {
    // SAFETY: callers use plain C types (int, struct linger), valid when
    // zeroed.
    let mut value: T = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is writable for `len` bytes, which the kernel does
    // not exceed.
    check(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut T).cast(),
            &mut len,
        )
    })?;
    Ok(value)
}

/// fcntl(F_GETFL).
pub(crate) fn status_flags(fd: BorrowedFd<'_>) -> io::Result<libc::c_int> {
    // SAFETY: F_GETFL takes no argument.
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })
}

/// fcntl(F_SETFL).
pub(crate) fn set_status_flags(fd: BorrowedFd<'_>, flags: libc::c_int) -> io::Result<()> {
    // SAFETY: F_SETFL takes an int by value.
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags) }).map(drop)
}

/// getsockname(2) (`peer`: getpeername(2)).
pub(crate) fn address(fd: BorrowedFd<'_>, peer: bool) -> io::Result<SocketAddr> {
    // SAFETY: sockaddr_storage is plain data, valid when zeroed.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let ptr = (&mut storage as *mut libc::sockaddr_storage).cast();
    // SAFETY: `storage` is writable for `len` bytes, which the kernel does
    // not exceed.
    check(unsafe {
        if peer {
            libc::getpeername(fd.as_raw_fd(), ptr, &mut len)
        } else {
            libc::getsockname(fd.as_raw_fd(), ptr, &mut len)
        }
    })?;
    socket_addr(&storage)
}

/// poll(2)'s entries: a descriptor (negative: ignored), the events asked
/// for, and the events the kernel reported.
pub(crate) type PollFd = libc::pollfd;

pub(crate) fn poll_entry(fd: RawFd, events: i16) -> PollFd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// ppoll(2) for at most `timeout` (none: for ever); how many entries
/// have events. An interrupted wait counts as none.
pub(crate) fn poll(fds: &mut [PollFd], timeout: Option<Duration>) -> io::Result<usize> {
    let spec = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(t.subsec_nanos() as i32),
    });
    let spec_ptr = spec
        .as_ref()
        .map_or(std::ptr::null(), |s| s as *const libc::timespec);
    // SAFETY: `fds` is a writable array of its length; `spec_ptr` is null
    // or points at a timespec; a null signal mask keeps this thread's.
    let rc = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            spec_ptr,
            std::ptr::null(),
        )
    };
    match check(rc) {
        Ok(n) => Ok(n as usize),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
        Err(e) => Err(e),
    }
}

/// A packet socket on the interface `ifindex` that sees every packet the
/// kernel sends or receives there, each with the kernel's time stamp
/// (`SO_TIMESTAMPNS`) and, in front of the packet, the virtio-net header
/// its offloads need (`PACKET_VNET_HDR`); non-blocking. packetdrill takes
/// the time of an outbound packet the same way, so a busy runner does
/// not make the kernel look late.
pub(crate) fn packet_socket(ifindex: u32) -> io::Result<OwnedFd> {
    let protocol = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: socket(2) has no memory preconditions.
    let fd = check(unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            libc::c_int::from(protocol),
        )
    })?;
    // SAFETY: `fd` was just returned by socket(2) and is owned by no one
    // else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    set_option(fd.as_fd(), libc::SOL_PACKET, libc::PACKET_VNET_HDR, &1i32)?;
    set_option(fd.as_fd(), libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, &1i32)?;
    // SAFETY: sockaddr_ll is plain data, valid when zeroed.
    let mut addr: libc::sockaddr_ll = unsafe { mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = protocol;
    addr.sll_ifindex = ifindex as i32;
    // SAFETY: `addr` is a sockaddr_ll of the length given.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    })?;
    Ok(fd)
}

/// The next packet on a [`packet_socket`] into `buf`: its length, whether
/// the kernel sent it (rather than received it), and the kernel's time
/// stamp as time since the Unix epoch.
pub(crate) fn recv_stamped(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
) -> io::Result<(usize, bool, Option<Duration>)> {
    // SAFETY: sockaddr_ll is plain data, valid when zeroed.
    let mut from: libc::sockaddr_ll = unsafe { mem::zeroed() };
    // Room for one SCM_TIMESTAMPNS message, aligned as cmsghdr is.
    let mut control = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data, valid when zeroed.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = (&mut from as *mut libc::sockaddr_ll).cast();
    msg.msg_namelen = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = mem::size_of_val(&control);
    // SAFETY: every pointer in `msg` points at a live buffer of the length
    // given with it.
    let len = check_size(unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, 0) })?;
    let mut stamp = None;
    // SAFETY: `msg` was filled by recvmsg; CMSG_FIRSTHDR and CMSG_NXTHDR
    // stay within `msg_controllen` bytes of `control`.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        // SAFETY: `cmsg` is non-null and within `control`.
        let header = unsafe { &*cmsg };
        if header.cmsg_level == libc::SOL_SOCKET && header.cmsg_type == libc::SCM_TIMESTAMPNS {
            // SAFETY: an SCM_TIMESTAMPNS message carries a timespec, which
            // may be unaligned in the buffer.
            let ts: libc::timespec =
                unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast()) };
            stamp = Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
        }
        // SAFETY: as for CMSG_FIRSTHDR.
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
    Ok((len, from.sll_pkttype == libc::PACKET_OUTGOING, stamp))
}

/// The index of the interface `name`.
pub(crate) fn interface_index(name: &str) -> io::Result<u32> {
    let name = std::ffi::CString::new(name).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: `name` is a NUL-terminated string.
    match unsafe { libc::if_nametoindex(name.as_ptr()) } {
        0 => Err(io::Error::last_os_error()),
        index => Ok(index),
    }
}
