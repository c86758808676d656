//! The per-shard timer queue: bounded, O(1) for the common case, deterministic.
//!
//! Every pending timer occupies one of `capacity` entries fixed at boot; scheduling with no
//! free entry is refused. Timers fire in `(deadline, sequence)` order — by deadline, and in
//! the order they were set when deadlines are equal — the same order in every run, which
//! the simulator relies on.
//!
//! # Lanes
//!
//! A server sets most of its timers with a handful of delays (a call timeout, a retry
//! period, a keep-alive), and the clock never goes back, so timers set with the same delay
//! are set in deadline order. The queue exploits that: timers live on **lanes**, FIFO lists
//! that each hold timers of one delay in `(deadline, sequence)` order, and a small min-heap
//! orders the lanes by their first timer. Setting a timer appends to its delay's lane (a
//! direct-mapped cache of [`LANE_CACHE`] lanes finds it); cancelling one unlinks it; only
//! when a lane's first timer changes does the heap move, and it holds one item per lane in
//! use, not one per timer. A call timeout set on every call and cancelled by nearly every
//! reply therefore costs a few stores, whatever the number of pending calls.
//!
//! Delays that miss the cache (or a deadline that would break a lane's order) open a fresh
//! lane; in the worst case — every timer with its own delay — each lane holds one timer and
//! the structure is the indexed binary heap it generalises. Lanes are bounded too: a lane
//! without timers is freed unless the cache still names it, so at most
//! `capacity + LANE_CACHE` lanes ever exist.
//!
//! # Staging
//!
//! A timer set during a tick is only **staged** (an O(1) append to a list); the shard
//! commits staged timers to their lanes right before it fires due timers, at the end of the
//! tick. A timer cancelled before then — a call answered in the tick it was made, the
//! common case on one shard — never touches a lane or the heap. Firing is unaffected: timers
//! fire only at the end of a tick, after the commit.
//!
//! Each timer also sits on its owner's list (the slot that set it), so tearing an isolate
//! down cancels all of its timers at once.

use tina_mailbox::PoolIndex;

use crate::handle::RawHandle;

const NONE: u32 = u32::MAX;
/// The `lane` of an entry set during this tick and not yet on a lane.
const STAGED: u32 = u32::MAX - 1;

/// Lanes the delay cache remembers (a power of two).
pub(crate) const LANE_CACHE: usize = 16;

/// Names one scheduled timer; stale after it fires or is cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId {
    index: u32,
    generation: u32,
}

/// A call's timeout timer as its slot keeps it: the entry index alone (four bytes), checked
/// against the call's correlation id when cancelled, since correlation ids are unique.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CallTimer(u32);

impl CallTimer {
    /// Names no timer.
    pub(crate) const NONE: CallTimer = CallTimer(NONE);
    /// A timer slot reserved for the call ([`Timers::reserve_call`]) but not scheduled yet:
    /// the shard schedules it at the end of the tick if the call is still outstanding.
    pub(crate) const DEFERRED: CallTimer = CallTimer(STAGED);
}

/// A call timeout whose slot was reserved during the tick, to be scheduled at its end
/// ([`Timers::commit_staged`]) with the sequence number it was given when reserved, so it
/// fires exactly where it would have had it been scheduled at once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DeferredTimer {
    pub(crate) deadline_nanos: u64,
    pub(crate) delay_nanos: u64,
    pub(crate) sequence: u64,
    /// The caller.
    pub(crate) target: RawHandle,
    pub(crate) correlation: u32,
}

/// What a timer does when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimerAction {
    /// Deliver the envelope held in the pool to the target's control queue.
    Message(PoolIndex),
    /// Time out the target's call with this correlation id.
    CallTimeout(u32),
    /// An I/O deadline of the shard's reactor (entry and wait, packed by `crate::io`).
    Io(u32),
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    deadline_nanos: u64,
    sequence: u64,
    /// The delay it was set with: its lane's key.
    delay_nanos: u64,
    target: RawHandle,
    action: TimerAction,
    generation: u32,
    /// The lane it is on, `STAGED`, or `NONE` when the entry is free.
    lane: u32,
    /// Lane (or staged-list) links; `next` is the free-list link while the entry is free.
    previous: u32,
    next: u32,
    /// The slot-table index of the isolate that set the timer, and its list links.
    owner: u32,
    owner_previous: u32,
    owner_next: u32,
}

#[derive(Clone, Copy, Debug)]
struct Lane {
    /// The delay every timer on the lane was set with.
    delay_nanos: u64,
    head: u32,
    tail: u32,
    /// Position in `heap` while the lane has timers, else `NONE`.
    heap_position: u32,
    /// Free-list link while the lane is free.
    next_free: u32,
    /// The delay cache names this lane (then it is kept when it empties).
    cached: bool,
}

/// One heap item: a lane keyed by its first timer.
#[derive(Clone, Copy, Debug)]
struct HeapItem {
    deadline_nanos: u64,
    sequence: u64,
    lane: u32,
}

impl HeapItem {
    #[inline]
    fn key(&self) -> (u64, u64) {
        (self.deadline_nanos, self.sequence)
    }
}

/// What `Timers::remove` needs of an entry it frees.
struct RemovedLinks {
    previous: u32,
    next: u32,
    owner: u32,
    owner_previous: u32,
    owner_next: u32,
    target: RawHandle,
    action: TimerAction,
}

/// A fired or cancelled timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Expired {
    pub(crate) target: RawHandle,
    pub(crate) action: TimerAction,
}

/// The timer queue of one shard.
#[derive(Debug)]
pub(crate) struct Timers {
    entries: Box<[Entry]>,
    free_head: u32,
    /// Entries in use (pending or staged timers) plus reserved call timeouts.
    in_use: usize,
    lanes: Box<[Lane]>,
    free_lane: u32,
    /// Lanes with timers, ordered by their first timer.
    heap: Vec<HeapItem>,
    /// Delay → lane, direct-mapped.
    cache: [u32; LANE_CACHE],
    sequence: u64,
    /// Timers set since the last commit, oldest first.
    staged_head: u32,
    staged_tail: u32,
    /// No staged timer is due before this (exact after a commit, a lower bound after a
    /// staged timer is cancelled).
    staged_min: u64,
    /// The first timer of each owner, by slot-table index.
    owner_heads: Box<[u32]>,
}

impl Timers {
    /// Bytes the queue reserves per timer slot (entry, lane and heap item), for the boot
    /// spec's memory report.
    pub(crate) const BYTES_PER_SLOT: usize = core::mem::size_of::<Entry>()
        + core::mem::size_of::<Lane>()
        + core::mem::size_of::<HeapItem>();

    /// A queue with room for `capacity` pending timers set by up to `owners` isolate slots;
    /// the only allocation it makes.
    #[cfg(test)]
    pub(crate) fn new(capacity: usize, owners: usize) -> Self {
        Self::try_new(capacity, owners).expect("a small test queue")
    }

    /// [`Timers::new`], reporting a refused allocation.
    pub(crate) fn try_new(capacity: usize, owners: usize) -> Result<Self, crate::memory::Refused> {
        assert!(capacity > 0 && capacity + LANE_CACHE < NONE as usize);
        let link = |index: usize, count: usize| {
            if index + 1 == count {
                NONE
            } else {
                index as u32 + 1
            }
        };
        let entries = crate::memory::try_boxed(capacity, |index| Entry {
            deadline_nanos: 0,
            sequence: 0,
            delay_nanos: 0,
            target: RawHandle::from_bits(0),
            action: TimerAction::CallTimeout(0),
            generation: 0,
            lane: NONE,
            previous: NONE,
            next: link(index, capacity),
            owner: NONE,
            owner_previous: NONE,
            owner_next: NONE,
        })?;
        let lane_count = capacity + LANE_CACHE;
        let lanes = crate::memory::try_boxed(lane_count, |index| Lane {
            delay_nanos: 0,
            head: NONE,
            tail: NONE,
            heap_position: NONE,
            next_free: link(index, lane_count),
            cached: false,
        })?;
        Ok(Self {
            entries,
            free_head: 0,
            in_use: 0,
            lanes,
            free_lane: 0,
            heap: crate::memory::try_vec(lane_count)?,
            cache: [NONE; LANE_CACHE],
            sequence: 0,
            staged_head: NONE,
            staged_tail: NONE,
            staged_min: u64::MAX,
            owner_heads: crate::memory::try_boxed(owners, |_| NONE)?,
        })
    }

    /// Timers pending (set and not yet fired or cancelled), staged ones included.
    pub(crate) fn pending(&self) -> usize {
        self.in_use
    }

    /// Pending timers.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries
            .iter()
            .filter(|entry| entry.lane != NONE)
            .count()
    }

    /// Whether a slot is free (neither in use nor reserved).
    #[inline]
    pub(crate) fn has_room(&self) -> bool {
        self.in_use < self.entries.len()
    }

    /// Reserves a slot for a call timeout that will be scheduled at the end of the tick
    /// (with [`Timers::commit_staged`]) unless [`Timers::cancel_call`] releases it first;
    /// returns the sequence number it fires by among timers of the same deadline. The caller
    /// checked [`Timers::has_room`].
    #[inline]
    pub(crate) fn reserve_call(&mut self) -> u64 {
        debug_assert!(self.has_room());
        self.in_use += 1;
        let sequence = self.sequence;
        self.sequence += 1;
        sequence
    }

    /// The earliest deadline, if any timer is pending (with staged timers, possibly a little
    /// earlier: never later).
    #[inline]
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        let committed = self.heap.first().map(|item| item.deadline_nanos);
        if self.staged_head == NONE {
            return committed;
        }
        Some(committed.map_or(self.staged_min, |deadline| deadline.min(self.staged_min)))
    }

    /// Schedules `action` for `target` `delay_nanos` after `now_nanos` (saturating); `None`
    /// when every slot is taken. A timer with an `owner` (a slot-table index) goes on that
    /// owner's list, for [`Timers::cancel_owned`]; one without (a call timeout, whose id the
    /// caller's slot keeps) must be cancelled by id. `now_nanos` must never decrease from one call to the next
    /// (the runtime clock does not); a smaller one still fires in deadline order, it only
    /// opens a lane of its own.
    pub(crate) fn schedule(
        &mut self,
        now_nanos: u64,
        delay_nanos: u64,
        target: RawHandle,
        owner: Option<usize>,
        action: TimerAction,
    ) -> Option<TimerId> {
        if !self.has_room() {
            return None;
        }
        let deadline_nanos = now_nanos.saturating_add(delay_nanos);
        let index = self.free_head;
        self.in_use += 1;
        let sequence = self.sequence;
        self.sequence += 1;
        let tail = self.staged_tail;
        let entry = &mut self.entries[index as usize];
        self.free_head = entry.next;
        entry.deadline_nanos = deadline_nanos;
        entry.sequence = sequence;
        entry.delay_nanos = delay_nanos;
        entry.target = target;
        entry.action = action;
        entry.lane = STAGED;
        entry.previous = tail;
        entry.next = NONE;
        entry.owner_previous = NONE;
        let generation = entry.generation;
        if let Some(owner) = owner {
            // Onto the owner's list.
            let owner_head = self.owner_heads[owner];
            let entry = &mut self.entries[index as usize];
            entry.owner = owner as u32;
            entry.owner_next = owner_head;
            if owner_head != NONE {
                self.entries[owner_head as usize].owner_previous = index;
            }
            self.owner_heads[owner] = index;
        } else {
            entry.owner = NONE;
            entry.owner_next = NONE;
        }
        // Onto the staged list.
        if tail == NONE {
            self.staged_head = index;
        } else {
            self.entries[tail as usize].next = index;
        }
        self.staged_tail = index;
        self.staged_min = self.staged_min.min(deadline_nanos);
        Some(TimerId { index, generation })
    }

    /// Moves every staged timer onto its lane, oldest first (so each lane stays in
    /// `(deadline, sequence)` order). The shard calls this before firing due timers.
    pub(crate) fn commit_staged(&mut self) {
        while self.staged_head != NONE {
            let index = self.take_staged();
            self.place(index);
        }
        self.staged_tail = NONE;
        self.staged_min = u64::MAX;
    }

    /// Schedules a call timeout whose slot [`Timers::reserve_call`] reserved, on its lane
    /// with the sequence number it was given then, so it fires exactly where it would have
    /// had it been scheduled at once; staged timers set before it are committed first, so
    /// lanes stay in order. Commit reserved timeouts in the order they were reserved, then
    /// the rest with [`Timers::commit_staged`].
    pub(crate) fn commit_reserved(&mut self, timer: &DeferredTimer) -> CallTimer {
        while self.staged_head != NONE
            && self.entries[self.staged_head as usize].sequence < timer.sequence
        {
            let index = self.take_staged();
            self.place(index);
        }
        let index = self.take_reserved(timer);
        self.place(index);
        CallTimer(index)
    }

    /// Takes the oldest entry off the staged list.
    #[inline]
    fn take_staged(&mut self) -> u32 {
        let index = self.staged_head;
        let next = self.entries[index as usize].next;
        self.staged_head = next;
        if next == NONE {
            self.staged_tail = NONE;
        } else {
            self.entries[next as usize].previous = NONE;
        }
        index
    }

    /// Fills a free entry with a reserved call timeout (its slot is already counted in
    /// `in_use`, so a free entry exists).
    #[inline]
    fn take_reserved(&mut self, timer: &DeferredTimer) -> u32 {
        let index = self.free_head;
        assert!(index != NONE, "a reserved timer slot has a free entry");
        let entry = &mut self.entries[index as usize];
        self.free_head = entry.next;
        entry.deadline_nanos = timer.deadline_nanos;
        entry.sequence = timer.sequence;
        entry.delay_nanos = timer.delay_nanos;
        entry.target = timer.target;
        entry.action = TimerAction::CallTimeout(timer.correlation);
        entry.owner = NONE;
        entry.owner_previous = NONE;
        entry.owner_next = NONE;
        index
    }

    /// Puts entry `index` (off every list but its owner's) on the tail of its lane; a lane
    /// that was empty enters the heap.
    #[inline]
    fn place(&mut self, index: u32) {
        let (deadline_nanos, sequence, delay_nanos) = {
            let entry = &self.entries[index as usize];
            (entry.deadline_nanos, entry.sequence, entry.delay_nanos)
        };
        let lane = self.lane_for(delay_nanos, deadline_nanos);
        let tail = self.lanes[lane as usize].tail;
        let entry = &mut self.entries[index as usize];
        entry.lane = lane;
        entry.previous = tail;
        entry.next = NONE;
        self.lanes[lane as usize].tail = index;
        if tail == NONE {
            self.lanes[lane as usize].head = index;
            let position = self.heap.len();
            self.lanes[lane as usize].heap_position = position as u32;
            self.heap.push(HeapItem {
                deadline_nanos,
                sequence,
                lane,
            });
            self.sift_up(position);
        } else {
            self.entries[tail as usize].next = index;
        }
    }

    /// The lane a timer with this delay and deadline goes on: the cached lane for the delay
    /// when its order allows, else a fresh lane that replaces it in the cache.
    #[inline]
    fn lane_for(&mut self, delay_nanos: u64, deadline_nanos: u64) -> u32 {
        let cache_slot =
            (delay_nanos.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) as usize & (LANE_CACHE - 1);
        let cached = self.cache[cache_slot];
        if cached != NONE {
            let lane = &self.lanes[cached as usize];
            if lane.delay_nanos == delay_nanos
                && (lane.tail == NONE
                    || self.entries[lane.tail as usize].deadline_nanos <= deadline_nanos)
            {
                return cached;
            }
            // Evicted: an empty lane goes back to the free list, a busy one lives on until
            // its last timer leaves.
            if lane.tail == NONE {
                self.release_lane(cached);
            } else {
                self.lanes[cached as usize].cached = false;
            }
        }
        // Lanes in use: at most one per pending timer (fewer than `capacity`, since an entry
        // is free) plus the cached empty ones, so one is always free here.
        let fresh = self.free_lane;
        assert!(fresh != NONE, "timer lanes are sized so one is always free");
        let lane = &mut self.lanes[fresh as usize];
        self.free_lane = lane.next_free;
        *lane = Lane {
            delay_nanos,
            head: NONE,
            tail: NONE,
            heap_position: NONE,
            next_free: NONE,
            cached: true,
        };
        self.cache[cache_slot] = fresh;
        fresh
    }

    fn release_lane(&mut self, lane: u32) {
        let record = &mut self.lanes[lane as usize];
        record.cached = false;
        record.next_free = self.free_lane;
        self.free_lane = lane;
    }

    /// Cancels a pending timer and returns what it would have done; `None` if it already
    /// fired or was cancelled.
    #[inline]
    pub(crate) fn cancel(&mut self, id: TimerId) -> Option<Expired> {
        let entry = self.entries.get(id.index as usize)?;
        if entry.generation != id.generation || entry.lane == NONE {
            return None;
        }
        Some(self.remove(id.index))
    }

    /// Cancels the call timeout `timer` of the call `correlation`; false if it already fired,
    /// was cancelled, or names another timer now.
    #[inline]
    pub(crate) fn cancel_call(&mut self, timer: CallTimer, correlation: u32) -> bool {
        if timer == CallTimer::DEFERRED {
            // Only reserved: nothing to unlink.
            self.in_use -= 1;
            return true;
        }
        let Some(entry) = self.entries.get(timer.0 as usize) else {
            return false;
        };
        if entry.lane == NONE || entry.action != TimerAction::CallTimeout(correlation) {
            return false;
        }
        self.remove(timer.0);
        true
    }

    /// Removes and returns the earliest committed timer whose deadline is at or before
    /// `now_nanos` (commit staged timers first).
    #[inline]
    pub(crate) fn pop_due(&mut self, now_nanos: u64) -> Option<Expired> {
        let first = self.heap.first()?;
        if first.deadline_nanos > now_nanos {
            return None;
        }
        let head = self.lanes[first.lane as usize].head;
        Some(self.remove(head))
    }

    /// Unlinks a pending entry from its lane and its owner's list and frees it.
    fn remove(&mut self, index: u32) -> Expired {
        let entry = &self.entries[index as usize];
        let lane = entry.lane;
        let entry = RemovedLinks {
            previous: entry.previous,
            next: entry.next,
            owner: entry.owner,
            owner_previous: entry.owner_previous,
            owner_next: entry.owner_next,
            target: entry.target,
            action: entry.action,
        };
        if lane == STAGED {
            // Off the staged list.
            if entry.next == NONE {
                self.staged_tail = entry.previous;
            } else {
                self.entries[entry.next as usize].previous = entry.previous;
            }
            if entry.previous == NONE {
                self.staged_head = entry.next;
            } else {
                self.entries[entry.previous as usize].next = entry.next;
            }
        } else {
            self.unlink_from_lane(lane, entry.previous, entry.next);
        }
        // Off the owner's list (call timeouts are on none: the caller's slot holds their id).
        if entry.owner != NONE {
            if entry.owner_previous == NONE {
                self.owner_heads[entry.owner as usize] = entry.owner_next;
            } else {
                self.entries[entry.owner_previous as usize].owner_next = entry.owner_next;
            }
            if entry.owner_next != NONE {
                self.entries[entry.owner_next as usize].owner_previous = entry.owner_previous;
            }
        }
        let freed = &mut self.entries[index as usize];
        freed.lane = NONE;
        freed.previous = NONE;
        freed.owner = NONE;
        freed.owner_previous = NONE;
        freed.owner_next = NONE;
        freed.generation = freed.generation.wrapping_add(1);
        freed.next = self.free_head;
        self.free_head = index;
        self.in_use -= 1;
        Expired {
            target: entry.target,
            action: entry.action,
        }
    }

    /// Takes the entry between `previous` and `next` off `lane`, moving or dropping the
    /// lane's heap item when the lane's first timer changes.
    fn unlink_from_lane(&mut self, lane: u32, previous: u32, next: u32) {
        if next == NONE {
            self.lanes[lane as usize].tail = previous;
        } else {
            self.entries[next as usize].previous = previous;
        }
        if previous != NONE {
            self.entries[previous as usize].next = next;
            return;
        }
        // It was the lane's first timer: the lane's heap key changes.
        let record = &mut self.lanes[lane as usize];
        record.head = next;
        let position = record.heap_position as usize;
        if next == NONE {
            record.heap_position = NONE;
            if !record.cached {
                self.release_lane(lane);
            }
            self.heap_remove(position);
        } else {
            let first = &self.entries[next as usize];
            self.heap[position].deadline_nanos = first.deadline_nanos;
            self.heap[position].sequence = first.sequence;
            // Lanes are in order, so the key only grows.
            self.sift_down(position);
        }
    }

    /// Cancels every pending timer `owner` set, handing each to `cancelled`.
    pub(crate) fn cancel_owned(&mut self, owner: usize, mut cancelled: impl FnMut(Expired)) {
        while self.owner_heads[owner] != NONE {
            let index = self.owner_heads[owner];
            cancelled(self.remove(index));
        }
    }

    fn heap_remove(&mut self, position: usize) {
        let last = self.heap.len() - 1;
        if position != last {
            self.heap[position] = self.heap[last];
            self.lanes[self.heap[position].lane as usize].heap_position = position as u32;
        }
        self.heap.pop();
        if position < self.heap.len() {
            self.sift_down(position);
            self.sift_up(position);
        }
    }

    fn sift_up(&mut self, mut position: usize) {
        let item = self.heap[position];
        while position > 0 {
            let parent = (position - 1) / 2;
            if item.key() >= self.heap[parent].key() {
                break;
            }
            self.heap[position] = self.heap[parent];
            self.lanes[self.heap[position].lane as usize].heap_position = position as u32;
            position = parent;
        }
        self.heap[position] = item;
        self.lanes[item.lane as usize].heap_position = position as u32;
    }

    fn sift_down(&mut self, mut position: usize) {
        let item = self.heap[position];
        let len = self.heap.len();
        loop {
            let left = 2 * position + 1;
            if left >= len {
                break;
            }
            let right = left + 1;
            let child = if right < len && self.heap[right].key() < self.heap[left].key() {
                right
            } else {
                left
            };
            if self.heap[child].key() >= item.key() {
                break;
            }
            self.heap[position] = self.heap[child];
            self.lanes[self.heap[position].lane as usize].heap_position = position as u32;
            position = child;
        }
        self.heap[position] = item;
        self.lanes[item.lane as usize].heap_position = position as u32;
    }

    /// Checks every invariant: lanes sorted, heap ordered and indexed, counts agree.
    #[cfg(test)]
    fn check(&self) {
        self.check_with_reserved(0);
    }

    /// [`Timers::check`] when `reserved` call timeouts are reserved and not yet committed.
    #[cfg(test)]
    fn check_with_reserved(&self, reserved: usize) {
        assert_eq!(self.in_use, self.len() + reserved);
        let mut pending = 0;
        for (position, item) in self.heap.iter().enumerate() {
            let lane = &self.lanes[item.lane as usize];
            assert_eq!(lane.heap_position as usize, position);
            assert_ne!(lane.head, NONE, "an empty lane in the heap");
            let head = &self.entries[lane.head as usize];
            assert_eq!((head.deadline_nanos, head.sequence), item.key());
            if position > 0 {
                assert!(self.heap[(position - 1) / 2].key() <= item.key());
            }
            let mut cursor = lane.head;
            let mut previous = NONE;
            let mut last_key = (0, 0);
            while cursor != NONE {
                let entry = &self.entries[cursor as usize];
                assert_eq!(entry.lane, item.lane);
                assert_eq!(entry.previous, previous);
                assert!((entry.deadline_nanos, entry.sequence) >= last_key);
                last_key = (entry.deadline_nanos, entry.sequence);
                previous = cursor;
                cursor = entry.next;
                pending += 1;
            }
            assert_eq!(lane.tail, previous);
        }
        let mut cursor = self.staged_head;
        let mut previous = NONE;
        while cursor != NONE {
            let entry = &self.entries[cursor as usize];
            assert_eq!(entry.lane, STAGED);
            assert_eq!(entry.previous, previous);
            assert!(entry.deadline_nanos >= self.staged_min);
            previous = cursor;
            cursor = entry.next;
            pending += 1;
        }
        assert_eq!(self.staged_tail, previous);
        assert_eq!(pending, self.len());
        let mut free = 0;
        let mut cursor = self.free_head;
        while cursor != NONE {
            free += 1;
            cursor = self.entries[cursor as usize].next;
        }
        assert_eq!(pending + free, self.entries.len());
        let lanes_in_use = self
            .lanes
            .iter()
            .filter(|lane| lane.heap_position != NONE || lane.cached)
            .count();
        let mut free_lanes = 0;
        let mut cursor = self.free_lane;
        while cursor != NONE {
            free_lanes += 1;
            cursor = self.lanes[cursor as usize].next_free;
        }
        assert_eq!(lanes_in_use + free_lanes, self.lanes.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> RawHandle {
        RawHandle::from_bits(7)
    }

    #[test]
    fn fires_in_deadline_then_insertion_order() {
        let mut timers = Timers::new(8, 1);
        let deadlines = [50u64, 10, 30, 10, 40, 20];
        for (tag, &deadline) in deadlines.iter().enumerate() {
            timers
                .schedule(
                    0,
                    deadline,
                    target(),
                    Some(0),
                    TimerAction::CallTimeout(tag as u32),
                )
                .unwrap();
        }
        timers.commit_staged();
        let mut fired = Vec::new();
        while let Some(expired) = timers.pop_due(u64::MAX) {
            let TimerAction::CallTimeout(tag) = expired.action else {
                unreachable!()
            };
            fired.push(tag);
        }
        assert_eq!(fired, [1, 3, 5, 2, 4, 0]);
    }

    #[test]
    fn nothing_fires_before_its_deadline() {
        let mut timers = Timers::new(2, 1);
        timers
            .schedule(0, 100, target(), Some(0), TimerAction::CallTimeout(1))
            .unwrap();
        assert_eq!(timers.next_deadline(), Some(100), "staged timers count");
        assert_eq!(
            timers.pop_due(100),
            None,
            "staged timers fire only once committed"
        );
        timers.commit_staged();
        assert_eq!(timers.pop_due(99), None);
        assert!(timers.pop_due(100).is_some());
    }

    #[test]
    fn cancel_frees_the_slot_at_once_and_ids_go_stale() {
        let mut timers = Timers::new(2, 1);
        let a = timers
            .schedule(0, 100, target(), Some(0), TimerAction::CallTimeout(1))
            .unwrap();
        let _b = timers
            .schedule(0, 200, target(), Some(0), TimerAction::CallTimeout(2))
            .unwrap();
        assert!(!timers.has_room());
        assert!(
            timers
                .schedule(0, 300, target(), Some(0), TimerAction::CallTimeout(3))
                .is_none()
        );
        assert!(timers.cancel(a).is_some());
        assert!(timers.cancel(a).is_none(), "a cancelled id is stale");
        let c = timers
            .schedule(0, 50, target(), Some(0), TimerAction::CallTimeout(3))
            .unwrap();
        assert_eq!(timers.next_deadline(), Some(50));
        assert_ne!(a, c, "the reused slot has a new generation");
        assert_eq!(timers.len(), 2);
    }

    #[test]
    fn random_schedule_and_cancel_keep_heap_order() {
        // A small deterministic LCG drives a mix of schedules and cancels.
        let mut state = 12345u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        let mut timers = Timers::new(64, 1);
        let mut live: Vec<(TimerId, u64, u32)> = Vec::new();
        // Fewer steps under Miri, which runs them a thousand times slower.
        for tag in 0..if cfg!(miri) { 200 } else { 2000u32 } {
            if next() % 3 == 0 && !live.is_empty() {
                let victim = live.swap_remove((next() as usize) % live.len());
                assert!(timers.cancel(victim.0).is_some());
            } else if let Some(id) = timers.schedule(
                0,
                next() % 1000,
                target(),
                Some(0),
                TimerAction::CallTimeout(tag),
            ) {
                let deadline = timers.entries[id.index as usize].deadline_nanos;
                timers.check();
                live.push((id, deadline, tag));
            }
        }
        timers.commit_staged();
        timers.check();
        let mut previous = (0u64, 0u32);
        let mut count = 0;
        while let Some(expired) = timers.pop_due(u64::MAX) {
            let TimerAction::CallTimeout(tag) = expired.action else {
                unreachable!()
            };
            let deadline = live.iter().find(|entry| entry.2 == tag).unwrap().1;
            assert!((deadline, tag) >= previous);
            previous = (deadline, tag);
            count += 1;
        }
        assert_eq!(count, live.len());
    }

    /// A model run: timers set with a few recurring delays and many one-off ones while the
    /// clock advances, cancelled at random and popped as they fall due, against a sorted
    /// model of `(deadline, sequence)`.
    #[test]
    fn lanes_match_a_sorted_model() {
        let mut state = 99u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        let mut timers = Timers::new(48, 4);
        let mut model: std::collections::BTreeMap<(u64, u64), (TimerId, u32)> =
            std::collections::BTreeMap::new();
        let mut now = 0u64;
        let mut sequence = 0u64;
        let rounds = if cfg!(miri) { 1_000 } else { 20_000u32 };
        for tag in 0..rounds {
            match next() % 10 {
                0..=4 => {
                    // Mostly three recurring delays; sometimes a one-off.
                    let delay = match next() % 5 {
                        0 => 100,
                        1 => 250,
                        2 => 1_000,
                        _ => next() % 3_000,
                    };
                    // Owners 0..4; 4 stands for an owner-less timer (a call timeout).
                    let owner = Some((next() % 5) as usize).filter(|&owner| owner < 4);
                    match timers.schedule(
                        now,
                        delay,
                        target(),
                        owner,
                        TimerAction::CallTimeout(tag),
                    ) {
                        Some(id) => {
                            model.insert((now + delay, sequence), (id, tag));
                            sequence += 1;
                        }
                        None => assert_eq!(model.len(), 48, "refused with room left"),
                    }
                }
                5 | 6 => {
                    if !model.is_empty() {
                        let skip = (next() as usize) % model.len();
                        let key = *model.keys().nth(skip).unwrap();
                        let (id, tag) = model.remove(&key).unwrap();
                        assert_eq!(
                            timers.cancel(id).map(|expired| expired.action),
                            Some(TimerAction::CallTimeout(tag))
                        );
                        assert!(timers.cancel(id).is_none());
                    }
                }
                7 => {
                    // Tear one owner down.
                    let owner = (next() % 4) as usize;
                    let mut gone = Vec::new();
                    timers.cancel_owned(owner, |expired| gone.push(expired.action));
                    let before = model.len();
                    model.retain(|_, (_, tag)| !gone.contains(&TimerAction::CallTimeout(*tag)));
                    assert_eq!(before - model.len(), gone.len());
                }
                8 => timers.commit_staged(),
                _ => {
                    now += next() % 400;
                    timers.commit_staged();
                    while let Some(expired) = timers.pop_due(now) {
                        let (&key, &(_, tag)) = model.iter().next().expect("model has it");
                        assert!(key.0 <= now);
                        assert_eq!(expired.action, TimerAction::CallTimeout(tag));
                        model.remove(&key);
                    }
                    assert!(model.keys().next().is_none_or(|key| key.0 > now));
                }
            }
            let earliest = model.keys().next().map(|key| key.0);
            if timers.staged_head == NONE {
                assert_eq!(timers.next_deadline(), earliest);
            } else {
                assert!(
                    timers.next_deadline() <= earliest,
                    "never later than the earliest"
                );
            }
            timers.check();
        }
    }

    /// Reserved call timeouts ([`Timers::reserve_call`]) mixed with scheduled timers: the
    /// reservations count against the capacity at once, a released one leaves no trace, and
    /// committed ones (handed over in reservation order, as the shard does) fire exactly in
    /// `(deadline, sequence)` order among the others, ties included.
    #[test]
    fn reserved_call_timeouts_fire_in_the_order_they_were_reserved() {
        #[derive(Clone, Copy, Debug)]
        enum Held {
            Scheduled(TimerId),
            Reserved,
            Committed(CallTimer),
        }
        let mut state = 7u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        const CAPACITY: usize = 24;
        let mut timers = Timers::new(CAPACITY, 2);
        // (deadline, sequence) -> (how it is held, tag, delay)
        let mut model: std::collections::BTreeMap<(u64, u64), (Held, u32, u64)> =
            std::collections::BTreeMap::new();
        let mut now = 0u64;
        let mut sequence = 0u64;
        let mut scratch: Vec<(DeferredTimer, u32)> = Vec::with_capacity(CAPACITY);
        let mut committed_reserved = 0;
        let rounds = if cfg!(miri) { 1_000 } else { 20_000u32 };
        for tag in 0..rounds {
            match next() % 10 {
                0..=5 => {
                    // Two delays, so equal deadlines are common.
                    let delay = if next() % 2 == 0 { 100 } else { 300 };
                    if !timers.has_room() {
                        assert_eq!(model.len(), CAPACITY, "refused with room left");
                        assert!(
                            timers
                                .schedule(now, delay, target(), None, TimerAction::CallTimeout(tag))
                                .is_none()
                        );
                        continue;
                    }
                    if next() % 2 == 0 {
                        assert_eq!(timers.reserve_call(), sequence);
                        model.insert((now + delay, sequence), (Held::Reserved, tag, delay));
                    } else {
                        let owner = Some((next() % 3) as usize).filter(|&owner| owner < 2);
                        let id = timers
                            .schedule(now, delay, target(), owner, TimerAction::CallTimeout(tag))
                            .expect("room");
                        model.insert((now + delay, sequence), (Held::Scheduled(id), tag, delay));
                    }
                    sequence += 1;
                }
                6 | 7 => {
                    if model.is_empty() {
                        continue;
                    }
                    let skip = (next() as usize) % model.len();
                    let key = *model.keys().nth(skip).unwrap();
                    let (held, tag, _) = model.remove(&key).unwrap();
                    match held {
                        Held::Scheduled(id) => assert_eq!(
                            timers.cancel(id).map(|expired| expired.action),
                            Some(TimerAction::CallTimeout(tag))
                        ),
                        Held::Reserved => {
                            assert!(timers.cancel_call(CallTimer::DEFERRED, tag));
                        }
                        Held::Committed(timer) => {
                            assert!(timers.cancel_call(timer, tag));
                            assert!(!timers.cancel_call(timer, tag), "cancelled twice");
                        }
                    }
                }
                _ => {
                    // The end of a tick: commit the reservations, then fire what is due.
                    scratch.clear();
                    for (&(deadline_nanos, sequence), &(held, tag, delay)) in &model {
                        if let Held::Reserved = held {
                            scratch.push((
                                DeferredTimer {
                                    deadline_nanos,
                                    delay_nanos: delay,
                                    sequence,
                                    target: target(),
                                    correlation: tag,
                                },
                                tag,
                            ));
                        }
                    }
                    // In reservation order, as the shard hands them over (the model is in
                    // deadline order).
                    scratch.sort_unstable_by_key(|(timer, _)| timer.sequence);
                    let mut given = Vec::new();
                    for (timer, tag) in &scratch {
                        given.push((*tag, timers.commit_reserved(timer)));
                    }
                    timers.commit_staged();
                    assert_eq!(given.len(), scratch.len());
                    committed_reserved += given.len();
                    for (tag, timer) in given {
                        let held = model
                            .values_mut()
                            .find(|(_, held_tag, _)| *held_tag == tag)
                            .expect("committed one of the model's");
                        held.0 = Held::Committed(timer);
                    }
                    now += next() % 250;
                    while let Some(expired) = timers.pop_due(now) {
                        let (&key, &(_, tag, _)) = model.iter().next().expect("model has it");
                        assert!(key.0 <= now);
                        assert_eq!(expired.action, TimerAction::CallTimeout(tag));
                        model.remove(&key);
                    }
                    assert!(model.keys().next().is_none_or(|key| key.0 > now));
                    assert_eq!(timers.next_deadline(), model.keys().next().map(|key| key.0));
                }
            }
            assert_eq!(timers.pending(), model.len());
            timers.check_with_reserved(
                model
                    .values()
                    .filter(|(held, _, _)| matches!(held, Held::Reserved))
                    .count(),
            );
        }
        assert!(
            committed_reserved > rounds as usize / 20,
            "the test committed reservations"
        );
    }
}
