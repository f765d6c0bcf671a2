//! What other tabs, the page's other instances and the browser tell a
//! client: one `BroadcastChannel` and one set of page listeners (`storage`,
//! `pageshow`, `visibilitychange`, `pagehide`, `online`) per page, shared by
//! every `PassageUser` of the page.
//!
//! A signal posted by one instance reaches the page's other instances at
//! once, before the call that posted it returns (they share the page's
//! storage, so there is nothing to wait for), and the other tabs through the
//! channel. Where there is no `BroadcastChannel` (older browsers), the
//! other tabs hear it through a `localStorage` key's `storage` event.

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use gloo_storage::{LocalStorage, Storage};
use wasm_bindgen::prelude::*;
use web_sys::{BroadcastChannel, MessageEvent, StorageEvent, Window};

use crate::core::storage::PENDING_REVOCATION;
use crate::ports::Signal;

/// The channel every client of the origin shares.
const CHANNEL: &str = "psg_session";
/// Where there is no channel: the key whose `storage` events carry the
/// signals to the other tabs.
pub const SIGNAL_KEY: &str = "psg_signal";

type Listener = Closure<dyn FnMut(JsValue)>;
type Hear = Rc<dyn Fn(Signal)>;

/// The page's share: its instances, and the channel and listeners they
/// use while there is at least one.
struct Page {
    window: Window,
    members: Vec<(u32, Hear)>,
    next: u32,
    channel: Option<BroadcastChannel>,
    /// `localStorage` carries the signals (no channel).
    by_storage: bool,
    _on_message: Option<Listener>,
    events: Vec<(&'static str, Listener)>,
}

/// The page's share. The wasm runs on the page's one thread, so a plain
/// static serves (a `thread_local!` costs its lazy machinery).
struct Shared(RefCell<Option<Page>>, Cell<u32>);
// SAFETY: wasm32-unknown-unknown without threads: one thread touches it.
unsafe impl Sync for Shared {}
static SHARED: Shared = Shared(RefCell::new(None), Cell::new(0));

/// Runs `f` with the page's share.
fn page<T>(f: impl FnOnce(&RefCell<Option<Page>>) -> T) -> T {
    f(&SHARED.0)
}

/// One instance's membership of the page's signals.
pub struct Member(u32);

/// Starts telling `hear` what other tabs, the page's other instances and
/// the browser say; `None` where there is no window (Node, workers): there
/// is no one to hear from, and nothing must keep the process alive.
pub fn join(hear: Hear) -> Option<Member> {
    let window = web_sys::window()?;
    page(|page| {
        let mut page = page.borrow_mut();
        let page = page.get_or_insert_with(|| open(window));
        page.next = page.next.wrapping_add(1);
        let id = page.next;
        page.members.push((id, hear));
        Some(Member(id))
    })
}

impl Member {
    /// Stops hearing; the last member closes the channel and removes the
    /// page's listeners.
    pub fn leave(&self) {
        let closed = page(|page| {
            let mut page = page.borrow_mut();
            let members = &mut page.as_mut()?.members;
            members.retain(|(id, _)| *id != self.0);
            if members.is_empty() {
                page.take()
            } else {
                None
            }
        });
        if let Some(closed) = closed {
            close(closed);
        }
    }

    /// Tells the page's other instances at once, and the other tabs.
    pub fn post(&self, signal: Signal) {
        let Some(text) = signal.to_text() else {
            return;
        };
        let (others, channel, by_storage) = match page(|page| {
            let page = page.borrow();
            let page = page.as_ref()?;
            let others: Vec<Hear> = page
                .members
                .iter()
                .filter(|(id, _)| *id != self.0)
                .map(|(_, hear)| hear.clone())
                .collect();
            Some((others, page.channel.clone(), page.by_storage))
        }) {
            Some(share) => share,
            None => return,
        };
        for hear in others {
            hear(signal);
        }
        if let Some(channel) = channel {
            let _ = channel.post_message(&JsValue::from_str(&text));
        } else if by_storage {
            // A value that differs from the last one, or no event fires.
            let nonce = SHARED.1.get().wrapping_add(1);
            SHARED.1.set(nonce);
            let mut value = crate::core::decimal(i64::from(nonce));
            value.push('|');
            value.push_str(&text);
            let _ = LocalStorage::raw().set_item(SIGNAL_KEY, &value);
        }
    }
}

/// True when the page's signals reach the other tabs (a channel, or
/// `localStorage` in its place).
pub fn reach_other_tabs() -> bool {
    page(|page| {
        page.borrow()
            .as_ref()
            .is_some_and(|p| p.channel.is_some() || p.by_storage)
    })
}

/// Every member hears `signal`.
fn tell(signal: Signal) {
    let members: Vec<Hear> = page(|page| {
        page.borrow()
            .as_ref()
            .map(|p| p.members.iter().map(|(_, hear)| hear.clone()).collect())
            .unwrap_or_default()
    });
    for hear in members {
        hear(signal);
    }
}

fn open(window: Window) -> Page {
    let channel = BroadcastChannel::new(CHANNEL).ok();
    let by_storage = channel.is_none() && window.local_storage().ok().flatten().is_some();
    let on_message = channel.as_ref().map(|channel| {
        let listener: Listener = Closure::new(|e: JsValue| {
            let data = e.unchecked_into::<MessageEvent>().data().as_string();
            if let Some(signal) = data.as_deref().and_then(Signal::from_text) {
                tell(signal);
            }
        });
        channel.set_onmessage(Some(listener.as_ref().unchecked_ref()));
        listener
    });
    let mut events: Vec<(&'static str, Listener)> = Vec::new();
    events.push((
        "storage",
        Closure::new(|e: JsValue| {
            let e = e.unchecked_into::<StorageEvent>();
            match e.key().as_deref() {
                Some(SIGNAL_KEY) => {
                    // "<counter>|<message>"
                    let value = e.new_value().unwrap_or_default();
                    let bytes = value.as_bytes();
                    let text = bytes
                        .iter()
                        .position(|&b| b == b'|')
                        .and_then(|at| core::str::from_utf8(bytes.get(at + 1..)?).ok());
                    if let Some(signal) = text.and_then(Signal::from_text) {
                        tell(signal);
                    }
                }
                Some(PENDING_REVOCATION) => {}
                // null: the whole storage was cleared.
                Some(key) if !key.starts_with("psg_") => {}
                _ => tell(Signal::Stored),
            }
        }),
    ));
    for event in ["pageshow", "visibilitychange"] {
        events.push((event, Closure::new(|_| tell(Signal::Changed))));
    }
    events.push(("pagehide", Closure::new(|_| tell(Signal::Hidden))));
    events.push(("online", Closure::new(|_| tell(Signal::Online))));
    for (event, listener) in &events {
        let _ = window.add_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
    }
    Page {
        window,
        members: Vec::new(),
        next: 0,
        channel,
        by_storage,
        _on_message: on_message,
        events,
    }
}

/// Removes the page's listeners and closes its channel.
fn close(page: Page) {
    for (event, listener) in &page.events {
        let _ = page
            .window
            .remove_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
    }
    if let Some(channel) = &page.channel {
        channel.set_onmessage(None);
        channel.close();
    }
}
