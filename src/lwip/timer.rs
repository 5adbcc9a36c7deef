//! lwIP's timers: one-shot timeouts that run Rust code ([`Timeout`]), and
//! what the event loop asks of lwIP's timer list.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::rc::Rc;
use std::time::Duration;

use crate::sys;

/// Runs lwIP's timers that are due (first removing the PCBs that were
/// dropped while lwIP was calling them back).
pub(crate) fn check_timeouts() {
    super::run_deferred();
    // SAFETY: lwIP's timer list, on lwIP's thread.
    unsafe { sys::sys_check_timeouts() };
}

/// How long until lwIP's next timer that has work (idle `mld6_tmr` and
/// `dhcp_fine_tmr` are passed over: lwip/timeouts_glue.c); `None` when no
/// timer is set.
pub(crate) fn next_busy_timer() -> Option<Duration> {
    // SAFETY: lwIP's timer list, on lwIP's thread.
    let sleep = unsafe { sys::lwip_tap_timeouts_sleeptime() };
    (sleep != sys::SYS_TIMEOUTS_SLEEPTIME_INFINITE).then(|| Duration::from_millis(u64::from(sleep)))
}

/// How long until lwIP's next timer, whatever it does (`None` when none is
/// set): a virtual clock advances exactly to it.
pub(crate) fn next_timer() -> Option<Duration> {
    // SAFETY: lwIP's timer list, on lwIP's thread.
    let sleep = unsafe { sys::sys_timeouts_sleeptime() };
    (sleep != sys::SYS_TIMEOUTS_SLEEPTIME_INFINITE).then(|| Duration::from_millis(u64::from(sleep)))
}

/// A one-shot lwIP timeout (`sys_timeout`) that runs a closure; cancelled
/// if dropped before it fires.
pub(crate) struct Timeout {
    inner: Rc<Inner>,
}

struct Inner {
    callback: RefCell<Option<Box<dyn FnOnce()>>>,
    /// lwIP holds a reference (the timeout's argument) while this is set.
    pending: Cell<bool>,
}

impl Timeout {
    /// Runs `callback` in `after` (lwIP's millisecond resolution), from
    /// `sys_check_timeouts`.
    pub(crate) fn schedule(after: Duration, callback: impl FnOnce() + 'static) -> Timeout {
        let inner = Rc::new(Inner {
            callback: RefCell::new(Some(Box::new(callback))),
            pending: Cell::new(true),
        });
        let arg = Rc::into_raw(Rc::clone(&inner)) as *mut c_void;
        let ms = u32::try_from(after.as_millis()).unwrap_or(u32::MAX);
        // SAFETY: lwIP's timer list on lwIP's thread; `arg` stays valid
        // while lwIP holds it (released when it fires or is cancelled).
        unsafe { sys::lwip_tap_timeout(ms, Some(fire), arg) };
        Timeout { inner }
    }

    /// Cancels it if it has not fired.
    pub(crate) fn cancel(&self) {
        if self.inner.pending.replace(false) {
            let arg = Rc::as_ptr(&self.inner) as *mut c_void;
            // SAFETY: lwIP holds exactly this timeout with this argument;
            // once it is removed, lwIP's reference is ours to release.
            unsafe {
                sys::lwip_tap_untimeout(Some(fire), arg);
                Rc::decrement_strong_count(Rc::as_ptr(&self.inner));
            }
        }
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        self.cancel();
    }
}

unsafe extern "C" fn fire(arg: *mut c_void) {
    // SAFETY: lwIP's reference, made by `schedule`, given up as it fires.
    let inner = unsafe { Rc::from_raw(arg as *const Inner) };
    inner.pending.set(false);
    let callback = inner.callback.borrow_mut().take();
    if let Some(callback) = callback {
        callback();
    }
}
