//! The per-shard timer queue: a bounded, indexed min-heap.
//!
//! Every pending timer occupies one of `capacity` slots fixed at boot; scheduling with no
//! free slot is refused. The heap orders timers by `(deadline, sequence)`, so timers fire in
//! deadline order and timers with equal deadlines fire in the order they were set — the same
//! order in every run, which the simulator relies on. Each slot remembers its heap position,
//! so cancelling is O(log n) and frees the slot at once (a cancelled timer never holds
//! capacity until its deadline). Each timer also sits on its owner's list (the slot that set
//! it), so tearing an isolate down cancels all of its timers at once.

use tina_mailbox::PoolIndex;

use crate::handle::RawHandle;

const NONE: u32 = u32::MAX;

/// Names one scheduled timer; stale after it fires or is cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId {
    index: u32,
    generation: u32,
}

/// What a timer does when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimerAction {
    /// Deliver the envelope held in the pool to the target's control queue.
    Message(PoolIndex),
    /// Time out the target's call with this correlation id.
    CallTimeout(u32),
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    deadline_nanos: u64,
    sequence: u64,
    target: RawHandle,
    action: TimerAction,
    generation: u32,
    /// Position in `heap`, or `NONE` when the slot is free (then `next_free` is the link).
    heap_position: u32,
    next_free: u32,
    /// The slot-table index of the isolate that set the timer, and its list links.
    owner: u32,
    owner_previous: u32,
    owner_next: u32,
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
    heap: Vec<u32>,
    free_head: u32,
    sequence: u64,
    /// The first timer of each owner, by slot-table index.
    owner_heads: Box<[u32]>,
}

impl Timers {
    /// A queue with room for `capacity` pending timers set by up to `owners` isolate slots;
    /// the only allocation it makes.
    pub(crate) fn new(capacity: usize, owners: usize) -> Self {
        assert!(capacity > 0 && capacity < NONE as usize);
        let entries = (0..capacity)
            .map(|index| Entry {
                deadline_nanos: 0,
                sequence: 0,
                target: RawHandle::from_bits(0),
                action: TimerAction::CallTimeout(0),
                generation: 0,
                heap_position: NONE,
                next_free: if index + 1 == capacity {
                    NONE
                } else {
                    index as u32 + 1
                },
                owner: NONE,
                owner_previous: NONE,
                owner_next: NONE,
            })
            .collect();
        Self {
            entries,
            heap: Vec::with_capacity(capacity),
            free_head: 0,
            sequence: 0,
            owner_heads: vec![NONE; owners].into_boxed_slice(),
        }
    }

    /// Pending timers.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether a slot is free.
    pub(crate) fn has_room(&self) -> bool {
        self.free_head != NONE
    }

    /// The earliest deadline, if any timer is pending.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.heap
            .first()
            .map(|&index| self.entries[index as usize].deadline_nanos)
    }

    /// Schedules `action` for `target` at `deadline_nanos`; `None` when every slot is taken.
    pub(crate) fn schedule(
        &mut self,
        deadline_nanos: u64,
        target: RawHandle,
        owner: usize,
        action: TimerAction,
    ) -> Option<TimerId> {
        if self.free_head == NONE {
            return None;
        }
        let index = self.free_head;
        let sequence = self.sequence;
        self.sequence += 1;
        let entry = &mut self.entries[index as usize];
        self.free_head = entry.next_free;
        entry.deadline_nanos = deadline_nanos;
        entry.sequence = sequence;
        entry.target = target;
        entry.action = action;
        entry.next_free = NONE;
        entry.heap_position = self.heap.len() as u32;
        let generation = entry.generation;
        // Push onto the owner's list.
        let head = self.owner_heads[owner];
        entry.owner = owner as u32;
        entry.owner_previous = NONE;
        entry.owner_next = head;
        if head != NONE {
            self.entries[head as usize].owner_previous = index;
        }
        self.owner_heads[owner] = index;
        self.heap.push(index);
        self.sift_up(self.heap.len() - 1);
        Some(TimerId { index, generation })
    }

    /// Cancels a pending timer and returns what it would have done; `None` if it already
    /// fired or was cancelled.
    pub(crate) fn cancel(&mut self, id: TimerId) -> Option<Expired> {
        let entry = self.entries.get(id.index as usize)?;
        if entry.generation != id.generation || entry.heap_position == NONE {
            return None;
        }
        let position = entry.heap_position as usize;
        Some(self.remove_at(position))
    }

    /// Removes and returns the earliest timer whose deadline is at or before `now_nanos`.
    pub(crate) fn pop_due(&mut self, now_nanos: u64) -> Option<Expired> {
        let &first = self.heap.first()?;
        if self.entries[first as usize].deadline_nanos > now_nanos {
            return None;
        }
        Some(self.remove_at(0))
    }

    fn remove_at(&mut self, position: usize) -> Expired {
        let index = self.heap[position];
        let last = self.heap.len() - 1;
        self.swap(position, last);
        self.heap.pop();
        if position < self.heap.len() {
            self.sift_down(position);
            self.sift_up(position);
        }
        // Unlink from the owner's list.
        let (owner, previous, next) = {
            let entry = &self.entries[index as usize];
            (entry.owner, entry.owner_previous, entry.owner_next)
        };
        if previous == NONE {
            self.owner_heads[owner as usize] = next;
        } else {
            self.entries[previous as usize].owner_next = next;
        }
        if next != NONE {
            self.entries[next as usize].owner_previous = previous;
        }
        let entry = &mut self.entries[index as usize];
        entry.owner = NONE;
        entry.owner_previous = NONE;
        entry.owner_next = NONE;
        entry.heap_position = NONE;
        entry.generation = entry.generation.wrapping_add(1);
        entry.next_free = self.free_head;
        self.free_head = index;
        Expired {
            target: entry.target,
            action: entry.action,
        }
    }

    /// Cancels every pending timer `owner` set, handing each to `cancelled`.
    pub(crate) fn cancel_owned(&mut self, owner: usize, mut cancelled: impl FnMut(Expired)) {
        while self.owner_heads[owner] != NONE {
            let index = self.owner_heads[owner];
            let position = self.entries[index as usize].heap_position as usize;
            cancelled(self.remove_at(position));
        }
    }

    fn key(&self, position: usize) -> (u64, u64) {
        let entry = &self.entries[self.heap[position] as usize];
        (entry.deadline_nanos, entry.sequence)
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.entries[self.heap[a] as usize].heap_position = a as u32;
        self.entries[self.heap[b] as usize].heap_position = b as u32;
    }

    fn sift_up(&mut self, mut position: usize) {
        while position > 0 {
            let parent = (position - 1) / 2;
            if self.key(position) >= self.key(parent) {
                break;
            }
            self.swap(position, parent);
            position = parent;
        }
    }

    fn sift_down(&mut self, mut position: usize) {
        loop {
            let left = 2 * position + 1;
            let right = left + 1;
            let mut smallest = position;
            if left < self.heap.len() && self.key(left) < self.key(smallest) {
                smallest = left;
            }
            if right < self.heap.len() && self.key(right) < self.key(smallest) {
                smallest = right;
            }
            if smallest == position {
                break;
            }
            self.swap(position, smallest);
            position = smallest;
        }
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
                .schedule(deadline, target(), 0, TimerAction::CallTimeout(tag as u32))
                .unwrap();
        }
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
            .schedule(100, target(), 0, TimerAction::CallTimeout(1))
            .unwrap();
        assert_eq!(timers.pop_due(99), None);
        assert!(timers.pop_due(100).is_some());
    }

    #[test]
    fn cancel_frees_the_slot_at_once_and_ids_go_stale() {
        let mut timers = Timers::new(2, 1);
        let a = timers
            .schedule(100, target(), 0, TimerAction::CallTimeout(1))
            .unwrap();
        let _b = timers
            .schedule(200, target(), 0, TimerAction::CallTimeout(2))
            .unwrap();
        assert!(!timers.has_room());
        assert!(
            timers
                .schedule(300, target(), 0, TimerAction::CallTimeout(3))
                .is_none()
        );
        assert!(timers.cancel(a).is_some());
        assert!(timers.cancel(a).is_none(), "a cancelled id is stale");
        let c = timers
            .schedule(50, target(), 0, TimerAction::CallTimeout(3))
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
        for tag in 0..2000u32 {
            if next() % 3 == 0 && !live.is_empty() {
                let victim = live.swap_remove((next() as usize) % live.len());
                assert!(timers.cancel(victim.0).is_some());
            } else if let Some(id) =
                timers.schedule(next() % 1000, target(), 0, TimerAction::CallTimeout(tag))
            {
                let deadline = timers.entries[id.index as usize].deadline_nanos;
                live.push((id, deadline, tag));
            }
        }
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
}
