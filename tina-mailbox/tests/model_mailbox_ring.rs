//! Property tests: random operation sequences against `VecDeque` models.
//!
//! The ring and pool models use items that count their drops (`support::Tracked`), so besides
//! the order and the accounting they check that every item is dropped exactly once, or — for
//! the items a forgotten [`tina_mailbox::Batch`] leaks — never; some operations plant panics
//! in the caller's closures and in items' `Drop`.

mod support;

use std::collections::VecDeque;
use std::mem;
use std::panic::{AssertUnwindSafe, catch_unwind};

use proptest::prelude::*;
use proptest::test_runner::Config;
use support::{DropLog, Tracked, planted_panic, quiet_planted_panics};
use tina_mailbox::{Consumer, List, Mailbox, Pool, PoolIndex, Producer, Queue, Ring};

/// Operations per generated case (fewer under Miri, which runs them a thousand times slower).
const OPS_MAX: usize = if cfg!(miri) { 40 } else { 400 };

fn config() -> Config {
    if cfg!(miri) {
        // Miri's isolation forbids reading the regressions file.
        Config {
            cases: 3,
            failure_persistence: None,
            ..Config::default()
        }
    } else {
        Config::default()
    }
}

#[derive(Debug, Clone)]
enum MailboxOp {
    Push(u16),
    Pop,
}

fn mailbox_op() -> impl Strategy<Value = MailboxOp> {
    prop_oneof![any::<u16>().prop_map(MailboxOp::Push), Just(MailboxOp::Pop)]
}

#[derive(Debug, Clone)]
enum RingOp {
    /// `Producer::try_push`: write without publishing.
    Push,
    /// `Producer::push`: write and publish (everything written so far) in one call.
    PushPublish,
    /// `Producer::try_push_with`; with `panic`, the item's constructor panics.
    PushWith {
        panic: bool,
    },
    Publish,
    Pop,
    Drain(usize),
    /// `Consumer::batch(max)`, the steps on it, then a drop or a `mem::forget`.
    Batch {
        max: usize,
        steps: Vec<BatchStep>,
        forget: bool,
    },
}

#[derive(Debug, Clone, Copy)]
enum BatchStep {
    Pop,
    PopIf(bool),
    TakeWith(TakeMode),
}

/// What the closure given to `Batch::take_with` does.
#[derive(Debug, Clone, Copy)]
enum TakeMode {
    Take,
    Decline,
    /// The closure panics.
    PanicInTake,
    /// The closure takes the item and arms it, so the ring's drop of it panics.
    PanicInDrop,
}

fn batch_step() -> impl Strategy<Value = BatchStep> {
    prop_oneof![
        3 => Just(BatchStep::Pop),
        2 => any::<bool>().prop_map(BatchStep::PopIf),
        1 => Just(BatchStep::TakeWith(TakeMode::Take)),
        1 => Just(BatchStep::TakeWith(TakeMode::Decline)),
        1 => Just(BatchStep::TakeWith(TakeMode::PanicInTake)),
        1 => Just(BatchStep::TakeWith(TakeMode::PanicInDrop)),
    ]
}

fn ring_op() -> impl Strategy<Value = RingOp> {
    prop_oneof![
        4 => Just(RingOp::Push),
        2 => Just(RingOp::PushPublish),
        1 => any::<bool>().prop_map(|panic| RingOp::PushWith { panic }),
        1 => Just(RingOp::Publish),
        2 => Just(RingOp::Pop),
        1 => (0usize..6).prop_map(RingOp::Drain),
        2 => (
            0usize..6,
            proptest::collection::vec(batch_step(), 0..6),
            proptest::bool::weighted(0.15),
        )
            .prop_map(|(max, steps, forget)| RingOp::Batch { max, steps, forget }),
    ]
}

/// What the ring should hold, and how often each item should have been dropped.
struct RingModel {
    capacity: usize,
    /// Items written and not consumed, oldest first; the first `published` are visible.
    items: VecDeque<u32>,
    published: usize,
    /// Slots consumed but not yet handed back to the producer (by a forgotten batch).
    held: usize,
    expected_drops: Vec<u32>,
    next_id: u32,
}

impl RingModel {
    fn room(&self) -> usize {
        self.capacity - self.items.len() - self.held
    }

    fn new_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id - 1
    }

    /// The oldest published item leaves the ring and is dropped once.
    fn consume_front(&mut self) -> u32 {
        let id = self.items.pop_front().expect("model has a published item");
        self.published -= 1;
        self.expected_drops[id as usize] += 1;
        id
    }

    fn check_drops(&self, log: &DropLog) -> Result<(), TestCaseError> {
        for id in 0..self.next_id {
            prop_assert_eq!(
                log.drops(id),
                self.expected_drops[id as usize],
                "item {}",
                id
            );
        }
        Ok(())
    }
}

/// Applies one batch operation to the ring and the model.
fn ring_batch(
    consumer: &mut Consumer<Tracked<'_>>,
    model: &mut RingModel,
    max: usize,
    steps: &[BatchStep],
    forget: bool,
) -> Result<(), TestCaseError> {
    let mut batch = consumer.batch(max);
    let batch_len = model.published.min(max);
    prop_assert_eq!(batch.len(), batch_len);
    let mut taken = 0;
    for &step in steps {
        let front = (taken < batch_len).then(|| model.items[0]);
        let mut seen = None;
        match step {
            BatchStep::Pop => {
                let got = batch.pop().map(|item| item.id);
                prop_assert_eq!(got, front);
                if front.is_some() {
                    model.consume_front();
                    taken += 1;
                }
            }
            BatchStep::PopIf(wanted) => {
                let got = batch
                    .pop_if(|item| {
                        seen = Some(item.id);
                        wanted
                    })
                    .map(|item| item.id);
                prop_assert_eq!(seen, front);
                prop_assert_eq!(got, front.filter(|_| wanted));
                if got.is_some() {
                    model.consume_front();
                    taken += 1;
                }
            }
            BatchStep::TakeWith(mode) => {
                let result = catch_unwind(AssertUnwindSafe(|| {
                    batch.take_with(|item| {
                        seen = Some(item.id);
                        match mode {
                            TakeMode::Take => Some(item.id),
                            TakeMode::Decline => None,
                            TakeMode::PanicInTake => planted_panic(),
                            TakeMode::PanicInDrop => {
                                item.panic_on_drop = true;
                                Some(item.id)
                            }
                        }
                    })
                }));
                prop_assert_eq!(seen, front);
                match (front, mode) {
                    (None, _) => prop_assert_eq!(result.ok(), Some(None)),
                    (Some(id), TakeMode::Take) => prop_assert_eq!(result.ok(), Some(Some(id))),
                    (Some(_), TakeMode::Decline) => prop_assert_eq!(result.ok(), Some(None)),
                    (Some(_), TakeMode::PanicInTake | TakeMode::PanicInDrop) => {
                        prop_assert!(result.is_err())
                    }
                }
                if front.is_some() && matches!(mode, TakeMode::Take | TakeMode::PanicInDrop) {
                    model.consume_front();
                    taken += 1;
                }
            }
        }
        prop_assert_eq!(batch.len(), batch_len - taken);
        prop_assert_eq!(batch.taken(), taken);
    }
    if forget {
        mem::forget(batch);
        // The items not handed out are leaked: never yielded, never dropped.
        for _ in taken..batch_len {
            model.items.pop_front();
            model.published -= 1;
        }
        model.held += batch_len;
    } else {
        drop(batch);
        if taken > 0 {
            model.held = 0;
        }
    }
    Ok(())
}

/// Applies one ring operation to the ring and the model.
fn ring_step<'log>(
    producer: &mut Producer<Tracked<'log>>,
    consumer: &mut Consumer<Tracked<'log>>,
    model: &mut RingModel,
    log: &'log DropLog,
    op: &RingOp,
) -> Result<(), TestCaseError> {
    match *op {
        RingOp::Push | RingOp::PushPublish => {
            let id = model.new_id();
            let result = if matches!(op, RingOp::Push) {
                producer.try_push(log.item(id))
            } else {
                producer.push(log.item(id))
            };
            if model.room() > 0 {
                prop_assert!(result.is_ok());
                model.items.push_back(id);
                if matches!(op, RingOp::PushPublish) {
                    model.published = model.items.len();
                }
            } else {
                // A full ring hands the item back (and `push` publishes nothing).
                prop_assert_eq!(result.map_err(|item| item.id), Err(id));
                model.expected_drops[id as usize] += 1;
            }
        }
        RingOp::PushWith { panic } => {
            let id = model.new_id();
            let mut built = false;
            let result = catch_unwind(AssertUnwindSafe(|| {
                producer.try_push_with(|| {
                    built = true;
                    if panic {
                        planted_panic();
                    }
                    log.item(id)
                })
            }));
            let room = model.room() > 0;
            prop_assert_eq!(built, room, "make is called exactly when there is room");
            if !room {
                prop_assert_eq!(result.ok(), Some(false));
            } else if panic {
                prop_assert!(result.is_err(), "nothing is written");
            } else {
                prop_assert_eq!(result.ok(), Some(true));
                model.items.push_back(id);
            }
        }
        RingOp::Publish => {
            producer.publish();
            model.published = model.items.len();
        }
        RingOp::Pop => {
            let got = consumer.try_pop().map(|item| item.id);
            let expected = (model.published > 0).then(|| model.consume_front());
            prop_assert_eq!(got, expected);
            if expected.is_some() {
                model.held = 0;
            }
        }
        RingOp::Drain(max) => {
            let mut got = Vec::new();
            let count = consumer.drain(max, |item| got.push(item.id));
            let take = model.published.min(max);
            let expected: Vec<u32> = (0..take).map(|_| model.consume_front()).collect();
            prop_assert_eq!(count, take);
            prop_assert_eq!(got, expected);
            if take > 0 {
                model.held = 0;
            }
        }
        RingOp::Batch {
            max,
            ref steps,
            forget,
        } => ring_batch(consumer, model, max, steps, forget)?,
    }
    Ok(())
}

/// Where a pool item is, besides its own slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    id: u32,
    index: PoolIndex,
}

/// How a remove-with closure behaves.
#[derive(Debug, Clone, Copy)]
enum RemoveMode {
    Read,
    /// The read closure panics.
    PanicInRead,
    /// The read closure arms the item, so the pool's drop of it panics.
    PanicInDrop,
}

#[derive(Debug, Clone)]
enum PoolOp {
    /// `try_alloc{,_reserved}{,_with}`; `panic` makes a `_with` constructor panic.
    Alloc {
        reserved: bool,
        with: bool,
        panic: bool,
    },
    AllocEnqueue {
        queue: usize,
        panic: bool,
    },
    Enqueue {
        pick: usize,
        queue: usize,
    },
    PushBack {
        pick: usize,
        list: usize,
    },
    Dequeue {
        queue: usize,
    },
    PopFront {
        list: usize,
    },
    DequeueRemove {
        queue: usize,
        mode: RemoveMode,
    },
    PopFrontRemove {
        list: usize,
        mode: RemoveMode,
    },
    Take {
        pick: usize,
    },
    /// `Pool::remove`; with `panic`, the item's drop panics.
    Remove {
        pick: usize,
        panic: bool,
    },
    /// `Pool::clear_queue`; with `arm_front`, the front item's drop panics.
    ClearQueue {
        queue: usize,
        arm_front: bool,
    },
    ClearList {
        list: usize,
    },
}

/// Ordinary and reserved slots of the modelled pool, and the bound of its queues.
const ORDINARY: usize = 5;
const RESERVED: usize = 2;
const QUEUE_BOUND: u32 = 3;

fn remove_mode() -> impl Strategy<Value = RemoveMode> {
    prop_oneof![
        4 => Just(RemoveMode::Read),
        1 => Just(RemoveMode::PanicInRead),
        1 => Just(RemoveMode::PanicInDrop),
    ]
}

fn pool_op() -> impl Strategy<Value = PoolOp> {
    let which = 0usize..2;
    let pick = 0usize..8;
    prop_oneof![
        4 => (any::<bool>(), any::<bool>(), proptest::bool::weighted(0.2))
            .prop_map(|(reserved, with, panic)| PoolOp::Alloc { reserved, with, panic }),
        4 => (which.clone(), proptest::bool::weighted(0.2))
            .prop_map(|(queue, panic)| PoolOp::AllocEnqueue { queue, panic }),
        2 => (pick.clone(), which.clone()).prop_map(|(pick, queue)| PoolOp::Enqueue { pick, queue }),
        2 => (pick.clone(), which.clone()).prop_map(|(pick, list)| PoolOp::PushBack { pick, list }),
        1 => which.clone().prop_map(|queue| PoolOp::Dequeue { queue }),
        1 => which.clone().prop_map(|list| PoolOp::PopFront { list }),
        3 => (which.clone(), remove_mode())
            .prop_map(|(queue, mode)| PoolOp::DequeueRemove { queue, mode }),
        2 => (which.clone(), remove_mode())
            .prop_map(|(list, mode)| PoolOp::PopFrontRemove { list, mode }),
        1 => pick.clone().prop_map(|pick| PoolOp::Take { pick }),
        1 => (pick, any::<bool>()).prop_map(|(pick, panic)| PoolOp::Remove { pick, panic }),
        1 => (which.clone(), any::<bool>())
            .prop_map(|(queue, arm_front)| PoolOp::ClearQueue { queue, arm_front }),
        1 => which.prop_map(|list| PoolOp::ClearList { list }),
    ]
}

/// What the pool should hold, and how often each item should have been dropped.
#[derive(Default)]
struct PoolModel {
    queues: [VecDeque<Entry>; 2],
    lists: [VecDeque<Entry>; 2],
    /// Allocated, in no queue or list.
    loose: Vec<Entry>,
    ordinary_free: usize,
    reserved_free: usize,
    expected_drops: Vec<u32>,
    next_id: u32,
}

impl PoolModel {
    fn new_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id - 1
    }

    fn take_slot(&mut self, index: PoolIndex) {
        if index.get() >= ORDINARY {
            self.reserved_free -= 1;
        } else {
            self.ordinary_free -= 1;
        }
    }

    /// `entry` leaves the pool: its slot is free and its item dropped once.
    fn free(&mut self, entry: Entry) {
        if entry.index.get() >= ORDINARY {
            self.reserved_free += 1;
        } else {
            self.ordinary_free += 1;
        }
        self.expected_drops[entry.id as usize] += 1;
    }

    fn alive(&self) -> usize {
        self.loose.len()
            + self.queues.iter().map(VecDeque::len).sum::<usize>()
            + self.lists.iter().map(VecDeque::len).sum::<usize>()
    }
}

/// Checks a remove-with result against the model's front `entry`, if any, and updates it.
fn check_removed(
    model: &mut PoolModel,
    front: Option<Entry>,
    mode: RemoveMode,
    seen: Option<u32>,
    result: std::thread::Result<Option<u32>>,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(seen, front.map(|entry| entry.id));
    match front {
        None => prop_assert_eq!(result.ok(), Some(None)),
        Some(entry) => {
            if matches!(mode, RemoveMode::Read) {
                prop_assert_eq!(result.ok(), Some(Some(entry.id)));
            } else {
                prop_assert!(result.is_err());
            }
            // Freed and dropped once whether or not something panicked.
            model.free(entry);
        }
    }
    Ok(())
}

/// Applies one pool operation to the pool and the model.
fn pool_step<'log>(
    pool: &mut Pool<Tracked<'log>>,
    queues: &mut [Queue; 2],
    lists: &mut [List; 2],
    model: &mut PoolModel,
    log: &'log DropLog,
    op: &PoolOp,
) -> Result<(), TestCaseError> {
    match *op {
        PoolOp::Alloc {
            reserved,
            with,
            panic,
        } => {
            let id = model.new_id();
            // Which region the slot should come from, if any.
            let region = if reserved && model.reserved_free > 0 {
                Some(true)
            } else {
                (model.ordinary_free > 0).then_some(false)
            };
            let got = if with {
                let mut built = false;
                let result = catch_unwind(AssertUnwindSafe(|| {
                    let make = || {
                        built = true;
                        if panic {
                            planted_panic();
                        }
                        log.item(id)
                    };
                    if reserved {
                        pool.try_alloc_reserved_with(make)
                    } else {
                        pool.try_alloc_with(make)
                    }
                }));
                prop_assert_eq!(
                    built,
                    region.is_some(),
                    "make is called exactly when there is room"
                );
                if panic && region.is_some() {
                    prop_assert!(result.is_err());
                    None
                } else {
                    result.ok().flatten()
                }
            } else {
                let result = if reserved {
                    pool.try_alloc_reserved(log.item(id))
                } else {
                    pool.try_alloc(log.item(id))
                };
                match result {
                    Ok(index) => Some(index),
                    Err(item) => {
                        prop_assert_eq!(item.id, id);
                        model.expected_drops[id as usize] += 1;
                        None
                    }
                }
            };
            let expected_region = if with && panic { None } else { region };
            prop_assert_eq!(got.map(|index| index.get() >= ORDINARY), expected_region);
            if let Some(index) = got {
                model.take_slot(index);
                model.loose.push(Entry { id, index });
            }
        }
        PoolOp::AllocEnqueue { queue, panic } => {
            let id = model.new_id();
            let room = model.ordinary_free > 0 && model.queues[queue].len() < QUEUE_BOUND as usize;
            let mut built = false;
            let result = catch_unwind(AssertUnwindSafe(|| {
                pool.try_alloc_enqueue_with(&mut queues[queue], || {
                    built = true;
                    if panic {
                        planted_panic();
                    }
                    log.item(id)
                })
            }));
            prop_assert_eq!(built, room, "make is called exactly when there is room");
            match (room, panic) {
                (false, _) => prop_assert_eq!(result.ok(), Some(None)),
                (true, true) => prop_assert!(result.is_err()),
                (true, false) => {
                    let index = result.ok().flatten().expect("allocated and queued");
                    prop_assert!(index.get() < ORDINARY, "an ordinary slot");
                    model.take_slot(index);
                    model.queues[queue].push_back(Entry { id, index });
                }
            }
        }
        PoolOp::Enqueue { pick, queue } => {
            if !model.loose.is_empty() {
                let at = pick % model.loose.len();
                let entry = model.loose[at];
                let result = pool.try_enqueue(&mut queues[queue], entry.index);
                if model.queues[queue].len() < QUEUE_BOUND as usize {
                    prop_assert_eq!(result, Ok(()));
                    model.loose.swap_remove(at);
                    model.queues[queue].push_back(entry);
                } else {
                    prop_assert_eq!(result, Err(entry.index));
                }
            }
        }
        PoolOp::PushBack { pick, list } => {
            if !model.loose.is_empty() {
                let entry = model.loose.swap_remove(pick % model.loose.len());
                pool.push_back(&mut lists[list], entry.index);
                model.lists[list].push_back(entry);
            }
        }
        PoolOp::Dequeue { queue } => {
            let got = pool.dequeue(&mut queues[queue]);
            let expected = model.queues[queue].pop_front();
            prop_assert_eq!(got, expected.map(|entry| entry.index));
            model.loose.extend(expected);
        }
        PoolOp::PopFront { list } => {
            let got = pool.pop_front(&mut lists[list]);
            let expected = model.lists[list].pop_front();
            prop_assert_eq!(got, expected.map(|entry| entry.index));
            model.loose.extend(expected);
        }
        PoolOp::DequeueRemove { queue, mode } | PoolOp::PopFrontRemove { list: queue, mode } => {
            let is_queue = matches!(op, PoolOp::DequeueRemove { .. });
            let mut seen = None;
            let read = |item: &mut Tracked<'log>| {
                seen = Some(item.id);
                match mode {
                    RemoveMode::Read => {}
                    RemoveMode::PanicInRead => planted_panic(),
                    RemoveMode::PanicInDrop => item.panic_on_drop = true,
                }
                item.id
            };
            let result = catch_unwind(AssertUnwindSafe(|| {
                if is_queue {
                    pool.dequeue_remove_with(&mut queues[queue], read)
                } else {
                    pool.pop_front_remove_with(&mut lists[queue], read)
                }
            }));
            let front = if is_queue {
                model.queues[queue].pop_front()
            } else {
                model.lists[queue].pop_front()
            };
            check_removed(model, front, mode, seen, result)?;
        }
        PoolOp::Take { pick } => {
            if !model.loose.is_empty() {
                let entry = model.loose.swap_remove(pick % model.loose.len());
                prop_assert_eq!(pool.take(entry.index).id, entry.id);
                model.free(entry);
            }
        }
        PoolOp::Remove { pick, panic } => {
            if !model.loose.is_empty() {
                let entry = model.loose.swap_remove(pick % model.loose.len());
                pool.get_mut(entry.index).panic_on_drop = panic;
                let result = catch_unwind(AssertUnwindSafe(|| pool.remove(entry.index)));
                prop_assert_eq!(result.is_err(), panic);
                model.free(entry);
            }
        }
        PoolOp::ClearQueue { queue, arm_front } => {
            let front = model.queues[queue].front().copied();
            prop_assert_eq!(pool.front(&queues[queue]), front.map(|entry| entry.index));
            match front {
                Some(entry) if arm_front => {
                    pool.get_mut(entry.index).panic_on_drop = true;
                    let result =
                        catch_unwind(AssertUnwindSafe(|| pool.clear_queue(&mut queues[queue])));
                    prop_assert!(result.is_err());
                    // The armed front is gone; the items behind it stay queued.
                    model.queues[queue].pop_front();
                    model.free(entry);
                }
                _ => {
                    let count = pool.clear_queue(&mut queues[queue]);
                    prop_assert_eq!(count, model.queues[queue].len());
                    while let Some(entry) = model.queues[queue].pop_front() {
                        model.free(entry);
                    }
                }
            }
        }
        PoolOp::ClearList { list } => {
            let count = pool.clear_list(&mut lists[list]);
            prop_assert_eq!(count, model.lists[list].len());
            while let Some(entry) = model.lists[list].pop_front() {
                model.free(entry);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mailbox_matches_model(ops in proptest::collection::vec(mailbox_op(), 0..OPS_MAX)) {
        let mut mailbox: Mailbox<u16, 5> = Mailbox::new();
        let mut model = VecDeque::new();
        for op in ops {
            match op {
                MailboxOp::Push(value) => {
                    let expected = if model.len() < 5 { model.push_back(value); Ok(()) } else { Err(value) };
                    prop_assert_eq!(mailbox.try_push(value), expected);
                }
                MailboxOp::Pop => prop_assert_eq!(mailbox.pop(), model.pop_front()),
            }
            prop_assert_eq!(mailbox.len(), model.len());
            prop_assert_eq!(mailbox.peek(), model.front());
        }
    }

    #[test]
    fn ring_matches_model(capacity_log2 in 0u32..4, ops in proptest::collection::vec(ring_op(), 0..OPS_MAX)) {
        quiet_planted_panics();
        let capacity = 1usize << capacity_log2;
        let log = DropLog::new(ops.len());
        let (mut producer, mut consumer) = Ring::new(capacity).split();
        let mut model = RingModel {
            capacity,
            items: VecDeque::new(),
            published: 0,
            held: 0,
            expected_drops: vec![0; ops.len()],
            next_id: 0,
        };
        for op in &ops {
            ring_step(&mut producer, &mut consumer, &mut model, &log, op)?;
            prop_assert_eq!(producer.pending(), model.items.len() - model.published);
            prop_assert_eq!(consumer.available(), model.published);
            prop_assert_eq!(producer.free_slots(), model.room());
            model.check_drops(&log)?;
        }
        // The ring drops what it still holds (published or not) exactly once.
        drop((producer, consumer));
        for &id in &model.items {
            model.expected_drops[id as usize] += 1;
        }
        model.check_drops(&log)?;
    }

    #[test]
    fn pool_matches_model(ops in proptest::collection::vec(pool_op(), 0..OPS_MAX)) {
        quiet_planted_panics();
        let log = DropLog::new(ops.len());
        let mut pool: Pool<Tracked<'_>> = Pool::new(ORDINARY, RESERVED);
        let mut queues = [Queue::new(QUEUE_BOUND), Queue::new(QUEUE_BOUND)];
        let mut lists = [List::new(), List::new()];
        let mut model = PoolModel {
            ordinary_free: ORDINARY,
            reserved_free: RESERVED,
            expected_drops: vec![0; ops.len()],
            ..PoolModel::default()
        };
        for op in &ops {
            pool_step(&mut pool, &mut queues, &mut lists, &mut model, &log, op)?;
            let stats = pool.check().map_err(TestCaseError::fail)?;
            prop_assert_eq!(stats.allocated, model.alive());
            prop_assert_eq!(stats.ordinary_free, model.ordinary_free);
            prop_assert_eq!(stats.reserved_free, model.reserved_free);
            for which in 0..2 {
                prop_assert_eq!(queues[which].len(), model.queues[which].len());
                prop_assert_eq!(lists[which].is_empty(), model.lists[which].is_empty());
                let front = model.queues[which].front();
                prop_assert_eq!(pool.front(&queues[which]), front.map(|entry| entry.index));
                if let Some(entry) = front {
                    prop_assert_eq!(pool.get(entry.index).id, entry.id);
                }
            }
            for id in 0..model.next_id {
                prop_assert_eq!(log.drops(id), model.expected_drops[id as usize], "item {}", id);
            }
        }
        // The pool drops what it still holds exactly once.
        drop(pool);
        for id in 0..model.next_id {
            let alive = model.loose.iter().chain(model.queues.iter().flatten()).chain(model.lists.iter().flatten()).any(|entry| entry.id == id);
            prop_assert_eq!(log.drops(id), model.expected_drops[id as usize] + u32::from(alive), "item {}", id);
        }
    }
}
