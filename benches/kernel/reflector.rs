//! The physical limit of the ping rows: a minimal program on a TAP that
//! reads a frame, turns an ICMP echo request into its reply (addresses
//! swapped, type 0, checksum adjusted) and writes it back. Nothing any
//! user-space stack on a TAP does per frame can cost less. Two variants:
//! sleeping in poll(2) until a frame comes, as lwip-tap's loop does by
//! default, and polling the TAP without sleeping, as `--busy-poll` does.
//!
//! The reflector is a thread of the benchmark moved into the namespace
//! (setns on that thread only), pinned to the server CPU. The host side
//! knows the reflector's MAC from a permanent neighbour entry, so no ARP
//! is needed.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::common::Netns;

const HOST: &str = "10.73.0.1";
pub(super) const REFLECTOR: &str = "10.73.0.2";
const MAC: [u8; 6] = [0x02, 0, 0, 0, 0x73, 2];

pub(super) struct Reflector {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<u64, String>>>,
}

impl Reflector {
    /// Starts the reflector on a new TAP in `ns`, on `cpu`; `polling`
    /// picks the variant.
    pub(super) fn start(ns: &Netns, cpu: usize, polling: bool) -> Result<Reflector, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let netns = format!("/run/netns/{}", ns.name());
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let tap = setup(&netns, cpu, polling);
            let tap = match tap {
                Ok(tap) => {
                    let _ = ready_tx.send(Ok(()));
                    tap
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e.clone()));
                    return Err(e);
                }
            };
            reflect(tap, &flag, polling)
        });
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .map_err(|e| format!("the reflector did not start: {e}"))??;
        ns.sh(&format!(
            "ip addr add {HOST}/24 dev refl0 && ip link set dev refl0 up && \
             ip neigh replace {REFLECTOR} lladdr {} dev refl0 nud permanent",
            MAC.map(|b| format!("{b:02x}")).join(":")
        ));
        Ok(Reflector {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops it; how many requests it answered.
    pub(super) fn stop(mut self) -> Result<u64, String> {
        self.stop.store(true, Ordering::SeqCst);
        let thread = self.thread.take().expect("running");
        thread
            .join()
            .map_err(|_| "the reflector panicked".to_string())?
    }
}

impl Drop for Reflector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Moves this thread into the namespace at `netns`, pins it to `cpu` and
/// opens the TAP `refl0` there (non-blocking when `polling`).
fn setup(netns: &str, cpu: usize, polling: bool) -> Result<File, String> {
    let ns = File::open(netns).map_err(|e| format!("{netns}: {e}"))?;
    // SAFETY: setns(2) on a descriptor we own; it moves this thread only.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(format!("setns: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: cpu_set_t is plain data, valid when zeroed; CPU_SET writes
    // inside it; sched_setaffinity(0) pins the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
    let mut flags = libc::O_RDWR | libc::O_CLOEXEC;
    if polling {
        flags |= libc::O_NONBLOCK;
    }
    // SAFETY: a NUL-terminated path.
    let fd = unsafe { libc::open(c"/dev/net/tun".as_ptr(), flags) };
    if fd < 0 {
        return Err(format!("/dev/net/tun: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: `fd` was just opened and is owned by no one else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data, valid when zeroed.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in req.ifr_name.iter_mut().zip(b"refl0") {
        *slot = *byte as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes the ifreq it is given.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut req) } < 0 {
        return Err(format!("TUNSETIFF: {}", std::io::Error::last_os_error()));
    }
    Ok(File::from(fd))
}

/// Answers every ICMP echo request until `stop`; how many it answered.
fn reflect(mut tap: File, stop: &AtomicBool, polling: bool) -> Result<u64, String> {
    let mut frame = [0u8; 2048];
    let mut answered = 0;
    while !stop.load(Ordering::Relaxed) {
        if !polling {
            let mut pfd = libc::pollfd {
                fd: tap.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one pollfd, valid for the call.
            if unsafe { libc::poll(&mut pfd, 1, 100) } <= 0 {
                continue;
            }
        }
        let len = match tap.read(&mut frame) {
            Ok(len) => len,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(format!("read: {e}")),
        };
        if echo_reply(&mut frame[..len]) {
            tap.write_all(&frame[..len])
                .map_err(|e| format!("write: {e}"))?;
            answered += 1;
        }
    }
    Ok(answered)
}

/// Makes an ICMPv4 echo request in an Ethernet frame its reply; false for
/// anything else.
fn echo_reply(f: &mut [u8]) -> bool {
    if f.len() < 14 + 20 + 8 || f[12..14] != [0x08, 0x00] || f[14 + 9] != 1 {
        return false;
    }
    let icmp = 14 + usize::from(f[14] & 0x0f) * 4;
    if f.len() < icmp + 8 || f[icmp] != 8 {
        return false;
    }
    let (dst, src) = f[..12].split_at_mut(6);
    dst.swap_with_slice(src);
    f[6..12].copy_from_slice(&MAC);
    for i in 0..4 {
        f.swap(14 + 12 + i, 14 + 16 + i);
    }
    f[icmp] = 0;
    // The type went from 8 to 0: the checksum goes up by 0x0800 (RFC 1624).
    let sum = u32::from(u16::from_be_bytes([f[icmp + 2], f[icmp + 3]])) + 0x0800;
    let sum = ((sum & 0xffff) + (sum >> 16)) as u16;
    f[icmp + 2..icmp + 4].copy_from_slice(&sum.to_be_bytes());
    true
}
