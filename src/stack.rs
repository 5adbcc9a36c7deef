//! lwIP's global state, the set of interfaces, and the one-thread event
//! loop: `ppoll` over every TAP with lwIP's next timer as the timeout, read
//! frames in bounded batches, then run lwIP's timers.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::cli::{Addressing, InterfaceSpec};
use crate::error::Error;
use crate::netif::Interface;
use crate::signals::Signals;
use crate::sys;
use crate::tap::TapDevice;

/// Frames read from one interface per wakeup, so that one busy interface
/// cannot starve the others.
const RECEIVE_BUDGET: usize = 64;

/// How long the loop keeps polling without sleeping after the last frame.
const BUSY_POLL: Duration = Duration::from_millis(2);

/// While busy-polling, one round in this many waits in ppoll (with a zero
/// timeout), which is where signals are let in.
const SIGNAL_CHECK_ROUNDS: u32 = 64;

/// How long the stack keeps running after releasing DHCP leases on exit.
const RELEASE_GRACE: Duration = Duration::from_millis(300);

static LWIP_STARTED: AtomicBool = AtomicBool::new(false);

/// lwIP and its interfaces. lwIP is a process-wide singleton, so there is
/// at most one `Stack` per process.
pub struct Stack {
    interfaces: Vec<Interface>,
}

impl Stack {
    /// Initialises lwIP. Fails if a stack already exists in this process.
    pub fn new() -> Result<Stack, Error> {
        if LWIP_STARTED.swap(true, Ordering::SeqCst) {
            return Err(Error::Lwip(
                "lwIP is already running in this process".into(),
            ));
        }
        // SAFETY: called once per process (guarded above), on this thread.
        unsafe { sys::lwip_init() };
        Ok(Stack {
            interfaces: Vec::new(),
        })
    }

    /// Opens the TAP for `spec` (attaching to `name=` or creating a transient
    /// one whose host side gets `gw`/`netmask`) and adds it to lwIP. The first
    /// interface added becomes lwIP's default. `offload` lets the kernel send
    /// 64 KiB segments without checksums; only for a stack that forwards
    /// nothing (one interface).
    pub fn add_interface(
        &mut self,
        spec: &InterfaceSpec,
        offload: bool,
    ) -> Result<&Interface, Error> {
        let tap = open_tap(spec)?;
        if let Some(mtu) = spec.mtu {
            tap.set_mtu(mtu)?;
        }
        let mut interface = Interface::add(tap, spec.addressing())?;
        if offload {
            interface.enable_offload()?;
        }
        if self.interfaces.is_empty() {
            interface.set_default();
        }
        log::info!("{}", interface.describe());
        self.interfaces.push(interface);
        Ok(self.interfaces.last().expect("just pushed"))
    }

    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    pub fn interfaces_mut(&mut self) -> &mut [Interface] {
        &mut self.interfaces
    }

    /// Adds an interface with no TAP behind it (for in-process tests and
    /// fuzzing): frames go in with [`Interface::inject`].
    pub fn add_detached_interface(
        &mut self,
        name: &str,
        mac: [u8; 6],
        mtu: u32,
        addressing: Addressing,
    ) -> Result<&mut Interface, Error> {
        let interface = Interface::add_detached(name, mac, mtu, addressing)?;
        if self.interfaces.is_empty() {
            interface.set_default();
        }
        self.interfaces.push(interface);
        Ok(self.interfaces.last_mut().expect("just pushed"))
    }

    /// Runs until a stop signal arrives or an interface fails.
    pub fn run(&mut self, signals: &Signals) -> Result<(), Error> {
        let mut fds = self.pollfds();
        let mut last_frame = Instant::now();
        let mut spins = 0u32;
        while !signals.stop_requested() {
            if signals.take_stats_request() {
                self.log_stats();
            }
            // Right after traffic, poll without sleeping for a moment: the
            // next frame of an exchange (a ping, a request) is then picked up
            // without the cost of a wakeup. While busy, most rounds just try
            // to read every TAP; every few rounds a zero-timeout ppoll lets
            // pending signals in.
            let busy = last_frame.elapsed() < BUSY_POLL;
            spins = if busy { spins.wrapping_add(1) } else { 0 };
            let frames = if busy && !spins.is_multiple_of(SIGNAL_CHECK_ROUNDS) {
                self.receive_all()?
            } else {
                let cap = busy.then_some(Duration::ZERO);
                self.turn(&mut fds, cap, Some(signals.wait_mask()))?
            };
            if frames > 0 {
                last_frame = Instant::now();
            } else if busy {
                // Nothing yet: let a client sharing this core run first.
                // SAFETY: sched_yield has no preconditions.
                unsafe { libc::sched_yield() };
            }
        }
        Ok(())
    }

    /// Releases DHCP leases and keeps the stack running briefly so the
    /// DHCPRELEASE messages (which may wait for ARP) get out.
    pub fn shutdown(&mut self) -> Result<(), Error> {
        let mut released = false;
        for interface in &mut self.interfaces {
            released |= interface.release_dhcp();
        }
        if released {
            let mut fds = self.pollfds();
            let deadline = Instant::now() + RELEASE_GRACE;
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                self.turn(&mut fds, Some(left), None)?;
            }
        }
        Ok(())
    }

    /// Reads a batch from every TAP without waiting, then runs lwIP's timers.
    fn receive_all(&mut self) -> Result<usize, Error> {
        let mut frames = 0;
        for interface in &mut self.interfaces {
            frames += interface.receive(RECEIVE_BUDGET)?;
        }
        self.check_timeouts();
        Ok(frames)
    }

    /// Runs lwIP's due timers, then logs DHCP news; the event loop does this
    /// after every round.
    pub fn check_timeouts(&mut self) {
        // SAFETY: lwIP runs on this thread only.
        unsafe { sys::sys_check_timeouts() };
        for interface in &mut self.interfaces {
            interface.watch_dhcp();
        }
    }

    fn pollfds(&self) -> Vec<libc::pollfd> {
        self.interfaces
            .iter()
            .map(|i| libc::pollfd {
                // poll(2) skips negative descriptors (detached interfaces).
                fd: i.device().map_or(-1, |tap| tap.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect()
    }

    /// One round of the loop: wait for frames or lwIP's next timer (at most
    /// `cap`), read a batch from every ready TAP, run lwIP's timers.
    /// `mask` is the signal mask to wait with (None: keep the current one).
    /// Returns how many frames were read.
    fn turn(
        &mut self,
        fds: &mut [libc::pollfd],
        cap: Option<Duration>,
        mask: Option<&libc::sigset_t>,
    ) -> Result<usize, Error> {
        let mut frames = 0;
        // SAFETY: lwIP runs on this thread only.
        let sleep = unsafe { sys::sys_timeouts_sleeptime() };
        let mut wait = (sleep != sys::SYS_TIMEOUTS_SLEEPTIME_INFINITE)
            .then(|| Duration::from_millis(u64::from(sleep)));
        if let Some(cap) = cap {
            wait = Some(wait.map_or(cap, |w| w.min(cap)));
        }
        let timeout = wait.map(|w| libc::timespec {
            tv_sec: w.as_secs() as libc::time_t,
            tv_nsec: libc::c_long::from(w.subsec_nanos() as i32),
        });
        let timeout_ptr = timeout.as_ref().map_or(std::ptr::null(), |t| t as *const _);
        let mask_ptr = mask.map_or(std::ptr::null(), |m| m as *const _);
        // SAFETY: `fds` is a valid array of pollfds; timeout and mask are
        // valid or null.
        let ready = unsafe {
            libc::ppoll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                timeout_ptr,
                mask_ptr,
            )
        };
        if ready < 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(Error::Io(format!("poll failed: {err}")));
            }
        } else if ready > 0 {
            for (fd, interface) in fds.iter().zip(self.interfaces.iter_mut()) {
                if fd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                    return Err(Error::Link {
                        name: interface.name().to_string(),
                        reason: "the device went away (deleted on the host?)".into(),
                    });
                }
                if fd.revents & libc::POLLIN != 0 {
                    frames += interface.receive(RECEIVE_BUDGET)?;
                }
            }
        }
        self.check_timeouts();
        Ok(frames)
    }

    /// Logs our frame counters and lwIP's memory, pbuf, PCB and protocol
    /// statistics.
    pub fn log_stats(&self) {
        for interface in &self.interfaces {
            let c = interface.counters();
            log::info!(
                "stats: {} rx {} tx {} rx-no-pbuf {} rx-oversize {} tx-errors {}",
                interface.name(),
                c.rx_frames,
                c.tx_frames,
                c.rx_no_buffer,
                c.rx_oversize,
                c.tx_errors
            );
        }
        crate::stats::log();
    }
}

fn open_tap(spec: &InterfaceSpec) -> Result<TapDevice, Error> {
    match &spec.name {
        Some(name) => {
            let tap = TapDevice::attach(name)?;
            if !tap.is_up()? {
                log::warn!(
                    "{name}: the host side is down; bring it up with `ip link set dev {name} up`"
                );
            }
            Ok(tap)
        }
        None => {
            let tap = TapDevice::create()?;
            match (spec.addressing(), spec.gw) {
                (Addressing::Static { netmask, .. }, Some(host)) => {
                    tap.configure_host(host, netmask)?;
                    log::info!(
                        "{}: transient TAP, host side {host}/{}",
                        tap.name(),
                        crate::cli::prefix_len(netmask)
                    );
                }
                // The parser refuses a transient TAP without addresses.
                _ => {
                    return Err(Error::Usage(
                        "a transient TAP needs addr=, netmask= and gw=".into(),
                    ))
                }
            }
            Ok(tap)
        }
    }
}
