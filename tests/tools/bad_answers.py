"""Answers lwIP's DNS or SNTP client with malformed messages (built with
scapy), then with nothing: `bad_answers.py dns|ntp ADDR`. Prints "ready"
once it listens, then one line per query it answered."""
import socket
import struct
import sys

from scapy.all import DNS, DNSQR, DNSRR, NTP, raw

kind, addr = sys.argv[1], sys.argv[2]
port = 53 if kind == "dns" else 123
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((addr, port))
print("ready", flush=True)


def dns_garbage(query):
    """Answers that match the query's id and question but break the rest."""
    q = DNS(query)
    qd = q.qd
    name, qtype = qd.qname, qd.qtype
    good = DNS(id=q.id, qr=1, aa=1, rd=1, ra=1, qd=DNSQR(qname=name, qtype=qtype))
    head = raw(good)
    body = head
    hdr = bytearray(body[:12])
    hdr[7] = 1  # one answer
    record = lambda length, data: struct.pack("!HHIH", qtype, 1, 60, length) + data
    two = bytearray(body[:12])
    two[5] = 2
    many = bytearray(hdr)
    many[6:8] = b"\xff\xff"
    return [
        # Ignored by lwIP (it waits on for a good answer):
        body[:12],  # only the header
        body[:14],  # the question cut off inside the name
        bytes(two) + body[12:],  # two questions
        body[:12] + b"\x7f" + b"A" * 20,  # a 127-byte label, 20 bytes there
        # an answer named by a pointer to itself, its data past the end
        bytes(hdr) + body[12:] + struct.pack("!H", 0xC000 | len(body)) + record(0xFFF0, b"\x01"),
        bytes(hdr) + body[12:] + b"\xc0\x0c" + record(0xFFF0, b"\x01\x02"),
        # Ends the query without an address: 65535 answers announced, none there.
        bytes(many) + body[12:],
        # Comes too late (no query pending): a 3-byte address.
        bytes(hdr) + body[12:] + b"\xc0\x0c" + record(3, b"\x01\x02\x03"),
    ]


def ntp_garbage(query):
    """Answers that lwIP's SNTP client must refuse."""
    orig = query[40:48]
    good = NTP(version=4, mode=4, stratum=2)
    good_raw = bytearray(raw(good))
    good_raw[24:32] = orig
    out = []
    out.append(bytes(good_raw[:47]))            # one byte short
    out.append(bytes(good_raw) + b"\x00")       # one byte long
    client = bytearray(good_raw)
    client[0] = (client[0] & 0xF8) | 3          # mode 3: a client's request
    out.append(bytes(client))
    wrong = bytearray(good_raw)
    wrong[24:32] = b"\x01" * 8                  # not the originate timestamp sent
    out.append(bytes(wrong))
    kod = bytearray(good_raw)
    kod[1] = 0                                  # stratum 0: kiss-of-death
    kod[12:16] = b"RATE"
    out.append(bytes(kod))
    return out


while True:
    data, peer = sock.recvfrom(2048)
    answers = dns_garbage(data) if kind == "dns" else ntp_garbage(data)
    for answer in answers:
        sock.sendto(answer, peer)
    print(f"answered {len(data)} bytes from {peer[0]} with {len(answers)} malformed", flush=True)
