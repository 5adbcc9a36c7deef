//! The parsed form of a script: plain data, no behaviour. Every value is
//! checked against the field it describes when it is parsed (a window fits
//! 16 bits, a sequence number 32), so a runner can use it without checking
//! again. Times are integer microseconds, as written (a relative time is
//! not resolved against the events before it).
//!
//! Packets are described as the script writes them, from the point of view
//! of the stack under test: `<` is a packet into it ([`Direction::Inbound`]),
//! `>` a packet it sends ([`Direction::Outbound`]). Sequence and
//! acknowledgement numbers are relative to each side's initial sequence
//! number, as in packetdrill; this module does not resolve them.

/// A whole script: header options, then an optional shell command run
/// before the events, the events in order, and an optional shell command
/// run after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub options: Vec<HeaderOption>,
    pub init_command: Option<Command>,
    pub events: Vec<Event>,
    pub cleanup_command: Option<Command>,
}

/// A `--name` or `--name=value` line at the top of a script.
///
/// `value` is the text after `=`: a number or word as written, a string's
/// content without its quotes, and for `--define=NAME=VALUE` the text
/// `NAME=VALUE` (a string or shell command keeps its quotes or backquotes
/// there, so the definition says what kind of token it stands for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderOption {
    pub name: String,
    pub value: Option<String>,
    pub line: u32,
    pub column: u32,
}

/// One line of the timeline: a time and what happens then. `line` and
/// `column` are those of the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub line: u32,
    pub column: u32,
    pub time: EventTime,
    pub action: Action,
}

/// When an event happens, in microseconds. Relative times count from the
/// previous event. `Any` and the ranges are only allowed on outbound
/// packets (the parser enforces it): they say when the stack may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTime {
    /// `0.1`: 100000 µs after the script started.
    Absolute(i64),
    /// `+0.1`: 100000 µs after the previous event.
    Relative(i64),
    /// `*`: at any time.
    Any,
    /// `0.1~0.2`: between the two times after the start.
    AbsoluteRange(i64, i64),
    /// `+0.1~+0.2`: between the two times after the previous event.
    RelativeRange(i64, i64),
}

/// What an event does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Packet(Packet),
    Syscall(Syscall),
    /// A shell command in backquotes.
    Command(Command),
    /// A `%{ ... }%` block of Python that packetdrill runs after the script.
    Code(Code),
    /// Valid packetdrill that no runner of lwIP can act on, parsed in full
    /// and kept as its name and its text: `construct` is `"gre"`, `"mpls"`,
    /// `"psp"`, or `"undefined symbol NAME"` for a word where a number or a
    /// hex string belongs (packetdrill scripts get those from `-D NAME=...`
    /// on its command line; see
    /// [`parse_with_definitions`](super::parse_with_definitions)).
    /// `source` is the action as written, from its first token to its last,
    /// without the time.
    Unsupported {
        construct: String,
        source: String,
    },
}

/// Which way a packet goes, seen from the stack under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `<`: injected into the stack under test.
    Inbound,
    /// `>`: sent by the stack under test.
    Outbound,
}

/// A packet line: `< [ect0] 1000>80 S 0:0(0) win 65535 <mss 1460>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub direction: Direction,
    /// `ipv4 A > B:` or `ipv6 A > B:` prefixes, outermost first. In
    /// packetdrill each one wraps the packet in one more IP header (IP in
    /// IP); most scripts have none.
    pub outer: Vec<OuterIp>,
    /// The IP header of the packet itself.
    pub ip: IpInfo,
    /// `source>destination`; `None` means the script's usual ports.
    pub ports: Option<(u16, u16)>,
    pub body: PacketBody,
}

/// An explicit outer IP header: `ipv4 192.0.2.1 > 192.0.2.2:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OuterIp {
    pub ip: IpInfo,
    /// Both of the same family, the one the keyword names.
    pub src: std::net::IpAddr,
    pub dst: std::net::IpAddr,
}

/// The IP header fields a packet line may set, in `[...]` or `(...)` after
/// the direction. `None` is "not written": not checked on outbound packets,
/// the default on inbound ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpInfo {
    pub ecn: Option<Ecn>,
    pub tos: Option<u8>,
    /// 20 bits.
    pub flow_label: Option<u32>,
    pub ttl: Option<u8>,
}

/// The ECN field of the IP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ecn {
    /// `noecn`: not ECN-capable (00).
    NoEcn,
    /// `ect0`: ECT(0) (10).
    Ect0,
    /// `ect1`: ECT(1) (01).
    Ect1,
    /// `ect01`: either ECT(0) or ECT(1); outbound packets only.
    Ect01,
    /// `ce`: congestion experienced (11).
    Ce,
}

/// The transport part of a packet line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketBody {
    Tcp(TcpSpec),
    /// `udp (len)`: a UDP datagram with `len` payload bytes (at most 65535).
    Udp {
        len: u32,
    },
    Icmp(IcmpSpec),
}

/// `S. 0:0(0) ack 1 win 65535 <mss 1460>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSpec {
    pub flags: TcpFlags,
    /// Relative sequence number of the first payload byte.
    pub start: u32,
    /// `start + len`; the parser checks that it is.
    pub end: u32,
    /// Payload bytes, at most 65535.
    pub len: u32,
    pub ack: Option<u32>,
    /// At most 65535 (the field as sent, before window scaling).
    pub win: Option<u32>,
    /// At most 65535.
    pub urg: Option<u32>,
    pub options: TcpOptions,
}

/// The TCP flags, written as letters in any order: `S` SYN, `F` FIN, `R`
/// RST, `P` PSH, `.` ACK, `E` ECE, `W` CWR, `U` URG, `A` AE (accurate ECN);
/// `-` for none. A digit 0-7 sets AccECN's ACE field (AE, CWR and ECE as a
/// three-bit number) and is kept as those three flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpFlags {
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
    pub ack: bool,
    pub ece: bool,
    pub cwr: bool,
    pub urg: bool,
    pub ae: bool,
}

/// The TCP options of a packet line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpOptions {
    /// No `<...>` written: an inbound packet has no options, an outbound
    /// one must have none.
    NotWritten,
    /// `<...>`: any options (outbound packets only).
    Any,
    /// `<mss 1460,nop,wscale 7>`: exactly these, in this order.
    List(Vec<TcpOption>),
}

/// One TCP option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpOption {
    Nop,
    Eol,
    Mss(u16),
    WScale(u8),
    SackOk,
    /// `sack 1:2 3:4`: the blocks in order.
    Sack(Vec<(u32, u32)>),
    Timestamp {
        val: u32,
        ecr: u32,
    },
    /// `md5 HEX`: the digest bytes (at most 16).
    Md5(Vec<u8>),
    /// `FO [HEX]`: TCP Fast Open (kind 34) with its cookie, empty when none.
    FastOpen(Vec<u8>),
    /// `FOEXP [HEX]`: TCP Fast Open in the experimental option (kind 254,
    /// magic 0xf989) with its cookie, empty when none.
    FastOpenExp(Vec<u8>),
    /// An option packetdrill knows and this parser only checks the syntax
    /// of (AccECN's `ECN e0b N ceb N e1b N`), as written with single spaces.
    Unsupported(String),
}

/// `icmp unreachable frag_needed mtu 1400 [1:1001(1000)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpSpec {
    /// The type as packetdrill names it (`unreachable`, `time_exceeded`,
    /// `packet_too_big`, `echo_request`, ...); the same keyword writes
    /// ICMPv6, the script's IP version decides.
    pub kind: String,
    /// The code's name, if written (`frag_needed`, `port_unreachable`, ...).
    pub code: Option<String>,
    pub mtu: Option<u32>,
    /// Echo identifier, at most 65535.
    pub id: Option<u32>,
    /// The packet the ICMP message quotes.
    pub echoed: Option<Echoed>,
}

/// The packet quoted inside an ICMP error, `[...]` at the end of the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echoed {
    /// `[1:1001(1000)]`: a TCP segment.
    Tcp { start: u32, end: u32, len: u32 },
    /// `[udp (100)]`.
    Udp { len: u32 },
    /// `[raw (100)]`: an IP packet of another protocol.
    Raw { len: u32 },
}

/// `...0.010 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syscall {
    pub name: String,
    pub args: Vec<Expr>,
    /// `...END`: the call blocks until this time (microseconds, absolute or
    /// relative like the event's own time).
    pub end_time: Option<i64>,
    pub result: Expr,
    /// The expected errno's name (`EAGAIN`), when the result is an error.
    pub errno: Option<String>,
    /// The text in parentheses after the errno (packetdrill requires it and
    /// only shows it); present exactly when `errno` is.
    pub strerror: Option<String>,
    /// A free note in parentheses at the end (`= 0x2 (flags O_RDWR)`),
    /// words joined by single spaces.
    pub note: Option<String>,
}

/// A system call argument or result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `...`: anything (an argument the runner fills in, a result not checked).
    Ellipsis,
    /// A decimal or `0x` hexadecimal integer.
    Int(i64),
    /// A symbolic constant (`SOCK_STREAM`, `EPOLLIN`) or a name.
    Word(String),
    /// A string, escapes (`\n`, `\xf7`, ...) decoded; adjacent strings are
    /// joined into one, as in C.
    Str(Vec<u8>),
    /// `"abc"...`: a string followed by anything.
    StrEllipsis(Vec<u8>),
    /// `A|B|C`: the bitwise or of two or more expressions.
    Or(Vec<Expr>),
    /// `name=expr` outside braces (inside braces it is a field of a
    /// [`Struct`](Expr::Struct)).
    Assign(String, Box<Expr>),
    /// `[a, b]`: an array (or a pointer to one value, `[1]`).
    Array(Vec<Expr>),
    /// `inet_addr("192.0.2.1")`; the address is checked.
    InetAddr(String),
    /// `inet6_addr("2001:db8::1")`; the address is checked.
    Inet6Addr(String),
    /// A function applied to values, such as `htons(8080)`.
    Call(String, Vec<Expr>),
    /// `{...}`: a sockaddr (`{sa_family=AF_INET, sin_port=htons(8080),
    /// sin_addr=inet_addr("192.0.2.1")}`), a pollfd, a linger, an epoll
    /// event, a cmsg, an iovec (`{..., 100}`) or any other list in braces;
    /// `name=expr` items keep their name.
    Struct(Vec<(Option<String>, Expr)>),
    /// `{msg_name(...)=..., msg_iov(1)=[...], msg_flags=0, msg_control=[...]}`.
    Msghdr(Box<Msghdr>),
}

/// A `struct msghdr` for sendmsg() and recvmsg(). packetdrill lets a script
/// write only these fields; the name is always `(...)=...` (the runner's
/// peer address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msghdr {
    /// The `N` of `msg_iov(N)`: msg_iovlen.
    pub iov_len: i64,
    /// The iovecs, usually `{..., LEN}` structs.
    pub iov: Vec<Expr>,
    pub flags: Expr,
    /// `msg_control=[...]`: the control messages, if written.
    pub control: Option<Vec<Expr>>,
}

/// A shell command in backquotes, its text as written (escapes kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub line: u32,
    pub text: String,
}

/// A `%{ ... }%` code block, its text without the spaces and tabs at either
/// end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub line: u32,
    pub text: String,
}

impl TcpFlags {
    /// True if no flag is set (written `-`).
    pub fn is_empty(&self) -> bool {
        *self == TcpFlags::default()
    }
}

impl TcpOption {
    /// The bytes the option takes in a TCP header, or `None` for an
    /// [`Unsupported`](TcpOption::Unsupported) one.
    pub fn wire_len(&self) -> Option<usize> {
        Some(match self {
            TcpOption::Nop | TcpOption::Eol => 1,
            TcpOption::Mss(_) => 4,
            TcpOption::WScale(_) => 3,
            TcpOption::SackOk => 2,
            TcpOption::Sack(blocks) => 2 + 8 * blocks.len(),
            TcpOption::Timestamp { .. } => 10,
            TcpOption::Md5(digest) => 2 + digest.len(),
            TcpOption::FastOpen(cookie) => 2 + cookie.len(),
            TcpOption::FastOpenExp(cookie) => 4 + cookie.len(),
            TcpOption::Unsupported(_) => return None,
        })
    }
}
