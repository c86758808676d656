//! A fixed-slot envelope pool with a reserved region, and intrusive FIFO queues through it.
//!
//! The pool owns `ordinary + reserved` slots allocated once, at construction. Each slot is
//! aligned to a cache line so two envelopes never share one. Free slots are kept on two
//! singly linked free lists (one per region) threaded through the slots themselves, so
//! allocate and free are O(1) and need no memory of their own.
//!
//! The same link field threads allocated slots into [`Queue`]s: a queue is three integers
//! (head, tail, length) plus its bound, so a shard can give every isolate a mailbox whose
//! storage is the shared envelope pool and whose bound is a count.
//!
//! Every slot is in exactly one of three states — free, allocated, queued — and the pool
//! asserts the state on every transition, so a double free or a slot queued twice is a loud
//! programmer error, never silent corruption.
//!
//! The pool is panic-safe: when a caller's closure (`make`, `read`) or a value's `Drop`
//! panics, every slot still ends up in exactly one state, no value is dropped twice and no
//! slot is stranded. A `make` that panics leaves its slot free (nothing is unlinked before the
//! value exists); a `read` or `Drop` that panics while a slot is removed still frees the slot
//! (a drop guard); a value is dropped in place only after its slot is back on a free list.

use core::fmt;

/// Marks the end of a free list or queue.
const NONE: u32 = u32::MAX;

/// The largest number of slots a pool may hold (indices are `u32`, one value is the sentinel).
pub const SLOTS_MAX: usize = (u32::MAX - 1) as usize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SlotState {
    Free,
    Allocated,
    Queued,
}

/// One envelope slot, alone on its cache line(s).
#[repr(align(64))]
struct Slot<T> {
    value: Option<T>,
    next: u32,
    state: SlotState,
}

/// The position of an allocated slot in its [`Pool`].
///
/// An index is only meaningful for the pool that returned it and only until the slot is freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PoolIndex(u32);

impl PoolIndex {
    /// The index as a `usize`, for tables indexed by slot.
    #[inline]
    pub fn get(self) -> usize {
        self.0 as usize
    }

    /// The raw `u32` form, for packing into headers.
    #[inline]
    pub fn to_raw(self) -> u32 {
        self.0
    }

    /// Rebuilds an index from [`PoolIndex::to_raw`]. Using an index the pool did not hand out
    /// is caught by the pool's state assertions.
    #[inline]
    pub fn from_raw(raw: u32) -> Self {
        Self(raw)
    }
}

/// A snapshot of a pool's accounting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Slots in the pool (`ordinary + reserved`).
    pub total: usize,
    /// Slots currently allocated (including queued ones).
    pub allocated: usize,
    /// Slots currently free.
    pub free: usize,
    /// Free slots in the ordinary region.
    pub ordinary_free: usize,
    /// Free slots in the reserved region.
    pub reserved_free: usize,
}

/// A fixed number of fixed-size, cache-line-aligned slots with O(1) allocate and free.
///
/// The first `ordinary` slots form the ordinary region, the last `reserved` slots the reserved
/// region. [`Pool::try_alloc`] only takes ordinary slots; [`Pool::try_alloc_reserved`] takes
/// reserved slots first, then ordinary ones, so control traffic always finds room while the
/// reserve lasts, whatever ordinary traffic did.
///
/// ```
/// use tina_mailbox::Pool;
///
/// let mut pool: Pool<&str> = Pool::new(1, 1);
/// let data = pool.try_alloc("data").unwrap();
/// assert_eq!(pool.try_alloc("more data"), Err("more data")); // ordinary region is full
/// let control = pool.try_alloc_reserved("timer").unwrap(); // the reserve still answers
/// assert_eq!(pool.take(data), "data");
/// assert_eq!(pool.take(control), "timer");
/// assert_eq!(pool.check().unwrap().free, 2);
/// ```
pub struct Pool<T> {
    slots: Box<[Slot<T>]>,
    ordinary_capacity: u32,
    ordinary_free_head: u32,
    reserved_free_head: u32,
    ordinary_free: u32,
    reserved_free: u32,
}

impl<T> Pool<T> {
    /// Builds a pool with `ordinary` slots any allocation may use and `reserved` slots only
    /// [`Pool::try_alloc_reserved`] may use. This is the only allocation the pool ever makes.
    ///
    /// # Panics
    ///
    /// If `ordinary + reserved` is zero or exceeds [`SLOTS_MAX`].
    pub fn new(ordinary: usize, reserved: usize) -> Self {
        Self::try_new(ordinary, reserved).unwrap_or_else(|error| {
            panic!("Pool::new: the pool's slots could not be allocated: {error}")
        })
    }

    /// [`Pool::new`], with an allocation the allocator refuses returned as an error instead
    /// of ending the process.
    ///
    /// # Errors
    ///
    /// The allocator's refusal of the pool's slots.
    ///
    /// # Panics
    ///
    /// If `ordinary + reserved` is zero or exceeds [`SLOTS_MAX`].
    pub fn try_new(
        ordinary: usize,
        reserved: usize,
    ) -> Result<Self, std::collections::TryReserveError> {
        let total = ordinary
            .checked_add(reserved)
            .expect("pool size overflows usize");
        assert!(total > 0, "a pool needs at least one slot");
        assert!(
            total <= SLOTS_MAX,
            "a pool holds at most {SLOTS_MAX} slots, asked for {total}"
        );
        let slots: Box<[Slot<T>]> = crate::try_boxed_slice(total, |index| {
            // Each region is its own free list, in index order.
            let next = index + 1;
            let end_of_region = next == ordinary || next == total;
            Slot {
                value: None,
                next: if end_of_region { NONE } else { next as u32 },
                state: SlotState::Free,
            }
        })?;
        Ok(Self {
            slots,
            ordinary_capacity: ordinary as u32,
            ordinary_free_head: if ordinary > 0 { 0 } else { NONE },
            reserved_free_head: if reserved > 0 { ordinary as u32 } else { NONE },
            ordinary_free: ordinary as u32,
            reserved_free: reserved as u32,
        })
    }

    /// Stores `value` in an ordinary slot, or hands it back if the ordinary region is full.
    #[inline]
    pub fn try_alloc(&mut self, value: T) -> Result<PoolIndex, T> {
        if self.ordinary_free_head == NONE {
            return Err(value);
        }
        Ok(self.pop_free(false, || value))
    }

    /// Stores the value `make` builds in an ordinary slot, or returns `None` (without calling
    /// `make`) if the ordinary region is full. Lets the value be built in place.
    #[inline]
    pub fn try_alloc_with(&mut self, make: impl FnOnce() -> T) -> Option<PoolIndex> {
        if self.ordinary_free_head == NONE {
            return None;
        }
        Some(self.pop_free(false, make))
    }

    /// Allocates an ordinary slot for the value `make` builds and appends it to `queue`, in
    /// one step; returns `None` (without calling `make`) when the ordinary region or the
    /// queue is full. The send path of a local message.
    // Written out rather than built on `pop_free`: that shape measured 4-6% slower on
    // one-way and call/reply (BENCHMARKS-HISTORY.md, tina-runtime review notes).
    #[inline(always)]
    pub fn try_alloc_enqueue_with(
        &mut self,
        queue: &mut Queue,
        make: impl FnOnce() -> T,
    ) -> Option<PoolIndex> {
        if self.ordinary_free_head == NONE || queue.len >= queue.capacity {
            return None;
        }
        let index = self.ordinary_free_head;
        let slot = &mut self.slots[index as usize];
        assert_eq!(slot.state, SlotState::Free, "pool free list is corrupt");
        // Built before the slot leaves the free list: if `make` panics, the slot is still free,
        // first on its list, and empty.
        slot.value = Some(make());
        self.ordinary_free_head = slot.next;
        self.ordinary_free -= 1;
        slot.state = SlotState::Queued;
        self.link_back(&mut queue.list, index);
        queue.len += 1;
        Some(PoolIndex(index))
    }

    /// Stores `value` in a reserved slot, falling back to an ordinary one; hands it back only
    /// when both regions are full.
    #[inline]
    pub fn try_alloc_reserved(&mut self, value: T) -> Result<PoolIndex, T> {
        if self.reserved_free_head != NONE {
            Ok(self.pop_free(true, || value))
        } else if self.ordinary_free_head != NONE {
            Ok(self.pop_free(false, || value))
        } else {
            Err(value)
        }
    }

    /// [`Pool::try_alloc_reserved`] for the value `make` builds, built straight into its
    /// slot; returns `None` (without calling `make`) when both regions are full.
    #[inline]
    pub fn try_alloc_reserved_with(&mut self, make: impl FnOnce() -> T) -> Option<PoolIndex> {
        if self.reserved_free_head != NONE {
            Some(self.pop_free(true, make))
        } else if self.ordinary_free_head != NONE {
            Some(self.pop_free(false, make))
        } else {
            None
        }
    }

    #[inline]
    fn pop_free(&mut self, reserved: bool, make: impl FnOnce() -> T) -> PoolIndex {
        let head = if reserved {
            self.reserved_free_head
        } else {
            self.ordinary_free_head
        };
        let slot = &mut self.slots[head as usize];
        assert_eq!(slot.state, SlotState::Free, "pool free list is corrupt");
        let next = slot.next;
        // Built straight into the slot where the optimiser can, rather than moved in; before
        // the slot leaves the free list, so a panicking `make` leaves it free and empty.
        slot.value = Some(make());
        slot.next = NONE;
        slot.state = SlotState::Allocated;
        if reserved {
            self.reserved_free_head = next;
            self.reserved_free -= 1;
        } else {
            self.ordinary_free_head = next;
            self.ordinary_free -= 1;
        }
        PoolIndex(head)
    }

    /// Frees the slot at `index`, dropping its value in place — for values read through
    /// [`Pool::get_mut`] that need not be moved out. If the value's `Drop` panics, the slot is
    /// free all the same.
    ///
    /// # Panics
    ///
    /// If the slot is free (a double free) or still linked into a [`Queue`].
    #[inline]
    pub fn remove(&mut self, index: PoolIndex) {
        assert_eq!(
            self.slots[index.get()].state,
            SlotState::Allocated,
            "remove of a slot that is not allocated"
        );
        self.push_free(index.0);
        self.drop_value_in_place(index.0);
    }

    /// Drops the value of the slot `index`, which is already back on its free list. The
    /// assignment leaves the slot empty even if the value's `Drop` panics (an assignment
    /// writes the new value on the unwind path too), so the slot is never left free but full.
    #[inline(always)]
    fn drop_value_in_place(&mut self, index: u32) {
        self.slots[index as usize].value = None;
    }

    /// Frees the slot at `index` and returns its value.
    ///
    /// # Panics
    ///
    /// If the slot is free (a double free) or still linked into a [`Queue`].
    #[inline]
    pub fn take(&mut self, index: PoolIndex) -> T {
        let slot = &mut self.slots[index.get()];
        assert_eq!(
            slot.state,
            SlotState::Allocated,
            "take of a slot that is not allocated"
        );
        let value = slot.value.take().expect("allocated slot holds a value");
        self.push_free(index.0);
        value
    }

    /// Puts the slot `index`, whose value is gone, back on its region's free list.
    #[inline]
    fn push_free(&mut self, index: u32) {
        let reserved = index >= self.ordinary_capacity;
        let slot = &mut self.slots[index as usize];
        slot.state = SlotState::Free;
        if reserved {
            slot.next = self.reserved_free_head;
            self.reserved_free_head = index;
            self.reserved_free += 1;
        } else {
            slot.next = self.ordinary_free_head;
            self.ordinary_free_head = index;
            self.ordinary_free += 1;
        }
    }

    /// A shared reference to the value at `index`.
    ///
    /// # Panics
    ///
    /// If the slot is free.
    #[inline]
    pub fn get(&self, index: PoolIndex) -> &T {
        self.slots[index.get()]
            .value
            .as_ref()
            .expect("get of a free pool slot")
    }

    /// A mutable reference to the value at `index`.
    ///
    /// # Panics
    ///
    /// If the slot is free.
    #[inline]
    pub fn get_mut(&mut self, index: PoolIndex) -> &mut T {
        self.slots[index.get()]
            .value
            .as_mut()
            .expect("get_mut of a free pool slot")
    }

    /// Appends the allocated slot `index` to `queue`, or hands the index back if the queue is
    /// at its bound.
    ///
    /// # Panics
    ///
    /// If the slot is not allocated or is already queued.
    #[inline]
    pub fn try_enqueue(&mut self, queue: &mut Queue, index: PoolIndex) -> Result<(), PoolIndex> {
        if queue.len >= queue.capacity {
            return Err(index);
        }
        self.push_back(&mut queue.list, index);
        queue.len += 1;
        Ok(())
    }

    /// Appends the allocated slot `index` to `list` (lists have no bound).
    ///
    /// # Panics
    ///
    /// If the slot is not allocated or is already queued.
    #[inline]
    pub fn push_back(&mut self, list: &mut List, index: PoolIndex) {
        let slot = &mut self.slots[index.get()];
        assert_eq!(
            slot.state,
            SlotState::Allocated,
            "enqueue of a slot that is not allocated"
        );
        slot.state = SlotState::Queued;
        self.link_back(list, index.0);
    }

    /// Links the (queued) slot `index` at the back of `list`.
    #[inline(always)]
    fn link_back(&mut self, list: &mut List, index: u32) {
        self.slots[index as usize].next = NONE;
        if list.tail == NONE {
            list.head = index;
        } else {
            self.slots[list.tail as usize].next = index;
        }
        list.tail = index;
    }

    /// Unlinks the front slot of `list` and returns its index, or `None` when it is empty.
    #[inline]
    fn unlink_front(&mut self, list: &mut List) -> Option<u32> {
        if list.head == NONE {
            return None;
        }
        let index = list.head;
        let slot = &self.slots[index as usize];
        assert_eq!(slot.state, SlotState::Queued, "queue is corrupt");
        list.head = slot.next;
        if list.head == NONE {
            list.tail = NONE;
        }
        Some(index)
    }

    /// [`Pool::dequeue_remove_with`] for a [`List`].
    #[inline]
    pub fn pop_front_remove_with<R>(
        &mut self,
        list: &mut List,
        read: impl FnOnce(&mut T) -> R,
    ) -> Option<R> {
        let index = self.unlink_front(list)?;
        Some(self.remove_unlinked_with(index, read))
    }

    /// Hands the value of the unlinked slot `index` to `read`, then frees the slot and drops
    /// what is left of the value in place — on return, or while a panic in `read` unwinds.
    #[inline(always)]
    fn remove_unlinked_with<R>(&mut self, index: u32, read: impl FnOnce(&mut T) -> R) -> R {
        let guard = FreeOnDrop { pool: self, index };
        let value = guard.pool.slots[index as usize].value.as_mut();
        let result = read(value.expect("queued slot holds a value"));
        // The normal path frees the slot inline: the guard's (out-of-line) drop runs only
        // while a panic in `read` unwinds. Measured: the guard's drop on every message cost
        // ~35 instructions per message in the dispatch benchmark.
        let pool = guard.disarm();
        pool.push_free(index);
        pool.drop_value_in_place(index);
        result
    }

    /// [`Pool::dequeue`] for a [`List`].
    #[inline]
    pub fn pop_front(&mut self, list: &mut List) -> Option<PoolIndex> {
        let index = self.unlink_front(list)?;
        let slot = &mut self.slots[index as usize];
        slot.state = SlotState::Allocated;
        slot.next = NONE;
        Some(PoolIndex(index))
    }

    /// [`Pool::clear_queue`] for a [`List`]. If a value's `Drop` panics, the values behind it
    /// stay in the list.
    pub fn clear_list(&mut self, list: &mut List) -> usize {
        let mut count = 0;
        while let Some(index) = self.pop_front(list) {
            drop(self.take(index));
            count += 1;
        }
        count
    }

    /// Unlinks the slot at the front of `queue`, hands its value to `read`, then frees the
    /// slot, dropping what is left of the value in place: a read without moving the value out.
    ///
    /// If `read` or the value's `Drop` panics, the slot is freed and the value dropped once
    /// all the same; the queue has lost its front either way.
    #[inline]
    pub fn dequeue_remove_with<R>(
        &mut self,
        queue: &mut Queue,
        read: impl FnOnce(&mut T) -> R,
    ) -> Option<R> {
        let index = self.unlink_front(&mut queue.list)?;
        queue.len -= 1;
        Some(self.remove_unlinked_with(index, read))
    }

    /// Unlinks and returns the slot at the front of `queue`; the slot stays allocated.
    #[inline]
    pub fn dequeue(&mut self, queue: &mut Queue) -> Option<PoolIndex> {
        let index = self.pop_front(&mut queue.list)?;
        queue.len -= 1;
        Some(index)
    }

    /// The slot at the front of `queue`, left in place.
    #[inline]
    pub fn front(&self, queue: &Queue) -> Option<PoolIndex> {
        (queue.list.head != NONE).then_some(PoolIndex(queue.list.head))
    }

    /// Frees every slot in `queue`, front to back, dropping the values; returns how many. If
    /// a value's `Drop` panics, the values behind it stay queued and counted.
    pub fn clear_queue(&mut self, queue: &mut Queue) -> usize {
        let mut count = 0;
        while let Some(index) = self.dequeue(queue) {
            drop(self.take(index));
            count += 1;
        }
        count
    }

    /// Total slots (`ordinary + reserved`).
    #[inline]
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Free slots in both regions.
    #[inline]
    pub fn free(&self) -> usize {
        (self.ordinary_free + self.reserved_free) as usize
    }

    /// Allocated slots in both regions (queued slots count as allocated).
    #[inline]
    pub fn allocated(&self) -> usize {
        self.capacity() - self.free()
    }

    /// Free slots left to ordinary allocations.
    #[inline]
    pub fn ordinary_free(&self) -> usize {
        self.ordinary_free as usize
    }

    /// Verifies the accounting against the slots themselves: walks both free lists and counts
    /// every slot's state. O(total); meant for checkers and tests, not the hot path.
    pub fn check(&self) -> Result<PoolStats, &'static str> {
        let ordinary_walked = self.walk_free_list(self.ordinary_free_head, false)?;
        let reserved_walked = self.walk_free_list(self.reserved_free_head, true)?;
        if ordinary_walked != self.ordinary_free as usize
            || reserved_walked != self.reserved_free as usize
        {
            return Err("free-list length disagrees with the free counters");
        }
        let free_states = self
            .slots
            .iter()
            .filter(|slot| slot.state == SlotState::Free)
            .count();
        let with_value = self
            .slots
            .iter()
            .filter(|slot| slot.value.is_some())
            .count();
        let stats = PoolStats {
            total: self.capacity(),
            allocated: self.allocated(),
            free: self.free(),
            ordinary_free: self.ordinary_free as usize,
            reserved_free: self.reserved_free as usize,
        };
        if free_states != stats.free || with_value != stats.allocated {
            return Err("slot states disagree with the counters");
        }
        if stats.free + stats.allocated != stats.total {
            return Err("free + allocated != total");
        }
        Ok(stats)
    }

    fn walk_free_list(&self, mut cursor: u32, reserved: bool) -> Result<usize, &'static str> {
        let mut length = 0;
        while cursor != NONE {
            let slot = self
                .slots
                .get(cursor as usize)
                .ok_or("free list points past the pool")?;
            if slot.state != SlotState::Free {
                return Err("free list holds a slot that is not free");
            }
            if (cursor >= self.ordinary_capacity) != reserved {
                return Err("free list crosses regions");
            }
            length += 1;
            if length > self.slots.len() {
                return Err("free list has a cycle");
            }
            cursor = slot.next;
        }
        Ok(length)
    }
}

/// Frees an unlinked slot when dropped — when the read of its value returns, or while a
/// panic in that read unwinds — so a panicking caller never strands the slot.
struct FreeOnDrop<'pool, T> {
    pool: &'pool mut Pool<T>,
    index: u32,
}

impl<'pool, T> FreeOnDrop<'pool, T> {
    /// Gives the pool back without freeing the slot: the caller frees it.
    #[inline(always)]
    fn disarm(self) -> &'pool mut Pool<T> {
        let this = core::mem::ManuallyDrop::new(self);
        // `this` is never dropped nor used again.
        // SAFETY: so moving the `&mut` out of it leaves exactly one live copy of it.
        unsafe { core::ptr::read(&this.pool) }
    }
}

impl<T> Drop for FreeOnDrop<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        // Back on the free list first, then the value dropped: a panicking `Drop` cannot
        // leave the slot stranded (see `Pool::drop_value_in_place`).
        self.pool.push_free(self.index);
        self.pool.drop_value_in_place(self.index);
    }
}

impl<T> fmt::Debug for Pool<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Pool")
            .field("total", &self.capacity())
            .field("free", &self.free())
            .field("ordinary_free", &self.ordinary_free)
            .field("reserved_free", &self.reserved_free)
            .finish()
    }
}

/// An intrusive FIFO of [`Pool`] slots, bounded by a count.
///
/// A queue owns no storage: its links live in the pool's slots. All operations go through
/// the pool that owns the slots ([`Pool::try_enqueue`], [`Pool::dequeue`]). Dropping a
/// non-empty queue leaks nothing — its slots still belong to the pool, which drops their
/// values when it is dropped — but they stay allocated until [`Pool::clear_queue`] frees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    list: List,
    len: u32,
    capacity: u32,
}

/// An intrusive FIFO of [`Pool`] slots with neither a count nor a bound: 8 bytes, for
/// queues that are bounded by where their slots come from (a region of the pool reserved
/// for them) rather than by a count of their own. Operations go through the pool
/// ([`Pool::push_back`], [`Pool::pop_front`], [`Pool::pop_front_remove_with`],
/// [`Pool::clear_list`]); like a [`Queue`], dropping a list leaks nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    head: u32,
    tail: u32,
}

impl List {
    /// An empty list.
    pub const fn new() -> Self {
        Self {
            head: NONE,
            tail: NONE,
        }
    }

    /// Whether nothing is queued.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.head == NONE
    }
}

impl Default for List {
    fn default() -> Self {
        Self::new()
    }
}

impl Queue {
    /// An empty queue that holds at most `capacity` slots.
    pub const fn new(capacity: u32) -> Self {
        Self {
            list: List::new(),
            len: 0,
            capacity,
        }
    }

    /// Slots currently queued.
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether nothing is queued.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the next enqueue would be refused.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len >= self.capacity
    }

    /// The bound.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_cache_line_aligned() {
        assert_eq!(core::mem::align_of::<Slot<u8>>() % 64, 0);
        assert_eq!(core::mem::size_of::<Slot<[u8; 100]>>() % 64, 0);
    }

    #[test]
    fn ordinary_allocations_cannot_take_the_reserve() {
        let mut pool: Pool<u32> = Pool::new(2, 2);
        let a = pool.try_alloc(1).unwrap();
        let _b = pool.try_alloc(2).unwrap();
        assert_eq!(pool.try_alloc(3), Err(3));
        assert_eq!(pool.free(), 2);
        let c = pool.try_alloc_reserved(4).unwrap();
        let d = pool.try_alloc_reserved(5).unwrap();
        assert!(
            c.get() >= 2 && d.get() >= 2,
            "control took reserved slots first"
        );
        assert_eq!(pool.try_alloc_reserved(6), Err(6));
        assert_eq!(pool.take(a), 1);
        // With the reserve gone, control falls back to ordinary slots.
        let e = pool.try_alloc_reserved(7).unwrap();
        assert_eq!(e, a);
        let stats = pool.check().unwrap();
        assert_eq!(
            stats,
            PoolStats {
                total: 4,
                allocated: 4,
                free: 0,
                ordinary_free: 0,
                reserved_free: 0
            }
        );
    }

    #[test]
    fn alloc_with_builds_only_when_there_is_room_and_remove_drops_in_place() {
        let mut pool: Pool<u32> = Pool::new(1, 1);
        let index = pool.try_alloc_with(|| 7).unwrap();
        assert_eq!(*pool.get(index), 7);
        let mut built = false;
        assert_eq!(
            pool.try_alloc_with(|| {
                built = true;
                8
            }),
            None
        );
        assert!(!built, "no room: the value is never built");
        *pool.get_mut(index) += 1;
        pool.remove(index);
        assert_eq!(pool.check().unwrap().free, 2);
        assert!(
            pool.try_alloc_with(|| 9).is_some(),
            "the slot is free again"
        );
    }

    #[test]
    #[should_panic(expected = "not allocated")]
    fn removing_a_free_slot_is_caught() {
        let mut pool: Pool<u8> = Pool::new(1, 0);
        let index = pool.try_alloc(1).unwrap();
        pool.remove(index);
        pool.remove(index);
    }

    #[test]
    fn alloc_enqueue_and_dequeue_remove_in_one_step() {
        let mut pool: Pool<u32> = Pool::new(2, 1);
        let mut queue = Queue::new(2);
        assert!(pool.try_alloc_enqueue_with(&mut queue, || 1).is_some());
        assert!(pool.try_alloc_enqueue_with(&mut queue, || 2).is_some());
        assert!(
            pool.try_alloc_enqueue_with(&mut queue, || 3).is_none(),
            "queue full"
        );
        let mut other = Queue::new(4);
        assert!(
            pool.try_alloc_enqueue_with(&mut other, || 4).is_none(),
            "ordinary region full"
        );
        assert_eq!(
            pool.dequeue_remove_with(&mut queue, |value| *value),
            Some(1)
        );
        assert_eq!(
            pool.dequeue_remove_with(&mut queue, |value| *value * 10),
            Some(20)
        );
        assert_eq!(pool.dequeue_remove_with(&mut queue, |value| *value), None);
        assert_eq!(pool.check().unwrap().free, 3);
    }

    #[test]
    fn freed_slots_return_to_their_own_region() {
        let mut pool: Pool<u8> = Pool::new(1, 1);
        let control = pool.try_alloc_reserved(1).unwrap();
        pool.take(control);
        assert_eq!(pool.ordinary_free(), 1);
        assert_eq!(pool.check().unwrap().reserved_free, 1);
    }

    #[test]
    #[should_panic(expected = "not allocated")]
    fn double_free_is_caught() {
        let mut pool: Pool<u8> = Pool::new(2, 0);
        let index = pool.try_alloc(1).unwrap();
        pool.take(index);
        pool.take(index);
    }

    #[test]
    fn queues_are_fifo_and_bounded() {
        let mut pool: Pool<u32> = Pool::new(8, 0);
        let mut queue = Queue::new(3);
        for value in 0..3 {
            let index = pool.try_alloc(value).unwrap();
            pool.try_enqueue(&mut queue, index).unwrap();
        }
        let extra = pool.try_alloc(99).unwrap();
        assert_eq!(pool.try_enqueue(&mut queue, extra), Err(extra));
        assert_eq!(pool.take(extra), 99);
        assert!(queue.is_full());
        let front = pool.front(&queue).unwrap();
        assert_eq!(*pool.get(front), 0);
        let mut seen = Vec::new();
        while let Some(index) = pool.dequeue(&mut queue) {
            seen.push(pool.take(index));
        }
        assert_eq!(seen, [0, 1, 2]);
        assert!(queue.is_empty());
        assert_eq!(pool.check().unwrap().free, 8);
    }

    #[test]
    #[should_panic(expected = "not allocated")]
    fn taking_a_queued_slot_is_caught() {
        let mut pool: Pool<u8> = Pool::new(2, 0);
        let mut queue = Queue::new(2);
        let index = pool.try_alloc(1).unwrap();
        pool.try_enqueue(&mut queue, index).unwrap();
        pool.take(index);
    }

    #[test]
    fn clear_queue_frees_everything() {
        let mut pool: Pool<u8> = Pool::new(4, 1);
        let mut queue = Queue::new(4);
        for value in 0..4 {
            let index = pool.try_alloc(value).unwrap();
            pool.try_enqueue(&mut queue, index).unwrap();
        }
        assert_eq!(pool.clear_queue(&mut queue), 4);
        assert_eq!(pool.check().unwrap().free, 5);
    }

    #[test]
    fn lists_are_fifo_unbounded_and_clear_frees_everything() {
        assert_eq!(size_of::<List>(), 8);
        let mut pool: Pool<u32> = Pool::new(2, 4);
        let mut list = List::new();
        assert!(list.is_empty());
        // Reserved slots too: a list takes whatever the pool hands out, with no count.
        for value in 0..6 {
            let index = pool.try_alloc_reserved(value).unwrap();
            pool.push_back(&mut list, index);
        }
        assert!(!list.is_empty());
        assert_eq!(
            pool.pop_front_remove_with(&mut list, |value| *value),
            Some(0)
        );
        let index = pool.pop_front(&mut list).unwrap();
        assert_eq!(pool.take(index), 1);
        assert_eq!(pool.check().unwrap().free, 2);
        assert_eq!(pool.clear_list(&mut list), 4);
        assert!(list.is_empty());
        assert_eq!(pool.pop_front(&mut list), None);
        assert_eq!(pool.check().unwrap().free, 6);
    }
}
