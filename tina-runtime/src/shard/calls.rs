//! The outstanding calls of one shard, in a table sized at boot.
//!
//! A slot names its outstanding call by an index into this table (four bytes) instead of
//! carrying the call's state itself, so an isolate that never calls pays four bytes for
//! calls, not twenty. The table holds at most one entry per isolate (one call at a time)
//! and at most one per timer slot (every call has a timeout), so its size is the smaller of
//! the two; a call refused for want of an entry reports [`CallError::NoTimer`], exactly as
//! one refused for want of a timer does.
//!
//! [`CallError::NoTimer`]: crate::CallError::NoTimer

use core::ptr::NonNull;

use crate::ctx::CallDecoder;
use crate::handle::RawHandle;
use crate::isolate::Isolate;
use crate::shard::core::CallOutcome;
use crate::timer::{CallTimer, DeferredTimer};

/// An index into the [`Calls`] table, as a slot keeps it; [`CallIndex::NONE`] for none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CallIndex(u32);

impl CallIndex {
    /// No call outstanding.
    pub(crate) const NONE: CallIndex = CallIndex(u32::MAX);

    /// Whether this names a call.
    #[inline]
    pub(crate) fn is_some(self) -> bool {
        self != CallIndex::NONE
    }

    /// The four bytes reused as a free-list link while the slot is free: the next free slot
    /// of the type, or the end of the list (see `SlotMeta::call`).
    #[inline]
    pub(crate) fn free_link(next: Option<u32>) -> Self {
        CallIndex(next.unwrap_or(u32::MAX))
    }

    /// The next free slot, when this is a free slot's link.
    #[inline]
    pub(crate) fn as_free_link(self) -> Option<u32> {
        (self.0 != u32::MAX).then_some(self.0)
    }
}

/// One outstanding call.
pub(crate) struct CallEntry {
    /// Its correlation id (never 0 while in use).
    pub(crate) correlation: u32,
    /// Its timeout timer; [`CallTimer::NONE`] once the outcome is known.
    pub(crate) timer: CallTimer,
    pub(crate) outcome: CallOutcome,
    /// How the caller's type turns the outcome into one of its messages (`None` while free).
    pub(crate) decoder: Option<ErasedDecoder>,
    /// The next free entry while this one is free.
    next_free: u32,
}

/// The timeout of a call made this tick, whose timer is only reserved
/// ([`CallTimer::DEFERRED`]), with the entry that holds the call: scheduled at the end of the
/// tick if that entry still holds that call with its timer still reserved.
/// Its fields are [`DeferredTimer`]'s, flattened so the entry index fills what would be
/// padding: 40 bytes.
#[derive(Clone, Copy)]
struct DeferredCall {
    deadline_nanos: u64,
    delay_nanos: u64,
    sequence: u64,
    caller: RawHandle,
    correlation: u32,
    entry: u32,
}

impl DeferredCall {
    #[inline]
    fn timeout(&self) -> DeferredTimer {
        DeferredTimer {
            deadline_nanos: self.deadline_nanos,
            delay_nanos: self.delay_nanos,
            sequence: self.sequence,
            target: self.caller,
            correlation: self.correlation,
        }
    }
}

impl CallEntry {
    /// Whether this is call `correlation` and its outcome is still unknown.
    #[inline]
    pub(crate) fn awaits(&self, correlation: u32) -> bool {
        self.correlation == correlation && self.outcome == CallOutcome::WAITING
    }
}

/// A caller type's `&'static CallDecoder<I>` with `I` erased, so one table serves every
/// isolate type. Eight bytes: a `&dyn Any` would be sixteen and cost a virtual call and a
/// type-id compare on every call outcome.
#[derive(Clone, Copy)]
pub(crate) struct ErasedDecoder {
    pointer: NonNull<()>,
    /// What `pointer` points to, checked in debug builds.
    #[cfg(debug_assertions)]
    type_id: core::any::TypeId,
}

// SAFETY: the pointer comes from a `&'static CallDecoder<I>`: immutable data that lives for
// the whole program and holds only function pointers, so sharing or sending it is sound.
unsafe impl Send for ErasedDecoder {}
// SAFETY: as for `Send`: it is only ever read through, never written through.
unsafe impl Sync for ErasedDecoder {}

impl ErasedDecoder {
    /// Erases the decoder table of a call made by isolate type `I`.
    #[inline]
    pub(crate) fn new<I: Isolate>(decoder: &'static CallDecoder<I>) -> Self {
        Self {
            pointer: NonNull::from(decoder).cast(),
            #[cfg(debug_assertions)]
            type_id: core::any::TypeId::of::<CallDecoder<I>>(),
        }
    }

    /// The decoder table again.
    ///
    /// # Safety
    ///
    /// `self` must have been made by [`ErasedDecoder::new::<I>`](ErasedDecoder::new) for this
    /// same `I`.
    #[inline]
    pub(crate) unsafe fn get<I: Isolate>(self) -> &'static CallDecoder<I> {
        #[cfg(debug_assertions)]
        assert_eq!(
            self.type_id,
            core::any::TypeId::of::<CallDecoder<I>>(),
            "a call entry decoded by an isolate type other than the caller's"
        );
        // SAFETY: by the caller's promise the pointer came from a `&'static CallDecoder<I>`,
        // so it is non-null, aligned and valid for reads for the rest of the program.
        unsafe { self.pointer.cast::<CallDecoder<I>>().as_ref() }
    }
}

/// The shard's table of outstanding calls.
pub(crate) struct Calls {
    entries: Vec<CallEntry>,
    /// The first free entry ([`NO_ENTRY`] when full); free entries link through `next_free`.
    free_head: u32,
    /// Entries in use.
    used: usize,
    /// The calls made this tick, in the order they were made, so in the order their timer
    /// slots were reserved: `deferred[..deferred_len]`. A record stays when its call ends
    /// (the walk at the end of the tick skips it); when the array is full, the records of
    /// calls that ended are dropped, which always makes room: each record still valid names
    /// a distinct entry in use other than the new call's, so at most `capacity - 1` remain.
    deferred: Box<[DeferredCall]>,
    deferred_len: usize,
    /// How far the walk at the end of the tick has read.
    deferred_read: usize,
}

/// The end of the free list.
const NO_ENTRY: u32 = u32::MAX;

impl Calls {
    /// A table with room for `capacity` outstanding calls.
    #[cfg(test)]
    pub(crate) fn new(capacity: usize) -> Self {
        Self::try_new(capacity).expect("a small test table")
    }

    /// [`Calls::new`], reporting a refused allocation.
    pub(crate) fn try_new(capacity: usize) -> Result<Self, crate::memory::Refused> {
        assert!(capacity < NO_ENTRY as usize, "call table too large");
        let mut entries = crate::memory::try_vec(capacity)?;
        entries.extend((0..capacity as u32).map(|index| CallEntry {
            correlation: 0,
            timer: CallTimer::NONE,
            outcome: CallOutcome::WAITING,
            decoder: None,
            next_free: if index + 1 < capacity as u32 {
                index + 1
            } else {
                NO_ENTRY
            },
        }));
        Ok(Self {
            entries,
            free_head: if capacity > 0 { 0 } else { NO_ENTRY },
            used: 0,
            deferred: crate::memory::try_boxed(capacity, |_| DeferredCall {
                deadline_nanos: 0,
                delay_nanos: 0,
                sequence: 0,
                caller: RawHandle::from_bits(0),
                correlation: 0,
                entry: NO_ENTRY,
            })?,
            deferred_len: 0,
            deferred_read: 0,
        })
    }

    /// Bytes the table reserves per entry, its record of a call made this tick included
    /// (for the boot spec's memory report).
    pub(crate) const BYTES_PER_ENTRY: usize = size_of::<CallEntry>() + size_of::<DeferredCall>();

    /// Whether another call can be recorded.
    #[inline]
    pub(crate) fn has_room(&self) -> bool {
        self.free_head != NO_ENTRY
    }

    /// Records a new outstanding call; `None` when the table is full.
    #[cfg(test)]
    #[inline]
    pub(crate) fn insert(
        &mut self,
        correlation: u32,
        timer: CallTimer,
        decoder: ErasedDecoder,
    ) -> Option<CallIndex> {
        let index = self.free_head;
        let entry = self.entries.get_mut(index as usize)?;
        self.used += 1;
        self.free_head = entry.next_free;
        entry.correlation = correlation;
        entry.timer = timer;
        entry.outcome = CallOutcome::WAITING;
        entry.decoder = Some(decoder);
        Some(CallIndex(index))
    }

    /// Records a new outstanding call whose timeout is not scheduled yet: its timer slot is
    /// reserved ([`Timers::reserve_call`](crate::timer::Timers::reserve_call), which gave
    /// `sequence`), and the timer is set at the end of the tick only if the call is still
    /// outstanding then — a call answered within the tick it was made, the common case on
    /// one shard, never touches the timer queue. `None` when the table is full.
    #[inline]
    pub(crate) fn insert_deferred(
        &mut self,
        decoder: ErasedDecoder,
        timeout: DeferredTimer,
    ) -> Option<CallIndex> {
        let correlation = timeout.correlation;
        let index = self.free_head;
        let entry = self.entries.get_mut(index as usize)?;
        self.used += 1;
        self.free_head = entry.next_free;
        entry.correlation = correlation;
        entry.timer = CallTimer::DEFERRED;
        entry.outcome = CallOutcome::WAITING;
        entry.decoder = Some(decoder);
        if self.deferred_len == self.deferred.len() {
            self.compact_deferred();
        }
        // Room was made above (see `deferred`); the index is in bounds.
        self.deferred[self.deferred_len] = DeferredCall {
            deadline_nanos: timeout.deadline_nanos,
            delay_nanos: timeout.delay_nanos,
            sequence: timeout.sequence,
            caller: timeout.target,
            correlation,
            entry: index,
        };
        self.deferred_len += 1;
        Some(CallIndex(index))
    }

    /// Whether the call `record` names is still outstanding with its timer only reserved.
    #[inline]
    fn still_deferred(&self, record: &DeferredCall) -> bool {
        let entry = &self.entries[record.entry as usize];
        // Correlations are unique among a shard's calls for 2^32 calls, far more than one
        // tick makes: an entry reused since holds another correlation.
        entry.timer == CallTimer::DEFERRED && entry.correlation == record.correlation
    }

    /// The call in entry `index`, whose timer was only reserved, ended within its tick: if
    /// it was the latest call made (a call answered before the caller's next one, the
    /// common case), its record goes at once, so a tick of many round trips never needs to
    /// compact the records.
    #[inline]
    pub(crate) fn forget_deferred(&mut self, index: CallIndex) {
        if let Some(last) = self.deferred_len.checked_sub(1)
            && last >= self.deferred_read
            && self.deferred[last].entry == index.0
        {
            self.deferred_len = last;
        }
    }

    /// Drops the records of calls that ended, keeping the rest in order.
    #[cold]
    fn compact_deferred(&mut self) {
        let mut kept = 0;
        for read in 0..self.deferred_len {
            let record = self.deferred[read];
            if self.still_deferred(&record) {
                self.deferred[kept] = record;
                kept += 1;
            }
        }
        self.deferred_len = kept;
    }

    /// The next call made this tick that is still outstanding with its timer only reserved,
    /// oldest first: its timeout and entry (give it its timer with [`Calls::set_timer`]).
    /// `None` once every call made this tick was seen; the walk starts afresh with the calls
    /// of the next tick. The shard walks to the end at the end of every tick.
    #[inline]
    pub(crate) fn next_deferred(&mut self) -> Option<(DeferredTimer, u32)> {
        while self.deferred_read < self.deferred_len {
            let record = self.deferred[self.deferred_read];
            self.deferred_read += 1;
            if self.still_deferred(&record) {
                return Some((record.timeout(), record.entry));
            }
        }
        self.deferred_len = 0;
        self.deferred_read = 0;
        None
    }

    /// Gives the call in entry `index` (taken by [`Calls::next_deferred`]) its scheduled
    /// timer.
    #[inline]
    pub(crate) fn set_timer(&mut self, index: u32, timer: CallTimer) {
        let entry = &mut self.entries[index as usize];
        debug_assert_eq!(entry.timer, CallTimer::DEFERRED);
        entry.timer = timer;
    }

    /// The entry `index` names.
    #[cfg(test)]
    pub(crate) fn get(&self, index: CallIndex) -> &CallEntry {
        &self.entries[index.0 as usize]
    }

    /// The entry `index` names if it is call `correlation` with its outcome still unknown
    /// (`None` also for [`CallIndex::NONE`]), to record the outcome.
    #[inline]
    pub(crate) fn awaiting(
        &mut self,
        index: CallIndex,
        correlation: u32,
    ) -> Option<&mut CallEntry> {
        self.entries
            .get_mut(index.0 as usize)
            .filter(|entry| entry.awaits(correlation))
    }

    /// The entry `index` names, to record its outcome.
    #[cfg(test)]
    pub(crate) fn get_mut(&mut self, index: CallIndex) -> &mut CallEntry {
        &mut self.entries[index.0 as usize]
    }

    /// Frees the entry `index` names and returns what it held.
    #[inline]
    pub(crate) fn remove(
        &mut self,
        index: CallIndex,
    ) -> (CallTimer, u32, CallOutcome, Option<ErasedDecoder>) {
        let entry = &mut self.entries[index.0 as usize];
        let taken = (
            core::mem::replace(&mut entry.timer, CallTimer::NONE),
            core::mem::replace(&mut entry.correlation, 0),
            core::mem::replace(&mut entry.outcome, CallOutcome::WAITING),
            entry.decoder.take(),
        );
        // Each entry is freed once: its slot forgets the index at the same time.
        entry.next_free = self.free_head;
        self.free_head = index.0;
        self.used -= 1;
        taken
    }

    /// Frees the entry `index` names, whose outcome is known, and returns the outcome and
    /// the decoder (the hot path's [`Calls::remove`]: the timer is already gone).
    #[inline]
    pub(crate) fn take_outcome(
        &mut self,
        index: CallIndex,
    ) -> (CallOutcome, Option<ErasedDecoder>) {
        let entry = &mut self.entries[index.0 as usize];
        let taken = (entry.outcome, entry.decoder.take());
        entry.next_free = self.free_head;
        self.free_head = index.0;
        self.used -= 1;
        taken
    }

    /// Entries in use (calls outstanding).
    pub(crate) fn outstanding(&self) -> usize {
        self.used
    }

    /// Entries in use, counted along the free list (for tests).
    #[cfg(test)]
    pub(crate) fn in_use(&self) -> usize {
        debug_assert_eq!(self.entries.len() - self.free_len(), self.used);
        self.entries.len() - self.free_len()
    }

    #[cfg(test)]
    fn free_len(&self) -> usize {
        let mut free = 0;
        let mut next = self.free_head;
        while next != NO_ENTRY {
            free += 1;
            next = self.entries[next as usize].next_free;
        }
        free
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ctx, Effect, Message};

    struct Probe;

    struct ProbeMessage(u16);

    // SAFETY: a unit struct and a `u16`: nothing owns memory.
    unsafe impl crate::Bounded for Probe {}
    // SAFETY: as above.
    unsafe impl crate::Bounded for ProbeMessage {}

    impl Message for ProbeMessage {
        fn tag(&self) -> u16 {
            self.0
        }
    }

    impl Isolate for Probe {
        type Message = ProbeMessage;
        type Args = ();
        const MAILBOX: usize = 1;
        const NAME: &'static str = "Probe";

        fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
            Probe
        }

        fn handle(&mut self, _message: ProbeMessage, _ctx: &mut Ctx<Self>) -> Effect {
            Effect::Receive
        }
    }

    static DECODER: CallDecoder<Probe> = CallDecoder {
        reply: |_| None,
        timeout: || ProbeMessage(9),
        refused: |_| ProbeMessage(8),
    };

    #[test]
    fn entries_are_reused_and_bounded() {
        let decoder = ErasedDecoder::new(&DECODER);
        let mut calls = Calls::new(2);
        let first = calls.insert(1, CallTimer::NONE, decoder).expect("room");
        let second = calls.insert(2, CallTimer::NONE, decoder).expect("room");
        assert!(!calls.has_room());
        assert!(calls.insert(3, CallTimer::NONE, decoder).is_none());
        assert_eq!(calls.get(second).correlation, 2);
        assert!(calls.get(second).awaits(2));
        assert!(calls.awaiting(second, 2).is_some());
        assert!(calls.awaiting(second, 1).is_none(), "another call's id");
        assert!(calls.awaiting(CallIndex::NONE, 2).is_none());
        calls.get_mut(first).outcome = CallOutcome::TIMEOUT;
        assert!(!calls.get(first).awaits(1), "the outcome is known");
        let (_, correlation, outcome, taken) = calls.remove(first);
        assert_eq!((correlation, outcome), (1, CallOutcome::TIMEOUT));
        // SAFETY: made from a `CallDecoder<Probe>` just above.
        let table = unsafe { taken.expect("a decoder").get::<Probe>() };
        assert_eq!((table.timeout)().0, 9);
        assert_eq!(calls.in_use(), 1);
        let third = calls
            .insert(3, CallTimer::NONE, decoder)
            .expect("freed entry reused");
        assert_eq!(third, first);
        assert_eq!(calls.get(third).outcome, CallOutcome::WAITING);
        calls.get_mut(second).outcome = CallOutcome::TIMEOUT;
        let (outcome, taken) = calls.take_outcome(second);
        assert_eq!(outcome, CallOutcome::TIMEOUT);
        assert!(taken.is_some());
        assert_eq!(calls.in_use(), 1);
        assert!(Calls::new(0).insert(1, CallTimer::NONE, decoder).is_none());
    }

    /// A call timeout with sequence number `sequence`, due at `deadline`, for call
    /// `correlation` of the caller named by the sequence number.
    fn deferred_timer(sequence: u64, deadline: u64, correlation: u64) -> DeferredTimer {
        DeferredTimer {
            deadline_nanos: deadline,
            delay_nanos: 1_000,
            sequence,
            target: RawHandle::from_bits(sequence),
            correlation: correlation as u32,
        }
    }

    /// The deferred list yields the calls still waiting for their timer in the order they
    /// were made: an entry reused within the tick moves to the tail, an entry whose call
    /// ended is skipped, and the list is empty afterwards.
    #[test]
    fn deferred_calls_come_out_in_the_order_they_were_made() {
        let decoder = ErasedDecoder::new(&DECODER);
        let timeout = |sequence: u64| deferred_timer(sequence, 1_000 + sequence, 10 + sequence);
        let mut calls = Calls::new(4);
        let a = calls.insert_deferred(decoder, timeout(0)).unwrap();
        let b = calls.insert_deferred(decoder, timeout(1)).unwrap();
        let c = calls.insert_deferred(decoder, timeout(2)).unwrap();
        // `a` is answered and its entry reused by a later call; `b` is answered for good.
        for index in [a, b] {
            let (timer, ..) = calls.remove(index);
            assert_eq!(timer, CallTimer::DEFERRED);
        }
        let d = calls.insert_deferred(decoder, timeout(3)).unwrap();
        assert_eq!(d, b, "the most recently freed entry first");
        let e = calls.insert_deferred(decoder, timeout(4)).unwrap();
        assert_eq!(e, a);
        // `c` is answered too, and reused as the tail's successor.
        let _ = calls.remove(c);
        let f = calls.insert_deferred(decoder, timeout(5)).unwrap();
        assert_eq!(f, c);
        let mut order = Vec::new();
        while let Some((timer, entry)) = calls.next_deferred() {
            order.push((timer.sequence, timer.correlation, entry));
            calls.set_timer(entry, CallTimer::NONE);
        }
        assert_eq!(order, [(3, 13, d.0), (4, 14, e.0), (5, 15, f.0)]);
        assert!(calls.next_deferred().is_none());
        // The next tick starts with an empty list; a reused entry is listed afresh.
        let _ = calls.remove(d);
        let g = calls.insert_deferred(decoder, timeout(6)).unwrap();
        let (timer, entry) = calls.next_deferred().expect("listed");
        assert_eq!((timer.correlation, entry), (16, g.0));
        assert!(calls.next_deferred().is_none());
    }

    /// A call answered before the next one is made leaves no record; one answered later
    /// leaves its record to be skipped.
    #[test]
    fn the_latest_call_answered_leaves_no_record() {
        let decoder = ErasedDecoder::new(&DECODER);
        let timeout = |sequence: u64| deferred_timer(sequence, 1_000, sequence + 1);
        let mut calls = Calls::new(2);
        let a = calls.insert_deferred(decoder, timeout(0)).unwrap();
        let b = calls.insert_deferred(decoder, timeout(1)).unwrap();
        // `a` is not the latest: its record stays; `b` is, and goes.
        calls.forget_deferred(a);
        assert_eq!(calls.deferred_len, 2);
        let _ = calls.remove(a);
        calls.forget_deferred(b);
        assert_eq!(calls.deferred_len, 1);
        let _ = calls.remove(b);
        for sequence in 2..100 {
            let index = calls.insert_deferred(decoder, timeout(sequence)).unwrap();
            calls.forget_deferred(index);
            let _ = calls.remove(index);
            assert_eq!(calls.deferred_len, 1, "only `a`'s stale record remains");
        }
        assert!(calls.next_deferred().is_none());
        assert_eq!(calls.deferred_len, 0);
    }

    #[test]
    fn a_call_entry_and_its_record_take_64_bytes() {
        assert_eq!(size_of::<DeferredCall>(), 40);
        let entry = if cfg!(debug_assertions) { 40 } else { 24 };
        assert_eq!(size_of::<CallEntry>(), entry);
        assert_eq!(Calls::BYTES_PER_ENTRY, entry + 40);
    }

    /// Many more calls within one tick than the table has entries: the record of each ended
    /// call is dropped when room is needed, and the outstanding ones still come out in the
    /// order they were made.
    #[test]
    fn a_tick_may_make_more_calls_than_the_table_holds() {
        let decoder = ErasedDecoder::new(&DECODER);
        let timeout = |sequence: u64| deferred_timer(sequence, 1_000, sequence + 1);
        let mut calls = Calls::new(3);
        // One call stays outstanding throughout; the other two entries are reused 50 times.
        let first = calls.insert_deferred(decoder, timeout(0)).unwrap();
        let mut sequence = 1;
        for _ in 0..50 {
            let index = calls.insert_deferred(decoder, timeout(sequence)).unwrap();
            sequence += 1;
            let _ = calls.remove(index);
        }
        let last = calls.insert_deferred(decoder, timeout(sequence)).unwrap();
        let mut order = Vec::new();
        while let Some((timer, entry)) = calls.next_deferred() {
            order.push((timer.sequence, entry));
            calls.set_timer(entry, CallTimer::NONE);
        }
        assert_eq!(order, [(0, first.0), (sequence, last.0)]);
    }
}
