//! Helpers shared by the integration tests: items whose drops are counted, one counter per
//! item, so a test can tell a double drop from a leak.
#![allow(dead_code, unreachable_pub)]

use std::panic;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

/// The message of every panic a [`Tracked`] item raises on purpose.
pub const PLANTED_PANIC: &str = "planted panic";

/// How many times each item id has been dropped.
pub struct DropLog {
    counts: Vec<AtomicU32>,
}

impl DropLog {
    /// A log for item ids `0..ids_max`.
    pub fn new(ids_max: usize) -> Self {
        Self {
            counts: (0..ids_max).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    /// A new item `id` that reports its drop here.
    pub fn item(&self, id: u32) -> Tracked<'_> {
        Tracked {
            id,
            panic_on_drop: false,
            log: self,
        }
    }

    /// How many times item `id` has been dropped.
    pub fn drops(&self, id: u32) -> u32 {
        self.counts[id as usize].load(Ordering::SeqCst)
    }

    /// Item ids dropped more than once, with their counts.
    pub fn dropped_twice(&self) -> Vec<(u32, u32)> {
        (0..self.counts.len() as u32)
            .map(|id| (id, self.drops(id)))
            .filter(|&(_, count)| count > 1)
            .collect()
    }
}

/// An item that counts its drops in a [`DropLog`] and, when asked, panics while dropped.
///
/// It borrows its log instead of owning a reference count, so even a double drop (the bug
/// these tests look for) only bumps a counter: the test fails on an assertion instead of
/// corrupting memory.
#[derive(Debug)]
pub struct Tracked<'log> {
    /// Which item this is.
    pub id: u32,
    /// Whether dropping it panics (after counting the drop).
    pub panic_on_drop: bool,
    log: &'log DropLog,
}

impl std::fmt::Debug for DropLog {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("DropLog")
    }
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.log.counts[self.id as usize].fetch_add(1, Ordering::SeqCst);
        if self.panic_on_drop {
            panic!("{PLANTED_PANIC}");
        }
    }
}

/// Silences the default panic message for planted panics (other panics still print).
pub fn quiet_planted_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let planted = info
                .payload()
                .downcast_ref::<String>()
                .is_some_and(|message| message == PLANTED_PANIC)
                || info
                    .payload()
                    .downcast_ref::<&str>()
                    .is_some_and(|message| *message == PLANTED_PANIC);
            if !planted {
                default(info);
            }
        }));
    });
}

/// Panics with [`PLANTED_PANIC`].
pub fn planted_panic() -> ! {
    panic!("{PLANTED_PANIC}")
}
