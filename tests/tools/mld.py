#!/usr/bin/python3
"""Sends MLD general queries to lwIP and times its reports, for lwip-tap's tests.

The queries go out of the host side of a TAP (an AF_PACKET socket on IFACE),
from a made-up router, to all nodes (ff02::1). Usage:

  mld.py IFACE LWIP_MAC MAX_RESP_MS QUERIES GAP_S

sends QUERIES general queries (MLDv1, Maximum Response Delay MAX_RESP_MS),
GAP_S seconds apart, and prints one line per MLD report lwIP's MAC sends:
"query N report GROUP after MS" (MS counted from query N).
"""
import socket
import sys
import time

from scapy.all import Ether, IPv6, raw
from scapy.layers.inet6 import (ICMPv6MLQuery, ICMPv6MLReport, IPv6ExtHdrHopByHop,
                                RouterAlert)

ETH_P_ALL = 0x0003
ROUTER_MAC = "02:00:00:00:00:0a"
ROUTER_LL = "fe80::a"


def main():
    iface, lwip_mac, max_resp_ms, queries, gap_s = sys.argv[1:6]
    lwip_mac = lwip_mac.lower()
    queries, gap_s = int(queries), float(gap_s)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((iface, ETH_P_ALL))
    sock.settimeout(0.05)
    query = (Ether(dst="33:33:00:00:00:01", src=ROUTER_MAC)
             / IPv6(src=ROUTER_LL, dst="ff02::1", hlim=1)
             / IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)])
             / ICMPv6MLQuery(mrd=int(max_resp_ms), mladdr="::"))
    for n in range(1, queries + 1):
        sent = time.monotonic()
        sock.send(raw(query))
        while time.monotonic() - sent < gap_s:
            try:
                data = sock.recv(65535)
            except socket.timeout:
                continue
            frame = Ether(data)
            if frame.src.lower() != lwip_mac or ICMPv6MLReport not in frame:
                continue
            after = (time.monotonic() - sent) * 1000
            group = frame[ICMPv6MLReport].mladdr
            print(f"query {n} report {group} after {after:.0f}", flush=True)


if __name__ == "__main__":
    main()
