//! loom model tests of the ring: every interleaving of a producer and a consumer thread.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p tina-mailbox --release --test loom_ring`.
#![cfg(loom)]

use loom::thread;
use tina_mailbox::Ring;

/// Pushes `count` items through a ring of `capacity`, publishing every `batch` items (and
/// whenever the ring is full); the consumer drains in batches of at most `drain_max`.
fn transfer(capacity: usize, count: u32, batch: u32, drain_max: usize) {
    loom::model(move || {
        let (mut producer, mut consumer) = Ring::<u32>::new(capacity).split();
        let writer = thread::spawn(move || {
            let mut next = 0;
            let mut unpublished = 0;
            while next < count {
                match producer.try_push(next) {
                    Ok(()) => {
                        next += 1;
                        unpublished += 1;
                        if unpublished == batch {
                            producer.publish();
                            unpublished = 0;
                        }
                    }
                    Err(_) => {
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
                assert_eq!(item, expected);
                expected += 1;
            });
            if drained == 0 {
                thread::yield_now();
            }
        }
        writer.join().unwrap();
        assert_eq!(consumer.try_pop(), None);
    });
}

#[test]
fn single_items_through_a_one_slot_ring() {
    // Capacity 1 forces a full ring and a wrap on every item.
    transfer(1, 3, 1, 1);
}

#[test]
fn batch_publish_and_batch_drain_with_wrap_around() {
    transfer(2, 4, 2, 2);
}

#[test]
fn batch_publish_item_at_a_time_consume() {
    transfer(2, 3, 2, 1);
}

#[test]
fn pop_one_at_a_time_while_producer_fills() {
    loom::model(|| {
        let (mut producer, mut consumer) = Ring::<u32>::new(2).split();
        let writer = thread::spawn(move || {
            let mut next = 0;
            while next < 3 {
                if producer.push(next).is_ok() {
                    next += 1;
                } else {
                    thread::yield_now();
                }
            }
        });
        let mut expected = 0;
        while expected < 3 {
            match consumer.try_pop() {
                Some(item) => {
                    assert_eq!(item, expected);
                    expected += 1;
                }
                None => thread::yield_now(),
            }
        }
        writer.join().unwrap();
    });
}

#[test]
fn items_left_in_the_ring_are_dropped_once() {
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicUsize, Ordering};

    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut producer, mut consumer) = Ring::<Counted>::new(2).split();
        let counter = drops.clone();
        let writer = thread::spawn(move || {
            for _ in 0..2 {
                let _ = producer.push(Counted(counter.clone()));
            }
        });
        drop(consumer.try_pop());
        writer.join().unwrap();
        drop(consumer);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// The producer builds items in place (`try_push_with`), publishing each; the consumer takes
/// batches, pops the first item of each, then keeps popping only even items (`pop_if`), so
/// a batch often ends early and leaves items for the next one.
#[test]
fn push_with_and_batches_that_stop_early() {
    loom::model(|| {
        let (mut producer, mut consumer) = Ring::<u32>::new(2).split();
        let writer = thread::spawn(move || {
            let mut next = 0;
            while next < 3 {
                if producer.try_push_with(|| next) {
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
            assert_eq!(first, expected);
            expected += 1;
            while let Some(item) = batch.pop_if(|&next| next % 2 == 0) {
                assert_eq!(item, expected);
                expected += 1;
            }
        }
        writer.join().unwrap();
        assert_eq!(consumer.try_pop(), None);
    });
}

/// The consumer reads items where they lie (`take_with`), declining every odd item once
/// before taking it in a later batch.
#[test]
fn take_with_reads_in_place_across_batches() {
    loom::model(|| {
        let (mut producer, mut consumer) = Ring::<u32>::new(2).split();
        let writer = thread::spawn(move || {
            let mut next = 0;
            while next < 3 {
                if producer.try_push(next).is_ok() {
                    next += 1;
                    producer.publish();
                } else {
                    thread::yield_now();
                }
            }
        });
        let mut expected = 0;
        let mut declined = false;
        while expected < 3 {
            let mut batch = consumer.batch(usize::MAX);
            let taken = batch.take_with(|next| {
                assert_eq!(*next, expected);
                if *next % 2 == 1 && !declined {
                    declined = true;
                    return None;
                }
                Some(*next)
            });
            drop(batch);
            match taken {
                Some(item) => {
                    assert_eq!(item, expected);
                    expected += 1;
                    declined = false;
                }
                None => thread::yield_now(),
            }
        }
        writer.join().unwrap();
        assert_eq!(consumer.try_pop(), None);
    });
}
