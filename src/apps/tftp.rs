//! `--tftp DIR`: lwIP's TFTP server (RFC 1350) on UDP port 69, serving the
//! files beneath one directory, read-only unless `--tftp-write`.
//!
//! lwIP parses the packets and runs the transfer (one at a time, 512-byte
//! blocks, its own timeouts and retries); this module answers its calls
//! for a file. The directory is opened during setup, before privileges are
//! dropped, and every file is opened beneath it by the kernel's rules
//! ([`Directory`]); the names are checked here first only to say clearly
//! why one is refused. Octet (binary) transfers only: netascii would need
//! line-ending conversion that lwIP leaves to the application.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use crate::lwip::pbuf::PbufRef;
use crate::lwip::tftp::{self, TftpFiles};
use crate::sandbox::Directory;

/// lwIP's block size: a shorter block is the last one.
const BLOCK: usize = 512;

/// Starts the server on `dir` (opened during setup).
pub(crate) fn start(dir: Directory, shown: String, write: bool) -> Result<(), String> {
    if !tftp::available() {
        return Err(
            "--tftp: this lwIP tree has no TFTP server (src/apps/tftp); see lwip-tap --version"
                .to_string(),
        );
    }
    let server = Server {
        dir,
        shown,
        write,
        transfer: None,
        quiet_peer: None,
    };
    tftp::start(Box::new(server))
        .map_err(|e| format!("--tftp: lwIP cannot serve on UDP port 69 ({e})"))
}

struct Server {
    dir: Directory,
    /// The directory as given, for the log.
    shown: String,
    write: bool,
    transfer: Option<Transfer>,
    /// The client whose request was refused, or whose transfer failed, last
    /// (already logged): the error packets lwIP sends it, for that and for
    /// its stray packets after, need no more lines at info.
    quiet_peer: Option<SocketAddr>,
}

struct Transfer {
    file: File,
    name: String,
    peer: String,
    peer_addr: Option<SocketAddr>,
    write: bool,
    bytes: u64,
    started: Instant,
    /// The last block was read or written.
    last_block: bool,
    /// Something went wrong (already logged).
    failed: bool,
}

impl Transfer {
    /// Reading or writing the file failed with `e`: logs it, marks the
    /// transfer failed and returns the peer to stop answering.
    fn fail(&mut self, e: &io::Error) -> Option<SocketAddr> {
        let (way, verb) = if self.write {
            ("from", "write")
        } else {
            ("to", "read")
        };
        log::error!(
            "tftp: '{}' {way} {}: cannot {verb} it after {} bytes: {e}",
            self.name,
            self.peer,
            self.bytes
        );
        self.failed = true;
        self.peer_addr
    }
}

/// A name for the log: printable ASCII as it is, anything else escaped,
/// at most 100 characters.
fn shown_name(name: &[u8]) -> String {
    let mut text = String::new();
    for &b in name.iter().take(100) {
        match b {
            b' '..=b'~' if b != b'\\' && b != b'\'' => text.push(b as char),
            _ => {
                let _ = write!(text, "\\x{b:02x}");
            }
        }
    }
    if name.len() > 100 {
        text.push_str("...");
    }
    text
}

fn shown_peer(peer: Option<SocketAddr>) -> String {
    peer.map_or_else(|| "a client".to_string(), |p| p.to_string())
}

impl Server {
    /// Why `name` cannot be opened as asked, before the kernel is asked.
    fn refusal(&self, name: &[u8], mode: &[u8], write: bool) -> Option<String> {
        if !mode.eq_ignore_ascii_case(b"octet") {
            return Some(format!(
                "mode '{}': only octet (binary) transfers are served (tftp -m binary)",
                shown_name(mode)
            ));
        }
        if write && !self.write {
            return Some("writing is off (--tftp-write allows it)".to_string());
        }
        if name.is_empty() {
            return Some("an empty name".to_string());
        }
        if name.starts_with(b"/") {
            return Some(format!(
                "an absolute name; names are relative to {}",
                self.shown
            ));
        }
        if name.split(|b| *b == b'/').any(|part| part == b"..") {
            return Some(format!(
                "'..' in the name; nothing outside {} is served",
                self.shown
            ));
        }
        None
    }

    fn explain(&self, e: &io::Error) -> String {
        match e.raw_os_error() {
            Some(libc::ENOENT) => "no such file".to_string(),
            Some(libc::EXDEV) => format!("it leads outside {}", self.shown),
            Some(libc::ELOOP) => "a symbolic link (none is followed)".to_string(),
            Some(libc::EISDIR) => "a directory".to_string(),
            Some(libc::EACCES) | Some(libc::EPERM) => {
                "permission denied (to the user lwip-tap runs as)".to_string()
            }
            _ => e.to_string(),
        }
    }

    fn finish(&mut self, transfer: Transfer) {
        let seconds = transfer.started.elapsed().as_secs_f64();
        let (verb, way) = if transfer.write {
            ("received", "from")
        } else {
            ("sent", "to")
        };
        if transfer.failed {
            // Logged when it failed.
        } else if transfer.last_block {
            log::info!(
                "tftp: '{}' {verb} {way} {}: {} bytes in {seconds:.2} s",
                transfer.name,
                transfer.peer,
                transfer.bytes
            );
        } else if transfer.write {
            log::warn!(
                "tftp: '{}' from {}: stopped after {} bytes (the client went quiet); the \
                 incomplete file stays in {}",
                transfer.name,
                transfer.peer,
                transfer.bytes,
                self.shown
            );
        } else {
            log::warn!(
                "tftp: '{}' to {}: stopped after {} bytes (the client went quiet)",
                transfer.name,
                transfer.peer,
                transfer.bytes
            );
        }
    }
}

impl TftpFiles for Server {
    fn open(&mut self, peer: Option<SocketAddr>, name: &[u8], mode: &[u8], write: bool) -> bool {
        let what = if write { "write" } else { "read" };
        let shown = shown_name(name);
        let peer_addr = peer;
        let peer = shown_peer(peer);
        let file = match self.refusal(name, mode, write) {
            Some(reason) => Err(reason),
            None => self
                .dir
                .open_file(name, write)
                .map_err(|e| self.explain(&e)),
        };
        match file {
            Ok(file) => {
                log::info!("tftp: {peer} {what}s '{shown}'");
                self.transfer = Some(Transfer {
                    file,
                    name: shown,
                    peer,
                    peer_addr,
                    write,
                    bytes: 0,
                    started: Instant::now(),
                    last_block: false,
                    failed: false,
                });
                true
            }
            Err(reason) => {
                log::warn!("tftp: {peer}: refused {what} of '{shown}': {reason}");
                self.quiet_peer = peer_addr;
                false
            }
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> Option<usize> {
        let transfer = self.transfer.as_mut()?;
        let mut filled = 0;
        while filled < buf.len() {
            match transfer.file.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.quiet_peer = transfer.fail(&e);
                    return None;
                }
            }
        }
        transfer.bytes += filled as u64;
        transfer.last_block = filled < BLOCK.min(buf.len());
        Some(filled)
    }

    fn write(&mut self, data: PbufRef<'_>) -> bool {
        let Some(transfer) = self.transfer.as_mut() else {
            return false;
        };
        for segment in data.segments() {
            if let Err(e) = transfer.file.write_all(segment) {
                self.quiet_peer = transfer.fail(&e);
                return false;
            }
            transfer.bytes += segment.len() as u64;
        }
        transfer.last_block = data.tot_len() < BLOCK;
        true
    }

    fn close(&mut self) {
        if let Some(transfer) = self.transfer.take() {
            self.finish(transfer);
        }
    }

    fn peer_error(&mut self, code: u16, message: &[u8]) {
        if let Some(transfer) = self.transfer.as_mut() {
            log::warn!(
                "tftp: '{}' with {}: the client ended it after {} bytes: '{}' (TFTP error {code})",
                transfer.name,
                transfer.peer,
                transfer.bytes,
                shown_name(message)
            );
            transfer.failed = true;
        }
    }

    fn sent_error(&mut self, peer: SocketAddr, code: u16, message: &[u8]) {
        if self.quiet_peer == Some(peer) {
            log::debug!(
                "tftp: {peer}: {} (TFTP error {code} sent)",
                shown_name(message)
            );
            return;
        }
        log::warn!(
            "tftp: {peer}: refused: {} (TFTP error {code} sent)",
            shown_name(message)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::shown_name;

    #[test]
    fn names_in_the_log_are_printable() {
        assert_eq!(shown_name(b"boot/x.img"), "boot/x.img");
        assert_eq!(shown_name(b"a\nb'"), "a\\x0ab\\x27");
        assert!(shown_name(&[b'a'; 300]).ends_with("..."));
    }
}
