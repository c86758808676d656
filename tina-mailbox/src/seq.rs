//! [`SeqCell`]: a block of `u64` words written by one thread and copied out, consistently,
//! by any number of others, without a lock on either side.
//!
//! The protocol is a sequence lock over atomics (so no `unsafe`):
//!
//! - the writer bumps the sequence to an odd value, issues a `Release` fence, stores the
//!   words (`Relaxed`), and bumps the sequence to the next even value with a `Release`
//!   store. It never waits and never retries.
//! - a reader loads the sequence (`Acquire`); if it is odd a write is under way and it tries
//!   again. Otherwise it loads the words (`Relaxed`), issues an `Acquire` fence and loads
//!   the sequence again: if it changed, a write overlapped the copy and it tries again.
//!
//! The first fence orders the odd sequence before every word store; the second orders every
//! word load before the re-check. A copy that passes the re-check therefore holds exactly
//! the words of one write (or of the initial zeros). Model-checked with loom
//! (`--test loom_seq`), which fails if either fence is dropped.

use crate::loom::{AtomicU64, Ordering, fence};

/// A block of `u64` words with one writer and lock-free consistent readers (see the module
/// docs). Its size is fixed when it is built.
#[derive(Debug)]
pub struct SeqCell {
    sequence: AtomicU64,
    words: Box<[AtomicU64]>,
}

impl SeqCell {
    /// A block of `len` words, all zero.
    pub fn new(len: usize) -> Self {
        Self {
            sequence: AtomicU64::new(0),
            words: (0..len).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether the block holds no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Publishes a new value of the block: `fill` is called with a writer that stores words
    /// by index. Readers see either all of this write or none of it.
    ///
    /// Only one thread may write a given cell (the owner); a second concurrent writer would
    /// not corrupt memory but could let a reader accept a mix of the two writes.
    pub fn write(&self, fill: impl FnOnce(&mut SeqWriter<'_>)) {
        let sequence = self.sequence.load(Ordering::Relaxed);
        self.sequence
            .store(sequence.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        fill(&mut SeqWriter { words: &self.words });
        self.sequence
            .store(sequence.wrapping_add(2), Ordering::Release);
    }

    /// Copies one consistent version of the block into `out` (which must be `len` words
    /// long) and returns how many attempts it took. Spins while a write is under way; the
    /// writer's critical section is a few hundred stores, so this is brief.
    ///
    /// # Panics
    ///
    /// If `out.len()` differs from [`SeqCell::len`].
    pub fn read(&self, out: &mut [u64]) -> usize {
        assert_eq!(
            out.len(),
            self.words.len(),
            "read buffer of the cell's size"
        );
        let mut attempts = 0;
        loop {
            attempts += 1;
            let before = self.sequence.load(Ordering::Acquire);
            if before & 1 == 1 {
                core::hint::spin_loop();
                #[cfg(loom)]
                loom::thread::yield_now();
                continue;
            }
            for (slot, word) in out.iter_mut().zip(self.words.iter()) {
                *slot = word.load(Ordering::Relaxed);
            }
            fence(Ordering::Acquire);
            if self.sequence.load(Ordering::Relaxed) == before {
                return attempts;
            }
            #[cfg(loom)]
            loom::thread::yield_now();
        }
    }

    /// How many writes have completed.
    pub fn version(&self) -> u64 {
        self.sequence.load(Ordering::Acquire) / 2
    }
}

/// Stores words of a [`SeqCell`] during [`SeqCell::write`].
#[derive(Debug)]
pub struct SeqWriter<'a> {
    words: &'a [AtomicU64],
}

impl SeqWriter<'_> {
    /// Stores `value` at word `index`.
    ///
    /// # Panics
    ///
    /// If `index` is out of range.
    #[inline]
    pub fn set(&mut self, index: usize, value: u64) {
        self.words[index].store(value, Ordering::Relaxed);
    }

    /// Stores `values` from word `start` on.
    ///
    /// # Panics
    ///
    /// If the range is out of bounds.
    #[inline]
    pub fn set_all(&mut self, start: usize, values: &[u64]) {
        for (word, &value) in self.words[start..start + values.len()].iter().zip(values) {
            word.store(value, Ordering::Relaxed);
        }
    }
}
