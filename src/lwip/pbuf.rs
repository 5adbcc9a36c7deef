//! lwIP's packet buffers: a chain of pbufs holding one frame or packet,
//! owned ([`Pbuf`], freed when dropped) or borrowed from lwIP for the
//! length of a callback ([`PbufRef`]), read and written in pieces without
//! anyone walking `next` pointers by hand.

use std::cell::RefCell;
use std::io::{IoSlice, IoSliceMut};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use super::LwipError;
use crate::sys;

/// Where in a packet lwIP should leave room for headers in front of a new
/// pbuf's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layer {
    /// No room: a whole Ethernet frame.
    #[cfg_attr(not(fuzzing), allow(dead_code))]
    Raw,
    /// Room for the IP header and the link header in front (`PBUF_IP`).
    Ip,
    /// Room for a transport header too (`PBUF_TRANSPORT`).
    Transport,
}

/// Where the copy of up to `wanted` bytes at position `from` of a chain
/// falls in the buffer holding its bytes `start..start + len`: the index
/// in that buffer and how many bytes, if any.
fn piece(start: usize, len: usize, from: usize, wanted: usize) -> Option<(usize, usize)> {
    if wanted == 0 || from < start || from >= start + len {
        return None;
    }
    let at = from - start;
    Some((at, (len - at).min(wanted)))
}

/// The payloads of a chain's buffers, in order, empty ones left out: the
/// one walk over `next` that both kinds of segment iterator use.
///
/// # Safety
/// `first` must start a valid chain that stays valid (and unchanged in
/// shape) while the iterator is used.
unsafe fn payloads(first: NonNull<sys::pbuf>) -> impl Iterator<Item = (*mut u8, usize)> {
    let mut next = Some(first);
    std::iter::from_fn(move || loop {
        let p = next?;
        // SAFETY: a buffer of the valid chain (the caller's promise).
        let q = unsafe { &*p.as_ptr() };
        next = NonNull::new(q.next);
        if q.len > 0 && !q.payload.is_null() {
            return Some((q.payload.cast::<u8>(), usize::from(q.len)));
        }
    })
}

/// A pbuf chain we own: freed (its reference released) when dropped.
pub(crate) struct Pbuf {
    ptr: NonNull<sys::pbuf>,
}

impl Pbuf {
    /// A chain of pool pbufs (lwIP's receive buffers) holding `len` bytes;
    /// `None` when the pool is empty.
    pub(crate) fn alloc_pool(len: u16) -> Option<Pbuf> {
        // SAFETY: allocation has no preconditions; the result is checked.
        let p = unsafe { sys::pbuf_alloc(sys::PBUF_RAW, len, sys::PBUF_POOL) };
        NonNull::new(p).map(|ptr| Pbuf { ptr })
    }

    /// One pbuf from lwIP's heap holding `len` bytes, with room for the
    /// headers of `layer` in front; `None` when the heap is full.
    pub(crate) fn alloc_ram(layer: Layer, len: u16) -> Option<Pbuf> {
        let layer = match layer {
            Layer::Raw => sys::PBUF_RAW,
            Layer::Ip => sys::PBUF_IP,
            Layer::Transport => sys::PBUF_TRANSPORT,
        };
        // SAFETY: as above.
        let p = unsafe { sys::pbuf_alloc(layer, len, sys::PBUF_RAM) };
        NonNull::new(p).map(|ptr| Pbuf { ptr })
    }

    /// A heap pbuf holding a copy of `bytes`.
    pub(crate) fn from_bytes(layer: Layer, bytes: &[u8]) -> Result<Pbuf, LwipError> {
        let len = u16::try_from(bytes.len()).map_err(|_| LwipError::Value)?;
        let mut p = Pbuf::alloc_ram(layer, len).ok_or(LwipError::Memory)?;
        p.copy_in(0, bytes);
        Ok(p)
    }

    /// Takes ownership of a chain lwIP handed over.
    ///
    /// # Safety
    /// `p` must be a valid pbuf chain whose reference the caller owns and
    /// gives up.
    pub(crate) unsafe fn from_raw(p: *mut sys::pbuf) -> Option<Pbuf> {
        NonNull::new(p).map(|ptr| Pbuf { ptr })
    }

    /// Gives the chain (and its reference) to lwIP.
    pub(crate) fn into_raw(self) -> *mut sys::pbuf {
        let p = self.ptr.as_ptr();
        std::mem::forget(self);
        p
    }

    /// The chain's pointer for an lwIP call that reads it and does not
    /// take it (the chain stays ours).
    pub(crate) fn as_raw(&self) -> *mut sys::pbuf {
        self.ptr.as_ptr()
    }

    /// The chain, borrowed.
    pub(crate) fn chain(&self) -> PbufRef<'_> {
        PbufRef {
            ptr: self.ptr,
            _chain: PhantomData,
        }
    }

    pub(crate) fn tot_len(&self) -> usize {
        self.chain().tot_len()
    }

    /// The buffers of the chain, writable, in order.
    pub(crate) fn segments_mut(&mut self) -> impl Iterator<Item = &mut [u8]> + '_ {
        // SAFETY: a valid chain that `self` owns and borrows mutably for the
        // iterator's life.
        unsafe { payloads(self.ptr) }.map(|(payload, len)| {
            // SAFETY: each payload holds `len` bytes, the buffers do not
            // overlap, and `&mut self` keeps everyone else out.
            unsafe { std::slice::from_raw_parts_mut(payload, len) }
        })
    }

    /// Writes `bytes` at `offset` into the chain, as far as it reaches
    /// (the bytes may straddle buffers). Returns how many were written.
    pub(crate) fn copy_in(&mut self, offset: usize, bytes: &[u8]) -> usize {
        let mut start = 0;
        let mut written = 0;
        for segment in self.segments_mut() {
            if let Some((at, n)) = piece(
                start,
                segment.len(),
                offset + written,
                bytes.len() - written,
            ) {
                segment[at..at + n].copy_from_slice(&bytes[written..written + n]);
                written += n;
            }
            start += segment.len();
        }
        written
    }

    /// Zeroes bytes `from..to` of the chain (as far as it reaches).
    pub(crate) fn zero_fill(&mut self, from: usize, to: usize) {
        let mut start = 0;
        for segment in self.segments_mut() {
            let end = start + segment.len();
            if end > from && start < to {
                let (a, b) = (from.max(start) - start, to.min(end) - start);
                segment[a..b].fill(0);
            }
            start = end;
        }
    }

    /// The chain's buffers as `readv(2)` targets, into `iov` (a longer
    /// chain fills it up). Returns how many were used.
    pub(crate) fn read_targets<'a>(&'a mut self, iov: &mut [IoSliceMut<'a>]) -> usize {
        let mut n = 0;
        for (slot, segment) in iov.iter_mut().zip(self.segments_mut()) {
            *slot = IoSliceMut::new(segment);
            n += 1;
        }
        n
    }

    /// Adds `more` at the end of the chain.
    pub(crate) fn cat(&mut self, more: Pbuf) {
        // SAFETY: both are valid chains we own; pbuf_cat takes `more`'s
        // reference.
        unsafe { sys::pbuf_cat(self.ptr.as_ptr(), more.into_raw()) };
    }

    /// Splits the first `len` bytes off as a chain of their own, cut at a
    /// buffer's end: the buffers past the one that holds byte `len` stay in
    /// `self` (`None` when there are none), and the first part is shrunk to
    /// `len` bytes. Every pbuf of a pool chain has its own reference, so the
    /// two parts are independent.
    pub(crate) fn split_off_front(self, len: u16) -> (Pbuf, Option<Pbuf>) {
        let front = self.into_raw();
        // SAFETY: walking and relinking a valid chain we own.
        let rest = unsafe {
            let mut last = front;
            let mut before = 0u16;
            while before + (*last).len < len && !(*last).next.is_null() {
                before += (*last).len;
                last = (*last).next;
            }
            let rest = (*last).next;
            if !rest.is_null() {
                let rest_len = (*rest).tot_len;
                (*last).next = std::ptr::null_mut();
                let mut q = front;
                while !q.is_null() {
                    (*q).tot_len -= rest_len;
                    q = (*q).next;
                }
            }
            sys::pbuf_realloc(front, len);
            rest
        };
        // SAFETY: both parts are valid chains with a reference each, ours.
        unsafe {
            (
                Pbuf::from_raw(front).expect("not null"),
                Pbuf::from_raw(rest),
            )
        }
    }

    /// A copy of the chain in one heap pbuf of exactly its length (for
    /// fuzzing: AddressSanitizer then sees a read past its end).
    #[cfg(fuzzing)]
    pub(crate) fn exact_copy(&self) -> Option<Pbuf> {
        let len = u16::try_from(self.tot_len()).ok()?;
        let mut copy = Pbuf::alloc_ram(Layer::Raw, len)?;
        let mut at = 0;
        for segment in self.chain().segments() {
            copy.copy_in(at, segment);
            at += segment.len();
        }
        Some(copy)
    }
}

impl Drop for Pbuf {
    fn drop(&mut self) {
        // SAFETY: we own one reference to a valid chain.
        unsafe { sys::pbuf_free(self.ptr.as_ptr()) };
    }
}

/// How many bytes a receive buffer of the driver holds: the longest frame
/// a pbuf chain can carry.
pub(crate) const RX_BUFFER_LEN: usize = u16::MAX as usize;

/// At most this many receive buffers exist per thread (4 MiB); when lwIP
/// holds them all, frames go into pool pbufs again.
const RX_BUFFER_LIMIT: usize = 64;

/// A receive buffer and the custom pbuf that lends it to lwIP. The pbuf
/// comes first, so the pointer lwIP hands back when it frees the pbuf is
/// the buffer's own.
#[repr(C)]
struct Lendable {
    custom: sys::pbuf_custom,
    bytes: [u8; RX_BUFFER_LEN],
}

/// The receive buffers of this thread that nobody holds, and how many
/// exist.
#[derive(Default)]
struct RxBuffers {
    free: Vec<Box<Lendable>>,
    made: usize,
}

thread_local! {
    static RX_BUFFERS: RefCell<RxBuffers> = RefCell::default();
}

/// A buffer of the driver that a long frame (a super-frame, a frame at a
/// jumbo MTU) is read into past its first pool pbuf, and then lent to lwIP
/// as a custom pbuf instead of being copied into a chain of 43 pool pbufs,
/// as zero-copy drivers of embedded ports lend their DMA buffers. lwIP
/// gives it back when it frees the pbuf; dropping an unlent one gives it
/// back at once.
pub(crate) struct RxBuffer {
    buffer: Option<Box<Lendable>>,
}

impl RxBuffer {
    /// A free buffer of this thread, or a new one while fewer than
    /// [`RX_BUFFER_LIMIT`] exist.
    pub(crate) fn take() -> Option<RxBuffer> {
        let buffer = RX_BUFFERS.with(|buffers| {
            let mut buffers = buffers.borrow_mut();
            if let Some(buffer) = buffers.free.pop() {
                return Some(buffer);
            }
            if buffers.made == RX_BUFFER_LIMIT {
                return None;
            }
            buffers.made += 1;
            // SAFETY: all zeros is a valid `Lendable`: integers, null
            // pointers and a `None` function pointer.
            Some(unsafe { Box::<Lendable>::new_zeroed().assume_init() })
        })?;
        Some(RxBuffer {
            buffer: Some(buffer),
        })
    }

    /// The buffer's bytes, to read a frame into.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut().expect("not lent").bytes
    }

    /// Lends the buffer's first `len` bytes to lwIP: a chain of one custom
    /// pbuf (`PBUF_REF`, as lwIP's zero-copy receive example has it: lwIP
    /// copies it before keeping it in an ARP or neighbour queue).
    pub(crate) fn lend(mut self, len: u16) -> Pbuf {
        let buffer = Box::into_raw(self.buffer.take().expect("not lent"));
        // SAFETY: `buffer` is a valid `Lendable` that nothing else refers
        // to. It stays allocated until lwIP frees the pbuf, which calls
        // `give_back` with the pointer to its first field, and it holds
        // RX_BUFFER_LEN >= `len` bytes past no layer offset.
        let p = unsafe {
            (*buffer).custom.custom_free_function = Some(give_back);
            sys::pbuf_alloced_custom(
                sys::PBUF_RAW,
                len,
                sys::PBUF_REF,
                ptr::addr_of_mut!((*buffer).custom),
                ptr::addr_of_mut!((*buffer).bytes).cast(),
                RX_BUFFER_LEN as u16,
            )
        };
        Pbuf {
            ptr: NonNull::new(p).expect("a length the buffer holds"),
        }
    }
}

impl Drop for RxBuffer {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            free_rx_buffer(buffer);
        }
    }
}

/// Puts a receive buffer back on its thread's free list (or drops it while
/// the thread is ending).
fn free_rx_buffer(buffer: Box<Lendable>) {
    let _ = RX_BUFFERS.try_with(|buffers| buffers.borrow_mut().free.push(buffer));
}

/// lwIP's `custom_free_function` for the pbufs [`RxBuffer::lend`] makes.
unsafe extern "C" fn give_back(p: *mut sys::pbuf) {
    // SAFETY: lwIP calls this once, when the last reference to a pbuf made
    // by `lend` goes: `p` points to the first field of a `Lendable` that
    // `Box::into_raw` leaked there, and lwIP no longer uses it.
    let buffer = unsafe { Box::from_raw(p.cast::<Lendable>()) };
    free_rx_buffer(buffer);
}

/// A pbuf chain lwIP lends for the length of a call (the frame it sends,
/// the packet a raw PCB receives).
#[derive(Clone, Copy)]
pub(crate) struct PbufRef<'a> {
    ptr: NonNull<sys::pbuf>,
    _chain: PhantomData<&'a sys::pbuf>,
}

impl<'a> PbufRef<'a> {
    /// Borrows a chain lwIP passed.
    ///
    /// # Safety
    /// `p` must be a valid pbuf chain that stays alive, and that nothing
    /// else reads or writes, for `'a`.
    pub(crate) unsafe fn from_raw(p: *mut sys::pbuf) -> Option<PbufRef<'a>> {
        NonNull::new(p).map(|ptr| PbufRef {
            ptr,
            _chain: PhantomData,
        })
    }

    /// Which chain this is (to recognise it when lwIP hands it back).
    pub(crate) fn id(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    pub(crate) fn tot_len(&self) -> usize {
        // SAFETY: a valid pbuf for 'a.
        usize::from(unsafe { self.ptr.as_ref() }.tot_len)
    }

    /// The buffers of the chain, in order (empty ones left out).
    pub(crate) fn segments(&self) -> impl Iterator<Item = &'a [u8]> {
        // SAFETY: a valid chain for 'a.
        unsafe { payloads(self.ptr) }.map(|(payload, len)| {
            // SAFETY: each payload holds `len` bytes, valid for 'a.
            unsafe { std::slice::from_raw_parts(payload.cast_const(), len) }
        })
    }

    /// Copies up to `out.len()` bytes from `offset` on; returns how many.
    pub(crate) fn copy_out(&self, offset: usize, out: &mut [u8]) -> usize {
        let mut start = 0;
        let mut copied = 0;
        for segment in self.segments() {
            if let Some((at, n)) = piece(start, segment.len(), offset + copied, out.len() - copied)
            {
                out[copied..copied + n].copy_from_slice(&segment[at..at + n]);
                copied += n;
            }
            start += segment.len();
        }
        copied
    }

    /// The chain's buffers as `writev(2)` sources, after `first`, into
    /// `iov`. Returns how many slots were used, or `None` when the chain
    /// has more buffers than `iov` has room for.
    pub(crate) fn write_sources<'b>(
        &self,
        first: &'b [u8],
        iov: &mut [IoSlice<'b>],
    ) -> Option<usize>
    where
        'a: 'b,
    {
        let (head, rest) = iov.split_first_mut()?;
        *head = IoSlice::new(first);
        let mut n = 1;
        for segment in self.segments() {
            *rest.get_mut(n - 1)? = IoSlice::new(segment);
            n += 1;
        }
        Some(n)
    }
}

/// A pbuf chain lwIP lends to be read and written for the length of a call
/// (the frame it hands a netif to send: the first buffer holds the
/// frame's headers, which may be completed the way checksum offload
/// would).
pub(crate) struct PbufMut<'a> {
    chain: PbufRef<'a>,
}

impl<'a> PbufMut<'a> {
    /// Borrows a chain lwIP passed, to write to.
    ///
    /// # Safety
    /// `p` must be a valid pbuf chain that stays alive, and that nothing
    /// else reads or writes, for `'a`.
    pub(crate) unsafe fn from_raw(p: *mut sys::pbuf) -> Option<PbufMut<'a>> {
        // SAFETY: as the caller guarantees.
        unsafe { PbufRef::from_raw(p) }.map(|chain| PbufMut { chain })
    }

    /// The chain, to read.
    pub(crate) fn chain(&self) -> PbufRef<'_> {
        self.chain
    }

    /// The first buffer, writable.
    pub(crate) fn first_mut(&mut self) -> &mut [u8] {
        // SAFETY: a valid pbuf for 'a that nothing else accesses (the
        // caller's promise in `from_raw`); the borrow of `self` keeps any
        // read of the chain from overlapping this write.
        unsafe {
            let q = self.chain.ptr.as_ref();
            if q.payload.is_null() {
                return &mut [];
            }
            std::slice::from_raw_parts_mut(q.payload.cast::<u8>(), usize::from(q.len))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{piece, RxBuffer, RX_BUFFERS, RX_BUFFER_LIMIT};

    /// How many receive buffers this thread made, and how many are free.
    fn rx_buffers() -> (usize, usize) {
        RX_BUFFERS.with(|buffers| {
            let buffers = buffers.borrow();
            (buffers.made, buffers.free.len())
        })
    }

    #[test]
    fn a_lent_receive_buffer_comes_back_when_its_pbuf_is_freed() {
        let mut buffer = RxBuffer::take().expect("a buffer");
        assert_eq!(rx_buffers(), (1, 0));
        buffer.bytes_mut()[..5].copy_from_slice(b"hello");
        let lent = buffer.lend(5);
        assert_eq!(lent.tot_len(), 5);
        let bytes: Vec<&[u8]> = lent.chain().segments().collect();
        assert_eq!(bytes, [&b"hello"[..]], "lwIP sees the bytes read");
        assert_eq!(rx_buffers(), (1, 0), "lent, not free");
        drop(lent);
        assert_eq!(rx_buffers(), (1, 1), "pbuf_free gave it back");
        let again = RxBuffer::take().expect("the same buffer");
        assert_eq!(rx_buffers(), (1, 0), "reused, not made");
        drop(again);
        assert_eq!(rx_buffers(), (1, 1), "an unlent buffer goes back too");

        // Once the limit is out, frames fill pool pbufs instead.
        let all: Vec<RxBuffer> = (0..RX_BUFFER_LIMIT)
            .map(|_| RxBuffer::take().expect("under the limit"))
            .collect();
        assert!(RxBuffer::take().is_none(), "no more than the limit");
        drop(all);
        assert_eq!(rx_buffers(), (RX_BUFFER_LIMIT, RX_BUFFER_LIMIT));
    }

    #[test]
    fn a_copy_falls_in_the_buffers_it_spans() {
        // Bytes 5..15 of a chain of buffers 0..8, 8..12, 12..20.
        assert_eq!(piece(0, 8, 5, 10), Some((5, 3)));
        assert_eq!(piece(8, 4, 8, 7), Some((0, 4)));
        assert_eq!(piece(12, 8, 12, 3), Some((0, 3)));
        assert_eq!(piece(12, 8, 15, 0), None, "nothing left to copy");
        assert_eq!(piece(0, 8, 8, 5), None, "after this buffer");
        assert_eq!(piece(8, 4, 3, 5), None, "before this buffer");
    }
}
