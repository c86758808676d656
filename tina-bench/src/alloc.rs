//! A counting global allocator: net bytes and allocation calls inside a measured window.
//!
//! Install it in a benchmark binary with
//!
//! ```
//! use tina_bench::CountingAllocator;
//!
//! #[global_allocator]
//! static ALLOCATOR: CountingAllocator = CountingAllocator::new();
//!
//! let window = ALLOCATOR.window();
//! let kept = vec![0u8; 1000];
//! let counted = window.finish();
//! assert!(counted.net_bytes >= 1000);
//! # drop(kept);
//! ```
//!
//! Outside a window it only forwards to the system allocator after one relaxed load, so
//! timed code pays (almost) nothing for it. Inside a window it counts every thread's calls:
//! the net figure is the change in live heap bytes over the window.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// Wraps the system allocator and counts calls and bytes while a window is open.
#[derive(Debug)]
pub struct CountingAllocator {
    counting: AtomicBool,
    net_bytes: AtomicI64,
    allocations: AtomicU64,
}

impl CountingAllocator {
    /// A counting allocator with no window open (usable in a `static`).
    pub const fn new() -> Self {
        Self {
            counting: AtomicBool::new(false),
            net_bytes: AtomicI64::new(0),
            allocations: AtomicU64::new(0),
        }
    }

    /// Opens a counting window (one at a time per allocator).
    pub fn window(&self) -> AllocationWindow<'_> {
        self.net_bytes.store(0, Ordering::SeqCst);
        self.allocations.store(0, Ordering::SeqCst);
        self.counting.store(true, Ordering::SeqCst);
        AllocationWindow { allocator: self }
    }

    #[inline]
    fn record(&self, allocated: usize, freed: usize, call: bool) {
        if self.counting.load(Ordering::Relaxed) {
            self.net_bytes
                .fetch_add(allocated as i64 - freed as i64, Ordering::Relaxed);
            if call {
                self.allocations.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl Default for CountingAllocator {
    fn default() -> Self {
        Self::new()
    }
}

/// An open counting window; [`AllocationWindow::finish`] closes it and reports.
#[derive(Debug)]
pub struct AllocationWindow<'a> {
    allocator: &'a CountingAllocator,
}

/// What a window counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counted {
    /// Bytes allocated minus bytes freed during the window, by every thread.
    pub net_bytes: i64,
    /// Calls to `alloc`, `alloc_zeroed` and `realloc` during the window.
    pub allocations: u64,
}

impl AllocationWindow<'_> {
    /// What has been counted so far, leaving the window open.
    pub fn peek(&self) -> Counted {
        Counted {
            net_bytes: self.allocator.net_bytes.load(Ordering::SeqCst),
            allocations: self.allocator.allocations.load(Ordering::SeqCst),
        }
    }

    /// Closes the window and reports what it counted.
    pub fn finish(self) -> Counted {
        let counted = self.peek();
        drop(self);
        counted
    }
}

impl Drop for AllocationWindow<'_> {
    fn drop(&mut self) {
        self.allocator.counting.store(false, Ordering::SeqCst);
    }
}

// Every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract (valid layouts in, matching pointers back, no unwinding) is
// `System`'s; the counting touches only atomics and never allocates.
// SAFETY: so this allocator keeps the contract because `System` does.
unsafe impl GlobalAlloc for CountingAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // The caller upholds `GlobalAlloc::alloc`'s contract (non-zero size layout),
        // which is exactly `System::alloc`'s.
        // SAFETY: so the call is valid.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            self.record(layout.size(), 0, true);
        }
        pointer
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`: the caller's contract is `System::alloc_zeroed`'s.
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            self.record(layout.size(), 0, true);
        }
        pointer
    }

    #[inline]
    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // The caller guarantees `pointer` came from this allocator (so from `System`)
        // with `layout`, as `System::dealloc` requires.
        // SAFETY: so the call is valid.
        unsafe { System.dealloc(pointer, layout) };
        self.record(0, layout.size(), false);
    }

    #[inline]
    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // The caller guarantees `pointer` came from this allocator (so from `System`)
        // with `layout` and that `new_size` is valid for it, as `System::realloc` requires.
        // SAFETY: so the call is valid.
        let new_pointer = unsafe { System.realloc(pointer, layout, new_size) };
        if !new_pointer.is_null() {
            self.record(new_size, layout.size(), true);
        }
        new_pointer
    }
}
