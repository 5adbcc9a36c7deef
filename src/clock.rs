//! The clock lwIP and the frame path read: the system's clocks, or a
//! virtual clock that moves only when the program says ([`Clock::Virtual`],
//! lwip-drill's), so that lwIP's timers fire at exact, repeatable times and
//! a minute of lwIP's time takes no time at all. The capture stage stamps
//! frames with it too: a virtual run's capture starts at the Unix epoch.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Which clock lwIP reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The system's monotonic clock.
    #[default]
    Monotonic,
    /// A clock that starts at zero and moves only when told to
    /// ([`Stack::advance_clock`](crate::stack::Stack::advance_clock)).
    Virtual,
}

static VIRTUAL: AtomicBool = AtomicBool::new(false);
/// The virtual clock's time, in microseconds.
static VIRTUAL_NOW: AtomicU64 = AtomicU64::new(0);

/// Makes the process read `clock` (set before lwIP starts).
pub(crate) fn set(clock: Clock) {
    VIRTUAL.store(clock == Clock::Virtual, Ordering::SeqCst);
}

/// Whether the virtual clock is in use.
pub(crate) fn is_virtual() -> bool {
    VIRTUAL.load(Ordering::SeqCst)
}

/// Moves the virtual clock to `time` (it never goes back).
pub(crate) fn advance_to(time: Duration) {
    VIRTUAL_NOW.fetch_max(time.as_micros() as u64, Ordering::SeqCst);
}

/// The time of the clock in use: since the virtual clock's start, or of
/// the monotonic clock (since some point in the past).
pub(crate) fn now() -> Duration {
    if is_virtual() {
        Duration::from_micros(VIRTUAL_NOW.load(Ordering::SeqCst))
    } else {
        monotonic()
    }
}

/// The wall-clock time for a timestamp (a capture's): the virtual clock
/// counts from the Unix epoch.
pub(crate) fn wall_time() -> Duration {
    if is_virtual() {
        now()
    } else {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
    }
}

fn monotonic() -> Duration {
    // Instant has no public epoch; one fixed at first use will do, since
    // lwIP's clock wraps anyway.
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}
