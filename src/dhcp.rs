//! The DHCP client of an interface without static addresses: starts lwIP's
//! client, watches its state machine after every loop round to log leases,
//! renewals and losses, and releases the lease on exit.

use std::net::Ipv4Addr;

use crate::sys;

/// What the log says about a DHCP state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseEvent {
    Bound,
    Renewed,
    Lost,
}

/// lwIP's DHCP client on one netif, and the state we last saw it in.
#[derive(Debug)]
pub struct DhcpClient {
    last_state: u8,
    had_lease: bool,
}

impl DhcpClient {
    /// Starts lwIP's DHCP client on `netif`.
    ///
    /// # Safety
    /// `netif` must be a live, added netif.
    pub unsafe fn start(netif: *mut sys::netif) -> Result<DhcpClient, String> {
        // SAFETY: the caller guarantees `netif` is live.
        let rc = unsafe { sys::dhcp_start(netif) };
        if rc != sys::ERR_OK as sys::err_t {
            return Err(format!("dhcp_start failed (error {rc})"));
        }
        Ok(DhcpClient {
            last_state: sys::DHCP_STATE_OFF as u8,
            had_lease: false,
        })
    }

    /// Checks for a state change since the last call.
    ///
    /// # Safety
    /// `netif` must be the live netif this client was started on.
    pub unsafe fn poll(&mut self, netif: *mut sys::netif) -> Option<(LeaseEvent, Lease)> {
        // SAFETY: the caller guarantees `netif` is live; lwIP keeps its
        // struct dhcp in client_data while the client exists.
        let dhcp = unsafe { dhcp_data(netif).as_ref()? };
        if dhcp.state == self.last_state {
            return None;
        }
        let previous = self.last_state;
        self.last_state = dhcp.state;
        let event = if u32::from(dhcp.state) == sys::DHCP_STATE_BOUND {
            if renewing_state(previous) {
                LeaseEvent::Renewed
            } else {
                self.had_lease = true;
                LeaseEvent::Bound
            }
        } else if self.had_lease && !renewing_state(dhcp.state) {
            self.had_lease = false;
            LeaseEvent::Lost
        } else {
            return None;
        };
        let lease = Lease::of(dhcp);
        Some((event, lease))
    }

    /// Sends DHCPRELEASE (if bound) and stops the client.
    ///
    /// # Safety
    /// `netif` must be the live netif this client was started on.
    pub unsafe fn release(&mut self, netif: *mut sys::netif) -> bool {
        // SAFETY: the caller guarantees `netif` is live.
        unsafe {
            let bound = sys::dhcp_supplied_address(netif) != 0;
            sys::dhcp_release_and_stop(netif);
            bound
        }
    }
}

fn renewing_state(state: u8) -> bool {
    [sys::DHCP_STATE_RENEWING, sys::DHCP_STATE_REBINDING].contains(&u32::from(state))
}

/// # Safety
/// `netif` must be live.
unsafe fn dhcp_data(netif: *mut sys::netif) -> *const sys::dhcp {
    // SAFETY: the caller guarantees `netif` is live.
    unsafe {
        (*netif).client_data[sys::LWIP_NETIF_CLIENT_DATA_INDEX_DHCP as usize] as *const sys::dhcp
    }
}

/// The lease lwIP holds (or was offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub addr: Ipv4Addr,
    pub netmask: Ipv4Addr,
    pub gw: Ipv4Addr,
    pub server: Ipv4Addr,
    pub seconds: u32,
}

impl Lease {
    fn of(dhcp: &sys::dhcp) -> Lease {
        let v4 = |a: sys::ip4_addr_t| Ipv4Addr::from(a.addr.to_ne_bytes());
        Lease {
            addr: v4(dhcp.offered_ip_addr),
            netmask: v4(dhcp.offered_sn_mask),
            gw: v4(dhcp.offered_gw_addr),
            // SAFETY: DHCP servers are IPv4; the ip4 member is the valid one.
            server: v4(unsafe { dhcp.server_ip_addr.u_addr.ip4 }),
            seconds: dhcp.offered_t0_lease,
        }
    }
}
