//! Typed, generational handles to isolates.
//!
//! A handle names one *incarnation* of an isolate: the shard it lives on, the index of its
//! type in the boot spec, its slot in that type's arena, and the slot's generation when it
//! was spawned — packed into 64 bits. Every teardown (`Done`, crash, restart) bumps the
//! slot's generation, so an old handle fails with [`SendError::Stale`](crate::SendError::Stale)
//! and can never reach the slot's next occupant.

use core::fmt;
use core::hash::{Hash, Hasher};
use core::marker::PhantomData;

/// Bits of a handle given to the shard index.
pub(crate) const SHARD_BITS: u32 = 8;
/// Bits of a handle given to the type index.
pub(crate) const TYPE_BITS: u32 = 8;
/// Bits of a handle given to the slot index.
pub(crate) const SLOT_BITS: u32 = 24;
/// Bits of a handle given to the generation.
pub(crate) const GENERATION_BITS: u32 = 24;

/// The most shards a system may have.
pub const SHARDS_MAX: usize = 1 << SHARD_BITS;
/// The most isolate types a boot spec may register.
pub const TYPES_MAX: usize = 1 << TYPE_BITS;
/// The most slots one isolate type may have on one shard: one less than the slot field can
/// encode, because the all-ones slot value is reserved (a cross-shard spawn uses it to let
/// the receiving shard choose the slot).
pub const SLOTS_PER_TYPE_MAX: usize = (1 << SLOT_BITS) - 1;
/// Generations wrap at this value; a slot is reused at most this many times before an old
/// handle could alias a new incarnation.
pub(crate) const GENERATION_MASK: u32 = (1 << GENERATION_BITS) - 1;

/// The index of a shard in the system, `0..shards`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ShardId(pub u16);

impl ShardId {
    /// The index as a `usize`.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for ShardId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "shard {}", self.0)
    }
}

/// An untyped handle: shard, type, slot and generation packed in 64 bits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RawHandle(u64);

impl RawHandle {
    /// Packs the four parts. Each must fit its field.
    #[inline]
    pub(crate) fn new(shard: ShardId, type_index: u16, slot: u32, generation: u32) -> Self {
        debug_assert!((shard.0 as usize) < SHARDS_MAX);
        debug_assert!((type_index as usize) < TYPES_MAX);
        debug_assert!((slot as usize) < (1 << SLOT_BITS));
        debug_assert!(generation <= GENERATION_MASK);
        Self(
            (u64::from(shard.0) << (TYPE_BITS + SLOT_BITS + GENERATION_BITS))
                | (u64::from(type_index) << (SLOT_BITS + GENERATION_BITS))
                | (u64::from(slot) << GENERATION_BITS)
                | u64::from(generation),
        )
    }

    /// The shard the isolate lives on.
    #[inline]
    pub fn shard(self) -> ShardId {
        ShardId((self.0 >> (TYPE_BITS + SLOT_BITS + GENERATION_BITS)) as u16)
    }

    /// The index of the isolate's type in the boot spec.
    #[inline]
    pub fn type_index(self) -> u16 {
        ((self.0 >> (SLOT_BITS + GENERATION_BITS)) & ((1 << TYPE_BITS) - 1)) as u16
    }

    /// The slot in the type's arena on its shard.
    #[inline]
    pub fn slot(self) -> u32 {
        ((self.0 >> GENERATION_BITS) & ((1 << SLOT_BITS) - 1)) as u32
    }

    /// The slot's generation when this incarnation was spawned.
    #[inline]
    pub fn generation(self) -> u32 {
        (self.0 & u64::from(GENERATION_MASK)) as u32
    }

    /// The packed form.
    #[inline]
    pub fn to_bits(self) -> u64 {
        self.0
    }

    /// Rebuilds a handle from [`RawHandle::to_bits`].
    #[inline]
    pub fn from_bits(bits: u64) -> Self {
        Self(bits)
    }
}

impl fmt::Debug for RawHandle {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "<{}.{}.{}@{}>",
            self.shard().0,
            self.type_index(),
            self.slot(),
            self.generation()
        )
    }
}

impl fmt::Display for RawHandle {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, formatter)
    }
}

/// A typed handle to an isolate of type `T`.
///
/// Only messages `T` handles can be sent through it (the bound is checked by the compiler
/// through [`Accepts`](crate::Accepts)). Copying a handle is free; it owns nothing.
pub struct Handle<T> {
    raw: RawHandle,
    _type: PhantomData<fn() -> T>,
}

impl<T> Handle<T> {
    /// Wraps a raw handle. The caller vouches that it names an isolate of type `T`; a wrong
    /// type index is refused at send time as stale.
    #[inline]
    pub(crate) fn from_raw(raw: RawHandle) -> Self {
        Self {
            raw,
            _type: PhantomData,
        }
    }

    /// The untyped form.
    #[inline]
    pub fn raw(&self) -> RawHandle {
        self.raw
    }

    /// The shard the isolate lives on.
    #[inline]
    pub fn shard(&self) -> ShardId {
        self.raw.shard()
    }
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Handle<T> {}

impl<T> PartialEq for Handle<T> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl<T> Eq for Handle<T> {}

impl<T> Hash for Handle<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}

impl<T> fmt::Debug for Handle<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Handle{:?}", self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_at_the_extremes() {
        for &(shard, type_index, slot, generation) in &[
            (0u16, 0u16, 0u32, 0u32),
            (255, 255, (1 << 24) - 1, GENERATION_MASK),
            (3, 7, 12345, 678),
        ] {
            let raw = RawHandle::new(ShardId(shard), type_index, slot, generation);
            assert_eq!(raw.shard(), ShardId(shard));
            assert_eq!(raw.type_index(), type_index);
            assert_eq!(raw.slot(), slot);
            assert_eq!(raw.generation(), generation);
            assert_eq!(RawHandle::from_bits(raw.to_bits()), raw);
        }
        assert_eq!(core::mem::size_of::<Handle<u8>>(), 8);
    }
}
