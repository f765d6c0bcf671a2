//! The single flight: one result, computed once, awaited by every caller.

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::future::{poll_fn, Future};
use core::task::{Poll, Waker};

use crate::core::future::remember;

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
