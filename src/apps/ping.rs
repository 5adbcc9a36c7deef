//! `--ping`: ICMP echo requests from lwIP, in Rust over lwIP's raw API (a
//! raw PCB for ICMP, lwIP's timers for the pacing). contrib's ping app is
//! built for one fixed target pinged forever, from a thread or with its
//! sockets; this one sends a count of requests, logs each round trip and a
//! summary with the loss, and ends.
//!
//! A reply counts when it comes from the target with our identifier, its
//! checksum is right and its data is what was sent; anything else with our
//! identifier is logged and not counted. ICMP errors about our requests
//! (destination unreachable, time exceeded) are logged with the router that
//! sent them. Other ICMP is left to lwIP.

use std::cell::{Cell, RefCell};
use std::net::{IpAddr, Ipv4Addr};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use crate::lwip::raw::RawPcb;
use crate::lwip::timer::Timeout;
use crate::wire::builder;
use crate::wire::checksum;
use crate::wire::icmp::{v4, IcmpMessage};
use crate::wire::ipv4::Ipv4Header;
use crate::wire::IpProtocol;

/// The data of every request: 56 bytes as ping(8) sends, marked so that a
/// capture shows where they came from.
const PAYLOAD_LEN: usize = 56;
const ECHO_LEN: usize = 8 + PAYLOAD_LEN;
static PAYLOAD: [u8; PAYLOAD_LEN] = payload();

const fn payload() -> [u8; PAYLOAD_LEN] {
    let mut out = [0u8; PAYLOAD_LEN];
    let mark = *b"lwip-tap";
    let mut i = 0;
    while i < PAYLOAD_LEN {
        out[i] = if i < mark.len() { mark[i] } else { i as u8 };
        i += 1;
    }
    out
}

/// How long the last reply is waited for: this, or twice the longest
/// round trip seen, whichever is longer (like ping(8)).
const LAST_REPLY_WAIT: Duration = Duration::from_secs(2);

/// As much of a received packet as is read: the longest IPv4 header, an
/// ICMP error header and the request it quotes (another IPv4 header and 8
/// bytes), with room to spare.
const READ_LEN: usize = 256;

pub(crate) struct Ping {
    target: Ipv4Addr,
    count: u32,
    interval: Duration,
    id: u16,
    /// The raw PCB while requests go out and replies are awaited.
    pcb: RefCell<Option<RawPcb>>,
    /// The next request, or the end of the wait for the last replies.
    timer: RefCell<Option<Timeout>>,
    /// When each request went out (request n at index n - 1).
    sent: RefCell<Vec<Instant>>,
    answered: RefCell<Vec<bool>>,
    round_trips: RefCell<Vec<Duration>>,
    duplicates: Cell<u32>,
    outcome: Cell<Option<bool>>,
}

impl Ping {
    /// `id` is the ICMP identifier of its requests.
    pub(crate) fn new(target: Ipv4Addr, count: u32, interval: Duration, id: u16) -> Ping {
        Ping {
            target,
            count,
            interval,
            id,
            pcb: RefCell::new(None),
            timer: RefCell::new(None),
            sent: RefCell::default(),
            answered: RefCell::default(),
            round_trips: RefCell::default(),
            duplicates: Cell::new(0),
            outcome: Cell::new(None),
        }
    }

    pub(crate) fn label(&self) -> String {
        format!("ping {}", self.target)
    }

    /// Whether it succeeded (at least one reply), once it is over.
    pub(crate) fn outcome(&self) -> Option<bool> {
        self.outcome.get()
    }

    /// Opens the raw PCB and sends the first request.
    pub(crate) fn begin(self: &Rc<Self>) {
        let pcb = match RawPcb::new(u8::from(IpProtocol::Icmp)) {
            Ok(pcb) => pcb,
            Err(_) => {
                log::error!("{}: no raw PCB available", self.label());
                self.outcome.set(Some(false));
                return;
            }
        };
        let ping = Rc::downgrade(self);
        pcb.set_handler(move |packet| {
            // Takes ICMP that concerns our requests, leaves the rest to lwIP.
            let Some(ping) = ping.upgrade() else {
                return false;
            };
            let mut buffer = [0u8; READ_LEN];
            let len = packet.copy_out(0, &mut buffer);
            match parse(&buffer[..len], ping.target, ping.id) {
                Some(what) => {
                    ping.take(what);
                    true
                }
                None => false,
            }
        });
        *self.pcb.borrow_mut() = Some(pcb);
        log::info!(
            "{}: {} echo requests of {ECHO_LEN} bytes, {} s apart",
            self.label(),
            self.count,
            self.interval.as_secs_f64()
        );
        Ping::send_next(self);
    }

    /// Ends it now (a stop signal): the summary of what came back so far.
    pub(crate) fn stop(&self) {
        if self.pcb.borrow().is_some() {
            self.finish();
        } else if self.outcome.get().is_none() {
            self.outcome.set(Some(false));
        }
    }

    /// Sends the next request, then waits for the one after it or, after
    /// the last, for the last replies.
    fn send_next(self: &Rc<Self>) {
        let n = self.sent.borrow().len() + 1;
        let message = echo_request(self.id, n as u16);
        let sent = match self.pcb.borrow().as_ref() {
            Some(pcb) => pcb.send_to(&message, IpAddr::V4(self.target)),
            None => return,
        };
        if let Err(e) = sent {
            log::warn!("{}: seq {n}: not sent ({e})", self.label());
        }
        self.sent.borrow_mut().push(Instant::now());
        self.answered.borrow_mut().push(false);
        let last = n >= self.count as usize;
        let wait = if last {
            let longest = self.round_trips.borrow().iter().max().copied();
            LAST_REPLY_WAIT.max(longest.unwrap_or_default() * 2)
        } else {
            self.interval
        };
        let ping: Weak<Ping> = Rc::downgrade(self);
        let timer = Timeout::schedule(wait.max(Duration::from_millis(1)), move || {
            if let Some(ping) = ping.upgrade() {
                if last {
                    ping.finish();
                } else {
                    Ping::send_next(&ping);
                }
            }
        });
        *self.timer.borrow_mut() = Some(timer);
    }

    /// A packet with our identifier came in.
    fn take(&self, received: Received) {
        if self.outcome.get().is_some() {
            return;
        }
        let label = self.label();
        let (seq, reply) = match received {
            Received::Reply { seq, ttl, intact } => (seq, Some((ttl, intact))),
            Received::Error { seq, .. } => (seq, None),
        };
        // The request that sequence number stands for: the latest one that
        // had it (it wraps after 65535).
        let sent = self.sent.borrow().len();
        let back = usize::from((sent as u16).wrapping_sub(seq));
        let Some(n) = sent.checked_sub(back).filter(|n| *n > 0) else {
            log::warn!("{label}: seq {seq}: answer to a request never sent");
            return;
        };
        let Some((ttl, intact)) = reply else {
            if let Received::Error { what, from, .. } = received {
                log::warn!("{label}: seq {seq}: {what} (from {from})");
            }
            return;
        };
        if !intact {
            log::warn!("{label}: seq {seq}: reply with a wrong checksum or altered data");
            return;
        }
        if std::mem::replace(&mut self.answered.borrow_mut()[n - 1], true) {
            self.duplicates.set(self.duplicates.get() + 1);
            log::info!("{label}: seq {seq}: duplicate reply");
            return;
        }
        let round_trip = self.sent.borrow()[n - 1].elapsed();
        self.round_trips.borrow_mut().push(round_trip);
        log::info!(
            "{label}: seq {seq}: reply in {:.3} ms, ttl {ttl}",
            millis(round_trip)
        );
        let all_in = sent == self.count as usize && self.answered.borrow().iter().all(|a| *a);
        if all_in {
            self.finish();
        }
    }

    /// Closes the raw PCB and logs the summary.
    fn finish(&self) {
        // (A borrow in use means lwIP called back while we were sending;
        // the PCB then goes with the Ping.)
        if let Ok(mut timer) = self.timer.try_borrow_mut() {
            timer.take();
        }
        if let Ok(mut pcb) = self.pcb.try_borrow_mut() {
            pcb.take();
        }
        let sent = self.sent.borrow().len();
        let round_trips = self.round_trips.borrow();
        let received = round_trips.len();
        let mut line = format!(
            "{}: {sent} sent, {received} received, {} loss",
            self.label(),
            loss(sent, received)
        );
        if let (Some(min), Some(max)) = (round_trips.iter().min(), round_trips.iter().max()) {
            let avg = round_trips.iter().sum::<Duration>() / received as u32;
            line += &format!(
                ", rtt min/avg/max {:.3}/{:.3}/{:.3} ms",
                millis(*min),
                millis(avg),
                millis(*max)
            );
        }
        if self.duplicates.get() > 0 {
            line += &format!(", {} duplicates", self.duplicates.get());
        }
        let missing: Vec<String> = (1..=sent)
            .filter(|n| !self.answered.borrow()[n - 1])
            .map(|n| (n as u16).to_string())
            .collect();
        if !missing.is_empty() {
            let shown = missing.len().min(10);
            line += &format!(", no reply to seq {}", missing[..shown].join(", "));
            if missing.len() > shown {
                line += ", …";
            }
        }
        if received > 0 {
            log::info!("{line}");
        } else {
            log::error!("{line}");
        }
        self.outcome.set(Some(received > 0));
    }
}

/// What came back for one of our requests.
#[derive(Debug, PartialEq, Eq)]
enum Received {
    /// An echo reply from the target; `intact` if its checksum is right and
    /// it carries the data that was sent.
    Reply { seq: u16, ttl: u8, intact: bool },
    /// An ICMP error quoting one of our requests.
    Error {
        seq: u16,
        what: String,
        from: Ipv4Addr,
    },
}

/// An echo request: type 8, code 0, checksum, identifier, sequence number,
/// the payload.
fn echo_request(id: u16, seq: u16) -> Vec<u8> {
    let rest = (u32::from(id) << 16) | u32::from(seq);
    let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    builder::icmp(any, any, v4::ECHO_REQUEST, 0, rest, &PAYLOAD)
}

/// Reads an IPv4 packet (from its header on, as lwIP's raw API hands it
/// over, possibly cut at [`READ_LEN`]): an echo reply from `target`, or an
/// ICMP error about a request to it, with identifier `id`.
fn parse(packet: &[u8], target: Ipv4Addr, id: u16) -> Option<Received> {
    let ip = Ipv4Header::new_checked(packet).ok()?;
    if ip.protocol() != IpProtocol::Icmp {
        return None;
    }
    let icmp = IcmpMessage::new_checked(ip.payload()).ok()?;
    match icmp.msg_type() {
        v4::ECHO_REPLY if ip.src() == target && icmp.echo_id() == id => {
            let intact = icmp.code() == 0
                && icmp.as_bytes().len() == ECHO_LEN
                && checksum::verifies(icmp.as_bytes())
                && icmp.data() == PAYLOAD;
            Some(Received::Reply {
                seq: icmp.echo_seq(),
                ttl: ip.ttl(),
                intact,
            })
        }
        kind @ (v4::DEST_UNREACHABLE | v4::TIME_EXCEEDED) => {
            // The error quotes the request's IP header and 8 bytes of it.
            let quoted = Ipv4Header::new_checked(icmp.data()).ok()?;
            let request = IcmpMessage::new_checked(quoted.payload()).ok()?;
            if quoted.protocol() != IpProtocol::Icmp
                || quoted.dst() != target
                || request.msg_type() != v4::ECHO_REQUEST
                || request.echo_id() != id
            {
                return None;
            }
            Some(Received::Error {
                seq: request.echo_seq(),
                what: icmp_error(kind, icmp.code()),
                from: ip.src(),
            })
        }
        _ => None,
    }
}

fn icmp_error(kind: u8, code: u8) -> String {
    match (kind, code) {
        (v4::TIME_EXCEEDED, _) => "time to live exceeded".into(),
        (_, 0) => "network unreachable".into(),
        (_, 1) => "host unreachable".into(),
        (_, 2) => "protocol unreachable".into(),
        (_, 3) => "port unreachable".into(),
        (_, 4) => "fragmentation needed".into(),
        (_, 13) => "communication administratively prohibited".into(),
        (_, code) => format!("destination unreachable (code {code})"),
    }
}

/// The share of requests that got no reply, as ping(8) shows it: `0%`,
/// `20%`, `33.3%`.
fn loss(sent: usize, received: usize) -> String {
    if sent == 0 {
        return "0%".into();
    }
    let percent = (sent - received.min(sent)) as f64 * 100.0 / sent as f64;
    let text = format!("{percent:.1}");
    format!("{}%", text.strip_suffix(".0").unwrap_or(&text))
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    const ROUTER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    /// An IPv4 packet from `src` to `dst` carrying `payload`.
    fn packet(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
        let total = (20 + payload.len()) as u16;
        let mut p = vec![0x45, 0];
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0, 61, proto, 0, 0]);
        p.extend_from_slice(&src.octets());
        p.extend_from_slice(&dst.octets());
        p.extend_from_slice(payload);
        p
    }

    /// The reply a host makes to `request`.
    fn reply_to(request: &[u8]) -> Vec<u8> {
        let mut reply = request.to_vec();
        reply[0] = v4::ECHO_REPLY;
        reply[2..4].copy_from_slice(&[0, 0]);
        let checksum = checksum::internet_checksum(&reply);
        reply[2..4].copy_from_slice(&checksum.to_be_bytes());
        reply
    }

    #[test]
    fn a_request_carries_its_identifier_sequence_and_checksum() {
        let request = echo_request(0x1234, 7);
        assert_eq!(request[0], 8);
        assert_eq!(&request[4..8], &[0x12, 0x34, 0, 7]);
        assert_eq!(checksum::internet_checksum(&request), 0, "it verifies");
        assert_eq!(&request[8..16], b"lwip-tap");
    }

    #[test]
    fn a_reply_from_the_target_counts_and_others_do_not() {
        let reply = reply_to(&echo_request(0x1234, 7));
        let from_target = packet(TARGET, ME, 1, &reply);
        assert_eq!(
            parse(&from_target, TARGET, 0x1234),
            Some(Received::Reply {
                seq: 7,
                ttl: 61,
                intact: true
            })
        );
        assert_eq!(parse(&from_target, TARGET, 0x1235), None, "another id");
        assert_eq!(parse(&from_target, ROUTER, 0x1234), None, "another host");
        let udp = packet(TARGET, ME, 17, &reply);
        assert_eq!(parse(&udp, TARGET, 0x1234), None);
        assert_eq!(parse(&from_target[..26], TARGET, 0x1234), None, "cut");
        assert!(matches!(
            parse(&from_target[..30], TARGET, 0x1234),
            Some(Received::Reply { intact: false, .. })
        ));
        let request = packet(TARGET, ME, 1, &echo_request(0x1234, 7));
        assert_eq!(parse(&request, TARGET, 0x1234), None, "a request");
    }

    #[test]
    fn a_damaged_reply_is_recognised_but_not_intact() {
        let mut reply = reply_to(&echo_request(0x1234, 7));
        reply[40] ^= 1;
        let p = packet(TARGET, ME, 1, &reply);
        assert!(matches!(
            parse(&p, TARGET, 0x1234),
            Some(Received::Reply { intact: false, .. })
        ));
        // Right checksum, other data.
        let mut other = echo_request(0x1234, 7);
        other[20] ^= 1;
        let reply = reply_to(&other);
        let p = packet(TARGET, ME, 1, &reply);
        assert!(matches!(
            parse(&p, TARGET, 0x1234),
            Some(Received::Reply { intact: false, .. })
        ));
    }

    #[test]
    fn errors_about_our_requests_are_recognised() {
        let request = packet(ME, TARGET, 1, &echo_request(0x1234, 3));
        let mut error = vec![v4::DEST_UNREACHABLE, 1, 0, 0, 0, 0, 0, 0];
        error.extend_from_slice(&request[..28]);
        let p = packet(ROUTER, ME, 1, &error);
        assert_eq!(
            parse(&p, TARGET, 0x1234),
            Some(Received::Error {
                seq: 3,
                what: "host unreachable".into(),
                from: ROUTER
            })
        );
        assert_eq!(parse(&p, TARGET, 0x4321), None, "someone else's request");
        error[0] = v4::TIME_EXCEEDED;
        let p = packet(ROUTER, ME, 1, &error);
        assert!(matches!(
            parse(&p, TARGET, 0x1234),
            Some(Received::Error { what, .. }) if what == "time to live exceeded"
        ));
    }

    #[test]
    fn loss_is_shown_like_ping() {
        assert_eq!(loss(5, 5), "0%");
        assert_eq!(loss(5, 4), "20%");
        assert_eq!(loss(3, 2), "33.3%");
        assert_eq!(loss(4, 0), "100%");
    }
}
