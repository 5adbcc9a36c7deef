//! The host side's IPv6 address (`RTM_NEWADDR`) and routes through a device
//! (`RTM_NEWROUTE`), set through rtnetlink. The interface ioctls cover IPv4
//! addresses (src/device/tap.rs) but cannot ask the kernel to skip
//! duplicate address detection; netlink can (`IFA_F_NODAD`), and adds IPv4
//! and IPv6 routes alike. Messages are built and parsed by the rust-netlink
//! crates.

use std::io;
use std::net::{IpAddr, Ipv6Addr};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// Adds `addr/prefix_len` to the interface with index `index`, usable at
/// once (no duplicate address detection), and waits for the kernel's answer.
pub(crate) fn add_ipv6_address(index: u32, addr: Ipv6Addr, prefix_len: u8) -> io::Result<()> {
    let mut message = AddressMessage::default();
    message.header.family = AddressFamily::Inet6;
    message.header.prefix_len = prefix_len;
    message.header.index = index;
    message.header.flags = AddressHeaderFlags::Nodad;
    message.header.scope = if addr.is_unicast_link_local() {
        AddressScope::Link
    } else {
        AddressScope::Universe
    };
    message.attributes = vec![
        AddressAttribute::Local(IpAddr::V6(addr)),
        AddressAttribute::Address(IpAddr::V6(addr)),
        AddressAttribute::Flags(AddressFlags::Nodad),
    ];
    request(RouteNetlinkMessage::NewAddress(message))
}

/// Routes `dst/prefix_len` through the interface with index `index`, via
/// `gateway`, and waits for the kernel's answer.
pub(crate) fn add_route(
    index: u32,
    dst: IpAddr,
    prefix_len: u8,
    gateway: IpAddr,
) -> io::Result<()> {
    let mut message = RouteMessage::default();
    message.header.address_family = match dst {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    message.header.destination_prefix_length = prefix_len;
    message.header.table = RouteHeader::RT_TABLE_MAIN;
    message.header.protocol = RouteProtocol::Static;
    message.header.scope = RouteScope::Universe;
    message.header.kind = RouteType::Unicast;
    message.attributes = vec![
        RouteAttribute::Destination(RouteAddress::from(dst)),
        RouteAttribute::Gateway(RouteAddress::from(gateway)),
        RouteAttribute::Oif(index),
    ];
    request(RouteNetlinkMessage::NewRoute(message))
}

/// Sends one request that creates something and waits for its answer.
fn request(message: RouteNetlinkMessage) -> io::Result<()> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    let mut request = NetlinkMessage::new(header, NetlinkPayload::from(message));
    request.finalize();
    let mut buf = vec![0; request.buffer_len()];
    request.serialize(&mut buf);

    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    socket.send(&buf, 0)?;
    let mut reply = vec![0; 8192];
    loop {
        let len = socket.recv(&mut &mut reply[..], 0)?;
        let answer = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&reply[..len])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        match answer.payload {
            NetlinkPayload::Error(e) => {
                return match e.code {
                    None => Ok(()),
                    Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
                }
            }
            NetlinkPayload::Done(_) => return Ok(()),
            // Anything else (a notification) is not the answer; read on.
            _ => {}
        }
    }
}
