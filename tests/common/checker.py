# A UDP and TCP checker for forwarding tests, over IPv4 or IPv6.
#   serve PORT            answers every datagram with "ok SIZE", or
#                         "bad SIZE OFFSET" at its first wrong byte
#   send HOST PORT SIZE…  sends one datagram of each size (up to 5 attempts,
#                         2 s apart) and prints the answer and the attempt
#   echo PORT             a TCP echo server
# Servers listen on both families. A datagram's content follows from its
# size and has no zero byte, so any byte that was cleared shows.
import socket, sys

def payload(n):
    return bytes(1 + (i * 7 + i // 251 + n) % 251 for i in range(n))

def listening(kind, port):
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    return s

mode = sys.argv[1]
if mode == "serve":
    s = listening(socket.SOCK_DGRAM, int(sys.argv[2]))
    print("ready", flush=True)
    while True:
        data, peer = s.recvfrom(65535)
        want = payload(len(data))
        if data == want:
            answer = "ok %d" % len(data)
        else:
            first = next(i for i in range(len(data)) if data[i] != want[i])
            answer = "bad %d %d" % (len(data), first)
        print(answer, flush=True)
        s.sendto(answer.encode(), peer)
elif mode == "send":
    host, port = sys.argv[2], int(sys.argv[3])
    if ":" in host:
        # IPv6 routers never fragment: the sender learns the path MTU from
        # Packet Too Big and fragments itself.
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # No DF bit: routers may fragment these (IP_MTU_DISCOVER, IP_PMTUDISC_DONT).
        s.setsockopt(socket.IPPROTO_IP, 10, 0)
    s.settimeout(2)
    for size in map(int, sys.argv[4:]):
        for attempt in range(1, 6):
            try:
                s.sendto(payload(size), (host, port))
                print("%d attempt %d: %s" % (size, attempt, s.recv(100).decode()), flush=True)
                break
            except (socket.timeout, OSError):
                pass
        else:
            print("%d: no answer" % size, flush=True)
elif mode == "echo":
    s = listening(socket.SOCK_STREAM, int(sys.argv[2]))
    s.listen(1)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        while True:
            data = c.recv(65536)
            if not data:
                break
            c.sendall(data)
        c.close()
