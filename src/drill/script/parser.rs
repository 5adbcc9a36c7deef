//! Reads the tokens of a script into a [`Script`]: a recursive-descent
//! parser over packetdrill's grammar, one token of lookahead (two in a few
//! places), stopping at the first error.
//!
//! Events have no terminator: the next event starts where a time does, so
//! every optional part of an event (an `ack`, a note, a quoted ICMP packet)
//! is recognised by its first token.
//!
//! `--define=NAME=VALUE` header options and the caller's definitions
//! replace every word `NAME` after the header options (except keywords) by
//! the token `VALUE` reads as, as packetdrill does with `-D`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ast::*;
use super::lexer::{tokenize, Tok, Token};
use super::print::Seconds;
use super::ParseError;

/// Parses a whole script. Definitions come from its `--define` header
/// options only.
pub fn parse(source: &str) -> std::result::Result<Script, ParseError> {
    parse_with_definitions(source, &[])
}

/// Parses a whole script with definitions from outside it (packetdrill's
/// `-D NAME=VALUE`), which win over the script's own `--define` options.
pub fn parse_with_definitions(
    source: &str,
    definitions: &[(&str, &str)],
) -> std::result::Result<Script, ParseError> {
    let mut parser = Parser {
        source,
        tokens: tokenize(source)?,
        pos: 0,
        unsupported: None,
        depth: 0,
    };
    parser.script(definitions)
}

/// Words packetdrill's lexer reserves: a definition never replaces them.
const KEYWORDS: &[&str] = &[
    "ack",
    "ce",
    "ceb",
    "checksum",
    "cmsg_data",
    "cmsg_level",
    "cmsg_type",
    "e0b",
    "e1b",
    "ECN",
    "ecr",
    "ect0",
    "ect01",
    "ect1",
    "ee_code",
    "ee_data",
    "ee_errno",
    "ee_info",
    "ee_origin",
    "ee_type",
    "encap",
    "eol",
    "events",
    "fd",
    "Flags",
    "flags",
    "flowlabel",
    "FO",
    "FOEXP",
    "gre",
    "GREv0",
    "htons",
    "icmp",
    "id",
    "inet6_addr",
    "inet_addr",
    "ipv4",
    "ipv6",
    "key",
    "label",
    "linger",
    "md5",
    "mpls",
    "msg_control",
    "msg_flags",
    "msg_iov",
    "msg_name",
    "mss",
    "mtu",
    "noecn",
    "none",
    "nop",
    "off",
    "onoff",
    "present",
    "psp",
    "ptr",
    "raw",
    "revents",
    "sa_family",
    "sack",
    "sackOK",
    "scm_nsec",
    "scm_sec",
    "seq",
    "sequence",
    "sin_addr",
    "sin_port",
    "spi",
    "sum",
    "tc",
    "tos",
    "TS",
    "ttl",
    "u32",
    "u64",
    "udp",
    "urg",
    "val",
    "win",
    "wscale",
];

/// How deep arrays and braces may nest in an expression; deeper is an error
/// rather than a risk to the stack.
const MAX_DEPTH: usize = 64;

/// Bytes of TCP options a header has room for (60 - 20).
const MAX_TCP_OPTION_BYTES: usize = 40;

const SEQUENCE_RANGE: &str = "a sequence range like 1:1001(1000)";
const EVENT_TIME: &str = "an event time (like 0.1, +0.1, 0.1~0.2, +0.1~+0.2 or *)";
const TCP_OPTION: &str =
    "a TCP option (nop, eol, mss N, wscale N, sackOK, sack A:B, TS val N ecr N, md5 HEX, FO, FOEXP or ECN)";
const IP_FIELD: &str =
    "an IP field (noecn, ect0, ect1, ect01, ce, tos 0xNN, flowlabel 0xNNNNN or ttl N)";
const EXPRESSION: &str = "an expression (a number, a word, a string, '...', [array] or {struct})";

struct Parser<'s> {
    source: &'s str,
    /// Ends with one [`Tok::End`], which is never consumed.
    tokens: Vec<Token>,
    pos: usize,
    /// The first unsupported construct met in the event being parsed.
    unsupported: Option<String>,
    /// Nesting of the expression being parsed.
    depth: usize,
}

type Result<T> = std::result::Result<T, ParseError>;

/// How a token reads in an error message.
fn describe(token: &Token) -> String {
    match &token.kind {
        Tok::End => "the end of the script".to_string(),
        Tok::Str(_) => format!("the string \"{}\"", token.text),
        Tok::Command => "a shell command".to_string(),
        Tok::Code => "a code block".to_string(),
        Tok::HeaderOption => format!("'--{}'", token.text),
        _ => format!("'{}'", token.text),
    }
}

/// packetdrill's two rules on a script's times, which it checks as it runs
/// (not as it parses, so single events parse alone): the first event is at
/// 0, and an absolute time is not earlier than an absolute time just
/// before it.
pub fn check_times(script: &Script) -> std::result::Result<(), ParseError> {
    let events = &script.events;
    let start = |time: EventTime| match time {
        EventTime::Absolute(t) | EventTime::AbsoluteRange(t, _) => Some(t),
        _ => None,
    };
    let error = |event: &Event, message: String| ParseError {
        line: event.line,
        column: event.column,
        message,
    };
    if let Some(first) = events.first() {
        let at = match first.time {
            EventTime::Relative(d) | EventTime::RelativeRange(d, _) => Some(d),
            time => start(time),
        };
        if at.is_some_and(|t| t != 0) {
            return Err(error(
                first,
                "the first event must be at time 0 (the script's start)".to_string(),
            ));
        }
    }
    for pair in events.windows(2) {
        if let (Some(before), Some(after)) = (start(pair[0].time), start(pair[1].time)) {
            if after < before {
                return Err(error(
                    &pair[1],
                    format!(
                        "time goes backwards: {} after {}",
                        Seconds(after),
                        Seconds(before)
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn error_at(token: &Token, message: impl Into<String>) -> ParseError {
    ParseError {
        line: token.line,
        column: token.column,
        message: message.into(),
    }
}

/// Microseconds in a time written as whole seconds (`2`) or with a decimal
/// fraction (`0.100`, `.1`), computed from the digits: exact to the
/// microsecond, digits beyond it dropped (as packetdrill truncates).
fn microseconds(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut micros: i64 = 0;
    for i in 0..6 {
        let digit = match fraction.chars().nth(i) {
            Some(c) => c.to_digit(10)?,
            None => 0,
        };
        micros = micros * 10 + i64::from(digit);
    }
    whole.checked_mul(1_000_000)?.checked_add(micros)
}

/// What a word or number written for a hex string holds.
enum HexString {
    Bytes(Vec<u8>),
    OddDigits,
    /// A character that is not a hex digit.
    NotHex,
}

fn hex_string(text: &str) -> HexString {
    if !text.chars().all(|c| c.is_ascii_hexdigit()) {
        return HexString::NotHex;
    }
    if !text.len().is_multiple_of(2) {
        return HexString::OddDigits;
    }
    let pairs = (0..text.len()).step_by(2);
    match pairs
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16))
        .collect()
    {
        Ok(bytes) => HexString::Bytes(bytes),
        Err(_) => HexString::NotHex,
    }
}

impl Parser<'_> {
    // ----- tokens -----

    fn peek(&self) -> &Token {
        self.peek_at(0)
    }

    /// The token `ahead` places after the next one (the End token past the end).
    fn peek_at(&self, ahead: usize) -> &Token {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.pos + ahead).min(last)]
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != Tok::End {
            self.pos += 1;
        }
        token
    }

    fn is_punct(&self, c: char) -> bool {
        self.peek().kind == Tok::Punct(c)
    }

    fn is_word(&self, word: &str) -> bool {
        let token = self.peek();
        token.kind == Tok::Word && token.text == word
    }

    fn eat_punct(&mut self, c: char) -> bool {
        let found = self.is_punct(c);
        if found {
            self.bump();
        }
        found
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let found = self.is_word(word);
        if found {
            self.bump();
        }
        found
    }

    fn eat_ellipsis(&mut self) -> bool {
        let found = self.peek().kind == Tok::Ellipsis;
        if found {
            self.bump();
        }
        found
    }

    /// "expected WHAT, found NEXT-TOKEN", at the next token.
    fn expected(&self, what: &str) -> ParseError {
        let token = self.peek();
        error_at(token, format!("expected {what}, found {}", describe(token)))
    }

    fn expect_punct(&mut self, c: char, what: &str) -> Result<Token> {
        if self.is_punct(c) {
            Ok(self.bump())
        } else {
            Err(self.expected(what))
        }
    }

    fn expect_word(&mut self, word: &str, what: &str) -> Result<Token> {
        if self.is_word(word) {
            Ok(self.bump())
        } else {
            Err(self.expected(what))
        }
    }

    /// The source text from token `from` to the token before `to`.
    fn source_between(&self, from: usize, to: usize) -> String {
        let (Some(first), Some(last)) =
            (self.tokens.get(from), self.tokens.get(to.wrapping_sub(1)))
        else {
            return String::new();
        };
        self.source
            .get(first.start..last.end.max(first.start))
            .unwrap_or_default()
            .to_string()
    }

    fn mark_unsupported(&mut self, construct: impl Into<String>) {
        if self.unsupported.is_none() {
            self.unsupported = Some(construct.into());
        }
    }

    // ----- numbers -----

    /// The value of an integer token, or `None` if it is not one.
    fn integer_value(token: &Token) -> Option<Result<i128>> {
        let parsed = match token.kind {
            Tok::Int => token.text.parse::<i128>().ok(),
            Tok::Hex => token
                .text
                .get(2..)
                .and_then(|digits| u128::from_str_radix(digits, 16).ok())
                .and_then(|v| i128::try_from(v).ok()),
            _ => return None,
        };
        Some(parsed.ok_or_else(|| error_at(token, format!("number {} is too large", token.text))))
    }

    /// A number for a packet field named `what`, from 0 to `max`. A word
    /// there is a symbol the script expects to be defined: the event becomes
    /// unsupported and the value is `None`.
    fn field(&mut self, what: &str, max: u64) -> Result<Option<u64>> {
        let token = self.peek().clone();
        if self.is_symbol() {
            self.bump();
            self.mark_unsupported(format!("undefined symbol {}", token.text));
            return Ok(None);
        }
        let Some(value) = Self::integer_value(&token) else {
            return Err(self.expected(&format!("{what} (a number)")));
        };
        let value = value?;
        self.bump();
        match u64::try_from(value) {
            Ok(v) if v <= max => Ok(Some(v)),
            _ => Err(error_at(
                &token,
                format!("{what} must be 0 to {max}, not {value}"),
            )),
        }
    }

    /// True if the next token is a word that may be a defined symbol (a
    /// keyword never is).
    fn is_symbol(&self) -> bool {
        let token = self.peek();
        token.kind == Tok::Word && !KEYWORDS.contains(&token.text.as_str())
    }

    fn field_u32(&mut self, what: &str, max: u32) -> Result<Option<u32>> {
        // `field` keeps the value at most `max`, so it fits.
        Ok(self
            .field(what, u64::from(max))?
            .and_then(|v| u32::try_from(v).ok()))
    }

    /// A time in seconds (`2`, `0.100`, `.1`) as microseconds.
    fn time(&mut self, what: &str) -> Result<i64> {
        let token = self.peek().clone();
        if !matches!(token.kind, Tok::Int | Tok::Float) {
            return Err(self.expected(what));
        }
        self.bump();
        if token.text.starts_with('-') {
            return Err(error_at(&token, "a time cannot be negative"));
        }
        microseconds(&token.text)
            .ok_or_else(|| error_at(&token, format!("time {} is too large", token.text)))
    }

    // ----- script -----

    fn script(&mut self, definitions: &[(&str, &str)]) -> Result<Script> {
        let options = self.header_options()?;
        let mut defined: HashMap<String, String> = HashMap::new();
        for option in options.iter().filter(|o| o.name == "define") {
            match option.value.as_deref().and_then(|v| v.split_once('=')) {
                Some((name, value)) if !name.is_empty() => {
                    defined.insert(name.to_string(), value.to_string());
                }
                _ => {
                    return Err(ParseError {
                        line: option.line,
                        column: option.column,
                        message: "--define needs a name and a value, like --define=MSS=1460"
                            .to_string(),
                    })
                }
            }
        }
        for (name, value) in definitions {
            defined.insert(name.to_string(), value.to_string());
        }
        self.substitute(&defined);

        let init_command = match self.peek().kind {
            Tok::Command => Some(self.command()),
            _ => None,
        };
        let mut events = Vec::new();
        let mut cleanup_command = None;
        loop {
            match self.peek().kind {
                Tok::End => break,
                Tok::Command if self.peek_at(1).kind == Tok::End && !events.is_empty() => {
                    cleanup_command = Some(self.command());
                    break;
                }
                Tok::Command => {
                    return Err(error_at(
                        self.peek(),
                        "expected an event time before this shell command (only the first \
                         and the last command of a script may go without one)",
                    ))
                }
                Tok::HeaderOption => {
                    return Err(error_at(
                        self.peek(),
                        "header options (--name=value) must come before the first event",
                    ))
                }
                _ => events.push(self.event()?),
            }
        }
        if events.is_empty() {
            return Err(self.expected(
                "an event: a time, then a packet, a system call, a shell command or a code block",
            ));
        }
        Ok(Script {
            options,
            init_command,
            events,
            cleanup_command,
        })
    }

    fn header_options(&mut self) -> Result<Vec<HeaderOption>> {
        let mut options = Vec::new();
        while self.peek().kind == Tok::HeaderOption {
            let token = self.bump();
            let value = if self.eat_punct('=') {
                Some(self.option_value(&token.text)?)
            } else {
                None
            };
            options.push(HeaderOption {
                name: token.text,
                value,
                line: token.line,
                column: token.column,
            });
        }
        Ok(options)
    }

    fn option_value(&mut self, name: &str) -> Result<String> {
        let token = self.peek().clone();
        match token.kind {
            Tok::Int | Tok::Hex | Tok::Float | Tok::Ipv4 | Tok::Ipv6 | Tok::Str(_) => {
                self.bump();
                Ok(token.text)
            }
            Tok::Word => {
                self.bump();
                if !self.eat_punct('=') {
                    return Ok(token.text);
                }
                // --define=NAME=VALUE: keep the quotes that say what VALUE is.
                let value = self.peek().clone();
                let value = match value.kind {
                    Tok::Word | Tok::Int | Tok::Hex | Tok::Float => value.text,
                    Tok::Str(_) => format!("\"{}\"", value.text),
                    Tok::Command => format!("`{}`", value.text),
                    _ => {
                        return Err(
                            self.expected(&format!("a value after '{}=' in --{name}", token.text))
                        )
                    }
                };
                self.bump();
                Ok(format!("{}={value}", token.text))
            }
            _ => Err(self.expected(&format!("the value of --{name}"))),
        }
    }

    /// Replaces each defined word after the header options by the token its
    /// value reads as (a word if it reads as several tokens).
    fn substitute(&mut self, defined: &HashMap<String, String>) {
        if defined.is_empty() {
            return;
        }
        for token in &mut self.tokens[self.pos..] {
            if token.kind != Tok::Word || KEYWORDS.contains(&token.text.as_str()) {
                continue;
            }
            let Some(value) = defined.get(&token.text) else {
                continue;
            };
            let (kind, text) = match tokenize(value).as_deref() {
                Ok([only, end]) if end.kind == Tok::End => (only.kind.clone(), only.text.clone()),
                _ => (Tok::Word, value.clone()),
            };
            token.kind = kind;
            token.text = text;
        }
    }

    fn command(&mut self) -> Command {
        let token = self.bump();
        Command {
            line: token.line,
            text: token.text,
        }
    }

    // ----- events -----

    fn event(&mut self) -> Result<Event> {
        let first = self.peek().clone();
        let time = self.event_time()?;
        self.unsupported = None;
        let action_start = self.pos;
        let (action, outbound_packet) = self.action()?;
        let action = match self.unsupported.take() {
            Some(construct) => Action::Unsupported {
                construct,
                source: self.source_between(action_start, self.pos),
            },
            None => action,
        };
        if !outbound_packet {
            match time {
                EventTime::Any => {
                    return Err(error_at(
                        &first,
                        "'*' (any time) can only be used for outbound packets ('>')",
                    ))
                }
                EventTime::AbsoluteRange(..) | EventTime::RelativeRange(..) => {
                    return Err(error_at(
                        &first,
                        "a time range can only be used for outbound packets ('>')",
                    ))
                }
                _ => {}
            }
        }
        Ok(Event {
            line: first.line,
            column: first.column,
            time,
            action,
        })
    }

    fn event_time(&mut self) -> Result<EventTime> {
        if self.eat_punct('*') {
            return Ok(EventTime::Any);
        }
        if self.eat_punct('+') {
            let start = self.time("a time after '+', like +0.1")?;
            if !self.eat_punct('~') {
                return Ok(EventTime::Relative(start));
            }
            self.expect_punct(
                '+',
                "'+' and the end of the relative time range, like +0.1~+0.2",
            )?;
            let end_token = self.peek().clone();
            let end = self.time("the end of the time range, like +0.1~+0.2")?;
            if end < start {
                return Err(error_at(&end_token, "time range is backwards"));
            }
            return Ok(EventTime::RelativeRange(start, end));
        }
        if !matches!(self.peek().kind, Tok::Int | Tok::Float) {
            return Err(self.expected(EVENT_TIME));
        }
        let start = self.time(EVENT_TIME)?;
        if !self.eat_punct('~') {
            return Ok(EventTime::Absolute(start));
        }
        let end_token = self.peek().clone();
        let end = self.time(
            "the end of the time range, like 0.1~0.2 (both ends absolute or both relative)",
        )?;
        if end < start {
            return Err(error_at(&end_token, "time range is backwards"));
        }
        Ok(EventTime::AbsoluteRange(start, end))
    }

    /// The action, and whether it is an outbound packet.
    fn action(&mut self) -> Result<(Action, bool)> {
        let token = self.peek().clone();
        match token.kind {
            Tok::Punct('<' | '>') => {
                let packet = self.packet()?;
                let outbound = packet.direction == Direction::Outbound;
                Ok((Action::Packet(packet), outbound))
            }
            Tok::Command => Ok((Action::Command(self.command()), false)),
            Tok::Code => {
                self.bump();
                Ok((
                    Action::Code(Code {
                        line: token.line,
                        text: token.text,
                    }),
                    false,
                ))
            }
            Tok::Ellipsis | Tok::Word => Ok((Action::Syscall(self.syscall()?), false)),
            _ => Err(self.expected(
                "a packet ('<' or '>'), a system call, a shell command or a code block after the time",
            )),
        }
    }

    // ----- packets -----

    fn packet(&mut self) -> Result<Packet> {
        let direction = match self.bump().kind {
            Tok::Punct('<') => Direction::Inbound,
            _ => Direction::Outbound,
        };
        let mut outer = Vec::new();
        loop {
            if self.is_word("ipv4") || self.is_word("ipv6") {
                outer.push(self.outer_ip()?);
            } else if self.is_word("gre") || self.is_word("GREv0") {
                self.gre_prefix()?;
                self.mark_unsupported("gre");
            } else if self.is_word("mpls") {
                self.mpls_prefix()?;
                self.mark_unsupported("mpls");
            } else {
                break;
            }
        }
        let ip_token = self.peek().clone();
        let ip = self.ip_info()?;
        if ip.ecn == Some(Ecn::Ect01) && direction == Direction::Inbound {
            return Err(error_at(
                &ip_token,
                "[ect01] can only be used for outbound packets ('>')",
            ));
        }
        let (ports, body) = if self.is_word("udp") {
            if ip.ecn.is_some_and(|ecn| ecn != Ecn::Ect01) {
                return Err(error_at(&ip_token, "ECN can only be used with TCP packets"));
            }
            self.bump();
            let ports = self.ports()?;
            self.expect_punct('(', "'(' and the UDP payload length, like udp (100)")?;
            let len = self.field_u32("UDP payload length", 0xffff)?.unwrap_or(0);
            self.expect_punct(')', "')' after the UDP payload length")?;
            (ports, PacketBody::Udp { len })
        } else if self.is_word("icmp") {
            (None, PacketBody::Icmp(self.icmp()?))
        } else {
            if self.is_word("encap") {
                self.psp_encapsulation()?;
                self.mark_unsupported("psp");
            }
            let ports = self.ports()?;
            (ports, PacketBody::Tcp(self.tcp(direction)?))
        };
        Ok(Packet {
            direction,
            outer,
            ip,
            ports,
            body,
        })
    }

    /// `ipv4 [IP INFO] A > B:` (or ipv6).
    fn outer_ip(&mut self) -> Result<OuterIp> {
        let v6 = self.bump().text == "ipv6";
        let ip = self.ip_info()?;
        let src = self.address(v6)?;
        self.expect_punct('>', "'>' between the source and destination addresses")?;
        let dst = self.address(v6)?;
        self.expect_punct(':', "':' after the addresses of an IP header")?;
        Ok(OuterIp { ip, src, dst })
    }

    fn address(&mut self, v6: bool) -> Result<IpAddr> {
        let token = self.peek().clone();
        let address = match (v6, &token.kind) {
            (false, Tok::Ipv4) => token.text.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
            (true, Tok::Ipv6) => token.text.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
            (false, _) => return Err(self.expected("an IPv4 address, like 192.0.2.1")),
            (true, _) => return Err(self.expected("an IPv6 address, like 2001:db8::1")),
        };
        self.bump();
        address.ok_or_else(|| error_at(&token, format!("invalid IP address {}", token.text)))
    }

    /// `[ect0]`, `(tos 0x10, flowlabel 0x1)`, ... or nothing.
    fn ip_info(&mut self) -> Result<IpInfo> {
        let close = match self.peek().kind {
            Tok::Punct('[') => ']',
            Tok::Punct('(') => ')',
            _ => return Ok(IpInfo::default()),
        };
        self.bump();
        let mut info = IpInfo::default();
        loop {
            let token = self.peek().clone();
            let twice = || error_at(&token, format!("{} is written twice", token.text));
            let ecn = match token.text.as_str() {
                _ if token.kind != Tok::Word => None,
                "noecn" => Some(Ecn::NoEcn),
                "ect0" => Some(Ecn::Ect0),
                "ect1" => Some(Ecn::Ect1),
                "ect01" => Some(Ecn::Ect01),
                "ce" => Some(Ecn::Ce),
                _ => None,
            };
            if let Some(ecn) = ecn {
                if info.ecn.is_some() || info.tos.is_some() {
                    return Err(error_at(
                        &token,
                        "the ECN field is set twice (ECN and tos both set it)",
                    ));
                }
                self.bump();
                info.ecn = Some(ecn);
            } else if self.eat_word("tos") {
                if info.ecn.is_some() || info.tos.is_some() {
                    return Err(error_at(
                        &token,
                        "the TOS byte is set twice (ECN and tos both set it)",
                    ));
                }
                info.tos = Some(self.field("tos", 0xff)?.unwrap_or(0) as u8);
            } else if self.eat_word("flowlabel") {
                if info.flow_label.is_some() {
                    return Err(twice());
                }
                info.flow_label = Some(self.field_u32("flowlabel", 0xf_ffff)?.unwrap_or(0));
            } else if self.eat_word("ttl") {
                if info.ttl.is_some() {
                    return Err(twice());
                }
                info.ttl = Some(self.field("ttl", 0xff)?.unwrap_or(0) as u8);
            } else {
                return Err(self.expected(IP_FIELD));
            }
            if self.eat_punct(',') {
                continue;
            }
            self.expect_punct(close, &format!("',' or '{close}' in the IP fields"))?;
            return Ok(info);
        }
    }

    /// `SRC>DST` ports, if written.
    fn ports(&mut self) -> Result<Option<(u16, u16)>> {
        if !(self.peek().kind == Tok::Int && self.peek_at(1).kind == Tok::Punct('>')) {
            return Ok(None);
        }
        let src = self.field("source port", 0xffff)?.unwrap_or(0) as u16;
        self.bump();
        let dst = self.field("destination port", 0xffff)?.unwrap_or(0) as u16;
        Ok(Some((src, dst)))
    }

    fn tcp(&mut self, direction: Direction) -> Result<TcpSpec> {
        let flags = self.tcp_flags()?;
        let (start, end, len) = self.sequence_range()?;
        let mut ack = None;
        let mut win = None;
        let mut urg = None;
        loop {
            let token = self.peek().clone();
            let (slot, max) = match token.text.as_str() {
                _ if token.kind != Tok::Word => break,
                "ack" => (&mut ack, u32::MAX),
                "win" => (&mut win, 0xffff),
                "urg" => (&mut urg, 0xffff),
                _ => break,
            };
            if slot.is_some() {
                return Err(error_at(&token, format!("{} is written twice", token.text)));
            }
            self.bump();
            *slot = Some(self.field_u32(&token.text, max)?.unwrap_or(0));
        }
        let options = self.tcp_options(direction)?;
        Ok(TcpSpec {
            flags,
            start,
            end,
            len,
            ack,
            win,
            urg,
            options,
        })
    }

    fn tcp_flags(&mut self) -> Result<TcpFlags> {
        let token = self.peek().clone();
        let text = match token.kind {
            Tok::Punct('-') => {
                self.bump();
                return Ok(TcpFlags::default());
            }
            Tok::Punct('.') | Tok::Float => {
                self.bump();
                token.text.clone()
            }
            Tok::Word => {
                self.bump();
                let next = self.peek().clone();
                match next.kind {
                    Tok::Punct('.') | Tok::Float => {
                        self.bump();
                        format!("{}{}", token.text, next.text)
                    }
                    _ => token.text.clone(),
                }
            }
            Tok::Int => {
                return Err(self.expected(
                    "TCP flags (like S, S., P., F., R, . or -) before the sequence range",
                ))
            }
            _ => {
                return Err(self
                    .expected("a packet: TCP flags (like S, S., P., F., R, . or -), udp or icmp"))
            }
        };
        let mut flags = TcpFlags::default();
        let mut ace = false;
        let mut ecn_letter = false;
        for c in text.chars() {
            match c {
                'S' => flags.syn = true,
                'F' => flags.fin = true,
                'R' => flags.rst = true,
                'P' => flags.psh = true,
                '.' => flags.ack = true,
                'U' => flags.urg = true,
                'E' | 'W' | 'A' | '0'..='7' => {
                    let digit = c.to_digit(8);
                    if ace || (digit.is_some() && ecn_letter) {
                        return Err(error_at(
                            &token,
                            format!(
                                "conflicting TCP flag '{c}' in '{text}': an ACE digit (0-7) \
                                 sets E, W and A, so it goes alone"
                            ),
                        ));
                    }
                    match digit {
                        Some(ace_value) => {
                            ace = true;
                            flags.ece = ace_value & 1 != 0;
                            flags.cwr = ace_value & 2 != 0;
                            flags.ae = ace_value & 4 != 0;
                        }
                        None => {
                            ecn_letter = true;
                            match c {
                                'E' => flags.ece = true,
                                'W' => flags.cwr = true,
                                _ => flags.ae = true,
                            }
                        }
                    }
                }
                _ => {
                    return Err(error_at(
                        &token,
                        format!(
                            "invalid TCP flag '{c}' in '{text}' (flags are S F R P U E W A and \
                             '.', or an ACE digit 0-7; '-' for none)"
                        ),
                    ))
                }
            }
        }
        Ok(flags)
    }

    /// `START:END(LEN)`, checked: each fits its field and END = START + LEN.
    fn sequence_range(&mut self) -> Result<(u32, u32, u32)> {
        if !(matches!(self.peek().kind, Tok::Int | Tok::Hex) || self.is_symbol()) {
            return Err(self.expected(SEQUENCE_RANGE));
        }
        let start = self.field_u32("TCP start sequence number", u32::MAX)?;
        self.expect_punct(':', SEQUENCE_RANGE)?;
        if !(matches!(self.peek().kind, Tok::Int | Tok::Hex) || self.is_symbol()) {
            return Err(self.expected(SEQUENCE_RANGE));
        }
        let end_token = self.peek().clone();
        let end = self.field_u32("TCP end sequence number", u32::MAX)?;
        self.expect_punct('(', SEQUENCE_RANGE)?;
        if !(matches!(self.peek().kind, Tok::Int | Tok::Hex) || self.is_symbol()) {
            return Err(self.expected(SEQUENCE_RANGE));
        }
        let len = self.field_u32("TCP payload length", 0xffff)?;
        self.expect_punct(')', SEQUENCE_RANGE)?;
        match (start, end, len) {
            (Some(start), Some(end), Some(len)) => {
                if u64::from(start) + u64::from(len) != u64::from(end) {
                    return Err(error_at(
                        &end_token,
                        format!(
                            "inconsistent sequence range: {start} plus {len} bytes ends at {}, not {end}",
                            u64::from(start) + u64::from(len)
                        ),
                    ));
                }
                Ok((start, end, len))
            }
            // A symbol: the event is unsupported, the values do not matter.
            _ => Ok((0, 0, 0)),
        }
    }

    fn tcp_options(&mut self, direction: Direction) -> Result<TcpOptions> {
        if !self.is_punct('<') {
            return Ok(TcpOptions::NotWritten);
        }
        let open = self.bump();
        if self.eat_ellipsis() {
            self.expect_punct('>', "'>' after '<...'")?;
            if direction == Direction::Inbound {
                return Err(error_at(
                    &open,
                    "<...> (any TCP options) can only be used for outbound packets ('>')",
                ));
            }
            return Ok(TcpOptions::Any);
        }
        let mut options = Vec::new();
        loop {
            options.push(self.tcp_option()?);
            if self.eat_punct(',') {
                continue;
            }
            self.expect_punct('>', "',' or '>' after a TCP option")?;
            break;
        }
        let bytes: usize = options.iter().filter_map(TcpOption::wire_len).sum();
        if bytes > MAX_TCP_OPTION_BYTES {
            return Err(error_at(
                &open,
                format!(
                    "these TCP options take {bytes} bytes, more than the \
                     {MAX_TCP_OPTION_BYTES} a TCP header has room for"
                ),
            ));
        }
        Ok(TcpOptions::List(options))
    }

    fn tcp_option(&mut self) -> Result<TcpOption> {
        let token = self.peek().clone();
        if token.kind != Tok::Word {
            return Err(self.expected(TCP_OPTION));
        }
        let option = match token.text.as_str() {
            "nop" => {
                self.bump();
                TcpOption::Nop
            }
            "eol" => {
                self.bump();
                TcpOption::Eol
            }
            "sackOK" => {
                self.bump();
                TcpOption::SackOk
            }
            "mss" => {
                self.bump();
                TcpOption::Mss(self.field("mss", 0xffff)?.unwrap_or(0) as u16)
            }
            "wscale" => {
                self.bump();
                TcpOption::WScale(self.field("wscale", 0xff)?.unwrap_or(0) as u8)
            }
            "sack" => {
                self.bump();
                let mut blocks = Vec::new();
                while matches!(self.peek().kind, Tok::Int | Tok::Hex)
                    || (blocks.is_empty() && self.is_symbol())
                {
                    let left = self.field_u32("SACK block start", u32::MAX)?.unwrap_or(0);
                    self.expect_punct(':', "':' in a SACK block, like sack 1001:2001")?;
                    let right = self.field_u32("SACK block end", u32::MAX)?.unwrap_or(0);
                    blocks.push((left, right));
                }
                if blocks.is_empty() {
                    return Err(self.expected("a SACK block, like sack 1001:2001"));
                }
                TcpOption::Sack(blocks)
            }
            "TS" => {
                self.bump();
                self.expect_word("val", "'val' and the timestamp, like TS val 100 ecr 0")?;
                let val = self.field_u32("TS val", u32::MAX)?.unwrap_or(0);
                self.expect_word(
                    "ecr",
                    "'ecr' and the echoed timestamp, like TS val 100 ecr 0",
                )?;
                let ecr = self.field_u32("TS ecr", u32::MAX)?.unwrap_or(0);
                TcpOption::Timestamp { val, ecr }
            }
            "md5" => {
                self.bump();
                if !matches!(self.peek().kind, Tok::Word | Tok::Int) {
                    return Err(self.expected("the MD5 digest in hex"));
                }
                TcpOption::Md5(self.hex_blob("MD5 digest", 16)?)
            }
            "FO" | "FOEXP" => {
                self.bump();
                let exp = token.text == "FOEXP";
                let cookie = if self.peek().kind == Tok::Int || self.is_symbol() {
                    let room = MAX_TCP_OPTION_BYTES - if exp { 4 } else { 2 };
                    self.hex_blob("TCP Fast Open cookie", room)?
                } else {
                    Vec::new()
                };
                if exp {
                    TcpOption::FastOpenExp(cookie)
                } else {
                    TcpOption::FastOpen(cookie)
                }
            }
            "ECN" => TcpOption::Unsupported(self.accecn_option()?),
            other => {
                return Err(error_at(
                    &token,
                    format!("unknown TCP option '{other}'; expected {TCP_OPTION}"),
                ))
            }
        };
        Ok(option)
    }

    /// A string of hex digit pairs (a word or an all-digit number) of at most
    /// `max` bytes. Any other word is an undefined symbol.
    fn hex_blob(&mut self, what: &str, max: usize) -> Result<Vec<u8>> {
        let token = self.bump();
        match hex_string(&token.text) {
            HexString::NotHex
                if token.kind == Tok::Word && !KEYWORDS.contains(&token.text.as_str()) =>
            {
                self.mark_unsupported(format!("undefined symbol {}", token.text));
                Ok(Vec::new())
            }
            HexString::NotHex => Err(error_at(
                &token,
                format!("expected the {what} in hex, found '{}'", token.text),
            )),
            HexString::OddDigits => Err(error_at(
                &token,
                format!("{what} '{}' has an odd number of hex digits", token.text),
            )),
            HexString::Bytes(bytes) if bytes.len() > max => Err(error_at(
                &token,
                format!(
                    "{what} of {} bytes is longer than the {max} that fit",
                    bytes.len()
                ),
            )),
            HexString::Bytes(bytes) => Ok(bytes),
        }
    }

    /// AccECN's `ECN e0b N [ceb N [e1b N]]` (or starting with e1b), as text.
    fn accecn_option(&mut self) -> Result<String> {
        let mut text = self.bump().text;
        let mut seen: Vec<String> = Vec::new();
        loop {
            let token = self.peek().clone();
            let name = token.text.as_str();
            let allowed = match seen.len() {
                0 => name == "e0b" || name == "e1b",
                1 => name == "ceb",
                2 => (name == "e0b" || name == "e1b") && !seen.iter().any(|s| s == name),
                _ => false,
            };
            if token.kind != Tok::Word || !allowed {
                if seen.is_empty() {
                    return Err(
                        self.expected("e0b or e1b and a counter, like ECN e0b 1 ceb 0 e1b 0")
                    );
                }
                return Ok(text);
            }
            self.bump();
            let value = self
                .field(&format!("AccECN {name} counter"), 0xff_ffff)?
                .unwrap_or(0);
            text.push_str(&format!(" {} {value}", token.text));
            seen.push(token.text);
        }
    }

    fn icmp(&mut self) -> Result<IcmpSpec> {
        self.bump();
        if self.peek().kind != Tok::Word {
            return Err(self.expected("the ICMP type, like unreachable or echo_request"));
        }
        let kind = self.bump().text;
        let code = if self.peek().kind == Tok::Word && !self.is_word("mtu") && !self.is_word("id") {
            Some(self.bump().text)
        } else {
            None
        };
        let mtu = if self.eat_word("mtu") {
            Some(self.field_u32("ICMP mtu", u32::MAX)?.unwrap_or(0))
        } else {
            None
        };
        let id = if self.eat_word("id") {
            Some(self.field_u32("ICMP echo id", 0xffff)?.unwrap_or(0))
        } else {
            None
        };
        let echoed = if self.eat_punct('[') {
            let echoed = if self.is_word("udp") || self.is_word("raw") {
                let udp = self.bump().text == "udp";
                self.expect_punct(
                    '(',
                    "'(' and the length of the quoted packet, like [udp (100)]",
                )?;
                let len = self
                    .field_u32("quoted payload length", 0xffff)?
                    .unwrap_or(0);
                self.expect_punct(')', "')' after the length of the quoted packet")?;
                if udp {
                    Echoed::Udp { len }
                } else {
                    Echoed::Raw { len }
                }
            } else {
                let (start, end, len) = self.sequence_range()?;
                Echoed::Tcp { start, end, len }
            };
            self.expect_punct(']', "']' after the quoted packet")?;
            Some(echoed)
        } else {
            None
        };
        Ok(IcmpSpec {
            kind,
            code,
            mtu,
            id,
            echoed,
        })
    }

    /// A number in a construct that is only checked for its syntax.
    fn any_int(&mut self, what: &str) -> Result<()> {
        match self.peek().kind {
            Tok::Int | Tok::Hex | Tok::Word => {
                self.bump();
                Ok(())
            }
            _ => Err(self.expected(what)),
        }
    }

    /// `encap psp spi N`.
    fn psp_encapsulation(&mut self) -> Result<()> {
        self.bump();
        self.expect_word("psp", "'psp' after 'encap', like encap psp spi 7")?;
        self.expect_word(
            "spi",
            "'spi' and the security parameter index, like encap psp spi 7",
        )?;
        self.any_int("the security parameter index, like spi 7")
    }

    /// `gre:` or `gre flags ... sum N off N key N seq N:`.
    fn gre_prefix(&mut self) -> Result<()> {
        self.bump();
        if self.eat_punct(':') {
            return Ok(());
        }
        self.eat_punct(',');
        self.gre_header()?;
        self.expect_punct(':', "':' after the GRE header")?;
        Ok(())
    }

    fn gre_header(&mut self) -> Result<()> {
        if !(self.eat_word("flags") || self.eat_word("Flags")) {
            return Err(self.expected("'flags' and the GRE flags"));
        }
        if self.eat_punct('[') {
            loop {
                if self.eat_word("checksum") || self.eat_word("key") {
                    self.expect_word("present", "'present'")?;
                } else if self.eat_word("sequence") {
                    self.expect_punct('#', "'#' in 'sequence# present'")?;
                    self.expect_word("present", "'present'")?;
                } else if !self.eat_word("none") {
                    return Err(self.expected(
                        "a GRE flag: none, checksum present, key present or sequence# present",
                    ));
                }
                if !self.eat_punct(',') {
                    break;
                }
            }
            self.expect_punct(']', "']' after the GRE flags")?;
        } else {
            self.any_int("the GRE flags, a number or [list]")?;
        }
        for (field, example) in [
            ("sum", "sum 0"),
            ("off", "off 0"),
            ("key", "key 0"),
            ("seq", "seq 0"),
        ] {
            self.eat_punct(',');
            self.expect_word(field, &format!("the GRE '{field}' field, like {example}"))?;
            if field == "key" {
                self.eat_punct('=');
            }
            self.any_int(&format!("the GRE {field} value, like {example}"))?;
        }
        Ok(())
    }

    /// `mpls (label N, tc N, [S], ttl N)...:`.
    fn mpls_prefix(&mut self) -> Result<()> {
        self.bump();
        self.mpls_stack()?;
        self.expect_punct(':', "':' after the MPLS label stack")?;
        Ok(())
    }

    fn mpls_stack(&mut self) -> Result<()> {
        const ENTRY: &str = "an MPLS label stack entry like (label 1, tc 0, [S], ttl 255)";
        while self.eat_punct('(') {
            self.expect_word("label", ENTRY)?;
            self.any_int(ENTRY)?;
            self.expect_punct(',', ENTRY)?;
            self.expect_word("tc", ENTRY)?;
            self.any_int(ENTRY)?;
            self.expect_punct(',', ENTRY)?;
            if self.eat_punct('[') {
                self.expect_word("S", "'S' (bottom of stack) in [S]")?;
                self.expect_punct(']', ENTRY)?;
                self.expect_punct(',', ENTRY)?;
            }
            self.expect_word("ttl", ENTRY)?;
            self.any_int(ENTRY)?;
            self.expect_punct(')', ENTRY)?;
        }
        Ok(())
    }

    // ----- system calls -----

    fn syscall(&mut self) -> Result<Syscall> {
        let end_time = if self.eat_ellipsis() {
            Some(self.time("the time the call returns after '...', like ...0.010")?)
        } else {
            None
        };
        if self.peek().kind != Tok::Word {
            return Err(self.expected("the name of a system call"));
        }
        let name = self.bump().text;
        self.expect_punct('(', &format!("'(' and the arguments of {name}()"))?;
        let mut args = Vec::new();
        if !self.eat_punct(')') {
            loop {
                args.push(self.expr()?);
                if self.eat_punct(',') {
                    continue;
                }
                self.expect_punct(')', &format!("',' or ')' in the arguments of {name}()"))?;
                break;
            }
        }
        self.expect_punct('=', &format!("'=' and the expected result of {name}()"))?;
        let result = self.expr()?;
        let (errno, strerror) = if self.peek().kind == Tok::Word {
            let errno = self.bump().text;
            if !self.is_punct('(') {
                return Err(self.expected(&format!(
                    "'(' and a description of {errno}, like {errno} (Operation now in progress)"
                )));
            }
            (Some(errno), Some(self.note()?))
        } else {
            (None, None)
        };
        let note = if self.is_punct('(') {
            Some(self.note()?)
        } else {
            None
        };
        Ok(Syscall {
            name,
            args,
            end_time,
            result,
            errno,
            strerror,
            note,
        })
    }

    /// `(words ...)`, the words joined by single spaces.
    fn note(&mut self) -> Result<String> {
        self.bump();
        let mut words: Vec<String> = Vec::new();
        while matches!(
            self.peek().kind,
            Tok::Word | Tok::Int | Tok::Hex | Tok::Float
        ) {
            words.push(self.bump().text);
        }
        if words.is_empty() {
            return Err(self.expected("the words of a note, like (Connection refused)"));
        }
        self.expect_punct(')', "')' at the end of the note")?;
        Ok(words.join(" "))
    }

    fn expr(&mut self) -> Result<Expr> {
        if self.depth >= MAX_DEPTH {
            return Err(error_at(self.peek(), "expression nested too deeply"));
        }
        self.depth += 1;
        let result = self.or_expr();
        self.depth -= 1;
        result
    }

    fn or_expr(&mut self) -> Result<Expr> {
        let first = self.primary()?;
        if !self.is_punct('|') {
            return Ok(first);
        }
        // A term is never an or itself (`a|b=c|d` is `a|(b=(c|d))`, as in
        // packetdrill), so the list is flat.
        let mut terms = vec![first];
        while self.eat_punct('|') {
            terms.push(self.primary()?);
        }
        Ok(Expr::Or(terms))
    }

    fn primary(&mut self) -> Result<Expr> {
        let token = self.peek().clone();
        match &token.kind {
            Tok::Ellipsis => {
                self.bump();
                Ok(Expr::Ellipsis)
            }
            Tok::Int | Tok::Hex => {
                self.bump();
                let value = Self::integer_value(&token).unwrap_or(Ok(0))?;
                i64::try_from(value)
                    .map(Expr::Int)
                    .map_err(|_| error_at(&token, format!("number {} is too large", token.text)))
            }
            Tok::Str(_) => {
                let mut bytes = Vec::new();
                while let Tok::Str(more) = &self.peek().kind {
                    bytes.extend_from_slice(more);
                    self.bump();
                }
                if self.eat_ellipsis() {
                    Ok(Expr::StrEllipsis(bytes))
                } else {
                    Ok(Expr::Str(bytes))
                }
            }
            Tok::Word => {
                let word = token.text.as_str();
                let call = self.peek_at(1).kind == Tok::Punct('(');
                match word {
                    "inet_addr" | "inet6_addr" if call => self.address_expr(word == "inet6_addr"),
                    "htons" if call => {
                        self.bump();
                        self.bump();
                        let arg = self.expr()?;
                        self.expect_punct(')', "')' after the argument of htons()")?;
                        Ok(Expr::Call(token.text.clone(), vec![arg]))
                    }
                    _ if self.peek_at(1).kind == Tok::Punct('=') => {
                        self.bump();
                        self.bump();
                        Ok(Expr::Assign(token.text.clone(), Box::new(self.expr()?)))
                    }
                    _ => {
                        self.bump();
                        Ok(Expr::Word(token.text.clone()))
                    }
                }
            }
            Tok::Punct('[') => {
                self.bump();
                Ok(Expr::Array(self.list(']', "array")?))
            }
            Tok::Punct('{') => self.brace(),
            _ => Err(self.expected(EXPRESSION)),
        }
    }

    /// Expressions separated by commas up to `close` (the opener consumed).
    fn list(&mut self, close: char, what: &str) -> Result<Vec<Expr>> {
        let mut items = Vec::new();
        if self.eat_punct(close) {
            return Ok(items);
        }
        loop {
            items.push(self.expr()?);
            if self.eat_punct(',') {
                continue;
            }
            self.expect_punct(close, &format!("',' or '{close}' in the {what}"))?;
            return Ok(items);
        }
    }

    /// `inet_addr("...")` or `inet6_addr("...")`.
    fn address_expr(&mut self, v6: bool) -> Result<Expr> {
        let name = self.bump().text;
        self.bump();
        let token = self.peek().clone();
        if !matches!(token.kind, Tok::Str(_)) {
            return Err(self.expected(&format!("the address as a string, like {name}(\"...\")")));
        }
        self.bump();
        self.expect_punct(')', &format!("')' after the address in {name}()"))?;
        let valid = if v6 {
            token.text.parse::<Ipv6Addr>().is_ok()
        } else {
            token.text.parse::<Ipv4Addr>().is_ok()
        };
        if !valid {
            return Err(error_at(
                &token,
                format!("invalid address \"{}\" in {name}()", token.text),
            ));
        }
        Ok(if v6 {
            Expr::Inet6Addr(token.text)
        } else {
            Expr::InetAddr(token.text)
        })
    }

    /// `{...}`: a struct, a msghdr, or (unsupported) an MPLS stack or a GRE
    /// header.
    fn brace(&mut self) -> Result<Expr> {
        self.bump();
        if self.is_punct('(') {
            self.mpls_stack()?;
            self.expect_punct('}', "'}' after the MPLS label stack")?;
            self.mark_unsupported("mpls");
            return Ok(Expr::Struct(Vec::new()));
        }
        if (self.is_word("flags") || self.is_word("Flags"))
            && self.peek_at(1).kind != Tok::Punct('=')
        {
            self.gre_header()?;
            self.expect_punct('}', "'}' after the GRE header")?;
            self.mark_unsupported("gre");
            return Ok(Expr::Struct(Vec::new()));
        }
        if self.is_word("msg_name") && self.peek_at(1).kind == Tok::Punct('(') {
            return self.msghdr();
        }
        let items = self
            .list('}', "braces")?
            .into_iter()
            .map(|item| match item {
                Expr::Assign(name, value) => (Some(name), *value),
                other => (None, other),
            })
            .collect();
        Ok(Expr::Struct(items))
    }

    /// `{msg_name(...)=..., msg_iov(N)=[...], msg_flags=F[, msg_control=[...]]}`
    /// after the `{`.
    fn msghdr(&mut self) -> Result<Expr> {
        const SHAPE: &str = "{msg_name(...)=..., msg_iov(1)=[...], msg_flags=0}";
        let part = |what: &str| format!("{what} in a msghdr like {SHAPE}");
        self.expect_word("msg_name", &part("msg_name"))?;
        self.expect_punct('(', &part("'('"))?;
        if !self.eat_ellipsis() {
            return Err(self.expected(&part("'...'")));
        }
        self.expect_punct(')', &part("')'"))?;
        self.expect_punct('=', &part("'='"))?;
        if !self.eat_ellipsis() {
            return Err(self.expected(&part("'...'")));
        }
        self.expect_punct(',', &part("','"))?;
        self.expect_word("msg_iov", &part("msg_iov"))?;
        self.expect_punct('(', &part("'('"))?;
        let len_token = self.peek().clone();
        let iov_len = match (&len_token.kind, Self::integer_value(&len_token)) {
            (Tok::Int, Some(value)) => i64::try_from(value?)
                .map_err(|_| error_at(&len_token, "msg_iov length out of range"))?,
            _ => return Err(self.expected(&part("the number of iovecs"))),
        };
        self.bump();
        self.expect_punct(')', &part("')'"))?;
        self.expect_punct('=', &part("'='"))?;
        self.expect_punct('[', &part("'[' and the iovecs"))?;
        let iov = self.list(']', "iovec array")?;
        self.expect_punct(',', &part("','"))?;
        self.expect_word("msg_flags", &part("msg_flags"))?;
        self.expect_punct('=', &part("'='"))?;
        let flags = self.expr()?;
        let control = if self.eat_punct(',') {
            self.expect_word("msg_control", &part("msg_control"))?;
            self.expect_punct('=', &part("'='"))?;
            self.expect_punct('[', &part("'[' and the control messages"))?;
            Some(self.list(']', "control messages")?)
        } else {
            None
        };
        self.expect_punct('}', &part("'}'"))?;
        Ok(Expr::Msghdr(Box::new(Msghdr {
            iov_len,
            iov,
            flags,
            control,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(source: &str) -> Script {
        parse(source).unwrap_or_else(|e| panic!("{source:?}: {e}"))
    }

    /// The one event of `source`.
    fn event(source: &str) -> Event {
        let mut events = script(source).events;
        assert_eq!(events.len(), 1, "{source}");
        events.remove(0)
    }

    fn action(source: &str) -> Action {
        event(source).action
    }

    fn packet(source: &str) -> Packet {
        match action(source) {
            Action::Packet(packet) => packet,
            other => panic!("{source}: not a packet: {other:?}"),
        }
    }

    fn tcp(source: &str) -> TcpSpec {
        match packet(source).body {
            PacketBody::Tcp(tcp) => tcp,
            other => panic!("{source}: not TCP: {other:?}"),
        }
    }

    fn syscall(source: &str) -> Syscall {
        match action(source) {
            Action::Syscall(syscall) => syscall,
            other => panic!("{source}: not a system call: {other:?}"),
        }
    }

    /// The one argument of `f(ARG) = 0`.
    fn expr(arg: &str) -> Expr {
        let mut args = syscall(&format!("0 f({arg}) = 0")).args;
        assert_eq!(args.len(), 1, "{arg}");
        args.remove(0)
    }

    fn error(source: &str) -> String {
        match parse(source) {
            Ok(script) => panic!("{source:?} parsed: {script:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn unsupported(source: &str) -> String {
        match action(source) {
            Action::Unsupported { construct, .. } => construct,
            other => panic!("{source}: supported: {other:?}"),
        }
    }

    fn word(w: &str) -> Expr {
        Expr::Word(w.to_string())
    }

    #[test]
    fn times_are_exact_microseconds() {
        let time = |source: &str| event(&format!("{source} close(3) = 0")).time;
        assert_eq!(time("0"), EventTime::Absolute(0));
        assert_eq!(time("2"), EventTime::Absolute(2_000_000));
        assert_eq!(time("0.100"), EventTime::Absolute(100_000));
        // 0.29 * 1e6 is 289999.99999999994 in f64; the digits say 290000.
        assert_eq!(time("0.29"), EventTime::Absolute(290_000));
        assert_eq!(time("1.000001"), EventTime::Absolute(1_000_001));
        assert_eq!(time("1.0000019"), EventTime::Absolute(1_000_001));
        assert_eq!(time("+.1"), EventTime::Relative(100_000));
        assert_eq!(time("+ 0.004"), EventTime::Relative(4_000));
        let time = |source: &str| event(&format!("{source} > . 1:1(0)")).time;
        assert_eq!(time("*"), EventTime::Any);
        assert_eq!(time("0.1~0.2"), EventTime::AbsoluteRange(100_000, 200_000));
        assert_eq!(time("+.004~+.008"), EventTime::RelativeRange(4_000, 8_000));
    }

    #[test]
    fn time_errors() {
        assert_eq!(error("-1 close(3) = 0"), "1:1: a time cannot be negative");
        assert_eq!(error("0.2~0.1 > . 1:1(0)"), "1:5: time range is backwards");
        assert_eq!(
            error("+0.1~0.2 > . 1:1(0)"),
            "1:6: expected '+' and the end of the relative time range, like +0.1~+0.2, found '0.2'"
        );
        assert_eq!(
            error("0.1~+0.2 > . 1:1(0)"),
            "1:5: expected the end of the time range, like 0.1~0.2 (both ends absolute or both \
             relative), found '+'"
        );
        assert_eq!(
            error("* < . 1:1(0)"),
            "1:1: '*' (any time) can only be used for outbound packets ('>')"
        );
        assert_eq!(
            error("\n 0~1 close(3) = 0"),
            "2:2: a time range can only be used for outbound packets ('>')"
        );
        assert_eq!(
            error("close(3) = 0"),
            "1:1: expected an event time (like 0.1, +0.1, 0.1~0.2, +0.1~+0.2 or *), found 'close'"
        );
        assert_eq!(
            error("99999999999999999 close(3) = 0"),
            "1:1: time 99999999999999999 is too large"
        );
    }

    #[test]
    fn events_carry_the_position_of_their_time() {
        let events = script("\n  0 close(3) = 0\n\t+1 close(4) = 0").events;
        assert_eq!((events[0].line, events[0].column), (2, 3));
        assert_eq!((events[1].line, events[1].column), (3, 2));
    }

    #[test]
    fn header_options_init_and_cleanup_commands() {
        let s = script(
            "--tolerance_usecs=10000\n--ip_version=ipv6 --mtu=1500\n--local_ip=fd::1\n\
             --remote_ip=192.0.2.1 --verbose --name=\"a b\" --define=SCRIPT=`x`\n\
             `init`\n0 `middle`\n`cleanup`\n",
        );
        let options: Vec<(&str, Option<&str>, u32, u32)> = s
            .options
            .iter()
            .map(|o| (o.name.as_str(), o.value.as_deref(), o.line, o.column))
            .collect();
        assert_eq!(
            options,
            vec![
                ("tolerance_usecs", Some("10000"), 1, 1),
                ("ip_version", Some("ipv6"), 2, 1),
                ("mtu", Some("1500"), 2, 19),
                ("local_ip", Some("fd::1"), 3, 1),
                ("remote_ip", Some("192.0.2.1"), 4, 1),
                ("verbose", None, 4, 23),
                ("name", Some("a b"), 4, 33),
                ("define", Some("SCRIPT=`x`"), 4, 46),
            ]
        );
        assert_eq!(
            s.init_command,
            Some(Command {
                line: 5,
                text: "init".into()
            })
        );
        assert_eq!(
            s.events[0].action,
            Action::Command(Command {
                line: 6,
                text: "middle".into()
            })
        );
        assert_eq!(
            s.cleanup_command,
            Some(Command {
                line: 7,
                text: "cleanup".into()
            })
        );
    }

    #[test]
    fn script_structure_errors() {
        assert_eq!(
            error("// nothing\n"),
            "2:1: expected an event: a time, then a packet, a system call, a shell command or a \
             code block, found the end of the script"
        );
        assert_eq!(
            error("0 close(3) = 0\n`a`\n0 close(4) = 0"),
            "2:1: expected an event time before this shell command (only the first and the last \
             command of a script may go without one)"
        );
        assert_eq!(
            error("0 close(3) = 0\n--mtu=1500"),
            "2:1: header options (--name=value) must come before the first event"
        );
        assert_eq!(
            error("--mtu=\n"),
            "2:1: expected the value of --mtu, found the end of the script"
        );
        assert_eq!(
            error("0 ] close(3) = 0"),
            "1:3: expected a packet ('<' or '>'), a system call, a shell command or a code block \
             after the time, found ']'"
        );
    }

    #[test]
    fn a_tcp_packet_with_everything() {
        let p = packet(
            "0 < [ect0] 8080>9090 S. 0:0(0) ack 1 win 65535 urg 2 <mss 1460,sackOK,wscale 4>",
        );
        assert_eq!(p.direction, Direction::Inbound);
        assert_eq!(p.ip.ecn, Some(Ecn::Ect0));
        assert_eq!(p.ports, Some((8080, 9090)));
        assert_eq!(
            p.body,
            PacketBody::Tcp(TcpSpec {
                flags: TcpFlags {
                    syn: true,
                    ack: true,
                    ..TcpFlags::default()
                },
                start: 0,
                end: 0,
                len: 0,
                ack: Some(1),
                win: Some(65535),
                urg: Some(2),
                options: TcpOptions::List(vec![
                    TcpOption::Mss(1460),
                    TcpOption::SackOk,
                    TcpOption::WScale(4)
                ]),
            })
        );
        let t = tcp("0 > P. 1:1001(1000)");
        assert_eq!((t.start, t.end, t.len), (1, 1001, 1000));
        assert_eq!((t.ack, t.win, t.urg), (None, None, None));
        assert_eq!(t.options, TcpOptions::NotWritten);
        assert_eq!(packet("0 > P. 1:1001(1000)").direction, Direction::Outbound);
        assert_eq!(tcp("0 > . 1:1(0) <...>").options, TcpOptions::Any);
    }

    #[test]
    fn tcp_flags_in_any_order() {
        let flags = |f: &str| tcp(&format!("0 > {f} 1:1(0)")).flags;
        let set = |letters: &str| {
            let mut f = TcpFlags::default();
            for c in letters.chars() {
                match c {
                    'S' => f.syn = true,
                    'F' => f.fin = true,
                    'R' => f.rst = true,
                    'P' => f.psh = true,
                    '.' => f.ack = true,
                    'E' => f.ece = true,
                    'W' => f.cwr = true,
                    'U' => f.urg = true,
                    _ => f.ae = true,
                }
            }
            f
        };
        assert_eq!(flags("-"), TcpFlags::default());
        assert_eq!(flags("."), set("."));
        assert_eq!(flags("S"), set("S"));
        assert_eq!(flags("S."), set("S."));
        assert_eq!(flags("F."), set("F."));
        assert_eq!(flags("FP."), set("FP."));
        assert_eq!(flags("R"), set("R"));
        assert_eq!(flags("SEW"), set("SEW"));
        assert_eq!(flags("WES"), set("SEW"));
        assert_eq!(flags("U."), set("U."));
        assert_eq!(flags("SA"), set("SA"));
        // ACE digits: 5 is AE and ECE.
        assert_eq!(flags("S.5"), set("S.AE"));
        assert_eq!(flags(".2"), set(".W"));
        assert!(flags("-").is_empty());
    }

    #[test]
    fn tcp_flag_errors() {
        assert_eq!(
            error("0 > SX 1:1(0)"),
            "1:5: invalid TCP flag 'X' in 'SX' (flags are S F R P U E W A and '.', or an ACE \
             digit 0-7; '-' for none)"
        );
        assert_eq!(
            error("0 > E.1 1:1(0)"),
            "1:5: conflicting TCP flag '1' in 'E.1': an ACE digit (0-7) sets E, W and A, so it \
             goes alone"
        );
        assert_eq!(
            error("0 > 1:1(0)"),
            "1:5: expected TCP flags (like S, S., P., F., R, . or -) before the sequence range, \
             found '1'"
        );
    }

    #[test]
    fn sequence_range_errors() {
        assert_eq!(
            error("0 > S. ack 1"),
            "1:8: expected a sequence range like 1:1001(1000), found 'ack'"
        );
        assert_eq!(
            error("0 > S. 0:0 ack 1"),
            "1:12: expected a sequence range like 1:1001(1000), found 'ack'"
        );
        assert_eq!(
            error("0 > . 1:1001(100)"),
            "1:9: inconsistent sequence range: 1 plus 100 bytes ends at 101, not 1001"
        );
        assert_eq!(
            error("0 > . 4294967296:4294967296(0)"),
            "1:7: TCP start sequence number must be 0 to 4294967295, not 4294967296"
        );
        assert_eq!(
            error("0 > . 0:70000(70000)"),
            "1:15: TCP payload length must be 0 to 65535, not 70000"
        );
        // The largest values fit.
        let t = tcp("0 > . 4294967295:4294967295(0) ack 4294967295 win 65535");
        assert_eq!(
            (t.start, t.ack, t.win),
            (u32::MAX, Some(u32::MAX), Some(65535))
        );
    }

    #[test]
    fn values_larger_than_their_field_are_errors_at_the_number() {
        assert_eq!(
            error("0 < S 0:0(0) <mss 70000>"),
            "1:19: mss must be 0 to 65535, not 70000"
        );
        assert_eq!(
            error("0 < S 0:0(0) <wscale 300>"),
            "1:22: wscale must be 0 to 255, not 300"
        );
        assert_eq!(
            error("0 < . 1:1(0) ack 8589934592"),
            "1:18: ack must be 0 to 4294967295, not 8589934592"
        );
        assert_eq!(
            error("0 < . 1:1(0) win 65536"),
            "1:18: win must be 0 to 65535, not 65536"
        );
        assert_eq!(
            error("0 < . 1:1(0) urg -1"),
            "1:18: urg must be 0 to 65535, not -1"
        );
        assert_eq!(
            error("0 < 70000>80 . 1:1(0)"),
            "1:5: source port must be 0 to 65535, not 70000"
        );
        assert_eq!(
            error("0 < (tos 0x100) . 1:1(0)"),
            "1:10: tos must be 0 to 255, not 256"
        );
        assert_eq!(
            error("0 < (flowlabel 0x100000) . 1:1(0)"),
            "1:16: flowlabel must be 0 to 1048575, not 1048576"
        );
        assert_eq!(
            error("0 < . 1:1(0) <TS val 1 ecr 4294967296>"),
            "1:28: TS ecr must be 0 to 4294967295, not 4294967296"
        );
        assert_eq!(
            error("0 < . 1:1(0) <sack 1:4294967296>"),
            "1:22: SACK block end must be 0 to 4294967295, not 4294967296"
        );
        assert_eq!(
            error("0 < udp (65536)"),
            "1:10: UDP payload length must be 0 to 65535, not 65536"
        );
        assert_eq!(
            error("0 < . 1:1(0) win 99999999999999999999999999999999999999999999"),
            "1:18: number 99999999999999999999999999999999999999999999 is too large"
        );
    }

    #[test]
    fn ack_win_and_urg_once_each() {
        assert_eq!(
            error("0 < . 1:1(0) win 1 win 2"),
            "1:20: win is written twice"
        );
        let t = tcp("0 < . 1:1(0) win 5 ack 7");
        assert_eq!((t.ack, t.win), (Some(7), Some(5)));
    }

    #[test]
    fn every_tcp_option_in_order() {
        let options = |list: &str| match tcp(&format!("0 < S 0:0(0) <{list}>")).options {
            TcpOptions::List(options) => options,
            other => panic!("{list}: {other:?}"),
        };
        assert_eq!(
            options("nop,eol,mss 1460,wscale 7,sackOK,TS val 100 ecr 0"),
            vec![
                TcpOption::Nop,
                TcpOption::Eol,
                TcpOption::Mss(1460),
                TcpOption::WScale(7),
                TcpOption::SackOk,
                TcpOption::Timestamp { val: 100, ecr: 0 },
            ]
        );
        assert_eq!(
            options("sack 1201:2401 3601:4801 6001:7201,nop,nop"),
            vec![
                TcpOption::Sack(vec![(1201, 2401), (3601, 4801), (6001, 7201)]),
                TcpOption::Nop,
                TcpOption::Nop
            ]
        );
        assert_eq!(
            options("md5 000102030405060708090a0b0c0d0e0f"),
            vec![TcpOption::Md5((0..16).collect())]
        );
        assert_eq!(
            options("FO abcd1234,FO 112233445566,FO,FOEXP 00ab,FOEXP"),
            vec![
                TcpOption::FastOpen(vec![0xab, 0xcd, 0x12, 0x34]),
                TcpOption::FastOpen(vec![0x11, 0x22, 0x33, 0x44, 0x55, 0x66]),
                TcpOption::FastOpen(vec![]),
                TcpOption::FastOpenExp(vec![0x00, 0xab]),
                TcpOption::FastOpenExp(vec![]),
            ]
        );
        assert_eq!(
            options("ECN e0b 1 ceb 2 e1b 3,nop"),
            vec![
                TcpOption::Unsupported("ECN e0b 1 ceb 2 e1b 3".into()),
                TcpOption::Nop
            ]
        );
        assert_eq!(
            options("ECN e1b 5"),
            vec![TcpOption::Unsupported("ECN e1b 5".into())]
        );
    }

    #[test]
    fn tcp_option_errors() {
        assert_eq!(
            error("0 < S 0:0(0) <mss 1460 nop>"),
            "1:24: expected ',' or '>' after a TCP option, found 'nop'"
        );
        assert_eq!(
            error("0 < S 0:0(0) <bogus 1>"),
            "1:15: unknown TCP option 'bogus'; expected a TCP option (nop, eol, mss N, wscale N, \
             sackOK, sack A:B, TS val N ecr N, md5 HEX, FO, FOEXP or ECN)"
        );
        assert_eq!(
            error("0 < S 0:0(0) <TS 1 ecr 2>"),
            "1:18: expected 'val' and the timestamp, like TS val 100 ecr 0, found '1'"
        );
        assert_eq!(
            error("0 < S 0:0(0) <sack>"),
            "1:19: expected a SACK block, like sack 1001:2001, found '>'"
        );
        assert_eq!(
            error("0 < S 0:0(0) <FO abc>"),
            "1:18: TCP Fast Open cookie 'abc' has an odd number of hex digits"
        );
        assert_eq!(
            error(&format!("0 < S 0:0(0) <md5 {}>", "00".repeat(17))),
            "1:19: MD5 digest of 17 bytes is longer than the 16 that fit"
        );
        assert_eq!(
            error("0 < . 1:1(0) <...>"),
            "1:14: <...> (any TCP options) can only be used for outbound packets ('>')"
        );
        assert_eq!(
            error("0 < S 0:0(0) <sack 1:2 3:4 5:6 7:8 9:10>"),
            "1:14: these TCP options take 42 bytes, more than the 40 a TCP header has room for"
        );
        assert_eq!(
            error("0 < S 0:0(0) <ECN ceb 1>"),
            "1:19: expected e0b or e1b and a counter, like ECN e0b 1 ceb 0 e1b 0, found 'ceb'"
        );
    }

    #[test]
    fn ip_information() {
        let ip = |info: &str| packet(&format!("0 > {info} . 1:1(0)")).ip;
        assert_eq!(ip("[noecn]").ecn, Some(Ecn::NoEcn));
        assert_eq!(ip("[ect1]").ecn, Some(Ecn::Ect1));
        assert_eq!(ip("(ect01)").ecn, Some(Ecn::Ect01));
        assert_eq!(ip("[ce]").ecn, Some(Ecn::Ce));
        assert_eq!(
            ip("[ect0, flowlabel 0x12345]"),
            IpInfo {
                ecn: Some(Ecn::Ect0),
                flow_label: Some(0x12345),
                ..IpInfo::default()
            }
        );
        assert_eq!(ip("(tos 0x10)").tos, Some(0x10));
        assert_eq!(ip("[ttl 64]").ttl, Some(64));
        assert_eq!(ip(""), IpInfo::default());
        assert_eq!(
            error("0 < [ect01] . 1:1(0)"),
            "1:5: [ect01] can only be used for outbound packets ('>')"
        );
        assert_eq!(
            error("0 < [ect0, tos 0x1] . 1:1(0)"),
            "1:12: the TOS byte is set twice (ECN and tos both set it)"
        );
        assert_eq!(
            error("0 < [ect0) . 1:1(0)"),
            "1:10: expected ',' or ']' in the IP fields, found ')'"
        );
        assert_eq!(
            error("0 < [hot] . 1:1(0)"),
            "1:6: expected an IP field (noecn, ect0, ect1, ect01, ce, tos 0xNN, flowlabel \
             0xNNNNN or ttl N), found 'hot'"
        );
        assert_eq!(
            error("0 < [ect0] udp (10)"),
            "1:5: ECN can only be used with TCP packets"
        );
    }

    #[test]
    fn explicit_ip_headers() {
        let p = packet("0 < ipv4 192.0.2.1 > 192.0.2.2: . 1:1(0)");
        assert_eq!(
            p.outer,
            vec![OuterIp {
                ip: IpInfo::default(),
                src: "192.0.2.1".parse().expect("address"),
                dst: "192.0.2.2".parse().expect("address"),
            }]
        );
        let p = packet("0 > ipv6 (ect0) 2001:db8::1 > 2001:db8::2: ipv6 ::1 > ::2: udp (1)");
        assert_eq!(p.outer.len(), 2);
        assert_eq!(p.outer[0].ip.ecn, Some(Ecn::Ect0));
        assert_eq!(p.outer[1].dst, "::2".parse::<IpAddr>().expect("address"));
        assert_eq!(
            error("0 < ipv4 2001:db8::1 > 192.0.2.2: . 1:1(0)"),
            "1:10: expected an IPv4 address, like 192.0.2.1, found '2001:db8::1'"
        );
        assert_eq!(
            error("0 < ipv4 1.2.3.4 > 1.2.3.999: . 1:1(0)"),
            "1:20: invalid IP address 1.2.3.999"
        );
        assert_eq!(
            error("0 < ipv4 1.2.3.4 > 1.2.3.5 . 1:1(0)"),
            "1:28: expected ':' after the addresses of an IP header, found '.'"
        );
    }

    #[test]
    fn udp_packets() {
        assert_eq!(packet("0 < udp (100)").body, PacketBody::Udp { len: 100 });
        let p = packet("0 > udp 53>1000 (0)");
        assert_eq!(
            (p.ports, p.body),
            (Some((53, 1000)), PacketBody::Udp { len: 0 })
        );
        assert_eq!(
            error("0 < udp 100"),
            "1:9: expected '(' and the UDP payload length, like udp (100), found '100'"
        );
    }

    #[test]
    fn icmp_packets() {
        let icmp = |source: &str| match packet(source).body {
            PacketBody::Icmp(icmp) => icmp,
            other => panic!("{source}: {other:?}"),
        };
        assert_eq!(
            icmp("0 < icmp unreachable frag_needed mtu 1400 [1:1001(1000)]"),
            IcmpSpec {
                kind: "unreachable".into(),
                code: Some("frag_needed".into()),
                mtu: Some(1400),
                id: None,
                echoed: Some(Echoed::Tcp {
                    start: 1,
                    end: 1001,
                    len: 1000
                }),
            }
        );
        assert_eq!(
            icmp("0 < icmp packet_too_big mtu 1280"),
            IcmpSpec {
                kind: "packet_too_big".into(),
                code: None,
                mtu: Some(1280),
                id: None,
                echoed: None,
            }
        );
        let echo = icmp("0 > icmp echo_reply id 7");
        assert_eq!((echo.code, echo.id), (None, Some(7)));
        assert_eq!(
            icmp("0 < icmp unreachable port_unreachable [udp (10)]").echoed,
            Some(Echoed::Udp { len: 10 })
        );
        assert_eq!(
            icmp("0 < icmp time_exceeded [raw (20)]").echoed,
            Some(Echoed::Raw { len: 20 })
        );
        assert_eq!(
            error("0 < icmp [1:1(0)]"),
            "1:10: expected the ICMP type, like unreachable or echo_request, found '['"
        );
        assert_eq!(
            error("0 < icmp unreachable [1:1(0)"),
            "1:29: expected ']' after the quoted packet, found the end of the script"
        );
    }

    #[test]
    fn unsupported_constructs_are_parsed_and_named() {
        assert_eq!(unsupported("0 > gre: . 1:1(0)"), "gre");
        assert_eq!(unsupported("0 > GREv0: . 1:1(0)"), "gre");
        assert_eq!(
            unsupported(
                "0 < ipv4 1.1.1.1 > 2.2.2.2: gre flags [checksum present, key present, \
                 sequence# present] sum 0 off 0 key=7 seq 1: ipv4 3.3.3.3 > 4.4.4.4: . 1:1(0)"
            ),
            "gre"
        );
        assert_eq!(
            unsupported("0 < gre flags 0x2000, sum 0, off 0, key 1, seq 2: . 1:1(0)"),
            "gre"
        );
        assert_eq!(
            unsupported(
                "0 < mpls (label 123, tc 1, [S], ttl 255) (label 4, tc 0, ttl 1): . 1:1(0)"
            ),
            "mpls"
        );
        assert_eq!(unsupported("0 < encap psp spi 7 P. 1:2(1) ack 1"), "psp");
        assert_eq!(
            unsupported("0 setsockopt(3, SOL_IP, X, {(label 1, tc 0, [S], ttl 2)}, 4) = 0"),
            "mpls"
        );
        assert_eq!(
            unsupported("0 f({flags [none] sum 0 off 0 key 0 seq 0}) = 0"),
            "gre"
        );
        // The source is kept, without the time, and the event goes on.
        let s = script("0 > gre: . 1:1(0)  // tunnel\n+0 close(3) = 0");
        assert_eq!(
            s.events[0].action,
            Action::Unsupported {
                construct: "gre".into(),
                source: "> gre: . 1:1(0)".into()
            }
        );
        assert!(matches!(s.events[1].action, Action::Syscall(_)));
        assert_eq!(
            error("0 > gre flags 1 sum 0 off 0 seq 0: . 1:1(0)"),
            "1:29: expected the GRE 'key' field, like key 0, found 'seq'"
        );
    }

    #[test]
    fn undefined_symbols_make_the_event_unsupported() {
        assert_eq!(
            unsupported("0 > S. 0:0(0) ack 1 <mss MSS,nop,wscale 8>"),
            "undefined symbol MSS"
        );
        assert_eq!(
            unsupported("0 < S 0:10(10) win 32792 <mss 1460,FOEXP TFO_COOKIE>"),
            "undefined symbol TFO_COOKIE"
        );
    }

    #[test]
    fn definitions_replace_words() {
        // From the script's header.
        let s = script("--define=MSS=1000\n0 > S. 0:0(0) <mss MSS>");
        match &s.events[0].action {
            Action::Packet(p) => match &p.body {
                PacketBody::Tcp(t) => {
                    assert_eq!(t.options, TcpOptions::List(vec![TcpOption::Mss(1000)]))
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
        // From outside, winning over the script's.
        let s = parse_with_definitions(
            "--define=TFO_COOKIE=00\n--define=CC=\"reno\"\n\
             0 < S 0:0(0) <FO TFO_COOKIE>\n\
             +0 setsockopt(3, SOL_TCP, TCP_CONGESTION, CC, 4) = 0\n\
             +0 recvmsg(3, CMSG_LEVEL_IP) = 0\n\
             +0 < icmp unreachable CODE",
            &[
                ("TFO_COOKIE", "3021b9d889017eeb"),
                ("CMSG_LEVEL_IP", "SOL_IP"),
                ("CODE", "host_unreachable"),
            ],
        )
        .expect("parses");
        let cookie = match &s.events[0].action {
            Action::Packet(p) => match &p.body {
                PacketBody::Tcp(t) => t.options.clone(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        };
        assert_eq!(
            cookie,
            TcpOptions::List(vec![TcpOption::FastOpen(vec![
                0x30, 0x21, 0xb9, 0xd8, 0x89, 0x01, 0x7e, 0xeb
            ])])
        );
        let args = |i: usize| match &s.events[i].action {
            Action::Syscall(call) => call.args.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(args(1)[3], Expr::Str(b"reno".to_vec()));
        assert_eq!(args(2)[1], word("SOL_IP"));
        match &s.events[3].action {
            Action::Packet(p) => match &p.body {
                PacketBody::Icmp(icmp) => {
                    assert_eq!(icmp.code.as_deref(), Some("host_unreachable"))
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
        assert_eq!(
            error("--define=MSS\n0 close(3) = 0"),
            "1:1: --define needs a name and a value, like --define=MSS=1460"
        );
        // Keywords are never replaced.
        let s = parse_with_definitions("0 > S. 0:0(0) <mss 1>", &[("mss", "x")]).expect("parses");
        assert!(matches!(s.events[0].action, Action::Packet(_)));
    }

    #[test]
    fn system_calls() {
        assert_eq!(
            syscall("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3"),
            Syscall {
                name: "socket".into(),
                args: vec![Expr::Ellipsis, word("SOCK_STREAM"), word("IPPROTO_TCP")],
                end_time: None,
                result: Expr::Int(3),
                errno: None,
                strerror: None,
                note: None,
            }
        );
        let call = syscall(
            "+0...0.010 connect(3, ..., ...) = -1 EINPROGRESS (Operation is now in progress)",
        );
        assert_eq!(call.end_time, Some(10_000));
        assert_eq!(call.result, Expr::Int(-1));
        assert_eq!(call.errno.as_deref(), Some("EINPROGRESS"));
        assert_eq!(
            call.strerror.as_deref(),
            Some("Operation is now in progress")
        );
        assert_eq!(call.note, None);
        let call = syscall("0 fcntl(3, F_GETFL) = 0x2 (flags O_RDWR)");
        assert_eq!(
            (call.result, call.errno, call.note.as_deref()),
            (Expr::Int(2), None, Some("flags O_RDWR"))
        );
        let call = syscall("0 read(3, ..., 1) = -1 ECONNRESET(Connection reset by peer) (late)");
        assert_eq!(call.strerror.as_deref(), Some("Connection reset by peer"));
        assert_eq!(call.note.as_deref(), Some("late"));
        assert_eq!(syscall("0 getpid() = ...").args, vec![]);
        // A call may span lines.
        assert_eq!(syscall("0 write(3,\n  ...,\n  10) = 10").args.len(), 3);
    }

    #[test]
    fn system_call_errors() {
        assert_eq!(
            error("0 close(3)\n+0 close(4) = 0"),
            "2:1: expected '=' and the expected result of close(), found '+'"
        );
        assert_eq!(
            error("0 close 3 = 0"),
            "1:9: expected '(' and the arguments of close(), found '3'"
        );
        assert_eq!(
            error("0 close(3 4) = 0"),
            "1:11: expected ',' or ')' in the arguments of close(), found '4'"
        );
        assert_eq!(
            error("0 read(3, ..., 1) = -1 EAGAIN"),
            "1:30: expected '(' and a description of EAGAIN, like EAGAIN (Operation now in \
             progress), found the end of the script"
        );
        assert_eq!(
            error("0 close(3) = -1 EBADF (Bad file\n+0 close(4) = 0"),
            "2:1: expected ')' at the end of the note, found '+'"
        );
        assert_eq!(
            error("0 close(3) = 0 ()"),
            "1:17: expected the words of a note, like (Connection refused), found ')'"
        );
        assert_eq!(
            error("0 ...+1 read(3, ..., 1) = 1"),
            "1:6: expected the time the call returns after '...', like ...0.010, found '+'"
        );
        assert_eq!(
            error("0 f(,) = 0"),
            "1:5: expected an expression (a number, a word, a string, '...', [array] or \
             {struct}), found ','"
        );
        assert_eq!(error("0 f(\"abc) = 0"), "1:5: unterminated string");
    }

    #[test]
    fn expressions() {
        assert_eq!(expr("..."), Expr::Ellipsis);
        assert_eq!(expr("-12"), Expr::Int(-12));
        assert_eq!(expr("0xff"), Expr::Int(255));
        assert_eq!(expr("SO_REUSEADDR"), word("SO_REUSEADDR"));
        assert_eq!(expr("\"abc\""), Expr::Str(b"abc".to_vec()));
        assert_eq!(expr("\"ab\" \"c\\x00\""), Expr::Str(b"abc\0".to_vec()));
        assert_eq!(expr("\"abc\"..."), Expr::StrEllipsis(b"abc".to_vec()));
        assert_eq!(
            expr("A|B|0x4"),
            Expr::Or(vec![word("A"), word("B"), Expr::Int(4)])
        );
        assert_eq!(
            expr("x=A|B"),
            Expr::Assign("x".into(), Box::new(Expr::Or(vec![word("A"), word("B")])))
        );
        assert_eq!(expr("[]"), Expr::Array(vec![]));
        assert_eq!(
            expr("[1, [2]]"),
            Expr::Array(vec![Expr::Int(1), Expr::Array(vec![Expr::Int(2)])])
        );
        assert_eq!(
            expr("inet_addr(\"192.0.2.1\")"),
            Expr::InetAddr("192.0.2.1".into())
        );
        assert_eq!(
            expr("inet6_addr(\"fd::1\")"),
            Expr::Inet6Addr("fd::1".into())
        );
        assert_eq!(
            expr("{sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr(\"192.0.2.1\")}"),
            Expr::Struct(vec![
                (Some("sa_family".into()), word("AF_INET")),
                (
                    Some("sin_port".into()),
                    Expr::Call("htons".into(), vec![Expr::Int(8080)])
                ),
                (Some("sin_addr".into()), Expr::InetAddr("192.0.2.1".into())),
            ])
        );
        assert_eq!(
            expr("{fd=3, events=POLLIN, revents=POLLIN|POLLOUT}"),
            Expr::Struct(vec![
                (Some("fd".into()), Expr::Int(3)),
                (Some("events".into()), word("POLLIN")),
                (
                    Some("revents".into()),
                    Expr::Or(vec![word("POLLIN"), word("POLLOUT")])
                ),
            ])
        );
        assert_eq!(
            expr("{onoff=1, linger=0}"),
            Expr::Struct(vec![
                (Some("onoff".into()), Expr::Int(1)),
                (Some("linger".into()), Expr::Int(0)),
            ])
        );
        assert_eq!(
            expr("{..., 100}"),
            Expr::Struct(vec![(None, Expr::Ellipsis), (None, Expr::Int(100))])
        );
        assert_eq!(
            expr("{events=EPOLLIN, fd=3}"),
            Expr::Struct(vec![
                (Some("events".into()), word("EPOLLIN")),
                (Some("fd".into()), Expr::Int(3)),
            ])
        );
        assert_eq!(expr("{}"), Expr::Struct(vec![]));
        assert_eq!(
            expr("{msg_name(...)=..., msg_iov(2)=[{..., 1}, {..., 2}], msg_flags=MSG_DONTWAIT}"),
            Expr::Msghdr(Box::new(Msghdr {
                iov_len: 2,
                iov: vec![
                    Expr::Struct(vec![(None, Expr::Ellipsis), (None, Expr::Int(1))]),
                    Expr::Struct(vec![(None, Expr::Ellipsis), (None, Expr::Int(2))]),
                ],
                flags: word("MSG_DONTWAIT"),
                control: None,
            }))
        );
        match expr("{msg_name(...)=..., msg_iov(1)=[{...,0}], msg_flags=0, msg_control=[{cmsg_level=SOL_IP, cmsg_type=IP_TOS, cmsg_data=[1]}]}") {
            Expr::Msghdr(msg) => assert_eq!(msg.control.map(|c| c.len()), Some(1)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn expression_errors() {
        assert_eq!(
            error("0 f(inet_addr(\"1.2.3\")) = 0"),
            "1:15: invalid address \"1.2.3\" in inet_addr()"
        );
        assert_eq!(
            error("0 f(inet6_addr(7)) = 0"),
            "1:16: expected the address as a string, like inet6_addr(\"...\"), found '7'"
        );
        assert_eq!(
            error("0 f([1 2]) = 0"),
            "1:8: expected ',' or ']' in the array, found '2'"
        );
        assert_eq!(
            error("0 f({msg_name(...)=..., msg_iov=[]}) = 0"),
            "1:32: expected '(' in a msghdr like {msg_name(...)=..., msg_iov(1)=[...], \
             msg_flags=0}, found '='"
        );
        assert_eq!(
            error("0 f(9223372036854775808) = 0"),
            "1:5: number 9223372036854775808 is too large"
        );
        let deep = format!("0 f({}1{}) = 0", "[".repeat(100), "]".repeat(100));
        assert_eq!(error(&deep), "1:69: expression nested too deeply");
    }

    #[test]
    fn code_blocks() {
        assert_eq!(
            action("+0 %{ assert tcpi_ca_state == TCP_CA_Recovery, tcpi_ca_state }%"),
            Action::Code(Code {
                line: 1,
                text: "assert tcpi_ca_state == TCP_CA_Recovery, tcpi_ca_state".into()
            })
        );
    }

    #[test]
    fn microseconds_from_digits() {
        assert_eq!(microseconds("0"), Some(0));
        assert_eq!(microseconds(".5"), Some(500_000));
        assert_eq!(microseconds("3.14159265"), Some(3_141_592));
        assert_eq!(
            microseconds("9223372036854"),
            Some(9_223_372_036_854_000_000)
        );
        assert_eq!(microseconds("9223372036855"), None);
    }

    fn time_error(source: &str) -> String {
        match check_times(&script(source)) {
            Ok(()) => panic!("{source:?}: no error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn time_starts_at_zero_and_never_goes_back() {
        assert_eq!(
            time_error("0.1 close(3) = 0"),
            "1:1: the first event must be at time 0 (the script's start)"
        );
        assert_eq!(
            time_error("+0.1 close(3) = 0"),
            "1:1: the first event must be at time 0 (the script's start)"
        );
        assert_eq!(
            time_error("0 close(3) = 0\n0.5 close(3) = 0\n0.25 close(3) = 0"),
            "3:1: time goes backwards: 0.25 after 0.5"
        );
        // Only an absolute time right after an absolute one is checked, as
        // packetdrill does: a relative time in between may end anywhere.
        let relative_between =
            script("0 close(3) = 0\n0.5 close(3) = 0\n+0 close(3) = 0\n0.25 close(3) = 0");
        assert_eq!(check_times(&relative_between), Ok(()));
    }
}
