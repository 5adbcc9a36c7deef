//! Impairment: a stage that makes an interface a bad link, each way on its
//! own (`-i …,loss=5,delay-in=20,…`): it drops frames over a size limit,
//! loses, corrupts, duplicates and reorders frames, and delays and
//! rate-limits them. It wraps any [`Device`], like the capture stage.
//!
//! Every decision is a hash (splitmix64) of the stack's seed, the
//! interface's index, the direction, the frame's stream, the frame's number
//! in its stream and what is being decided, so the same traffic with the
//! same seed loses and damages the same frames, whatever the timing and
//! whatever else crosses the link. A stream is what stays the same from run
//! to run ([`stream_of`]): ARP by operation and addresses, IP by addresses,
//! protocol, ICMP type and code, or the lower of the two ports; never the
//! bytes that change each run (IP IDs, ICMP echo identifiers and payloads,
//! TCP sequence numbers, ephemeral ports).
//!
//! Frames are copied into queues of this stage's own (never lwIP's pbufs, so
//! delayed frames cannot starve lwIP's pool), bounded in frames and bytes; a
//! frame that finds its queue full is dropped and counted. A delayed frame
//! is released when due: [`Device::next_due`] tells the event loop when to
//! come back, and [`Device::poll`] sends the outgoing frames that are due.
//! A damaged frame is never marked as checksum-trusted, so lwIP's checks see
//! it (and receive offload, which would vouch for frames, is off on an
//! impaired interface: see `Config::offload`).

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io::{self, IoSlice, IoSliceMut};
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use super::{no_frame_waiting, scatter, FramePath, StageStats, VnetHeader};
use crate::config::{Impairment, Impairments, Percent};
use crate::wire::arp::ArpPacket;
use crate::wire::icmp::IcmpMessage;
use crate::wire::ipv4::Ipv4Header;
use crate::wire::ipv6::Ipv6Header;
use crate::wire::tcp::TcpHeader;
use crate::wire::udp::UdpHeader;
use crate::wire::{EtherType, EthernetFrame, IpProtocol};

/// Frames a queue holds at most, each way.
const QUEUE_FRAMES: usize = 4096;
/// Bytes a queue holds at most, each way.
const QUEUE_BYTES: usize = 8 << 20;
/// Frames read from the device below per read, at most.
const PULL_BUDGET: usize = 64;
/// How long `reorder` holds a frame back when no other frame follows.
const REORDER_WAIT: Duration = Duration::from_millis(20);
/// The token bucket of a rate limit holds this long's worth of bytes.
const RATE_BURST: Duration = Duration::from_millis(1);
/// Longest frame read from the device below (with its header).
const MAX_READ: usize = VnetHeader::LEN + u16::MAX as usize;
/// Streams a direction keeps a count for; frames of further streams share
/// one count (a bound on memory, whatever the traffic).
const MAX_STREAMS: usize = 1 << 16;
/// The stream of the frames beyond [`MAX_STREAMS`].
const OTHER_STREAMS: u64 = u64::MAX;

/// What a decision is about; part of its hash.
#[derive(Clone, Copy)]
enum Purpose {
    Loss = 1,
    Corrupt,
    CorruptWhere,
    Duplicate,
    Reorder,
    Jitter,
}

/// The direction of a frame, as lwIP sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Into lwIP (received).
    In = 0,
    /// Out of lwIP (sent).
    Out = 1,
}

/// What one direction's impairment did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImpairCounts {
    /// Frames that came this way.
    pub frames: u64,
    pub lost: u64,
    pub corrupted: u64,
    pub duplicated: u64,
    pub reordered: u64,
    /// Dropped for being over `max_frame`.
    pub oversize: u64,
    /// Dropped because the queue was full.
    pub overflow: u64,
    /// Held frames the device below refused to take.
    pub errors: u64,
}

/// A frame waiting for its time.
struct Held {
    due: Instant,
    header: [u8; VnetHeader::LEN],
    frame: Vec<u8>,
}

/// One direction: its settings, decisions, queue and counters.
struct Way {
    config: Impairment,
    /// Hashed into every decision: the seed, the interface, the direction.
    key: u64,
    /// How many frames of each stream came this way.
    seen: HashMap<u64, u64>,
    queue: VecDeque<Held>,
    queued_bytes: usize,
    /// A frame `reorder` holds back until another has passed it, or until
    /// its deadline.
    held: Option<(Held, Instant)>,
    /// When the rate-limited link is next free (a token bucket kept as a
    /// theoretical arrival time).
    link_free: Option<Instant>,
    /// The due time of the last frame queued: frames keep their order.
    last_due: Option<Instant>,
    counts: ImpairCounts,
}

/// splitmix64's output function: a well-mixed 64-bit hash of `z`.
fn splitmix64(z: u64) -> u64 {
    let z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Way {
    fn new(config: Impairment, seed: u64, interface: usize, direction: Direction) -> Way {
        let place = ((interface as u64) << 1) | direction as u64;
        Way {
            config,
            key: splitmix64(seed ^ splitmix64(place)),
            seen: HashMap::new(),
            queue: VecDeque::new(),
            queued_bytes: 0,
            held: None,
            link_free: None,
            last_due: None,
            counts: ImpairCounts::default(),
        }
    }

    /// The ticket of a frame of `stream`: what every decision about it is
    /// drawn from. The n-th frame of a stream gets the same ticket in every
    /// run with the same seed.
    fn ticket(&mut self, stream: u64) -> u64 {
        let stream = if self.seen.len() < MAX_STREAMS || self.seen.contains_key(&stream) {
            stream
        } else {
            OTHER_STREAMS
        };
        let n = self.seen.entry(stream).or_insert(0);
        let number = *n;
        *n += 1;
        splitmix64(splitmix64(self.key ^ splitmix64(stream)) ^ number)
    }

    /// The hash that decides `purpose` for the frame holding `ticket`.
    fn draw(&self, ticket: u64, purpose: Purpose) -> u64 {
        splitmix64(ticket ^ purpose as u64)
    }

    fn chance(&self, ticket: u64, purpose: Purpose, p: Percent) -> bool {
        !p.is_zero()
            && self.draw(ticket, purpose) % u64::from(Percent::MILLIONTHS)
                < u64::from(p.millionths())
    }

    /// Takes a frame arriving now (header and frame) and decides its fate.
    fn admit(&mut self, header: [u8; VnetHeader::LEN], frame: &[u8], now: Instant) {
        let ticket = self.ticket(stream_of(frame));
        self.counts.frames += 1;
        let config = self.config;
        if config
            .max_frame
            .is_some_and(|max| frame.len() > max as usize)
        {
            self.counts.oversize += 1;
            return;
        }
        if self.chance(ticket, Purpose::Loss, config.loss) {
            self.counts.lost += 1;
            return;
        }
        let mut header = header;
        let mut frame = frame.to_vec();
        if !frame.is_empty() && self.chance(ticket, Purpose::Corrupt, config.corrupt) {
            corrupt(&mut frame, self.draw(ticket, Purpose::CorruptWhere));
            // Damage must be found by lwIP's checks, not vouched for.
            header = VnetHeader::PLAIN.to_bytes();
            self.counts.corrupted += 1;
        }
        let copy = self
            .chance(ticket, Purpose::Duplicate, config.duplicate)
            .then(|| frame.clone());
        let reorder = self.chance(ticket, Purpose::Reorder, config.reorder);
        for (n, frame) in std::iter::once(frame).chain(copy).enumerate() {
            if n == 1 {
                self.counts.duplicated += 1;
            }
            let Some(due) = self.schedule(ticket, frame.len(), now) else {
                self.counts.overflow += 1;
                continue;
            };
            let held = Held { due, header, frame };
            if n == 0 && reorder && self.held.is_none() {
                self.counts.reordered += 1;
                self.held = Some((held, due + REORDER_WAIT));
                continue;
            }
            self.enqueue(held);
            // The frame held back goes right behind the one that passed it.
            if let Some((held, _)) = self.held.take() {
                self.enqueue(held);
            }
        }
    }

    /// When a frame of `len` bytes arriving `now` is due: after its turn on
    /// a rate-limited link, its delay and jitter, and the frame before it.
    /// `None` when the queue has no room for it.
    fn schedule(&mut self, ticket: u64, len: usize, now: Instant) -> Option<Instant> {
        if self.queue.len() >= QUEUE_FRAMES || self.queued_bytes + len > QUEUE_BYTES {
            return None;
        }
        let config = self.config;
        let mut leaves = now;
        if let Some(rate) = config.rate {
            // A token bucket: the frame may leave once the link has sent
            // what came before it, less the burst the bucket allows.
            let cost = Duration::from_nanos((len as u64 * 8).saturating_mul(1_000_000_000) / rate);
            let free = self.link_free.map_or(now, |f| f.max(now));
            leaves = now.max(free.checked_sub(RATE_BURST).unwrap_or(now));
            self.link_free = Some(free + cost);
        }
        let mut due = leaves + config.delay;
        if !config.jitter.is_zero() {
            let span = config.jitter.as_nanos() as u64;
            let offset = self.draw(ticket, Purpose::Jitter) % (2 * span + 1);
            due = (due + Duration::from_nanos(offset))
                .checked_sub(config.jitter)
                .unwrap_or(due);
        }
        Some(self.last_due.map_or(due, |last| due.max(last)))
    }

    fn enqueue(&mut self, mut held: Held) {
        if let Some(last) = self.last_due {
            held.due = held.due.max(last);
        }
        self.last_due = Some(held.due);
        self.queued_bytes += held.frame.len();
        self.queue.push_back(held);
    }

    /// The first frame due by `now`, if any.
    fn pop_due(&mut self, now: Instant) -> Option<Held> {
        if self
            .held
            .as_ref()
            .is_some_and(|(_, deadline)| *deadline <= now)
        {
            let (held, _) = self.held.take().expect("checked");
            self.enqueue(held);
        }
        if self.queue.front()?.due > now {
            return None;
        }
        let held = self.queue.pop_front()?;
        self.queued_bytes -= held.frame.len();
        Some(held)
    }

    fn has_due(&self, now: Instant) -> bool {
        self.next_due().is_some_and(|due| due <= now)
    }

    fn next_due(&self) -> Option<Instant> {
        let queued = self.queue.front().map(|h| h.due);
        let held = self.held.as_ref().map(|(_, deadline)| *deadline);
        queued.into_iter().chain(held).min()
    }

    fn json(&self) -> serde_json::Value {
        let c = self.counts;
        serde_json::json!({
            "frames": c.frames, "lost": c.lost, "corrupted": c.corrupted,
            "duplicated": c.duplicated, "reordered": c.reordered, "oversize": c.oversize,
            "overflow": c.overflow, "errors": c.errors,
        })
    }

    fn describe(&self) -> String {
        let c = self.counts;
        format!(
            "frames {} lost {} corrupted {} duplicated {} reordered {} oversize {} overflow {} errors {}",
            c.frames, c.lost, c.corrupted, c.duplicated, c.reordered, c.oversize, c.overflow, c.errors
        )
    }
}

/// Folds values into one well-mixed hash.
struct Fold(u64);

impl Fold {
    fn add(&mut self, value: u64) {
        self.0 = splitmix64(self.0 ^ value);
    }

    fn add_ipv6(&mut self, addr: Ipv6Addr) {
        // A link-local address and its solicited-node group come from a MAC
        // address, and a transient TAP's is new each run.
        let solicited_node =
            addr.segments()[..6] == [0xff02, 0, 0, 0, 0, 1] && addr.octets()[12] == 0xff;
        if addr.is_unicast_link_local() || solicited_node {
            self.add(0xfe80);
        } else {
            let bits = u128::from(addr);
            self.add((bits >> 64) as u64);
            self.add(bits as u64);
        }
    }

    /// The protocol, and what of its header stays the same from run to
    /// run (`transport`: the header, if the packet holds it).
    fn add_transport(&mut self, protocol: IpProtocol, transport: Option<&[u8]>) {
        self.add(u8::from(protocol).into());
        let Some(transport) = transport else {
            return;
        };
        match protocol {
            IpProtocol::Icmp | IpProtocol::Icmpv6 => {
                if let Ok(icmp) = IcmpMessage::new_checked(transport) {
                    self.add(icmp.msg_type().into());
                    self.add(icmp.code().into());
                }
            }
            IpProtocol::Tcp => {
                if let Ok(tcp) = TcpHeader::new_checked(transport) {
                    self.add(tcp.src_port().min(tcp.dst_port()).into());
                }
            }
            IpProtocol::Udp => {
                if let Ok(udp) = UdpHeader::new_checked(transport) {
                    self.add(udp.src_port().min(udp.dst_port()).into());
                }
            }
            _ => {}
        }
    }
}

/// The stream `frame` belongs to: a hash of the fields that the same
/// traffic has in every run. Its EtherType; for ARP the operation and the
/// two IPv4 addresses; for IP the addresses (a link-local IPv6 address
/// counts as any other link-local one: it is made from a MAC) and the
/// protocol; for ICMP and ICMPv6 the type and code (not an echo's
/// identifier, which ping draws anew each run); for TCP and UDP the lower
/// of the two ports (the service's: the other is an ephemeral port, new
/// each run). Nothing that changes from run to run with the same traffic
/// (IP IDs, payloads, timestamps, sequence numbers) is in it.
fn stream_of(frame: &[u8]) -> u64 {
    let mut key = Fold(0);
    let Ok(ethernet) = EthernetFrame::new_checked(frame) else {
        return key.0;
    };
    let ethertype = ethernet.ethertype();
    key.add(u16::from(ethertype).into());
    match ethertype {
        EtherType::Arp => {
            if let Ok(arp) = ArpPacket::new_checked(ethernet.payload()) {
                key.add(arp.operation().into());
                key.add(u32::from(arp.sender_ip()).into());
                key.add(u32::from(arp.target_ip()).into());
            }
        }
        EtherType::Ipv4 => {
            if let Ok(ip) = Ipv4Header::new_checked(ethernet.payload()) {
                key.add(u32::from(ip.src()).into());
                key.add(u32::from(ip.dst()).into());
                // A later fragment has no transport header.
                let transport = (ip.fragment_offset() == 0).then(|| ip.payload());
                key.add_transport(ip.protocol(), transport);
            }
        }
        EtherType::Ipv6 => {
            if let Ok(ip) = Ipv6Header::new_checked(ethernet.payload()) {
                key.add_ipv6(ip.src());
                key.add_ipv6(ip.dst());
                match ip.upper_layer() {
                    Ok((protocol, at)) => key.add_transport(protocol, ip.payload().get(at..)),
                    Err(_) => key.add_transport(ip.next_header(), None),
                }
            }
        }
        EtherType::Other(_) => {}
    }
    key.0
}

/// Flips one bit (or, half the time, one whole byte) of `frame`, where and
/// how `draw` says.
fn corrupt(frame: &mut [u8], draw: u64) {
    let at = ((draw >> 16) % frame.len() as u64) as usize;
    if draw & 1 == 0 {
        frame[at] ^= 1 << ((draw >> 1) & 7);
    } else {
        frame[at] ^= ((draw >> 8) as u8).max(1);
    }
}

/// The impairment stage of one interface.
pub(crate) struct Impair {
    inner: Box<dyn FramePath>,
    inbound: RefCell<Way>,
    outbound: RefCell<Way>,
    /// Where a frame from the device below lands before it is judged.
    scratch: RefCell<Vec<u8>>,
}

impl Impair {
    /// Impairs `inner`, the device of interface number `interface`, with
    /// decisions keyed by `seed`.
    pub(crate) fn new(
        inner: Box<dyn FramePath>,
        impairments: Impairments,
        seed: u64,
        interface: usize,
    ) -> Impair {
        Impair {
            inner,
            inbound: RefCell::new(Way::new(
                impairments.inbound,
                seed,
                interface,
                Direction::In,
            )),
            outbound: RefCell::new(Way::new(
                impairments.outbound,
                seed,
                interface,
                Direction::Out,
            )),
            scratch: RefCell::new(vec![0; MAX_READ]),
        }
    }

    /// Reads what the device below has (a bounded batch) into the inbound
    /// queue.
    fn pull(&self) -> io::Result<()> {
        let mut scratch = self.scratch.borrow_mut();
        let mut inbound = self.inbound.borrow_mut();
        for _ in 0..PULL_BUDGET {
            let (header, frame) = scratch.split_at_mut(VnetHeader::LEN);
            let len = match self
                .inner
                .read(&mut [IoSliceMut::new(header), IoSliceMut::new(frame)])
            {
                Ok(len) => len,
                Err(e) if no_frame_waiting(&e) => break,
                Err(e) => return Err(e),
            };
            if len <= VnetHeader::LEN {
                continue;
            }
            let header: [u8; VnetHeader::LEN] =
                scratch[..VnetHeader::LEN].try_into().expect("10 bytes");
            inbound.admit(header, &scratch[VnetHeader::LEN..len], Instant::now());
        }
        Ok(())
    }
}

impl FramePath for Impair {
    fn read(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        if !self.inbound.borrow().has_due(Instant::now()) {
            self.pull()?;
        }
        let held = self.inbound.borrow_mut().pop_due(Instant::now());
        match held {
            Some(held) => Ok(scatter(&held.header, &held.frame, bufs)),
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn write(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let bytes: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        if bytes.len() > VnetHeader::LEN {
            let header = bytes[..VnetHeader::LEN].try_into().expect("10 bytes");
            self.outbound
                .borrow_mut()
                .admit(header, &bytes[VnetHeader::LEN..], Instant::now());
        }
        self.send_due()?;
        // Sent as far as lwIP is concerned, whatever became of it.
        Ok(bytes.len())
    }

    fn next_due(&self) -> Option<Instant> {
        let inbound = self.inbound.borrow().next_due();
        let outbound = self.outbound.borrow().next_due();
        inbound
            .into_iter()
            .chain(outbound)
            .chain(self.inner.next_due())
            .min()
    }

    fn flush(&self) -> io::Result<()> {
        self.inner.flush()
    }

    /// Sends the outgoing frames that are due.
    fn send_due(&self) -> io::Result<()> {
        loop {
            let held = self.outbound.borrow_mut().pop_due(Instant::now());
            let Some(held) = held else {
                break;
            };
            let frame = [IoSlice::new(&held.header), IoSlice::new(&held.frame)];
            if self.inner.write(&frame).is_err() {
                self.outbound.borrow_mut().counts.errors += 1;
            }
        }
        self.inner.send_due()
    }

    fn stage_stats(&self, stats: &mut Vec<StageStats>) {
        let (inbound, outbound) = (self.inbound.borrow(), self.outbound.borrow());
        stats.push(StageStats {
            key: "impair",
            line: format!(
                "impair in: {}; out: {}",
                inbound.describe(),
                outbound.describe()
            ),
            json: serde_json::json!({ "in": inbound.json(), "out": outbound.json() }),
        });
        drop((inbound, outbound));
        self.inner.stage_stats(stats);
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::wire::arp;
    use crate::wire::builder::{self, IpFields, TcpSegment};
    use crate::wire::icmp::{v4, v6};

    fn way(config: Impairment, seed: u64) -> Way {
        Way::new(config, seed, 0, Direction::In)
    }

    fn lossy(percent: f64) -> Impairment {
        Impairment {
            loss: Percent::new(percent).unwrap(),
            ..Impairment::default()
        }
    }

    const HOST: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const LWIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    /// An Ethernet frame holding an IP packet with IP ID `ident`.
    fn ip_frame(
        src: IpAddr,
        dst: IpAddr,
        ident: u16,
        protocol: IpProtocol,
        data: &[u8],
    ) -> Vec<u8> {
        let fields = IpFields {
            ident,
            ..IpFields::new(src, dst)
        };
        let ethertype = match src {
            IpAddr::V4(_) => EtherType::Ipv4,
            IpAddr::V6(_) => EtherType::Ipv6,
        };
        let packet = builder::ip(&fields, protocol, data).unwrap();
        builder::ethernet([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1], ethertype, &packet)
    }

    /// Echo request `seq` of ping run `run`: its IP ID, echo identifier
    /// and timestamp differ from run to run, as ping's do.
    fn echo_request(run: u16, seq: u16) -> Vec<u8> {
        let stamp = ((u64::from(run) << 32) | (u64::from(seq) * 50_000)).to_le_bytes();
        let rest = (u32::from(run) << 16) | u32::from(seq);
        let icmp = builder::icmp(HOST, LWIP, v4::ECHO_REQUEST, 0, rest, &stamp);
        let ident = run.wrapping_mul(977).wrapping_add(seq);
        ip_frame(HOST, LWIP, ident, IpProtocol::Icmp, &icmp)
    }

    /// A router solicitation from the host's link-local address in run
    /// `run` (made from a MAC, so new each run).
    fn solicitation(run: u16) -> Vec<u8> {
        let src = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, run, 0, 0, 1));
        let dst = IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2));
        let icmp = builder::icmp(src, dst, v6::ROUTER_SOLICITATION, 0, 0, &[]);
        ip_frame(src, dst, 0, IpProtocol::Icmpv6, &icmp)
    }

    /// A TCP segment from the host to lwIP.
    fn segment(src_port: u16, dst_port: u16, seq: u32) -> Vec<u8> {
        let tcp = TcpSegment {
            src_port,
            dst_port,
            seq,
            ..TcpSegment::default()
        };
        let data = tcp.emit(HOST, LWIP).unwrap();
        ip_frame(HOST, LWIP, seq as u16, IpProtocol::Tcp, &data)
    }

    /// The sequence numbers of the pings of run `run` (out of `n`) that
    /// `way` lost. Other frames come between them as `noise` says: none
    /// with 0, a varying number with others.
    fn lost_pings(mut way: Way, run: u16, n: u16, noise: u16) -> Vec<u16> {
        let now = Instant::now();
        let mut lost = Vec::new();
        for seq in 0..n {
            for k in 0..seq.wrapping_mul(noise) % 3 {
                let other = match k {
                    0 => solicitation(run),
                    _ => segment(40000 + seq, 22, u32::from(run)),
                };
                way.admit([0; VnetHeader::LEN], &other, now);
            }
            let before = way.counts.lost;
            way.admit([0; VnetHeader::LEN], &echo_request(run, seq), now);
            if way.counts.lost > before {
                lost.push(seq);
            }
            while way.pop_due(now).is_some() {}
        }
        lost
    }

    #[test]
    fn decisions_depend_on_the_seed_the_place_the_stream_and_the_number_in_it_only() {
        let a = lost_pings(way(lossy(10.0), 1), 1, 1000, 0);
        // Other runs of ping, with other frames between the pings: the
        // same pings are lost.
        assert_eq!(a, lost_pings(way(lossy(10.0), 1), 2, 1000, 1));
        assert_eq!(a, lost_pings(way(lossy(10.0), 1), 3, 1000, 2));
        assert_ne!(a, lost_pings(way(lossy(10.0), 2), 1, 1000, 0));
        let out = Way::new(lossy(10.0), 1, 0, Direction::Out);
        assert_ne!(a, lost_pings(out, 1, 1000, 0));
        let second = Way::new(lossy(10.0), 1, 1, Direction::In);
        assert_ne!(a, lost_pings(second, 1, 1000, 0));
        // Close to 10 % of 1000.
        assert!((70..=130).contains(&a.len()), "{}", a.len());
        assert!(lost_pings(way(lossy(0.0), 1), 1, 1000, 1).is_empty());
        assert_eq!(lost_pings(way(lossy(100.0), 1), 1, 100, 1).len(), 100);
    }

    #[test]
    fn a_stream_is_what_stays_the_same_from_run_to_run() {
        // Not the IP ID, the echo identifier, sequence number or payload.
        assert_eq!(
            stream_of(&echo_request(1, 5)),
            stream_of(&echo_request(2, 9))
        );
        let reply = builder::icmp(LWIP, HOST, v4::ECHO_REPLY, 0, 1, &[]);
        let reply = ip_frame(LWIP, HOST, 1, IpProtocol::Icmp, &reply);
        assert_ne!(stream_of(&echo_request(1, 1)), stream_of(&reply));
        // The service's port, not the ephemeral one or the sequence number.
        assert_eq!(
            stream_of(&segment(40000, 7, 1)),
            stream_of(&segment(51234, 7, 9))
        );
        assert_ne!(
            stream_of(&segment(40000, 7, 1)),
            stream_of(&segment(40000, 19, 1))
        );
        // Link-local addresses are all one; others are themselves.
        assert_eq!(stream_of(&solicitation(1)), stream_of(&solicitation(2)));
        let echo6 = |src: Ipv6Addr| {
            let (src, dst) = (
                IpAddr::V6(src),
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2)),
            );
            let icmp = builder::icmp(src, dst, v6::ECHO_REQUEST, 0, 0, &[]);
            stream_of(&ip_frame(src, dst, 0, IpProtocol::Icmpv6, &icmp))
        };
        let global = |n| Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n);
        assert_ne!(echo6(global(1)), echo6(global(3)));
        // ARP: the operation and the addresses.
        let host_ip = Ipv4Addr::new(10, 0, 0, 1);
        let arp = |op, target| {
            let arp = builder::arp(op, ([2, 0, 0, 0, 0, 1], host_ip), ([0; 6], target));
            stream_of(&builder::ethernet(
                [0xff; 6],
                [2, 0, 0, 0, 0, 1],
                EtherType::Arp,
                &arp,
            ))
        };
        let lwip_ip = Ipv4Addr::new(10, 0, 0, 2);
        assert_ne!(arp(arp::REQUEST, lwip_ip), arp(arp::REPLY, lwip_ip));
        assert_ne!(
            arp(arp::REQUEST, lwip_ip),
            arp(arp::REQUEST, Ipv4Addr::new(10, 0, 0, 3))
        );
        // What cannot be parsed is one stream.
        assert_eq!(stream_of(&[1; 10]), stream_of(&[2; 5]));
    }

    #[test]
    fn corruption_changes_exactly_one_byte_and_untrusts_the_frame() {
        let config = Impairment {
            corrupt: Percent::new(100.0).unwrap(),
            ..Impairment::default()
        };
        let mut way = way(config, 7);
        let now = Instant::now();
        for _ in 0..200 {
            let trusted = VnetHeader {
                flags: VnetHeader::DATA_VALID,
                ..VnetHeader::PLAIN
            };
            way.admit(trusted.to_bytes(), &[0x55; 100], now);
            let held = way.pop_due(now).unwrap();
            let changed = held.frame.iter().filter(|b| **b != 0x55).count();
            assert_eq!(changed, 1);
            assert!(!VnetHeader::parse(&held.header).checksum_trusted());
        }
        assert_eq!(way.counts.corrupted, 200);
    }

    #[test]
    fn duplicates_and_reordering_change_the_sequence() {
        let now = Instant::now();
        let all = Percent::new(100.0).unwrap();
        let mut dup = way(
            Impairment {
                duplicate: all,
                ..Impairment::default()
            },
            1,
        );
        for i in 0..3u8 {
            dup.admit([0; VnetHeader::LEN], &[i], now);
        }
        let seq: Vec<u8> = std::iter::from_fn(|| dup.pop_due(now))
            .map(|h| h.frame[0])
            .collect();
        assert_eq!(seq, [0, 0, 1, 1, 2, 2]);

        let mut reorder = way(
            Impairment {
                reorder: all,
                ..Impairment::default()
            },
            1,
        );
        for i in 0..5u8 {
            reorder.admit([0; VnetHeader::LEN], &[i], now);
        }
        let seq: Vec<u8> = std::iter::from_fn(|| reorder.pop_due(now))
            .map(|h| h.frame[0])
            .collect();
        // Each held frame goes behind the next; the last waits for its
        // deadline.
        assert_eq!(seq, [1, 0, 3, 2]);
        assert!(reorder.next_due().unwrap() > now);
        let late = now + REORDER_WAIT;
        assert_eq!(reorder.pop_due(late).unwrap().frame, [4]);
    }

    #[test]
    fn delay_jitter_and_rate_set_due_times_in_order() {
        let now = Instant::now();
        let ms = Duration::from_millis;
        let mut delayed = way(
            Impairment {
                delay: ms(50),
                jitter: ms(10),
                ..Impairment::default()
            },
            3,
        );
        let mut last = now;
        for _ in 0..100 {
            delayed.admit([0; VnetHeader::LEN], &[0; 60], now);
        }
        assert!(delayed.pop_due(now + ms(39)).is_none());
        while let Some(held) = delayed.pop_due(now + ms(60)) {
            assert!(held.due >= last && held.due >= now + ms(40), "in order");
            last = held.due;
        }
        assert!(delayed.queue.is_empty());

        // 8 Mbit/s: a 1000-byte frame takes 1 ms; 100 of them 100 ms, less
        // the 1 ms burst.
        let mut limited = way(
            Impairment {
                rate: Some(8_000_000),
                ..Impairment::default()
            },
            3,
        );
        for _ in 0..100 {
            limited.admit([0; VnetHeader::LEN], &[0; 1000], now);
        }
        let last = limited.queue.back().unwrap().due - now;
        assert!(last >= ms(97) && last <= ms(99), "{last:?}");
    }

    #[test]
    fn oversize_frames_and_a_full_queue_are_dropped_and_counted() {
        let now = Instant::now();
        let mut way = way(
            Impairment {
                max_frame: Some(100),
                delay: Duration::from_secs(1),
                ..Impairment::default()
            },
            1,
        );
        way.admit([0; VnetHeader::LEN], &[0; 101], now);
        way.admit([0; VnetHeader::LEN], &[0; 100], now);
        assert_eq!(way.counts.oversize, 1);
        for _ in 0..QUEUE_FRAMES {
            way.admit([0; VnetHeader::LEN], &[0; 60], now);
        }
        assert_eq!(way.queue.len(), QUEUE_FRAMES);
        assert_eq!(way.counts.overflow, 1);
    }
}
