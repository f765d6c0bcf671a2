//! The in-memory store: no persistence. Also the fallback where
//! `localStorage` is missing or refuses access (Safari private mode,
//! sandboxed frames, server-side rendering, workers).

use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use crate::core::error::Error;
use crate::core::session::Session;
use crate::ports::{Io, Store};

/// A store kept in memory.
#[derive(Default)]
pub struct MemoryStore {
    session: RefCell<Session>,
    pending: RefCell<Vec<String>>,
}

impl Store for MemoryStore {
    fn is_sync(&self) -> bool {
        true
    }

    fn is_shared(&self) -> bool {
        false
    }

    fn load(&self) -> Io<Result<Session, Error>> {
        Io::Now(Ok(self.session.borrow().clone()))
    }

    fn save(&self, session: &Session) -> Io<Result<(), Error>> {
        *self.session.borrow_mut() = session.clone();
        Io::Now(Ok(()))
    }

    fn clear(&self) -> Io<Result<(), Error>> {
        *self.session.borrow_mut() = Session::default();
        Io::Now(Ok(()))
    }

    fn pending(&self) -> Vec<String> {
        self.pending.borrow().clone()
    }

    fn set_pending(&self, tokens: &[String]) {
        *self.pending.borrow_mut() = tokens.to_vec();
    }
}
