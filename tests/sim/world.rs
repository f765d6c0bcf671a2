//! A deterministic world for the client: a simulated clock, tabs that share
//! a localStorage whose writes reach the other tabs a few ms late and key
//! by key (as in Chromium), Web Locks released when a page closes, a
//! BroadcastChannel, and a Passage-like auth server with rotation, reuse
//! detection and injected transient failures. The real client runs in it;
//! only its ports are simulated.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::rc::{Rc, Weak};

use passage_user::client::{Client, Options};
use passage_user::core::error::{Code, Error};
use passage_user::core::session::Session;
use passage_user::core::storage;
use passage_user::ports::NewCredential;
use passage_user::ports::{
    Authenticator, Clock, Detail, Edge, Event, Guard, Http, Io, LockMessage, Locked, Locks, Method,
    Random, Reply, Request, SendError, Signal, Signals, Store, Tasks,
};
use serde::Serialize;
use serde_json::{json, Value};

use crate::exec::{oneshot, Exec, Sender};

pub const ORIGIN: &str = "https://auth.test";
pub const APP: &str = "app1";
pub const START: f64 = 1_800_000_000_000.0;
pub use passage_user::core::storage::{
    AUTH_TOKEN as AUTH, PENDING_REVOCATION as PENDING, REFRESH_EXPIRATION as END,
    REFRESH_TOKEN as REFRESH,
};

/// mulberry32: small, seeded, and the same on every machine.
pub struct Prng(Cell<u32>);

impl Prng {
    pub fn new(seed: u64) -> Self {
        Prng(Cell::new((seed ^ (seed >> 32)) as u32))
    }

    /// A number in `[0, 1)`.
    pub fn next(&self) -> f64 {
        let t = self.0.get().wrapping_add(0x6d2b_79f5);
        self.0.set(t);
        let mut r = (t ^ (t >> 15)).wrapping_mul(1 | t);
        r = r.wrapping_add((r ^ (r >> 7)).wrapping_mul(61 | r)) ^ r;
        f64::from(r ^ (r >> 14)) / 4_294_967_296.0
    }

    /// An integer in `[lo, hi]`.
    pub fn between(&self, lo: u32, hi: u32) -> u32 {
        lo + (self.next() * f64::from(hi - lo + 1)) as u32
    }
}

/// The world's settings.
#[derive(Clone, Debug)]
pub struct Settings {
    pub tabs: usize,
    /// The chance that a request fails transiently.
    pub faults: f64,
    /// Auth token lifetime, s.
    pub lifetime: i64,
    /// The client's request timeout, ms.
    pub timeout_ms: u32,
    /// The most ms a write or message takes to reach another tab.
    pub lag: u32,
    /// The server's reuse grace period, s (0: strict).
    pub grace: i64,
    /// What the browser has to keep one refresh across tabs.
    pub browser: Browser,
}

/// What a simulated browser offers the client across tabs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Browser {
    /// Web Locks, and a BroadcastChannel whose messages travel apart from
    /// storage events (one may overtake the other).
    WebLocks,
    /// No Web Locks (an insecure origin, an older browser): the client's
    /// own lock over the channel's messages.
    NoLocks,
    /// Neither Web Locks nor a channel: the messages travel as storage
    /// events, in order with the session's writes.
    Neither,
}

/// Where the world tells its story.
pub type Trace = Box<dyn Fn(String)>;

pub struct World {
    pub exec: Rc<Exec>,
    pub random: Prng,
    pub settings: Settings,
    /// What localStorage holds, as the browser sees it.
    pub truth: RefCell<BTreeMap<String, String>>,
    locks: RefCell<HashMap<String, LockState>>,
    lock_ids: Cell<u64>,
    pub server: Server,
    /// POST /tokens requests in flight now, and the most ever.
    pub refreshing: Cell<i32>,
    pub max_refreshing: Cell<i32>,
    in_flight: RefCell<Vec<Rc<Flight>>>,
    /// Refresh replies the server sent to a page that had closed.
    pub lost_replies: Cell<u32>,
    /// Pages closed before their last write of the refresh token reached
    /// every other tab's copy of storage.
    pub unheard_writes: Cell<u32>,
    /// When the last such page closed.
    pub last_unheard_at: Cell<f64>,
    /// When each page (tab, generation) last wrote the refresh token.
    refresh_writes: RefCell<HashMap<(usize, u32), f64>>,
    pub tabs: RefCell<Vec<Rc<Tab>>>,
    pub trace: RefCell<Option<Trace>>,
    /// Every lock message a page posted, with the page's tab.
    pub lock_messages: RefCell<Vec<(usize, LockMessage)>>,
    /// The name of every Web Lock a page asked for.
    pub lock_names: RefCell<Vec<String>>,
}

impl World {
    /// Whether a tab holds the Web Lock `name`.
    pub fn lock_held(&self, name: &str) -> bool {
        self.locks.borrow().get(name).is_some_and(|l| l.held)
    }

    pub fn new(seed: u64, settings: Settings) -> Rc<World> {
        let world = Rc::new(World {
            exec: Exec::new(START),
            random: Prng::new(seed),
            settings: settings.clone(),
            truth: RefCell::new(BTreeMap::new()),
            locks: RefCell::new(HashMap::new()),
            lock_ids: Cell::new(0),
            server: Server::default(),
            refreshing: Cell::new(0),
            max_refreshing: Cell::new(0),
            in_flight: RefCell::new(Vec::new()),
            lost_replies: Cell::new(0),
            unheard_writes: Cell::new(0),
            last_unheard_at: Cell::new(0.0),
            refresh_writes: RefCell::new(HashMap::new()),
            tabs: RefCell::new(Vec::new()),
            trace: RefCell::new(None),
            lock_messages: RefCell::new(Vec::new()),
            lock_names: RefCell::new(Vec::new()),
        });
        for id in 0..settings.tabs {
            let tab = Rc::new(Tab {
                id,
                world: Rc::downgrade(&world),
                generation: Cell::new(0),
                view: RefCell::new(BTreeMap::new()),
                client: RefCell::new(None),
                events: RefCell::new(Vec::new()),
                cache: RefCell::new((None, 0.0)),
                last_delivery: Cell::new(0.0),
                last_message: Cell::new(0.0),
                frozen_until: Cell::new(0.0),
                names_app: Cell::new(true),
                clock_ahead: Cell::new(0.0),
                heard_in_flight: Cell::new(0),
                heard_with: RefCell::new(Vec::new()),
                store_full: Cell::new(false),
                store_async: Cell::new(false),
                store_memory: Cell::new(false),
                lock_waits_run_out: Cell::new(0),
                offline: Cell::new(false),
            });
            world.tabs.borrow_mut().push(tab.clone());
            tab.open();
        }
        world
    }

    pub fn now(&self) -> f64 {
        self.exec.now()
    }

    pub fn trace(&self, what: impl FnOnce() -> String) {
        if let Some(t) = &*self.trace.borrow() {
            t(what());
        }
    }

    pub fn tab(&self, i: usize) -> Rc<Tab> {
        self.tabs.borrow()[i].clone()
    }

    /// Breaks the cycles between the world and its tabs' clients.
    pub fn tear_down(&self) {
        for tab in self.tabs.borrow().iter() {
            tab.client.borrow_mut().take();
        }
        self.tabs.borrow_mut().clear();
    }
}

/// One page: its view of localStorage, its client, what it heard.
pub struct Tab {
    pub id: usize,
    world: Weak<World>,
    pub generation: Cell<u32>,
    pub view: RefCell<BTreeMap<String, String>>,
    client: RefCell<Option<Rc<Client<SimPorts>>>>,
    /// (time, event, reason)
    pub events: RefCell<Vec<(f64, Event, Option<&'static str>)>>,
    /// What the client published: the token the API edge hands out while
    /// `now < until`.
    pub cache: RefCell<(Option<String>, f64)>,
    last_delivery: Cell<f64>,
    /// The same for the channel's messages, where they travel apart.
    last_message: Cell<f64>,
    /// Until then the page is frozen: what it sends goes out when it wakes.
    pub frozen_until: Cell<f64>,
    /// The page's client is given the app id (else it reads it from the
    /// stored token).
    pub names_app: Cell<bool>,
    /// How far the page's clock runs ahead of the world's (the server's), ms.
    pub clock_ahead: Cell<f64>,
    /// Events the page's listeners heard while a refresh of its own was
    /// still in flight (they must come once it has landed).
    pub heard_in_flight: Cell<u32>,
    /// For each event heard, the token the page published then.
    pub heard_with: RefCell<Vec<Option<String>>>,
    /// The page's store refuses every write (a full localStorage).
    pub store_full: Cell<bool>,
    /// The page's store answers later, as an app's store whose methods
    /// return promises does.
    pub store_async: Cell<bool>,
    /// The page keeps its session in memory only (the memory store).
    pub store_memory: Cell<bool>,
    /// This many of the page's next Web Lock waits run out (as a wait on a
    /// frozen holder would), whatever the lock's state.
    pub lock_waits_run_out: Cell<u32>,
    /// The browser says it is offline (`navigator.onLine` false): every
    /// request fails at once as a network error.
    pub offline: Cell<bool>,
}

impl Tab {
    /// Sets `key` in the browser's storage and in this tab's copy at once
    /// (`None` removes it): a write already visible here whose storage
    /// event has not arrived, or a page's storage before it opens.
    pub fn set_stored(&self, key: &str, value: Option<&str>) {
        let world = self.world();
        for view in [&mut *world.truth.borrow_mut(), &mut *self.view.borrow_mut()] {
            match value {
                Some(v) => view.insert(key.into(), v.into()),
                None => view.remove(key),
            };
        }
    }

    fn world(&self) -> Rc<World> {
        self.world.upgrade().expect("the world outlives its tabs")
    }

    pub fn client(&self) -> Rc<Client<SimPorts>> {
        self.client
            .borrow()
            .clone()
            .expect("an open tab has a client")
    }

    /// (Re)opens the page: a fresh view of storage and a new client; the
    /// old page's client goes dead (its requests and locks never answer).
    pub fn open(self: &Rc<Self>) {
        self.reopen(true);
    }

    /// The page dies without a word (a crash, a killed process): no
    /// `pagehide`, so locks of its own are never let go; then a new page.
    pub fn crash(self: &Rc<Self>) {
        self.reopen(false);
    }

    fn reopen(self: &Rc<Self>, goodbye: bool) {
        let world = self.world();
        // The page going away hears `pagehide` first: it lets go of the
        // locks of its own (Web Locks the browser lets go below).
        let old = self.client.borrow().clone();
        if let Some(old) = old.filter(|_| goodbye) {
            old.signal(Signal::Hidden);
        }
        // A refresh the server carried out whose reply this page will never
        // read: the next page holds a refresh token the server has rotated.
        for flight in world.in_flight.borrow().iter() {
            if flight.tab != self.id || flight.orphan.get() {
                continue;
            }
            if flight.rotated.get() {
                world.lost_replies.set(world.lost_replies.get() + 1);
            }
            flight.orphan.set(true);
            if flight.refresh {
                world.refreshing.set(world.refreshing.get() - 1);
            }
        }
        // The browser has this page's write of the last `lag` ms, but a tab
        // whose copy has not caught up yet may take the lock, which closing
        // releases, and read the token it replaced.
        let wrote_at = world
            .refresh_writes
            .borrow()
            .get(&(self.id, self.generation.get()))
            .copied();
        if wrote_at.is_some_and(|at| world.now() - at <= f64::from(world.settings.lag)) {
            let truth = world.truth.borrow().get(REFRESH).cloned();
            let behind = world
                .tabs
                .borrow()
                .iter()
                .any(|t| t.id != self.id && t.view.borrow().get(REFRESH) != truth.as_ref());
            if behind {
                world.unheard_writes.set(world.unheard_writes.get() + 1);
                world.last_unheard_at.set(world.now());
            }
        }
        // Closing a page releases the locks it holds and drops its waits.
        let mut freed = Vec::new();
        for (name, state) in world.locks.borrow_mut().iter_mut() {
            state.queue.retain(|w| w.tab != self.id);
            if state.holder.is_some_and(|(tab, _)| tab == self.id) {
                freed.push(name.clone());
            }
        }
        for name in freed {
            let id = world.locks.borrow()[&name].holder.map(|(_, id)| id);
            if let Some(id) = id {
                release_lock(&world, &name, id);
            }
        }
        self.generation.set(self.generation.get() + 1);
        *self.view.borrow_mut() = world.truth.borrow().clone();
        self.events.borrow_mut().clear();
        *self.cache.borrow_mut() = (None, 0.0);
        self.last_delivery.set(0.0);
        self.last_message.set(0.0);
        let ports = SimPorts {
            world: self.world.clone(),
            tab: Rc::downgrade(self),
            generation: self.generation.get(),
        };
        let store = SimStore {
            world: self.world.clone(),
            tab: Rc::downgrade(self),
            generation: self.generation.get(),
        };
        let options = Options {
            app_id: self.names_app.get().then(|| APP.into()),
            auth_origin: ORIGIN.into(),
            leeway_ms: None,
            timeout_ms: world.settings.timeout_ms,
        };
        let store: Box<dyn Store> = if self.store_memory.get() {
            Box::new(passage_user::client::MemoryStore::default())
        } else if self.store_async.get() {
            Box::new(Later(store))
        } else {
            Box::new(store)
        };
        let client = Client::new(options, ports, store);
        *self.client.borrow_mut() = Some(client.clone());
        client.start();
    }

    /// What `PassageUser.getAuthToken()` does: the published token while
    /// fresh, else the client.
    pub fn get_auth_token(&self) -> impl Future<Output = Result<String, Error>> + 'static {
        let world = self.world();
        let (token, until) = self.cache.borrow().clone();
        let client = self.client();
        async move {
            match token {
                Some(token) if world.now() < until => Ok(token),
                _ => client.get_auth_token().await,
            }
        }
    }

    /// Runs `fire` in this tab a few ms from now, after every storage event
    /// delivered before.
    fn deliver(self: &Rc<Self>, fire: impl FnOnce(&Rc<Tab>) + 'static) {
        self.deliver_after(&self.last_delivery, fire);
    }

    /// Delivers another tab's message: on the channel, in order with the
    /// channel's other messages only; without one, as a storage event.
    fn deliver_message(self: &Rc<Self>, fire: impl FnOnce(&Rc<Tab>) + 'static) {
        if self.world().settings.browser == Browser::Neither {
            self.deliver_after(&self.last_delivery, fire);
        } else {
            self.deliver_after(&self.last_message, fire);
        }
    }

    fn deliver_after(self: &Rc<Self>, last: &Cell<f64>, fire: impl FnOnce(&Rc<Tab>) + 'static) {
        let world = self.world();
        let due =
            (world.now() + f64::from(world.random.between(0, world.settings.lag))).max(last.get());
        last.set(due);
        let generation = self.generation.get();
        let tab = self.clone();
        world.exec.at(due - world.now(), move || {
            if tab.generation.get() == generation {
                fire(&tab);
            }
        });
    }

    fn signal(&self, signal: Signal) {
        if let Some(client) = self.client.borrow().clone() {
            client.signal(signal);
        }
    }
}

/// A tab's ports; everything goes dead once its page is reopened.
pub struct SimPorts {
    world: Weak<World>,
    tab: Weak<Tab>,
    generation: u32,
}

impl SimPorts {
    fn world(&self) -> Rc<World> {
        self.world.upgrade().expect("the world outlives its tabs")
    }

    fn alive(&self) -> Option<Rc<Tab>> {
        self.tab
            .upgrade()
            .filter(|tab| tab.generation.get() == self.generation)
    }
}

/// A JSON value on the host: serde_json's (tests/support/json.rs).
#[path = "../support/json.rs"]
mod json;
pub use json::HostJson as SimJson;

pub struct SimGuard {
    world: Weak<World>,
    name: String,
    id: u64,
}

impl Guard for SimGuard {
    fn release(self) -> impl Future<Output = ()> + 'static {
        let world = self.world.upgrade().expect("the world outlives its tabs");
        release_lock(&world, &self.name, self.id);
        // The next holder may take it in a later task.
        world.exec.sleep(0.0)
    }
}

impl Clock for SimPorts {
    fn now(&self) -> f64 {
        let ahead = self.alive().map_or(0.0, |t| t.clock_ahead.get());
        self.world().now() + ahead
    }

    fn sleep(&self, ms: u32) -> impl Future<Output = ()> + 'static {
        self.world().exec.sleep(f64::from(ms))
    }
}

impl Random for SimPorts {
    fn random(&self) -> f64 {
        self.world().random.next()
    }
}

impl Http for SimPorts {
    type Json = SimJson;

    fn online(&self) -> bool {
        self.alive().is_none_or(|t| !t.offline.get())
    }

    fn send(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Reply<SimJson>, SendError>> + 'static {
        let world = self.world();
        let (tab, generation) = (self.tab.clone(), self.generation);
        // A frozen page runs nothing: its request (and its timeout) start
        // when it wakes.
        let frozen = self
            .alive()
            .map_or(0.0, |t| (t.frozen_until.get() - world.now()).max(0.0));
        async move {
            if frozen > 0.0 {
                world.exec.sleep(frozen).await;
            }
            let live = tab.upgrade().filter(|t| t.generation.get() == generation);
            match live {
                Some(tab) => send(&world, request, tab.id).await,
                None => std::future::pending().await,
            }
        }
    }

    fn to_json<T: Serialize + ?Sized>(&self, value: &T) -> Option<String> {
        serde_json::to_string(value).ok()
    }
}

impl Locks for SimPorts {
    type Guard = SimGuard;

    fn lock(
        &self,
        name: &str,
        timeout_ms: u32,
    ) -> impl Future<Output = Locked<SimGuard>> + 'static {
        let world = self.world();
        let alive = self.alive();
        let runs_out = alive.as_ref().is_some_and(|tab| {
            let n = tab.lock_waits_run_out.get();
            tab.lock_waits_run_out.set(n.saturating_sub(1));
            n > 0 && world.settings.browser == Browser::WebLocks
        });
        let answer = alive
            .as_ref()
            .filter(|_| world.settings.browser == Browser::WebLocks && !runs_out)
            .map(|tab| request_lock(&world, tab, name, timeout_ms));
        let alive = alive.is_some();
        let wait = world.exec.sleep(f64::from(timeout_ms));
        async move {
            if runs_out {
                wait.await;
                return Locked::TimedOut;
            }
            match answer {
                Some(answer) => answer.await,
                None if alive => Locked::NoLocks,
                None => std::future::pending().await,
            }
        }
    }
}

impl Signals for SimPorts {
    fn post(&self, signal: Signal) {
        let Some(me) = self.alive() else { return };
        if let Signal::Lock(message) = signal {
            self.world()
                .lock_messages
                .borrow_mut()
                .push((me.id, message));
        }
        for tab in self.world().tabs.borrow().iter() {
            if tab.id != me.id {
                tab.deliver_message(move |tab| tab.signal(signal));
            }
        }
    }
}

impl Tasks for SimPorts {
    fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        self.world().exec.spawn(task);
    }
}

impl Edge for SimPorts {
    fn publish(&self, token: Option<&str>, fresh_until: f64) {
        if let Some(tab) = self.alive() {
            *tab.cache.borrow_mut() = (token.map(String::from), fresh_until);
        }
    }

    fn emit(&self, event: Event, detail: &Detail) {
        if let Some(tab) = self.alive() {
            let world = self.world();
            let reason = detail.reason.map(|r| r.as_str());
            world.trace(|| {
                format!(
                    "tab {} hears {}{}",
                    tab.id,
                    event.as_str(),
                    reason.map(|r| format!(" ({r})")).unwrap_or_default()
                )
            });
            tab.events.borrow_mut().push((world.now(), event, reason));
            let published = tab.cache.borrow().0.clone();
            tab.heard_with.borrow_mut().push(published);
            let client = tab.client.borrow().clone();
            if client.is_some_and(|c| c.is_refreshing()) {
                tab.heard_in_flight.set(tab.heard_in_flight.get() + 1);
            }
        }
    }
}

impl Authenticator for SimPorts {
    fn create_credential(
        &self,
        _: &SimJson,
    ) -> impl Future<Output = Result<NewCredential, Error>> + 'static {
        // The simulated tabs have no authenticator.
        std::future::ready(Err(Error::new(Code::PasskeyFailed, "no authenticator")))
    }

    fn remember_credential(&self, _: &str, _: &str) {}

    fn forget_credential(&self, _: &str) {}
}

/// localStorage as one tab sees it: its own writes at once, other tabs' a
/// few ms late, key by key, each with its storage event.
pub struct SimStore {
    world: Weak<World>,
    tab: Weak<Tab>,
    generation: u32,
}

impl SimStore {
    fn write(&self, entries: &[(String, Option<String>)]) {
        let Some(me) = self
            .tab
            .upgrade()
            .filter(|t| t.generation.get() == self.generation)
        else {
            return;
        };
        let world = self.world.upgrade().expect("the world outlives its tabs");
        if entries.iter().any(|(key, _)| *key == REFRESH) {
            world
                .refresh_writes
                .borrow_mut()
                .insert((me.id, self.generation), world.now());
        }
        for (key, value) in entries {
            match value {
                Some(v) => {
                    world.truth.borrow_mut().insert(key.to_string(), v.clone());
                    me.view.borrow_mut().insert(key.to_string(), v.clone());
                }
                None => {
                    world.truth.borrow_mut().remove(key);
                    me.view.borrow_mut().remove(key);
                }
            }
        }
        // An app's own store (promises) is one store for every tab, and
        // fires no storage event: other tabs hear of its writes on the
        // channel only.
        if me.store_async.get() {
            for tab in world.tabs.borrow().iter() {
                *tab.view.borrow_mut() = world.truth.borrow().clone();
            }
            return;
        }
        for tab in world.tabs.borrow().iter() {
            if tab.id == me.id {
                continue;
            }
            for (key, _) in entries {
                let key = key.to_string();
                let w = Rc::downgrade(&world);
                tab.deliver(move |tab| {
                    let world = w.upgrade().expect("the world outlives its tabs");
                    // The other tab's copy catches up with the browser's.
                    match world.truth.borrow().get(&key) {
                        Some(v) => tab.view.borrow_mut().insert(key.clone(), v.clone()),
                        None => tab.view.borrow_mut().remove(&key),
                    };
                    if key != PENDING {
                        tab.signal(Signal::Stored);
                    }
                });
            }
        }
    }

    fn view(&self, key: &str) -> Option<String> {
        self.tab.upgrade()?.view.borrow().get(key).cloned()
    }
}

/// A store whose every answer is a future (`Io::Later`), as an app's store
/// whose methods return promises: the client must await each one.
struct Later(SimStore);

fn later<T: 'static>(io: Io<T>) -> Io<T> {
    let value = io.ready();
    Io::Later(Box::pin(async move {
        std::future::ready(()).await;
        value.expect("the simulated store answers at once")
    }))
}

impl Store for Later {
    fn is_sync(&self) -> bool {
        false
    }

    fn load(&self) -> Io<Result<Session, Error>> {
        later(self.0.load())
    }

    fn save(&self, s: &Session) -> Io<Result<(), Error>> {
        later(self.0.save(s))
    }

    fn clear(&self) -> Io<Result<(), Error>> {
        later(self.0.clear())
    }

    fn pending(&self) -> Vec<String> {
        self.0.pending()
    }

    fn set_pending(&self, tokens: &[String]) {
        self.0.set_pending(tokens)
    }
}

impl Store for SimStore {
    fn is_sync(&self) -> bool {
        true
    }

    fn load(&self) -> Io<Result<Session, Error>> {
        let end = self.view(END);
        Io::Now(Ok(Session::from_stored(
            self.view(AUTH),
            self.view(REFRESH),
            end.as_deref(),
        )))
    }

    fn save(&self, s: &Session) -> Io<Result<(), Error>> {
        if s.is_empty() {
            return self.clear();
        }
        if self.tab.upgrade().is_some_and(|t| t.store_full.get()) {
            return Io::Now(Err(Error::storage("the simulated store is full")));
        }
        // In the order the core writes a session, as every store does.
        let entries = RefCell::new(Vec::new());
        storage::write(
            s,
            |key, value| {
                let entry = (key.to_string(), Some(value.to_string()));
                entries.borrow_mut().push(entry);
                Ok::<(), ()>(())
            },
            |key| entries.borrow_mut().push((key.to_string(), None)),
        );
        self.write(&entries.into_inner());
        Io::Now(Ok(()))
    }

    fn clear(&self) -> Io<Result<(), Error>> {
        let mut entries = Vec::new();
        storage::clear(|key| entries.push((key.to_string(), None)));
        self.write(&entries);
        Io::Now(Ok(()))
    }

    fn pending(&self) -> Vec<String> {
        self.view(PENDING)
            .and_then(|p| serde_json::from_str(&p).ok())
            .unwrap_or_default()
    }

    fn set_pending(&self, tokens: &[String]) {
        let value = (!tokens.is_empty()).then(|| serde_json::to_string(tokens).unwrap());
        self.write(&[(PENDING.to_string(), value)]);
    }
}

// ---------------------------------------------------------------------------
// Web Locks: try first, then wait at most the timeout.

struct Waiter {
    tab: usize,
    id: u64,
    answer: Sender<Locked<SimGuard>>,
}

#[derive(Default)]
struct LockState {
    held: bool,
    holder: Option<(usize, u64)>,
    queue: VecDeque<Waiter>,
}

fn grant(world: &Rc<World>, name: &str, tab: usize, id: u64, waited: bool) -> Locked<SimGuard> {
    let mut locks = world.locks.borrow_mut();
    let state = locks.entry(name.into()).or_default();
    state.held = true;
    state.holder = Some((tab, id));
    Locked::Held {
        guard: SimGuard {
            world: Rc::downgrade(world),
            name: name.into(),
            id,
        },
        waited,
    }
}

fn release_lock(world: &Rc<World>, name: &str, id: u64) {
    {
        let mut locks = world.locks.borrow_mut();
        let Some(state) = locks.get_mut(name) else {
            return;
        };
        if state.holder.map(|(_, h)| h) != Some(id) {
            return; // released already
        }
        state.holder = None;
    }
    // The browser hands it to the next waiter in a later task.
    let w = Rc::downgrade(world);
    let name = name.to_string();
    world.exec.at(0.0, move || {
        let world = w.upgrade().expect("the world outlives its tabs");
        let next = {
            let mut locks = world.locks.borrow_mut();
            let state = locks.get_mut(&name).expect("a released lock exists");
            let next = state.queue.pop_front();
            if next.is_none() {
                state.held = false;
            }
            next
        };
        if let Some(waiter) = next {
            let granted = grant(&world, &name, waiter.tab, waiter.id, true);
            waiter.answer.send(granted);
        }
    });
}

fn request_lock(
    world: &Rc<World>,
    page: &Rc<Tab>,
    name: &str,
    timeout_ms: u32,
) -> impl Future<Output = Locked<SimGuard>> + 'static {
    world.lock_names.borrow_mut().push(name.to_string());
    let (tx, rx) = oneshot();
    let id = world.lock_ids.get() + 1;
    world.lock_ids.set(id);
    let w = Rc::downgrade(world);
    let name = name.to_string();
    let (tab, generation, page) = (page.id, page.generation.get(), Rc::downgrade(page));
    // The grant itself comes in a later task too.
    world.exec.at(0.0, move || {
        let world = w.upgrade().expect("the world outlives its tabs");
        // A page closed since it asked: the browser drops its request (it
        // is never granted, and never answered).
        if page
            .upgrade()
            .is_none_or(|p| p.generation.get() != generation)
        {
            return;
        }
        let held = world.locks.borrow().get(&name).is_some_and(|s| s.held);
        if !held {
            let granted = grant(&world, &name, tab, id, false);
            tx.send(granted);
            return;
        }
        if timeout_ms == 0 {
            tx.send(Locked::TimedOut);
            return;
        }
        world
            .locks
            .borrow_mut()
            .get_mut(&name)
            .expect("a held lock exists")
            .queue
            .push_back(Waiter {
                tab,
                id,
                answer: tx.clone(),
            });
        let w = Rc::downgrade(&world);
        world.exec.at(f64::from(timeout_ms), move || {
            let world = w.upgrade().expect("the world outlives its tabs");
            let mut locks = world.locks.borrow_mut();
            let state = locks.get_mut(&name).expect("a held lock exists");
            if let Some(i) = state.queue.iter().position(|w| w.id == id) {
                state.queue.remove(i);
                tx.send(Locked::TimedOut);
            }
        });
    });
    rx
}

// ---------------------------------------------------------------------------
// The auth server: sessions (families) of rotating refresh tokens.

pub struct Family {
    pub id: u32,
    pub sub: String,
    pub revoked: Option<&'static str>,
    pub current: String,
    /// The token rotated away last, and when (for the grace period).
    pub previous: Option<(String, f64, Value)>,
    pub last_pair: Value,
    /// The session's end (unix seconds), when the server sets one.
    pub ends_at: Option<i64>,
}

#[derive(Default)]
pub struct Server {
    pub families: RefCell<Vec<Family>>,
    tokens: RefCell<HashMap<String, u32>>,
    next: Cell<u32>,
    /// Refresh tokens presented after they were rotated (reuse detection fired).
    pub reuses: Cell<u32>,
    /// Refused refresh requests per family, as read by a live page.
    pub refusals: RefCell<HashMap<u32, u32>>,
    /// Rotated-away tokens answered within the grace period.
    pub graced: Cell<u32>,
    /// Reuses of the token rotated away last, after the grace period.
    pub late: Cell<u32>,
    /// Refresh requests received, in all.
    pub refreshes: Cell<u32>,
    /// When set, each new session ends this many seconds after its login.
    pub session_s: Cell<Option<i64>>,
    /// Refresh tokens are not rotated: a refresh answers a new auth token
    /// alone, and the refresh token stays.
    pub keeps_refresh_tokens: Cell<bool>,
    /// Every request the server received: its method and URL.
    pub received: RefCell<Vec<(Method, String)>>,
    /// The account requests (`/currentuser...`) received, in full.
    pub account_requests: RefCell<Vec<Request>>,
    /// The replies the next account requests get, in turn, when their
    /// token is live (else 401); once empty, `{"user": ...}` of its user.
    pub account_replies: RefCell<std::collections::VecDeque<(u16, Value)>>,
}

/// An unsigned JWT with these claims.
pub fn fake_jwt(claims: &Value) -> String {
    use passage_user::core::jwt::base64url_encode as b64;
    format!(
        "{}.{}.c2ln",
        b64(br#"{"alg":"RS256","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes())
    )
}

/// The claims of a token the server issued.
pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap_or_default();
    let bytes = passage_user::core::jwt::base64url_decode(payload).unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

impl Server {
    fn issue(&self, world: &World, family: &mut Family) -> Value {
        let now = (world.now() / 1000.0).floor() as i64;
        let mut pair = json!({
            "auth_token": fake_jwt(&json!({
                "sub": family.sub, "iat": now, "exp": now + world.settings.lifetime,
                "aud": [ORIGIN, APP], "fam": family.id,
            })),
        });
        // A server that keeps refresh tokens answers a refresh without one.
        if !self.keeps_refresh_tokens.get() || family.current.is_empty() {
            let n = self.next.get() + 1;
            self.next.set(n);
            let token = format!("rt-{n}");
            self.tokens.borrow_mut().insert(token.clone(), family.id);
            family.current = token.clone();
            pair["refresh_token"] = json!(token);
        }
        if let Some(end) = family.ends_at {
            pair["refresh_token_expiration"] = json!(end);
        }
        family.last_pair = pair.clone();
        pair
    }

    /// A login: a new session for `sub`.
    pub fn login(&self, world: &World, sub: &str) -> Value {
        let mut families = self.families.borrow_mut();
        let mut family = Family {
            id: families.len() as u32 + 1,
            sub: sub.into(),
            revoked: None,
            current: String::new(),
            previous: None,
            last_pair: Value::Null,
            ends_at: self
                .session_s
                .get()
                .map(|s| (world.now() / 1000.0) as i64 + s),
        };
        let pair = self.issue(world, &mut family);
        families.push(family);
        pair
    }

    pub fn revoke(&self, family: u32, why: &'static str) {
        if let Some(f) = self.families.borrow_mut().get_mut(family as usize - 1) {
            f.revoked.get_or_insert(why);
        }
    }

    /// An account request: 401 unless its bearer token is one the server
    /// issued and unexpired (a JWT is checked on its own, as Passage
    /// does); else the next scripted reply.
    fn account(&self, world: &World, request: &Request) -> (u16, Option<u32>, Option<Value>) {
        self.account_requests.borrow_mut().push(request.clone());
        let claims = request.bearer.as_deref().map(claims_of).unwrap_or_default();
        let family = claims["fam"].as_u64().and_then(|id| {
            let families = self.families.borrow();
            families.get(id as usize - 1).map(|f| f.sub.clone())
        });
        let live = claims["exp"]
            .as_f64()
            .is_some_and(|exp| exp * 1000.0 > world.now());
        let Some(sub) = family.filter(|_| live) else {
            return (401, None, Some(json!({ "code": "invalid_access_token" })));
        };
        match self.account_replies.borrow_mut().pop_front() {
            Some((status, body)) => (status, None, Some(body)),
            None => (
                200,
                None,
                Some(json!({ "user": {
                    "id": sub, "email": "a@example.com", "created_at": "2026-01-01T00:00:00Z",
                    "webauthn_devices": [], "webauthn_types": [],
                } })),
            ),
        }
    }

    /// (status, family refused, body)
    fn handle(&self, world: &World, request: &Request) -> (u16, Option<u32>, Option<Value>) {
        self.received
            .borrow_mut()
            .push((request.method, request.url.clone()));
        if request
            .url
            .starts_with(&format!("{ORIGIN}/v1/apps/{APP}/currentuser"))
        {
            return self.account(world, request);
        }
        let prefix = format!("{ORIGIN}/v1/apps/{APP}/tokens");
        if request.method == Method::Post && request.url == prefix {
            self.refreshes.set(self.refreshes.get() + 1);
            let body: Value = serde_json::from_str(request.body.as_deref().unwrap_or("null"))
                .unwrap_or(Value::Null);
            let token = body["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let Some(&id) = self.tokens.borrow().get(&token) else {
                return (401, None, None);
            };
            let mut families = self.families.borrow_mut();
            let family = &mut families[id as usize - 1];
            if family.revoked.is_none() && token != family.current {
                // Within the grace period, the token rotated away last gets
                // the pair it was rotated to.
                let graced = family.previous.as_ref().filter(|(prev, at, _)| {
                    *prev == token && world.now() - at < world.settings.grace as f64 * 1000.0
                });
                if let Some((_, _, pair)) = graced {
                    self.graced.set(self.graced.get() + 1);
                    return (200, None, Some(json!({ "auth_result": pair })));
                }
                self.reuses.set(self.reuses.get() + 1);
                if family
                    .previous
                    .as_ref()
                    .is_some_and(|(prev, _, _)| *prev == token)
                {
                    self.late.set(self.late.get() + 1);
                }
                family.revoked = Some("reuse");
            }
            let ended = family
                .ends_at
                .is_some_and(|end| world.now() >= end as f64 * 1000.0);
            if family.revoked.is_some() || ended {
                return (401, Some(family.id), None);
            }
            let pair = self.issue(world, family);
            family.previous = Some((token, world.now(), pair.clone()));
            return (200, None, Some(json!({ "auth_result": pair })));
        }
        if request.method == Method::Delete
            && request.url.starts_with(&format!("{prefix}?refresh_token="))
        {
            let token = &request.url[prefix.len() + "?refresh_token=".len()..];
            let Some(&id) = self.tokens.borrow().get(token) else {
                return (404, None, None);
            };
            self.revoke(id, "sign_out");
            return (204, None, None);
        }
        (404, None, None)
    }
}

struct Flight {
    tab: usize,
    refresh: bool,
    rotated: Cell<bool>,
    orphan: Cell<bool>,
}

/// One request over the simulated network, with the client's timeout.
fn send(
    world: &Rc<World>,
    request: Request,
    tab: usize,
) -> impl Future<Output = Result<Reply<SimJson>, SendError>> + 'static {
    let refresh = request.method == Method::Post;
    if refresh {
        world.refreshing.set(world.refreshing.get() + 1);
        world
            .max_refreshing
            .set(world.max_refreshing.get().max(world.refreshing.get()));
    }
    let flight = Rc::new(Flight {
        tab,
        refresh,
        rotated: Cell::new(false),
        orphan: Cell::new(false),
    });
    world.in_flight.borrow_mut().push(flight.clone());
    let (tx, rx) = oneshot::<Result<Reply<SimJson>, SendError>>();
    let w = Rc::downgrade(world);
    let settle = {
        let flight = flight.clone();
        let w = w.clone();
        move |answer: Result<Reply<SimJson>, SendError>| {
            if tx.is_sent() {
                return;
            }
            let world = w.upgrade().expect("the world outlives its tabs");
            world
                .in_flight
                .borrow_mut()
                .retain(|f| !Rc::ptr_eq(f, &flight));
            if flight.refresh && !flight.orphan.get() {
                world.refreshing.set(world.refreshing.get() - 1);
            }
            tx.send(answer);
        }
    };
    let settle = Rc::new(settle);
    {
        let settle = settle.clone();
        world.exec.at(f64::from(request.timeout_ms), move || {
            settle(Err(SendError::Timeout))
        });
    }
    let up = f64::from(world.random.between(2, 40));
    let down = f64::from(world.random.between(2, 40));
    let fault = (world.random.next() < world.settings.faults).then(|| world.random.between(0, 3));
    world.exec.at(up, move || {
        let world = w.upgrade().expect("the world outlives its tabs");
        let token = request.body.clone().unwrap_or_default();
        world.trace(|| {
            format!(
                "tab {tab} {:?} {token} {}",
                request.method,
                fault.map(|f| format!("fault {f}")).unwrap_or_default()
            )
        });
        // A transient failure happens before the server acts on the request.
        let reply = |status, retry_after, body: Option<Value>| {
            Ok(Reply {
                status,
                retry_after,
                body: body.map(SimJson),
            })
        };
        match fault {
            Some(0) => return settle(Err(SendError::Network)),
            Some(1) => return world.exec.at(down, move || settle(reply(503, None, None))),
            Some(2) => {
                return world
                    .exec
                    .at(down, move || settle(reply(429, Some(1), None)))
            }
            Some(_) => return, // no answer: the client's timeout fires
            None => {}
        }
        let reuses = world.server.reuses.get();
        let (status, refused, body) = world.server.handle(&world, &request);
        flight.rotated.set(refresh && status == 200);
        // A request of a closed page that the server still acts on: a
        // rotation whose reply nobody reads, or (when the next page sent
        // the same token first) a reuse.
        if flight.orphan.get() && (flight.rotated.get() || world.server.reuses.get() > reuses) {
            world.lost_replies.set(world.lost_replies.get() + 1);
        }
        let w = Rc::downgrade(&world);
        world.exec.at(down, move || {
            let world = w.upgrade().expect("the world outlives its tabs");
            // A refusal read by a live page (a closed one cannot act on it).
            if let (Some(family), false) = (refused, flight.orphan.get()) {
                *world
                    .server
                    .refusals
                    .borrow_mut()
                    .entry(family)
                    .or_default() += 1;
            }
            world.trace(|| {
                format!(
                    "tab {tab} {:?} {token} -> {status}{}",
                    request.method,
                    if flight.orphan.get() {
                        " (page closed)"
                    } else {
                        ""
                    }
                )
            });
            settle(reply(status, None, body));
        });
    });
    rx
}
