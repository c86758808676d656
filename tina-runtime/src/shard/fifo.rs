//! `SlotFifo`: the ready queue of one isolate type — a FIFO of slot indices with a fixed
//! capacity (the type's slot count).
//!
//! A slot is queued at most once at a time (its `ready` flag says so), so the queue never
//! holds more than the type has slots, and a plain ring of that size never fills. Unlike a
//! `VecDeque`, pushing has no growth path to check, and both ends stay inline on the dispatch
//! path.

/// A FIFO of `u32` slot indices, sized at construction and never grown.
#[derive(Debug)]
pub(crate) struct SlotFifo {
    items: Box<[u32]>,
    /// Position of the oldest item.
    head: usize,
    /// Items queued.
    len: usize,
}

impl SlotFifo {
    /// An empty FIFO with room for `capacity` indices.
    #[cfg(test)]
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self::try_with_capacity(capacity).expect("a small test queue")
    }

    /// [`SlotFifo::with_capacity`], reporting a refused allocation.
    pub(crate) fn try_with_capacity(capacity: usize) -> Result<Self, crate::memory::Refused> {
        Ok(Self {
            items: crate::memory::try_boxed(capacity, |_| 0)?,
            head: 0,
            len: 0,
        })
    }

    /// Queues `slot` at the back. The caller keeps each slot in the FIFO at most once, so
    /// there is always room; a push beyond the capacity panics (a broken invariant).
    #[inline(always)]
    pub(crate) fn push_back(&mut self, slot: u32) {
        let capacity = self.items.len();
        assert!(self.len < capacity, "ready queue over its capacity");
        let mut position = self.head + self.len;
        if position >= capacity {
            position -= capacity;
        }
        self.items[position] = slot;
        self.len += 1;
    }

    /// Takes the oldest slot, if any.
    #[inline(always)]
    pub(crate) fn pop_front(&mut self) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let slot = self.items[self.head];
        self.head += 1;
        if self.head == self.items.len() {
            self.head = 0;
        }
        self.len -= 1;
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    #[test]
    fn matches_a_vecdeque_across_wrap_arounds() {
        let mut fifo = SlotFifo::with_capacity(3);
        let mut model = VecDeque::new();
        // A fixed pseudo-random walk of pushes and pops, staying within the capacity.
        let mut state = 0x2545_f491_u32;
        for step in 0..1_000u32 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            if model.len() < 3 && (!state.is_multiple_of(3) || model.is_empty()) {
                fifo.push_back(step);
                model.push_back(step);
            } else {
                assert_eq!(fifo.pop_front(), model.pop_front());
            }
        }
        while let Some(expected) = model.pop_front() {
            assert_eq!(fifo.pop_front(), Some(expected));
        }
        assert_eq!(fifo.pop_front(), None);
    }

    #[test]
    #[should_panic(expected = "over its capacity")]
    fn pushing_beyond_the_capacity_is_a_broken_invariant() {
        let mut fifo = SlotFifo::with_capacity(1);
        fifo.push_back(1);
        fifo.push_back(2);
    }
}
