//! The system calls of a script, acted out on lwIP's raw TCP and UDP API
//! inside this crate's one thread: a file descriptor table of sockets,
//! each a PCB and the events lwIP reported for it (connections waiting to
//! be accepted, bytes received and not yet read, a FIN, the error that
//! ended the connection). A call that cannot complete yet on a blocking
//! socket says so ([`Attempt::Blocked`]) and is tried again as lwIP's state
//! changes, the way a blocked thread would be woken.
//!
//! The semantics follow what lwIP's own sockets layer (`api/sockets.c` on
//! netconns) does where it matters to a script: the receive window opens
//! only as the application reads; an accepted connection counts against
//! the listen backlog until `accept` takes it (`tcp_backlog_delayed`); a
//! write queues as much as the send buffer takes, with "more to come" set
//! on all but its last part; every lwIP error becomes the errno lwIP's
//! `err_to_errno` gives ([`super::errno`]).

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;

use super::errno::Errno;
use crate::lwip::pbuf::Pbuf;
use crate::lwip::tcp::{KeepaliveTimes, PcbOption, Tcp, TcpHandler, TcpState};
use crate::lwip::udp::Udp;
use crate::lwip::LwipError;

/// The first descriptor a script's socket gets (0, 1 and 2 are taken, as in
/// any process).
const FIRST_FD: i32 = 3;

/// A socket option a script may set or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SockOpt {
    ReuseAddr,
    KeepAlive,
    Error,
    Linger,
    NoDelay,
    KeepIdle,
    KeepInterval,
    KeepCount,
}

/// A system call with its arguments resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Call {
    Socket {
        stream: bool,
        nonblocking: bool,
    },
    Bind {
        fd: i32,
        addr: SocketAddr,
    },
    Listen {
        fd: i32,
        backlog: i64,
    },
    Accept {
        fd: i32,
    },
    Connect {
        fd: i32,
        addr: SocketAddr,
    },
    /// write, send, and sendto without an address.
    Write {
        fd: i32,
        len: usize,
    },
    /// sendto with an address (UDP).
    SendTo {
        fd: i32,
        len: usize,
        to: SocketAddr,
    },
    /// read, recv, recvfrom.
    Read {
        fd: i32,
        len: usize,
    },
    Shutdown {
        fd: i32,
        read: bool,
        write: bool,
    },
    Close {
        fd: i32,
    },
    SetSockOpt {
        fd: i32,
        option: SockOpt,
        value: i64,
        /// For SO_LINGER: the time.
        linger: i64,
    },
    GetSockOpt {
        fd: i32,
        option: SockOpt,
    },
    SetNonBlocking {
        fd: i32,
        on: bool,
    },
    GetFlags {
        fd: i32,
    },
    Poll {
        fds: Vec<(i32, i16)>,
        /// Milliseconds; negative waits for ever.
        timeout_ms: i64,
    },
}

impl Call {
    /// The descriptor the call is about (the first, for poll).
    pub(crate) fn fd(&self) -> Option<i32> {
        match self {
            Call::Socket { .. } => None,
            Call::Poll { fds, .. } => fds.first().map(|(fd, _)| *fd),
            Call::Bind { fd, .. }
            | Call::Listen { fd, .. }
            | Call::Accept { fd }
            | Call::Connect { fd, .. }
            | Call::Write { fd, .. }
            | Call::SendTo { fd, .. }
            | Call::Read { fd, .. }
            | Call::Shutdown { fd, .. }
            | Call::Close { fd }
            | Call::SetSockOpt { fd, .. }
            | Call::GetSockOpt { fd, .. }
            | Call::SetNonBlocking { fd, .. }
            | Call::GetFlags { fd } => Some(*fd),
        }
    }
}

/// What a call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A return value (a count, a descriptor, 0).
    Value(i64),
    /// -1 with this errno.
    Failed(Errno),
    /// getsockopt's result: 0, and the option's value (SO_LINGER: on/off
    /// and time).
    Option(i64, i64),
    /// poll's result: how many are ready, and each descriptor's revents.
    Polled(i64, Vec<i16>),
}

/// Where a call stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Attempt {
    Done(Outcome),
    /// It blocks: try again once something happened.
    Blocked,
}

/// What a call in progress keeps between attempts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    /// The call has been started (a connect sent its SYN).
    pub(crate) started: bool,
    /// Bytes a blocking write has queued so far.
    pub(crate) written: usize,
    /// When a blocking poll gives up (µs of the script's clock).
    pub(crate) deadline: Option<i64>,
}

/// The events lwIP reported for a TCP socket.
#[derive(Default)]
struct TcpEvents {
    /// Connections accepted by lwIP and not yet by the script.
    accepted: VecDeque<(Tcp, Rc<RefCell<TcpEvents>>)>,
    /// Bytes received and not read.
    rx: VecDeque<u8>,
    /// The peer's FIN came.
    fin: bool,
    connected: bool,
    /// What ended the connection (lwIP freed the PCB).
    lost: Option<LwipError>,
    /// The error SO_ERROR reports (and clears): lwIP's `pending_err`,
    /// which write() and a read() finding nothing else also take.
    pending: Option<Errno>,
    /// The error's message in the receive mailbox (lwIP's err_tcp posts
    /// one), for the first read() that finds no data.
    message: bool,
    /// The receiving side is shut: by shutdown(SHUT_RD), or by a read()
    /// that returned the end (lwIP's sockets layer then shuts it,
    /// `netconn_recv_data_tcp`). Later reads fail and data that still
    /// comes resets the connection.
    rx_closed: bool,
}

/// Collects a TCP PCB's events into its socket's [`TcpEvents`].
struct Collect(Rc<RefCell<TcpEvents>>);

impl TcpHandler for Collect {
    fn accepted(&mut self, _listener: &Tcp, conn: Tcp) {
        // Counted against the backlog until the script accepts it, as
        // lwIP's sockets layer does.
        conn.backlog_delayed();
        let events = Rc::new(RefCell::new(TcpEvents {
            connected: true,
            ..TcpEvents::default()
        }));
        conn.set_handler(Collect(Rc::clone(&events)));
        self.0.borrow_mut().accepted.push_back((conn, events));
    }

    fn connected(&mut self, _tcp: &Tcp) {
        self.0.borrow_mut().connected = true;
    }

    fn received(&mut self, tcp: &Tcp, data: Option<Pbuf>) {
        let mut events = self.0.borrow_mut();
        if events.rx_closed && data.is_some() {
            // What lwIP's tcp_input does with data for a PCB whose
            // receiving side is shut (TF_RXCLOSED): it aborts, with an RST.
            // The runner keeps lwIP's flag off, as with it lwIP frees a
            // closed PCB without calling back.
            drop(events);
            tcp.abort();
            self.error(LwipError::Aborted);
            return;
        }
        match data {
            // The window opens when the script reads (see `read`).
            Some(data) => {
                for segment in data.chain().segments() {
                    events.rx.extend(segment);
                }
            }
            None => events.fin = true,
        }
    }

    fn error(&mut self, error: LwipError) {
        let mut events = self.0.borrow_mut();
        events.lost = Some(error);
        events.pending = Some(Errno::of(error));
        events.message = true;
    }
}

struct TcpSocket {
    pcb: Tcp,
    events: Rc<RefCell<TcpEvents>>,
    nonblocking: bool,
    listening: bool,
    connecting: bool,
    shut_write: bool,
    /// lwIP's sockets layer closed the connection (both sides shut).
    closed: bool,
    /// SO_LINGER: on, with this time in seconds.
    linger: Option<i64>,
}

/// Datagrams received and not yet read.
type Datagrams = Rc<RefCell<VecDeque<(Vec<u8>, SocketAddr)>>>;

struct UdpSocket {
    pcb: Udp,
    datagrams: Datagrams,
    nonblocking: bool,
    peer: Option<SocketAddr>,
}

enum Socket {
    Tcp(Box<TcpSocket>),
    Udp(UdpSocket),
}

/// A script's descriptor table.
pub(crate) struct Sockets {
    table: BTreeMap<i32, Socket>,
}

/// A TCP connection of a socket, as the runner needs to find its packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Endpoints {
    pub fd: i32,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub listening: bool,
}

impl Sockets {
    pub(crate) fn new() -> Sockets {
        Sockets {
            table: BTreeMap::new(),
        }
    }

    /// The lowest free descriptor.
    fn next_fd(&self) -> i32 {
        (FIRST_FD..)
            .find(|fd| !self.table.contains_key(fd))
            .unwrap_or(FIRST_FD)
    }

    /// The TCP sockets' endpoints (listening ones have no remote).
    pub(crate) fn tcp_endpoints(&self) -> Vec<Endpoints> {
        self.table
            .iter()
            .filter_map(|(fd, socket)| match socket {
                Socket::Tcp(tcp) => tcp.pcb.endpoints().ok().map(|(local, remote)| Endpoints {
                    fd: *fd,
                    local,
                    remote,
                    listening: tcp.listening,
                }),
                Socket::Udp(_) => None,
            })
            .collect()
    }

    /// Tries `call` (again) at script time `now`.
    pub(crate) fn attempt(&mut self, call: &Call, progress: &mut Progress, now: i64) -> Attempt {
        let done = |outcome| Attempt::Done(outcome);
        let fail = |errno| Attempt::Done(Outcome::Failed(errno));
        match call {
            Call::Socket {
                stream,
                nonblocking,
            } => {
                let fd = self.next_fd();
                let socket = if *stream {
                    match Tcp::new() {
                        Ok(pcb) => {
                            let events = Rc::new(RefCell::new(TcpEvents::default()));
                            pcb.set_handler(Collect(Rc::clone(&events)));
                            Socket::Tcp(Box::new(TcpSocket {
                                pcb,
                                events,
                                nonblocking: *nonblocking,
                                listening: false,
                                connecting: false,
                                shut_write: false,
                                closed: false,
                                linger: None,
                            }))
                        }
                        Err(e) => return fail(Errno::of(e)),
                    }
                } else {
                    match Udp::new() {
                        Ok(pcb) => {
                            let datagrams: Datagrams = Rc::default();
                            let queue = Rc::clone(&datagrams);
                            pcb.set_handler(move |data, from| {
                                let mut bytes = Vec::with_capacity(data.tot_len());
                                for segment in data.chain().segments() {
                                    bytes.extend_from_slice(segment);
                                }
                                queue.borrow_mut().push_back((bytes, from));
                            });
                            Socket::Udp(UdpSocket {
                                pcb,
                                datagrams,
                                nonblocking: *nonblocking,
                                peer: None,
                            })
                        }
                        Err(e) => return fail(Errno::of(e)),
                    }
                };
                self.table.insert(fd, socket);
                done(Outcome::Value(i64::from(fd)))
            }
            Call::Close { fd } => match self.table.remove(fd) {
                None => fail(Errno::EBADF),
                Some(Socket::Udp(_)) => done(Outcome::Value(0)),
                Some(Socket::Tcp(tcp)) => {
                    close_tcp(&tcp);
                    done(Outcome::Value(0))
                }
            },
            Call::Poll { fds, timeout_ms } => {
                let revents: Vec<i16> = fds
                    .iter()
                    .map(|(fd, events)| self.readiness(*fd) & (*events | POLLERR | POLLNVAL))
                    .collect();
                let ready = revents.iter().filter(|r| **r != 0).count() as i64;
                if ready > 0 || *timeout_ms == 0 {
                    return done(Outcome::Polled(ready, revents));
                }
                let deadline = *progress.deadline.get_or_insert_with(|| {
                    if *timeout_ms < 0 {
                        i64::MAX
                    } else {
                        now + timeout_ms * 1000
                    }
                });
                if now >= deadline {
                    return done(Outcome::Polled(0, revents));
                }
                Attempt::Blocked
            }
            _ => {
                let Some(fd) = call.fd() else {
                    return fail(Errno::EBADF);
                };
                match self.table.get_mut(&fd) {
                    None => fail(Errno::EBADF),
                    Some(Socket::Tcp(tcp)) => {
                        let accepted = tcp_call(tcp, call, progress);
                        match accepted {
                            TcpResult::Attempt(attempt) => attempt,
                            TcpResult::Accepted(pcb, events) => {
                                let new_fd = self.next_fd();
                                self.table.insert(
                                    new_fd,
                                    Socket::Tcp(Box::new(TcpSocket {
                                        pcb,
                                        events,
                                        nonblocking: false,
                                        listening: false,
                                        connecting: false,
                                        shut_write: false,
                                        closed: false,
                                        linger: None,
                                    })),
                                );
                                done(Outcome::Value(i64::from(new_fd)))
                            }
                        }
                    }
                    Some(Socket::Udp(udp)) => udp_call(udp, call),
                }
            }
        }
    }

    /// poll(2)'s view of `fd` now.
    fn readiness(&self, fd: i32) -> i16 {
        match self.table.get(&fd) {
            None => POLLNVAL,
            Some(Socket::Udp(udp)) => {
                let mut r = POLLOUT;
                if !udp.datagrams.borrow().is_empty() {
                    r |= POLLIN;
                }
                r
            }
            Some(Socket::Tcp(tcp)) => {
                let events = tcp.events.borrow();
                let mut r = 0;
                if !events.rx.is_empty() || events.fin || !events.accepted.is_empty() {
                    r |= POLLIN;
                }
                if events.lost.is_some() {
                    // err_tcp sets the socket's error, receive and send
                    // events; lwIP's poll has no POLLHUP.
                    r |= POLLIN | POLLOUT | POLLERR;
                }
                if tcp.closed {
                    // Closed by shutting both sides: the error event lwIP's
                    // lwip_netconn_do_close_internal sets, and never clears.
                    r |= POLLERR;
                }
                // Writable: room to queue, or a write that fails at once
                // (the write side shut, the connection lost), as lwIP's
                // sockets layer reports it (err_tcp signals SENDPLUS) and
                // Linux too.
                if events.lost.is_some()
                    || (events.connected && (tcp.shut_write || tcp.pcb.sndbuf() > 0))
                {
                    r |= POLLOUT;
                }
                // lwIP's poll never reports POLLHUP (sockets.c,
                // lwip_pollscan: only POLLIN, POLLOUT and POLLERR).
                r
            }
        }
    }
}

/// poll(2)'s event bits (Linux's values).
pub(crate) const POLLIN: i16 = 0x001;
pub(crate) const POLLOUT: i16 = 0x004;
pub(crate) const POLLERR: i16 = 0x008;
pub(crate) const POLLHUP: i16 = 0x010;
pub(crate) const POLLNVAL: i16 = 0x020;

/// fcntl's O_NONBLOCK and O_RDWR (Linux's values).
pub(crate) const O_RDWR: i64 = 0o2;
pub(crate) const O_NONBLOCK: i64 = 0o4000;

enum TcpResult {
    Attempt(Attempt),
    Accepted(Tcp, Rc<RefCell<TcpEvents>>),
}

/// Gives up a closed socket's PCB: with SO_LINGER on and a zero time an
/// abortive close (RST), else lwIP's close (a FIN after what is queued).
/// Connections accepted by lwIP but never by the script are closed too.
fn close_tcp(tcp: &TcpSocket) {
    for (conn, _) in tcp.events.borrow_mut().accepted.drain(..) {
        conn.backlog_accepted();
        conn.close_or_abort();
    }
    if tcp.linger == Some(0) {
        tcp.pcb.abort();
    } else {
        tcp.pcb.close_or_abort();
    }
}

/// Shuts the receiving side, as lwIP's sockets layer does for
/// shutdown(SHUT_RD) and for a read() that returned the end
/// (`netconn_close_shutdown`): unread data is dropped without opening the
/// window, later reads fail, data that still comes resets the connection
/// (see [`Collect`]), and in FIN-WAIT-1, FIN-WAIT-2 or CLOSING the
/// connection is closed.
fn close_receiving(tcp: &mut TcpSocket) {
    {
        let mut events = tcp.events.borrow_mut();
        events.rx_closed = true;
        events.rx.clear();
    }
    if matches!(
        tcp.pcb.state(),
        TcpState::FinWait1 | TcpState::FinWait2 | TcpState::Closing
    ) {
        close_connection(tcp);
    }
}

/// The sockets layer's close of a connection whose both sides are shut:
/// `tcp_close`, and the socket's error event, which stays (POLLERR).
fn close_connection(tcp: &mut TcpSocket) {
    tcp.shut_write = true;
    tcp.closed = true;
    tcp.pcb.close_or_abort();
}

fn tcp_call(tcp: &mut TcpSocket, call: &Call, progress: &mut Progress) -> TcpResult {
    let done = |outcome| TcpResult::Attempt(Attempt::Done(outcome));
    let fail = |errno| TcpResult::Attempt(Attempt::Done(Outcome::Failed(errno)));
    let blocked = TcpResult::Attempt(Attempt::Blocked);
    let would_block = |tcp: &TcpSocket| {
        if tcp.nonblocking {
            fail(Errno::EAGAIN)
        } else {
            TcpResult::Attempt(Attempt::Blocked)
        }
    };
    match call {
        Call::Bind { addr, .. } => match tcp.pcb.bind(addr.ip(), addr.port()) {
            Ok(()) => done(Outcome::Value(0)),
            Err(e) => fail(Errno::of(e)),
        },
        Call::Listen { backlog, .. } => {
            if tcp.listening {
                return done(Outcome::Value(0));
            }
            let backlog = (*backlog).clamp(0, 255) as u8;
            match tcp.pcb.listen(backlog) {
                Ok(()) => {
                    tcp.listening = true;
                    done(Outcome::Value(0))
                }
                Err(e) => fail(Errno::of(e)),
            }
        }
        Call::Accept { .. } => {
            if !tcp.listening {
                return fail(Errno::EINVAL);
            }
            let next = tcp.events.borrow_mut().accepted.pop_front();
            match next {
                Some((pcb, events)) => {
                    pcb.backlog_accepted();
                    TcpResult::Accepted(pcb, events)
                }
                None => would_block(tcp),
            }
        }
        Call::Connect { addr, .. } => {
            let events = tcp.events.borrow();
            if events.connected {
                drop(events);
                if progress.started {
                    return done(Outcome::Value(0));
                }
                return fail(Errno::EISCONN);
            }
            if let Some(lost) = events.lost {
                // A blocking connect() fails with the error (err_tcp sets
                // its result); a later one finds no PCB (ERR_CLSD). The
                // pending error stays for SO_ERROR.
                return fail(if progress.started {
                    Errno::of(lost)
                } else {
                    Errno::ENOTCONN
                });
            }
            drop(events);
            if tcp.connecting {
                if progress.started {
                    return blocked;
                }
                return fail(Errno::EALREADY);
            }
            progress.started = true;
            if let Err(e) = tcp.pcb.connect(addr.ip(), addr.port()) {
                return fail(Errno::of(e));
            }
            tcp.connecting = true;
            if tcp.nonblocking {
                fail(Errno::EINPROGRESS)
            } else {
                blocked
            }
        }
        // lwIP's sockets layer sends on a TCP socket whatever the address
        // sendto() names (lwip_sendto calls lwip_send).
        Call::Write { len, .. } | Call::SendTo { len, .. } => {
            let events = tcp.events.borrow();
            if events.lost.is_some() {
                drop(events);
                // lwip_netconn_do_write: the pending error, once; then the
                // PCB is gone (ERR_CONN).
                let pending = tcp.events.borrow_mut().pending.take();
                return fail(pending.unwrap_or(Errno::ENOTCONN));
            }
            if !events.connected {
                drop(events);
                return fail(Errno::ENOTCONN);
            }
            drop(events);
            if tcp.shut_write {
                // After the FIN, tcp_write refuses (tcp_write_checks:
                // ERR_CONN), which lwIP's sockets layer reports as it is.
                return fail(Errno::ENOTCONN);
            }
            let len = *len;
            while progress.written < len {
                let room = tcp.pcb.sndbuf().min(usize::from(u16::MAX));
                if room == 0 {
                    break;
                }
                let chunk = room.min(len - progress.written);
                let more = progress.written + chunk < len;
                if tcp
                    .pcb
                    .write(&ZEROS[..chunk.min(ZEROS.len())], more)
                    .is_err()
                {
                    break;
                }
                progress.written += chunk.min(ZEROS.len());
            }
            let _ = tcp.pcb.output();
            if progress.written == len || (progress.written > 0 && tcp.nonblocking) {
                return done(Outcome::Value(progress.written as i64));
            }
            would_block(tcp)
        }
        Call::Read { len, .. } => {
            let mut events = tcp.events.borrow_mut();
            if events.rx_closed {
                // netconn_recv_data on a shut mailbox: the pending error
                // once, then ERR_CONN.
                return fail(events.pending.take().unwrap_or(Errno::ENOTCONN));
            }
            if !events.rx.is_empty() {
                let n = (*len).min(events.rx.len());
                events.rx.drain(..n);
                drop(events);
                tcp.pcb.recved(n);
                return done(Outcome::Value(n as i64));
            }
            if events.fin {
                drop(events);
                close_receiving(tcp);
                return done(Outcome::Value(0));
            }
            if let Some(lost) = events.lost {
                // netconn_recv_data: the error's message, then the pending
                // error, then ERR_CONN; ERR_CLSD reads as the end (0).
                let message = std::mem::take(&mut events.message);
                if message || events.pending.take().is_some() {
                    if lost == LwipError::Closed {
                        return done(Outcome::Value(0));
                    }
                    return fail(Errno::of(lost));
                }
                return fail(Errno::ENOTCONN);
            }
            if !events.connected {
                return fail(Errno::ENOTCONN);
            }
            drop(events);
            would_block(tcp)
        }
        Call::Shutdown { read, write, .. } => {
            if !tcp.events.borrow().connected {
                return fail(Errno::ENOTCONN);
            }
            let rx_was_closed = tcp.events.borrow().rx_closed;
            if *read {
                close_receiving(tcp);
            }
            // lwIP's sockets layer closes outright once both sides are
            // shut (lwip_netconn_do_close_internal); a read shut in
            // FIN-WAIT or CLOSING closed already (close_receiving).
            if *write && (*read || rx_was_closed) {
                close_connection(tcp);
            } else if *write && !tcp.shut_write {
                tcp.shut_write = true;
                if let Err(e) = tcp.pcb.shutdown_write() {
                    return fail(Errno::of(e));
                }
            }
            done(Outcome::Value(0))
        }
        Call::SetSockOpt {
            option,
            value,
            linger,
            ..
        } => {
            let on = *value != 0;
            let result = match option {
                SockOpt::ReuseAddr => tcp.pcb.set_option(PcbOption::ReuseAddress, on),
                SockOpt::KeepAlive => tcp.pcb.set_option(PcbOption::KeepAlive, on),
                SockOpt::NoDelay => tcp.pcb.set_nodelay(on),
                SockOpt::Linger => {
                    tcp.linger = on.then_some(*linger);
                    Ok(())
                }
                SockOpt::KeepIdle | SockOpt::KeepInterval | SockOpt::KeepCount => {
                    if *value <= 0 {
                        return fail(Errno::EINVAL);
                    }
                    tcp.pcb.keepalive_times().and_then(|mut times| {
                        let seconds = (*value as u32).saturating_mul(1000);
                        match option {
                            SockOpt::KeepIdle => times.idle_ms = seconds,
                            SockOpt::KeepInterval => times.interval_ms = seconds,
                            _ => times.count = *value as u32,
                        }
                        tcp.pcb.set_keepalive_times(times)
                    })
                }
                SockOpt::Error => return fail(Errno::ENOPROTOOPT),
            };
            match result {
                Ok(()) => done(Outcome::Value(0)),
                Err(e) => fail(Errno::of(e)),
            }
        }
        Call::GetSockOpt { option, .. } => {
            let value = match option {
                SockOpt::Error => {
                    let pending = tcp.events.borrow_mut().pending.take();
                    Ok(pending.map_or(0, Errno::number))
                }
                SockOpt::ReuseAddr => tcp.pcb.option(PcbOption::ReuseAddress).map(i64::from),
                SockOpt::KeepAlive => tcp.pcb.option(PcbOption::KeepAlive).map(i64::from),
                SockOpt::NoDelay => tcp.pcb.nodelay().map(i64::from),
                SockOpt::Linger => {
                    return done(Outcome::Option(
                        i64::from(tcp.linger.is_some()),
                        tcp.linger.unwrap_or(0),
                    ))
                }
                SockOpt::KeepIdle | SockOpt::KeepInterval | SockOpt::KeepCount => {
                    tcp.pcb.keepalive_times().map(
                        |KeepaliveTimes {
                             idle_ms,
                             interval_ms,
                             count,
                         }| {
                            i64::from(match option {
                                SockOpt::KeepIdle => idle_ms / 1000,
                                SockOpt::KeepInterval => interval_ms / 1000,
                                _ => count,
                            })
                        },
                    )
                }
            };
            match value {
                Ok(value) => done(Outcome::Option(value, 0)),
                Err(e) => fail(Errno::of(e)),
            }
        }
        Call::SetNonBlocking { on, .. } => {
            tcp.nonblocking = *on;
            done(Outcome::Value(0))
        }
        Call::GetFlags { .. } => done(Outcome::Value(
            O_RDWR | if tcp.nonblocking { O_NONBLOCK } else { 0 },
        )),
        Call::Socket { .. } | Call::Close { .. } | Call::Poll { .. } => fail(Errno::EINVAL),
    }
}

fn udp_call(udp: &mut UdpSocket, call: &Call) -> Attempt {
    let done = |outcome| Attempt::Done(outcome);
    let fail = |errno| Attempt::Done(Outcome::Failed(errno));
    match call {
        Call::Bind { addr, .. } => match udp.pcb.bind(addr.ip(), addr.port()) {
            Ok(()) => done(Outcome::Value(0)),
            Err(e) => fail(Errno::of(e)),
        },
        Call::Connect { addr, .. } => match udp.pcb.connect(addr.ip(), addr.port()) {
            Ok(()) => {
                udp.peer = Some(*addr);
                done(Outcome::Value(0))
            }
            Err(e) => fail(Errno::of(e)),
        },
        Call::Write { len, .. } => match udp.peer {
            Some(to) => send_datagram(udp, *len, to),
            None => fail(Errno::EDESTADDRREQ),
        },
        Call::SendTo { len, to, .. } => send_datagram(udp, *len, *to),
        Call::Read { len, .. } => match udp.datagrams.borrow_mut().pop_front() {
            Some((data, _)) => done(Outcome::Value(data.len().min(*len) as i64)),
            None if udp.nonblocking => fail(Errno::EAGAIN),
            None => Attempt::Blocked,
        },
        Call::SetNonBlocking { on, .. } => {
            udp.nonblocking = *on;
            done(Outcome::Value(0))
        }
        Call::GetFlags { .. } => done(Outcome::Value(
            O_RDWR | if udp.nonblocking { O_NONBLOCK } else { 0 },
        )),
        Call::SetSockOpt {
            option: SockOpt::ReuseAddr,
            ..
        } => done(Outcome::Value(0)),
        Call::GetSockOpt {
            option: SockOpt::Error,
            ..
        } => done(Outcome::Option(0, 0)),
        Call::Shutdown { .. } => fail(Errno::ENOTCONN),
        _ => fail(Errno::EOPNOTSUPP),
    }
}

fn send_datagram(udp: &UdpSocket, len: usize, to: SocketAddr) -> Attempt {
    if len > ZEROS.len() {
        return Attempt::Done(Outcome::Failed(Errno::EINVAL));
    }
    match udp.pcb.send_to(&ZEROS[..len], to) {
        Ok(()) => Attempt::Done(Outcome::Value(len as i64)),
        Err(e) => Attempt::Done(Outcome::Failed(Errno::of(e))),
    }
}

/// What a script's writes send: zeros, as packetdrill's do.
static ZEROS: [u8; 65535] = [0; 65535];
