//! Impairment: a stage that makes an interface a bad link, each way on its
//! own (`-i …,loss=5,delay-in=20,…`): it drops frames over a size limit,
//! loses, corrupts, duplicates and reorders frames, and delays and
//! rate-limits them. It wraps any [`Device`], like the capture stage.
//!
//! Every decision is a hash (splitmix64) of the stack's seed, the
//! interface's index, the direction, the frame's index in that direction and
//! what is being decided, so the same traffic with the same seed loses and
//! damages the same frames, whatever the timing.
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
use std::collections::VecDeque;
use std::io::{self, IoSlice, IoSliceMut};
use std::time::{Duration, Instant};

use super::{no_frame_waiting, scatter, FramePath, StageStats, VnetHeader};
use crate::config::{Impairment, Impairments, Percent};

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
    /// The index of the next frame.
    next_index: u64,
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
            next_index: 0,
            queue: VecDeque::new(),
            queued_bytes: 0,
            held: None,
            link_free: None,
            last_due: None,
            counts: ImpairCounts::default(),
        }
    }

    /// The hash that decides `purpose` for frame `index`.
    fn draw(&self, index: u64, purpose: Purpose) -> u64 {
        splitmix64(splitmix64(self.key ^ index) ^ purpose as u64)
    }

    fn chance(&self, index: u64, purpose: Purpose, p: Percent) -> bool {
        !p.is_zero()
            && self.draw(index, purpose) % u64::from(Percent::MILLIONTHS)
                < u64::from(p.millionths())
    }

    /// Takes a frame arriving now (header and frame) and decides its fate.
    fn admit(&mut self, header: [u8; VnetHeader::LEN], frame: &[u8], now: Instant) {
        let index = self.next_index;
        self.next_index += 1;
        self.counts.frames += 1;
        let config = self.config;
        if config
            .max_frame
            .is_some_and(|max| frame.len() > max as usize)
        {
            self.counts.oversize += 1;
            return;
        }
        if self.chance(index, Purpose::Loss, config.loss) {
            self.counts.lost += 1;
            return;
        }
        let mut header = header;
        let mut frame = frame.to_vec();
        if !frame.is_empty() && self.chance(index, Purpose::Corrupt, config.corrupt) {
            corrupt(&mut frame, self.draw(index, Purpose::CorruptWhere));
            // Damage must be found by lwIP's checks, not vouched for.
            header = VnetHeader::PLAIN.to_bytes();
            self.counts.corrupted += 1;
        }
        let copy = self
            .chance(index, Purpose::Duplicate, config.duplicate)
            .then(|| frame.clone());
        let reorder = self.chance(index, Purpose::Reorder, config.reorder);
        for (n, frame) in std::iter::once(frame).chain(copy).enumerate() {
            if n == 1 {
                self.counts.duplicated += 1;
            }
            let Some(due) = self.schedule(index, frame.len(), now) else {
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
    fn schedule(&mut self, index: u64, len: usize, now: Instant) -> Option<Instant> {
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
            let offset = self.draw(index, Purpose::Jitter) % (2 * span + 1);
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
    use super::*;

    fn way(config: Impairment, seed: u64) -> Way {
        Way::new(config, seed, 0, Direction::In)
    }

    fn lossy(percent: f64) -> Impairment {
        Impairment {
            loss: Percent::new(percent).unwrap(),
            ..Impairment::default()
        }
    }

    /// The indexes of the frames `way` lost out of `n`.
    fn lost(mut way: Way, n: usize) -> Vec<usize> {
        let now = Instant::now();
        let mut lost = Vec::new();
        for i in 0..n {
            let before = way.counts.lost;
            way.admit([0; VnetHeader::LEN], &[i as u8; 60], now);
            if way.counts.lost > before {
                lost.push(i);
            }
            while way.pop_due(now).is_some() {}
        }
        lost
    }

    #[test]
    fn decisions_depend_on_the_seed_the_place_and_the_index_only() {
        let a = lost(way(lossy(10.0), 1), 1000);
        assert_eq!(a, lost(way(lossy(10.0), 1), 1000));
        assert_ne!(a, lost(way(lossy(10.0), 2), 1000));
        let other = Way::new(lossy(10.0), 1, 0, Direction::Out);
        assert_ne!(a, lost(other, 1000));
        // Close to 10 % of 1000.
        assert!((70..=130).contains(&a.len()), "{}", a.len());
        assert!(lost(way(lossy(0.0), 1), 1000).is_empty());
        assert_eq!(lost(way(lossy(100.0), 1), 100).len(), 100);
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
