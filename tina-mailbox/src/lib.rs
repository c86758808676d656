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
//! **Ring.** The only structure here with `unsafe` code. Its protocol — who owns which
//! cursor, which store pairs with which load — is in the [`ring`] module docs and is
//! model-checked with loom (`RUSTFLAGS="--cfg loom" cargo test -p tina-mailbox --release
//! --test loom_ring`).

mod loom;
mod mailbox;
mod pool;
pub mod ring;

pub use mailbox::Mailbox;
pub use pool::{List, Pool, PoolIndex, PoolStats, Queue, SLOTS_MAX};
pub use ring::{Batch, Consumer, Producer, Ring};
