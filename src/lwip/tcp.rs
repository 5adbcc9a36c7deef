//! lwIP's raw TCP API: a protocol control block ([`Tcp`]) whose events
//! (a connection accepted or made, data or a FIN received, data
//! acknowledged, the periodic poll, the connection lost) go to a
//! [`TcpHandler`].
//!
//! Who frees a PCB is the raw API's hard part; here it is settled once:
//! lwIP holds one reference to the [`Tcp`]'s state (its callback argument)
//! for as long as it may call back. The reference is released when lwIP
//! reports the connection lost (its error callback: the PCB is already
//! freed), or when we give the PCB up ([`Tcp::close`], [`Tcp::abort`]),
//! after which lwIP finishes the connection on its own without calling
//! back. A `Tcp` whose PCB is gone says so ([`LwipError::Closed`]) instead
//! of touching freed memory.
//!
//! One way out has no callback: a connection shut for sending
//! ([`Tcp::shutdown_write`]) that the peer then closes goes to TIME-WAIT,
//! and lwIP frees it 2 MSL later without a word. So once a PCB is shut for
//! sending, every use first asks lwIP whether it still has it (its active
//! and TIME-WAIT lists, and the callback argument, which tells a reused
//! PCB from ours); lwIP's reference is released when it no longer does.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::net::{IpAddr, SocketAddr};
use std::ptr;
use std::rc::Rc;

use super::addr::{from_ip_addr, ip_addr};
use super::pbuf::Pbuf;
use super::{check, LwipError, OK};
use crate::sys;

/// The events of a TCP PCB. Every method has a default: data is taken
/// (and the window opened for it) and dropped; an accepted connection
/// nobody takes is aborted.
pub(crate) trait TcpHandler {
    /// A listener accepted `conn` (established). `conn` has no handler yet.
    fn accepted(&mut self, _listener: &Tcp, conn: Tcp) {
        conn.abort();
    }

    /// The connection `connect` started is established.
    fn connected(&mut self, _tcp: &Tcp) {}

    /// Data arrived (`Some`), or the peer's FIN (`None`).
    fn received(&mut self, tcp: &Tcp, data: Option<Pbuf>) {
        if let Some(data) = data {
            tcp.recved(data.tot_len());
        }
    }

    /// The peer acknowledged `len` more bytes.
    fn sent(&mut self, _tcp: &Tcp, _len: u16) {}

    /// lwIP's periodic poll (see [`Tcp::set_poll_interval`]).
    fn poll(&mut self, _tcp: &Tcp) {}

    /// The connection is gone: reset, timed out or aborted by lwIP. The PCB
    /// has been freed.
    fn error(&mut self, _error: LwipError) {}
}

/// lwIP's default listen backlog (`TCP_DEFAULT_LISTEN_BACKLOG`).
pub(crate) const DEFAULT_BACKLOG: u8 = sys::TCP_DEFAULT_LISTEN_BACKLOG as u8;

/// The states of a TCP connection (lwIP's `enum tcp_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TcpState {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl TcpState {
    fn from_lwip(state: i32) -> TcpState {
        match state {
            1 => TcpState::Listen,
            2 => TcpState::SynSent,
            3 => TcpState::SynReceived,
            4 => TcpState::Established,
            5 => TcpState::FinWait1,
            6 => TcpState::FinWait2,
            7 => TcpState::CloseWait,
            8 => TcpState::Closing,
            9 => TcpState::LastAck,
            10 => TcpState::TimeWait,
            _ => TcpState::Closed,
        }
    }
}

/// Options of a PCB set with lwIP's `ip_set_option`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PcbOption {
    KeepAlive,
    ReuseAddress,
}

impl PcbOption {
    fn code(self) -> i32 {
        (match self {
            PcbOption::KeepAlive => sys::LWIP_TAP_OPT_KEEPALIVE,
            PcbOption::ReuseAddress => sys::LWIP_TAP_OPT_REUSEADDR,
        }) as i32
    }
}

/// Keepalive timing: idle time before the first probe, time between
/// probes, probes before giving up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeepaliveTimes {
    pub idle_ms: u32,
    pub interval_ms: u32,
    pub count: u32,
}

/// A TCP PCB of lwIP's (see the module's documentation). Clones are the
/// same PCB.
#[derive(Clone)]
pub(crate) struct Tcp {
    inner: Rc<Inner>,
}

struct Inner {
    /// Null once the PCB is gone (freed by lwIP, or given up by us).
    pcb: Cell<*mut sys::tcp_pcb>,
    handler: RefCell<Option<Box<dyn TcpHandler>>>,
    /// `abort` was called while lwIP was calling back about this PCB: the
    /// callback must return ERR_ABRT.
    aborted: Cell<bool>,
    /// Shut for sending: lwIP may free the PCB silently (see the module's
    /// documentation).
    write_shut: Cell<bool>,
}

impl Tcp {
    /// A new PCB for IPv4 and IPv6.
    pub(crate) fn new() -> Result<Tcp, LwipError> {
        // SAFETY: allocation on lwIP's thread; the result is checked.
        let pcb = unsafe { sys::tcp_new_ip_type(sys::IPADDR_TYPE_ANY as u8) };
        if pcb.is_null() {
            return Err(LwipError::Memory);
        }
        let tcp = Tcp::adopt(pcb);
        tcp.install_callbacks();
        Ok(tcp)
    }

    /// Wraps a PCB lwIP made, giving lwIP its reference.
    fn adopt(pcb: *mut sys::tcp_pcb) -> Tcp {
        let inner = Rc::new(Inner {
            pcb: Cell::new(pcb),
            handler: RefCell::new(None),
            aborted: Cell::new(false),
            write_shut: Cell::new(false),
        });
        let arg = Rc::into_raw(Rc::clone(&inner)) as *mut c_void;
        // SAFETY: a live PCB; `arg` stays valid while lwIP holds it (its
        // reference is released only when lwIP lets go of the PCB).
        unsafe { sys::tcp_arg(pcb, arg) };
        Tcp { inner }
    }

    /// The callbacks of a PCB that is not listening.
    fn install_callbacks(&self) {
        let pcb = self.inner.pcb.get();
        // SAFETY: a live PCB that is not listening.
        unsafe {
            sys::tcp_recv(pcb, Some(on_recv));
            sys::tcp_sent(pcb, Some(on_sent));
            sys::tcp_err(pcb, Some(on_err));
        }
    }

    /// Events go to `handler` from now on.
    pub(crate) fn set_handler(&self, handler: impl TcpHandler + 'static) {
        *self.inner.handler.borrow_mut() = Some(Box::new(handler));
    }

    fn pcb(&self) -> Result<*mut sys::tcp_pcb, LwipError> {
        let pcb = self.inner.pcb.get();
        if pcb.is_null() {
            return Err(LwipError::Closed);
        }
        if self.inner.write_shut.get() {
            let arg = Rc::as_ptr(&self.inner) as *const c_void;
            // SAFETY: compares pointers only; `pcb` is not dereferenced.
            if unsafe { sys::lwip_tap_tcp_pcb_held(pcb, arg) } == 0 {
                // lwIP freed it at the end of TIME-WAIT, without a callback
                // and so without one to come: its reference is ours to drop.
                self.release();
                return Err(LwipError::Closed);
            }
        }
        Ok(pcb)
    }

    /// Whether lwIP still has the PCB (it has not been closed, aborted or
    /// lost).
    pub(crate) fn is_open(&self) -> bool {
        self.pcb().is_ok()
    }

    /// True if `other` is the same PCB.
    pub(crate) fn same(&self, other: &Tcp) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }

    pub(crate) fn bind(&self, addr: IpAddr, port: u16) -> Result<(), LwipError> {
        let pcb = self.pcb()?;
        let addr = any_or(addr);
        // SAFETY: a live PCB; lwIP copies the address.
        check(unsafe { sys::tcp_bind(pcb, &addr, port) })
    }

    /// Listens with a backlog of `backlog` connections (lwIP replaces the
    /// PCB with a smaller listening one; this keeps following it).
    pub(crate) fn listen(&self, backlog: u8) -> Result<(), LwipError> {
        let pcb = self.pcb()?;
        // SAFETY: a live PCB; on success lwIP frees it and returns the
        // listening PCB, which carries the same callback argument.
        let listener = unsafe { sys::tcp_listen_with_backlog(pcb, backlog) };
        if listener.is_null() {
            return Err(LwipError::Memory);
        }
        self.inner.pcb.set(listener);
        // SAFETY: a live listening PCB.
        unsafe { sys::tcp_accept(listener, Some(on_accept)) };
        Ok(())
    }

    /// Starts connecting; [`TcpHandler::connected`] follows.
    pub(crate) fn connect(&self, addr: IpAddr, port: u16) -> Result<(), LwipError> {
        let pcb = self.pcb()?;
        let addr = ip_addr(addr);
        // SAFETY: a live PCB; lwIP copies the address.
        check(unsafe { sys::tcp_connect(pcb, &addr, port, Some(on_connected)) })
    }

    /// Queues a copy of `data` for sending (it goes out with [`Self::output`]
    /// or when lwIP next sends). `more`: more data follows at once (no PSH).
    pub(crate) fn write(&self, data: &[u8], more: bool) -> Result<(), LwipError> {
        let pcb = self.pcb()?;
        let len = u16::try_from(data.len()).map_err(|_| LwipError::Value)?;
        let mut flags = sys::TCP_WRITE_FLAG_COPY as u8;
        if more {
            flags |= sys::TCP_WRITE_FLAG_MORE as u8;
        }
        // SAFETY: a live PCB; lwIP copies `data`.
        check(unsafe { sys::tcp_write(pcb, data.as_ptr().cast(), len, flags) })
    }

    /// Queues `data` for sending without copying it: lwIP keeps pointing
    /// into it until it is acknowledged, which a `'static` borrow allows.
    pub(crate) fn write_static(&self, data: &'static [u8]) -> Result<(), LwipError> {
        let pcb = self.pcb()?;
        let len = u16::try_from(data.len()).map_err(|_| LwipError::Value)?;
        // SAFETY: a live PCB; `data` lives for the whole program.
        check(unsafe { sys::tcp_write(pcb, data.as_ptr().cast(), len, 0) })
    }

    /// Sends what is queued, as far as the windows allow.
    pub(crate) fn output(&self) -> Result<(), LwipError> {
        let pcb = self.pcb()?;
        // SAFETY: a live PCB.
        check(unsafe { sys::tcp_output(pcb) })
    }

    /// Tells lwIP that `len` received bytes were taken: the window opens.
    pub(crate) fn recved(&self, len: usize) {
        if let Ok(pcb) = self.pcb() {
            for chunk in [u16::MAX as usize; 4].into_iter().scan(len, |left, max| {
                let n = (*left).min(max);
                *left -= n;
                (n > 0).then_some(n)
            }) {
                // SAFETY: a live PCB.
                unsafe { sys::tcp_recved(pcb, chunk as u16) };
            }
        }
    }

    /// Room in the send buffer, in bytes.
    pub(crate) fn sndbuf(&self) -> usize {
        // SAFETY: a live PCB.
        self.pcb()
            .map_or(0, |pcb| unsafe { sys::lwip_tap_tcp_sndbuf(pcb) } as usize)
    }

    /// Segments queued for sending.
    pub(crate) fn sndqueuelen(&self) -> usize {
        // SAFETY: a live PCB.
        self.pcb()
            .map_or(0, |pcb| unsafe { sys::lwip_tap_tcp_sndqueuelen(pcb) }
                as usize)
    }

    pub(crate) fn state(&self) -> TcpState {
        match self.pcb() {
            // SAFETY: a live PCB.
            Ok(pcb) => TcpState::from_lwip(unsafe { sys::lwip_tap_tcp_state(pcb) }),
            Err(_) => TcpState::Closed,
        }
    }

    /// The local and the remote address and port.
    pub(crate) fn endpoints(&self) -> Result<(SocketAddr, SocketAddr), LwipError> {
        let pcb = self.pcb()?;
        let (mut local, mut remote) = (sys::ip_addr_t::default(), sys::ip_addr_t::default());
        let (mut local_port, mut remote_port) = (0u16, 0u16);
        // SAFETY: a live PCB and writable addresses and ports.
        unsafe {
            sys::lwip_tap_tcp_endpoints(
                pcb,
                &mut local,
                &mut local_port,
                &mut remote,
                &mut remote_port,
            )
        };
        Ok((
            SocketAddr::new(from_ip_addr(&local), local_port),
            SocketAddr::new(from_ip_addr(&remote), remote_port),
        ))
    }

    /// The MSS lwIP sends with.
    pub(crate) fn mss(&self) -> Result<u16, LwipError> {
        let pcb = self.pcb()?;
        // SAFETY: a live PCB.
        Ok(unsafe { sys::lwip_tap_tcp_mss(pcb) })
    }

    /// Nagle's algorithm off (`true`) or on.
    pub(crate) fn set_nodelay(&self, on: bool) -> Result<(), LwipError> {
        let pcb = self.pcb()?;
        // SAFETY: a live PCB.
        unsafe { sys::lwip_tap_tcp_set_nodelay(pcb, i32::from(on)) };
        Ok(())
    }

    pub(crate) fn nodelay(&self) -> Result<bool, LwipError> {
        let pcb = self.pcb()?;
        // SAFETY: a live PCB.
        Ok(unsafe { sys::lwip_tap_tcp_nodelay(pcb) } != 0)
    }

    pub(crate) fn set_option(&self, option: PcbOption, on: bool) -> Result<(), LwipError> {
        let pcb = self.pcb()?;
        // SAFETY: a live PCB.
        unsafe { sys::lwip_tap_pcb_set_option(pcb, option.code(), i32::from(on)) };
        Ok(())
    }

    pub(crate) fn option(&self, option: PcbOption) -> Result<bool, LwipError> {
        let pcb = self.pcb()?;
        // SAFETY: a live PCB.
        Ok(unsafe { sys::lwip_tap_pcb_option(pcb, option.code()) } != 0)
    }

    pub(crate) fn set_keepalive_times(&self, times: KeepaliveTimes) -> Result<(), LwipError> {
        let pcb = self.pcb()?;
        // SAFETY: a live PCB.
        unsafe {
            sys::lwip_tap_tcp_set_keepalive_times(
                pcb,
                times.idle_ms,
                times.interval_ms,
                times.count,
            )
        };
        Ok(())
    }

    pub(crate) fn keepalive_times(&self) -> Result<KeepaliveTimes, LwipError> {
        let pcb = self.pcb()?;
        let mut times = KeepaliveTimes {
            idle_ms: 0,
            interval_ms: 0,
            count: 0,
        };
        // SAFETY: a live PCB and three writable words.
        unsafe {
            sys::lwip_tap_tcp_keepalive_times(
                pcb,
                &mut times.idle_ms,
                &mut times.interval_ms,
                &mut times.count,
            )
        };
        Ok(times)
    }

    /// lwIP's poll callback every `interval` ticks of its slow timer (half
    /// a second each).
    pub(crate) fn set_poll_interval(&self, interval: u8) -> Result<(), LwipError> {
        let pcb = self.pcb()?;
        // SAFETY: a live PCB that is not listening.
        unsafe { sys::tcp_poll(pcb, Some(on_poll), interval) };
        Ok(())
    }

    /// Keeps an accepted connection counted against its listener's backlog
    /// until [`Self::backlog_accepted`] (what lwIP's own sockets layer does
    /// between the connection and the application's `accept`).
    pub(crate) fn backlog_delayed(&self) {
        if let Ok(pcb) = self.pcb() {
            // SAFETY: a live PCB.
            unsafe { sys::tcp_backlog_delayed(pcb) };
        }
    }

    pub(crate) fn backlog_accepted(&self) {
        if let Ok(pcb) = self.pcb() {
            // SAFETY: a live PCB.
            unsafe { sys::tcp_backlog_accepted(pcb) };
        }
    }

    /// Stops sending: a FIN goes out after the queued data. Receiving goes
    /// on.
    pub(crate) fn shutdown_write(&self) -> Result<(), LwipError> {
        let pcb = self.pcb()?;
        // SAFETY: a live PCB. Only the sending side is shut: lwIP frees a
        // PCB whose receiving side is shut without calling back, which
        // `close` handles by letting go first. Past this, the PCB can also
        // end in TIME-WAIT and be freed silently: `write_shut` makes every
        // later use check that lwIP still has it.
        let result = check(unsafe { sys::tcp_shutdown(pcb, 0, 1) });
        if result.is_ok() {
            self.inner.write_shut.set(true);
        }
        result
    }

    /// Closes the connection (a FIN after the queued data) and lets go of
    /// the PCB: lwIP finishes the connection by itself, with no more
    /// events. On an error (lwIP had no memory for the FIN) the PCB stays.
    pub(crate) fn close(&self) -> Result<(), LwipError> {
        let pcb = self.pcb()?;
        self.detach(pcb);
        // SAFETY: a live PCB with no callbacks left; lwIP may free it at
        // once or later.
        let result = check(unsafe { sys::tcp_close(pcb) });
        match result {
            Ok(()) => self.release(),
            Err(_) => self.reattach(pcb),
        }
        result
    }

    /// [`close`](Tcp::close), or, when lwIP has no memory for the FIN,
    /// [`abort`](Tcp::abort): either way the PCB is let go. Nothing for a
    /// PCB already gone.
    pub(crate) fn close_or_abort(&self) {
        if self.close().is_err() {
            self.abort();
        }
    }

    /// Resets the connection (an RST) and lets go of the PCB, which lwIP
    /// frees at once.
    pub(crate) fn abort(&self) {
        let Ok(pcb) = self.pcb() else {
            return;
        };
        self.detach(pcb);
        self.inner.aborted.set(true);
        // SAFETY: a live PCB with no callbacks left; lwIP frees it.
        unsafe { sys::tcp_abort(pcb) };
        self.release();
    }

    /// Takes our callbacks off a PCB about to be given up (lwIP would
    /// otherwise call back about a PCB we no longer follow).
    fn detach(&self, pcb: *mut sys::tcp_pcb) {
        // SAFETY: a live PCB.
        unsafe {
            sys::tcp_arg(pcb, ptr::null_mut());
            if self.state() == TcpState::Listen {
                sys::tcp_accept(pcb, None);
            } else {
                sys::tcp_recv(pcb, None);
                sys::tcp_sent(pcb, None);
                sys::tcp_err(pcb, None);
                sys::tcp_poll(pcb, None, 0);
            }
        }
    }

    /// Undoes `detach` (the PCB stays ours).
    fn reattach(&self, pcb: *mut sys::tcp_pcb) {
        // SAFETY: a live PCB; lwIP's reference was not released.
        unsafe { sys::tcp_arg(pcb, Rc::as_ptr(&self.inner) as *mut c_void) };
        if self.state() == TcpState::Listen {
            // SAFETY: as above.
            unsafe { sys::tcp_accept(pcb, Some(on_accept)) };
        } else {
            self.install_callbacks();
        }
    }

    /// The PCB is no longer ours: drops lwIP's reference to our state.
    fn release(&self) {
        self.inner.pcb.set(ptr::null_mut());
        // SAFETY: lwIP's reference, made by `adopt` and not yet released
        // (the PCB was live until now, and no callback can come any more).
        unsafe { Rc::decrement_strong_count(Rc::as_ptr(&self.inner)) };
    }
}

/// `addr`, or lwIP's any-type address for an unspecified one (so that a
/// PCB bound to `0.0.0.0` or `::` takes both IPv4 and IPv6).
fn any_or(addr: IpAddr) -> sys::ip_addr_t {
    if addr.is_unspecified() {
        // SAFETY: lwIP's constant, only read.
        unsafe { sys::ip_addr_any_type }
    } else {
        ip_addr(addr)
    }
}

/// The `Tcp` a callback's argument stands for, without taking lwIP's
/// reference; `None` for a PCB we let go of.
///
/// # Safety
/// `arg` must be null or a callback argument made by `Tcp::adopt` whose
/// reference lwIP still holds.
unsafe fn tcp_of(arg: *mut c_void) -> Option<Tcp> {
    if arg.is_null() {
        return None;
    }
    let inner = arg as *const Inner;
    // SAFETY: lwIP's reference keeps it alive; this makes one more.
    unsafe {
        Rc::increment_strong_count(inner);
        Some(Tcp {
            inner: Rc::from_raw(inner),
        })
    }
}

/// Runs `event` with the PCB's handler (or the default one), and returns
/// what the callback returns to lwIP.
fn dispatch(tcp: &Tcp, event: impl FnOnce(&mut dyn TcpHandler, &Tcp)) -> sys::err_t {
    tcp.inner.aborted.set(false);
    let taken = tcp.inner.handler.borrow_mut().take();
    match taken {
        Some(mut handler) => {
            event(&mut *handler, tcp);
            let mut slot = tcp.inner.handler.borrow_mut();
            if slot.is_none() {
                *slot = Some(handler);
            }
        }
        None => event(&mut DefaultHandler, tcp),
    }
    if tcp.inner.aborted.take() {
        LwipError::Aborted.code()
    } else {
        OK
    }
}

/// What a PCB without a handler does: the trait's defaults.
struct DefaultHandler;

impl TcpHandler for DefaultHandler {}

unsafe extern "C" fn on_accept(
    arg: *mut c_void,
    newpcb: *mut sys::tcp_pcb,
    err: sys::err_t,
) -> sys::err_t {
    // SAFETY: the listener's argument, made by `adopt`.
    let Some(listener) = (unsafe { tcp_of(arg) }) else {
        return LwipError::Value.code();
    };
    if check(err).is_err() || newpcb.is_null() {
        // lwIP had no PCB for the connection; nothing to accept.
        return LwipError::Value.code();
    }
    let conn = Tcp::adopt(newpcb);
    conn.install_callbacks();
    conn.inner.aborted.set(false);
    dispatch(&listener, |handler, listener| {
        handler.accepted(listener, conn.clone());
    });
    if conn.inner.aborted.take() {
        // The handler aborted the new connection: lwIP must not touch it.
        LwipError::Aborted.code()
    } else {
        OK
    }
}

unsafe extern "C" fn on_connected(
    arg: *mut c_void,
    _pcb: *mut sys::tcp_pcb,
    _err: sys::err_t,
) -> sys::err_t {
    // SAFETY: our argument.
    match unsafe { tcp_of(arg) } {
        Some(tcp) => dispatch(&tcp, |handler, tcp| handler.connected(tcp)),
        None => OK,
    }
}

unsafe extern "C" fn on_recv(
    arg: *mut c_void,
    _pcb: *mut sys::tcp_pcb,
    p: *mut sys::pbuf,
    _err: sys::err_t,
) -> sys::err_t {
    // SAFETY: lwIP hands over the chain (ours now) or null for a FIN.
    let data = unsafe { Pbuf::from_raw(p) };
    // SAFETY: our argument.
    match unsafe { tcp_of(arg) } {
        Some(tcp) => dispatch(&tcp, |handler, tcp| handler.received(tcp, data)),
        None => OK,
    }
}

unsafe extern "C" fn on_sent(arg: *mut c_void, _pcb: *mut sys::tcp_pcb, len: u16) -> sys::err_t {
    // SAFETY: our argument.
    match unsafe { tcp_of(arg) } {
        Some(tcp) => dispatch(&tcp, |handler, tcp| handler.sent(tcp, len)),
        None => OK,
    }
}

unsafe extern "C" fn on_poll(arg: *mut c_void, _pcb: *mut sys::tcp_pcb) -> sys::err_t {
    // SAFETY: our argument.
    match unsafe { tcp_of(arg) } {
        Some(tcp) => dispatch(&tcp, |handler, tcp| handler.poll(tcp)),
        None => OK,
    }
}

/// The PCB is gone (lwIP freed it before calling): lwIP's reference is
/// released here.
unsafe extern "C" fn on_err(arg: *mut c_void, err: sys::err_t) {
    if arg.is_null() {
        return;
    }
    // SAFETY: lwIP's reference, which it gives up with this call.
    let inner = unsafe { Rc::from_raw(arg as *const Inner) };
    let tcp = Tcp { inner };
    tcp.inner.pcb.set(ptr::null_mut());
    let error = LwipError::from_code(err).unwrap_or(LwipError::Closed);
    dispatch(&tcp, |handler, _| handler.error(error));
}
