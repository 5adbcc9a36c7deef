//! lwIP's raw UDP API: a PCB we own ([`Udp`], removed when dropped) whose
//! datagrams go to a handler.

use std::ffi::c_void;
use std::net::{IpAddr, SocketAddr};
use std::ptr::NonNull;
use std::rc::Rc;

use super::addr::{from_ip_addr, ip_addr};
use super::pbuf::{Layer, Pbuf};
use super::{check, HandlerSlot, LwipError};
use crate::sys;

/// Gets each datagram and its sender.
type Handler = dyn FnMut(Pbuf, SocketAddr);

/// A UDP PCB for IPv4 and IPv6.
pub(crate) struct Udp {
    pcb: NonNull<sys::udp_pcb>,
    /// What lwIP's receive argument points to.
    slot: Rc<HandlerSlot<Handler>>,
}

impl Udp {
    pub(crate) fn new() -> Result<Udp, LwipError> {
        // SAFETY: allocation on lwIP's thread; the result is checked.
        let pcb = unsafe { sys::udp_new_ip_type(sys::IPADDR_TYPE_ANY as u8) };
        let pcb = NonNull::new(pcb).ok_or(LwipError::Memory)?;
        let slot = HandlerSlot::new();
        // SAFETY: a live PCB; the slot lives until the PCB is removed.
        unsafe {
            sys::udp_recv(
                pcb.as_ptr(),
                Some(on_recv),
                Rc::as_ptr(&slot) as *mut c_void,
            )
        };
        Ok(Udp { pcb, slot })
    }

    /// Datagrams received go to `handler` (datagram, sender).
    pub(crate) fn set_handler(&self, handler: impl FnMut(Pbuf, SocketAddr) + 'static) {
        self.slot.set(Box::new(handler));
    }

    pub(crate) fn bind(&self, addr: IpAddr, port: u16) -> Result<(), LwipError> {
        let addr = if addr.is_unspecified() {
            // SAFETY: lwIP's constant, only read.
            unsafe { sys::ip_addr_any_type }
        } else {
            ip_addr(addr)
        };
        // SAFETY: a live PCB; lwIP copies the address.
        check(unsafe { sys::udp_bind(self.pcb.as_ptr(), &addr, port) })
    }

    /// Sets the default destination (and takes only its datagrams).
    pub(crate) fn connect(&self, addr: IpAddr, port: u16) -> Result<(), LwipError> {
        let addr = ip_addr(addr);
        // SAFETY: a live PCB; lwIP copies the address.
        check(unsafe { sys::udp_connect(self.pcb.as_ptr(), &addr, port) })
    }

    /// Sends `data` to `to`.
    pub(crate) fn send_to(&self, data: &[u8], to: SocketAddr) -> Result<(), LwipError> {
        let p = Pbuf::from_bytes(Layer::Transport, data)?;
        let addr = ip_addr(to.ip());
        // SAFETY: a live PCB and a chain we own (lwIP does not take it).
        check(unsafe { sys::udp_sendto(self.pcb.as_ptr(), p.as_raw(), &addr, to.port()) })
    }
}

impl Drop for Udp {
    fn drop(&mut self) {
        let pcb = self.pcb;
        // SAFETY: the PCB is removed exactly once, outside its callback;
        // then lwIP holds no pointer to the slot.
        self.slot
            .remove(move || unsafe { sys::udp_remove(pcb.as_ptr()) });
    }
}

unsafe extern "C" fn on_recv(
    arg: *mut c_void,
    _pcb: *mut sys::udp_pcb,
    p: *mut sys::pbuf,
    addr: *const sys::ip_addr_t,
    port: u16,
) {
    // SAFETY: lwIP hands over the chain, ours now; `arg` is the slot of a
    // PCB not yet removed; `addr` is valid for the call.
    let (data, slot, from) = unsafe {
        (
            Pbuf::from_raw(p),
            HandlerSlot::<Handler>::from_arg(arg),
            addr.as_ref().map(from_ip_addr),
        )
    };
    let Some(data) = data else {
        return;
    };
    let from = SocketAddr::new(from.unwrap_or(IpAddr::from([0, 0, 0, 0])), port);
    slot.call(|handler| handler(data, from));
}
