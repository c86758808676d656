//! The ring's safe API stays sound for any safe caller: a forgotten [`Batch`] and a
//! panicking `Drop` never make an item come out twice or be dropped twice.
//!
//! Items count their drops (`support::Tracked`), so these fail on an assertion in a plain
//! `cargo test`, not only under Miri.
//!
//! [`Batch`]: tina_mailbox::Batch

mod support;

use std::mem;
use std::panic::{AssertUnwindSafe, catch_unwind};

use support::{DropLog, Tracked, quiet_planted_panics};
use tina_mailbox::{Consumer, Producer, Ring};

/// Pushes and publishes items `ids`.
fn push_all<'log>(producer: &mut Producer<Tracked<'log>>, log: &'log DropLog, ids: &[u32]) {
    for &id in ids {
        assert!(producer.try_push(log.item(id)).is_ok());
    }
    producer.publish();
}

/// Pops every published item and returns the ids, dropping each item (disarmed, so a
/// duplicate planted to panic is counted instead of aborting the test).
fn pop_ids(consumer: &mut Consumer<Tracked<'_>>) -> Vec<u32> {
    let mut ids = Vec::new();
    while let Some(mut item) = consumer.try_pop() {
        item.panic_on_drop = false;
        ids.push(item.id);
    }
    ids
}

#[test]
fn forgotten_batch_does_not_hand_out_a_popped_item_again() {
    let log = DropLog::new(8);
    let (mut producer, mut consumer) = Ring::new(8).split();
    push_all(&mut producer, &log, &[0, 1, 2]);
    let mut batch = consumer.batch(usize::MAX);
    assert_eq!(batch.pop().map(|item| item.id), Some(0));
    mem::forget(batch);
    let after_forget = pop_ids(&mut consumer);
    assert!(!after_forget.contains(&0), "item 0 came out twice");
    // The ring still works after the forget.
    push_all(&mut producer, &log, &[3, 4]);
    let later = pop_ids(&mut consumer);
    assert_eq!(later, [3, 4]);
    drop((producer, consumer));
    assert_eq!(log.dropped_twice(), []);
    for id in [0, 3, 4] {
        assert_eq!(log.drops(id), 1, "item {id}");
    }
}

#[test]
fn forgotten_batch_then_teardown_drops_nothing_twice() {
    let log = DropLog::new(4);
    let (mut producer, mut consumer) = Ring::new(4).split();
    push_all(&mut producer, &log, &[0, 1, 2]);
    let mut batch = consumer.batch(usize::MAX);
    drop(batch.pop());
    mem::forget(batch);
    drop(consumer);
    drop(producer);
    assert_eq!(log.dropped_twice(), []);
    assert_eq!(log.drops(0), 1);
}

#[test]
fn forgotten_batch_after_take_with_does_not_hand_out_the_dropped_item() {
    let log = DropLog::new(4);
    let (mut producer, mut consumer) = Ring::new(4).split();
    push_all(&mut producer, &log, &[0, 1]);
    let mut batch = consumer.batch(usize::MAX);
    assert_eq!(batch.take_with(|item| Some(item.id)), Some(0));
    assert_eq!(log.drops(0), 1, "take_with drops the item in its slot");
    mem::forget(batch);
    let after_forget = pop_ids(&mut consumer);
    assert!(!after_forget.contains(&0), "a dropped item came out again");
    drop((producer, consumer));
    assert_eq!(log.dropped_twice(), []);
}

#[test]
fn panicking_drop_in_take_with_counts_the_item_as_taken() {
    quiet_planted_panics();
    let log = DropLog::new(4);
    let (mut producer, mut consumer) = Ring::new(4).split();
    push_all(&mut producer, &log, &[0, 1, 2]);
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut batch = consumer.batch(usize::MAX);
        batch.take_with(|item| {
            item.panic_on_drop = true;
            Some(())
        })
    }));
    assert!(result.is_err(), "the item's drop panicked");
    assert_eq!(log.drops(0), 1);
    assert_eq!(
        pop_ids(&mut consumer),
        [1, 2],
        "item 0 is gone, the rest stay"
    );
    drop((producer, consumer));
    assert_eq!(log.dropped_twice(), []);
    for id in 0..3 {
        assert_eq!(log.drops(id), 1, "item {id}");
    }
}

#[test]
fn panicking_take_with_closure_leaves_the_item_in_the_ring() {
    quiet_planted_panics();
    let log = DropLog::new(4);
    let (mut producer, mut consumer) = Ring::new(4).split();
    push_all(&mut producer, &log, &[0, 1]);
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut batch = consumer.batch(usize::MAX);
        batch.take_with(|_| -> Option<()> { support::planted_panic() })
    }));
    assert!(result.is_err());
    assert_eq!(log.drops(0), 0);
    assert_eq!(pop_ids(&mut consumer), [0, 1]);
    drop((producer, consumer));
    assert_eq!(log.dropped_twice(), []);
    assert_eq!((log.drops(0), log.drops(1)), (1, 1));
}

/// With boxes, the bug this guards against is a double free: under Miri a dangling box, in a
/// plain run usually an abort. The batch hands out every item before it is forgotten, so the
/// forget leaks nothing and Miri's leak check stays quiet.
#[test]
fn forgotten_batch_of_boxes_frees_each_box_once() {
    let (mut producer, mut consumer) = Ring::new(4).split();
    for value in 0..3u32 {
        assert!(producer.try_push(Box::new(value)).is_ok());
    }
    producer.publish();
    let mut batch = consumer.batch(usize::MAX);
    assert_eq!(batch.pop().as_deref(), Some(&0));
    assert_eq!(batch.take_with(|value| Some(**value)), Some(1));
    assert_eq!(batch.pop().as_deref(), Some(&2));
    mem::forget(batch);
    assert_eq!(consumer.try_pop(), None, "a box came out twice");
    assert!(producer.try_push(Box::new(3)).is_ok());
    producer.publish();
    assert_eq!(consumer.try_pop().as_deref(), Some(&3));
}
