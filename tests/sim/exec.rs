//! A deterministic single-threaded executor on a simulated clock: tasks run
//! until none is ready, then time jumps to the next timer (quinn-proto's
//! model). Nothing here reads the OS clock.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

type Task = Pin<Box<dyn Future<Output = ()>>>;

struct TaskWaker {
    id: usize,
    ready: Arc<Mutex<VecDeque<usize>>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.ready.lock().unwrap().push_back(self.id);
    }
}

struct Timer {
    due: f64,
    seq: u64,
    fire: Box<dyn FnOnce()>,
}

/// The clock, the timers and the tasks of one simulated world.
pub struct Exec {
    now: Cell<f64>,
    seq: Cell<u64>,
    timers: RefCell<Vec<Timer>>,
    tasks: RefCell<Vec<Option<Task>>>,
    incoming: RefCell<Vec<Task>>,
    ready: Arc<Mutex<VecDeque<usize>>>,
}

impl Exec {
    pub fn new(start_ms: f64) -> Rc<Exec> {
        Rc::new(Exec {
            now: Cell::new(start_ms),
            seq: Cell::new(0),
            timers: RefCell::new(Vec::new()),
            tasks: RefCell::new(Vec::new()),
            incoming: RefCell::new(Vec::new()),
            ready: Arc::new(Mutex::new(VecDeque::new())),
        })
    }

    pub fn now(&self) -> f64 {
        self.now.get()
    }

    /// Runs `fire` after `ms` of simulated time.
    pub fn at(&self, ms: f64, fire: impl FnOnce() + 'static) {
        let seq = self.seq.get();
        self.seq.set(seq + 1);
        self.timers.borrow_mut().push(Timer {
            due: self.now() + ms.max(0.0),
            seq,
            fire: Box::new(fire),
        });
    }

    /// Resolves after `ms`; the timer is set now, as `setTimeout` would.
    pub fn sleep(&self, ms: f64) -> impl Future<Output = ()> + 'static {
        let (tx, rx) = oneshot();
        self.at(ms, move || {
            tx.send(());
        });
        async move {
            rx.await;
        }
    }

    pub fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        self.incoming.borrow_mut().push(Box::pin(task));
    }

    /// Polls tasks until none is ready.
    pub fn run_ready(&self) {
        loop {
            let incoming: Vec<Task> = std::mem::take(&mut *self.incoming.borrow_mut());
            for task in incoming {
                let mut tasks = self.tasks.borrow_mut();
                let id = tasks.len();
                tasks.push(Some(task));
                self.ready.lock().unwrap().push_back(id);
            }
            let Some(id) = self.ready.lock().unwrap().pop_front() else {
                if self.incoming.borrow().is_empty() {
                    return;
                }
                continue;
            };
            let Some(mut task) = self.tasks.borrow_mut()[id].take() else {
                continue; // done, or woken twice
            };
            let waker = Waker::from(Arc::new(TaskWaker {
                id,
                ready: self.ready.clone(),
            }));
            if task
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
            {
                self.tasks.borrow_mut()[id] = Some(task);
            }
        }
    }

    /// Advances the clock timer by timer until `ms` from now, running every
    /// task to quiescence after each; `step` runs after each timer.
    pub fn run(&self, ms: f64, mut step: impl FnMut()) {
        let end = self.now() + ms;
        self.run_ready();
        loop {
            let timer = {
                let mut timers = self.timers.borrow_mut();
                let next = timers
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| t.due <= end)
                    .min_by(|(_, a), (_, b)| a.due.total_cmp(&b.due).then(a.seq.cmp(&b.seq)))
                    .map(|(i, _)| i);
                match next {
                    Some(i) => timers.swap_remove(i),
                    None => break,
                }
            };
            self.now.set(timer.due);
            (timer.fire)();
            self.run_ready();
            step();
        }
        self.now.set(end);
    }
}

/// A one-value channel's state: the value, the receiver's waker, and
/// whether a value was ever sent.
type Slot<T> = Rc<RefCell<(Option<T>, Option<Waker>, bool)>>;

/// The sending half of a one-value channel.
pub struct Sender<T>(Slot<T>);

/// The receiving half: a future of the value.
pub struct Receiver<T>(Slot<T>);

/// A channel for one value (the first `send` wins).
pub fn oneshot<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Rc::new(RefCell::new((None, None, false)));
    (Sender(shared.clone()), Receiver(shared))
}

impl<T> Sender<T> {
    /// Sends `value` unless a value was sent already; true when it was sent.
    pub fn send(&self, value: T) -> bool {
        let waker = {
            let mut s = self.0.borrow_mut();
            if s.2 {
                return false;
            }
            s.2 = true;
            s.0 = Some(value);
            s.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    pub fn is_sent(&self) -> bool {
        self.0.borrow().2
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender(self.0.clone())
    }
}

impl<T> Future for Receiver<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut s = self.0.borrow_mut();
        match s.0.take() {
            Some(value) => Poll::Ready(value),
            None => {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
