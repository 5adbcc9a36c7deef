#!/usr/bin/python3
"""Crafted, malformed and flooding Ethernet frames for lwip-tap's tests.

Frames are written to the host side of a TAP (an AF_PACKET socket on IFACE),
so lwIP reads them exactly as they are. Usage:

  frames.py malformed IFACE DST_MAC DST_IP SRC_IP SEED   -> prints "sent N"
  frames.py oversize  IFACE DST_MAC DST_IP SRC_IP        -> prints "sent N"
  frames.py synflood  IFACE DST_MAC DST_IP PORT COUNT   -> prints "sent N"
  frames.py udpflood  IFACE DST_MAC DST_IP PORT COUNT   -> prints "sent N"
"""
import random
import socket
import struct
import sys

from scapy.all import (ARP, ICMP, IP, IPv6, TCP, UDP, Ether, Raw, fragment,
                       fuzz, raw)
from scapy.layers.inet6 import (ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS,
                                ICMPv6ND_RA, ICMPv6NDOptPrefixInfo,
                                ICMPv6NDOptSrcLLAddr, IPv6ExtHdrFragment,
                                IPv6ExtHdrHopByHop)


class Wire:
    """Counts and sends frames through a raw socket."""

    def __init__(self, iface):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.sock.bind((iface, 0))
        self.sent = 0
        self.refused = 0

    def send(self, frame):
        data = frame if isinstance(frame, bytes) else raw(frame)
        try:
            self.sock.send(data)
            self.sent += 1
        except OSError:
            # The kernel refuses some frames (e.g. larger than the MTU).
            self.refused += 1


def malformed(wire, dst_mac, dst_ip, src_ip, seed):
    rnd = random.Random(seed)
    src_mac = "02:00:00:00:00:01"
    eth = Ether(dst=dst_mac, src=src_mac)
    eth_bcast = Ether(dst="ff:ff:ff:ff:ff:ff", src=src_mac)
    ip = IP(src=src_ip, dst=dst_ip)

    # Runts and garbage: every length from 0 to 60, random bytes.
    for n in range(0, 61):
        wire.send(bytes(rnd.getrandbits(8) for _ in range(n)))
    # Ethernet headers with garbage ethertypes and payloads.
    for _ in range(300):
        wire.send(raw(Ether(dst=dst_mac, src=src_mac, type=rnd.randrange(0, 0x10000)))
                  + bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 200))))
    # ARP with wrong sizes, opcodes and truncations. The sender is made up:
    # a well-formed ARP from the host's address with a fake MAC would (like
    # on any stack) redirect lwIP's replies to the host for minutes.
    for _ in range(300):
        a = ARP(hwlen=rnd.choice([0, 1, 6, 255]), plen=rnd.choice([0, 4, 16, 255]),
                op=rnd.randrange(0, 8), psrc=rnd.choice(["172.16.0.77", "0.0.0.0", dst_ip]),
                pdst=dst_ip, hwsrc=src_mac)
        frame = raw(eth_bcast / a)
        wire.send(frame[:rnd.randrange(14, len(frame) + 1)])
    # IPv4 headers: version, IHL, total length, checksum, options, TTL, proto.
    for _ in range(600):
        p = IP(src=src_ip, dst=dst_ip, version=rnd.choice([4, 4, 4, 0, 6, 15]),
               ihl=rnd.choice([None, 0, 4, 5, 6, 15]), len=rnd.choice([None, 0, 19, 20, 21, 65535]),
               chksum=rnd.choice([None, 0, 0xffff, rnd.getrandbits(16)]),
               ttl=rnd.choice([0, 1, 64]), proto=rnd.randrange(0, 256),
               options=rnd.choice([[], b"\x01" * 4, b"\x07\x03\x04", b"\x44\x00", b"\x00" * 40]))
        wire.send(eth / p / Raw(bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 64)))))
    # ICMP: odd types and codes, bad checksums, truncated echoes, broadcasts.
    for _ in range(300):
        i = ICMP(type=rnd.randrange(0, 256), code=rnd.randrange(0, 256),
                 chksum=rnd.choice([None, 0, rnd.getrandbits(16)]))
        frame = raw(rnd.choice([eth, eth_bcast]) / ip / i / Raw(b"x" * rnd.randrange(0, 100)))
        wire.send(frame[:rnd.randrange(34, len(frame) + 1)])
    # UDP: lengths that lie, bad checksums, to echo and closed ports.
    for _ in range(400):
        u = UDP(sport=rnd.randrange(1, 65536), dport=rnd.choice([7, 67, 68, 9, 5001]),
                len=rnd.choice([None, 0, 7, 8, 9, 65535]), chksum=rnd.choice([None, 0, 1]))
        wire.send(eth / ip / u / Raw(b"u" * rnd.randrange(0, 300)))
    # TCP: header lengths, flag combinations, options, to open and closed ports.
    options = [[], [("MSS", 0)], [("WScale", 255)], [("SAckOK", b"")],
               [("SAck", (1, 2, 3, 4))], [("Timestamp", (1, 2))], [(254, b"\x00" * 30)],
               [("NOP", None)] * 10, [(2, b"")], [(3, b"\x01\x02\x03")]]
    for _ in range(1500):
        t = TCP(sport=rnd.randrange(1, 65536), dport=rnd.choice([7, 19, 80, 5001, 1234]),
                seq=rnd.getrandbits(32), ack=rnd.getrandbits(32), flags=rnd.randrange(0, 256),
                dataofs=rnd.choice([None, 0, 4, 5, 6, 15]), window=rnd.randrange(0, 65536),
                chksum=rnd.choice([None, None, 0, rnd.getrandbits(16)]),
                urgptr=rnd.randrange(0, 65536), options=rnd.choice(options))
        wire.send(eth / ip / t / Raw(b"t" * rnd.randrange(0, 200)))
    # IPv4 fragments: overlapping, duplicated, tiny, beyond 64 KiB.
    for n in range(200):
        payload = ICMP(type=8, id=n) / Raw(bytes(rnd.getrandbits(8) for _ in range(3000)))
        frags = fragment(IP(src=src_ip, dst=dst_ip, id=n) / payload, fragsize=rnd.choice([8, 256, 1400]))
        rnd.shuffle(frags)
        for f in frags[:rnd.randrange(1, len(frags) + 1)]:
            if rnd.random() < 0.3:
                f.frag = max(0, f.frag - rnd.randrange(0, 3))  # overlap
            if rnd.random() < 0.1:
                f.frag = 8189  # offset near the 64 KiB limit
            wire.send(eth / f)
    # IPv6: payload lengths, extension header chains, fragments, ND options.
    lladdr_dst = "ff02::1"
    for _ in range(800):
        kind = rnd.randrange(0, 6)
        # lwIP's static address (tests/robustness.rs) too: its own path,
        # not the link-local one.
        v6 = IPv6(src="fe80::1", dst=rnd.choice([lladdr_dst, "fe80::2", "2001:db8:1::2"]),
                  plen=rnd.choice([None, None, 0, 1, 65535]), hlim=255)
        if kind == 0:
            p = v6 / ICMPv6EchoRequest(data=b"e" * rnd.randrange(0, 64))
        elif kind == 1:
            p = v6 / IPv6ExtHdrHopByHop(options=[]) / Raw(bytes(rnd.getrandbits(8) for _ in range(16)))
        elif kind == 2:
            p = v6 / IPv6ExtHdrFragment(offset=rnd.randrange(0, 8192), m=rnd.randrange(0, 2),
                                        id=rnd.getrandbits(32)) / Raw(b"f" * rnd.randrange(0, 128))
        elif kind == 3:
            p = v6 / ICMPv6ND_NS(tgt="fe80::2") / ICMPv6NDOptSrcLLAddr(lladdr=src_mac, len=rnd.choice([None, 0, 1, 2, 255]))
        elif kind == 4:
            # routerlifetime=0: no default-router entry, which lwIP would keep
            # (with packets queued for it) for the whole advertised lifetime.
            p = v6 / ICMPv6ND_RA(routerlifetime=0) / ICMPv6NDOptPrefixInfo(prefixlen=rnd.randrange(0, 256), len=rnd.choice([None, 0, 4, 9]),
                                                           prefix="2001:db8::")
        else:
            p = v6 / ICMPv6ND_NA(tgt="fe80::2", R=0, S=1, O=1) / ICMPv6NDOptSrcLLAddr(lladdr=src_mac, len=rnd.choice([0, 1, 3]))
        frame = raw(Ether(dst=rnd.choice(["33:33:00:00:00:01", dst_mac]), src=src_mac) / p)
        wire.send(frame[:rnd.randrange(54, len(frame) + 1)] if rnd.random() < 0.3 else frame)
    oversize(wire, dst_mac, dst_ip, src_ip)
    # scapy's fuzz(): random values in every field of layered templates.
    templates = [eth / ip / TCP(dport=80), eth / ip / UDP(dport=7), eth / ip / ICMP(),
                 eth_bcast / ARP(psrc="172.16.0.78", pdst=dst_ip), eth / IPv6(dst="fe80::2") / ICMPv6EchoRequest(),
                 eth / fuzz(IP(dst=dst_ip)) / TCP(dport=7)]
    for _ in range(5000):
        wire.send(fuzz(rnd.choice(templates)))


def oversize(wire, dst_mac, dst_ip, src_ip):
    """Frames longer than lwIP's MTU (the host side may allow them)."""
    eth = Ether(dst=dst_mac, src="02:00:00:00:00:01")
    for size in (1519, 1600, 4000, 9000):
        wire.send(eth / IP(src=src_ip, dst=dst_ip) / UDP(dport=7) / Raw(b"j" * (size - 42)))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xffff:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def synflood(wire, dst_mac, dst_ip, port, count):
    """SYNs from random sources and ports, built by hand for speed."""
    rnd = random.Random(1)
    head = raw(Ether(dst=dst_mac, src="02:00:00:00:00:02"))
    dst = socket.inet_aton(dst_ip)
    for _ in range(count):
        src = struct.pack("!I", rnd.getrandbits(32) | 0x01000000)
        tcp = struct.pack("!HHIIBBHHH", rnd.randrange(1024, 65536), port, rnd.getrandbits(32), 0,
                          5 << 4, 0x02, 65535, 0, 0)
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, rnd.getrandbits(16), 0, 64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        wire.send(head + ip + tcp)


def udpflood(wire, dst_mac, dst_ip, port, count):
    frame = raw(Ether(dst=dst_mac, src="02:00:00:00:00:03") / IP(src="10.99.99.99", dst=dst_ip) /
                UDP(sport=9999, dport=port) / Raw(b"f" * 1000))
    for _ in range(count):
        wire.send(frame)


def main(argv):
    command, iface, dst_mac, dst_ip = argv[1:5]
    wire = Wire(iface)
    if command == "malformed":
        malformed(wire, dst_mac, dst_ip, argv[5], int(argv[6]))
    elif command == "oversize":
        oversize(wire, dst_mac, dst_ip, argv[5])
    elif command == "synflood":
        synflood(wire, dst_mac, dst_ip, int(argv[5]), int(argv[6]))
    elif command == "udpflood":
        udpflood(wire, dst_mac, dst_ip, int(argv[5]), int(argv[6]))
    else:
        raise SystemExit(f"unknown command {command}")
    print(f"sent {wire.sent} refused {wire.refused}")


if __name__ == "__main__":
    main(sys.argv)
