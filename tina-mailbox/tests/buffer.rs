//! Transfer buffers: exhaustion, accounting, data, refusals, buffers dropped on other
//! threads, and random take/write/drop sequences against a model.
//!
//! Runs under Miri too (`cargo +nightly miri test -p tina-mailbox --test buffer`), with
//! smaller counts there.

use std::collections::HashSet;
use std::sync::{Arc, mpsc};
use std::thread;

use proptest::prelude::*;
use proptest::test_runner::Config;
use tina_mailbox::{Buffer, BufferPool, BufferStats};

/// Operations per generated case (fewer under Miri, which runs them a thousand times slower).
const OPS_MAX: usize = if cfg!(miri) { 40 } else { 300 };

/// Take-write-drop rounds per thread in the threaded tests.
const ROUNDS: usize = if cfg!(miri) { 20 } else { 2_000 };

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

/// Takes every free block of `pool`.
fn take_all(pool: &Arc<BufferPool>) -> Vec<Buffer> {
    std::iter::from_fn(|| pool.try_take()).collect()
}

#[test]
fn exhaustion_returns_none_and_a_drop_frees_a_block() {
    let pool = BufferPool::new(16, 3);
    let first = pool.try_take().expect("a fresh pool has a free block");
    let second = pool.try_take().expect("a fresh pool has a free block");
    let third = pool.try_take().expect("a fresh pool has a free block");
    assert!(pool.try_take().is_none());
    assert_eq!(pool.free(), 0);

    drop(second);
    assert_eq!(pool.free(), 1);
    let again = pool
        .try_take()
        .expect("the dropped buffer's block is free again");
    assert!(again.is_empty());
    assert!(pool.try_take().is_none());
    drop((first, third, again));
    assert_eq!(pool.free(), 3);
}

#[test]
fn taking_every_block_then_dropping_them_restores_the_pool() {
    // 130 blocks: two whole bitmap words and a partial third.
    let pool = BufferPool::new(4, 130);
    let buffers = take_all(&pool);
    assert_eq!(buffers.len(), 130);
    assert_eq!(
        pool.stats(),
        BufferStats {
            capacity: 130,
            free: 0,
            taken: 130
        }
    );
    let blocks: HashSet<*const u8> = buffers.iter().map(|buffer| buffer.as_ptr()).collect();
    assert_eq!(blocks.len(), 130, "every buffer has its own block");

    drop(buffers);
    assert_eq!(pool.free(), pool.capacity());
    assert_eq!(
        pool.stats(),
        BufferStats {
            capacity: 130,
            free: 130,
            taken: 0
        }
    );
    assert_eq!(take_all(&pool).len(), 130);
}

#[test]
fn data_written_is_read_back() {
    let pool = BufferPool::new(8, 2);
    let mut buffer = pool.try_take().unwrap();
    assert_eq!(buffer.capacity(), 8);
    assert_eq!(buffer.len(), 0);
    assert!(buffer.try_extend_from_slice(b"tina").is_ok());
    assert!(buffer.try_extend_from_slice(b"!").is_ok());
    assert_eq!(buffer.as_slice(), b"tina!");
    assert_eq!(&*buffer, b"tina!");
    assert_eq!(buffer.len(), 5);

    buffer.as_mut_slice()[0] = b'T';
    buffer[1] = b'I';
    assert_eq!(&buffer[..], b"TIna!");

    buffer.clear();
    assert!(buffer.is_empty());
    assert_eq!(buffer.as_slice(), b"");
    // The bytes are still in the block; set_len takes them back into the data.
    buffer.set_len(5);
    assert_eq!(buffer.as_slice(), b"TIna!");
}

#[test]
fn spare_mut_then_set_len_reads_into_the_buffer() {
    let pool = BufferPool::new(6, 1);
    let mut buffer = pool.try_take().unwrap();
    assert!(buffer.try_extend_from_slice(b"ab").is_ok());
    let spare = buffer.spare_mut();
    assert_eq!(spare.len(), 4);
    spare[..3].copy_from_slice(b"cde");
    buffer.set_len(5);
    assert_eq!(buffer.as_slice(), b"abcde");
    assert_eq!(buffer.spare_mut().len(), 1);
    buffer.set_len(6);
    assert!(buffer.spare_mut().is_empty());
}

#[test]
fn a_fresh_pool_is_zero_filled() {
    let pool = BufferPool::new(5, 2);
    for mut buffer in take_all(&pool) {
        buffer.set_len(buffer.capacity());
        assert_eq!(buffer.as_slice(), [0; 5]);
    }
}

#[test]
fn try_extend_from_slice_refuses_without_writing() {
    let pool = BufferPool::new(4, 1);
    let mut buffer = pool.try_take().unwrap();
    assert!(buffer.try_extend_from_slice(b"xyz").is_ok());
    assert_eq!(buffer.try_extend_from_slice(b"12"), Err(1));
    assert_eq!(buffer.as_slice(), b"xyz");
    // Nothing past the data was written either.
    assert_eq!(buffer.spare_mut(), [0]);
    assert!(buffer.try_extend_from_slice(b"1").is_ok());
    assert_eq!(buffer.try_extend_from_slice(b"2"), Err(0));
    assert!(buffer.try_extend_from_slice(b"").is_ok());
    assert_eq!(buffer.as_slice(), b"xyz1");
}

#[test]
#[should_panic(expected = "Buffer::set_len: length 9 exceeds the buffer's capacity of 8 bytes")]
fn set_len_beyond_capacity_panics() {
    let pool = BufferPool::new(8, 1);
    let mut buffer = pool.try_take().unwrap();
    buffer.set_len(9);
}

#[test]
#[should_panic(expected = "block_size must be at least 1 byte")]
fn a_block_size_of_zero_panics() {
    let _pool = BufferPool::new(0, 4);
}

#[test]
#[cfg(target_pointer_width = "64")]
#[should_panic(expected = "exceeds u32::MAX")]
fn a_block_size_past_u32_max_panics() {
    let _pool = BufferPool::new(u32::MAX as usize + 1, 1);
}

#[test]
#[cfg(target_pointer_width = "64")]
#[should_panic(expected = "exceeds u32::MAX")]
fn a_count_past_u32_max_panics() {
    let _pool = BufferPool::new(1, u32::MAX as usize + 1);
}

#[test]
#[should_panic(expected = "exceed isize::MAX bytes")]
fn a_total_size_past_isize_max_panics() {
    // Both within u32::MAX, their product is not; the check comes before any allocation.
    let _pool = BufferPool::new(u32::MAX as usize, u32::MAX as usize);
}

#[test]
fn debug_shows_the_accounting_not_the_bytes() {
    let pool = BufferPool::new(4, 2);
    let mut buffer = pool.try_take().unwrap();
    assert!(buffer.try_extend_from_slice(&[0xAB, 0xCD]).is_ok());
    let text = format!("{buffer:?}");
    assert!(text.starts_with("Buffer { index: "), "{text}");
    assert!(text.ends_with("len: 2, capacity: 4 }"), "{text}");
    assert!(!text.contains("171") && !text.contains("205"), "{text}");
    assert_eq!(
        format!("{pool:?}"),
        "BufferPool { block_size: 4, capacity: 2, free: 1, .. }"
    );
}

#[test]
fn a_buffer_knows_its_pool() {
    let pool = BufferPool::new(4, 1);
    let buffer = pool.try_take().unwrap();
    assert!(Arc::ptr_eq(buffer.pool(), &pool));
    assert_eq!(Arc::strong_count(&pool), 2);
    drop(buffer);
    assert_eq!(Arc::strong_count(&pool), 1);
}

#[test]
fn a_buffer_dropped_on_another_thread_returns_to_the_pool() {
    let pool = BufferPool::new(8, 1);
    let mut buffer = pool.try_take().unwrap();
    assert!(buffer.try_extend_from_slice(b"shard 0").is_ok());
    let receiver = thread::spawn(move || {
        assert_eq!(buffer.as_slice(), b"shard 0");
        buffer[6] = b'1';
        drop(buffer);
    });
    receiver.join().unwrap();
    assert_eq!(pool.free(), 1);
    let mut again = pool.try_take().expect("the block came back");
    again.set_len(7);
    assert_eq!(
        again.as_slice(),
        b"shard 1",
        "the other thread's write is visible"
    );
}

#[test]
fn buffers_pass_through_a_channel_and_come_back() {
    // One thread takes and fills, another checks and drops: blocks cycle between threads.
    let pool = BufferPool::new(8, 2);
    let (sender, receiver) = mpsc::sync_channel::<(usize, Buffer)>(2);
    let producer_pool = Arc::clone(&pool);
    let producer = thread::spawn(move || {
        let mut round = 0;
        while round < ROUNDS {
            let Some(mut buffer) = producer_pool.try_take() else {
                thread::yield_now();
                continue;
            };
            assert!(buffer.try_extend_from_slice(&round.to_le_bytes()).is_ok());
            sender.send((round, buffer)).unwrap();
            round += 1;
        }
    });
    for expected in 0..ROUNDS {
        let (round, buffer) = receiver.recv().unwrap();
        assert_eq!(round, expected);
        assert_eq!(buffer.as_slice(), round.to_le_bytes());
    }
    producer.join().unwrap();
    assert_eq!(pool.free(), 2);
}

#[test]
fn threads_racing_for_blocks_never_share_one() {
    // More threads than blocks; each holder fills its whole block with its own byte and
    // checks it is still there before dropping. Under Miri this also checks for data races.
    const THREADS: u8 = 4;
    let pool = BufferPool::new(16, 3);
    let workers: Vec<_> = (0..THREADS)
        .map(|id| {
            let pool = Arc::clone(&pool);
            thread::spawn(move || {
                let mut held = 0;
                for _ in 0..ROUNDS {
                    let Some(mut buffer) = pool.try_take() else {
                        thread::yield_now();
                        continue;
                    };
                    held += 1;
                    buffer.spare_mut().fill(id);
                    buffer.set_len(buffer.capacity());
                    thread::yield_now();
                    assert!(buffer.iter().all(|&byte| byte == id), "block shared");
                }
                held
            })
        })
        .collect();
    let held: usize = workers
        .into_iter()
        .map(|worker| worker.join().unwrap())
        .sum();
    assert!(held > 0);
    assert_eq!(pool.free(), 3);
}

#[derive(Debug, Clone)]
enum Op {
    Take,
    /// `try_extend_from_slice` on holder `holder % held`.
    Extend {
        holder: usize,
        bytes: Vec<u8>,
    },
    /// `spare_mut()[..n].fill(value)` then `set_len(len + n)`, with `n` clamped to the room.
    ReadInto {
        holder: usize,
        n: usize,
        value: u8,
    },
    /// `as_mut_slice().fill(value)`.
    Overwrite {
        holder: usize,
        value: u8,
    },
    /// `set_len` to at most the current length.
    Truncate {
        holder: usize,
        len: usize,
    },
    Clear {
        holder: usize,
    },
    Drop {
        holder: usize,
    },
}

fn op(block_size: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Take),
        3 => (any::<usize>(), prop::collection::vec(any::<u8>(), 0..=block_size + 2))
            .prop_map(|(holder, bytes)| Op::Extend { holder, bytes }),
        1 => (any::<usize>(), 0..=block_size, any::<u8>())
            .prop_map(|(holder, n, value)| Op::ReadInto { holder, n, value }),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(holder, value)| Op::Overwrite { holder, value }),
        1 => (any::<usize>(), 0..=block_size).prop_map(|(holder, len)| Op::Truncate { holder, len }),
        1 => any::<usize>().prop_map(|holder| Op::Clear { holder }),
        3 => any::<usize>().prop_map(|holder| Op::Drop { holder }),
    ]
}

/// A pool's shape and the operations to run on it.
fn case() -> impl Strategy<Value = (usize, usize, Vec<Op>)> {
    let capacity = if cfg!(miri) {
        prop_oneof![1..=4usize, 63..=66usize].boxed()
    } else {
        prop_oneof![1..=8usize, 60..=70usize].boxed()
    };
    (1..=12usize, capacity).prop_flat_map(|(block_size, capacity)| {
        (
            Just(block_size),
            Just(capacity),
            prop::collection::vec(op(block_size), 0..OPS_MAX),
        )
    })
}

proptest! {
    #![proptest_config(config())]

    /// Random takes, writes and drops, checked after every step against a model that keeps,
    /// per held buffer, the data it should hold: the pool's accounting matches, every held
    /// buffer shows exactly its data, and no two held buffers share a block.
    #[test]
    fn random_take_write_drop_sequences_match_a_model(
        (block_size, capacity, ops) in case()
    ) {
        let pool = BufferPool::new(block_size, capacity);
        let mut held: Vec<(Buffer, Vec<u8>)> = Vec::new();
        for op in ops {
            let pick = |holder: usize, count: usize| holder % count;
            match op {
                Op::Take => match pool.try_take() {
                    Some(buffer) => {
                        prop_assert!(held.len() < capacity, "took more blocks than exist");
                        prop_assert!(buffer.is_empty());
                        prop_assert_eq!(buffer.capacity(), block_size);
                        held.push((buffer, Vec::new()));
                    }
                    None => prop_assert_eq!(held.len(), capacity, "refused with blocks free"),
                },
                Op::Extend { holder, bytes } if !held.is_empty() => {
                    let at = pick(holder, held.len());
                    let (buffer, model) = &mut held[at];
                    let room = block_size - model.len();
                    match buffer.try_extend_from_slice(&bytes) {
                        Ok(()) => {
                            prop_assert!(bytes.len() <= room);
                            model.extend_from_slice(&bytes);
                        }
                        Err(reported) => {
                            prop_assert!(bytes.len() > room);
                            prop_assert_eq!(reported, room);
                        }
                    }
                }
                Op::ReadInto { holder, n, value } if !held.is_empty() => {
                    let at = pick(holder, held.len());
                    let (buffer, model) = &mut held[at];
                    let spare = buffer.spare_mut();
                    prop_assert_eq!(spare.len(), block_size - model.len());
                    let n = n.min(spare.len());
                    spare[..n].fill(value);
                    let len = buffer.len() + n;
                    buffer.set_len(len);
                    model.resize(len, value);
                }
                Op::Overwrite { holder, value } if !held.is_empty() => {
                    let at = pick(holder, held.len());
                    let (buffer, model) = &mut held[at];
                    buffer.as_mut_slice().fill(value);
                    model.fill(value);
                }
                Op::Truncate { holder, len } if !held.is_empty() => {
                    let at = pick(holder, held.len());
                    let (buffer, model) = &mut held[at];
                    let len = len.min(model.len());
                    buffer.set_len(len);
                    model.truncate(len);
                }
                Op::Clear { holder } if !held.is_empty() => {
                    let at = pick(holder, held.len());
                    let (buffer, model) = &mut held[at];
                    buffer.clear();
                    model.clear();
                }
                Op::Drop { holder } if !held.is_empty() => {
                    let at = pick(holder, held.len());
                    drop(held.swap_remove(at));
                }
                // An operation on a held buffer when none is held.
                _ => {}
            }

            prop_assert_eq!(
                pool.stats(),
                BufferStats { capacity, free: capacity - held.len(), taken: held.len() }
            );
            let mut blocks = HashSet::new();
            for (buffer, model) in &held {
                prop_assert_eq!(buffer.as_slice(), model.as_slice());
                prop_assert_eq!(buffer.len(), model.len());
                prop_assert!(blocks.insert(buffer.as_ptr()), "two buffers share a block");
            }
        }
        drop(held);
        prop_assert_eq!(pool.free(), capacity);
    }
}
