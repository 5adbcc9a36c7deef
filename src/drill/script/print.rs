//! Writes the parts of a script back in packetdrill notation, one canonical
//! way: flags in the order `SFRPUEWA.`, options and fields with single
//! spaces, times in seconds without trailing zeros, numbers in decimal
//! (`tos` and `flowlabel` in hex). Reading what is printed gives back the
//! same value, so an expected packet and the actual one can be shown in the
//! script's own words.

use std::fmt::{self, Display, Formatter, Write};

use super::ast::*;
use super::lexer::{tokenize, Tok};

/// Microseconds as seconds: `100000` is `0.1`, `2000000` is `2`.
pub(crate) struct Seconds(pub i64);

impl Display for Seconds {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let micros = self.0.unsigned_abs();
        let (whole, fraction) = (micros / 1_000_000, micros % 1_000_000);
        if fraction == 0 {
            write!(f, "{sign}{whole}")
        } else {
            let digits = format!("{fraction:06}");
            write!(f, "{sign}{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// Writes `items` separated by `separator`.
fn join<T: Display>(f: &mut Formatter<'_>, items: &[T], separator: &str) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        item.fmt(f)?;
    }
    Ok(())
}

/// Writes bytes as a quoted string, escaping what is not printable ASCII.
fn quoted(f: &mut Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    f.write_char('"')?;
    for &b in bytes {
        match b {
            b'"' => f.write_str("\\\"")?,
            b'\\' => f.write_str("\\\\")?,
            b'\n' => f.write_str("\\n")?,
            b'\r' => f.write_str("\\r")?,
            b'\t' => f.write_str("\\t")?,
            0x0c => f.write_str("\\f")?,
            0x0b => f.write_str("\\v")?,
            0x20..=0x7e => f.write_char(char::from(b))?,
            _ => write!(f, "\\x{b:02x}")?,
        }
    }
    f.write_char('"')
}

fn hex(f: &mut Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
}

impl Display for Script {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for option in &self.options {
            writeln!(f, "{option}")?;
        }
        if let Some(command) = &self.init_command {
            writeln!(f, "{command}")?;
        }
        for event in &self.events {
            writeln!(f, "{event}")?;
        }
        if let Some(command) = &self.cleanup_command {
            writeln!(f, "{command}")?;
        }
        Ok(())
    }
}

/// True if `value` after `--name=` reads back as itself (see
/// `Parser::option_value`); otherwise it must be written as a string.
fn option_value_reads_back(value: &str) -> bool {
    let Ok(tokens) = tokenize(value) else {
        return false;
    };
    let kinds: Vec<&Tok> = tokens.iter().map(|t| &t.kind).collect();
    let plain = |kind: &Tok| {
        matches!(
            kind,
            Tok::Word | Tok::Int | Tok::Hex | Tok::Float | Tok::Ipv4 | Tok::Ipv6
        )
    };
    match kinds.as_slice() {
        [only, Tok::End] => plain(only),
        [Tok::Word, Tok::Punct('='), rhs, Tok::End] => {
            matches!(
                rhs,
                Tok::Word | Tok::Int | Tok::Hex | Tok::Float | Tok::Str(_) | Tok::Command
            )
        }
        _ => false,
    }
}

impl Display for HeaderOption {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "--{}", self.name)?;
        match &self.value {
            None => Ok(()),
            Some(value) if option_value_reads_back(value) => write!(f, "={value}"),
            // The text between the quotes is kept as written, escapes and all.
            Some(value) => write!(f, "=\"{value}\""),
        }
    }
}

impl Display for Event {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.time, self.action)
    }
}

impl Display for EventTime {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match *self {
            EventTime::Absolute(t) => write!(f, "{}", Seconds(t)),
            EventTime::Relative(t) => write!(f, "+{}", Seconds(t)),
            EventTime::Any => f.write_str("*"),
            EventTime::AbsoluteRange(a, b) => write!(f, "{}~{}", Seconds(a), Seconds(b)),
            EventTime::RelativeRange(a, b) => write!(f, "+{}~+{}", Seconds(a), Seconds(b)),
        }
    }
}

impl Display for Action {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Action::Packet(packet) => packet.fmt(f),
            Action::Syscall(syscall) => syscall.fmt(f),
            Action::Command(command) => command.fmt(f),
            Action::Code(code) => code.fmt(f),
            Action::Unsupported { source, .. } => f.write_str(source),
        }
    }
}

impl Display for Command {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.text)
    }
}

impl Display for Code {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "%{{ {} }}%", self.text)
    }
}

impl Display for Direction {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Inbound => "<",
            Direction::Outbound => ">",
        })
    }
}

impl Display for Packet {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.direction.fmt(f)?;
        for outer in &self.outer {
            write!(f, " {outer}")?;
        }
        if self.ip != IpInfo::default() {
            write!(f, " {}", self.ip)?;
        }
        let ports = |f: &mut Formatter<'_>| match self.ports {
            Some((src, dst)) => write!(f, " {src}>{dst}"),
            None => Ok(()),
        };
        match &self.body {
            PacketBody::Tcp(tcp) => {
                ports(f)?;
                write!(f, " {tcp}")
            }
            PacketBody::Udp { len } => {
                f.write_str(" udp")?;
                ports(f)?;
                write!(f, " ({len})")
            }
            PacketBody::Icmp(icmp) => write!(f, " {icmp}"),
        }
    }
}

impl Display for OuterIp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(if self.src.is_ipv6() { "ipv6" } else { "ipv4" })?;
        if self.ip != IpInfo::default() {
            write!(f, " {}", self.ip)?;
        }
        write!(f, " {} > {}:", self.src, self.dst)
    }
}

impl Display for IpInfo {
    /// `[ect0, flowlabel 0x12345]`; `[]` if nothing is set (a packet line
    /// leaves it out then).
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut items = Vec::new();
        if let Some(ecn) = self.ecn {
            items.push(ecn.to_string());
        }
        if let Some(tos) = self.tos {
            items.push(format!("tos {tos:#04x}"));
        }
        if let Some(label) = self.flow_label {
            items.push(format!("flowlabel {label:#x}"));
        }
        if let Some(ttl) = self.ttl {
            items.push(format!("ttl {ttl}"));
        }
        write!(f, "[{}]", items.join(", "))
    }
}

impl Display for Ecn {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ecn::NoEcn => "noecn",
            Ecn::Ect0 => "ect0",
            Ecn::Ect1 => "ect1",
            Ecn::Ect01 => "ect01",
            Ecn::Ce => "ce",
        })
    }
}

impl Display for TcpSpec {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}:{}({})",
            self.flags, self.start, self.end, self.len
        )?;
        if let Some(ack) = self.ack {
            write!(f, " ack {ack}")?;
        }
        if let Some(win) = self.win {
            write!(f, " win {win}")?;
        }
        if let Some(urg) = self.urg {
            write!(f, " urg {urg}")?;
        }
        match &self.options {
            TcpOptions::NotWritten => Ok(()),
            options => write!(f, " {options}"),
        }
    }
}

impl Display for TcpFlags {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_char('-');
        }
        let letters = [
            (self.syn, 'S'),
            (self.fin, 'F'),
            (self.rst, 'R'),
            (self.psh, 'P'),
            (self.urg, 'U'),
            (self.ece, 'E'),
            (self.cwr, 'W'),
            (self.ae, 'A'),
            (self.ack, '.'),
        ];
        letters
            .iter()
            .filter(|(set, _)| *set)
            .try_for_each(|(_, letter)| f.write_char(*letter))
    }
}

impl Display for TcpOptions {
    /// `<...>`, `<mss 1460,nop>`, or nothing when not written.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            TcpOptions::NotWritten => Ok(()),
            TcpOptions::Any => f.write_str("<...>"),
            TcpOptions::List(options) => {
                f.write_char('<')?;
                join(f, options, ",")?;
                f.write_char('>')
            }
        }
    }
}

impl Display for TcpOption {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            TcpOption::Nop => f.write_str("nop"),
            TcpOption::Eol => f.write_str("eol"),
            TcpOption::Mss(mss) => write!(f, "mss {mss}"),
            TcpOption::WScale(shift) => write!(f, "wscale {shift}"),
            TcpOption::SackOk => f.write_str("sackOK"),
            TcpOption::Sack(blocks) => {
                f.write_str("sack")?;
                blocks
                    .iter()
                    .try_for_each(|(left, right)| write!(f, " {left}:{right}"))
            }
            TcpOption::Timestamp { val, ecr } => write!(f, "TS val {val} ecr {ecr}"),
            TcpOption::Md5(digest) => {
                f.write_str("md5 ")?;
                hex(f, digest)
            }
            TcpOption::FastOpen(cookie) | TcpOption::FastOpenExp(cookie) => {
                let name = match self {
                    TcpOption::FastOpen(_) => "FO",
                    _ => "FOEXP",
                };
                f.write_str(name)?;
                if !cookie.is_empty() {
                    f.write_char(' ')?;
                    hex(f, cookie)?;
                }
                Ok(())
            }
            TcpOption::Unsupported(text) => f.write_str(text),
        }
    }
}

impl Display for IcmpSpec {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "icmp {}", self.kind)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if let Some(mtu) = self.mtu {
            write!(f, " mtu {mtu}")?;
        }
        if let Some(id) = self.id {
            write!(f, " id {id}")?;
        }
        if let Some(echoed) = &self.echoed {
            write!(f, " {echoed}")?;
        }
        Ok(())
    }
}

impl Display for Echoed {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Echoed::Tcp { start, end, len } => write!(f, "[{start}:{end}({len})]"),
            Echoed::Udp { len } => write!(f, "[udp ({len})]"),
            Echoed::Raw { len } => write!(f, "[raw ({len})]"),
        }
    }
}

impl Display for Syscall {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(end) = self.end_time {
            write!(f, "...{} ", Seconds(end))?;
        }
        write!(f, "{}(", self.name)?;
        join(f, &self.args, ", ")?;
        write!(f, ") = {}", self.result)?;
        if let Some(errno) = &self.errno {
            write!(f, " {errno}")?;
            if let Some(text) = &self.strerror {
                write!(f, " ({text})")?;
            }
        }
        if let Some(note) = &self.note {
            write!(f, " ({note})")?;
        }
        Ok(())
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Ellipsis => f.write_str("..."),
            Expr::Int(n) => write!(f, "{n}"),
            Expr::Word(word) => f.write_str(word),
            Expr::Str(bytes) => quoted(f, bytes),
            Expr::StrEllipsis(bytes) => {
                quoted(f, bytes)?;
                f.write_str("...")
            }
            Expr::Or(terms) => join(f, terms, "|"),
            Expr::Assign(name, value) => write!(f, "{name}={value}"),
            Expr::Array(items) => {
                f.write_char('[')?;
                join(f, items, ", ")?;
                f.write_char(']')
            }
            Expr::InetAddr(address) => write!(f, "inet_addr(\"{address}\")"),
            Expr::Inet6Addr(address) => write!(f, "inet6_addr(\"{address}\")"),
            Expr::Call(name, args) => {
                write!(f, "{name}(")?;
                join(f, args, ", ")?;
                f.write_char(')')
            }
            Expr::Struct(items) => {
                f.write_char('{')?;
                for (i, (name, value)) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if let Some(name) = name {
                        write!(f, "{name}=")?;
                    }
                    value.fmt(f)?;
                }
                f.write_char('}')
            }
            Expr::Msghdr(msg) => {
                write!(f, "{{msg_name(...)=..., msg_iov({})=[", msg.iov_len)?;
                join(f, &msg.iov, ", ")?;
                write!(f, "], msg_flags={}", msg.flags)?;
                if let Some(control) = &msg.control {
                    f.write_str(", msg_control=[")?;
                    join(f, control, ", ")?;
                    f.write_char(']')?;
                }
                f.write_char('}')
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    /// The action of the one event of `line` (a time and an action).
    fn action(line: &str) -> Action {
        let script = parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        script.events.into_iter().next().expect("one event").action
    }

    /// Parses `line`, prints its action, and checks that the printed text is
    /// `expected` and reads back as the same action.
    fn round_trip(line: &str, expected: &str) {
        let parsed = action(line);
        let printed = parsed.to_string();
        assert_eq!(printed, expected, "printing {line}");
        assert_eq!(action(&format!("0 {printed}")), parsed, "reading {printed}");
    }

    #[test]
    fn packets_print_in_packetdrill_notation() {
        round_trip(
            "0 > S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,wscale 4>",
            "> S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,wscale 4>",
        );
        round_trip(
            "0 <  .  1:1(0)   ack 1001 win 257",
            "< . 1:1(0) ack 1001 win 257",
        );
        round_trip("0 > - 1:1(0)", "> - 1:1(0)");
        round_trip("0 > WSEF. 1:1(0)", "> SFEW. 1:1(0)");
        round_trip("0 > FP. 1:11(10) ack 1 urg 3", "> FP. 1:11(10) ack 1 urg 3");
        round_trip("0 > S. 0:0(0) <...>", "> S. 0:0(0) <...>");
        round_trip(
            "0 < [ect0] 8080>9090 P. 1:1001(1000) ack 1",
            "< [ect0] 8080>9090 P. 1:1001(1000) ack 1",
        );
        round_trip(
            "0 < (tos 0x4,flowlabel 0x12345) . 1:1(0) ack 1",
            "< [tos 0x04, flowlabel 0x12345] . 1:1(0) ack 1",
        );
        round_trip("0 > [ect01] . 1:1(0) ack 1", "> [ect01] . 1:1(0) ack 1");
        round_trip("0 < [ttl 3] . 1:1(0)", "< [ttl 3] . 1:1(0)");
    }

    #[test]
    fn every_tcp_option_prints_back() {
        round_trip(
            "0 < . 1:1(0) <nop,eol,mss 536,wscale 14,sackOK,sack 1:2 3:4,TS val 1 ecr 4294967295>",
            "< . 1:1(0) <nop,eol,mss 536,wscale 14,sackOK,sack 1:2 3:4,TS val 1 ecr 4294967295>",
        );
        round_trip(
            "0 < S 0:0(0) <md5 000102030405060708090a0b0c0d0e0f>",
            "< S 0:0(0) <md5 000102030405060708090a0b0c0d0e0f>",
        );
        round_trip(
            "0 < S 0:0(0) <FO 112233445566,nop,FOEXP ABCD1234,FO,FOEXP>",
            "< S 0:0(0) <FO 112233445566,nop,FOEXP abcd1234,FO,FOEXP>",
        );
        round_trip(
            "0 < S 0:0(0) <ECN e1b 1 ceb 0 e0b 7>",
            "< S 0:0(0) <ECN e1b 1 ceb 0 e0b 7>",
        );
    }

    #[test]
    fn udp_and_icmp_print_back() {
        round_trip("0 < udp (100)", "< udp (100)");
        round_trip(
            "0 < [ce] udp 1>2 (0)".replace("[ce] ", "").as_str(),
            "< udp 1>2 (0)",
        );
        round_trip(
            "0 < icmp unreachable frag_needed mtu 1400 [1:1001(1000)]",
            "< icmp unreachable frag_needed mtu 1400 [1:1001(1000)]",
        );
        round_trip("0 < icmp echo_reply id 7", "< icmp echo_reply id 7");
        round_trip(
            "0 < icmp unreachable port_unreachable [udp (10)]",
            "< icmp unreachable port_unreachable [udp (10)]",
        );
        round_trip(
            "0 < icmp time_exceeded [raw (20)]",
            "< icmp time_exceeded [raw (20)]",
        );
    }

    #[test]
    fn outer_ip_headers_print_back() {
        round_trip(
            "0 < ipv4 192.0.2.1 > 192.0.2.2: . 1:1(0) ack 1",
            "< ipv4 192.0.2.1 > 192.0.2.2: . 1:1(0) ack 1",
        );
        round_trip(
            "0 > ipv6 [ect0] 2001:db8::1 > 2001:db8::2: udp (8)",
            "> ipv6 [ect0] 2001:db8::1 > 2001:db8::2: udp (8)",
        );
    }

    #[test]
    fn system_calls_print_back() {
        round_trip(
            "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
            "socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
        );
        round_trip(
            "0...0.010 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)",
            "...0.01 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)",
        );
        round_trip(
            "0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0x0 (flags O_RDWR)",
            "fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0 (flags O_RDWR)",
        );
        round_trip(
            "0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0",
            "setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0",
        );
        round_trip(
            "0 bind(3, {sa_family = AF_INET, sin_port = htons(8080), sin_addr = inet_addr(\"192.0.2.1\")}, 16) = 0",
            "bind(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr(\"192.0.2.1\")}, 16) = 0",
        );
        round_trip(
            "0 poll([{fd=3, events=POLLIN|POLLOUT, revents=POLLOUT}], 1, 0) = 1",
            "poll([{fd=3, events=POLLIN|POLLOUT, revents=POLLOUT}], 1, 0) = 1",
        );
        round_trip(
            "0 write(3, \"a\\\"b\" \"\\x00\\n\"..., 5) = 5",
            "write(3, \"a\\\"b\\x00\\n\"..., 5) = 5",
        );
        round_trip(
            "0 sendmsg(3, {msg_name(...)=..., msg_iov(1)=[{..., 100}], msg_flags=0, msg_control=[{cmsg_level=SOL_IP, cmsg_type=IP_TOS, cmsg_data=[1]}]}, 0) = 100",
            "sendmsg(3, {msg_name(...)=..., msg_iov(1)=[{..., 100}], msg_flags=0, msg_control=[{cmsg_level=SOL_IP, cmsg_type=IP_TOS, cmsg_data=[1]}]}, 0) = 100",
        );
        round_trip(
            "0 setsockopt(3, IPPROTO_IPV6, X, inet6_addr(\"::1\"), optlen=16) = 0",
            "setsockopt(3, IPPROTO_IPV6, X, inet6_addr(\"::1\"), optlen=16) = 0",
        );
        round_trip("0 close(3) = 0 (closing)", "close(3) = 0 (closing)");
        round_trip("0 f() = []", "f() = []");
    }

    #[test]
    fn commands_and_code_print_back() {
        round_trip("0 `echo a\nb`", "`echo a\nb`");
        round_trip("0 %{\nassert x == 1\n}%", "%{ \nassert x == 1\n }%");
    }

    #[test]
    fn times_print_in_seconds() {
        let time = |source: &str| {
            parse(&format!("{source} close(3) = 0"))
                .map(|s| s.events[0].time.to_string())
                .unwrap_or_else(|e| e.to_string())
        };
        assert_eq!(time("0"), "0");
        assert_eq!(time("1.5"), "1.5");
        assert_eq!(time("+.010"), "+0.01");
        assert_eq!(time("0.000001"), "0.000001");
        assert_eq!(Seconds(-1_500_000).to_string(), "-1.5");
        let range = parse("+0.1~+0.25 > . 1:1(0)").expect("parses");
        assert_eq!(range.events[0].time.to_string(), "+0.1~+0.25");
        let range = parse("* > . 1:1(0)").expect("parses");
        assert_eq!(range.events[0].time.to_string(), "*");
    }

    #[test]
    fn header_options_print_back() {
        let source = "--tolerance_usecs=10000\n--verbose\n--define=CC=\"reno\"\n\
                      --local_ip=fd::1\n--note=\"two words\"\n0 close(3) = 0\n";
        let script = parse(source).expect("parses");
        assert_eq!(script.options[2].value.as_deref(), Some("CC=\"reno\""));
        let printed = script.to_string();
        assert_eq!(
            printed,
            "--tolerance_usecs=10000\n--verbose\n--define=CC=\"reno\"\n\
             --local_ip=fd::1\n--note=\"two words\"\n0 close(3) = 0\n"
        );
    }
}
