//! What other tabs and the browser tell the client: other tabs' messages on
//! a `BroadcastChannel`, `storage` events for the session's keys, a page
//! shown again (`pageshow`, `visibilitychange`), and `online`.

use alloc::rc::{Rc, Weak};
use alloc::vec::Vec;

use wasm_bindgen::prelude::*;
use web_sys::{BroadcastChannel, MessageEvent, StorageEvent, Window};

use super::local_store::PENDING_REVOCATION;
use crate::ports::Signal;

/// The channel every client of the origin shares.
const CHANNEL: &str = "psg_session";

/// The channel, opened where there is a window.
pub fn channel(window: Option<&Window>) -> Option<BroadcastChannel> {
    // Not in Node or a worker: an open channel keeps Node's event loop
    // alive, and there is no storage for other tabs to change.
    window?;
    BroadcastChannel::new(CHANNEL).ok()
}

/// The message for a signal on the channel.
pub fn message(signal: Signal) -> Option<&'static str> {
    match signal {
        Signal::Changed => Some("changed"),
        Signal::Unchanged => Some("unchanged"),
        _ => None,
    }
}

type Listener = Closure<dyn FnMut(JsValue)>;

/// The listeners one client added; [`Signals::stop`] removes them all.
pub struct Signals {
    window: Window,
    channel: Option<BroadcastChannel>,
    _on_message: Option<Listener>,
    events: Vec<(&'static str, Listener)>,
}

impl Signals {
    /// Starts listening; `to` hears each signal while it lives.
    pub fn listen<T: 'static>(
        window: Window,
        channel: Option<BroadcastChannel>,
        to: Weak<T>,
        deliver: fn(&Rc<T>, Signal),
    ) -> Signals {
        let tell = move |signal| {
            if let Some(to) = to.upgrade() {
                deliver(&to, signal);
            }
        };
        let on_message = channel.as_ref().map(|channel| {
            let tell = tell.clone();
            let listener: Listener = Closure::new(move |e: JsValue| {
                let data = e.unchecked_into::<MessageEvent>().data().as_string();
                match data.as_deref() {
                    Some("changed") => tell(Signal::Changed),
                    Some("unchanged") => tell(Signal::Unchanged),
                    _ => {}
                }
            });
            channel.set_onmessage(Some(listener.as_ref().unchecked_ref()));
            listener
        });
        let mut events: Vec<(&'static str, Listener)> = Vec::new();
        {
            let tell = tell.clone();
            events.push((
                "storage",
                Closure::new(move |e: JsValue| {
                    let key = e.unchecked_into::<StorageEvent>().key();
                    // null: the whole storage was cleared.
                    let ours = key
                        .as_deref()
                        .is_none_or(|k| k.starts_with("psg_") && k != PENDING_REVOCATION);
                    if ours {
                        tell(Signal::Stored);
                    }
                }),
            ));
        }
        for event in ["pageshow", "visibilitychange"] {
            let tell = tell.clone();
            events.push((event, Closure::new(move |_| tell(Signal::Changed))));
        }
        events.push(("online", Closure::new(move |_| tell(Signal::Online))));
        for (event, listener) in &events {
            let _ =
                window.add_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
        }
        Signals {
            window,
            channel,
            _on_message: on_message,
            events,
        }
    }

    /// Removes every listener and closes the channel.
    pub fn stop(self) {
        for (event, listener) in &self.events {
            let _ = self
                .window
                .remove_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
        }
        if let Some(channel) = &self.channel {
            channel.set_onmessage(None);
            channel.close();
        }
    }
}
