//! `States`: the isolate states of one type, without an `Option` tag per slot.
//!
//! `Vec<Option<I>>` costs up to `align_of::<I>()` extra bytes per slot for the tag (eight for
//! a typical state, sixteen for a 16-byte-aligned one) — a large share of what an isolate
//! costs beyond its state. Here the states sit in uninitialised storage of exactly
//! `size_of::<I>()` bytes per slot, and whether a slot holds one is one bit in a bitmap.
//!
//! The invariant every `unsafe` block below relies on: **bit `slot` of `present` is set
//! exactly when `values[slot]` holds an initialised `I`.** A value is written before its bit
//! is set, and its bit is cleared before it is read out or dropped, so a panic in the
//! middle (in `I`'s `Drop`, say) can leak a value but never expose a dropped one.

use core::mem::MaybeUninit;

/// The states of one isolate type on one shard, one slot per isolate slot.
pub(crate) struct States<I> {
    values: Box<[MaybeUninit<I>]>,
    /// Bit `slot % 64` of word `slot / 64`: slot `slot` holds a state.
    present: Box<[u64]>,
}

/// One slot of [`States`], borrowed for a handler invocation.
pub(crate) struct StateSlot<'a, I> {
    value: &'a mut MaybeUninit<I>,
    word: &'a mut u64,
    bit: u64,
}

impl<I> States<I> {
    /// `slots` empty slots.
    pub(crate) fn try_new(slots: usize) -> Result<Self, crate::memory::Refused> {
        Ok(Self {
            values: crate::memory::try_boxed(slots, |_| MaybeUninit::uninit())?,
            present: crate::memory::try_boxed(slots.div_ceil(64), |_| 0)?,
        })
    }

    /// How many slots there are.
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    #[inline]
    fn is_present(&self, slot: usize) -> bool {
        self.present[slot / 64] & (1 << (slot % 64)) != 0
    }

    /// Whether `slot` holds a state.
    #[inline]
    pub(crate) fn contains(&self, slot: u32) -> bool {
        (slot as usize) < self.values.len() && self.is_present(slot as usize)
    }

    /// The state in `slot`, if it holds one.
    #[inline]
    pub(crate) fn get(&self, slot: u32) -> Option<&I> {
        let slot = slot as usize;
        if slot >= self.values.len() || !self.is_present(slot) {
            return None;
        }
        // SAFETY: the bit is set, so the value is initialised (the module's invariant); the
        // shared borrow of `self` keeps it from being changed or dropped meanwhile.
        Some(unsafe { self.values[slot].assume_init_ref() })
    }

    /// Borrows `slot` to read, replace or clear its state. Panics if `slot` is out of range.
    #[inline]
    pub(crate) fn slot_mut(&mut self, slot: u32) -> StateSlot<'_, I> {
        let slot = slot as usize;
        StateSlot {
            value: &mut self.values[slot],
            word: &mut self.present[slot / 64],
            bit: 1 << (slot % 64),
        }
    }

    /// Drops the state in `slot`, if any.
    #[inline]
    pub(crate) fn clear(&mut self, slot: u32) {
        self.slot_mut(slot).clear();
    }
}

impl<I> StateSlot<'_, I> {
    /// The state, if the slot holds one.
    #[inline]
    pub(crate) fn get_mut(&mut self) -> Option<&mut I> {
        if *self.word & self.bit == 0 {
            return None;
        }
        // SAFETY: the bit is set, so the value is initialised (the module's invariant); the
        // exclusive borrow of the slot keeps anyone else from touching it meanwhile.
        Some(unsafe { self.value.assume_init_mut() })
    }

    /// Stores `state`, dropping the one held before (if any).
    #[inline]
    pub(crate) fn set(&mut self, state: I) {
        self.clear();
        self.value.write(state);
        *self.word |= self.bit;
    }

    /// Drops the state, if the slot holds one.
    #[inline]
    pub(crate) fn clear(&mut self) {
        if *self.word & self.bit == 0 {
            return;
        }
        *self.word &= !self.bit;
        // SAFETY: the bit was set, so the value was initialised; the bit is now clear, so
        // nothing will read or drop it again.
        unsafe { self.value.assume_init_drop() };
    }
}

impl<I> Drop for States<I> {
    fn drop(&mut self) {
        for slot in 0..self.values.len() as u32 {
            self.clear(slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    /// Counts its drops.
    struct Counted(Rc<Cell<u32>>, u64);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    #[test]
    fn states_are_stored_replaced_and_dropped_exactly_once() {
        let drops = Rc::new(Cell::new(0));
        let mut states = States::<Counted>::try_new(130).unwrap();
        assert_eq!(states.len(), 130);
        assert!(states.get(0).is_none() && states.get(500).is_none());
        states.slot_mut(0).set(Counted(drops.clone(), 1));
        states.slot_mut(64).set(Counted(drops.clone(), 2));
        states.slot_mut(129).set(Counted(drops.clone(), 3));
        assert_eq!(states.get(64).map(|state| state.1), Some(2));
        assert!(states.contains(129) && !states.contains(128) && !states.contains(900));
        {
            let mut slot = states.slot_mut(64);
            slot.get_mut().expect("present").1 = 20;
            slot.set(Counted(drops.clone(), 21));
        }
        assert_eq!(drops.get(), 1, "the replaced state was dropped");
        assert_eq!(states.get(64).map(|state| state.1), Some(21));
        states.clear(0);
        states.clear(0);
        assert_eq!(drops.get(), 2, "cleared once, the second clear a no-op");
        assert!(!states.contains(0));
        assert!(states.slot_mut(0).get_mut().is_none());
        drop(states);
        assert_eq!(drops.get(), 4, "the two left were dropped with the table");
    }
}
