//! The few future combinators the client needs, on `core` alone: a result
//! shared by every caller (the single flight), a race, a counter to wait
//! on, and polling once without an executor.

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::{Context, Poll, Waker};

/// One result, computed once, awaited by any number of callers.
pub struct Flight<T: Clone> {
    result: RefCell<Option<T>>,
    wakers: RefCell<Vec<Waker>>,
}

impl<T: Clone + 'static> Flight<T> {
    /// A flight that has not landed yet.
    pub fn new() -> Rc<Self> {
        Rc::new(Flight {
            result: RefCell::new(None),
            wakers: RefCell::new(Vec::new()),
        })
    }

    /// Lands the flight: every caller, past and future, gets `value`.
    pub fn land(&self, value: T) {
        *self.result.borrow_mut() = Some(value);
        let wakers = core::mem::take(&mut *self.wakers.borrow_mut());
        for waker in wakers {
            waker.wake();
        }
    }

    /// Resolves the flight's result once it has landed.
    pub fn join(self: &Rc<Self>) -> impl Future<Output = T> + 'static {
        let flight = self.clone();
        poll_fn(move |cx| {
            if let Some(value) = &*flight.result.borrow() {
                return Poll::Ready(value.clone());
            }
            remember(&mut flight.wakers.borrow_mut(), cx);
            Poll::Pending
        })
    }
}

/// Adds the task's waker unless it is there already.
pub fn remember(wakers: &mut Vec<Waker>, cx: &Context<'_>) {
    if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
        wakers.push(cx.waker().clone());
    }
}

/// Whichever of `a` and `b` resolves first (`a` when both are ready).
pub async fn first<T>(a: impl Future<Output = T>, b: impl Future<Output = T>) -> T {
    let mut a = pin!(a);
    let mut b = pin!(b);
    poll_fn(|cx| match a.as_mut().poll(cx) {
        Poll::Ready(value) => Poll::Ready(value),
        Poll::Pending => b.as_mut().poll(cx),
    })
    .await
}

/// Polls `future` once: its output when it needs nothing to wait for (a
/// synchronous store's answer), else `None`.
pub fn now<F: Future>(future: F) -> Option<F::Output> {
    let future = pin!(future);
    match future.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => Some(value),
        Poll::Pending => None,
    }
}
