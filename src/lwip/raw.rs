//! lwIP's raw IP API: a PCB we own ([`RawPcb`], removed when dropped) that
//! sends and receives whole IP packets of one protocol, for `--ping`.

use std::ffi::c_void;
use std::net::IpAddr;
use std::ptr::NonNull;
use std::rc::Rc;

use super::addr::ip_addr;
use super::pbuf::{Layer, Pbuf, PbufRef};
use super::{check, HandlerSlot, LwipError};
use crate::sys;

/// Gets every packet of the protocol lwIP receives (from its IP header
/// on); returns true to take it (lwIP then goes no further with it).
type Handler = dyn FnMut(PbufRef<'_>) -> bool;

/// A raw PCB.
pub(crate) struct RawPcb {
    pcb: NonNull<sys::raw_pcb>,
    /// What lwIP's receive argument points to.
    slot: Rc<HandlerSlot<Handler>>,
}

impl RawPcb {
    /// A PCB for IP protocol `protocol`.
    pub(crate) fn new(protocol: u8) -> Result<RawPcb, LwipError> {
        // SAFETY: allocation on lwIP's thread; the result is checked.
        let pcb = NonNull::new(unsafe { sys::raw_new(protocol) }).ok_or(LwipError::Memory)?;
        let slot = HandlerSlot::new();
        // SAFETY: a live PCB; the slot lives until the PCB is removed.
        unsafe {
            sys::raw_recv(
                pcb.as_ptr(),
                Some(on_recv),
                Rc::as_ptr(&slot) as *mut c_void,
            )
        };
        Ok(RawPcb { pcb, slot })
    }

    pub(crate) fn set_handler(&self, handler: impl FnMut(PbufRef<'_>) -> bool + 'static) {
        self.slot.set(Box::new(handler));
    }

    /// Sends `payload` (what follows the IP header, which lwIP adds) to
    /// `to`.
    pub(crate) fn send_to(&self, payload: &[u8], to: IpAddr) -> Result<(), LwipError> {
        let p = Pbuf::from_bytes(Layer::Ip, payload)?;
        let addr = ip_addr(to);
        // SAFETY: a live PCB and a chain we own; raw_sendto copies what it
        // needs and does not take it.
        check(unsafe { sys::raw_sendto(self.pcb.as_ptr(), p.as_raw(), &addr) })
    }
}

impl Drop for RawPcb {
    fn drop(&mut self) {
        let pcb = self.pcb;
        // SAFETY: the PCB is removed exactly once, outside its callback;
        // then lwIP holds no pointer to the slot.
        self.slot
            .remove(move || unsafe { sys::raw_remove(pcb.as_ptr()) });
    }
}

unsafe extern "C" fn on_recv(
    arg: *mut c_void,
    _pcb: *mut sys::raw_pcb,
    p: *mut sys::pbuf,
    _addr: *const sys::ip_addr_t,
) -> u8 {
    // SAFETY: `arg` is the slot of a PCB not yet removed; `p` is a valid
    // chain for the call.
    let (slot, packet) = unsafe { (HandlerSlot::<Handler>::from_arg(arg), PbufRef::from_raw(p)) };
    let Some(packet) = packet else {
        return 0;
    };
    let taken = slot.call(|handler| handler(packet)).unwrap_or(false);
    if taken {
        // SAFETY: returning 1 tells lwIP the chain is ours: we free it.
        drop(unsafe { Pbuf::from_raw(p) });
    }
    u8::from(taken)
}
