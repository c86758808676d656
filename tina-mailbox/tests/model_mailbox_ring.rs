//! Property tests: random operation sequences against a `VecDeque` model.

use std::collections::VecDeque;

use proptest::prelude::*;
use tina_mailbox::{Mailbox, Pool, Queue, Ring};

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
    Push(u16),
    /// `Producer::push`: write and publish (everything written so far) in one call.
    PushPublish(u16),
    Publish,
    Pop,
    Drain(usize),
}

fn ring_op() -> impl Strategy<Value = RingOp> {
    prop_oneof![
        4 => any::<u16>().prop_map(RingOp::Push),
        2 => any::<u16>().prop_map(RingOp::PushPublish),
        1 => Just(RingOp::Publish),
        2 => Just(RingOp::Pop),
        1 => (0usize..6).prop_map(RingOp::Drain),
    ]
}

proptest! {
    #[test]
    fn mailbox_matches_model(ops in proptest::collection::vec(mailbox_op(), 0..400)) {
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
    fn ring_matches_model(capacity_log2 in 0u32..4, ops in proptest::collection::vec(ring_op(), 0..400)) {
        let capacity = 1usize << capacity_log2;
        let (mut producer, mut consumer) = Ring::new(capacity).split();
        // Everything written and not yet consumed; the first `published` items are visible.
        let mut model: VecDeque<u16> = VecDeque::new();
        let mut published = 0usize;
        for op in ops {
            match op {
                RingOp::Push(value) => {
                    let expected = if model.len() < capacity { model.push_back(value); Ok(()) } else { Err(value) };
                    prop_assert_eq!(producer.try_push(value), expected);
                }
                RingOp::PushPublish(value) => {
                    // A full ring refuses the item and publishes nothing.
                    let expected = if model.len() < capacity {
                        model.push_back(value);
                        published = model.len();
                        Ok(())
                    } else {
                        Err(value)
                    };
                    prop_assert_eq!(producer.push(value), expected);
                }
                RingOp::Publish => {
                    producer.publish();
                    published = model.len();
                }
                RingOp::Pop => {
                    let expected = if published > 0 { published -= 1; model.pop_front() } else { None };
                    prop_assert_eq!(consumer.try_pop(), expected);
                }
                RingOp::Drain(max) => {
                    let mut got = Vec::new();
                    let count = consumer.drain(max, |item| got.push(item));
                    let take = published.min(max);
                    let expected: Vec<u16> = model.drain(..take).collect();
                    published -= take;
                    prop_assert_eq!(count, take);
                    prop_assert_eq!(got, expected);
                }
            }
            prop_assert_eq!(producer.pending(), model.len() - published);
            prop_assert_eq!(consumer.available(), published);
        }
    }

    #[test]
    fn pool_queues_match_model(ops in proptest::collection::vec((0usize..3, any::<bool>(), any::<u8>()), 0..300)) {
        // Three bounded queues sharing one pool of 6 ordinary and 2 reserved slots.
        let mut pool: Pool<u8> = Pool::new(6, 2);
        let mut queues = [Queue::new(3), Queue::new(3), Queue::new(3)];
        let mut models: [VecDeque<u8>; 3] = Default::default();
        for (which, push, value) in ops {
            if push {
                match pool.try_alloc(value) {
                    Ok(index) => match pool.try_enqueue(&mut queues[which], index) {
                        Ok(()) => models[which].push_back(value),
                        Err(index) => {
                            prop_assert_eq!(models[which].len(), 3);
                            prop_assert_eq!(pool.take(index), value);
                        }
                    },
                    Err(returned) => {
                        prop_assert_eq!(returned, value);
                        prop_assert_eq!(models.iter().map(VecDeque::len).sum::<usize>(), 6);
                    }
                }
            } else {
                let got = pool.dequeue(&mut queues[which]).map(|index| pool.take(index));
                prop_assert_eq!(got, models[which].pop_front());
            }
            let stats = pool.check().map_err(TestCaseError::fail)?;
            prop_assert_eq!(stats.allocated, models.iter().map(VecDeque::len).sum::<usize>());
            prop_assert_eq!(stats.reserved_free, 2);
        }
    }
}
