//! The safe layer over lwIP: the only code that touches lwIP's memory.
//!
//! Everything above it (the driver, the apps, lwip-drill) calls these
//! types and functions, which are safe: lwIP's pointers stay inside them,
//! every lwIP return code becomes a [`Result`] in one place ([`check`]),
//! and the callbacks lwIP makes into Rust (`extern "C"`) are here too,
//! each turning lwIP's raw arguments back into these types.
//!
//! - [`pbuf`]: a pbuf chain, owned or borrowed, read and written in pieces;
//! - [`addr`]: lwIP's addresses and the standard library's;
//! - [`netif`]: an lwIP interface and the frames it sends;
//! - [`tcp`], [`udp`], [`raw`]: lwIP's raw API protocol control blocks,
//!   with their events delivered to a handler;
//! - [`timer`]: lwIP's one-shot timeouts, and the loop's timer functions;
//! - [`apps`]: lwIP's own applications (echo, httpd, lwiperf);
//! - [`dns`], [`sntp`]: lwIP's DNS and SNTP clients;
//! - [`tftp`], [`mqtt`], [`snmp`]: lwIP's TFTP server, MQTT client and
//!   SNMP agent;
//! - [`port`]: what lwIP's port asks of the operating system (clock,
//!   random numbers, diagnostics), with the virtual clock of lwip-drill;
//! - [`stats`], [`build`]: lwIP's statistics and build information.
//!
//! lwIP has no locking and one global state: every function here must be
//! called on the thread that runs lwIP, which [`Stack`](crate::stack::Stack)
//! guarantees by being neither `Send` nor `Sync`, and by being the only
//! way to start lwIP ([`init`] is crate-private and runs once).

pub(crate) mod addr;
pub(crate) mod apps;
pub(crate) mod build;
pub(crate) mod dns;
pub(crate) mod mqtt;
pub(crate) mod netif;
pub(crate) mod pbuf;
pub(crate) mod port;
pub(crate) mod raw;
pub(crate) mod snmp;
pub(crate) mod sntp;
pub(crate) mod stats;
pub(crate) mod tftp;
// lwip-drill's sockets use the parts of these the apps do not.
#[allow(dead_code)]
pub(crate) mod tcp;
pub(crate) mod timer;
#[allow(dead_code)]
pub(crate) mod udp;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::sys;

/// An error code of lwIP's (`err_t`), other than `ERR_OK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LwipError {
    /// `ERR_MEM`: out of memory.
    Memory,
    /// `ERR_BUF`: buffer error.
    Buffer,
    /// `ERR_TIMEOUT`.
    Timeout,
    /// `ERR_RTE`: no route.
    Route,
    /// `ERR_INPROGRESS`: the operation is under way.
    InProgress,
    /// `ERR_VAL`: an illegal value.
    Value,
    /// `ERR_WOULDBLOCK`: it would block.
    WouldBlock,
    /// `ERR_USE`: the address is in use.
    InUse,
    /// `ERR_ALREADY`: already connecting.
    Already,
    /// `ERR_ISCONN`: already connected.
    IsConnected,
    /// `ERR_CONN`: not connected.
    NotConnected,
    /// `ERR_IF`: a low-level interface error.
    Interface,
    /// `ERR_ABRT`: the connection was aborted.
    Aborted,
    /// `ERR_RST`: the connection was reset.
    Reset,
    /// `ERR_CLSD`: the connection is closed.
    Closed,
    /// `ERR_ARG`: an illegal argument.
    Argument,
    /// A value lwIP does not define.
    Other(i8),
}

impl LwipError {
    /// The error for `code`, `None` for `ERR_OK`.
    pub fn from_code(code: sys::err_t) -> Option<LwipError> {
        let code = i32::from(code);
        Some(match code {
            sys::ERR_OK => return None,
            sys::ERR_MEM => LwipError::Memory,
            sys::ERR_BUF => LwipError::Buffer,
            sys::ERR_TIMEOUT => LwipError::Timeout,
            sys::ERR_RTE => LwipError::Route,
            sys::ERR_INPROGRESS => LwipError::InProgress,
            sys::ERR_VAL => LwipError::Value,
            sys::ERR_WOULDBLOCK => LwipError::WouldBlock,
            sys::ERR_USE => LwipError::InUse,
            sys::ERR_ALREADY => LwipError::Already,
            sys::ERR_ISCONN => LwipError::IsConnected,
            sys::ERR_CONN => LwipError::NotConnected,
            sys::ERR_IF => LwipError::Interface,
            sys::ERR_ABRT => LwipError::Aborted,
            sys::ERR_RST => LwipError::Reset,
            sys::ERR_CLSD => LwipError::Closed,
            sys::ERR_ARG => LwipError::Argument,
            other => LwipError::Other(other as i8),
        })
    }

    /// The `err_t` value.
    pub fn code(self) -> sys::err_t {
        (match self {
            LwipError::Memory => sys::ERR_MEM,
            LwipError::Buffer => sys::ERR_BUF,
            LwipError::Timeout => sys::ERR_TIMEOUT,
            LwipError::Route => sys::ERR_RTE,
            LwipError::InProgress => sys::ERR_INPROGRESS,
            LwipError::Value => sys::ERR_VAL,
            LwipError::WouldBlock => sys::ERR_WOULDBLOCK,
            LwipError::InUse => sys::ERR_USE,
            LwipError::Already => sys::ERR_ALREADY,
            LwipError::IsConnected => sys::ERR_ISCONN,
            LwipError::NotConnected => sys::ERR_CONN,
            LwipError::Interface => sys::ERR_IF,
            LwipError::Aborted => sys::ERR_ABRT,
            LwipError::Reset => sys::ERR_RST,
            LwipError::Closed => sys::ERR_CLSD,
            LwipError::Argument => sys::ERR_ARG,
            LwipError::Other(code) => i32::from(code),
        }) as sys::err_t
    }

    /// lwIP's name for it, e.g. `ERR_RST`.
    pub fn name(self) -> &'static str {
        match self {
            LwipError::Memory => "ERR_MEM",
            LwipError::Buffer => "ERR_BUF",
            LwipError::Timeout => "ERR_TIMEOUT",
            LwipError::Route => "ERR_RTE",
            LwipError::InProgress => "ERR_INPROGRESS",
            LwipError::Value => "ERR_VAL",
            LwipError::WouldBlock => "ERR_WOULDBLOCK",
            LwipError::InUse => "ERR_USE",
            LwipError::Already => "ERR_ALREADY",
            LwipError::IsConnected => "ERR_ISCONN",
            LwipError::NotConnected => "ERR_CONN",
            LwipError::Interface => "ERR_IF",
            LwipError::Aborted => "ERR_ABRT",
            LwipError::Reset => "ERR_RST",
            LwipError::Closed => "ERR_CLSD",
            LwipError::Argument => "ERR_ARG",
            LwipError::Other(_) => "ERR_?",
        }
    }
}

impl fmt::Display for LwipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LwipError::Other(code) => write!(f, "lwIP error {code}"),
            other => f.write_str(other.name()),
        }
    }
}

impl std::error::Error for LwipError {}

/// `Ok` for `ERR_OK`, the error otherwise: every lwIP return code passes
/// through here.
pub(crate) fn check(code: sys::err_t) -> Result<(), LwipError> {
    match LwipError::from_code(code) {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

/// `ERR_OK`, for callbacks to return.
pub(crate) const OK: sys::err_t = sys::ERR_OK as sys::err_t;

/// The `err_t` a callback returns for `result`.
pub(crate) fn code_of(result: Result<(), LwipError>) -> sys::err_t {
    match result {
        Ok(()) => OK,
        Err(e) => e.code(),
    }
}

static STARTED: AtomicBool = AtomicBool::new(false);

/// Starts lwIP (`lwip_init`), once per process. False if it was started
/// already: lwIP's state is global and cannot be started again.
pub(crate) fn init() -> bool {
    if STARTED.swap(true, Ordering::SeqCst) {
        return false;
    }
    // SAFETY: runs once per process (guarded above), on the thread that
    // will run lwIP.
    unsafe { sys::lwip_init() };
    true
}

/// Whether lwIP can send to `dest` now: a route exists and the interface
/// it leaves by has an address (a DHCP lease, say).
pub(crate) fn ipv4_route_ready(dest: std::net::Ipv4Addr) -> bool {
    // SAFETY: reads lwIP's netif list on lwIP's thread; the address is
    // valid for the call.
    unsafe { sys::lwip_tap_ip4_route_ready(&addr::ip4(dest)) != 0 }
}

/// How many TCP connections lwIP has that are neither listening nor in
/// TIME-WAIT (connecting, open or closing).
pub(crate) fn tcp_open_connections() -> u32 {
    // SAFETY: reads lwIP's PCB lists on lwIP's thread.
    unsafe { sys::lwip_tap_tcp_open_connections() }
}

thread_local! {
    /// Work that had to wait until lwIP was out of a callback (see
    /// [`HandlerSlot::remove`]).
    static DEFERRED: RefCell<Vec<Box<dyn FnOnce()>>> = const { RefCell::new(Vec::new()) };
}

/// Does `work` once lwIP is out of the callback under way (the loop's
/// next run of lwIP's timers).
pub(crate) fn defer(work: impl FnOnce() + 'static) {
    DEFERRED.with_borrow_mut(|d| d.push(Box::new(work)));
}

/// Runs the work deferred until lwIP was out of its callbacks; the event
/// loop's next run of lwIP's timers does it first.
pub(crate) fn run_deferred() {
    let deferred = DEFERRED.with_borrow_mut(std::mem::take);
    for work in deferred {
        work();
    }
}

/// What lwIP's callback argument points to for a PCB we own (raw, UDP):
/// the handler its events go to. The handler is taken out while it runs,
/// so it may replace itself or drop the PCB; a PCB dropped from inside its
/// own callback is removed once lwIP is done with it (lwIP still touches
/// the PCB after the callback returns).
pub(crate) struct HandlerSlot<H: ?Sized> {
    handler: RefCell<Option<Box<H>>>,
    in_callback: Cell<bool>,
    removed: Cell<bool>,
}

impl<H: ?Sized + 'static> HandlerSlot<H> {
    pub(crate) fn new() -> Rc<HandlerSlot<H>> {
        Rc::new(HandlerSlot {
            handler: RefCell::new(None),
            in_callback: Cell::new(false),
            removed: Cell::new(false),
        })
    }

    pub(crate) fn set(&self, handler: Box<H>) {
        if let Ok(mut slot) = self.handler.try_borrow_mut() {
            *slot = Some(handler);
        }
    }

    /// Runs `f` with the handler; `None` when there is none (or the PCB
    /// was dropped).
    pub(crate) fn call<R>(&self, f: impl FnOnce(&mut H) -> R) -> Option<R> {
        let mut handler = self.handler.borrow_mut().take()?;
        let outer = self.in_callback.replace(true);
        let result = f(&mut handler);
        self.in_callback.set(outer);
        let mut slot = self.handler.borrow_mut();
        if slot.is_none() && !self.removed.get() {
            *slot = Some(handler);
        }
        Some(result)
    }

    /// The PCB is dropped: `remove` takes it out of lwIP, now, or once lwIP
    /// is out of the PCB's callback. Keeps the slot alive until then.
    pub(crate) fn remove(self: &Rc<Self>, remove: impl FnOnce() + 'static) {
        self.removed.set(true);
        if let Ok(mut handler) = self.handler.try_borrow_mut() {
            *handler = None;
        }
        if self.in_callback.get() {
            let keep = Rc::clone(self);
            DEFERRED.with_borrow_mut(|d| {
                d.push(Box::new(move || {
                    remove();
                    drop(keep);
                }))
            });
        } else {
            remove();
        }
    }

    /// The slot lwIP's argument points to, as a new reference.
    ///
    /// # Safety
    /// `arg` must come from `Rc::as_ptr` of a slot that is still alive.
    pub(crate) unsafe fn from_arg(arg: *mut std::ffi::c_void) -> Rc<HandlerSlot<H>> {
        let slot = arg as *const HandlerSlot<H>;
        // SAFETY: as the caller guarantees.
        unsafe {
            Rc::increment_strong_count(slot);
            Rc::from_raw(slot)
        }
    }
}
