//! The wasm's allocator: a bump allocator that starts over whenever nothing
//! is allocated.
//!
//! Every export is a synchronous call that frees all it allocates before
//! JavaScript gets control back (its arguments, its scratch space, and a
//! returned string once the glue has copied it out); no allocation outlives
//! a call. So the live count returns to zero after each call, and the heap
//! with it: memory stays flat for the life of the page, and the module
//! carries a few dozen instructions instead of a general-purpose allocator's
//! free lists (a kilobyte of every page load).

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32::{memory_grow, memory_size};
use core::cell::Cell;

const PAGE: usize = 65_536;

/// The allocator. Single-threaded, as wasm32-unknown-unknown is.
pub struct Bump;

struct State {
    /// Where the heap starts: the end of memory at the first allocation.
    base: Cell<usize>,
    /// The next free byte.
    next: Cell<usize>,
    /// Allocations not yet freed.
    live: Cell<usize>,
}

// SAFETY: wasm32-unknown-unknown has no threads; nothing shares the state.
unsafe impl Sync for State {}

static STATE: State = State {
    base: Cell::new(0),
    next: Cell::new(0),
    live: Cell::new(0),
};

unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let s = &STATE;
        if s.base.get() == 0 {
            let end = memory_size(0) * PAGE;
            s.base.set(end);
            s.next.set(end);
        }
        // Align up (alignments are powers of two), then take `size` bytes.
        let start = (s.next.get() + layout.align() - 1) & !(layout.align() - 1);
        let Some(end) = start.checked_add(layout.size()) else {
            return core::ptr::null_mut();
        };
        let have = memory_size(0) * PAGE;
        if end > have && memory_grow(0, (end - have).div_ceil(PAGE)) == usize::MAX {
            return core::ptr::null_mut();
        }
        s.next.set(end);
        s.live.set(s.live.get() + 1);
        start as *mut u8
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {
        let s = &STATE;
        let live = s.live.get().saturating_sub(1);
        s.live.set(live);
        if live == 0 {
            s.next.set(s.base.get());
        }
    }
}
