//! loom model tests of the buffer pool: every interleaving of takers and droppers.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p tina-mailbox --release --test loom_buffer`.
//!
//! Every access to a block's bytes touches a loom cell for that block (see the `buffer`
//! module docs), so besides the accounting the models check that successive holders of a
//! block are ordered by happens-before. Every model but the first fails with a causality
//! violation ("concurrent write accesses to `UnsafeCell`") if the `Release` `fetch_or` in
//! `Buffer`'s `Drop` or the `Acquire` `fetch_and` in `BufferPool::try_take` is weakened to
//! `Relaxed`.
#![cfg(loom)]

use loom::thread;
use tina_mailbox::BufferPool;

/// Two threads race `try_take` on a pool of one block and keep what they got until both have
/// tried: exactly one wins.
#[test]
fn two_takers_race_for_one_block_and_exactly_one_wins() {
    loom::model(|| {
        let pool = BufferPool::new(4, 1);
        let takers: Vec<_> = (0..2)
            .map(|_| {
                let pool = pool.clone();
                thread::spawn(move || pool.try_take())
            })
            .collect();
        let taken: Vec<_> = takers
            .into_iter()
            .map(|taker| taker.join().unwrap())
            .collect();
        assert_eq!(taken.iter().filter(|buffer| buffer.is_some()).count(), 1);
        assert_eq!(pool.free(), 0);
        drop(taken);
        assert_eq!(pool.free(), 1);
    });
}

/// A buffer is taken and written on the main thread, sent to another thread, read and written
/// there and dropped; the main thread takes the block again without joining first, so only
/// the pool's own orderings connect the other thread's accesses to its own.
#[test]
fn a_buffer_dropped_on_another_thread_is_taken_again() {
    loom::model(|| {
        let pool = BufferPool::new(4, 1);
        let mut buffer = pool.try_take().unwrap();
        assert!(buffer.try_extend_from_slice(&[1, 2]).is_ok());
        let other = thread::spawn(move || {
            assert_eq!(buffer.as_slice(), [1, 2]);
            assert!(buffer.try_extend_from_slice(&[3]).is_ok());
            drop(buffer);
        });
        let mut again = loop {
            match pool.try_take() {
                Some(buffer) => break buffer,
                None => thread::yield_now(),
            }
        };
        assert!(again.is_empty());
        assert_eq!(pool.free(), 0);
        again.set_len(3);
        assert_eq!(
            again.as_slice(),
            [1, 2, 3],
            "the other thread's write is visible"
        );
        again.as_mut_slice()[0] = 9;
        drop(again);
        other.join().unwrap();
        assert_eq!(pool.free(), 1);
        assert_eq!(pool.stats().taken, 0);
    });
}

/// Two threads each take a block of a two-block pool, fill it with their own byte, check it
/// and drop it, `rounds` times, while the main thread, if `main_holds`, takes a block and does
/// the same once. Asserts no block is ever held by two buffers (a holder's byte would be
/// overwritten) and that the pool is whole at the end.
fn takers_on_two_blocks(rounds: usize, main_holds: bool) {
    loom::model(move || {
        let pool = BufferPool::new(2, 2);
        let workers: Vec<_> = [1u8, 2]
            .into_iter()
            .map(|id| {
                let pool = pool.clone();
                thread::spawn(move || {
                    for _ in 0..rounds {
                        fill_check_and_drop(pool.try_take(), id);
                    }
                })
            })
            .collect();
        if main_holds {
            fill_check_and_drop(pool.try_take(), 3);
        }
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(pool.free(), 2);
        assert_eq!(pool.stats().taken, 0);
    });
}

/// Fills a taken buffer's whole block with `id`, lets other threads run, checks the block
/// still holds only `id`, and drops the buffer. Does nothing when the take found no block.
fn fill_check_and_drop(taken: Option<tina_mailbox::Buffer>, id: u8) {
    let Some(mut buffer) = taken else {
        return;
    };
    buffer.spare_mut().fill(id);
    buffer.set_len(buffer.capacity());
    thread::yield_now();
    assert!(
        buffer.iter().all(|&byte| byte == id),
        "block shared: {:?}",
        buffer.as_slice()
    );
}

/// Two takers race for the same lowest bit and blocks pass from one thread to the other
/// between rounds (11,871 interleavings).
#[test]
fn concurrent_takes_and_drops_never_share_a_block() {
    takers_on_two_blocks(2, false);
}

/// Three holders on two blocks: some take finds the pool empty (182,929 interleavings).
#[test]
fn three_takers_on_two_blocks_never_share_one() {
    takers_on_two_blocks(1, true);
}
