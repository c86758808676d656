//! loom model tests of the ring: every interleaving of a producer and a consumer thread.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p tina-mailbox --release --test loom_ring`.
//!
//! Every item counts its drops, so besides order and data races the models check that each
//! item is dropped exactly once — none leaked, none twice. Some models exist to fail when one
//! ordering is weakened: the `Acquire` loads in `Consumer::available` / `Consumer::is_empty`
//! and `Producer::free_slots`, the publish in `Producer`'s `Drop`, and the `Release` store in
//! `Consumer`'s `Drop`; each says which.
#![cfg(loom)]

use std::mem;
use std::sync::atomic::{AtomicU32, Ordering};

use loom::thread;
use tina_mailbox::Ring;

/// The most items one model uses.
const IDS: usize = 4;

/// Drop counts for items `0..IDS`: one `static` per test, reset at the start of every
/// execution. Std atomics, not loom's: loom neither tracks them nor schedules around them,
/// so counting adds no interleavings to explore.
struct Drops([AtomicU32; IDS]);

impl Drops {
    const fn new() -> Self {
        Self([const { AtomicU32::new(0) }; IDS])
    }

    /// Zeroes the counts for a new execution.
    fn reset(&'static self) -> &'static Self {
        for count in &self.0 {
            count.store(0, Ordering::SeqCst);
        }
        self
    }

    /// Item `id`, which counts its drop here.
    fn item(&'static self, id: u32) -> Counted {
        Counted { id, drops: self }
    }

    /// Asserts items `0..count` were each dropped exactly once.
    fn assert_each_dropped_once(&self, count: u32) {
        for id in 0..count {
            let drops = self.0[id as usize].load(Ordering::SeqCst);
            assert_eq!(drops, 1, "item {id} dropped {drops} times");
        }
    }
}

/// An item that counts its drops.
struct Counted {
    id: u32,
    drops: &'static Drops,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.0[self.id as usize].fetch_add(1, Ordering::SeqCst);
    }
}

/// Pushes `count` items through a ring of `capacity`, publishing every `batch` items (and
/// whenever the ring is full); the consumer drains in batches of at most `drain_max`.
fn transfer(drops: &'static Drops, capacity: usize, count: u32, batch: u32, drain_max: usize) {
    loom::model(move || {
        let drops = drops.reset();
        let (mut producer, mut consumer) = Ring::<Counted>::new(capacity).split();
        let writer = thread::spawn(move || {
            let mut next = 0;
            let mut unpublished = 0;
            // An item the full ring handed back, tried again.
            let mut refused = None;
            while next < count {
                let item = refused.take().unwrap_or_else(|| drops.item(next));
                match producer.try_push(item) {
                    Ok(()) => {
                        next += 1;
                        unpublished += 1;
                        if unpublished == batch {
                            producer.publish();
                            unpublished = 0;
                        }
                    }
                    Err(item) => {
                        refused = Some(item);
                        producer.publish();
                        unpublished = 0;
                        thread::yield_now();
                    }
                }
            }
            producer.publish();
        });
        let mut expected = 0;
        while expected < count {
            let drained = consumer.drain(drain_max, |item| {
                assert_eq!(item.id, expected);
                expected += 1;
            });
            if drained == 0 {
                thread::yield_now();
            }
        }
        writer.join().unwrap();
        assert!(consumer.try_pop().is_none());
        drop(consumer);
        drops.assert_each_dropped_once(count);
    });
}

#[test]
fn single_items_through_a_one_slot_ring() {
    // Capacity 1 forces a full ring and a wrap on every item.
    static DROPS: Drops = Drops::new();
    transfer(&DROPS, 1, 3, 1, 1);
}

#[test]
fn batch_publish_and_batch_drain_with_wrap_around() {
    static DROPS: Drops = Drops::new();
    transfer(&DROPS, 2, 4, 2, 2);
}

#[test]
fn batch_publish_item_at_a_time_consume() {
    static DROPS: Drops = Drops::new();
    transfer(&DROPS, 2, 3, 2, 1);
}

#[test]
fn pop_one_at_a_time_while_producer_fills() {
    static DROPS: Drops = Drops::new();
    loom::model(|| {
        let drops = DROPS.reset();
        let (mut producer, mut consumer) = Ring::<Counted>::new(2).split();
        let writer = thread::spawn(move || {
            let mut next = 0;
            let mut refused = None;
            while next < 3 {
                match producer.push(refused.take().unwrap_or_else(|| drops.item(next))) {
                    Ok(()) => next += 1,
                    Err(item) => {
                        refused = Some(item);
                        thread::yield_now();
                    }
                }
            }
        });
        let mut expected = 0;
        while expected < 3 {
            match consumer.try_pop() {
                Some(item) => {
                    assert_eq!(item.id, expected);
                    expected += 1;
                }
                None => thread::yield_now(),
            }
        }
        writer.join().unwrap();
        drop(consumer);
        drops.assert_each_dropped_once(3);
    });
}

#[test]
fn items_left_in_the_ring_are_dropped_once() {
    static DROPS: Drops = Drops::new();
    loom::model(|| {
        let drops = DROPS.reset();
        let (mut producer, mut consumer) = Ring::<Counted>::new(2).split();
        let writer = thread::spawn(move || {
            for id in 0..2 {
                assert!(producer.push(drops.item(id)).is_ok());
            }
        });
        drop(consumer.try_pop());
        writer.join().unwrap();
        drop(consumer);
        drops.assert_each_dropped_once(2);
    });
}

/// The consumer checks `available()` before popping, and `try_pop` trusts the cursor it
/// loaded. Fails (a causality violation on the slot) if `Consumer::available` loads the
/// producer's cursor with `Relaxed` instead of `Acquire`.
#[test]
fn available_orders_the_reads_that_follow() {
    static DROPS: Drops = Drops::new();
    loom::model(|| {
        let drops = DROPS.reset();
        let (mut producer, mut consumer) = Ring::<Counted>::new(2).split();
        let writer = thread::spawn(move || {
            for id in 0..2 {
                assert!(producer.push(drops.item(id)).is_ok());
            }
        });
        let mut expected = 0;
        while expected < 2 {
            if consumer.available() == 0 {
                thread::yield_now();
                continue;
            }
            let item = consumer.try_pop().expect("available() saw an item");
            assert_eq!(item.id, expected);
            expected += 1;
        }
        writer.join().unwrap();
        drop(consumer);
        drops.assert_each_dropped_once(2);
    });
}

/// As above with `is_empty()`: fails if `Consumer::is_empty` loads the producer's cursor
/// with `Relaxed`.
#[test]
fn is_empty_orders_the_reads_that_follow() {
    static DROPS: Drops = Drops::new();
    loom::model(|| {
        let drops = DROPS.reset();
        let (mut producer, mut consumer) = Ring::<Counted>::new(2).split();
        let writer = thread::spawn(move || {
            for id in 0..2 {
                assert!(producer.push(drops.item(id)).is_ok());
            }
        });
        for expected in 0..2 {
            while consumer.is_empty() {
                thread::yield_now();
            }
            let item = consumer.try_pop().expect("is_empty() said an item waits");
            assert_eq!(item.id, expected);
        }
        writer.join().unwrap();
        drop(consumer);
        drops.assert_each_dropped_once(2);
    });
}

/// The producer waits on `free_slots()` of a one-slot ring, and `try_push` trusts the cursor
/// it loaded. Fails (a causality violation on the slot) if `Producer::free_slots` loads the
/// consumer's cursor with `Relaxed` instead of `Acquire`.
#[test]
fn free_slots_orders_the_writes_that_follow() {
    static DROPS: Drops = Drops::new();
    loom::model(|| {
        let drops = DROPS.reset();
        let (mut producer, mut consumer) = Ring::<Counted>::new(1).split();
        let writer = thread::spawn(move || {
            for id in 0..2 {
                while producer.free_slots() == 0 {
                    thread::yield_now();
                }
                assert!(producer.try_push(drops.item(id)).is_ok());
                producer.publish();
            }
        });
        let mut expected = 0;
        while expected < 2 {
            match consumer.try_pop() {
                Some(item) => {
                    assert_eq!(item.id, expected);
                    expected += 1;
                }
                None => thread::yield_now(),
            }
        }
        writer.join().unwrap();
        drop(consumer);
        drops.assert_each_dropped_once(2);
    });
}

/// The producer writes two items and is dropped without publishing; its `Drop` publishes.
/// Fails if that publish is removed (the items never arrive and are never dropped) or made
/// `Relaxed` (the early pop races the writes).
#[test]
fn dropping_the_producer_publishes_what_it_wrote() {
    static DROPS: Drops = Drops::new();
    loom::model(|| {
        let drops = DROPS.reset();
        let (mut producer, mut consumer) = Ring::<Counted>::new(2).split();
        let writer = thread::spawn(move || {
            for id in 0..2 {
                assert!(producer.try_push(drops.item(id)).is_ok());
            }
            // No publish: dropping the producer here must do it.
        });
        let mut ids = Vec::new();
        ids.extend(consumer.try_pop().map(|item| item.id));
        writer.join().unwrap();
        while let Some(item) = consumer.try_pop() {
            ids.push(item.id);
        }
        assert_eq!(ids, [0, 1]);
        drop(consumer);
        drops.assert_each_dropped_once(2);
    });
}

/// The consumer pops an item from a batch, forgets the batch and is dropped; its `Drop`
/// hands the slot back. Fails if that store is removed (the producer never gets the slot
/// back) or made `Relaxed` (the producer's early write races the consumer's read).
#[test]
fn dropping_the_consumer_after_a_forgotten_batch_hands_its_slots_back() {
    static DROPS: Drops = Drops::new();
    loom::model(|| {
        let drops = DROPS.reset();
        let (mut producer, mut consumer) = Ring::<Counted>::new(1).split();
        assert!(producer.push(drops.item(0)).is_ok());
        let reader = thread::spawn(move || {
            let mut batch = consumer.batch(usize::MAX);
            let item = batch.pop().expect("item 0 was published before the spawn");
            assert_eq!(item.id, 0);
            drop(item);
            mem::forget(batch);
        });
        let early = producer.try_push(drops.item(1));
        reader.join().unwrap();
        if let Err(item) = early {
            assert!(
                producer.try_push(item).is_ok(),
                "the consumer's drop handed the slot back"
            );
        }
        drop(producer);
        drops.assert_each_dropped_once(2);
    });
}

/// The producer builds items in place (`try_push_with`), publishing each; the consumer takes
/// batches, pops the first item of each, then keeps popping only even items (`pop_if`), so
/// a batch often ends early and leaves items for the next one.
#[test]
fn push_with_and_batches_that_stop_early() {
    static DROPS: Drops = Drops::new();
    loom::model(|| {
        let drops = DROPS.reset();
        let (mut producer, mut consumer) = Ring::<Counted>::new(2).split();
        let writer = thread::spawn(move || {
            let mut next = 0;
            while next < 3 {
                if producer.try_push_with(|| drops.item(next)) {
                    next += 1;
                    producer.publish();
                } else {
                    thread::yield_now();
                }
            }
        });
        let mut expected = 0;
        while expected < 3 {
            let mut batch = consumer.batch(usize::MAX);
            let Some(first) = batch.pop() else {
                drop(batch);
                thread::yield_now();
                continue;
            };
            assert_eq!(first.id, expected);
            expected += 1;
            while let Some(item) = batch.pop_if(|next| next.id % 2 == 0) {
                assert_eq!(item.id, expected);
                expected += 1;
            }
        }
        writer.join().unwrap();
        assert!(consumer.try_pop().is_none());
        drop(consumer);
        drops.assert_each_dropped_once(3);
    });
}

/// The consumer reads items where they lie (`take_with`), declining every odd item once
/// before taking it in a later batch; the ring drops each taken item in its slot.
#[test]
fn take_with_reads_in_place_across_batches() {
    static DROPS: Drops = Drops::new();
    loom::model(|| {
        let drops = DROPS.reset();
        let (mut producer, mut consumer) = Ring::<Counted>::new(2).split();
        let writer = thread::spawn(move || {
            let mut next = 0;
            let mut refused = None;
            while next < 3 {
                match producer.try_push(refused.take().unwrap_or_else(|| drops.item(next))) {
                    Ok(()) => {
                        next += 1;
                        producer.publish();
                    }
                    Err(item) => {
                        refused = Some(item);
                        thread::yield_now();
                    }
                }
            }
        });
        let mut expected = 0;
        let mut declined = false;
        while expected < 3 {
            let mut batch = consumer.batch(usize::MAX);
            let taken = batch.take_with(|next| {
                assert_eq!(next.id, expected);
                if next.id % 2 == 1 && !declined {
                    declined = true;
                    return None;
                }
                Some(next.id)
            });
            drop(batch);
            match taken {
                Some(id) => {
                    assert_eq!(id, expected);
                    expected += 1;
                    declined = false;
                }
                None => thread::yield_now(),
            }
        }
        writer.join().unwrap();
        assert!(consumer.try_pop().is_none());
        drop(consumer);
        drops.assert_each_dropped_once(3);
    });
}
