//! Items still inside a structure when it is dropped are dropped exactly once.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tina_mailbox::{Mailbox, Pool, Queue, Ring};

/// Counts its drops in a shared counter.
struct Counted(Rc<Cell<usize>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// Counts its drops in an atomic counter (for the ring, whose items must be `Send`).
struct CountedSend(Arc<AtomicUsize>);

impl Drop for CountedSend {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn mailbox_drops_remaining_items_once() {
    let drops = Rc::new(Cell::new(0));
    let mut mailbox: Mailbox<Counted, 4> = Mailbox::new();
    for _ in 0..4 {
        assert!(mailbox.try_push(Counted(drops.clone())).is_ok());
    }
    // The refused item comes back and is dropped by us.
    drop(mailbox.try_push(Counted(drops.clone())));
    assert_eq!(drops.get(), 1);
    drop(mailbox.pop());
    assert_eq!(drops.get(), 2);
    drop(mailbox);
    assert_eq!(drops.get(), 5);
}

#[test]
fn pool_drops_allocated_and_queued_items_once() {
    let drops = Rc::new(Cell::new(0));
    let mut pool: Pool<Counted> = Pool::new(4, 2);
    let mut queue = Queue::new(8);
    for _ in 0..3 {
        let index = pool.try_alloc(Counted(drops.clone())).ok().unwrap();
        pool.try_enqueue(&mut queue, index).unwrap();
    }
    let _loose = pool
        .try_alloc_reserved(Counted(drops.clone()))
        .ok()
        .unwrap();
    let freed = pool.try_alloc(Counted(drops.clone())).ok().unwrap();
    drop(pool.take(freed));
    assert_eq!(drops.get(), 1);
    let removed = pool.try_alloc_with(|| Counted(drops.clone())).unwrap();
    pool.remove(removed);
    assert_eq!(drops.get(), 2, "remove drops the value in place, once");
    // A queue owns no items (they live in the pool), so letting it go drops nothing.
    #[allow(clippy::drop_non_drop)]
    drop(queue);
    drop(pool);
    assert_eq!(drops.get(), 6);
}

#[test]
fn ring_drops_published_and_unpublished_items_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut producer, mut consumer) = Ring::new(8).split();
    for _ in 0..5 {
        assert!(producer.try_push(CountedSend(drops.clone())).is_ok());
    }
    producer.publish();
    // Two more written but never published: dropping the producer publishes them.
    for _ in 0..2 {
        assert!(producer.try_push(CountedSend(drops.clone())).is_ok());
    }
    drop(consumer.try_pop());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(producer);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(consumer);
    assert_eq!(drops.load(Ordering::SeqCst), 7);
}

#[test]
fn ring_refused_item_is_handed_back_not_dropped() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut producer, consumer) = Ring::new(1).split();
    assert!(producer.push(CountedSend(drops.clone())).is_ok());
    let refused = producer.push(CountedSend(drops.clone()));
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(refused);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop((producer, consumer));
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}
