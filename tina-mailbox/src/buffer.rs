//! Transfer buffers: a bounded pool of fixed-size byte blocks, handed out as move-only
//! [`Buffer`]s that give their block back when dropped, on whichever thread that happens.
//!
//! # Layout
//!
//! A [`BufferPool`] has one size class: `capacity` blocks of `block_size` bytes each, laid end
//! to end in a single zero-filled allocation made by [`BufferPool::new`]. Nothing here calls
//! the allocator again: taking and dropping a buffer only flips one bit. Because every byte
//! was written (with zero) at construction, every byte of every block is always initialised,
//! so [`Buffer::set_len`] may expose any prefix of the block without `unsafe`. A block that
//! comes back holds whatever its last holder left in it; a new holder sees length 0, and sees
//! the old bytes only if it grows its length without writing them first.
//!
//! # Protocol
//!
//! Which blocks are free is a bitmap of `AtomicU64` words, one bit per block, **set = free**.
//! Bits past `capacity` in the last word start cleared, so they are never taken.
//!
//! * **Take** ([`BufferPool::try_take`]): load a word (`Relaxed`, only a hint), pick its lowest
//!   set bit and clear it with **`fetch_and(!bit, Acquire)`**. If the value that `fetch_and`
//!   returns had the bit set, this caller cleared it and owns the block; otherwise another
//!   taker won it and the caller tries the next set bit of the value it got back. Scanning
//!   starts at the word where the last successful take happened (a `Relaxed` cursor, again
//!   only a hint), so takers do not all pile onto word 0. Every failed `fetch_and` means some
//!   other taker succeeded, so the take is lock-free.
//! * **Free** (`Drop for Buffer`): set the bit again with **`fetch_or(bit, Release)`**.
//!
//! The `Release` `fetch_or` of a block's last holder pairs with the `Acquire` `fetch_and` of
//! its next holder: everything the last holder did to the bytes happens before anything the
//! next holder does to them, even when the two run on different threads. Every change to a
//! word is a read-modify-write, so takes and frees of *other* bits in the same word between
//! the two continue the release sequence rather than breaking it.
//!
//! # Why handing out `&mut [u8]` from a shared pool is sound
//!
//! The pool is shared (`Arc<BufferPool>`), yet a [`Buffer`] hands out `&mut [u8]` to its block.
//! A block's bytes are reachable only through the one `Buffer` whose take cleared the block's
//! bit, and that bit is set again only by that `Buffer`'s `Drop`; so at most one `Buffer` per
//! block exists at any time, and Rust's borrow rules on that `Buffer` give `&mut self` the
//! exclusive access that `&mut [u8]` promises. The pool's own shared methods never touch the
//! bytes. The bytes live in `std::cell::UnsafeCell<u8>`s, which is what permits writing them
//! through a pointer derived from the shared pool.
//!
//! The protocol is model-checked with loom (`tests/loom_buffer.rs`, run with
//! `RUSTFLAGS="--cfg loom"`). loom cannot follow accesses made through the `&mut [u8]` a
//! buffer hands out, so each block also has a zero-sized `UnsafeCell<()>` from the loom shim
//! that every access to the block's bytes touches first: under loom that reports the access
//! to the model checker, which then checks that successive holders of a block are ordered by
//! happens-before; under std it occupies no memory and compiles to nothing.
//!
//! The pool is shared through `std::sync::Arc` even under loom, unlike the ring: the public
//! [`BufferPool::try_take`] takes `self: &Arc<Self>`, and only std's `Arc` may be a method
//! receiver on stable Rust. loom therefore does not model the pool's reference count, which
//! is std's code; it models everything the pool itself does with its atomics and blocks.

use core::fmt;
use core::mem::size_of;
use core::ops::{Deref, DerefMut};
use core::slice;

use std::sync::Arc;

use crate::loom::{AtomicU64, AtomicUsize, Ordering, UnsafeCell};

/// Bits in one word of the free bitmap.
const WORD_BITS: usize = u64::BITS as usize;

/// A bounded pool of `capacity` zero-filled byte blocks of `block_size` bytes each, allocated
/// once by [`BufferPool::new`] and handed out as [`Buffer`]s.
///
/// Taking ([`BufferPool::try_take`]) is lock-free and may run on several threads at once; a
/// [`Buffer`] gives its block back when it is dropped, on any thread.
///
/// Which blocks are free is a bitmap, one bit per block in atomic 64-bit words. A take clears
/// a free block's bit with an `Acquire` read-modify-write and a drop sets it again with a
/// `Release` one, so everything a buffer's holder did to the block happens before anything
/// its next holder does, whichever threads they run on.
///
/// ```
/// use tina_mailbox::BufferPool;
///
/// let pool = BufferPool::new(64, 2);
/// let mut buffer = pool.try_take().expect("a fresh pool has free blocks");
/// buffer.try_extend_from_slice(b"hello").expect("5 bytes fit in 64");
/// let shard = std::thread::spawn(move || {
///     assert_eq!(&buffer[..], b"hello");
///     // Dropped here, on another thread: the block goes back to the pool.
/// });
/// shard.join().unwrap();
/// assert_eq!(pool.free(), 2);
/// ```
pub struct BufferPool {
    /// Bytes per block; at least 1 and at most `u32::MAX`.
    block_size: usize,
    /// Number of blocks; at most `u32::MAX`.
    count: usize,
    /// `count * block_size` bytes, block `i` at `i * block_size..(i + 1) * block_size`. Zeroed
    /// at construction; read and written only through the [`Buffer`] holding the block.
    bytes: Box<[std::cell::UnsafeCell<u8>]>,
    /// One zero-sized cell per block, touched by every access to the block's bytes, so that
    /// loom sees those accesses (see the module docs). No memory under std.
    block_access: Box<[UnsafeCell<()>]>,
    /// The free bitmap: bit `i % 64` of word `i / 64` is set while block `i` is free. Bits
    /// at `count` and above are always clear.
    free_words: Box<[AtomicU64]>,
    /// The word where the last successful take found a block, where the next take starts
    /// looking. Only a hint: `Relaxed`, and any value below `free_words.len()` is correct.
    cursor_word: AtomicUsize,
}

// The pool's shared methods (`try_take`, `free`, `stats`, the getters) touch only the
// atomics and the immutable sizes, never the bytes in the `UnsafeCell`s. A block's bytes are
// reachable only through the one `Buffer` whose `fetch_and` cleared the block's free bit, and
// the bit is set again only when that `Buffer` is dropped, so no two `Buffer`s ever reach the
// same block and `&mut Buffer` is the only way to write it. The `Release` free and `Acquire`
// take order one holder's accesses before the next holder's, whichever threads they run on.
// So sharing the pool between threads (and, through `Arc`, sending `Buffer`s between them and
// sharing `&Buffer`) cannot make two threads race on a byte.
// SAFETY: so sharing the pool between threads is free of data races.
unsafe impl Sync for BufferPool {}

// `Send` is not implemented by hand: every field of the pool is `Send` already. `Buffer` is
// `Send + Sync` because `Arc<BufferPool>` is, by the `Sync` impl above.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<BufferPool>();
    assert_send_sync::<Buffer>();
};

impl BufferPool {
    /// `count` blocks of `block_size` bytes, zero-filled, allocated here and only here.
    ///
    /// A pool of 0 blocks is allowed; [`try_take`](Self::try_take) on it always returns
    /// `None`.
    ///
    /// # Panics
    ///
    /// If `block_size` is 0, if `block_size` or `count` exceeds `u32::MAX` (a [`Buffer`] keeps
    /// its length and its block index in a `u32`), or if `block_size * count` exceeds
    /// `isize::MAX` (the most one allocation can hold).
    pub fn new(block_size: usize, count: usize) -> Arc<BufferPool> {
        Self::try_new(block_size, count).unwrap_or_else(|error| {
            panic!(
                "BufferPool::new: {count} blocks of {block_size} bytes could not be allocated: \
                 {error}"
            )
        })
    }

    /// [`BufferPool::new`], with an allocation the allocator refuses returned as an error
    /// instead of ending the process.
    ///
    /// # Errors
    ///
    /// The allocator's refusal of the blocks or of their bitmap.
    ///
    /// # Panics
    ///
    /// As [`BufferPool::new`], for a size it cannot describe.
    pub fn try_new(
        block_size: usize,
        count: usize,
    ) -> Result<Arc<BufferPool>, std::collections::TryReserveError> {
        assert!(
            block_size > 0,
            "BufferPool::new: block_size must be at least 1 byte"
        );
        assert!(
            u32::try_from(block_size).is_ok(),
            "BufferPool::new: block_size of {block_size} bytes exceeds u32::MAX; \
             a Buffer keeps its length in a u32"
        );
        assert!(
            u32::try_from(count).is_ok(),
            "BufferPool::new: count of {count} blocks exceeds u32::MAX; \
             a Buffer keeps its block index in a u32"
        );
        let total_bytes = block_size
            .checked_mul(count)
            .filter(|&total| isize::try_from(total).is_ok())
            .unwrap_or_else(|| {
                panic!(
                    "BufferPool::new: {count} blocks of {block_size} bytes exceed isize::MAX \
                     bytes, the most one allocation can hold"
                )
            });

        // Written, not just allocated zeroed, so every page is in memory before the first
        // take rather than faulted in on the first write to it.
        let bytes = crate::try_boxed_slice(total_bytes, |_| std::cell::UnsafeCell::new(0))?;
        let block_access = crate::try_boxed_slice(count, |_| UnsafeCell::new(()))?;
        let word_count = count.div_ceil(WORD_BITS);
        let free_words = crate::try_boxed_slice(word_count, |word| {
            let blocks_in_word = (count - word * WORD_BITS).min(WORD_BITS);
            let bits = if blocks_in_word == WORD_BITS {
                u64::MAX
            } else {
                (1u64 << blocks_in_word) - 1
            };
            AtomicU64::new(bits)
        })?;

        Ok(Arc::new(BufferPool {
            block_size,
            count,
            bytes,
            block_access,
            free_words,
            cursor_word: AtomicUsize::new(0),
        }))
    }

    /// A free block as a [`Buffer`] of length 0, or `None` when every block is taken.
    ///
    /// Lock-free and safe to call from several threads at once. Under contention, a block
    /// freed while the scan is past its word may be missed, so `None` means "every block was
    /// taken when its word was looked at", a snapshot like [`free`](Self::free).
    #[must_use = "a taken buffer goes straight back to the pool when dropped"]
    pub fn try_take(self: &Arc<Self>) -> Option<Buffer> {
        let word_count = self.free_words.len();
        if word_count == 0 {
            return None;
        }
        let start_word = self.cursor_word.load(Ordering::Relaxed);
        let mut word_index = start_word;
        for _ in 0..word_count {
            let word = &self.free_words[word_index];
            let mut bits = word.load(Ordering::Relaxed);
            while bits != 0 {
                let bit = bits & bits.wrapping_neg();
                let previous = word.fetch_and(!bit, Ordering::Acquire);
                if previous & bit != 0 {
                    if word_index != start_word {
                        self.cursor_word.store(word_index, Ordering::Relaxed);
                    }
                    let index = word_index * WORD_BITS + bit.trailing_zeros() as usize;
                    debug_assert!(index < self.count, "a bit past the last block was set");
                    // Loom: the new holder's first access to the block, ordered after the
                    // last holder's by the fetch_and above.
                    self.block_access[index].with_mut(|_| ());
                    return Some(Buffer {
                        pool: Arc::clone(self),
                        // Cannot truncate: `index < count <= u32::MAX`.
                        index: index as u32,
                        len: 0,
                    });
                }
                // Another taker cleared `bit` first; `previous` is the word as it was just
                // before this `fetch_and`, so try its lowest set bit next.
                bits = previous;
            }
            word_index += 1;
            if word_index == word_count {
                word_index = 0;
            }
        }
        None
    }

    /// Bytes per block: the [`capacity`](Buffer::capacity) of every buffer from this pool.
    pub fn block_size(&self) -> usize {
        self.block_size
    }

    /// The number of blocks.
    pub fn capacity(&self) -> usize {
        self.count
    }

    /// The number of blocks free now; a snapshot that other threads may change at once.
    pub fn free(&self) -> usize {
        self.free_words
            .iter()
            .map(|word| word.load(Ordering::Relaxed).count_ones() as usize)
            .sum()
    }

    /// Capacity, free and taken blocks, from one snapshot of [`free`](Self::free).
    pub fn stats(&self) -> BufferStats {
        let free = self.free();
        BufferStats {
            capacity: self.count,
            free,
            taken: self.count - free,
        }
    }

    /// A pointer to the first byte of block `index`, valid for `block_size` bytes, with the
    /// provenance of the whole block.
    fn block_ptr(&self, index: u32) -> *mut u8 {
        let start = index as usize * self.block_size;
        let block = &self.bytes[start..start + self.block_size];
        std::cell::UnsafeCell::raw_get(block.as_ptr())
    }

    /// Gives block `index` back: sets its free bit.
    fn give_back(&self, index: u32) {
        let index = index as usize;
        // Loom: the holder's last access to the block, ordered before the next holder's by
        // the fetch_or below.
        self.block_access[index].with_mut(|_| ());
        let bit = 1u64 << (index % WORD_BITS);
        let previous = self.free_words[index / WORD_BITS].fetch_or(bit, Ordering::Release);
        debug_assert!(previous & bit == 0, "block {index} given back twice");
    }
}

impl fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferPool")
            .field("block_size", &self.block_size)
            .field("capacity", &self.count)
            .field("free", &self.free())
            .finish_non_exhaustive()
    }
}

/// A snapshot of a [`BufferPool`]'s accounting, from [`BufferPool::stats`]; `free + taken ==
/// capacity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferStats {
    /// The number of blocks in the pool.
    pub capacity: usize,
    /// Blocks no [`Buffer`] holds.
    pub free: usize,
    /// Blocks held by a [`Buffer`].
    pub taken: usize,
}

/// One block of a [`BufferPool`], holding `len` bytes of data; move-only, and the block goes
/// back to its pool when the buffer is dropped, on any thread.
///
/// Dereferences to the first `len` bytes. The bytes past `len` are reachable with
/// [`spare_mut`](Self::spare_mut): read into them, then [`set_len`](Self::set_len).
pub struct Buffer {
    /// The pool the block belongs to and returns to.
    pool: Arc<BufferPool>,
    /// The block's index in the pool; this buffer cleared its free bit.
    index: u32,
    /// Bytes of data at the start of the block; at most `pool.block_size`.
    len: u32,
}

// A buffer is one pointer and two `u32`s, small enough to move through a ring by value.
const _: () = assert!(
    size_of::<Buffer>() <= 16,
    "Buffer grew past 16 bytes: an Arc and two u32s"
);

impl Buffer {
    /// The block size in bytes: the most data this buffer can hold.
    pub fn capacity(&self) -> usize {
        self.pool.block_size
    }

    /// Bytes of data in the buffer.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the buffer holds no data.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sets the length of the data to `len` bytes, the block's first `len` bytes.
    ///
    /// Every byte of a block is always initialised (zeroed when the pool was built, then
    /// whatever a holder wrote), so any `len` up to the capacity is sound; bytes not written
    /// by this holder are zero or left over from an earlier holder.
    ///
    /// # Panics
    ///
    /// If `len` exceeds [`capacity`](Self::capacity).
    pub fn set_len(&mut self, len: usize) {
        let capacity = self.capacity();
        assert!(
            len <= capacity,
            "Buffer::set_len: length {len} exceeds the buffer's capacity of {capacity} bytes"
        );
        // Cannot truncate: `len <= block_size <= u32::MAX`.
        self.len = len as u32;
    }

    /// Sets the length to 0.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends `bytes` after the data.
    ///
    /// # Errors
    ///
    /// If `bytes` does not fit, writes nothing and returns `Err` with the room left in bytes.
    pub fn try_extend_from_slice(&mut self, bytes: &[u8]) -> Result<(), usize> {
        let spare = self.spare_mut();
        let room = spare.len();
        let Some(destination) = spare.get_mut(..bytes.len()) else {
            return Err(room);
        };
        destination.copy_from_slice(bytes);
        // Cannot truncate: the new length is at most `block_size <= u32::MAX`.
        self.len += bytes.len() as u32;
        Ok(())
    }

    /// The data: the first [`len`](Self::len) bytes of the block.
    pub fn as_slice(&self) -> &[u8] {
        let len = self.len();
        &self.block()[..len]
    }

    /// The data, mutably: the first [`len`](Self::len) bytes of the block.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let len = self.len();
        &mut self.block_mut()[..len]
    }

    /// The bytes past the data, `len..capacity`: read into them, then
    /// [`set_len`](Self::set_len) to take them into the data.
    pub fn spare_mut(&mut self) -> &mut [u8] {
        let len = self.len();
        &mut self.block_mut()[len..]
    }

    /// The pool this buffer's block returns to.
    pub fn pool(&self) -> &Arc<BufferPool> {
        &self.pool
    }

    /// The whole block, shared.
    fn block(&self) -> &[u8] {
        let pool = &*self.pool;
        pool.block_access[self.index as usize].with(|_| ());
        let start = pool.block_ptr(self.index);
        // `start` points at `block_size` initialised bytes (zeroed by `new`, written only as
        // `u8`s since) inside `pool.bytes`, kept alive by this buffer's `Arc` for the borrow
        // of `self`. This buffer cleared the block's free bit and no other buffer can hold
        // the block until this one is dropped, so the only writes go through `block_mut`,
        // which needs `&mut self` and cannot overlap this borrow; the bytes are `UnsafeCell`s.
        // SAFETY: so the bytes are valid, live and not written while the slice exists.
        unsafe { slice::from_raw_parts(start, pool.block_size) }
    }

    /// The whole block, exclusively.
    fn block_mut(&mut self) -> &mut [u8] {
        let pool = &*self.pool;
        pool.block_access[self.index as usize].with_mut(|_| ());
        let start = pool.block_ptr(self.index);
        // `start` points at `block_size` initialised bytes inside `pool.bytes`, kept alive by
        // this buffer's `Arc` for the borrow of `self`. This buffer cleared the block's free
        // bit and holds it until dropped, so no other buffer reaches these bytes, the pool
        // never touches them, and `&mut self` rules out any other borrow of them. The
        // previous holder's accesses happen before ours (its `Release` free, our `Acquire`
        // take); the bytes are `UnsafeCell`s.
        // SAFETY: so the returned slice is the only reference to valid, live bytes.
        unsafe { slice::from_raw_parts_mut(start, pool.block_size) }
    }
}

impl Deref for Buffer {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }
}

impl fmt::Debug for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffer")
            .field("index", &self.index)
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        self.pool.give_back(self.index);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn bits_past_the_last_block_start_clear() {
        let pool = BufferPool::new(1, 65);
        assert_eq!(pool.free_words.len(), 2);
        assert_eq!(pool.free_words[0].load(Ordering::Relaxed), u64::MAX);
        assert_eq!(pool.free_words[1].load(Ordering::Relaxed), 1);
        assert_eq!(pool.free(), 65);
    }

    #[test]
    fn a_whole_last_word_is_all_free() {
        let pool = BufferPool::new(1, 128);
        assert_eq!(pool.free_words.len(), 2);
        assert!(
            pool.free_words
                .iter()
                .all(|word| word.load(Ordering::Relaxed) == u64::MAX)
        );
    }

    #[test]
    fn the_cursor_follows_the_last_successful_take_and_wraps() {
        let pool = BufferPool::new(1, 130);
        let first: Vec<Buffer> = (0..64).map(|_| pool.try_take().unwrap()).collect();
        assert_eq!(pool.cursor_word.load(Ordering::Relaxed), 0);
        let in_second = pool.try_take().unwrap();
        assert_eq!(in_second.index, 64);
        assert_eq!(pool.cursor_word.load(Ordering::Relaxed), 1);
        drop(first);
        // 63 blocks left in word 1 and 2 in word 2 are taken before the take wraps to word 0.
        let mut rest: Vec<Buffer> = (0..65).map(|_| pool.try_take().unwrap()).collect();
        assert_eq!(pool.cursor_word.load(Ordering::Relaxed), 2);
        rest.push(pool.try_take().unwrap());
        assert_eq!(rest.last().unwrap().index, 0);
        assert_eq!(pool.cursor_word.load(Ordering::Relaxed), 0);
        rest.extend((0..63).map(|_| pool.try_take().unwrap()));
        assert!(pool.try_take().is_none());
        assert_eq!(pool.free(), 0);
        drop((in_second, rest));
        assert_eq!(pool.free(), 130);
    }

    #[test]
    fn a_pool_of_no_blocks_has_nothing_to_take() {
        let pool = BufferPool::new(8, 0);
        assert!(pool.try_take().is_none());
        assert_eq!(
            pool.stats(),
            BufferStats {
                capacity: 0,
                free: 0,
                taken: 0
            }
        );
    }

    #[test]
    fn blocks_lie_end_to_end_without_overlap() {
        let pool = BufferPool::new(3, 4);
        let mut buffers: Vec<Buffer> = (0..4).map(|_| pool.try_take().unwrap()).collect();
        for buffer in &mut buffers {
            let fill = buffer.index as u8 + 1;
            buffer.spare_mut().fill(fill);
        }
        let bytes: Vec<u8> = pool.bytes.iter().map(read_byte).collect();
        assert_eq!(bytes, [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
    }

    /// Reads a byte of the pool's storage directly; only for tests, where no buffer writes it at the
    /// same time.
    fn read_byte(byte: &std::cell::UnsafeCell<u8>) -> u8 {
        // The test reads after every write, on the same thread, with no `&mut` to the block
        // alive.
        // SAFETY: so the read races with nothing.
        unsafe { *byte.get() }
    }
}
