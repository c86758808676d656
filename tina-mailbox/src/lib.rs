//! Bounded building blocks for the Tina runtime.
//!
//! Everything in this crate has a capacity fixed when it is built and refuses work, handing
//! the rejected value back, when that capacity is reached. Nothing here spawns a thread,
//! performs I/O, or touches the global allocator after construction.
//!
//! | type | what it is | used for |
//! |---|---|---|
//! | [`Mailbox<T, N>`] | a bounded FIFO whose capacity is a const generic | self-contained queues whose bound is known at compile time |
//! | [`Pool<T>`] | a fixed number of cache-line-aligned slots, O(1) allocate and free, with a reserved region for control traffic | the per-shard envelope pool |
//! | [`Queue`] | an intrusive FIFO of pool slots, bounded by a count | per-isolate mailboxes that live inside the envelope pool |
//! | [`Ring`] | a lock-free single-producer/single-consumer ring split into a [`Producer`] and a [`Consumer`] | cross-shard traffic, one ring per ordered shard pair |
//! | [`SeqCell`] | a block of `u64` words with one writer and lock-free readers that always copy out one whole write (a sequence lock) | published statistics: each shard writes its own, observers read consistent snapshots |
//! | [`BufferPool`] | a fixed number of zero-filled byte blocks of one size, taken lock-free as move-only [`Buffer`]s that go back to the pool when dropped, on any thread | transfer buffers: bytes handed from shard to shard or to I/O without allocating |
//!
//! **Mailbox.** A thin, documented wrapper over [`heapless::Deque`]: `try_push` hands the item
//! back when full. Use it where the bound is a compile-time constant.
//!
//! **Pool.** Slots are split into an ordinary region and a reserved region. Ordinary
//! allocations ([`Pool::try_alloc`]) can only take ordinary slots; control allocations
//! ([`Pool::try_alloc_reserved`]) take reserved slots first and ordinary ones after, so a
//! flood of data can never starve a timer or a restart. `free + allocated == total` is
//! checkable at any time with [`Pool::check`].
//!
//! **Ring.** Lock-free, with `unsafe` code at its core. Its protocol — who owns which
//! cursor, which store pairs with which load — is in the [`ring`] module docs and is
//! model-checked with loom (`RUSTFLAGS="--cfg loom" cargo test -p tina-mailbox --release
//! --test loom_ring`).
//!
//! **BufferPool.** One size class per pool: `capacity` blocks of `block_size` bytes in one
//! allocation made at construction, and a bitmap of atomic words, one bit per block.
//! [`BufferPool::try_take`] clears a bit (`Acquire`) and hands out a [`Buffer`] of length 0;
//! dropping the buffer sets the bit again (`Release`), so a buffer may be sent to another
//! shard's thread and dropped there. [`BufferPool::stats`] reports capacity, free and taken.
//! Like the ring it uses `unsafe` (a buffer hands out `&mut [u8]` to its block of the shared
//! pool) and is model-checked with loom (`--test loom_buffer`).

mod buffer;
mod loom;
mod mailbox;
mod pool;
pub mod ring;
mod seq;

pub use buffer::{Buffer, BufferPool, BufferStats};
pub use mailbox::Mailbox;
pub use pool::{List, Pool, PoolIndex, PoolStats, Queue, SLOTS_MAX};
pub use ring::{Batch, Consumer, Producer, Ring};
pub use seq::{SeqCell, SeqWriter};

/// Builds a boxed slice of `len` items made by `make`, reserving its memory first, so an
/// allocation the allocator refuses is an error for the caller instead of an abort.
pub(crate) fn try_boxed_slice<T>(
    len: usize,
    make: impl FnMut(usize) -> T,
) -> Result<Box<[T]>, std::collections::TryReserveError> {
    let mut items = Vec::new();
    items.try_reserve_exact(len)?;
    items.extend((0..len).map(make));
    Ok(items.into_boxed_slice())
}
