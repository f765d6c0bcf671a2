//! Hearing about other tabs: `storage` events (another tab wrote
//! `localStorage`) and a BroadcastChannel (another tab's refresh is done,
//! whether or not it changed anything).

use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use web_sys::{BroadcastChannel, MessageEvent, StorageEvent};

/// The channel every client of the origin shares.
const CHANNEL: &str = "psg_session";

/// What a tab tells the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// A `storage` event: another tab's write to the session keys, now
    /// readable here.
    Stored,
    /// Another tab says it changed the session (its write may not be
    /// readable here yet).
    Changed,
    /// Another tab released the refresh lock without changing storage.
    Unchanged,
}

/// The listeners of one client; they live as long as the page.
pub struct Signals {
    channel: Option<BroadcastChannel>,
}

impl Signals {
    /// Calls `on_signal` for every signal from another tab. Storage events
    /// count only for the session's keys (or a `clear()`, whose key is null).
    /// A page shown again (back/forward cache, tab brought to the front)
    /// counts as `Changed`: it may have missed events while hidden.
    pub fn listen(on_signal: impl Fn(Signal) + 'static) -> Signals {
        let on_signal = std::rc::Rc::new(on_signal);
        let on_wake = on_signal.clone();
        let channel = BroadcastChannel::new(CHANNEL).ok();
        if let Some(channel) = &channel {
            let handler = on_signal.clone();
            let listener = Closure::<dyn Fn(MessageEvent)>::new(move |e: MessageEvent| {
                match e.data().as_string().as_deref() {
                    Some("changed") => handler(Signal::Changed),
                    Some("unchanged") => handler(Signal::Unchanged),
                    _ => {}
                }
            });
            channel.set_onmessage(Some(listener.as_ref().unchecked_ref()));
            listener.forget();
        }
        if let Some(window) = web_sys::window() {
            let listener = Closure::<dyn Fn(StorageEvent)>::new(move |e: StorageEvent| {
                let ours = e
                    .key()
                    .is_none_or(|k| k.starts_with("psg_") && k != super::store::PENDING_REVOCATION);
                if ours {
                    on_signal(Signal::Stored);
                }
            });
            let _ = window
                .add_event_listener_with_callback("storage", listener.as_ref().unchecked_ref());
            listener.forget();
            // A page restored from the back/forward cache, or a tab coming
            // back to the foreground, may have missed events: read again.
            // (Off the hot path: these fire rarely.)
            let listener = Closure::<dyn Fn()>::new(move || on_wake(Signal::Changed));
            for event in ["pageshow", "visibilitychange"] {
                let _ = window
                    .add_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
            }
            listener.forget();
        }
        Signals { channel }
    }

    /// Tells the other tabs.
    pub fn post(&self, signal: Signal) {
        if let Some(channel) = &self.channel {
            let message = match signal {
                Signal::Stored | Signal::Changed => "changed",
                Signal::Unchanged => "unchanged",
            };
            let _ = channel.post_message(&JsValue::from_str(message));
        }
    }
}
