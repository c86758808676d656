//! A lock-free single-producer/single-consumer ring for moving values between two threads.
//!
//! # Protocol
//!
//! The ring is an array of `capacity` slots (a power of two) and two monotonically increasing
//! cursors, each alone on its own cache line:
//!
//! * `tail` — the number of items ever **published**. Only the [`Producer`] stores it.
//! * `head` — the number of items ever **consumed**. Only the [`Consumer`] stores it.
//!
//! Slot `i % capacity` holds item `i`. Items `head..tail` are initialised and belong to the
//! consumer; slots for `tail..head + capacity` are empty and belong to the producer.
//!
//! Orderings, pair by pair:
//!
//! 1. The producer writes items into its slots, then publishes them all with **one
//!    `Release` store** of `tail` ([`Producer::publish`]). The consumer's **`Acquire` load**
//!    of `tail` synchronises with it, so every slot write before the store is visible before
//!    the consumer reads those slots. Writing many items and publishing once is the batch
//!    path the runtime uses: one release store per ring per tick.
//! 2. The consumer reads items out of its slots, then hands the slots back with a
//!    **`Release` store** of `head` (once per [`Consumer::try_pop`], once per
//!    [`Consumer::drain`] or [`Batch`], and once when the [`Consumer`] is dropped). The
//!    producer's **`Acquire` load** of `head` synchronises with it, so the consumer's reads of
//!    a slot happen before the producer overwrites it.
//!
//! Each side keeps a private copy of the other side's cursor (`head_cache` in the producer,
//! `tail_cache` in the consumer) and reloads the shared cursor only when the copy says
//! "full" or "empty", so in steady state a side touches the other side's cache line once per
//! batch, not once per item.
//!
//! A full ring refuses the item and hands it back ([`Producer::try_push`] returns
//! `Err(item)`): it never overwrites, never blocks, never allocates. Cursors wrap with
//! `wrapping_add`; with a power-of-two capacity the arithmetic stays exact across the wrap.
//!
//! # Dropping, forgetting and panics
//!
//! Dropping the producer publishes whatever it had written, so no item is stranded. When both
//! halves are gone the shared part drops every item still in `head..tail`, exactly once.
//!
//! The consumer's private cursor is the authority on which items are gone; the shared `head`
//! only trails it. A [`Batch`] moves the private cursor to the end of the batch when it is
//! taken and back to the first item it did not hand out when it is dropped (the leak
//! amplification of `Vec::drain`). A batch that is never dropped (`mem::forget`) therefore
//! leaks the items it did not hand out — they are never yielded nor dropped — instead of
//! handing out again items already moved out or dropped; the consumer's `Drop` stores its
//! private cursor, so the final drop skips them too. Until the consumer next hands slots back,
//! the producer does not get the forgotten batch's slots back either (as a forgotten
//! `MutexGuard` keeps its mutex locked). [`Batch::take_with`] counts an item as taken before
//! dropping it in its slot, so an item whose `Drop` panics is not dropped again.
//!
//! The protocol is model-checked with loom (`tests/loom_ring.rs`, run with
//! `RUSTFLAGS="--cfg loom"`).

use core::fmt;
use core::mem::MaybeUninit;
use core::ops::Deref;

use crate::loom::{Arc, AtomicUsize, Ordering, UnsafeCell};

/// Aligns its content to 128 bytes: two 64-byte lines, because x86 prefetches lines in pairs.
#[repr(align(128))]
struct CachePadded<T>(T);

impl<T> Deref for CachePadded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

struct Shared<T> {
    /// Items consumed so far; stored only by the consumer (Release), loaded by the producer
    /// (Acquire).
    head: CachePadded<AtomicUsize>,
    /// Items published so far; stored only by the producer (Release), loaded by the consumer
    /// (Acquire).
    tail: CachePadded<AtomicUsize>,
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    mask: usize,
}

// `Shared` is reached from exactly two threads, the producer's and the consumer's. A
// slot is accessed by one side at a time, as the protocol in the module docs guarantees: the
// producer writes only slots in `tail..head + capacity`, the consumer reads only slots in
// `head..tail`, and the Release/Acquire pairs on the cursors order each hand-over. Values
// move between threads, so `T: Send` is required and sufficient; no `&T` is ever shared.
// SAFETY: so no slot is ever accessed from two threads at once.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    #[inline(always)]
    fn capacity(&self) -> usize {
        self.mask + 1
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Acquire);
        let mut cursor = head;
        while cursor != tail {
            self.slots[cursor & self.mask].with_mut(|slot| {
                // Both halves are gone (this is the last `Arc`): the producer published all it
                // wrote when it dropped, and the consumer stored its private cursor (past any
                // items a forgotten batch leaked) when it dropped.
                // So items `head..tail` are initialised and were never read out.
                // SAFETY: each is dropped here exactly once.
                unsafe { (*slot).assume_init_drop() }
            });
            cursor = cursor.wrapping_add(1);
        }
    }
}

/// A bounded single-producer/single-consumer ring, before it is split into its two halves.
///
/// ```
/// use tina_mailbox::Ring;
///
/// let (mut producer, mut consumer) = Ring::new(4).split();
/// producer.try_push(1).unwrap();
/// producer.try_push(2).unwrap();
/// assert_eq!(consumer.try_pop(), None); // written, not yet published
/// producer.publish(); // one release store for both items
/// let mut seen = Vec::new();
/// consumer.drain(usize::MAX, |item| seen.push(item));
/// assert_eq!(seen, [1, 2]);
/// ```
pub struct Ring<T> {
    shared: Arc<Shared<T>>,
}

impl<T: Send> Ring<T> {
    /// The largest capacity accepted.
    pub const CAPACITY_MAX: usize = 1 << 30;

    /// Builds an empty ring of `capacity` slots. This is the only allocation the ring makes.
    ///
    /// # Panics
    ///
    /// If `capacity` is not a power of two or exceeds [`Ring::CAPACITY_MAX`].
    pub fn new(capacity: usize) -> Self {
        Self::try_new(capacity).unwrap_or_else(|error| {
            panic!("Ring::new: the {capacity} slots could not be allocated: {error}")
        })
    }

    /// [`Ring::new`], with an allocation the allocator refuses returned as an error instead
    /// of ending the process.
    ///
    /// # Errors
    ///
    /// The allocator's refusal of the ring's slots.
    ///
    /// # Panics
    ///
    /// If `capacity` is not a power of two or exceeds [`Ring::CAPACITY_MAX`].
    pub fn try_new(capacity: usize) -> Result<Self, std::collections::TryReserveError> {
        assert!(
            capacity.is_power_of_two() && capacity <= Self::CAPACITY_MAX,
            "ring capacity must be a power of two between 1 and {}, got {capacity}",
            Self::CAPACITY_MAX
        );
        let slots = crate::try_boxed_slice(capacity, |_| UnsafeCell::new(MaybeUninit::uninit()))?;
        Ok(Self {
            shared: Arc::new(Shared {
                head: CachePadded(AtomicUsize::new(0)),
                tail: CachePadded(AtomicUsize::new(0)),
                slots,
                mask: capacity - 1,
            }),
        })
    }

    /// Splits the ring into its producing and consuming halves; each is `Send`, so each can
    /// live on its own thread.
    pub fn split(self) -> (Producer<T>, Consumer<T>) {
        let producer = Producer {
            shared: self.shared.clone(),
            tail: 0,
            published: 0,
            head_cache: 0,
        };
        let consumer = Consumer {
            shared: self.shared,
            head: 0,
            tail_cache: 0,
        };
        (producer, consumer)
    }
}

/// The writing half of a [`Ring`].
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    /// Items written so far (published or not).
    tail: usize,
    /// Items published so far (the last value stored to `shared.tail`).
    published: usize,
    /// The consumer's `head` as last loaded.
    head_cache: usize,
}

impl<T> Producer<T> {
    /// Writes `item` into the next slot without publishing it, or hands it back if the ring
    /// is full. The consumer sees it after the next [`Producer::publish`].
    #[inline]
    pub fn try_push(&mut self, item: T) -> Result<(), T> {
        let capacity = self.shared.capacity();
        if self.tail.wrapping_sub(self.head_cache) == capacity {
            // Pairs with the consumer's Release store of `head`: its reads of the slot we are
            // about to reuse happen before our write.
            self.head_cache = self.shared.head.load(Ordering::Acquire);
            if self.tail.wrapping_sub(self.head_cache) == capacity {
                return Err(item);
            }
        }
        self.shared.slots[self.tail & self.shared.mask].with_mut(|slot| {
            // `tail - head_cache < capacity`, so slot `tail % capacity` lies in the producer's
            // region `tail..head + capacity`: the consumer has released it (the Acquire load
            // above, or an earlier one, ordered its read before this write) and will not read
            // it until a later Release store of `tail` publishes it.
            // So the slot is the producer's alone, and it holds no initialised value (it was
            // read out or never written).
            // SAFETY: the write races with nothing and leaks nothing.
            unsafe { (*slot).write(item) };
        });
        self.tail = self.tail.wrapping_add(1);
        Ok(())
    }

    /// [`Producer::try_push`] for the item `make` builds, written straight into its slot;
    /// returns `false` (without calling `make`) when the ring is full.
    #[inline]
    pub fn try_push_with(&mut self, make: impl FnOnce() -> T) -> bool {
        if !self.has_room() {
            return false;
        }
        self.shared.slots[self.tail & self.shared.mask].with_mut(|slot| {
            // `has_room` saw `tail - head_cache < capacity`, so slot `tail % capacity` lies in
            // the producer's region, released by the consumer (the Acquire load in `has_room`,
            // or an earlier one, ordered its read before this write) and unpublished.
            // So the slot is the producer's alone and holds no initialised value.
            // SAFETY: the write races with nothing and leaks nothing.
            unsafe { (*slot).write(make()) };
        });
        self.tail = self.tail.wrapping_add(1);
        true
    }

    /// Makes every item written since the last publish visible to the consumer with one
    /// `Release` store. Costs nothing when nothing is pending.
    #[inline]
    pub fn publish(&mut self) {
        if self.published != self.tail {
            self.shared.tail.store(self.tail, Ordering::Release);
            self.published = self.tail;
        }
    }

    /// [`Producer::try_push`] followed by [`Producer::publish`]: the item-at-a-time path.
    // Written out rather than built on `try_push` or a shared slot-write helper: both shapes
    // measured slower on this path (the helper by about 3%; see BENCHMARKS.md, ring notes).
    #[inline]
    pub fn push(&mut self, item: T) -> Result<(), T> {
        let capacity = self.shared.capacity();
        if self.tail.wrapping_sub(self.head_cache) == capacity {
            // Pairs with the consumer's Release store of `head` (as in `try_push`).
            self.head_cache = self.shared.head.load(Ordering::Acquire);
            if self.tail.wrapping_sub(self.head_cache) == capacity {
                return Err(item);
            }
        }
        self.shared.slots[self.tail & self.shared.mask].with_mut(|slot| {
            // As in `try_push`: `tail - head_cache < capacity`, so the slot is the producer's
            // alone and holds no initialised value.
            // SAFETY: the write races with nothing and leaks nothing.
            unsafe { (*slot).write(item) };
        });
        let tail = self.tail.wrapping_add(1);
        // One store publishes this item and any written before it. It goes first and the
        // private cursors after: on the 2-vCPU VM, storing them first made item-at-a-time
        // throughput 20-25% lower (BENCHMARKS-HISTORY.md, tina-mailbox ring).
        self.shared.tail.store(tail, Ordering::Release);
        self.tail = tail;
        self.published = tail;
        Ok(())
    }

    /// Whether [`Producer::try_push`] would succeed now. Reloads the consumer's cursor only
    /// when the cached copy says the ring is full.
    #[inline]
    pub fn has_room(&mut self) -> bool {
        let capacity = self.shared.capacity();
        if self.tail.wrapping_sub(self.head_cache) < capacity {
            return true;
        }
        self.head_cache = self.shared.head.load(Ordering::Acquire);
        self.tail.wrapping_sub(self.head_cache) < capacity
    }

    /// Items written but not yet published.
    #[inline]
    pub fn pending(&self) -> usize {
        self.tail.wrapping_sub(self.published)
    }

    /// Slots the producer can fill right now (reloads the consumer's cursor).
    #[inline]
    pub fn free_slots(&mut self) -> usize {
        self.head_cache = self.shared.head.load(Ordering::Acquire);
        self.shared.capacity() - self.tail.wrapping_sub(self.head_cache)
    }

    /// The number of slots in the ring.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        // Hand over anything written but unpublished so the consumer, or the final drop, sees it.
        self.publish();
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Producer")
            .field("capacity", &self.capacity())
            .field("written", &self.tail)
            .field("published", &self.published)
            .finish()
    }
}

/// The reading half of a [`Ring`].
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    /// Items consumed so far, or counted as consumed by a live or forgotten [`Batch`]. The
    /// shared `head` trails it: they are equal after each `try_pop` and dropped batch.
    head: usize,
    /// The producer's published `tail` as last loaded.
    tail_cache: usize,
}

impl<T> Consumer<T> {
    /// Takes the oldest published item, if any, and releases its slot at once.
    #[inline]
    pub fn try_pop(&mut self) -> Option<T> {
        if self.head == self.tail_cache {
            // Pairs with the producer's Release store of `tail`.
            self.tail_cache = self.shared.tail.load(Ordering::Acquire);
            if self.head == self.tail_cache {
                return None;
            }
        }
        let item = self.read_slot_at(self.head);
        let head = self.head.wrapping_add(1);
        // Release the slot first, then update the private cursor (the order matters for
        // speed; see `Producer::push`).
        self.shared.head.store(head, Ordering::Release);
        self.head = head;
        Some(item)
    }

    /// Hands up to `max` published items to `consume`, oldest first, with one `Acquire` load
    /// of the producer's cursor and one `Release` store of its own; returns how many.
    ///
    /// If `consume` panics, the items already handed over stay consumed and the rest stay in
    /// the ring; nothing is dropped twice.
    #[inline]
    pub fn drain(&mut self, max: usize, mut consume: impl FnMut(T)) -> usize {
        let mut batch = self.batch(max);
        let count = batch.len();
        while let Some(item) = batch.pop() {
            consume(item);
        }
        count
    }

    /// Takes up to `max` published items as a [`Batch`] with one `Acquire` load; the slots of
    /// the items popped from it go back to the producer with one `Release` store when the
    /// batch is dropped. Unlike [`Consumer::drain`], the reader can look at the next item
    /// before taking it ([`Batch::pop_if`]), and stop early: items it leaves stay in the ring.
    ///
    /// ```
    /// use tina_mailbox::Ring;
    ///
    /// let (mut producer, mut consumer) = Ring::new(4).split();
    /// for value in [1, 2, 30, 4] {
    ///     producer.try_push(value).unwrap();
    /// }
    /// producer.publish();
    /// let mut batch = consumer.batch(usize::MAX);
    /// assert_eq!(batch.pop(), Some(1));
    /// assert_eq!(batch.pop_if(|&next| next < 10), Some(2));
    /// assert_eq!(batch.pop_if(|&next| next < 10), None); // 30 stays
    /// drop(batch);
    /// assert_eq!(consumer.try_pop(), Some(30));
    /// ```
    ///
    /// Forgetting the batch (`mem::forget`) is safe but leaks the items it did not hand out
    /// (see the [module docs](self#dropping-forgetting-and-panics)).
    #[inline]
    pub fn batch(&mut self, max: usize) -> Batch<'_, T> {
        // Pairs with the producer's Release store of `tail`.
        self.tail_cache = self.shared.tail.load(Ordering::Acquire);
        let start = self.head;
        let end = start.wrapping_add(self.tail_cache.wrapping_sub(start).min(max));
        // Until the batch is dropped, every item in it counts as consumed: a forgotten batch
        // leaks the items it did not hand out instead of handing out those it did again.
        self.head = end;
        Batch {
            consumer: self,
            start,
            head: start,
            end,
        }
    }

    /// Moves the item at cursor `head` (the consumer's own) out of its slot; the caller
    /// advances the cursor past it at once.
    #[inline(always)]
    fn read_slot_at(&self, head: usize) -> T {
        self.shared.slots[head & self.shared.mask].with_mut(|slot| {
            // Callers checked `head != tail_cache` (`try_pop`) or `head < end <= tail_cache`
            // (`Batch`), where `tail_cache` came from an Acquire load of `tail` that
            // synchronised with the producer's Release store.
            // The caller advances its cursor right after the read, and a `Batch`'s items
            // already count as consumed in `Consumer::head`, so even a forgotten batch never
            // reads one again.
            // So slot `head % capacity` holds an initialised, published item the producer will
            // not touch until our Release store of a `head` past it.
            // SAFETY: the item is valid, unshared, and read exactly once.
            unsafe { (*slot).assume_init_read() }
        })
    }

    /// Published items waiting (reloads the producer's cursor).
    #[inline]
    pub fn available(&mut self) -> usize {
        self.tail_cache = self.shared.tail.load(Ordering::Acquire);
        self.tail_cache.wrapping_sub(self.head)
    }

    /// Whether no published item is waiting.
    #[inline]
    pub fn is_empty(&mut self) -> bool {
        self.available() == 0
    }

    /// The number of slots in the ring.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        // Hand back the slots a forgotten `Batch` took (a no-op store otherwise), so the
        // producer may reuse them and the final drop skips the items they held. Pairs with the
        // producer's Acquire load of `head` (and orders the final drop after our reads).
        self.shared.head.store(self.head, Ordering::Release);
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Consumer")
            .field("capacity", &self.capacity())
            .field("consumed", &self.head)
            .finish()
    }
}

/// Published items taken from a [`Consumer`] with one `Acquire` load (see
/// [`Consumer::batch`]). Dropping it — normally, or while a panic unwinds — hands the slots
/// of the popped items back with one `Release` store; nothing is dropped twice, and items
/// not popped stay in the ring. Forgetting it instead leaks the items not popped.
pub struct Batch<'a, T> {
    /// The consumer, whose private cursor counts the whole batch as consumed while it lives.
    consumer: &'a mut Consumer<T>,
    /// The consumer's cursor when the batch was taken.
    start: usize,
    /// The next item to pop: the batch's own cursor, written back to the consumer (with the
    /// one `Release` store) when the batch is dropped. A local cursor lets the compiler keep
    /// it in a register across a drain loop.
    head: usize,
    /// One past the last item of the batch.
    end: usize,
}

impl<T> Batch<'_, T> {
    /// Items left in the batch.
    #[inline]
    pub fn len(&self) -> usize {
        self.end.wrapping_sub(self.head)
    }

    /// Whether the batch is used up.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.head == self.end
    }

    /// Takes the next item of the batch.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        if self.head == self.end {
            return None;
        }
        let item = self.consumer.read_slot_at(self.head);
        self.head = self.head.wrapping_add(1);
        Some(item)
    }

    /// Takes the next item only if `wanted` says so after looking at it.
    #[inline]
    pub fn pop_if(&mut self, wanted: impl FnOnce(&T) -> bool) -> Option<T> {
        if self.head == self.end {
            return None;
        }
        let shared = &self.consumer.shared;
        let take = shared.slots[self.head & shared.mask].with(|slot| {
            // `head < end <= tail_cache`, loaded with Acquire in `Consumer::batch`.
            // So the slot holds an initialised, published item that the producer will not touch
            // before our Release store of a `head` past it; the shared borrow ends with this
            // closure, before the item is moved out or the slot handed back.
            // SAFETY: the reference is to a valid item that nothing changes while it lives.
            wanted(unsafe { (*slot).assume_init_ref() })
        });
        if take { self.pop() } else { None }
    }

    /// Lets `take` read the next item where it lies, through `&mut`: when it returns
    /// `Some`, the item counts as popped and whatever `take` left of it is dropped in its
    /// slot; when it returns `None`, the item stays in the batch, and `take` should have left
    /// it as it found it. Moves nothing out of the ring that `take` does not move itself.
    ///
    /// If `take` panics, the item stays in the batch as `take` left it. If the item's `Drop`
    /// panics, the item counts as popped: it is not dropped again.
    #[inline]
    pub fn take_with<R>(&mut self, take: impl FnOnce(&mut T) -> Option<R>) -> Option<R> {
        if self.head == self.end {
            return None;
        }
        let head = &mut self.head;
        let shared = &self.consumer.shared;
        shared.slots[*head & shared.mask].with_mut(|slot| {
            // `head < end <= tail_cache`, loaded with Acquire in `Consumer::batch`, so the slot
            // holds an initialised, published item that the producer will not touch before our
            // Release store of a `head` past it: the consumer has it to itself, for reading and,
            // when `take` succeeds, for dropping it in place below.
            // SAFETY: the slot is initialised and the consumer's alone (above).
            let item = unsafe { (*slot).assume_init_mut() };
            let taken = take(item)?;
            // Past the item before dropping it: if its `Drop` panics, it stays popped.
            *head = head.wrapping_add(1);
            // As above; the item was not moved out (only through `take`'s `&mut`), and with the
            // cursor past it nothing reads or drops it again.
            // SAFETY: the item is valid and dropped exactly once.
            unsafe { (*slot).assume_init_drop() };
            Some(taken)
        })
    }

    /// Items popped so far.
    #[inline]
    pub fn taken(&self) -> usize {
        self.head.wrapping_sub(self.start)
    }
}

impl<T> Drop for Batch<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if self.head != self.start {
            // Pairs with the producer's Acquire load of `head`. Shared cursor first, then the
            // consumer's private copy (the order `Consumer::try_pop` uses).
            self.consumer
                .shared
                .head
                .store(self.head, Ordering::Release);
        }
        // Back from the batch's end to the first item not popped: those stay in the ring.
        self.consumer.head = self.head;
    }
}

impl<T> fmt::Debug for Batch<'_, T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Batch")
            .field("left", &self.len())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn send_halves_compile() {
        fn assert_send<X: Send>() {}
        assert_send::<Producer<u64>>();
        assert_send::<Consumer<u64>>();
    }

    #[test]
    #[should_panic(expected = "power of two")]
    fn capacity_must_be_a_power_of_two() {
        let _ = Ring::<u8>::new(3);
    }

    #[test]
    fn take_with_reads_in_place_and_drops_the_rest_once() {
        use std::sync::atomic::AtomicU32;

        /// Counts its drops; carries a value that `take_with` moves out.
        struct Tracked {
            value: Option<u32>,
            drops: std::sync::Arc<AtomicU32>,
        }

        impl Drop for Tracked {
            fn drop(&mut self) {
                self.drops.fetch_add(1, Ordering::Relaxed);
            }
        }

        let drops = std::sync::Arc::new(AtomicU32::new(0));
        let dropped = || drops.load(Ordering::Relaxed);
        let (mut producer, mut consumer) = Ring::new(4).split();
        for value in [1, 2, 3] {
            let item = Tracked {
                value: Some(value),
                drops: drops.clone(),
            };
            assert!(producer.try_push(item).is_ok());
        }
        producer.publish();
        let mut batch = consumer.batch(usize::MAX);
        // Declined: the item stays, untouched, and nothing is dropped.
        assert_eq!(batch.take_with(|_| None::<u32>), None);
        assert_eq!(dropped(), 0);
        // Taken: the value moves out and the rest of the item is dropped in its slot, once.
        assert_eq!(batch.take_with(|item| item.value.take()), Some(1));
        assert_eq!(dropped(), 1);
        assert_eq!(batch.len(), 2);
        drop(batch);
        // The next two are still there, in order; the ring drops what is left exactly once.
        assert_eq!(
            consumer.try_pop().and_then(|mut item| item.value.take()),
            Some(2)
        );
        assert_eq!(dropped(), 2);
        drop((producer, consumer));
        assert_eq!(dropped(), 3);
    }

    #[test]
    fn push_with_builds_only_when_there_is_room() {
        let (mut producer, mut consumer) = Ring::new(2).split();
        let mut built = 0;
        for value in 0..3 {
            let pushed = producer.try_push_with(|| {
                built += 1;
                value
            });
            assert_eq!(pushed, value < 2);
        }
        assert_eq!(built, 2, "make is not called on a full ring");
        producer.publish();
        assert_eq!(consumer.try_pop(), Some(0));
        assert!(producer.try_push_with(|| 7));
        producer.publish();
        assert_eq!(consumer.try_pop(), Some(1));
        assert_eq!(consumer.try_pop(), Some(7));
    }

    #[test]
    fn full_ring_refuses_and_wraps() {
        let (mut producer, mut consumer) = Ring::new(2).split();
        for round in 0..10u32 {
            producer.try_push(round * 2).unwrap();
            producer.try_push(round * 2 + 1).unwrap();
            assert_eq!(producer.try_push(1000), Err(1000));
            assert_eq!(producer.pending(), 2);
            producer.publish();
            assert_eq!(consumer.available(), 2);
            assert_eq!(consumer.try_pop(), Some(round * 2));
            assert_eq!(consumer.try_pop(), Some(round * 2 + 1));
            assert_eq!(consumer.try_pop(), None);
        }
        assert_eq!(producer.free_slots(), 2);
    }

    #[test]
    fn drain_respects_max() {
        let (mut producer, mut consumer) = Ring::new(8).split();
        for value in 0..6 {
            producer.try_push(value).unwrap();
        }
        producer.publish();
        let mut seen = Vec::new();
        assert_eq!(consumer.drain(4, |item| seen.push(item)), 4);
        assert_eq!(consumer.drain(4, |item| seen.push(item)), 2);
        assert_eq!(consumer.drain(4, |item| seen.push(item)), 0);
        assert_eq!(seen, [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn panic_in_drain_callback_loses_and_duplicates_nothing() {
        use std::panic::{AssertUnwindSafe, catch_unwind};
        let (mut producer, mut consumer) = Ring::new(8).split();
        for value in 0..5 {
            producer.push(value).unwrap();
        }
        let mut seen = Vec::new();
        let result = catch_unwind(AssertUnwindSafe(|| {
            consumer.drain(usize::MAX, |item| {
                if item == 2 {
                    panic!("boom");
                }
                seen.push(item);
            })
        }));
        assert!(result.is_err());
        consumer.drain(usize::MAX, |item| seen.push(item));
        assert_eq!(seen, [0, 1, 3, 4]);
    }
}
