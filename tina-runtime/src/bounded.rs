//! `Bounded`: the compiler-checked promise that a value owns no heap memory that can grow.
//!
//! Tina sizes everything at boot. A message travels inline in a 64-byte envelope, init args
//! are kept for restarts, and an isolate's state lives in a slot allocated once. A `Vec`,
//! `String`, `Box` or `HashMap` anywhere in those would let one isolate grow without limit
//! and bring the whole shard down with it, so the `#[isolate]` macro asserts that every
//! message type, the init args and every field of the state implement [`Bounded`].
//!
//! The trait is implemented here for the building blocks that cannot grow — integers,
//! `bool`, `char`, `&'static str`, arrays, tuples, `Option`, `Result`, `Duration`, the
//! runtime's own handles and the fixed-capacity `heapless` collections — and deliberately
//! **not** for `Vec`,
//! `String`, `Box`, `HashMap`, `HashSet`, `BTreeMap`, `BTreeSet`, `VecDeque`, `LinkedList`,
//! `BinaryHeap`, `Rc` or `Arc`. User types opt in with `#[derive(Bounded)]` (from the `tina`
//! facade), which checks every field, so the rule holds through nested types, type aliases
//! and generics: the compiler, not a name match, decides.
//!
//! A type that owns something the compiler cannot see through (a handle into a
//! fixed-capacity pool, say) may claim the trait by hand, and because the whole guarantee rests
//! on that claim, the trait is `unsafe`: a hand claim is an explicit, greppable
//! `unsafe impl Bounded for …` whose `// SAFETY:` comment says why the memory it owns cannot
//! grow. `#[derive(Bounded)]` makes the same claim only after the compiler has checked every
//! field, so it is the normal path.

use core::cell::Cell;
use core::cmp::{Ordering, Reverse};
use core::convert::Infallible;
use core::hash::BuildHasherDefault;
use core::marker::{PhantomData, PhantomPinned};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use core::num::{NonZero, Saturating, Wrapping};
use core::ops::{Range, RangeInclusive};
use core::time::Duration;

use crate::clock::Instant;
use crate::counters::Counters;
use crate::ctx::ReplyTo;
use crate::error::{BufferError, SendErrorKind, SpawnError, TimerError};
use crate::handle::{Handle, RawHandle, ShardId};
use crate::isolate::{CallError, CallResult, Request};
use crate::sim::{Domain, Rng};
use crate::supervision::{GroupId, OverloadPolicy, Restart, RestartBudget, Strategy};
use crate::timer::TimerId;

// `#[diagnostic::do_not_recommend]` keeps an impl out of the "other types implement `Bounded`"
// list of an error, which would otherwise be a wall of integer and `heapless` types. The
// containers users meet most (`Option`, `Result`, arrays, `CallResult`) stay listed, so an
// error about `Option<T>` still says that `T` is the problem and suggests the bound.

/// A type whose values own no heap memory that can grow: its size is fixed at compile time.
///
/// Every message type, the init args, every reply and an isolate's state must be `Bounded`:
/// the [`Isolate`](crate::Isolate), [`Message`](crate::Message) and
/// [`Request`](crate::Request) traits require it, so a hand-written isolate is held to the
/// same rule as a generated one. Derive it for your own types with `#[derive(Bounded)]`,
/// which requires every field to be `Bounded` too.
///
/// # Safety
///
/// Implementing `Bounded` is a promise the runtime relies on to size everything at boot: a
/// value of the type never owns more memory than a limit fixed before the program runs (its
/// own `size_of`, plus at most a fixed-capacity block it holds a handle to). Every field of
/// the type must itself be `Bounded` or be covered by that promise. A type holding a `Vec`,
/// `String`, `Box`, `HashMap`, `Rc`, `Arc` or anything else that can grow must not implement
/// it. Prefer `#[derive(Bounded)]`, which checks every field and never needs `unsafe`; write
/// `unsafe impl Bounded for YourType {}` only for a type the compiler cannot see through,
/// with a `// SAFETY:` comment stating the bound.
///
/// ```
/// use tina_runtime::Bounded;
///
/// fn assert_bounded<T: Bounded>() {}
///
/// assert_bounded::<(u64, [u8; 16], Option<char>)>();
/// assert_bounded::<heapless::Vec<u32, 8>>();
/// ```
///
/// ```compile_fail
/// use tina_runtime::Bounded;
///
/// fn assert_bounded<T: Bounded>() {}
///
/// assert_bounded::<Vec<u32>>(); // can grow without limit
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not `Bounded`: it may own heap memory that grows without limit",
    label = "not known to be bounded",
    note = "messages, init args and isolate state must have a size fixed at compile time: instead of `Vec`, `String`, `Box`, `HashMap`, `Rc`, `Arc`, … use `heapless::Vec<T, N>`, `heapless::String<N>`, arrays, or a transfer buffer (`tina::Buffer`)",
    note = "for a type of your own, add `#[derive(Bounded)]`: it checks every field"
)]
pub unsafe trait Bounded {
    /// Names the claim in generated checks (`<T as Bounded>::CHECKED`), so a failed check
    /// reads as "`T` is not `Bounded`" with no helper function in the notes.
    #[doc(hidden)]
    const CHECKED: () = ();
}

macro_rules! bounded {
    ($($type:ty),* $(,)?) => {
        $(
            #[diagnostic::do_not_recommend]
            // A plain value type of the standard library or of this crate.
            // SAFETY: it owns no heap memory at all.
            unsafe impl Bounded for $type {}
        )*
    };
}

bounded! {
    u8, u16, u32, u64, u128, usize,
    i8, i16, i32, i64, i128, isize,
    f32, f64, bool, char, (),
    Duration, Infallible, Ordering, PhantomPinned,
    IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6,
    Instant, ShardId, RawHandle, TimerId, CallError, SendErrorKind,
    std::time::Instant, std::time::SystemTime,
    SpawnError, TimerError, BufferError, Rng, Domain, Counters,
    Restart, RestartBudget, Strategy, OverloadPolicy, GroupId,
    crate::stats::CounterId, crate::stats::HistogramId,
    NonZero<u8>, NonZero<u16>, NonZero<u32>, NonZero<u64>, NonZero<u128>, NonZero<usize>,
    NonZero<i8>, NonZero<i16>, NonZero<i32>, NonZero<i64>, NonZero<i128>, NonZero<isize>,
}

// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl<T: Bounded, const N: usize> Bounded for [T; N] {}
// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl<T: Bounded> Bounded for Option<T> {}
// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl<T: Bounded, E: Bounded> Bounded for Result<T, E> {}
#[diagnostic::do_not_recommend]
// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl<T: Bounded> Bounded for Wrapping<T> {}
#[diagnostic::do_not_recommend]
// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl<T: Bounded> Bounded for Saturating<T> {}
#[diagnostic::do_not_recommend]
// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl<T: Bounded> Bounded for Reverse<T> {}
#[diagnostic::do_not_recommend]
// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl<T: Bounded> Bounded for Cell<T> {}
#[diagnostic::do_not_recommend]
// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl<T: Bounded> Bounded for Range<T> {}
#[diagnostic::do_not_recommend]
// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl<T: Bounded> Bounded for RangeInclusive<T> {}
#[diagnostic::do_not_recommend]
// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl<T: ?Sized> Bounded for PhantomData<T> {}
#[diagnostic::do_not_recommend]
// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl<H> Bounded for BuildHasherDefault<H> {}
/// A `'static` string owns nothing: a fine message field for names and reasons. (Only
/// `str` and slices: a blanket `&'static T` impl would make the compiler suggest borrowing a
/// message whenever it is not `Bounded`.)
#[diagnostic::do_not_recommend]
// SAFETY: a borrow of data that lives for the whole program owns nothing.
unsafe impl Bounded for &'static str {}
/// A `'static` slice (a table compiled into the program, `b"bytes"`) owns nothing.
#[diagnostic::do_not_recommend]
// SAFETY: a borrow of data that lives for the whole program owns nothing.
unsafe impl<T: Bounded> Bounded for &'static [T] {}

macro_rules! bounded_functions {
    ($(($($argument:ident),*))*) => {
        $(
            #[diagnostic::do_not_recommend]
            // SAFETY: a function pointer is an address in the program's code: it owns nothing.
            unsafe impl<Output, $($argument),*> Bounded for fn($($argument),*) -> Output {}
        )*
    };
}

bounded_functions! {
    ()
    (A)
    (A, B)
    (A, B, C)
    (A, B, C, D)
    (A, B, C, D, E)
    (A, B, C, D, E, F)
}

/// A handle names an isolate; it owns nothing.
#[diagnostic::do_not_recommend]
// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl<T> Bounded for Handle<T> {}
/// A transfer buffer is one block of a pool sized at boot.
// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl Bounded for tina_mailbox::Buffer {}
// A socket names an entry of its shard's fixed socket table, an I/O event holds a socket, a
// reason or one pool block, a transfer holds one descriptor: none owns growable memory.
#[diagnostic::do_not_recommend]
// SAFETY: so nothing in them can grow.
unsafe impl Bounded for crate::io::Socket {}
#[diagnostic::do_not_recommend]
// SAFETY: as above (a socket, a reason, or one pool block).
unsafe impl Bounded for crate::io::IoEvent {}
#[diagnostic::do_not_recommend]
// SAFETY: as above (one file descriptor, or one simulated stream and its network's handle).
unsafe impl Bounded for crate::io::SocketTransfer {}
#[diagnostic::do_not_recommend]
// SAFETY: plain enums of integers.
unsafe impl Bounded for crate::io::IoError {}
#[diagnostic::do_not_recommend]
// SAFETY: a plain enum.
unsafe impl Bounded for crate::io::Wait {}
#[diagnostic::do_not_recommend]
// SAFETY: a plain enum of booleans.
unsafe impl Bounded for crate::io::SocketOption {}
// A call's outcome holds the reply, which `Request` requires to be `Bounded`, or an error.
// SAFETY: so nothing in it can grow.
unsafe impl<Q: Request> Bounded for CallResult<Q> {}
#[diagnostic::do_not_recommend]
// SAFETY: a reply address is plain data (a handle, a correlation id, a function pointer).
unsafe impl<Q: Request> Bounded for ReplyTo<Q> {}

/// Compiles only when `T` is [`Bounded`]: a compile-time check, which generated code calls
/// with the span of the checked type so that an error points at it.
#[inline(always)]
pub const fn assert_bounded<T: ?Sized + Bounded>() {}

/// Compiles only when `T` is `Send`: the check generated for every message type, at the
/// span of the handler's message, so a message that cannot cross threads is reported there.
#[inline(always)]
pub const fn assert_send<T: ?Sized + Send>() {}

macro_rules! bounded_tuples {
    ($(($($name:ident),+))*) => {
        $(
            #[diagnostic::do_not_recommend]
            // SAFETY: a tuple owns exactly its fields, each of which is `Bounded`.
            unsafe impl<$($name: Bounded),+> Bounded for ($($name,)+) {}
        )*
    };
}

bounded_tuples! {
    (A)
    (A, B)
    (A, B, C)
    (A, B, C, D)
    (A, B, C, D, E)
    (A, B, C, D, E, F)
    (A, B, C, D, E, F, G)
    (A, B, C, D, E, F, G, H)
    (A, B, C, D, E, F, G, H, I)
    (A, B, C, D, E, F, G, H, I, J)
    (A, B, C, D, E, F, G, H, I, J, K)
    (A, B, C, D, E, F, G, H, I, J, K, L)
}

// The fixed-capacity collections of `heapless`: their capacity is a const generic, so their
// size is known at compile time and they never allocate.
#[diagnostic::do_not_recommend]
// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl<T: Bounded, const N: usize, L: heapless::LenType> Bounded for heapless::Vec<T, N, L> {}
#[diagnostic::do_not_recommend]
// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl<const N: usize, L: heapless::LenType> Bounded for heapless::String<N, L> {}
#[diagnostic::do_not_recommend]
// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl<const N: usize, L: heapless::LenType> Bounded for heapless::CString<N, L> {}
#[diagnostic::do_not_recommend]
// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl<T: Bounded, const N: usize> Bounded for heapless::Deque<T, N> {}
#[diagnostic::do_not_recommend]
// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl<T: Bounded, const N: usize> Bounded for heapless::HistoryBuf<T, N> {}
#[diagnostic::do_not_recommend]
// SAFETY: a fixed-capacity heap stored inline; its items are `Bounded`.
unsafe impl<T: Bounded, K: heapless::binary_heap::Kind, const N: usize> Bounded
    for heapless::BinaryHeap<T, K, N>
{
}
#[diagnostic::do_not_recommend]
// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl<K: Bounded, V: Bounded, const N: usize> Bounded for heapless::LinearMap<K, V, N> {}
#[diagnostic::do_not_recommend]
// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl<K: Bounded, V: Bounded, S, const N: usize> Bounded for heapless::IndexMap<K, V, S, N> {}
#[diagnostic::do_not_recommend]
// Owns nothing beyond its parts, each required to be `Bounded` (a handle, a `PhantomData`,
// a hasher builder or a pool block owns no growable memory at all).
// SAFETY: so nothing in it can grow.
unsafe impl<T: Bounded, S, const N: usize> Bounded for heapless::IndexSet<T, S, N> {}

/// A stats reader shares one structure sized at boot (a cell per shard, fixed layout).
#[diagnostic::do_not_recommend]
// It owns an `Arc` of the shared statistics, whose size the boot spec fixed; reading
// never grows it.
// SAFETY: so it owns no growable memory.
unsafe impl Bounded for crate::stats::StatsReader {}

/// An exposition reserves its snapshot and its text at construction and never grows them.
#[diagnostic::do_not_recommend]
// Its snapshot is refilled in place (`StatsReader::read_into` reuses every vector once it
// has held a snapshot of the same system, which `Exposition::new` reads), and its text
// buffer refuses a write beyond the capacity it was given.
// SAFETY: so its memory is fixed when it is built.
unsafe impl Bounded for crate::stats::prometheus::Exposition {}

#[cfg(test)]
mod tests {
    use super::Bounded;

    fn assert_bounded<T: Bounded + ?Sized>() {}

    #[test]
    fn building_blocks_are_bounded() {
        assert_bounded::<(u8, i64, f64, bool, char, ())>();
        assert_bounded::<[Option<u32>; 4]>();
        assert_bounded::<Result<core::time::Duration, crate::CallError>>();
        assert_bounded::<&'static [u8]>();
        assert_bounded::<fn(u32) -> u64>();
        assert_bounded::<std::time::Instant>();
        assert_bounded::<&'static str>();
        assert_bounded::<core::num::NonZero<u64>>();
        assert_bounded::<heapless::Vec<u8, 16>>();
        assert_bounded::<heapless::String<32>>();
        assert_bounded::<heapless::Deque<u64, 8>>();
        assert_bounded::<heapless::index_map::FnvIndexMap<u32, heapless::String<8>, 16>>();
        assert_bounded::<heapless::index_set::FnvIndexSet<u32, 16>>();
        assert_bounded::<heapless::LinearMap<u8, u8, 4>>();
        assert_bounded::<heapless::BinaryHeap<u8, heapless::binary_heap::Max, 4>>();
    }
}
