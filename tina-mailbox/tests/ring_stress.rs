//! Two real threads push ten million sequence-numbered items through one ring (a thousand
//! under Miri).

use std::thread;

use tina_mailbox::Ring;

/// A 64-byte item whose every word carries its sequence number, so a torn read is caught.
#[derive(Clone, Copy)]
struct Item([u64; 8]);

const ITEMS: u64 = if cfg!(miri) { 1_000 } else { 10_000_000 };

fn run(capacity: usize, batch: usize) {
    let (mut producer, mut consumer) = Ring::<Item>::new(capacity).split();
    let writer = thread::spawn(move || {
        let mut next = 0u64;
        while next < ITEMS {
            let mut written = 0;
            while written < batch && next < ITEMS {
                match producer.try_push(Item([next; 8])) {
                    Ok(()) => {
                        next += 1;
                        written += 1;
                    }
                    Err(_) => break,
                }
            }
            producer.publish();
            if written == 0 {
                std::hint::spin_loop();
            }
        }
    });
    let mut expected = 0u64;
    while expected < ITEMS {
        let drained = consumer.drain(usize::MAX, |Item(words)| {
            assert!(
                words.iter().all(|&word| word == expected),
                "item {expected} torn or reordered: {words:?}"
            );
            expected += 1;
        });
        if drained == 0 {
            std::hint::spin_loop();
        }
    }
    writer.join().unwrap();
    assert_eq!(expected, ITEMS);
    assert_eq!(
        consumer.try_pop().map(|Item(words)| words[0]),
        None,
        "nothing extra arrived"
    );
}

#[test]
fn ten_million_items_in_order_batched() {
    run(1024, 64);
}

#[test]
fn ten_million_items_in_order_one_at_a_time_small_ring() {
    run(8, 1);
}
