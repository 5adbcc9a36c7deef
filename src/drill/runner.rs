//! Runs a parsed script against a [`Target`] (lwIP on its virtual clock,
//! or the Linux kernel on the real one): the timeline (absolute and
//! relative times, ranges, `*`, tolerance), the packets in and out, the
//! system calls (blocking ones included), shell commands, and the verdict,
//! with the first difference shown in the script's notation.
//!
//! Time follows packetdrill's rules: a relative time counts from when the
//! previous event happened (from the previous line's own time when both
//! are inbound packets); a time may be off by the tolerance, or by the
//! tolerance percentage of the time since the previous event if that is
//! more. Inbound packets and system calls happen on time (exactly, on
//! lwIP's virtual clock); an outbound packet must come within its window.
//! lwIP's clock jumps from one of its timers to the next: a script that
//! spans minutes runs in milliseconds, the same every time. Linux's is the
//! real clock.
//!
//! TCP timestamps follow packetdrill: the stack's TS val is not checked,
//! and a TS ecr on an inbound line that names a TS val the script wrote
//! on an outbound line is sent as the value the stack really sent there
//! (else shifted by the first such pair, else as written).
//!
//! Beyond packetdrill, a packet lwIP sends to the remote end that no line
//! expects is a failure (where packetdrill would only notice it if it got
//! in the way of the next expected packet).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use super::linux::LinuxTarget;
use super::packets::{self, Flow, Sent, REMOTE_ISN};
use super::script::{
    Action, Direction, Echoed, Event, EventTime, Expr, Packet, PacketBody, Script, Syscall,
};
use super::script::{TcpOption as ScriptOption, TcpOptions, TcpSpec};
use super::settings::Settings;
use super::settings::TargetKind;
use super::sockets::{
    Attempt, Call, Outcome, Progress, SockOpt, O_NONBLOCK, POLLERR, POLLHUP, POLLIN, POLLNVAL,
    POLLOUT,
};
use super::target::{LwipTarget, Target};
use super::Verdict;

/// How long the runner waits, in virtual time, for something with no end
/// to its wait (`*`, a blocking call without `...`).
const OPEN_WAIT: i64 = 3_600_000_000;

/// How long, in virtual time, a blocking call may go on returning after
/// the script's last line (packetdrill waits a second for it).
const END_WAIT: i64 = 1_000_000;

/// Linux's sendto() flag for a TCP Fast Open connect with data.
const MSG_FASTOPEN: i64 = 0x2000_0000;

/// The first port the runner's end uses for connections it opens.
const FIRST_REMOTE_PORT: u16 = 48_000;

/// Runs `script` on a fresh lwIP; `log` gets one line per event with
/// `verbose`, and the notes (shell commands skipped).
pub(crate) fn run(script: &Script, settings: &Settings, log: &mut Vec<String>) -> Verdict {
    let target: Box<dyn Target> = match settings.target {
        TargetKind::Lwip => match LwipTarget::start(&settings.addresses, settings.pcap.clone()) {
            Ok(target) => Box::new(target),
            Err(e) => {
                return Verdict::Fail {
                    line: 0,
                    message: format!("lwIP could not be set up: {e}"),
                }
            }
        },
        TargetKind::Linux => {
            let init = script
                .init_command
                .as_ref()
                .map(|c| (c.line, c.text.as_str()));
            match LinuxTarget::start(&settings.addresses, &settings.init_scripts, init) {
                Ok(target) => Box::new(target),
                Err((line, message)) => return Verdict::Fail { line, message },
            }
        }
    };
    let mut run = Run {
        target,
        settings,
        flows: Vec::new(),
        current: None,
        pending: None,
        previous: None,
        sent_at: None,
        last_scripted: 0,
        fds: BTreeMap::new(),
        timestamps: BTreeMap::new(),
        log,
    };
    let verdict = run.events(script);
    // The cleanup command runs whatever the verdict, as in packetdrill.
    match &script.cleanup_command {
        Some(command) => match run.target.shell(&command.text) {
            None => {
                run.note(command.line, "shell command");
                verdict
            }
            Some(Err(message)) if verdict.passed() => Verdict::Fail {
                line: command.line,
                message,
            },
            Some(_) => verdict,
        },
        None => verdict,
    }
}

/// A blocking system call in progress.
struct Pending {
    line: u32,
    call: Call,
    progress: Progress,
    syscall: Syscall,
    /// When it may return: the end time, with its tolerance.
    end: (i64, i64),
}

/// Why a run stops early.
enum Stop {
    Fail(u32, String),
    Skip(u32, String),
}

type Step<T = ()> = Result<T, Stop>;

/// The TS vals a flow's stack sent, as the script wrote them and as they
/// were (packetdrill's mapping for inbound TS ecr).
#[derive(Default)]
struct Timestamps {
    /// (script, live) for each outbound line with a TS val.
    seen: Vec<(u32, u32)>,
}

struct Run<'a> {
    target: Box<dyn Target>,
    settings: &'a Settings,
    flows: Vec<Flow>,
    /// The flow lines without explicit ports are about (the newest).
    current: Option<usize>,
    pending: Option<Pending>,
    /// The previous event: its scripted time and whether it was an inbound
    /// packet (consecutive inbound packets are timed from each other's
    /// scripted times).
    previous: Option<(i64, bool)>,
    /// When the stack sent the packet of the previous event, if that was
    /// an outbound packet: the next relative time counts from it, not from
    /// when the runner got to it (the same on lwIP's virtual clock; on
    /// Linux a busy machine would otherwise shift the script's times).
    sent_at: Option<i64>,
    /// The scripted time of the previous event, for the tolerance.
    last_scripted: i64,
    /// The script's descriptors and lwIP's: as in packetdrill, the value
    /// a script gives socket() or accept() names the new descriptor, and
    /// later calls use that name. A name never given is used as it is.
    fds: BTreeMap<i64, i32>,
    /// Per flow (local, remote): the stack's TS vals.
    timestamps: BTreeMap<(SocketAddr, SocketAddr), Timestamps>,
    log: &'a mut Vec<String>,
}

impl Run<'_> {
    fn events(&mut self, script: &Script) -> Verdict {
        let verdict = |stop| match stop {
            Stop::Fail(line, message) => Verdict::Fail { line, message },
            Stop::Skip(line, reason) => Verdict::Skipped { line, reason },
        };
        for event in &script.events {
            if let Err(stop) = self.event(event) {
                return verdict(stop);
            }
        }
        if let Some(pending) = &self.pending {
            // A blocking call may still return after the last line, as
            // packetdrill waits up to a second for it at the end.
            let (line, limit) = (
                pending.line,
                pending.end.1.min(self.target.now() + END_WAIT),
            );
            if let Err(stop) = self.advance_to(line, limit) {
                return verdict(stop);
            }
        }
        if let Some(pending) = &self.pending {
            return Verdict::Fail {
                line: pending.line,
                message: format!(
                    "{}() was still blocked when the script ended",
                    pending.syscall.name
                ),
            };
        }
        Verdict::Pass
    }

    fn note(&mut self, line: u32, what: &str) {
        self.log.push(format!(
            "skipped: {what} at line {line} (it tunes another OS)"
        ));
    }

    fn trace(&mut self, text: String) {
        if self.settings.verbose {
            self.log.push(text);
        }
    }

    /// The window an event's time allows, `(earliest, latest)` before
    /// tolerance, resolving relative times.
    fn window(&self, event: &Event, inbound: bool) -> (i64, i64) {
        let now = self.target.now();
        let anchor = match (self.previous, self.sent_at) {
            (Some((scripted, true)), _) if inbound => scripted,
            (_, Some(at)) => at,
            _ => now,
        };
        match event.time {
            EventTime::Absolute(t) => (t, t),
            EventTime::Relative(d) => (anchor + d, anchor + d),
            EventTime::AbsoluteRange(a, b) => (a, b),
            EventTime::RelativeRange(a, b) => (anchor + a, anchor + b),
            EventTime::Any => (now, i64::MAX),
        }
    }

    /// The tolerance for something scripted at `to`, timed from `from`:
    /// the tolerance, or its percentage of the time between, if more.
    fn tolerance(&self, from: i64, to: i64) -> i64 {
        let delta = (to - from).max(0) as f64;
        let dynamic = (self.settings.tolerance_percent / 100.0 * delta) as i64;
        self.settings.tolerance_usecs.max(dynamic)
    }

    fn event(&mut self, event: &Event) -> Step {
        let line = event.line;
        let inbound_packet =
            matches!(&event.action, Action::Packet(p) if p.direction == Direction::Inbound);
        let (lo, hi) = self.window(event, inbound_packet);
        let tolerance = self.tolerance(self.last_scripted, lo);
        let mut sent_at = None;
        match &event.action {
            Action::Unsupported { construct, .. } => {
                return Err(Stop::Skip(line, format!("unsupported {construct}")))
            }
            Action::Packet(packet) if packet.direction == Direction::Outbound => {
                sent_at = Some(self.expect(
                    line,
                    packet,
                    lo,
                    hi,
                    tolerance,
                    event.time == EventTime::Any,
                )?);
            }
            action => {
                self.advance_to(line, lo)?;
                self.no_unexpected(line, lo)?;
                match action {
                    Action::Packet(packet) => self.send(line, packet)?,
                    Action::Syscall(syscall) => self.syscall(line, syscall, lo, event)?,
                    Action::Command(command) => match self.target.shell(&command.text) {
                        None => self.note(line, "shell command"),
                        Some(Err(message)) => return Err(Stop::Fail(line, message)),
                        Some(Ok(())) => {
                            self.trace(format!("{} `{}`", seconds(self.target.now()), command.text))
                        }
                    },
                    Action::Code(_) => self.note(line, "%{ python }% block"),
                    Action::Unsupported { .. } => {}
                }
            }
        }
        self.previous = Some((lo, inbound_packet));
        self.sent_at = sent_at;
        self.last_scripted = lo;
        Ok(())
    }

    /// Lets time pass to `time`, completing a blocked call when it can.
    fn advance_to(&mut self, line: u32, time: i64) -> Step {
        loop {
            self.try_pending()?;
            let more = self.target.step(time).map_err(|e| Stop::Fail(line, e))?;
            if !more {
                self.try_pending()?;
                return Ok(());
            }
        }
    }

    /// Fails if lwIP sent the remote end a packet before `time` that no
    /// line expected.
    fn no_unexpected(&mut self, line: u32, time: i64) -> Step {
        let Some((at, packet)) = self.target.take_sent() else {
            return Ok(());
        };
        if at >= time {
            self.target.untake((at, packet));
            return Ok(());
        }
        let shown = match packets::read_sent(&packet) {
            Some(sent) => {
                let flow = self.flow_of_sent(&sent);
                format!("{}", packets::as_script_packet(&sent, &flow))
            }
            None => format!("{} bytes that are not IP", packet.len()),
        };
        Err(Stop::Fail(
            line,
            format!(
                "{} sent a packet no line expects before this one\n  actual:   {} {shown}",
                self.target.name(),
                seconds(at)
            ),
        ))
    }

    /// Tries the blocked call again; checks its result once it returns.
    fn try_pending(&mut self) -> Step {
        let Some(pending) = &mut self.pending else {
            return Ok(());
        };
        match self.target.call(&pending.call, &mut pending.progress) {
            Attempt::Blocked => Ok(()),
            Attempt::Done(outcome) => {
                let Some(pending) = self.pending.take() else {
                    return Ok(());
                };
                let now = self.target.now();
                let (earliest, latest) = pending.end;
                if now < earliest || now > latest {
                    return Err(Stop::Fail(
                        pending.line,
                        format!(
                            "{}() returned at {} but the script expects it at {}~{}",
                            pending.syscall.name,
                            seconds(now),
                            seconds(earliest.max(0)),
                            seconds(latest)
                        ),
                    ));
                }
                self.trace(format!("{} {}", seconds(now), pending.syscall));
                self.check_result(pending.line, &pending.syscall, &pending.call, &outcome)
            }
        }
    }

    /// An outbound packet line: the next packet lwIP sends must come in
    /// the window and match.
    fn expect(
        &mut self,
        line: u32,
        expected: &Packet,
        lo: i64,
        hi: i64,
        tolerance: i64,
        any: bool,
    ) -> Step<i64> {
        let deadline = if any {
            self.target.now().saturating_add(OPEN_WAIT)
        } else {
            hi.saturating_add(tolerance)
        };
        loop {
            self.try_pending()?;
            if let Some((at, bytes)) = self.target.take_sent() {
                let Some(sent) = packets::read_sent(&bytes) else {
                    return Err(Stop::Fail(
                        line,
                        format!("{} sent a packet that is not IP", self.target.name()),
                    ));
                };
                let mut flow = self.flow_of_sent(&sent);
                if let Some(seq) = packets::syn_seq(&sent) {
                    // The stack's ISN: its SYN's sequence number is the
                    // line's start.
                    if let PacketBody::Tcp(tcp) = &expected.body {
                        flow.local_offset = Some(seq.wrapping_sub(tcp.start));
                        self.update_flow(flow);
                    }
                }
                if let (Some(script), Some(live)) = (
                    packets::script_ts_val(expected),
                    packets::sent_ts_val(&sent),
                ) {
                    self.timestamps
                        .entry((flow.local, flow.remote))
                        .or_default()
                        .seen
                        .push((script, live));
                }
                let shown_actual = packets::as_script_packet(&sent, &flow);
                if !any && (at < lo - tolerance || at > hi.saturating_add(tolerance)) {
                    return Err(Stop::Fail(
                        line,
                        format!(
                            "the packet came at {} but the script expects it at {}{} (tolerance {})\n  expected: {} {expected}\n  actual:   {} {shown_actual}",
                            seconds(at),
                            seconds(lo),
                            if hi != lo { format!("~{}", seconds(hi)) } else { String::new() },
                            seconds(tolerance),
                            seconds(lo),
                            seconds(at)
                        ),
                    ));
                }
                if let Err(mismatch) = packets::check(&sent, &flow, expected) {
                    return Err(Stop::Fail(
                        line,
                        format!(
                            "{}\n  expected: {} {expected}\n  actual:   {} {}",
                            mismatch.what,
                            seconds(lo),
                            seconds(at),
                            mismatch.actual
                        ),
                    ));
                }
                self.trace(format!("{} {expected}", seconds(at)));
                return Ok(at);
            }
            if self.target.now() >= deadline {
                return Err(Stop::Fail(
                    line,
                    format!(
                        "the packet never came (waited until {})\n  expected: {} {expected}",
                        seconds(deadline),
                        seconds(lo)
                    ),
                ));
            }
            self.target
                .step(deadline)
                .map_err(|e| Stop::Fail(line, e))?;
        }
    }

    /// The flow a packet lwIP sent belongs to (one is made for a new
    /// connection lwIP opens).
    fn flow_of_sent(&mut self, sent: &Sent) -> Flow {
        if let Some(flow) = self
            .flows
            .iter()
            .find(|f| f.local == sent.src && f.remote == sent.dst)
        {
            let mut flow = *flow;
            if flow.local_offset.is_none() {
                // Shown relative to its own ISN until a line says otherwise.
                flow.local_offset = packets::syn_seq(sent);
            }
            return flow;
        }
        let udp = matches!(sent.body, packets::SentBody::Udp { .. });
        let flow = Flow {
            udp,
            local: sent.src,
            remote: sent.dst,
            remote_offset: None,
            local_offset: None,
        };
        if packets::is_syn_only(sent) || udp {
            self.flows.push(flow);
            self.current = Some(self.flows.len() - 1);
        }
        flow
    }

    fn update_flow(&mut self, flow: Flow) {
        if let Some(f) = self
            .flows
            .iter_mut()
            .find(|f| f.local == flow.local && f.remote == flow.remote)
        {
            *f = flow;
        }
    }

    /// The flow an inbound line is about: its explicit ports, a new
    /// connection for a SYN, else the newest flow.
    fn flow_for_inbound(&mut self, packet: &Packet) -> Flow {
        let local_ip = self.settings.addresses.local;
        let remote_ip = self.settings.addresses.remote;
        // An ICMP error is about the flow of the packet it quotes; one that
        // quotes none is about the newest flow.
        let udp = match &packet.body {
            PacketBody::Udp { .. } => true,
            PacketBody::Tcp(_) => false,
            PacketBody::Icmp(icmp) => match icmp.echoed {
                Some(Echoed::Udp { .. }) => true,
                Some(Echoed::Tcp { .. }) => false,
                _ => self.current.is_some_and(|i| self.flows[i].udp),
            },
        };
        let syn_only = matches!(&packet.body, PacketBody::Tcp(t) if t.flags.syn && !t.flags.ack);
        if let Some((src, dst)) = packet.ports {
            let (local, remote) = (
                SocketAddr::new(local_ip, dst),
                SocketAddr::new(remote_ip, src),
            );
            if let Some(i) = self
                .flows
                .iter()
                .position(|f| f.local == local && f.remote == remote)
            {
                self.current = Some(i);
                return self.flows[i];
            }
            return self.new_flow(udp, local, remote);
        }
        if !syn_only {
            if let Some(i) = self.current {
                if self.flows[i].udp == udp {
                    return self.flows[i];
                }
            }
            if let Some(i) = self.flows.iter().rposition(|f| f.udp == udp) {
                return self.flows[i];
            }
        }
        // A new connection (or datagram flow) to the newest listening
        // socket's port, or the script's bind port.
        let port = if udp {
            self.settings.bind_port
        } else {
            self.target
                .tcp_endpoints()
                .iter()
                .rev()
                .find(|e| e.listening)
                .map_or(self.settings.bind_port, |e| e.local.port())
        };
        let used = self.flows.iter().filter(|f| !f.udp).count() as u16;
        let remote_port = if udp {
            self.settings.connect_port
        } else {
            FIRST_REMOTE_PORT.wrapping_add(used)
        };
        self.new_flow(
            udp,
            SocketAddr::new(local_ip, port),
            SocketAddr::new(remote_ip, remote_port),
        )
    }

    fn new_flow(&mut self, udp: bool, local: SocketAddr, remote: SocketAddr) -> Flow {
        let flow = Flow {
            udp,
            local,
            remote,
            remote_offset: None,
            local_offset: None,
        };
        self.flows.push(flow);
        self.current = Some(self.flows.len() - 1);
        flow
    }

    /// An inbound packet line: made and handed to lwIP.
    fn send(&mut self, line: u32, packet: &Packet) -> Step {
        if !packet.outer.is_empty() {
            return Err(Stop::Skip(
                line,
                "unsupported outer IP header (IP in IP)".into(),
            ));
        }
        let mut flow = self.flow_for_inbound(packet);
        let built = match &packet.body {
            PacketBody::Tcp(tcp) => {
                if tcp.flags.syn && flow.remote_offset.is_none() {
                    // The script's ISN: its first SYN's start is the
                    // runner's ISN. A later SYN on the same ports keeps the
                    // numbering, so a script says where a new incarnation's
                    // ISN lies against the old one's.
                    flow.remote_offset = Some(REMOTE_ISN.wrapping_sub(tcp.start));
                    self.update_flow(flow);
                }
                if tcp.flags.ae {
                    return Err(Stop::Skip(line, "unsupported AccECN flag (A)".into()));
                }
                packets::build_tcp(&flow, &packet.ip, &self.with_live_ecr(&flow, tcp))
            }
            PacketBody::Udp { len } => packets::build_udp(&flow, &packet.ip, *len),
            PacketBody::Icmp(icmp) => packets::build_icmp(&flow, &packet.ip, icmp),
        };
        let bytes = built.map_err(|e| {
            if e.starts_with("unsupported") {
                Stop::Skip(line, e)
            } else {
                Stop::Fail(line, e)
            }
        })?;
        self.trace(format!("{} {packet}", seconds(self.target.now())));
        self.target
            .inject(&bytes)
            .map_err(|e| Stop::Fail(line, e))?;
        self.try_pending()
    }

    /// An inbound line with its TS ecr made the stack's: the TS val the
    /// stack sent where the script wrote that value (the latest), else
    /// shifted as the flow's first TS val was, else as written.
    fn with_live_ecr(&self, flow: &Flow, tcp: &TcpSpec) -> TcpSpec {
        let mut tcp = tcp.clone();
        let Some(stamps) = self.timestamps.get(&(flow.local, flow.remote)) else {
            return tcp;
        };
        if let (true, TcpOptions::List(list)) = (tcp.flags.ack, &mut tcp.options) {
            for option in list {
                if let ScriptOption::Timestamp { ecr, .. } = option {
                    *ecr = match stamps.seen.iter().rfind(|(s, _)| s == ecr) {
                        Some((_, live)) => *live,
                        None => stamps.seen.first().map_or(*ecr, |(script, live)| {
                            ecr.wrapping_sub(*script).wrapping_add(*live)
                        }),
                    };
                }
            }
        }
        tcp
    }

    fn syscall(&mut self, line: u32, syscall: &Syscall, at: i64, event: &Event) -> Step {
        let call = self.resolve(line, syscall)?;
        if self.pending.is_some() {
            return Err(Stop::Fail(
                line,
                format!(
                    "{}() while another blocking call is still in progress",
                    syscall.name
                ),
            ));
        }
        let mut progress = Progress::default();
        match self.target.call(&call, &mut progress) {
            Attempt::Done(outcome) => {
                if let Some(end) = syscall.end_time {
                    let end = Self::end_of(event, at, end);
                    let now = self.target.now();
                    if now + self.tolerance(at, end) < end {
                        return Err(Stop::Fail(
                            line,
                            format!(
                                "{}() returned at once ({}) but the script expects it to block until {}",
                                syscall.name,
                                seconds(now),
                                seconds(end)
                            ),
                        ));
                    }
                }
                self.trace(format!("{} {syscall}", seconds(at)));
                self.check_result(line, syscall, &call, &outcome)
            }
            Attempt::Blocked => match syscall.end_time {
                Some(end) => {
                    let end = Self::end_of(event, at, end);
                    // As packetdrill: the percentage counts from the
                    // call's own start (a call blocking 7 s may return
                    // 0.875 s late).
                    let tolerance = self.tolerance(at, end);
                    self.pending = Some(Pending {
                        line,
                        call,
                        progress,
                        syscall: syscall.clone(),
                        end: (end - tolerance, end.saturating_add(tolerance)),
                    });
                    Ok(())
                }
                None => {
                    // Blocks the script, as a blocking call without `...`
                    // blocks packetdrill: time passes, nothing else happens.
                    let limit = self.target.now() + OPEN_WAIT;
                    loop {
                        if !self.target.step(limit).map_err(|e| Stop::Fail(line, e))? {
                            return Err(Stop::Fail(
                                line,
                                format!(
                                    "{}() blocked and never returned (a blocking call the script does not mark with ...END)",
                                    syscall.name
                                ),
                            ));
                        }
                        if let Attempt::Done(outcome) = self.target.call(&call, &mut progress) {
                            self.trace(format!("{} {syscall}", seconds(self.target.now())));
                            return self.check_result(line, syscall, &call, &outcome);
                        }
                    }
                }
            },
        }
    }

    /// A blocking call's end time, resolved like its start (`at`: when
    /// the call started).
    fn end_of(event: &Event, at: i64, end: i64) -> i64 {
        match event.time {
            EventTime::Relative(d) | EventTime::RelativeRange(d, _) => at - d + end,
            _ => end,
        }
    }

    /// A system call line's arguments as a [`Call`]; a call or argument
    /// this runner cannot act out skips the script.
    fn resolve(&self, line: u32, syscall: &Syscall) -> Step<Call> {
        let args = &syscall.args;
        let unsupported = |what: String| Stop::Skip(line, format!("unsupported {what}"));
        let int = |index: usize| -> Step<i64> {
            args.get(index)
                .and_then(value)
                .ok_or_else(|| unsupported(format!("argument {} of {}()", index + 1, syscall.name)))
        };
        let fd = |index: usize| -> Step<i32> { int(index).map(|v| self.live_fd(v)) };
        let count = |index: usize| -> Step<usize> { int(index).map(|v| v.max(0) as usize) };
        let name = syscall.name.as_str();
        let call = match name {
            "socket" => {
                let kind = int(1)?;
                let base = kind & 0xf;
                let stream = match base {
                    1 => true,
                    2 => false,
                    _ => return Err(unsupported(format!("socket type {kind}"))),
                };
                if let Some(domain) = args.first().and_then(value) {
                    let family_ok = match self.settings.addresses.local {
                        IpAddr::V4(_) => domain == 2,
                        IpAddr::V6(_) => domain == 10,
                    };
                    if !family_ok {
                        return Err(unsupported(format!(
                            "socket domain {domain} for this IP version"
                        )));
                    }
                }
                Call::Socket {
                    stream,
                    nonblocking: kind & O_NONBLOCK != 0,
                }
            }
            "bind" => Call::Bind {
                fd: fd(0)?,
                addr: self
                    .sockaddr(
                        args.get(1),
                        self.settings.addresses.local,
                        self.settings.bind_port,
                    )
                    .ok_or_else(|| unsupported("address of bind()".into()))?,
            },
            "listen" => Call::Listen {
                fd: fd(0)?,
                backlog: int(1)?,
            },
            "accept" | "accept4" => Call::Accept { fd: fd(0)? },
            "connect" => Call::Connect {
                fd: fd(0)?,
                addr: self
                    .sockaddr(
                        args.get(1),
                        self.settings.addresses.remote,
                        self.settings.connect_port,
                    )
                    .ok_or_else(|| unsupported("address of connect()".into()))?,
            },
            "write" | "send" => Call::Write {
                fd: fd(0)?,
                len: count(2)?,
            },
            "sendto" => {
                if args.get(3).and_then(value).unwrap_or(0) & MSG_FASTOPEN != 0 {
                    return Err(unsupported(
                        "sendto() with MSG_FASTOPEN (TCP Fast Open)".into(),
                    ));
                }
                let to = match args.get(4) {
                    None | Some(Expr::Int(0)) | Some(Expr::Word(_)) => None,
                    Some(addr) => Some(
                        self.sockaddr(
                            Some(addr),
                            self.settings.addresses.remote,
                            self.settings.connect_port,
                        )
                        .ok_or_else(|| unsupported("address of sendto()".into()))?,
                    ),
                };
                match to {
                    Some(to) => Call::SendTo {
                        fd: fd(0)?,
                        len: count(2)?,
                        to,
                    },
                    None => Call::Write {
                        fd: fd(0)?,
                        len: count(2)?,
                    },
                }
            }
            "read" | "recv" | "recvfrom" => Call::Read {
                fd: fd(0)?,
                len: count(2)?,
            },
            "shutdown" => {
                let how = int(1)?;
                Call::Shutdown {
                    fd: fd(0)?,
                    read: how == 0 || how == 2,
                    write: how == 1 || how == 2,
                }
            }
            "close" => Call::Close { fd: fd(0)? },
            "setsockopt" | "getsockopt" => {
                // A level or option this runner has no number for is
                // named as one it cannot act out.
                let level = args.get(1).and_then(value);
                let option = args.get(2).and_then(value);
                let option = level
                    .zip(option)
                    .and_then(|(l, o)| sock_opt(l, o))
                    .ok_or_else(|| {
                        unsupported(format!(
                            "{name} option {}",
                            args.get(2).map_or(String::new(), |e| e.to_string())
                        ))
                    })?;
                if name == "getsockopt" {
                    Call::GetSockOpt { fd: fd(0)?, option }
                } else {
                    let (on, linger) = match args.get(3) {
                        Some(Expr::Struct(fields)) => (
                            field(fields, "onoff").unwrap_or(0),
                            field(fields, "linger").unwrap_or(0),
                        ),
                        Some(Expr::Array(items)) => (items.first().and_then(value).unwrap_or(0), 0),
                        Some(other) => (value(other).unwrap_or(0), 0),
                        None => (0, 0),
                    };
                    Call::SetSockOpt {
                        fd: fd(0)?,
                        option,
                        value: on,
                        linger,
                    }
                }
            }
            "fcntl" => {
                let command = int(1)?;
                match command {
                    3 => Call::GetFlags { fd: fd(0)? },
                    4 => Call::SetNonBlocking {
                        fd: fd(0)?,
                        on: int(2)? & O_NONBLOCK != 0,
                    },
                    _ => return Err(unsupported(format!("fcntl command {command}"))),
                }
            }
            "poll" => {
                let Some(Expr::Array(items)) = args.first() else {
                    return Err(unsupported("poll() without a pollfd array".into()));
                };
                let mut fds = Vec::new();
                for item in items {
                    let Expr::Struct(fields) = item else {
                        return Err(unsupported("poll() entry".into()));
                    };
                    fds.push((
                        field(fields, "fd").map_or(-1, |fd| self.live_fd(fd)),
                        field(fields, "events").unwrap_or(0) as i16,
                    ));
                }
                Call::Poll {
                    fds,
                    timeout_ms: int(2)?,
                }
            }
            other => return Err(unsupported(format!("system call {other}()"))),
        };
        Ok(call)
    }

    /// lwIP's descriptor for the script's `fd`.
    fn live_fd(&self, fd: i64) -> i32 {
        self.fds.get(&fd).copied().unwrap_or(fd as i32)
    }

    /// `...` (the script's address and port) or a sockaddr struct.
    fn sockaddr(&self, expr: Option<&Expr>, ip: IpAddr, port: u16) -> Option<SocketAddr> {
        match expr {
            None | Some(Expr::Ellipsis) => Some(SocketAddr::new(ip, port)),
            Some(Expr::Struct(fields)) => {
                let port = fields
                    .iter()
                    .find(|(n, _)| matches!(n.as_deref(), Some("sin_port" | "sin6_port")))
                    .and_then(|(_, e)| match e {
                        Expr::Call(f, args) if f == "htons" => args.first().and_then(value),
                        other => value(other),
                    })
                    .map_or(port, |p| p as u16);
                let addr = fields
                    .iter()
                    .find(|(n, _)| matches!(n.as_deref(), Some("sin_addr" | "sin6_addr")))
                    .map(|(_, e)| match e {
                        Expr::InetAddr(a) | Expr::Inet6Addr(a) => a.parse().ok(),
                        _ => None,
                    });
                let addr = match addr {
                    Some(Some(addr)) => addr,
                    Some(None) => return None,
                    None => ip,
                };
                Some(SocketAddr::new(addr, port))
            }
            Some(_) => None,
        }
    }

    /// Checks a call's outcome against the line's expected result (and
    /// errno, and what getsockopt and poll return through their
    /// arguments).
    fn check_result(
        &mut self,
        line: u32,
        syscall: &Syscall,
        call: &Call,
        outcome: &Outcome,
    ) -> Step {
        let expected = &syscall.result;
        // A new descriptor: the script's number names it (packetdrill
        // checks only that it is one).
        if let (Call::Socket { .. } | Call::Accept { .. }, Outcome::Value(live), Some(name)) =
            (call, outcome, value(expected).filter(|n| *n >= 0))
        {
            self.fds.insert(name, *live as i32);
            return Ok(());
        }
        let shown = |outcome: &Outcome| match outcome {
            Outcome::Value(v) | Outcome::Option(v, _) => {
                if matches!(outcome, Outcome::Option(..)) {
                    "0".to_string()
                } else {
                    v.to_string()
                }
            }
            Outcome::Failed(errno) => format!("-1 {errno}"),
            Outcome::Polled(n, _) => n.to_string(),
        };
        let fail = |detail: String| {
            Stop::Fail(
                line,
                format!(
                    "{}() returned {}, the script expects {}{}\n  expected: {syscall}",
                    syscall.name,
                    shown(outcome),
                    expected,
                    syscall
                        .errno
                        .as_deref()
                        .map_or(String::new(), |e| format!(" {e}"))
                ) + &detail,
            )
        };
        let returned = match outcome {
            Outcome::Value(v) => *v,
            Outcome::Option(..) => 0,
            Outcome::Polled(n, _) => *n,
            Outcome::Failed(_) => -1,
        };
        let value_ok = match expected {
            Expr::Ellipsis => true,
            other => value(other) == Some(returned),
        };
        if !value_ok {
            return Err(fail(String::new()));
        }
        match (outcome, syscall.errno.as_deref()) {
            (Outcome::Failed(errno), Some(name)) if !errno.is(name) => {
                return Err(fail(String::new()))
            }
            (Outcome::Failed(errno), None) if !matches!(expected, Expr::Ellipsis) => {
                return Err(fail(format!(" (errno {errno})")))
            }
            _ => {}
        }
        match (call, outcome) {
            (Call::GetSockOpt { option, .. }, Outcome::Option(v, l)) => {
                let ok = match syscall.args.get(3) {
                    Some(Expr::Array(items)) => items
                        .first()
                        .is_none_or(|e| matches!(e, Expr::Ellipsis) || value(e) == Some(*v)),
                    Some(Expr::Struct(fields)) if *option == SockOpt::Linger => {
                        field(fields, "onoff").is_none_or(|x| x == *v)
                            && field(fields, "linger").is_none_or(|x| x == *l)
                    }
                    _ => true,
                };
                if !ok {
                    return Err(Stop::Fail(
                        line,
                        format!(
                            "{}() gave the value {v}{}, the script expects {}\n  expected: {syscall}",
                            syscall.name,
                            if *option == SockOpt::Linger { format!(" (linger {l})") } else { String::new() },
                            syscall.args.get(3).map_or(String::new(), |e| e.to_string())
                        ),
                    ));
                }
            }
            (Call::Poll { .. }, Outcome::Polled(_, revents)) => {
                if let Some(Expr::Array(items)) = syscall.args.first() {
                    for (item, got) in items.iter().zip(revents) {
                        let Expr::Struct(fields) = item else { continue };
                        if let Some(want) = field(fields, "revents") {
                            if want != i64::from(*got) {
                                return Err(Stop::Fail(
                                    line,
                                    format!(
                                        "poll() reported revents {} for fd {}, the script expects {}\n  expected: {syscall}",
                                        poll_text(*got),
                                        field(fields, "fd").unwrap_or(-1),
                                        poll_text(want as i16)
                                    ),
                                ));
                            }
                        }
                    }
                }
            }
            (Call::Close { fd }, Outcome::Value(0)) => {
                let _ = fd;
            }
            _ => {}
        }
        Ok(())
    }
}

/// A `{name=value, ...}` field's value.
fn field(fields: &[(Option<String>, Expr)], name: &str) -> Option<i64> {
    fields
        .iter()
        .find(|(n, _)| n.as_deref() == Some(name))
        .and_then(|(_, e)| value(e))
}

/// An expression's integer value: numbers, the symbolic constants of the
/// calls this runner knows (Linux's values), and `|` of them.
fn value(expr: &Expr) -> Option<i64> {
    match expr {
        Expr::Int(v) => Some(*v),
        Expr::Or(items) => items.iter().try_fold(0, |acc, e| value(e).map(|v| acc | v)),
        Expr::Array(items) if items.len() == 1 => value(&items[0]),
        Expr::Call(f, args) if f == "htons" => args.first().and_then(value),
        Expr::Word(word) => constant(word),
        _ => None,
    }
}

/// Linux's values of the constants scripts use.
fn constant(word: &str) -> Option<i64> {
    Some(match word {
        "AF_INET" | "PF_INET" => 2,
        "AF_INET6" | "PF_INET6" => 10,
        "SOCK_STREAM" => 1,
        "SOCK_DGRAM" => 2,
        "SOCK_NONBLOCK" => O_NONBLOCK,
        "SOCK_CLOEXEC" => 0o2000000,
        "IPPROTO_IP" => 0,
        "IPPROTO_TCP" => 6,
        "IPPROTO_UDP" => 17,
        "IPPROTO_IPV6" => 41,
        "SOL_SOCKET" => 1,
        "SOL_TCP" => 6,
        "SO_REUSEADDR" => 2,
        "SO_ERROR" => 4,
        "SO_KEEPALIVE" => 9,
        "SO_LINGER" => 13,
        "SO_SNDBUF" => 7,
        "SO_RCVBUF" => 8,
        "SO_REUSEPORT" => 15,
        "TCP_NODELAY" => 1,
        "TCP_MAXSEG" => 2,
        "TCP_KEEPIDLE" => 4,
        "TCP_KEEPINTVL" => 5,
        "TCP_KEEPCNT" => 6,
        "F_GETFL" => 3,
        "F_SETFL" => 4,
        "O_RDONLY" => 0,
        "O_WRONLY" => 1,
        "O_RDWR" => 2,
        "O_NONBLOCK" => O_NONBLOCK,
        "POLLIN" => i64::from(POLLIN),
        "POLLPRI" => 0x002,
        "POLLOUT" => i64::from(POLLOUT),
        "POLLERR" => i64::from(POLLERR),
        "POLLHUP" => i64::from(POLLHUP),
        "POLLNVAL" => i64::from(POLLNVAL),
        "POLLRDNORM" => 0x040,
        "POLLWRNORM" => 0x100,
        "SHUT_RD" => 0,
        "SHUT_WR" => 1,
        "SHUT_RDWR" => 2,
        "MSG_DONTWAIT" => 0x40,
        "MSG_PEEK" => 0x02,
        "MSG_NOSIGNAL" => 0x4000,
        "MSG_ZEROCOPY" => 0x4000000,
        "MSG_FASTOPEN" => MSG_FASTOPEN,
        _ => return super::errno::linux_number(word),
    })
}

fn sock_opt(level: i64, option: i64) -> Option<SockOpt> {
    Some(match (level, option) {
        (1, 2) => SockOpt::ReuseAddr,
        (1, 4) => SockOpt::Error,
        (1, 9) => SockOpt::KeepAlive,
        (1, 13) => SockOpt::Linger,
        (6, 1) => SockOpt::NoDelay,
        (6, 4) => SockOpt::KeepIdle,
        (6, 5) => SockOpt::KeepInterval,
        (6, 6) => SockOpt::KeepCount,
        _ => return None,
    })
}

fn poll_text(revents: i16) -> String {
    let names = [
        (POLLIN, "POLLIN"),
        (POLLOUT, "POLLOUT"),
        (POLLERR, "POLLERR"),
        (POLLHUP, "POLLHUP"),
        (POLLNVAL, "POLLNVAL"),
    ];
    let set: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| revents & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if set.is_empty() {
        "0".into()
    } else {
        set.join("|")
    }
}

/// Microseconds as packetdrill shows times: seconds with six decimals.
pub(crate) fn seconds(us: i64) -> String {
    if us == i64::MAX {
        return "∞".into();
    }
    let mut text = String::new();
    let sign = if us < 0 { "-" } else { "" };
    let us = us.unsigned_abs();
    let _ = write!(text, "{sign}{}.{:06}", us / 1_000_000, us % 1_000_000);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names_are_constants_as_in_packetdrill() {
        let word = |w: &str| value(&Expr::Word(w.to_string()));
        assert_eq!(word("ECONNREFUSED"), Some(111));
        assert_eq!(word("ENOTCONN"), Some(107));
        assert_eq!(word("POLLIN"), Some(1));
        assert_eq!(word("NO_SUCH_NAME"), None);
    }
}
