//! An lwIP network interface (`struct netif`, allocated and set up in C by
//! lwip/glue.c so that Rust never depends on its layout) and the calls lwIP
//! makes about it: the frames it sends, DHCP lease changes and IPv6 address
//! state changes, each delivered to the interface's [`NetifHandler`].

use std::ffi::CString;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ptr::NonNull;

use super::addr::{from_ip4, from_ip_addr, ip4};
use super::pbuf::{Pbuf, PbufMut};
use super::{check, code_of, LwipError};
use crate::sys;

/// What happens on an interface that its owner hears about.
pub(crate) trait NetifHandler {
    /// lwIP sends `frame` (a whole Ethernet frame; the first buffer holds
    /// its headers and may be written to, as checksum offload would).
    fn output(&self, frame: PbufMut<'_>) -> Result<(), LwipError>;

    /// lwIP's DHCP client set (a bind or renewal: BOUND) or cleared (`addr`
    /// unspecified) the interface's address.
    fn dhcp_event(&self, _event: DhcpEvent) {}

    /// The state of IPv6 address slot `index` changed.
    fn ip6_state_event(&self, _index: u8, _old: u8, _new: u8, _addr: Ipv6Addr, _is_static: bool) {}

    /// lwIP's AutoIP bound, gave up or defended a link-local address.
    fn autoip_event(&self, _event: AutoipEvent) {}

    /// The mDNS responder's probing ended (see [`MdnsName`]).
    fn mdns_name_event(&self, _name: MdnsName) {}

    /// The mDNS responder received `packet` (a UDP payload) from `from`,
    /// before reading it.
    fn mdns_received(&self, _packet: &[u8], _from: SocketAddr) {}
}

/// What lwIP's AutoIP (lwip/autoip_glue.c) reported about `addr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AutoipEvent {
    /// Probed and announced: the interface has it now.
    Bound(Ipv4Addr),
    /// Another host has it: given up.
    Conflict(Ipv4Addr),
    /// A conflict on the bound address answered with an announcement.
    Defended(Ipv4Addr),
}

/// How probing for the mDNS names ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MdnsName {
    /// The host name and every service are this interface's.
    Ours,
    /// Another host has the host name.
    HostTaken,
    /// Another host has the name of service `slot`.
    ServiceTaken(u8),
}

/// What lwIP's DHCP client reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DhcpEvent {
    pub bound: bool,
    pub addr: Ipv4Addr,
    pub netmask: Ipv4Addr,
    pub gw: Ipv4Addr,
    pub server: Ipv4Addr,
    pub lease_seconds: u32,
}

/// lwIP's IPv6 address states (`IP6_ADDR_*`).
pub(crate) mod ip6_state {
    use crate::sys;
    pub(crate) const TENTATIVE: u8 = sys::IP6_ADDR_TENTATIVE as u8;
    pub(crate) const VALID: u8 = sys::IP6_ADDR_VALID as u8;
    pub(crate) const PREFERRED: u8 = sys::IP6_ADDR_PREFERRED as u8;
    pub(crate) const DUPLICATED: u8 = sys::IP6_ADDR_DUPLICATED as u8;
}

/// An IPv6 address slot as lwIP has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ip6Slot {
    pub addr: Ipv6Addr,
    /// lwIP's IP6_ADDR_* state.
    pub state: u8,
    pub is_static: bool,
}

/// How an interface starts.
pub(crate) struct NetifSetup {
    pub mac: [u8; 6],
    pub mtu: u16,
    pub addr: Ipv4Addr,
    pub netmask: Ipv4Addr,
    pub gw: Ipv4Addr,
}

/// An interface added to lwIP; removed (and freed) when dropped.
pub(crate) struct Netif<H: NetifHandler + 'static> {
    netif: NonNull<sys::netif>,
    handler: NonNull<H>,
    /// What lwIP's `netif->state` points to.
    state: NonNull<State>,
    dhcp: bool,
}

/// A thin pointer to an interface's handler, for lwIP's `netif->state`.
struct State {
    handler: *const dyn NetifHandler,
}

impl<H: NetifHandler + 'static> Netif<H> {
    /// Adds an interface that is up, with its link up and its IPv6
    /// link-local address (tentative) formed from the MAC.
    pub(crate) fn add(setup: &NetifSetup, handler: H) -> Result<Netif<H>, LwipError> {
        let config = sys::lwip_tap_netif_config {
            mac: setup.mac,
            mtu: setup.mtu,
            addr: ip4(setup.addr),
            netmask: ip4(setup.netmask),
            gw: ip4(setup.gw),
            linkoutput: Some(link_output),
        };
        let handler = NonNull::from(Box::leak(Box::new(handler)));
        let state = NonNull::from(Box::leak(Box::new(State {
            handler: handler.as_ptr() as *const dyn NetifHandler,
        })));
        // SAFETY: `config` is valid for the call; the state and the handler
        // live until Drop, which removes the netif from lwIP before freeing
        // them.
        let netif = unsafe { sys::lwip_tap_netif_add(&config, state.as_ptr().cast()) };
        let Some(netif) = NonNull::new(netif) else {
            // SAFETY: lwIP kept no pointer to either.
            unsafe {
                drop(Box::from_raw(state.as_ptr()));
                drop(Box::from_raw(handler.as_ptr()));
            }
            return Err(LwipError::Memory);
        };
        Ok(Netif {
            netif,
            handler,
            state,
            dhcp: false,
        })
    }

    /// The handler given to [`Self::add`].
    pub(crate) fn handler(&self) -> &H {
        // SAFETY: the handler lives as long as `self`, and only shared
        // references to it are ever made.
        unsafe { self.handler.as_ref() }
    }

    /// Hands a received frame to lwIP's input function, which takes it.
    pub(crate) fn input(&self, frame: Pbuf) -> Result<(), LwipError> {
        let p = frame.into_raw();
        // SAFETY: a live netif; lwIP takes `p` on ERR_OK, otherwise it is
        // still ours and freed here.
        let rc = unsafe { sys::lwip_tap_netif_input(self.netif.as_ptr(), p) };
        let result = check(rc);
        if result.is_err() {
            // SAFETY: lwIP did not take it.
            drop(unsafe { Pbuf::from_raw(p) });
        }
        result
    }

    /// Makes this lwIP's default interface.
    pub(crate) fn set_default(&self) {
        // SAFETY: a live netif.
        unsafe { sys::netif_set_default(self.netif.as_ptr()) };
    }

    /// Turns lwIP's checksum verification of incoming frames on or off.
    pub(crate) fn check_checksums(&self, on: bool) {
        // SAFETY: a live netif.
        unsafe { sys::lwip_tap_netif_check_checksums(self.netif.as_ptr(), i32::from(on)) };
    }

    /// The IPv4 address, netmask and gateway lwIP has now.
    pub(crate) fn ipv4(&self) -> (Ipv4Addr, Ipv4Addr, Ipv4Addr) {
        let mut a = [sys::ip4_addr_t::default(); 3];
        let [addr, netmask, gw] = &mut a;
        // SAFETY: a live netif and three writable addresses.
        unsafe { sys::lwip_tap_netif_ipv4(self.netif.as_ptr(), addr, netmask, gw) };
        (from_ip4(a[0]), from_ip4(a[1]), from_ip4(a[2]))
    }

    /// Switches SLAAC on or off.
    pub(crate) fn set_slaac(&self, on: bool) {
        // SAFETY: a live netif.
        unsafe { sys::lwip_tap_netif_set_slaac(self.netif.as_ptr(), i32::from(on)) };
    }

    /// Adds a static IPv6 address (tentative until duplicate address
    /// detection passes); returns its slot. `None` when every slot is taken.
    pub(crate) fn add_ip6(&self, addr: Ipv6Addr) -> Result<Option<u32>, LwipError> {
        // SAFETY: a live netif and 16 readable bytes.
        let slot =
            unsafe { sys::lwip_tap_netif_add_ip6(self.netif.as_ptr(), addr.octets().as_ptr()) };
        match slot {
            -1 => Ok(None),
            s if s < 0 => Err(LwipError::Other(s as i8)),
            s => Ok(Some(s as u32)),
        }
    }

    /// Sets the static default router for off-link IPv6 destinations.
    pub(crate) fn set_ip6_gateway(&self, gw: Ipv6Addr) {
        // SAFETY: a live netif and 16 readable bytes (copied by lwIP).
        unsafe { sys::lwip_tap_netif_set_ip6_gateway(self.netif.as_ptr(), gw.octets().as_ptr()) };
    }

    /// IPv6 address slot `index`, `None` past the last.
    pub(crate) fn ip6_slot(&self, index: u32) -> Option<Ip6Slot> {
        let mut octets = [0u8; 16];
        let (mut state, mut is_static) = (0u8, 0u8);
        // SAFETY: a live netif; 16 writable bytes and two writable bytes.
        let more = unsafe {
            sys::lwip_tap_netif_ip6(
                self.netif.as_ptr(),
                index,
                octets.as_mut_ptr(),
                &mut state,
                &mut is_static,
            )
        };
        (more != 0).then_some(Ip6Slot {
            addr: Ipv6Addr::from(octets),
            state,
            is_static: is_static != 0,
        })
    }

    /// Falls back on AutoIP when DHCP gets no answer (only in a build
    /// that has it: [`super::build::has_autoip`]).
    pub(crate) fn enable_autoip(&self) {
        // SAFETY: a live netif.
        unsafe { sys::lwip_tap_autoip_enable(self.netif.as_ptr(), 1) };
    }

    /// Starts the mDNS responder on the interface as `hostname`.local (one
    /// label of at most 63 bytes, no NUL).
    pub(crate) fn start_mdns(&self, hostname: &str) -> Result<(), LwipError> {
        let name = CString::new(hostname).map_err(|_| LwipError::Value)?;
        // SAFETY: a live netif; the responder copies the name.
        check(unsafe { sys::lwip_tap_mdns_start(self.netif.as_ptr(), name.as_ptr()) })
    }

    /// Announces instance `name` of `service` (`_http`) over TCP or UDP on
    /// `port` with the interface's mDNS responder (started first).
    pub(crate) fn add_mdns_service(
        &self,
        name: &str,
        service: &str,
        tcp: bool,
        port: u16,
    ) -> Result<(), LwipError> {
        let (name, service) = (
            CString::new(name).map_err(|_| LwipError::Value)?,
            CString::new(service).map_err(|_| LwipError::Value)?,
        );
        // SAFETY: a live netif; the responder copies both strings.
        let slot = unsafe {
            sys::lwip_tap_mdns_add_service(
                self.netif.as_ptr(),
                name.as_ptr(),
                service.as_ptr(),
                i32::from(tcp),
                port,
            )
        };
        if slot < 0 {
            return check(slot);
        }
        Ok(())
    }

    /// Starts lwIP's DHCP client on the interface.
    pub(crate) fn start_dhcp(&mut self) -> Result<(), LwipError> {
        // Set first: whatever dhcp_start allocated before failing is
        // stopped and freed on drop.
        self.dhcp = true;
        // SAFETY: a live netif that is up.
        check(unsafe { sys::dhcp_start(self.netif.as_ptr()) })
    }

    /// Releases the lease (if bound) and stops the DHCP client; returns
    /// whether a DHCPRELEASE was sent. Does nothing without a client.
    pub(crate) fn release_dhcp(&mut self) -> bool {
        if !std::mem::take(&mut self.dhcp) {
            return false;
        }
        let netif = self.netif.as_ptr();
        // SAFETY: the client was started on this live netif; after
        // dhcp_release_and_stop nothing uses its struct dhcp, which
        // dhcp_cleanup frees.
        unsafe {
            let bound = sys::dhcp_supplied_address(netif) != 0;
            sys::dhcp_release_and_stop(netif);
            sys::dhcp_cleanup(netif);
            bound
        }
    }
}

impl<H: NetifHandler + 'static> Drop for Netif<H> {
    fn drop(&mut self) {
        self.release_dhcp();
        // SAFETY: the netif was added in `add` and is removed exactly once;
        // after that lwIP holds no pointer to it or to the handler.
        unsafe {
            sys::lwip_tap_netif_remove(self.netif.as_ptr());
            drop(Box::from_raw(self.state.as_ptr()));
            drop(Box::from_raw(self.handler.as_ptr()));
        }
    }
}

/// The handler of one of our netifs.
///
/// # Safety
/// `netif` must be one of our live netifs (its state is a live handler).
unsafe fn handler_of<'a>(netif: *const sys::netif) -> &'a dyn NetifHandler {
    // SAFETY: the caller guarantees `netif` is ours and live: its state is
    // a live `State` whose handler lives as long.
    unsafe { &*(*(sys::lwip_tap_netif_state(netif) as *const State)).handler }
}

/// netif->linkoutput: hands the frame to the interface's handler.
unsafe extern "C" fn link_output(netif: *mut sys::netif, p: *mut sys::pbuf) -> sys::err_t {
    // SAFETY: lwIP passes one of our netifs, and a valid chain that is
    // ours to read and write until we return.
    let (handler, frame) = unsafe { (handler_of(netif), PbufMut::from_raw(p)) };
    match frame {
        Some(frame) => code_of(handler.output(frame)),
        None => LwipError::Argument.code(),
    }
}

/// Called by lwIP's DHCP client (lwip/dhcp_glue.c) whenever it sets or
/// clears an interface's address.
///
/// # Safety
/// `netif` must be one of our live netifs.
#[no_mangle]
pub(crate) unsafe extern "C" fn lwip_tap_dhcp_event(
    netif: *mut sys::netif,
    state: u8,
    addr: u32,
    netmask: u32,
    gw: u32,
    server: u32,
    lease_seconds: u32,
) {
    // SAFETY: lwIP's DHCP client runs only on our netifs.
    let handler = unsafe { handler_of(netif) };
    let v4 = |a: u32| Ipv4Addr::from(a.to_ne_bytes());
    handler.dhcp_event(DhcpEvent {
        bound: u32::from(state) == sys::DHCP_STATE_BOUND,
        addr: v4(addr),
        netmask: v4(netmask),
        gw: v4(gw),
        server: v4(server),
        lease_seconds,
    });
}

/// Called by lwIP (lwip/glue.c) whenever the state of one of an interface's
/// IPv6 address slots changes.
///
/// # Safety
/// `netif` must be one of our live netifs; `addr` must point to 16 bytes.
#[no_mangle]
pub(crate) unsafe extern "C" fn lwip_tap_ip6_state_event(
    netif: *mut sys::netif,
    index: u8,
    old_state: u8,
    new_state: u8,
    addr: *const u8,
    is_static: u8,
) {
    // SAFETY: lwIP reports address changes of our netifs only, with 16
    // readable bytes.
    let (handler, octets) = unsafe { (handler_of(netif), std::ptr::read(addr.cast::<[u8; 16]>())) };
    handler.ip6_state_event(
        index,
        old_state,
        new_state,
        Ipv6Addr::from(octets),
        is_static != 0,
    );
}

/// Called by lwIP's AutoIP (lwip/autoip_glue.c) when it binds, gives up or
/// defends an address.
///
/// # Safety
/// `netif` must be one of our live netifs.
#[no_mangle]
pub(crate) unsafe extern "C" fn lwip_tap_autoip_event(
    netif: *mut sys::netif,
    event: u8,
    addr: u32,
) {
    // SAFETY: AutoIP runs only on our netifs.
    let handler = unsafe { handler_of(netif) };
    let addr = Ipv4Addr::from(addr.to_ne_bytes());
    let event = match u32::from(event) {
        sys::LWIP_TAP_AUTOIP_BOUND => AutoipEvent::Bound(addr),
        sys::LWIP_TAP_AUTOIP_CONFLICT => AutoipEvent::Conflict(addr),
        sys::LWIP_TAP_AUTOIP_DEFENDED => AutoipEvent::Defended(addr),
        // A new address is picked: it is logged once it is bound.
        _ => return,
    };
    handler.autoip_event(event);
}

/// Called by the mDNS responder (lwip/mdns_glue.c) when probing ends.
///
/// # Safety
/// `netif` must be one of our live netifs.
#[no_mangle]
pub(crate) unsafe extern "C" fn lwip_tap_mdns_name_event(
    netif: *mut sys::netif,
    ok: libc::c_int,
    slot: i8,
) {
    // SAFETY: the responder runs only on our netifs.
    let handler = unsafe { handler_of(netif) };
    handler.mdns_name_event(match (ok, slot) {
        (0, 0) => MdnsName::HostTaken,
        (0, slot) => MdnsName::ServiceTaken(slot.max(1) as u8 - 1),
        _ => MdnsName::Ours,
    });
}

/// Called by the mDNS responder's receive wrapper (lwip/mdns_glue.c) with
/// every packet, before the responder reads it.
///
/// # Safety
/// `netif` must be null or one of our live netifs; `p` a valid chain and
/// `addr` a valid address for the call.
#[no_mangle]
pub(crate) unsafe extern "C" fn lwip_tap_mdns_received(
    netif: *mut sys::netif,
    p: *const sys::pbuf,
    addr: *const sys::ip_addr_t,
    port: u16,
) {
    if netif.is_null() || p.is_null() || addr.is_null() {
        return;
    }
    // SAFETY: as the caller guarantees; the chain is only read (copied
    // out), during this call.
    let (handler, packet, from) = unsafe {
        (
            handler_of(netif),
            super::pbuf::PbufRef::from_raw(p.cast_mut()).map(|p| {
                let mut bytes = vec![0; p.tot_len()];
                p.copy_out(0, &mut bytes);
                bytes
            }),
            from_ip_addr(&*addr),
        )
    };
    if let Some(packet) = packet {
        handler.mdns_received(&packet, SocketAddr::new(from, port));
    }
}
