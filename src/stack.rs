//! lwIP's global state, the set of interfaces, the services and clients,
//! and the one-thread event loop: `ppoll` over every device with lwIP's next timer
//! that has work (or an impaired device's next held frame) as the timeout, run
//! lwIP's due timers, read frames in bounded batches, then run the timers again.
//!
//! [`Stack::new`] is the only way to start lwIP, and the rules of
//! [`Config::validate`] are applied there, so a library caller gets the same
//! errors as the command line.

use std::io;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::apps::Clients;
use crate::clock;
use crate::config::{Config, Services, StatsFormat};
use crate::device::capture::CaptureFiles;
use crate::device::{self, InProcessPort};
use crate::error::Error;
use crate::lwip::timer;
use crate::netif::Interface;
use crate::ready::Readiness;
use crate::sandbox::{Directory, FileAccess};
use crate::signals::{self, Signals};

/// Frames read from one interface per wakeup, so that one busy interface
/// cannot starve the others.
const RECEIVE_BUDGET: usize = 64;

/// How long the loop keeps polling without sleeping after the last frame.
const BUSY_POLL: Duration = Duration::from_millis(2);

/// Polling instead of sleeping pays only when the next frame comes sooner
/// than a sleep and wakeup would take to notice it: by default the loop
/// polls after a frame only if it came this soon after the one before (a
/// TCP stream, a burst of requests), and sleeps between sparse frames (a
/// ping every few milliseconds, ARP and ND chatter on a shared bridge).
const BUSY_GAP: Duration = Duration::from_micros(200);

/// A stream of frames that come at a steady pace (ping at 1000/s, a
/// periodic sensor) has its period learnt from this many gaps in a row that
/// agree, after which the loop wakes just before each frame is due.
const RHYTHM_STEADY: u32 = 4;

/// The paces the loop learns: frames closer together than the shortest
/// are a burst (the busy-polling above takes those), and frames further
/// apart than the longest are not worth being awake for.
const RHYTHM_PERIODS: std::ops::RangeInclusive<Duration> =
    Duration::from_micros(200)..=Duration::from_millis(20);

/// How long before (and after) a frame is due the loop polls for it: twice
/// the jitter measured, at least the shortest and at most the longest
/// (which bounds the polling per frame).
const RHYTHM_LEAD_MIN: Duration = Duration::from_micros(15);
const RHYTHM_LEAD_MAX: Duration = Duration::from_micros(60);

/// How far ahead of its polling the loop asks to be woken at most (a
/// virtual machine's halted CPU takes up to this long to wake), and by how
/// much a frame that came before the loop was awake moves that earlier.
const RHYTHM_LATE_MAX: Duration = Duration::from_micros(100);
const RHYTHM_LATE_STEP: Duration = Duration::from_micros(10);

/// While busy-polling, one round in this many waits in ppoll (with a zero
/// timeout), which is where signals are let in.
const SIGNAL_CHECK_ROUNDS: u32 = 64;

/// How long the stack keeps running after releasing DHCP leases on exit.
const RELEASE_GRACE: Duration = Duration::from_millis(300);

/// How long a stack whose clients are done keeps running for its TCP
/// connections to close (the iperf client's last data and FIN).
const CLOSE_GRACE: Duration = Duration::from_secs(5);

static LWIP_STARTED: AtomicBool = AtomicBool::new(false);

/// The pace of the frames that come one at a time: the loop learns the
/// period of a steady stream and the jitter around it, so that it can be
/// awake, polling, when the next frame comes instead of paying a wakeup
/// for it (the latency of `--busy-poll` at a small fraction of its CPU).
#[derive(Debug, Default)]
struct Rhythm {
    /// When the last frame (or burst) came.
    last: Option<Instant>,
    period: Duration,
    /// How far the gaps stray from the period, on average.
    jitter: Duration,
    /// How long before polling for a frame the loop asks to be woken (a
    /// virtual machine's halted CPU takes up to 100 µs to wake), learnt
    /// from the frames it was and was not awake for.
    late: Duration,
    /// Gaps in a row that agreed with the period.
    steady: u32,
}

impl Rhythm {
    /// A round read frames at `now`.
    fn observe(&mut self, now: Instant) {
        let Some(last) = self.last else {
            self.last = Some(now);
            return;
        };
        let gap = now - last;
        if gap < *RHYTHM_PERIODS.start() {
            // Part of a burst (an answer right after a request, a TCP
            // stream): the pace is that of the bursts.
            return;
        }
        self.last = Some(now);
        let off = gap.abs_diff(self.period);
        if self.steady > 0 && off <= (self.period / 8).max(RHYTHM_LEAD_MAX) {
            self.period = (self.period * 7 + gap) / 8;
            self.jitter = (self.jitter * 3 + off) / 4;
            self.steady += 1;
        } else {
            self.period = gap;
            self.jitter = Duration::ZERO;
            self.steady = u32::from(RHYTHM_PERIODS.contains(&gap));
        }
    }

    /// The frame the loop woke up early for came: while it was polling
    /// for it (`caught`), or before the loop was awake. A miss asks for the
    /// wakeup earlier by a large step, a catch later by a small one, so
    /// that about one frame in ten is missed; a wakeup is never asked for
    /// more than [`RHYTHM_LATE_MAX`] ahead of the polling.
    fn came(&mut self, caught: bool) {
        self.late = if caught {
            self.late.saturating_sub(RHYTHM_LATE_STEP / 10)
        } else {
            (self.late + RHYTHM_LATE_STEP).min(RHYTHM_LATE_MAX)
        };
    }

    /// When to poll for the next frame of a steady stream, from until, and
    /// when to ask to be woken for it.
    fn window(&self) -> Option<(Instant, Instant, Instant)> {
        if self.steady < RHYTHM_STEADY {
            return None;
        }
        let due = self.last? + self.period;
        let lead = (self.jitter * 2).clamp(RHYTHM_LEAD_MIN, RHYTHM_LEAD_MAX);
        let from = due - lead;
        Some((from, due + lead, from - self.late))
    }
}

/// lwIP, its interfaces and services. lwIP is a process-wide singleton with
/// no locking, so there is at most one `Stack` per process, and it stays on
/// the thread that made it (it is neither `Send` nor `Sync`).
pub struct Stack {
    /// Dropped first: stopping a client still uses lwIP and its interfaces.
    clients: Clients,
    /// Whether `run` returns once the clients are done (no service keeps
    /// the stack running).
    stop_after_clients: bool,
    /// TCP connections still open [`CLOSE_GRACE`] after the clients were
    /// done: data an iperf client sent that was never acknowledged.
    unclosed: u32,
    interfaces: Vec<Interface>,
    /// The capture files, flushed within a second of a record, on SIGUSR1,
    /// with `--stats` and on exit.
    captures: CaptureFiles,
    /// Whether any interface holds frames back (impairment), so that the
    /// loop must wake up when they are due.
    impaired: bool,
    /// Poll after every frame, however sparse (`Config::busy_poll`).
    busy_poll: bool,
    stats_format: StatsFormat,
    /// Whether every address is usable and every service listens, and
    /// who to tell (`Config::ready`).
    ready: Readiness,
    /// The caller's side of each in-process interface.
    ports: Vec<Option<InProcessPort>>,
    /// The files the stack opens after setup (`--tftp`).
    files: Option<FileAccess>,
    _not_send: PhantomData<*mut ()>,
}

impl Stack {
    /// Checks `config`, starts lwIP, opens every device (creating transient
    /// TAPs), adds the interfaces (the first becomes lwIP's default) and
    /// starts the services. Fails if a stack already exists in this process.
    pub fn new(config: &Config) -> Result<Stack, Error> {
        config.validate()?;
        signals::fine_timer_slack();
        for overlap in config.overlaps() {
            log::warn!("{overlap}");
        }
        if LWIP_STARTED.swap(true, Ordering::SeqCst) {
            return Err(Error::Lwip {
                context: "lwIP is already running in this process".into(),
                source: None,
            });
        }
        // Before lwIP or any device, so that an unwritable path is refused
        // with nothing touched (and the stack can still be made).
        let captures =
            CaptureFiles::open(config.interfaces.iter().filter_map(|i| i.capture.as_ref()));
        let mut captures = captures.inspect_err(|_| LWIP_STARTED.store(false, Ordering::SeqCst))?;
        let ready = Readiness::open(&config.ready, config.services)
            .inspect_err(|_| LWIP_STARTED.store(false, Ordering::SeqCst))?;
        // The TFTP directory too: after this, files beneath it only.
        let tftp_dir = match &config.tftp {
            Some(tftp) => Some(
                Directory::open(&tftp.dir, tftp.write)
                    .inspect_err(|_| LWIP_STARTED.store(false, Ordering::SeqCst))?,
            ),
            None => None,
        };
        let impaired = config.interfaces.iter().any(|i| !i.impairments.is_none());
        let seed = config.seed.unwrap_or_else(crate::lwip::port::random_u64);
        if config.lwip_debug {
            crate::lwip::port::enable_lwip_debug();
        }
        clock::set(config.clock);
        crate::lwip::init();
        if impaired {
            log::info!("impairment seed {seed} (repeat this run with --seed {seed})");
        }
        let mut stack = Stack {
            clients: Clients::default(),
            stop_after_clients: config.stops_after_clients(),
            unclosed: 0,
            interfaces: Vec::with_capacity(config.interfaces.len()),
            captures: CaptureFiles::default(),
            impaired,
            busy_poll: config.busy_poll,
            stats_format: config.stats_format,
            ready,
            ports: Vec::with_capacity(config.interfaces.len()),
            files: None,
            _not_send: PhantomData,
        };
        for plan in config.plans(seed) {
            let mut opened = device::open(&plan, &mut captures)?;
            stack.ports.push(opened.port.take());
            let interface = Interface::add(opened, &plan)?;
            if plan.index == 0 {
                interface.set_default();
            }
            log::info!("{}", interface.describe());
            stack.interfaces.push(interface);
        }
        warn_if_short_of_mld_groups(config.interfaces.len());
        stack.captures = captures;
        for (index, &server) in config.dns_servers.iter().enumerate() {
            crate::lwip::dns::set_server(index, server);
        }
        if !config.dns_servers.is_empty() {
            let servers: Vec<String> = config.dns_servers.iter().map(|s| s.to_string()).collect();
            log::info!("dns: servers {}", servers.join(", "));
        }
        stack.start_services(config.services)?;
        if let Some(host) = &config.mdns {
            let services = crate::apps::mdns_services(config.services);
            for interface in &stack.interfaces {
                interface.start_mdns(host, &services)?;
            }
            log::info!(
                "mdns: answering for {host}.local on {} interface(s), {} service(s) announced",
                stack.interfaces.len(),
                services.len()
            );
        }
        if let (Some(dir), Some(tftp)) = (tftp_dir, &config.tftp) {
            stack.files = Some(dir.access());
            let shown = tftp.dir.display().to_string();
            crate::apps::tftp::start(dir, shown.clone(), tftp.write).map_err(|context| {
                Error::Lwip {
                    context,
                    source: None,
                }
            })?;
            let mode = if tftp.write {
                "read and write"
            } else {
                "read-only"
            };
            log::info!("tftp: UDP port 69, serving {shown} ({mode})");
        }
        if let Some(community) = &config.snmp {
            crate::apps::snmp::start(community).map_err(|context| Error::Lwip {
                context,
                source: None,
            })?;
            log::info!(
                "snmp: UDP port 161, MIB-2 over v1 and v2c, read-only; sysDescr '{}'",
                crate::apps::snmp::sysdescr()
            );
        }
        stack.clients = Clients::start(&config.clients);
        Ok(stack)
    }

    /// Whether every configured address is usable and every service
    /// listens (see docs/readiness.md); checked while [`Stack::run`] runs.
    pub fn is_ready(&self) -> bool {
        self.ready.is_ready()
    }

    /// What the sandbox must let this stack open after setup: the files
    /// beneath the `--tftp` directory, or nothing.
    pub fn file_access(&self) -> Option<FileAccess> {
        self.files
    }

    /// The interfaces, in the order they were configured.
    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    pub fn interfaces_mut(&mut self) -> &mut [Interface] {
        &mut self.interfaces
    }

    /// Starts the selected services on every interface. Each can be started
    /// once per process (lwIP keeps the listener for good).
    pub fn start_services(&mut self, services: Services) -> Result<(), Error> {
        crate::apps::start(services)
    }

    /// Runs until a stop signal arrives or an interface fails, or, for a
    /// stack with clients and no services, until the clients are done and
    /// their TCP connections closed (at most 5 s later).
    pub fn run(&mut self, signals: &Signals) -> Result<(), Error> {
        let mut fds = self.pollfds();
        let mut last_frame = Instant::now();
        // Between the last two rounds that read frames.
        let mut gap = Duration::MAX;
        let mut spins = 0u32;
        let mut rhythm = Rhythm::default();
        let mut clients_done: Option<Instant> = None;
        while !signals.stop_requested() {
            if self.stop_after_clients && self.clients.finished() {
                let since = *clients_done.get_or_insert_with(Instant::now);
                let open = crate::lwip::tcp_open_connections();
                if open == 0 {
                    break;
                }
                if since.elapsed() >= CLOSE_GRACE {
                    log::error!(
                        "{open} TCP connection(s) still open {} s after the clients finished: \
                         the data sent was not all acknowledged",
                        CLOSE_GRACE.as_secs()
                    );
                    self.unclosed = open;
                    break;
                }
            }
            if signals.take_stats_request() {
                self.log_stats();
            }
            // After every round: lwIP's timers and frames are what make
            // an address usable or bind a lease.
            self.ready.check(&self.interfaces);
            // Right after traffic that comes in quick succession (or after
            // any frame with busy_poll), poll without sleeping for a moment:
            // the next frame is then picked up without the cost of a wakeup.
            // While busy, most rounds just try to read every TAP; every few
            // rounds a zero-timeout ppoll lets pending signals in.
            let now = Instant::now();
            let since = now - last_frame;
            // A frame of a steady stream is due: poll for it from just
            // before until just after, and sleep until then.
            let expected = rhythm.window();
            let watching = expected.is_some_and(|(from, until, _)| from <= now && now < until);
            let busy = watching || since < BUSY_POLL && (self.busy_poll || gap < BUSY_GAP);
            spins = if busy { spins.wrapping_add(1) } else { 0 };
            let frames = if busy && !spins.is_multiple_of(SIGNAL_CHECK_ROUNDS) {
                self.receive_all()?
            } else {
                // A stack still not ready wakes up to say so.
                let warn = self
                    .ready
                    .next_due()
                    .map(|due| due.saturating_duration_since(now));
                let wake = expected
                    .filter(|(from, _, _)| *from > now)
                    .map(|(_, _, ask)| ask.saturating_duration_since(now));
                let cap = busy
                    .then_some(Duration::ZERO)
                    .or([warn, wake].into_iter().flatten().min());
                self.turn(&mut fds, cap, Some(signals))?
            };
            if frames > 0 {
                let now = Instant::now();
                gap = now - last_frame;
                last_frame = now;
                if expected.is_some() {
                    rhythm.came(watching);
                }
                rhythm.observe(now);
            } else if busy {
                // Nothing yet: let a client sharing this core run first.
                std::thread::yield_now();
            }
        }
        Ok(())
    }

    /// Ends the clients still running, releases DHCP leases and keeps the
    /// stack running briefly so the DHCPRELEASE messages (which may wait for
    /// ARP) get out.
    pub fn shutdown(&mut self) -> Result<(), Error> {
        self.ready.stopping();
        self.clients.stop();
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
        self.captures.flush();
        for file in self.captures.files() {
            log::info!("{}", file.summary());
        }
        Ok(())
    }

    /// Whether every client (`--ping`, `--iperf-client`) is over; true
    /// without clients.
    pub fn clients_finished(&self) -> bool {
        self.clients.finished()
    }

    /// Ok if every client succeeded (see [`ClientConfig`]); else an error
    /// naming those that failed or did not finish.
    ///
    /// [`ClientConfig`]: crate::config::ClientConfig
    /// Also an error if the stack stopped by itself with TCP connections
    /// that did not close (an iperf client whose data was not all
    /// acknowledged).
    pub fn clients_result(&self) -> Result<(), Error> {
        self.clients.result()?;
        if self.unclosed > 0 {
            return Err(Error::Clients(format!(
                "{} TCP connection(s) did not close within {} s after the clients finished: \
                 the peer did not acknowledge all the data",
                self.unclosed,
                CLOSE_GRACE.as_secs()
            )));
        }
        Ok(())
    }

    /// Reads a batch from every TAP without waiting, then runs lwIP's timers.
    fn receive_all(&mut self) -> Result<usize, Error> {
        let mut frames = 0;
        for interface in &mut self.interfaces {
            if self.impaired {
                send_due(interface)?;
            }
            frames += interface.receive(RECEIVE_BUDGET)?;
        }
        self.check_timeouts();
        self.flush();
        self.captures.flush_due();
        Ok(frames)
    }

    /// Writes what the devices' stages hold back to send together.
    fn flush(&self) {
        for interface in &self.interfaces {
            if let Err(e) = interface.frames().flush() {
                log::debug!("{}: writing to the device failed: {e}", interface.name());
            }
        }
    }

    /// Reads whatever frames are waiting on every device without sleeping,
    /// then runs lwIP's due timers (for in-process use: tests, fuzzing).
    /// Returns how many frames were read.
    pub fn poll(&mut self) -> Result<usize, Error> {
        self.receive_all()
    }

    /// Runs lwIP's due timers.
    fn check_timeouts(&mut self) {
        timer::check_timeouts();
    }

    /// Hands `frame` to lwIP through interface `index`'s in-process device
    /// and lets lwIP read it now, by the same receive path a TAP's frames
    /// take (lwIP's timers are not run). With `checksum_trusted` lwIP skips
    /// its checksum checks, as for a frame the kernel vouches for. Fails on
    /// an interface that has a TAP.
    pub fn inject(
        &mut self,
        index: usize,
        frame: &[u8],
        checksum_trusted: bool,
    ) -> Result<(), Error> {
        let port = self.in_process_port(index).ok_or_else(|| Error::Link {
            name: self
                .interfaces
                .get(index)
                .map_or_else(|| format!("interface {index}"), |i| i.name().to_string()),
            reason: "not an in-process interface".into(),
            source: None,
        })?;
        port.push(frame, checksum_trusted);
        self.interfaces[index].receive(1)?;
        Ok(())
    }

    /// The caller's side of interface `index`'s in-process device: where
    /// frames are handed to lwIP and collected from it. `None` for a TAP.
    pub fn in_process_port(&self, index: usize) -> Option<InProcessPort> {
        self.ports.get(index).cloned().flatten()
    }

    /// With [`Clock::Virtual`](crate::clock::Clock::Virtual): moves lwIP's clock to `time` (since the
    /// stack started) and runs every lwIP timer due by then, each at its
    /// own time, reading the in-process devices after each. Returns how
    /// many frames were read. Without the virtual clock it does nothing.
    pub fn advance_clock(&mut self, time: Duration) -> Result<usize, Error> {
        if !clock::is_virtual() {
            return Ok(0);
        }
        let mut frames = 0;
        while let Some(next) = self.next_timer() {
            if next > time {
                break;
            }
            clock::advance_to(next);
            frames += self.receive_all()?;
        }
        clock::advance_to(time);
        frames += self.receive_all()?;
        Ok(frames)
    }

    /// When lwIP's next timer falls due, on the clock lwIP reads (since the
    /// virtual clock's start, with [`Clock::Virtual`](crate::clock::Clock::Virtual)); `None` when no timer
    /// is set.
    pub fn next_timer(&self) -> Option<Duration> {
        let now = clock::now();
        // lwIP counts in milliseconds: a timer is due at the start of its
        // millisecond.
        let millis = Duration::from_millis(now.as_millis() as u64);
        timer::next_timer().map(|wait| millis + wait)
    }

    /// The time on the clock lwIP reads.
    pub fn now(&self) -> Duration {
        clock::now()
    }

    fn pollfds(&self) -> Vec<libc::pollfd> {
        self.interfaces
            .iter()
            .map(|i| libc::pollfd {
                // poll(2) skips negative descriptors (in-process devices).
                fd: i.fd().unwrap_or(-1),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect()
    }

    /// One round of the loop: wait for frames or lwIP's next timer (at most
    /// `cap`), run lwIP's due timers, read a batch from every ready TAP, run
    /// the timers again.
    /// `signals` are let in while it waits (None: the signal mask stays).
    /// Returns how many frames were read.
    fn turn(
        &mut self,
        fds: &mut [libc::pollfd],
        cap: Option<Duration>,
        signals: Option<&Signals>,
    ) -> Result<usize, Error> {
        let mut frames = 0;
        // lwIP's next timer that has work: an idle mld6_tmr or dhcp_fine_tmr
        // is slept past (lwip/timeouts_glue.c).
        let timer = timer::next_busy_timer();
        // An impaired device's next held frame is a deadline too.
        let held = self
            .impaired
            .then(|| {
                let now = Instant::now();
                self.interfaces
                    .iter()
                    .filter_map(|i| i.frames().next_due())
                    .min()
                    .map(|due| due.saturating_duration_since(now))
            })
            .flatten();
        // Capture records waiting in memory are written within a second.
        let capture = self
            .captures
            .next_due()
            .map(|due| due.saturating_duration_since(Instant::now()));
        // The soonest of lwIP's next timer, the caller's cap, a held frame
        // and a capture write.
        let wait = [timer, cap, held, capture].into_iter().flatten().min();
        let ready = signals::wait(fds, wait, signals);
        // Timers first, then frames. A tick slept past is overdue now and
        // must run, as the no-op it is, before a frame (an MLD query, a DHCP
        // reply) can give it work: stock lwIP ran that tick before the frame
        // came, so it must not count the new work down. An overdue cyclic
        // timer is rescheduled at now + interval (lwip_cyclic_timer), which
        // shifts its grid. That phase shift is the only difference from
        // stock lwIP, and harmless: stock lwIP's phase is arbitrary too (it
        // starts at lwip_init), and new work still sees its first tick
        // within one interval.
        self.check_timeouts();
        let ready = match ready {
            Ok(ready) => ready,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => 0,
            Err(err) => return Err(Error::io("poll failed", err)),
        };
        if ready > 0 {
            for (fd, interface) in fds.iter().zip(self.interfaces.iter_mut()) {
                if fd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                    return Err(Error::Link {
                        name: interface.name().to_string(),
                        reason: "the device went away (deleted on the host?)".into(),
                        source: None,
                    });
                }
                if fd.revents & libc::POLLIN != 0 {
                    frames += interface.receive(RECEIVE_BUDGET)?;
                }
            }
        }
        if self.impaired {
            // Held frames fall due without their descriptor becoming
            // readable.
            let now = Instant::now();
            for interface in &mut self.interfaces {
                if interface.frames().next_due().is_some_and(|due| due <= now) {
                    send_due(interface)?;
                    frames += interface.receive(RECEIVE_BUDGET)?;
                }
            }
        }
        self.check_timeouts();
        self.flush();
        self.captures.flush_due();
        Ok(frames)
    }

    /// Writes out what the capture files hold, then reports our frame
    /// counters, the capture, impairment and merge stages' counters, and
    /// lwIP's memory, pbuf, PCB and protocol statistics: as log lines
    /// ([`StatsFormat::Text`], pools and protocols with only zeros left
    /// out), or as one line of JSON on standard output
    /// ([`StatsFormat::Json`], see [`Stack::stats_json`]).
    pub fn log_stats(&self) {
        self.captures.flush();
        if self.stats_format == StatsFormat::Json {
            use std::io::Write;
            let line = self.stats_json().to_string() + "\n";
            let mut out = io::stdout().lock();
            if let Err(e) = out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
                log::warn!("cannot write the statistics to standard output: {e}");
            }
            return;
        }
        for interface in &self.interfaces {
            let c = interface.counters();
            log::info!(
                "stats: {} rx {} tx {} rx-no-pbuf {} rx-oversize {} tx-errors {} rx-padded {} \
                 tx-ip-checksum-filled {} rx-super {} tx-super {} rx-checksum-completed {}",
                interface.name(),
                c.rx_frames,
                c.tx_frames,
                c.rx_no_buffer,
                c.rx_oversize,
                c.tx_errors,
                c.rx_padded,
                c.tx_ip_checksum_filled,
                c.rx_superframes,
                c.tx_superframes,
                c.rx_checksums_completed
            );
            let mut stages = Vec::new();
            interface.frames().stage_stats(&mut stages);
            for stage in stages {
                log::info!("stats: {} {}", interface.name(), stage.line);
            }
        }
        crate::stats::log();
    }

    /// Every counter as JSON: `{"interfaces": {"tap0": {"rx": …, "tx": …,
    /// …, "pcap": {…}, "impair": {"in": {…}, "out": {…}}, "merge": {…}}},
    /// "pools": {"HEAP": {"used": …, "max": …, "avail": …, "err": …}, …},
    /// "protocols": {"ICMP": {"xmit": …, "recv": …, …}, …}}` (the stage
    /// keys only where the stage is on).
    pub fn stats_json(&self) -> serde_json::Value {
        let mut interfaces = serde_json::Map::new();
        for interface in &self.interfaces {
            let c = interface.counters();
            let mut value = serde_json::json!({
                "rx": c.rx_frames,
                "tx": c.tx_frames,
                "rx_no_pbuf": c.rx_no_buffer,
                "rx_oversize": c.rx_oversize,
                "tx_errors": c.tx_errors,
                "rx_padded": c.rx_padded,
                "tx_ip_checksum_filled": c.tx_ip_checksum_filled,
                "rx_super": c.rx_superframes,
                "tx_super": c.tx_superframes,
                "rx_checksum_completed": c.rx_checksums_completed,
            });
            let mut stages = Vec::new();
            interface.frames().stage_stats(&mut stages);
            for stage in stages {
                value[stage.key] = stage.json;
            }
            interfaces.insert(interface.name().to_string(), value);
        }
        let mut all = crate::stats::json();
        all.insert("interfaces".into(), serde_json::Value::Object(interfaces));
        serde_json::Value::Object(all)
    }

    /// Use of lwIP's heap and every memory pool now.
    pub fn pools(&self) -> Vec<crate::stats::PoolUse> {
        crate::stats::pools()
    }

    /// Asks lwIP's DNS client for `name`'s AAAA record (`ipv6`) or A
    /// record, from the servers of [`Config::dns_servers`] (or a DHCP
    /// lease's). With `fresh`, lwIP's cached answers are forgotten first, so
    /// that the query goes to a server (the DNS fuzz target keeps a query
    /// pending this way).
    pub fn resolve(&mut self, name: &str, ipv6: bool, fresh: bool) -> Result<DnsLookup, Error> {
        use crate::lwip::dns::{self, Family, Lookup, ResolveError};
        if fresh {
            dns::forget_answers();
        }
        let result = std::rc::Rc::new(std::cell::RefCell::new(None));
        let slot = std::rc::Rc::clone(&result);
        let family = if ipv6 { Family::V6 } else { Family::V4 };
        let found = move |r: Result<std::net::IpAddr, dns::Failure>| {
            *slot.borrow_mut() = Some(r.map_err(|f| f.to_string()));
        };
        let query = match dns::resolve(name, family, found) {
            Ok(Lookup::Done(addr)) => {
                *result.borrow_mut() = Some(Ok(addr));
                None
            }
            Ok(Lookup::Asking(query)) => Some(query),
            Err(ResolveError::Failed(failure)) => {
                *result.borrow_mut() = Some(Err(failure.to_string()));
                None
            }
            Err(e @ ResolveError::Lwip(source)) => {
                return Err(Error::Lwip {
                    context: format!("resolve {name}: {e}"),
                    source: Some(source),
                })
            }
        };
        Ok(DnsLookup {
            result,
            _query: query,
        })
    }
}

/// A DNS query of [`Stack::resolve`]; lwIP's answer is forgotten if it is
/// dropped first.
pub struct DnsLookup {
    result: std::rc::Rc<std::cell::RefCell<Option<Result<std::net::IpAddr, String>>>>,
    _query: Option<crate::lwip::dns::Query>,
}

impl DnsLookup {
    /// The address found, or why none was (NXDOMAIN, no answer...); `None`
    /// while lwIP is still asking.
    pub fn result(&self) -> Option<Result<std::net::IpAddr, String>> {
        self.result.borrow().clone()
    }
}

/// Every IPv6 address needs its solicited-node multicast group, or lwIP
/// ignores the neighbor solicitations for it: warn when lwIP's group pool
/// cannot hold every address slot of every interface.
fn warn_if_short_of_mld_groups(interfaces: usize) {
    let (slots, groups) = (
        crate::lwip::port::ipv6_address_slots(),
        crate::lwip::port::mld6_groups(),
    );
    if interfaces * slots > groups {
        log::warn!(
            "{interfaces} interfaces with {slots} IPv6 address slots each may need more than \
             lwIP's {groups} multicast groups (MEMP_NUM_MLD6_GROUP); an address whose group \
             cannot be joined does not answer neighbor solicitations"
        );
    }
}

/// Sends the frames an interface's impairment held back that are due.
fn send_due(interface: &Interface) -> Result<(), Error> {
    interface
        .frames()
        .send_due()
        .map_err(|e| Error::link(interface.name(), "writing to the device failed", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fed(start: Instant, gaps_us: &[u64]) -> Rhythm {
        let mut rhythm = Rhythm::default();
        let mut at = start;
        rhythm.observe(at);
        for gap in gaps_us {
            at += Duration::from_micros(*gap);
            rhythm.observe(at);
        }
        rhythm
    }

    #[test]
    fn a_steady_stream_is_expected_just_before_its_next_frame() {
        let start = Instant::now();
        let rhythm = fed(start, &[1000, 1010, 990, 1000, 1005]);
        let (from, until, ask) = rhythm.window().expect("steady");
        let due = start + Duration::from_micros(5005 + 1000);
        assert!(from < due && due < until, "{rhythm:?}");
        assert!(until - from <= RHYTHM_LEAD_MAX * 2);
        assert_eq!(ask, from, "nothing learnt about waking up yet");
    }

    #[test]
    fn a_frame_that_came_before_the_loop_was_awake_moves_its_wakeups_earlier() {
        let start = Instant::now();
        let mut rhythm = fed(start, &[1000; 6]);
        rhythm.came(false);
        rhythm.came(false);
        let (from, _, ask) = rhythm.window().unwrap();
        assert_eq!(from - ask, RHYTHM_LATE_STEP * 2);
        rhythm.came(true);
        let (from, _, ask) = rhythm.window().unwrap();
        assert!(from - ask < RHYTHM_LATE_STEP * 2);
        for _ in 0..100 {
            rhythm.came(false);
        }
        let (from, _, ask) = rhythm.window().unwrap();
        assert_eq!(from - ask, RHYTHM_LATE_MAX);
    }

    #[test]
    fn bursts_count_as_one_frame_and_irregular_or_slow_frames_are_not_expected() {
        let start = Instant::now();
        // Requests every 2 ms, each followed by an answer 30 µs later.
        let paired = fed(start, &[2000, 30, 1970, 30, 1970, 30, 1970, 30, 1970]);
        assert!(paired.window().is_some(), "{paired:?}");
        assert!(fed(start, &[1000, 3000, 500, 2000, 1000])
            .window()
            .is_none());
        assert!(fed(start, &[50_000; 8]).window().is_none(), "too slow");
        assert!(
            fed(start, &[1000, 1000, 1000]).window().is_none(),
            "too few"
        );
    }
}
