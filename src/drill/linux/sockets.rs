//! The system calls of a script, made on real sockets of the Linux kernel.
//! A call the script makes on a blocking socket is tried without blocking
//! (`MSG_DONTWAIT`, or the socket made non-blocking for the call) and
//! reported [`Attempt::Blocked`] until it would return; a blocking
//! `connect` sends its SYN non-blocking and returns once the socket is
//! writable, with `SO_ERROR`'s answer. What the script sees (the value,
//! the errno, when it returns) is what the blocking call would give.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use super::os::{self, PollFd};
use crate::drill::errno::Errno;
use crate::drill::sockets::{Attempt, Call, Endpoints, Outcome, Progress, SockOpt};

/// The sockets a script opened, by their descriptors. Only these are the
/// script's: any other descriptor (the TUN device's among them) is `EBADF`
/// to it.
pub(crate) struct LinuxSockets {
    table: BTreeMap<i32, OwnedFd>,
    /// An address of the family sockets are made in.
    family: IpAddr,
}

impl LinuxSockets {
    pub(crate) fn new(family: IpAddr) -> LinuxSockets {
        LinuxSockets {
            table: BTreeMap::new(),
            family,
        }
    }

    /// Tries `call` (again) at script time `now`.
    pub(crate) fn attempt(&mut self, call: &Call, progress: &mut Progress, now: i64) -> Attempt {
        match call {
            Call::Socket {
                stream,
                nonblocking,
            } => {
                let mut kind = if *stream {
                    libc::SOCK_STREAM
                } else {
                    libc::SOCK_DGRAM
                };
                if *nonblocking {
                    kind |= libc::SOCK_NONBLOCK;
                }
                done(os::socket(self.family, kind).map(|fd| self.insert(fd)))
            }
            Call::Close { fd } => match self.table.remove(fd) {
                Some(_) => Attempt::Done(Outcome::Value(0)),
                None => Attempt::Done(Outcome::Failed(Errno::EBADF)),
            },
            Call::Poll { fds, timeout_ms } => self.poll(fds, *timeout_ms, progress, now),
            other => {
                let Some(fd) = other.fd().and_then(|fd| self.table.get(&fd)) else {
                    return Attempt::Done(Outcome::Failed(Errno::EBADF));
                };
                let fd = fd.as_fd();
                let blocking = match os::status_flags(fd) {
                    Ok(flags) => flags & libc::O_NONBLOCK == 0,
                    Err(e) => return failed(e),
                };
                match on_socket(fd, blocking, other, progress) {
                    Answer::Attempt(attempt) => attempt,
                    Answer::Accepted(new) => Attempt::Done(Outcome::Value(self.insert(new))),
                }
            }
        }
    }

    fn insert(&mut self, fd: OwnedFd) -> i64 {
        let raw = fd.as_raw_fd();
        self.table.insert(raw, fd);
        i64::from(raw)
    }

    /// poll(2) on the script's descriptors, without waiting; a poll that
    /// would wait is [`Attempt::Blocked`] until its timeout.
    fn poll(
        &self,
        fds: &[(i32, i16)],
        timeout_ms: i64,
        progress: &mut Progress,
        now: i64,
    ) -> Attempt {
        let (mut entries, unknown) = self.poll_entries(fds);
        if let Err(e) = os::poll(&mut entries, Some(Duration::ZERO)) {
            return failed(e);
        }
        let revents: Vec<i16> = entries
            .iter()
            .zip(&unknown)
            .map(|(e, unknown)| if *unknown { libc::POLLNVAL } else { e.revents })
            .collect();
        let ready = revents.iter().filter(|r| **r != 0).count() as i64;
        if ready > 0 || timeout_ms == 0 {
            return Attempt::Done(Outcome::Polled(ready, revents));
        }
        if timeout_ms < 0 {
            return Attempt::Blocked;
        }
        let deadline = *progress.deadline.get_or_insert(now + timeout_ms * 1000);
        if now >= deadline {
            Attempt::Done(Outcome::Polled(0, revents))
        } else {
            Attempt::Blocked
        }
    }

    /// poll(2) entries for the script's descriptors, and which were not
    /// the script's (ignored by the kernel, `POLLNVAL` to the script).
    fn poll_entries(&self, fds: &[(i32, i16)]) -> (Vec<PollFd>, Vec<bool>) {
        fds.iter()
            .map(|(fd, events)| match self.table.get(fd) {
                Some(owned) => (os::poll_entry(owned.as_raw_fd(), *events), false),
                None => (os::poll_entry(-1, 0), true),
            })
            .unzip()
    }

    /// What a blocked `call` waits for: descriptors and their events, and
    /// the script time it gives up at (a poll's timeout).
    pub(crate) fn wake(&self, call: &Call, progress: &Progress) -> (Vec<PollFd>, Option<i64>) {
        let one = |fd: &i32, events: i16| match self.table.get(fd) {
            Some(owned) => vec![os::poll_entry(owned.as_raw_fd(), events)],
            None => Vec::new(),
        };
        match call {
            Call::Accept { fd } | Call::Read { fd, .. } => (one(fd, libc::POLLIN), None),
            Call::Connect { fd, .. } | Call::Write { fd, .. } | Call::SendTo { fd, .. } => {
                (one(fd, libc::POLLOUT), None)
            }
            Call::Poll { fds, .. } => (self.poll_entries(fds).0, progress.deadline),
            _ => (Vec::new(), None),
        }
    }

    /// The TCP sockets' addresses, in descriptor order.
    pub(crate) fn tcp_endpoints(&self) -> Vec<Endpoints> {
        self.table
            .iter()
            .filter_map(|(fd, owned)| {
                let sock = owned.as_fd();
                let kind = os::int_option(sock, libc::SOL_SOCKET, libc::SO_TYPE).ok()?;
                if kind != libc::SOCK_STREAM {
                    return None;
                }
                let local = os::address(sock, false).ok()?;
                let unspecified = SocketAddr::new(
                    match local.ip() {
                        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
                    },
                    0,
                );
                let listening = os::int_option(sock, libc::SOL_SOCKET, libc::SO_ACCEPTCONN)
                    .is_ok_and(|on| on != 0);
                Some(Endpoints {
                    fd: *fd,
                    local,
                    remote: os::address(sock, true).unwrap_or(unspecified),
                    listening,
                })
            })
            .collect()
    }
}

/// Whether `fd` has `events` (or an error or hang-up) now.
fn ready(fd: BorrowedFd<'_>, events: i16) -> bool {
    let mut entry = [os::poll_entry(fd.as_raw_fd(), events)];
    os::poll(&mut entry, Some(Duration::ZERO)).is_ok_and(|n| n > 0)
}

/// Runs `f` with `fd` non-blocking if it is `blocking`, then restores it.
fn without_blocking<T>(
    fd: BorrowedFd<'_>,
    blocking: bool,
    f: impl FnOnce() -> io::Result<T>,
) -> io::Result<T> {
    if !blocking {
        return f();
    }
    let flags = os::status_flags(fd)?;
    os::set_status_flags(fd, flags | libc::O_NONBLOCK)?;
    let result = f();
    os::set_status_flags(fd, flags)?;
    result
}

/// Linux's level and name of an option.
fn number(option: SockOpt) -> (libc::c_int, libc::c_int) {
    match option {
        SockOpt::ReuseAddr => (libc::SOL_SOCKET, libc::SO_REUSEADDR),
        SockOpt::KeepAlive => (libc::SOL_SOCKET, libc::SO_KEEPALIVE),
        SockOpt::Error => (libc::SOL_SOCKET, libc::SO_ERROR),
        SockOpt::Linger => (libc::SOL_SOCKET, libc::SO_LINGER),
        SockOpt::NoDelay => (libc::IPPROTO_TCP, libc::TCP_NODELAY),
        SockOpt::KeepIdle => (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
        SockOpt::KeepInterval => (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL),
        SockOpt::KeepCount => (libc::IPPROTO_TCP, libc::TCP_KEEPCNT),
    }
}

fn done(result: io::Result<i64>) -> Attempt {
    match result {
        Ok(v) => Attempt::Done(Outcome::Value(v)),
        Err(e) => failed(e),
    }
}

fn failed(e: io::Error) -> Attempt {
    Attempt::Done(Outcome::Failed(Errno::from_linux(
        e.raw_os_error().unwrap_or(libc::EIO),
    )))
}

/// What a call on a socket gave: its attempt, or a connection accepted.
enum Answer {
    Attempt(Attempt),
    Accepted(OwnedFd),
}

/// A call on the script's socket `fd`, which is `blocking` for the script.
fn on_socket(fd: BorrowedFd<'_>, blocking: bool, call: &Call, progress: &mut Progress) -> Answer {
    let would_block = |e: &io::Error| e.kind() == io::ErrorKind::WouldBlock;
    let attempt = match call {
        Call::Bind { addr, .. } => done(os::bind(fd, addr).map(|()| 0)),
        Call::Listen { backlog, .. } => done(os::listen(fd, *backlog as i32).map(|()| 0)),
        Call::Accept { .. } => match without_blocking(fd, blocking, || os::accept(fd)) {
            Err(e) if blocking && would_block(&e) => Attempt::Blocked,
            Ok(new) => return Answer::Accepted(new),
            Err(e) => failed(e),
        },
        Call::Connect { addr, .. } if !progress.started => {
            match without_blocking(fd, blocking, || os::connect(fd, addr)) {
                Err(e) if blocking && e.raw_os_error() == Some(libc::EINPROGRESS) => {
                    progress.started = true;
                    Attempt::Blocked
                }
                r => done(r.map(|()| 0)),
            }
        }
        Call::Connect { .. } => {
            // The blocking connect in progress returns once the socket
            // is writable (connected) or has an error.
            if !ready(fd, libc::POLLOUT) {
                return Answer::Attempt(Attempt::Blocked);
            }
            match os::int_option(fd, libc::SOL_SOCKET, libc::SO_ERROR) {
                Ok(0) => Attempt::Done(Outcome::Value(0)),
                Ok(errno) => Attempt::Done(Outcome::Failed(Errno::from_linux(errno))),
                Err(e) => failed(e),
            }
        }
        Call::Write { len, .. } | Call::SendTo { len, .. } => {
            let to = match call {
                Call::SendTo { to, .. } => Some(to),
                _ => None,
            };
            let rest = vec![0u8; len.saturating_sub(progress.written)];
            let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
            match os::send(fd, &rest, flags, to) {
                Ok(n) => {
                    progress.written += n;
                    if blocking && progress.written < *len {
                        Attempt::Blocked
                    } else {
                        Attempt::Done(Outcome::Value(progress.written as i64))
                    }
                }
                Err(e) if blocking && would_block(&e) => Attempt::Blocked,
                // A blocking write that queued some returns the count.
                Err(_) if progress.written > 0 => {
                    Attempt::Done(Outcome::Value(progress.written as i64))
                }
                Err(e) => failed(e),
            }
        }
        Call::Read { len, .. } => {
            let mut buf = vec![0u8; *len];
            match os::recv(fd, &mut buf, libc::MSG_DONTWAIT) {
                Err(e) if blocking && would_block(&e) => Attempt::Blocked,
                r => done(r.map(|n| n as i64)),
            }
        }
        Call::Shutdown { read, write, .. } => {
            let how = match (read, write) {
                (true, true) => libc::SHUT_RDWR,
                (false, true) => libc::SHUT_WR,
                _ => libc::SHUT_RD,
            };
            done(os::shutdown(fd, how).map(|()| 0))
        }
        Call::SetSockOpt {
            option,
            value,
            linger,
            ..
        } => {
            let result = match option {
                SockOpt::Linger => os::set_linger(fd, *value != 0, *linger as i32),
                other => {
                    let (level, name) = number(*other);
                    os::set_int_option(fd, level, name, *value as i32)
                }
            };
            done(result.map(|()| 0))
        }
        Call::GetSockOpt { option, .. } => {
            let result = match option {
                SockOpt::Linger => os::linger(fd),
                other => {
                    let (level, name) = number(*other);
                    os::int_option(fd, level, name).map(|v| (v, 0))
                }
            };
            match result {
                Ok((v, l)) => Attempt::Done(Outcome::Option(i64::from(v), i64::from(l))),
                Err(e) => failed(e),
            }
        }
        Call::SetNonBlocking { on, .. } => {
            let result = os::status_flags(fd).and_then(|flags| {
                let flags = if *on {
                    flags | libc::O_NONBLOCK
                } else {
                    flags & !libc::O_NONBLOCK
                };
                os::set_status_flags(fd, flags)
            });
            done(result.map(|()| 0))
        }
        Call::GetFlags { .. } => done(os::status_flags(fd).map(i64::from)),
        Call::Socket { .. } | Call::Close { .. } | Call::Poll { .. } => {
            unreachable!("handled by attempt")
        }
    };
    Answer::Attempt(attempt)
}
