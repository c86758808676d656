//! The pool is panic-safe: a panic in a caller's closure or in a payload's `Drop` never
//! strands a slot, corrupts a queue's count, or drops a value twice.

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};

use support::{DropLog, Tracked, planted_panic, quiet_planted_panics};
use tina_mailbox::{List, Pool, Queue};

/// Asserts the pool's own accounting holds and every slot is free.
fn assert_all_free<T>(pool: &Pool<T>) {
    let stats = pool.check().expect("pool accounting holds");
    assert_eq!(stats.free, stats.total, "every slot is back on a free list");
}

#[test]
fn panicking_make_in_alloc_enqueue_returns_the_slot() {
    quiet_planted_panics();
    let log = DropLog::new(4);
    let mut pool: Pool<Tracked<'_>> = Pool::new(4, 1);
    let mut queue = Queue::new(8);
    // More panics than the pool has ordinary slots.
    for _ in 0..6 {
        let result = catch_unwind(AssertUnwindSafe(|| {
            pool.try_alloc_enqueue_with(&mut queue, || planted_panic())
        }));
        assert!(result.is_err());
        assert_all_free(&pool);
        assert!(queue.is_empty());
    }
    assert!(
        pool.try_alloc_enqueue_with(&mut queue, || log.item(0))
            .is_some(),
        "a send to an empty mailbox still finds a slot"
    );
    assert_eq!(
        pool.dequeue_remove_with(&mut queue, |item| item.id),
        Some(0)
    );
    assert_all_free(&pool);
    assert_eq!(log.drops(0), 1);
}

#[test]
fn panicking_read_in_dequeue_remove_frees_the_slot_and_drops_once() {
    quiet_planted_panics();
    let log = DropLog::new(4);
    let mut pool: Pool<Tracked<'_>> = Pool::new(2, 1);
    let mut queue = Queue::new(4);
    for id in 0..2 {
        assert!(
            pool.try_alloc_enqueue_with(&mut queue, || log.item(id))
                .is_some()
        );
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        pool.dequeue_remove_with(&mut queue, |_| -> u32 { planted_panic() })
    }));
    assert!(result.is_err());
    assert_eq!(
        log.drops(0),
        1,
        "the value the read panicked on is dropped once"
    );
    assert_eq!(queue.len(), 1, "the queue's count follows its links");
    assert_eq!(
        pool.dequeue_remove_with(&mut queue, |item| item.id),
        Some(1)
    );
    assert_eq!(pool.dequeue_remove_with(&mut queue, |item| item.id), None);
    assert_all_free(&pool);
    assert_eq!(log.dropped_twice(), []);
}

#[test]
fn panicking_drop_in_dequeue_remove_frees_the_slot_and_drops_once() {
    quiet_planted_panics();
    let log = DropLog::new(4);
    let mut pool: Pool<Tracked<'_>> = Pool::new(2, 0);
    let mut queue = Queue::new(4);
    for id in 0..2 {
        let mut item = log.item(id);
        item.panic_on_drop = id == 0;
        assert!(pool.try_alloc_enqueue_with(&mut queue, || item).is_some());
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        pool.dequeue_remove_with(&mut queue, |item| item.id)
    }));
    assert!(result.is_err());
    assert_eq!(log.drops(0), 1);
    assert_eq!(queue.len(), 1);
    assert_all_free_but(&pool, 1);
    assert_eq!(
        pool.dequeue_remove_with(&mut queue, |item| item.id),
        Some(1)
    );
    assert_all_free(&pool);
    assert_eq!(log.dropped_twice(), []);
}

#[test]
fn panics_in_pop_front_remove_free_the_slot_and_drop_once() {
    quiet_planted_panics();
    let log = DropLog::new(4);
    let mut pool: Pool<Tracked<'_>> = Pool::new(1, 2);
    let mut list = List::new();
    for id in 0..3 {
        let mut item = log.item(id);
        item.panic_on_drop = id == 1;
        let index = pool.try_alloc_reserved(item).ok().unwrap();
        pool.push_back(&mut list, index);
    }
    // The read panics on item 0; the payload's drop panics on item 1.
    let result = catch_unwind(AssertUnwindSafe(|| {
        pool.pop_front_remove_with(&mut list, |_| -> u32 { planted_panic() })
    }));
    assert!(result.is_err());
    let result = catch_unwind(AssertUnwindSafe(|| {
        pool.pop_front_remove_with(&mut list, |item| item.id)
    }));
    assert!(result.is_err());
    assert_eq!((log.drops(0), log.drops(1)), (1, 1));
    assert_all_free_but(&pool, 1);
    assert_eq!(
        pool.pop_front_remove_with(&mut list, |item| item.id),
        Some(2)
    );
    assert!(list.is_empty());
    assert_all_free(&pool);
    assert_eq!(log.dropped_twice(), []);
}

#[test]
fn panicking_drop_in_remove_frees_the_slot() {
    quiet_planted_panics();
    let log = DropLog::new(2);
    let mut pool: Pool<Tracked<'_>> = Pool::new(1, 0);
    let mut item = log.item(0);
    item.panic_on_drop = true;
    let index = pool.try_alloc(item).ok().unwrap();
    let result = catch_unwind(AssertUnwindSafe(|| pool.remove(index)));
    assert!(result.is_err());
    assert_eq!(log.drops(0), 1);
    assert_all_free(&pool);
    assert!(
        pool.try_alloc(log.item(1)).is_ok(),
        "the slot is free again"
    );
}

/// Asserts the pool's accounting holds with exactly `allocated` slots in use.
fn assert_all_free_but<T>(pool: &Pool<T>, allocated: usize) {
    let stats = pool.check().expect("pool accounting holds");
    assert_eq!(stats.allocated, allocated);
}

#[test]
fn panicking_drop_in_clear_queue_keeps_the_count_true() {
    quiet_planted_panics();
    let log = DropLog::new(4);
    let mut pool: Pool<Tracked<'_>> = Pool::new(3, 0);
    let mut queue = Queue::new(3);
    for id in 0..3 {
        let mut item = log.item(id);
        item.panic_on_drop = id == 1;
        assert!(pool.try_alloc_enqueue_with(&mut queue, || item).is_some());
    }
    let result = catch_unwind(AssertUnwindSafe(|| pool.clear_queue(&mut queue)));
    assert!(result.is_err());
    assert_eq!(
        queue.len(),
        1,
        "the item behind the panic stays queued and counted"
    );
    assert_all_free_but(&pool, 1);
    assert_eq!(pool.clear_queue(&mut queue), 1);
    assert!(queue.is_empty());
    assert_all_free(&pool);
    assert_eq!(log.dropped_twice(), []);
    for id in 0..3 {
        assert_eq!(log.drops(id), 1, "item {id}");
    }
}
