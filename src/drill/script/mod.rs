//! The packetdrill script language: reading a script into a typed
//! [`Script`] ([`parse`]) and writing its parts back in the same notation
//! (their `Display`), so that a failure can show the expected and the actual
//! packet alike. Running a script (time, packets, sockets) is not here.
//!
//! The grammar is packetdrill's (its `syntax.md`), with one difference in
//! spirit: constructs no runner of lwIP can act on (GRE, MPLS, PSP
//! encapsulation, a symbol left undefined) are parsed in full and become
//! [`Action::Unsupported`], never an error, so a runner can report each as
//! skipped. A malformed script gives the first [`ParseError`], which names
//! the line, the column and what was expected there. Checks packetdrill
//! makes while parsing are made here too: values fit their fields, a
//! sequence range adds up, `*`, time ranges, `<...>` and `[ect01]` only on
//! outbound packets.

#![forbid(unsafe_code)]

mod ast;
mod lexer;
mod parser;
mod print;

#[cfg(test)]
mod tests;

use std::fmt;

pub use ast::*;
pub use parser::{check_times, parse, parse_with_definitions};

/// The first thing wrong with a script. Its `Display` is
/// `LINE:COLUMN: MESSAGE`, for a caller to put the file name in front of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based.
    pub line: u32,
    /// 1-based, in characters (a tab is one).
    pub column: u32,
    /// What was expected or what is wrong, such as `expected a sequence
    /// range like 1:1001(1000), found 'ack'`.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for ParseError {}
