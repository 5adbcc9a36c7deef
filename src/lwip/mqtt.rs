//! lwIP's MQTT client (lwip/mqtt_glue.c): one connection to a broker
//! (MQTT 3.1.1 over lwIP's TCP), its publishes and subscriptions, and the
//! messages it receives, delivered to an [`MqttHandler`]. lwIP's client
//! struct stays in C; a message arriving in pieces is put together here.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::net::SocketAddr;
use std::ptr::NonNull;

use super::addr::ip_addr;
use super::LwipError;
use crate::sys;

/// The most of one received message kept (the rest is counted).
pub(crate) const MESSAGE_KEPT: usize = 4096;

/// lwIP's `mqtt_connection_status_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MqttStatus {
    Accepted,
    /// The broker's CONNACK refused it with this return code (1-5).
    Refused(u8),
    /// The TCP connection closed, failed or could not be made.
    Disconnected,
    /// The broker did not answer in time (lwIP's keep-alive or request
    /// timeout).
    Timeout,
}

impl MqttStatus {
    fn from_code(code: c_int) -> MqttStatus {
        match code {
            0 => MqttStatus::Accepted,
            1..=255 => MqttStatus::Refused(code as u8),
            257 => MqttStatus::Timeout,
            _ => MqttStatus::Disconnected,
        }
    }
}

/// What a client hears from lwIP.
pub(crate) trait MqttHandler {
    fn connection(&mut self, status: MqttStatus);
    /// A publish or subscribe was acknowledged (`Ok`) or not.
    fn request_done(&mut self, result: Result<(), LwipError>);
    /// A message on `topic`: its first [`MESSAGE_KEPT`] bytes, and its
    /// length.
    fn message(&mut self, topic: &[u8], data: &[u8], len: usize);
}

struct State {
    handler: RefCell<Box<dyn MqttHandler>>,
    /// The message arriving: topic, data kept, length so far.
    incoming: RefCell<(Vec<u8>, Vec<u8>, usize)>,
    /// Callbacks under way (the client is freed after them).
    depth: Cell<u32>,
}

/// One of lwIP's MQTT clients. Dropping it closes its connection, with no
/// further event.
pub(crate) struct MqttClient {
    raw: NonNull<c_void>,
    state: NonNull<State>,
}

/// Whether the lwIP tree built has the MQTT client.
pub(crate) fn available() -> bool {
    // SAFETY: returns a constant.
    unsafe { sys::lwip_tap_mqtt_available() != 0 }
}

fn c_string(text: &str) -> Result<CString, LwipError> {
    CString::new(text).map_err(|_| LwipError::Argument)
}

impl MqttClient {
    /// Connects to `broker` as `client_id`; events go to `handler`.
    pub(crate) fn connect(
        broker: SocketAddr,
        client_id: &str,
        keep_alive_s: u16,
        handler: Box<dyn MqttHandler>,
    ) -> Result<MqttClient, LwipError> {
        let id = c_string(client_id)?;
        // SAFETY: lwIP runs on this thread.
        let raw = NonNull::new(unsafe { sys::lwip_tap_mqtt_new() }).ok_or(LwipError::Memory)?;
        let state = NonNull::from(Box::leak(Box::new(State {
            handler: RefCell::new(handler),
            incoming: RefCell::new((Vec::new(), Vec::new(), 0)),
            depth: Cell::new(0),
        })));
        let client = MqttClient { raw, state };
        let addr = ip_addr(broker.ip());
        // SAFETY: a live client; lwIP copies the strings into its output
        // buffer before returning; the state outlives the client (Drop).
        let code = unsafe {
            sys::lwip_tap_mqtt_connect(
                raw.as_ptr(),
                &addr,
                broker.port(),
                id.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                keep_alive_s,
                state.as_ptr().cast(),
            )
        };
        super::check(code)?;
        Ok(client)
    }

    /// Publishes `payload` on `topic` (QoS 0-2, not retained); QoS 1 and 2
    /// are acknowledged through [`MqttHandler::request_done`].
    pub(crate) fn publish(&self, topic: &str, payload: &[u8], qos: u8) -> Result<(), LwipError> {
        let topic = c_string(topic)?;
        let len = u16::try_from(payload.len()).map_err(|_| LwipError::Argument)?;
        // SAFETY: a live client; lwIP copies topic and payload before
        // returning.
        super::check(unsafe {
            sys::lwip_tap_mqtt_publish(
                self.raw.as_ptr(),
                topic.as_ptr(),
                payload.as_ptr().cast(),
                len,
                qos,
                0,
                self.state.as_ptr().cast(),
            )
        })
    }

    /// Subscribes to `topic` (wildcards allowed).
    pub(crate) fn subscribe(&self, topic: &str, qos: u8) -> Result<(), LwipError> {
        let topic = c_string(topic)?;
        // SAFETY: a live client; lwIP copies the topic before returning.
        super::check(unsafe {
            sys::lwip_tap_mqtt_subscribe(
                self.raw.as_ptr(),
                topic.as_ptr(),
                qos,
                self.state.as_ptr().cast(),
            )
        })
    }
}

impl Drop for MqttClient {
    fn drop(&mut self) {
        let (raw, state) = (self.raw, self.state);
        let free = move || {
            // SAFETY: the client is ours; after this lwIP calls nothing
            // back, so the state can go too.
            unsafe {
                sys::lwip_tap_mqtt_free(raw.as_ptr());
                drop(Box::from_raw(state.as_ptr()));
            }
        };
        // SAFETY: the state lives until `free` runs.
        if unsafe { state.as_ref() }.depth.get() > 0 {
            // lwIP still uses the client when the callback returns.
            super::defer(free);
        } else {
            free();
        }
    }
}

/// Runs `f` on the client's handler, inside a callback.
///
/// # Safety
/// `arg` must be the state of a live client.
unsafe fn with_handler(arg: *mut c_void, f: impl FnOnce(&State, &mut dyn MqttHandler)) {
    // SAFETY: as the caller guarantees.
    let state = unsafe { &*(arg as *const State) };
    state.depth.set(state.depth.get() + 1);
    if let Ok(mut handler) = state.handler.try_borrow_mut() {
        f(state, handler.as_mut());
    }
    state.depth.set(state.depth.get() - 1);
}

#[no_mangle]
pub(crate) unsafe extern "C" fn lwip_tap_mqtt_connection(arg: *mut c_void, status: c_int) {
    // SAFETY: lwIP passes the state given to lwip_tap_mqtt_connect.
    unsafe { with_handler(arg, |_, h| h.connection(MqttStatus::from_code(status))) };
}

#[no_mangle]
pub(crate) unsafe extern "C" fn lwip_tap_mqtt_request_done(arg: *mut c_void, result: sys::err_t) {
    // SAFETY: as above.
    unsafe { with_handler(arg, |_, h| h.request_done(super::check(result))) };
}

#[no_mangle]
pub(crate) unsafe extern "C" fn lwip_tap_mqtt_incoming_publish(
    arg: *mut c_void,
    topic: *const c_char,
    tot_len: u32,
) {
    // SAFETY: lwIP passes a NUL-terminated topic for the call.
    let topic = unsafe { CStr::from_ptr(topic) }.to_bytes().to_vec();
    // SAFETY: as above.
    unsafe {
        with_handler(arg, |state, _| {
            // Its data follows (an empty message too, with the last flag).
            *state.incoming.borrow_mut() =
                (topic, Vec::with_capacity(tot_len.min(4096) as usize), 0);
        })
    };
}

#[no_mangle]
pub(crate) unsafe extern "C" fn lwip_tap_mqtt_incoming_data(
    arg: *mut c_void,
    data: *const u8,
    len: u16,
    flags: u8,
) {
    let data: &[u8] = if data.is_null() {
        &[]
    } else {
        // SAFETY: lwIP passes `len` bytes for the call.
        unsafe { std::slice::from_raw_parts(data, usize::from(len)) }
    };
    // SAFETY: as above.
    unsafe {
        with_handler(arg, |state, h| {
            let mut incoming = state.incoming.borrow_mut();
            let room = MESSAGE_KEPT.saturating_sub(incoming.1.len());
            incoming.1.extend_from_slice(&data[..data.len().min(room)]);
            incoming.2 += data.len();
            // MQTT_DATA_FLAG_LAST
            if flags & 1 != 0 {
                let (topic, kept, total) = std::mem::take(&mut *incoming);
                drop(incoming);
                h.message(&topic, &kept, total);
            }
        })
    };
}
