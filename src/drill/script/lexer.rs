//! Splits a script into tokens, each with the 1-based line and column
//! (counted in characters) where it starts. Whitespace and comments (`//`
//! to the end of the line, `/* ... */`) separate tokens and are dropped;
//! line ends mean nothing more than a space.
//!
//! Where several kinds of token could start at the same place the longest
//! one wins, and on equal length the first of: `...`, `--option`, float,
//! integer, hex integer, word, IPv4 address, IPv6 address. That is how
//! `1.2.3.4` is an address and not a float, `1460` an integer and not a
//! word, `1e10` a word, and `2001:db8::1` an address while `1:1001` (a
//! sequence range) is not.
//!
//! Keywords are not told apart from other words here: the parser reads a
//! word as a keyword only where one is expected.

use std::net::Ipv6Addr;

use super::ParseError;

/// What a token is. The token's `text` holds its characters, except where
/// said otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// `[A-Za-z0-9_]+`, not all digits.
    Word,
    /// `-?[0-9]+`.
    Int,
    /// `0x[0-9a-fA-F]+`.
    Hex,
    /// `-?[0-9]*\.[0-9]+`.
    Float,
    Ipv4,
    Ipv6,
    /// `"..."`, escapes decoded; `text` is what is between the quotes, as
    /// written.
    Str(Vec<u8>),
    /// `` `...` ``; `text` is what is between the backquotes, as written.
    Command,
    /// `%{ ... }%`; `text` is what is between the braces without the spaces
    /// and tabs at either end.
    Code,
    /// `--name`; `text` is the name.
    HeaderOption,
    /// `...`.
    Ellipsis,
    /// Any other single character.
    Punct(char),
    /// After the last token.
    End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub text: String,
    pub line: u32,
    pub column: u32,
    /// Byte offsets of the token's first character and of the character
    /// after its last one in the source.
    pub start: usize,
    pub end: usize,
}

/// The longest text an IPv6 address can have
/// (`ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`).
const MAX_IPV6_LEN: usize = 45;

/// The tokens of `source`, ending with one [`Tok::End`], or the first
/// lexical error (an unterminated string, comment, command or code block,
/// or a bad escape in a string).
pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>, ParseError> {
    let mut lexer = Lexer {
        chars: source.chars().collect(),
        pos: 0,
        offset: 0,
        line: 1,
        column: 1,
    };
    let mut tokens = Vec::new();
    loop {
        lexer.skip_blanks_and_comments()?;
        let (line, column, start) = (lexer.line, lexer.column, lexer.offset);
        let Some(c) = lexer.peek(0) else {
            tokens.push(Token {
                kind: Tok::End,
                text: String::new(),
                line,
                column,
                start,
                end: start,
            });
            return Ok(tokens);
        };
        let (kind, text) = match c {
            '"' => lexer.string()?,
            '`' => (Tok::Command, lexer.command()?),
            '%' if lexer.peek(1) == Some('{') => (Tok::Code, lexer.code()?),
            _ => match lexer.longest_match() {
                Some((kind, len)) => {
                    let text = lexer.take(len);
                    match kind {
                        // The name alone: the `--` says what it is.
                        Tok::HeaderOption => (kind, text[2..].to_string()),
                        _ => (kind, text),
                    }
                }
                None => (Tok::Punct(c), lexer.take(1)),
            },
        };
        tokens.push(Token {
            kind,
            text,
            line,
            column,
            start,
            end: lexer.offset,
        });
    }
}

struct Lexer {
    chars: Vec<char>,
    /// Index of the next character in `chars`.
    pos: usize,
    /// Byte offset of the next character in the source.
    offset: usize,
    line: u32,
    column: u32,
}

fn lex_error(line: u32, column: u32, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        column,
        message: message.into(),
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn starts_with(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(i, c)| self.peek(i) == Some(c))
    }

    /// Consumes one character, keeping the position up to date.
    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.pos += 1;
        self.offset += c.len_utf8();
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.column = 1;
        } else {
            self.column = self.column.saturating_add(1);
        }
        Some(c)
    }

    /// Consumes `len` characters and returns them.
    fn take(&mut self, len: usize) -> String {
        (0..len).filter_map(|_| self.bump()).collect()
    }

    fn skip_blanks_and_comments(&mut self) -> Result<(), ParseError> {
        loop {
            match self.peek(0) {
                // A carriage return too, so that CRLF files read as they look.
                Some(' ' | '\t' | '\n' | '\r') => {
                    self.bump();
                }
                Some('/') if self.peek(1) == Some('/') => {
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                Some('/') if self.peek(1) == Some('*') => {
                    let (line, column) = (self.line, self.column);
                    self.take(2);
                    loop {
                        if self.starts_with("*/") {
                            self.take(2);
                            break;
                        }
                        if self.bump().is_none() {
                            return Err(lex_error(
                                line,
                                column,
                                "unterminated comment: no '*/' after this '/*'",
                            ));
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// The longest number, word, address, option or ellipsis starting here,
    /// with its length in characters.
    fn longest_match(&self) -> Option<(Tok, usize)> {
        let candidates = [
            (Tok::Ellipsis, if self.starts_with("...") { 3 } else { 0 }),
            (Tok::HeaderOption, self.option_len()),
            (Tok::Float, self.float_len()),
            (Tok::Int, self.int_len()),
            (Tok::Hex, self.hex_len()),
            (Tok::Word, self.run_len(0, is_word_char)),
            (Tok::Ipv4, self.ipv4_len()),
            (Tok::Ipv6, self.ipv6_len()),
        ];
        let mut best: Option<(Tok, usize)> = None;
        for (kind, len) in candidates {
            // Strictly longer: on a tie the earlier kind stays.
            if len > best.as_ref().map_or(0, |b| b.1) {
                best = Some((kind, len));
            }
        }
        best
    }

    /// How many characters from `self.pos + from` satisfy `pred`.
    fn run_len(&self, from: usize, pred: impl Fn(char) -> bool) -> usize {
        let mut len = 0;
        while self.peek(from + len).is_some_and(&pred) {
            len += 1;
        }
        len
    }

    fn option_len(&self) -> usize {
        if !self.starts_with("--") {
            return 0;
        }
        match self.run_len(2, is_word_char) {
            0 => 0,
            name => 2 + name,
        }
    }

    fn sign_len(&self) -> usize {
        usize::from(self.peek(0) == Some('-'))
    }

    fn int_len(&self) -> usize {
        let sign = self.sign_len();
        match self.run_len(sign, |c| c.is_ascii_digit()) {
            0 => 0,
            digits => sign + digits,
        }
    }

    fn float_len(&self) -> usize {
        let sign = self.sign_len();
        let whole = self.run_len(sign, |c| c.is_ascii_digit());
        if self.peek(sign + whole) != Some('.') {
            return 0;
        }
        match self.run_len(sign + whole + 1, |c| c.is_ascii_digit()) {
            0 => 0,
            fraction => sign + whole + 1 + fraction,
        }
    }

    fn hex_len(&self) -> usize {
        if !self.starts_with("0x") {
            return 0;
        }
        match self.run_len(2, |c| c.is_ascii_hexdigit()) {
            0 => 0,
            digits => 2 + digits,
        }
    }

    fn ipv4_len(&self) -> usize {
        let mut len = 0;
        for part in 0..4 {
            if part > 0 {
                if self.peek(len) != Some('.') {
                    return 0;
                }
                len += 1;
            }
            match self.run_len(len, |c| c.is_ascii_digit()) {
                0 => return 0,
                digits => len += digits,
            }
        }
        len
    }

    /// The longest prefix of the hex digits, colons and dots from here that
    /// is an IPv6 address; 0 if none is. Every IPv6 address has a `::` or
    /// seven colons, so `1:1001` never is one.
    fn ipv6_len(&self) -> usize {
        let run = self
            .run_len(0, |c| c.is_ascii_hexdigit() || c == ':' || c == '.')
            .min(MAX_IPV6_LEN);
        let text: String = self.chars[self.pos..self.pos + run].iter().collect();
        if !text.contains(':') {
            return 0;
        }
        (2..=run)
            .rev()
            .find(|&len| text[..len].parse::<Ipv6Addr>().is_ok())
            .unwrap_or(0)
    }

    /// A `"..."` string: its decoded bytes and its text as written.
    fn string(&mut self) -> Result<(Tok, String), ParseError> {
        let (line, column) = (self.line, self.column);
        self.bump();
        let mut bytes = Vec::new();
        let mut text = String::new();
        loop {
            let (escape_line, escape_column) = (self.line, self.column);
            let c = self
                .bump()
                .ok_or_else(|| lex_error(line, column, "unterminated string"))?;
            match c {
                '"' => return Ok((Tok::Str(bytes), text)),
                '\\' => {
                    let escaped = self
                        .bump()
                        .ok_or_else(|| lex_error(line, column, "unterminated string"))?;
                    text.push('\\');
                    text.push(escaped);
                    let byte = match escaped {
                        '\\' => b'\\',
                        '"' => b'"',
                        'n' => b'\n',
                        'r' => b'\r',
                        't' => b'\t',
                        'f' => 0x0c,
                        'v' => 0x0b,
                        'x' => {
                            let digits: String = (0..2)
                                .map_while(|i| self.peek(i).filter(char::is_ascii_hexdigit))
                                .collect();
                            if digits.len() != 2 {
                                return Err(lex_error(
                                    escape_line,
                                    escape_column,
                                    "expected two hex digits after \\x in string",
                                ));
                            }
                            text.push_str(&self.take(2));
                            u8::from_str_radix(&digits, 16).map_err(|_| {
                                lex_error(escape_line, escape_column, "bad \\x escape")
                            })?
                        }
                        other => {
                            return Err(lex_error(
                                escape_line,
                                escape_column,
                                format!(
                                    "unsupported escape '\\{other}' in string \
                                     (use \\\\, \\\", \\n, \\r, \\t, \\f, \\v or \\xHH)"
                                ),
                            ))
                        }
                    };
                    bytes.push(byte);
                }
                c => {
                    text.push(c);
                    let mut utf8 = [0; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                }
            }
        }
    }

    /// A `` `...` `` shell command: what is between the backquotes, as
    /// written. A backslash keeps the character after it inside, so `` \` ``
    /// does not end the command.
    fn command(&mut self) -> Result<String, ParseError> {
        let (line, column) = (self.line, self.column);
        self.bump();
        let mut text = String::new();
        loop {
            let unterminated = || {
                lex_error(
                    line,
                    column,
                    "unterminated shell command: no closing '`' after this one",
                )
            };
            match self.bump().ok_or_else(unterminated)? {
                '`' => return Ok(text),
                '\\' => {
                    text.push('\\');
                    text.push(self.bump().ok_or_else(unterminated)?);
                }
                c => text.push(c),
            }
        }
    }

    /// A `%{ ... }%` code block: what is between the braces, without the
    /// spaces and tabs at either end.
    fn code(&mut self) -> Result<String, ParseError> {
        let (line, column) = (self.line, self.column);
        self.take(2);
        let mut text = String::new();
        loop {
            if self.starts_with("}%") {
                self.take(2);
                return Ok(text.trim_matches([' ', '\t']).to_string());
            }
            match self.bump() {
                Some(c) => text.push(c),
                None => {
                    return Err(lex_error(
                        line,
                        column,
                        "unterminated code block: no '}%' after this '%{'",
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (kind, text, line, column) of every token but the final End.
    fn lex(source: &str) -> Vec<(Tok, String, u32, u32)> {
        let mut tokens = tokenize(source).expect("lexes");
        assert_eq!(tokens.pop().map(|t| t.kind), Some(Tok::End));
        tokens
            .into_iter()
            .map(|t| (t.kind, t.text, t.line, t.column))
            .collect()
    }

    fn kinds(source: &str) -> Vec<Tok> {
        lex(source).into_iter().map(|t| t.0).collect()
    }

    fn lex_error(source: &str) -> String {
        tokenize(source).expect_err("does not lex").to_string()
    }

    #[test]
    fn a_packet_line_splits_into_tokens_with_positions() {
        let tokens = lex("+.1 < S. 0:0(0) win 65535 <mss 1460,sackOK>");
        let expected: Vec<(Tok, &str, u32, u32)> = vec![
            (Tok::Punct('+'), "+", 1, 1),
            (Tok::Float, ".1", 1, 2),
            (Tok::Punct('<'), "<", 1, 5),
            (Tok::Word, "S", 1, 7),
            (Tok::Punct('.'), ".", 1, 8),
            (Tok::Int, "0", 1, 10),
            (Tok::Punct(':'), ":", 1, 11),
            (Tok::Int, "0", 1, 12),
            (Tok::Punct('('), "(", 1, 13),
            (Tok::Int, "0", 1, 14),
            (Tok::Punct(')'), ")", 1, 15),
            (Tok::Word, "win", 1, 17),
            (Tok::Int, "65535", 1, 21),
            (Tok::Punct('<'), "<", 1, 27),
            (Tok::Word, "mss", 1, 28),
            (Tok::Int, "1460", 1, 32),
            (Tok::Punct(','), ",", 1, 36),
            (Tok::Word, "sackOK", 1, 37),
            (Tok::Punct('>'), ">", 1, 43),
        ];
        let expected: Vec<_> = expected
            .into_iter()
            .map(|(k, t, l, c)| (k, t.to_string(), l, c))
            .collect();
        assert_eq!(tokens, expected);
    }

    #[test]
    fn lines_and_columns_count_from_one_across_comments() {
        let tokens = lex("// a comment\n  /* two\nlines */ x\n\ty");
        assert_eq!(
            tokens,
            vec![
                (Tok::Word, "x".into(), 3, 10),
                (Tok::Word, "y".into(), 4, 2)
            ]
        );
    }

    #[test]
    fn a_comment_may_end_the_file_without_a_newline() {
        assert_eq!(kinds("x // end"), vec![Tok::Word]);
    }

    #[test]
    fn numbers_of_every_shape() {
        assert_eq!(
            kinds("0 -1 1460 0x1F 0.100 .1 -1.5 -.5"),
            vec![
                Tok::Int,
                Tok::Int,
                Tok::Int,
                Tok::Hex,
                Tok::Float,
                Tok::Float,
                Tok::Float,
                Tok::Float
            ]
        );
    }

    #[test]
    fn the_longest_token_wins() {
        // A word that starts with digits, an address that starts like a float.
        assert_eq!(kinds("1e10"), vec![Tok::Word]);
        assert_eq!(kinds("192.0.2.1"), vec![Tok::Ipv4]);
        assert_eq!(kinds("0xg"), vec![Tok::Word]);
        assert_eq!(
            kinds("sackOK TS FO FOEXP"),
            vec![Tok::Word, Tok::Word, Tok::Word, Tok::Word]
        );
    }

    #[test]
    fn ipv6_addresses_but_not_sequence_ranges() {
        assert_eq!(kinds("2001:db8::1"), vec![Tok::Ipv6]);
        assert_eq!(kinds("::1"), vec![Tok::Ipv6]);
        assert_eq!(kinds("::ffff:192.0.2.1"), vec![Tok::Ipv6]);
        assert_eq!(kinds("fd3d:fa7b:d17d::1"), vec![Tok::Ipv6]);
        assert_eq!(kinds("1:1001"), vec![Tok::Int, Tok::Punct(':'), Tok::Int]);
        // The colon after an address in a packet prefix is its own token.
        let tokens = lex("fd::1 > fd::2:");
        assert_eq!(tokens[2].1, "fd::2");
        assert_eq!(tokens[3].0, Tok::Punct(':'));
    }

    #[test]
    fn ellipsis_then_time() {
        assert_eq!(
            kinds("+0...0.010"),
            vec![Tok::Punct('+'), Tok::Int, Tok::Ellipsis, Tok::Float]
        );
    }

    #[test]
    fn header_options() {
        let tokens = lex("--tolerance_usecs=10000 --ip_version=ipv6 --verbose");
        assert_eq!(
            tokens[0],
            (Tok::HeaderOption, "tolerance_usecs".into(), 1, 1)
        );
        assert_eq!(tokens[1].0, Tok::Punct('='));
        assert_eq!(tokens[2].0, Tok::Int);
        assert_eq!(tokens[3].1, "ip_version");
        assert_eq!(tokens[5].1, "ipv6");
        assert_eq!(tokens[6].1, "verbose");
    }

    #[test]
    fn a_lone_dash_is_punctuation() {
        assert_eq!(kinds("- 0:0(0)")[0], Tok::Punct('-'),);
    }

    #[test]
    fn strings_decode_their_escapes() {
        let tokens = lex(r#""a\"b\\c\n\t\xf7\x00""#);
        assert_eq!(tokens[0].0, Tok::Str(b"a\"b\\c\n\t\xf7\x00".to_vec()));
        assert_eq!(tokens[0].1, r#"a\"b\\c\n\t\xf7\x00"#);
        // Strings may hold line ends, and count them.
        let tokens = lex("\"a\nb\" x");
        assert_eq!(tokens[1], (Tok::Word, "x".into(), 2, 4));
    }

    #[test]
    fn string_errors_say_where() {
        assert_eq!(lex_error("x \"abc"), "1:3: unterminated string");
        assert_eq!(
            lex_error("\"a\\qb\""),
            "1:3: unsupported escape '\\q' in string (use \\\\, \\\", \\n, \\r, \\t, \\f, \\v or \\xHH)"
        );
        assert_eq!(
            lex_error("\n \"\\x4\""),
            "2:3: expected two hex digits after \\x in string"
        );
    }

    #[test]
    fn commands_may_span_lines_and_escape_backquotes() {
        let tokens = lex("`echo a \\` b\nc` x");
        assert_eq!(tokens[0], (Tok::Command, "echo a \\` b\nc".into(), 1, 1));
        assert_eq!(tokens[1], (Tok::Word, "x".into(), 2, 4));
        assert_eq!(
            lex_error("\n  `abc"),
            "2:3: unterminated shell command: no closing '`' after this one"
        );
    }

    #[test]
    fn code_blocks_lose_their_outer_blanks() {
        let tokens = lex("%{ \tassert x == 1 }% y");
        assert_eq!(tokens[0], (Tok::Code, "assert x == 1".into(), 1, 1));
        assert_eq!(tokens[1].1, "y");
        let tokens = lex("%{\nprint(1)\n}%");
        assert_eq!(tokens[0].1, "\nprint(1)\n");
        assert_eq!(
            lex_error("%{ x } %"),
            "1:1: unterminated code block: no '}%' after this '%{'"
        );
    }

    #[test]
    fn unterminated_comment() {
        assert_eq!(
            lex_error("x\n /* abc"),
            "2:2: unterminated comment: no '*/' after this '/*'"
        );
    }

    #[test]
    fn the_end_token_is_after_the_last_character() {
        let tokens = tokenize("ab\ncd ").expect("lexes");
        let end = tokens.last().expect("an End token");
        assert_eq!((end.kind.clone(), end.line, end.column), (Tok::End, 2, 4));
    }

    #[test]
    fn other_characters_are_punctuation() {
        assert_eq!(kinds("é#"), vec![Tok::Punct('é'), Tok::Punct('#')]);
    }
}
