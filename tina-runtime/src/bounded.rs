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
//! fixed-capacity pool, say) may implement the trait by hand; doing so is a promise that the
//! memory it owns is bounded.

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
use crate::isolate::{CallError, CallResult};
use crate::sim::{Domain, Rng};
use crate::supervision::{GroupId, OverloadPolicy, Restart, RestartBudget, Strategy};
use crate::timer::TimerId;

// `#[diagnostic::do_not_recommend]` keeps an impl out of the "other types implement `Bounded`"
// list of an error, which would otherwise be a wall of integer and `heapless` types. The
// containers users meet most (`Option`, `Result`, arrays, `CallResult`) stay listed, so an
// error about `Option<T>` still says that `T` is the problem and suggests the bound.

/// A type whose values own no heap memory that can grow: its size is fixed at compile time.
///
/// Every message type, the init args and every field of an isolate's state must be
/// `Bounded`; `#[isolate]` asserts it. Derive it for your own types with
/// `#[derive(Bounded)]`, which requires every field to be `Bounded` too.
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
pub trait Bounded {}

macro_rules! bounded {
    ($($type:ty),* $(,)?) => {
        $(
            #[diagnostic::do_not_recommend]
            impl Bounded for $type {}
        )*
    };
}

bounded! {
    u8, u16, u32, u64, u128, usize,
    i8, i16, i32, i64, i128, isize,
    f32, f64, bool, char, (),
    Duration, Infallible, Ordering, PhantomPinned,
    IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6,
    Instant, ShardId, RawHandle, TimerId, CallError, SendErrorKind, ReplyTo,
    SpawnError, TimerError, BufferError, Rng, Domain, Counters,
    Restart, RestartBudget, Strategy, OverloadPolicy, GroupId,
    NonZero<u8>, NonZero<u16>, NonZero<u32>, NonZero<u64>, NonZero<u128>, NonZero<usize>,
    NonZero<i8>, NonZero<i16>, NonZero<i32>, NonZero<i64>, NonZero<i128>, NonZero<isize>,
}

impl<T: Bounded, const N: usize> Bounded for [T; N] {}
impl<T: Bounded> Bounded for Option<T> {}
impl<T: Bounded, E: Bounded> Bounded for Result<T, E> {}
#[diagnostic::do_not_recommend]
impl<T: Bounded> Bounded for Wrapping<T> {}
#[diagnostic::do_not_recommend]
impl<T: Bounded> Bounded for Saturating<T> {}
#[diagnostic::do_not_recommend]
impl<T: Bounded> Bounded for Reverse<T> {}
#[diagnostic::do_not_recommend]
impl<T: Bounded> Bounded for Cell<T> {}
#[diagnostic::do_not_recommend]
impl<T: Bounded> Bounded for Range<T> {}
#[diagnostic::do_not_recommend]
impl<T: Bounded> Bounded for RangeInclusive<T> {}
#[diagnostic::do_not_recommend]
impl<T: ?Sized> Bounded for PhantomData<T> {}
#[diagnostic::do_not_recommend]
impl<H> Bounded for BuildHasherDefault<H> {}
/// A `'static` string owns nothing: a fine message field for names and reasons. (Only
/// `str`: a blanket `&'static T` impl would make the compiler suggest borrowing a message
/// whenever it is not `Bounded`.)
#[diagnostic::do_not_recommend]
impl Bounded for &'static str {}

/// A handle names an isolate; it owns nothing.
#[diagnostic::do_not_recommend]
impl<T> Bounded for Handle<T> {}
/// A transfer buffer is one block of a pool sized at boot.
impl Bounded for tina_mailbox::Buffer {}
/// A socket names an entry of its shard's fixed socket table; it owns nothing.
impl Bounded for crate::io::Socket {}
/// An I/O event holds a socket, a reason, or one pool block.
impl Bounded for crate::io::IoEvent {}
/// A socket on its way to another isolate: one file descriptor.
impl Bounded for crate::io::SocketTransfer {}
impl Bounded for crate::io::IoError {}
impl Bounded for crate::io::Wait {}
impl Bounded for crate::io::SocketOption {}
impl<R: Bounded> Bounded for CallResult<R> {}

macro_rules! bounded_tuples {
    ($(($($name:ident),+))*) => {
        $(
            #[diagnostic::do_not_recommend]
            impl<$($name: Bounded),+> Bounded for ($($name,)+) {}
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
impl<T: Bounded, const N: usize, L: heapless::LenType> Bounded for heapless::Vec<T, N, L> {}
#[diagnostic::do_not_recommend]
impl<const N: usize, L: heapless::LenType> Bounded for heapless::String<N, L> {}
#[diagnostic::do_not_recommend]
impl<const N: usize, L: heapless::LenType> Bounded for heapless::CString<N, L> {}
#[diagnostic::do_not_recommend]
impl<T: Bounded, const N: usize> Bounded for heapless::Deque<T, N> {}
#[diagnostic::do_not_recommend]
impl<T: Bounded, const N: usize> Bounded for heapless::HistoryBuf<T, N> {}
#[diagnostic::do_not_recommend]
impl<T: Bounded, K: heapless::binary_heap::Kind, const N: usize> Bounded
    for heapless::BinaryHeap<T, K, N>
{
}
#[diagnostic::do_not_recommend]
impl<K: Bounded, V: Bounded, const N: usize> Bounded for heapless::LinearMap<K, V, N> {}
#[diagnostic::do_not_recommend]
impl<K: Bounded, V: Bounded, S, const N: usize> Bounded for heapless::IndexMap<K, V, S, N> {}
#[diagnostic::do_not_recommend]
impl<T: Bounded, S, const N: usize> Bounded for heapless::IndexSet<T, S, N> {}

#[cfg(test)]
mod tests {
    use super::Bounded;

    fn assert_bounded<T: Bounded + ?Sized>() {}

    #[test]
    fn building_blocks_are_bounded() {
        assert_bounded::<(u8, i64, f64, bool, char, ())>();
        assert_bounded::<[Option<u32>; 4]>();
        assert_bounded::<Result<core::time::Duration, crate::CallError>>();
        assert_bounded::<crate::CallResult<(u64, crate::Handle<()>)>>();
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
