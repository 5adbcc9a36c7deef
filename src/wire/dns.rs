//! A DNS message (RFC 1035) as mDNS carries it: [`check`] walks the header,
//! every question and every resource record, following name compression,
//! and says what is wrong with a message that does not hold together. It
//! reads nothing out: lwIP's mDNS responder parses the message itself; this
//! is only so that lwip-tap can say, in one log line, why it was dropped.

use std::fmt;

/// The fixed header: id, flags and the four counts.
pub const HEADER_LEN: usize = 12;

/// The longest name, in bytes on the wire (RFC 1035 2.3.4).
const NAME_MAX: usize = 255;

/// What is wrong with a message, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed {
    /// Which part: the header, question N or record N (from 1, counting
    /// answers, authority and additional records together).
    pub part: Part,
    pub problem: Problem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Header,
    Question(u16),
    Record(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The message ends inside it.
    Truncated,
    /// A label type other than a plain label or a pointer (0x40, 0x80): a
    /// label of 64 bytes or more has such a length byte.
    LabelType,
    /// A name longer than 255 bytes.
    NameTooLong,
    /// A compression pointer that does not point before itself.
    BadPointer,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.part {
            Part::Header => write!(f, "header")?,
            Part::Question(n) => write!(f, "question {n}")?,
            Part::Record(n) => write!(f, "record {n}")?,
        }
        f.write_str(match self.problem {
            Problem::Truncated => ": the message ends inside it",
            Problem::LabelType => ": a name has a label of an unknown type",
            Problem::NameTooLong => ": a name is longer than 255 bytes",
            Problem::BadPointer => ": a name's compression pointer does not point back",
        })
    }
}

/// Checks that `message` holds the questions and records its header
/// counts, each name well formed. Bytes after the last record are allowed.
pub fn check(message: &[u8]) -> Result<(), Malformed> {
    if message.len() < HEADER_LEN {
        return Err(Malformed {
            part: Part::Header,
            problem: Problem::Truncated,
        });
    }
    let count = |at: usize| u16::from_be_bytes([message[at], message[at + 1]]);
    let questions = count(4);
    let records = u32::from(count(6)) + u32::from(count(8)) + u32::from(count(10));
    let mut at = HEADER_LEN;
    for n in 1..=questions {
        let part = Part::Question(n);
        at = skip_name(message, at).map_err(|problem| Malformed { part, problem })?;
        // Type and class.
        at = skip(message, at, 4).map_err(|problem| Malformed { part, problem })?;
    }
    for n in 1..=records {
        let part = Part::Record(n);
        at = skip_name(message, at).map_err(|problem| Malformed { part, problem })?;
        // Type, class, TTL, then the data's length and the data.
        at = skip(message, at, 8).map_err(|problem| Malformed { part, problem })?;
        let len = message
            .get(at..at + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .ok_or(Malformed {
                part,
                problem: Problem::Truncated,
            })?;
        at = skip(message, at + 2, len).map_err(|problem| Malformed { part, problem })?;
    }
    Ok(())
}

fn skip(message: &[u8], at: usize, len: usize) -> Result<usize, Problem> {
    let end = at.checked_add(len).ok_or(Problem::Truncated)?;
    if end > message.len() {
        return Err(Problem::Truncated);
    }
    Ok(end)
}

/// Checks the name at `at` (following compression pointers, each to an
/// earlier offset, so they cannot loop); returns where the name ends in
/// place.
fn skip_name(message: &[u8], mut at: usize) -> Result<usize, Problem> {
    let mut end = None;
    let mut len = 0usize;
    loop {
        let &first = message.get(at).ok_or(Problem::Truncated)?;
        match first & 0xc0 {
            0x00 if first == 0 => {
                return Ok(end.unwrap_or(at + 1));
            }
            0x00 => {
                // At most 63: 64 and up are the label types below.
                let label = usize::from(first);
                len += label + 1;
                if len + 1 > NAME_MAX {
                    return Err(Problem::NameTooLong);
                }
                at = skip(message, at + 1, label)?;
            }
            0xc0 => {
                let &second = message.get(at + 1).ok_or(Problem::Truncated)?;
                let target = usize::from(u16::from_be_bytes([first & 0x3f, second]));
                if target >= at {
                    return Err(Problem::BadPointer);
                }
                end.get_or_insert(at + 2);
                at = target;
            }
            _ => return Err(Problem::LabelType),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `name.local` type A, class IN.
    fn query(labels: &[&[u8]]) -> Vec<u8> {
        let mut m = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in labels {
            m.push(label.len() as u8);
            m.extend_from_slice(label);
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        m
    }

    #[test]
    fn a_plain_query_and_an_answer_with_a_pointer_hold_together() {
        let mut m = query(&[b"lwip", b"local"]);
        assert_eq!(check(&m), Ok(()));
        // One answer: a pointer to the question's name, A record, 4 bytes.
        m[7] = 1;
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 120, 0, 4, 10, 0, 0, 1]);
        assert_eq!(check(&m), Ok(()));
    }

    #[test]
    fn each_fault_is_named_with_its_part() {
        let bad = |m: &[u8], part, problem| assert_eq!(check(m), Err(Malformed { part, problem }));
        bad(&[0; 11], Part::Header, Problem::Truncated);
        let m = query(&[b"lwip", b"local"]);
        bad(&m[..m.len() - 1], Part::Question(1), Problem::Truncated);
        bad(
            &query(&[&[b'a'; 64]]),
            Part::Question(1),
            Problem::LabelType,
        );
        let long: Vec<&[u8]> = vec![&[b'a'; 63]; 5];
        bad(&query(&long), Part::Question(1), Problem::NameTooLong);
        let mut m = query(&[b"x"]);
        m[12] = 0x40;
        bad(&m, Part::Question(1), Problem::LabelType);
        // A pointer to itself: a loop.
        let mut m = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1];
        bad(&m, Part::Question(1), Problem::BadPointer);
        // A record counted but missing.
        m = query(&[b"lwip", b"local"]);
        m[11] = 1;
        bad(&m, Part::Record(1), Problem::Truncated);
    }
}
