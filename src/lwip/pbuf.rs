//! lwIP's packet buffers: a chain of pbufs holding one frame or packet,
//! owned ([`Pbuf`], freed when dropped) or borrowed from lwIP for the
//! length of a callback ([`PbufRef`]), read and written in pieces without
//! anyone walking `next` pointers by hand.

use std::io::{IoSlice, IoSliceMut};
use std::marker::PhantomData;
use std::ptr::NonNull;

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
    use super::piece;

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
