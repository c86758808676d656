//! Envelopes: the fixed-size unit every message travels in.
//!
//! An envelope is a small header (target, sender, deadline, correlation, kind) plus an
//! inline payload of [`PAYLOAD_BYTES`] bytes holding one value of a type only the sender and
//! the receiver know statically. Envelopes live in the shard's envelope pool while they wait
//! in a mailbox and travel by value through the cross-shard rings, so a message is never
//! boxed and the steady state never allocates.
//!
//! This module holds the runtime's main `unsafe` code: writing a typed value into the payload
//! bytes and reading it back. (The others: the signal handler in `signal.rs`, and the call
//! table's type-erased decoder pointer in `shard/calls.rs`.) The invariants are kept by construction — a payload
//! is written only by [`Payload::write`], whose compile-time assertions guarantee the value
//! fits and is suitably aligned, and it remembers how to drop its value, so a payload is read
//! out ([`Payload::take`]) or dropped exactly once.

use core::any::TypeId;
use core::mem::{MaybeUninit, align_of, size_of};

use crate::handle::RawHandle;

/// Bytes of inline payload in every envelope: the largest message an isolate may accept.
pub const PAYLOAD_BYTES: usize = 64;
/// The strictest alignment a message type may have.
pub const PAYLOAD_ALIGN: usize = 8;

/// Whether a value of type `T` fits an envelope's inline payload.
pub const fn fits_payload<T>() -> bool {
    size_of::<T>() <= PAYLOAD_BYTES && align_of::<T>() <= PAYLOAD_ALIGN
}

/// Raw payload storage: 64 bytes, 8-aligned.
#[repr(C, align(8))]
struct Bytes([MaybeUninit<u8>; PAYLOAD_BYTES]);

/// What a payload knows about the type of its value: one static table per type.
struct ValueType {
    /// The type's identity, checked on every read (inline: no call to compare).
    type_id: TypeId,
    /// Drops a value of the type in place.
    drop_value: unsafe fn(*mut u8),
}

/// Gives every `T` its static [`ValueType`] table.
struct TypeTable<T>(core::marker::PhantomData<T>);

impl<T: 'static> TypeTable<T> {
    const TABLE: ValueType = ValueType {
        type_id: TypeId::of::<T>(),
        drop_value: if core::mem::needs_drop::<T>() {
            drop_in_place_as::<T>
        } else {
            drop_nothing
        },
    };
}

/// An inline payload holding at most one value, of a type known only through its table.
pub(crate) struct Payload {
    bytes: Bytes,
    /// The value's type; `None` when the payload is empty.
    value_type: Option<&'static ValueType>,
}

/// The drop of a type without drop glue: nothing to run, nothing that can panic.
///
/// # Safety
///
/// Always safe to call; `unsafe` only to share the table's function-pointer type.
unsafe fn drop_nothing(_pointer: *mut u8) {}

/// Drops a `T` that lives at `pointer`.
///
/// # Safety
///
/// `pointer` must point to an initialised, suitably aligned `T` that is not used afterwards.
unsafe fn drop_in_place_as<T>(pointer: *mut u8) {
    // A payload is dropped by the runtime (a message refused on arrival, a mailbox drained in
    // teardown, an expired request, a timer whose target is gone), never by user code, so a
    // panicking `Drop` of the user's type is caught here: it must not unwind into the shard.
    crate::supervision::crash::caught(|| {
        // The caller guarantees an initialised, aligned `T` that nobody uses
        // afterwards; if its `Drop` panics, the rest of the value is leaked, never dropped
        // twice (the payload forgot its type before calling this).
        // SAFETY: so the value is dropped exactly once.
        unsafe { core::ptr::drop_in_place(pointer.cast::<T>()) }
    });
}

impl Payload {
    /// An empty payload.
    #[inline]
    pub(crate) const fn empty() -> Self {
        Self {
            bytes: Bytes([MaybeUninit::uninit(); PAYLOAD_BYTES]),
            value_type: None,
        }
    }

    /// A payload holding `value`. Fails to compile when `T` does not fit.
    #[inline]
    pub(crate) fn new<T: Send + 'static>(value: T) -> Self {
        let mut payload = Self::empty();
        payload.write(value);
        payload
    }

    /// Stores `value`, dropping any previous one.
    #[inline]
    pub(crate) fn write<T: Send + 'static>(&mut self, value: T) {
        const {
            assert!(
                fits_payload::<T>(),
                "this message type does not fit an envelope's inline payload (64 bytes, align 8): \
                 shrink it, or carry the bulk in a transfer buffer (`tina::Buffer`, from `ctx.buffer(len)`)"
            )
        };
        self.clear();
        // `Bytes` is 8-aligned and 64 bytes long, and the const assertion above guarantees
        // `size_of::<T>() <= 64` and `align_of::<T>() <= 8`.
        // The payload was cleared above, so nothing is overwritten without being dropped.
        // SAFETY: so the write stays in bounds, is aligned and leaks nothing.
        unsafe { self.bytes.0.as_mut_ptr().cast::<T>().write(value) };
        self.value_type = Some(&TypeTable::<T>::TABLE);
    }

    /// Whether the payload holds a value of type `T`.
    #[inline]
    pub(crate) fn holds<T: 'static>(&self) -> bool {
        self.value_type
            .is_some_and(|value_type| value_type.type_id == TypeId::of::<T>())
    }

    /// Moves the value out, if the payload holds a `T`; the payload is empty afterwards.
    #[inline]
    pub(crate) fn take<T: 'static>(&mut self) -> Option<T> {
        if !self.holds::<T>() {
            return None;
        }
        self.value_type = None;
        // The type table said the bytes hold an initialised `T`, written by `write` at
        // the start of the 8-aligned buffer. Clearing the table first means the value is
        // moved out exactly once and never dropped in place afterwards.
        // SAFETY: so the read yields the one live `T`.
        Some(unsafe { self.bytes.0.as_ptr().cast::<T>().read() })
    }

    /// Drops the value, if any.
    #[inline]
    pub(crate) fn clear(&mut self) {
        if let Some(value_type) = self.value_type.take() {
            // The table is set only by `write`, together with an initialised value of
            // its type at the start of the buffer; taking it first guarantees the value is
            // dropped once.
            // SAFETY: so the value is dropped exactly once.
            unsafe { (value_type.drop_value)(self.bytes.0.as_mut_ptr().cast::<u8>()) };
        }
    }

    /// Whether the payload holds no value.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.value_type.is_none()
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        self.clear();
    }
}

/// One function pointer that answers the two type questions an envelope can be asked, so
/// both fit one header field (a request and a bounceable message never meet in one
/// envelope): called with `Some(type_id)` on a request's helper, whether `type_id` is the
/// declared reply type; called with `None` on a message's or spawn's helper, turns its
/// payload back into the value sent (true when it did).
pub(crate) type TypeHelper = fn(&mut Payload, Option<TypeId>) -> bool;

/// The helper of a request whose reply type is `R`.
pub(crate) fn reply_is<R: 'static>(_payload: &mut Payload, asked: Option<TypeId>) -> bool {
    asked == Some(TypeId::of::<R>())
}

/// What an envelope carries, and so how the receiving shard treats it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An ordinary message for the target's mailbox.
    User,
    /// A request: like `User`, but carries the caller, a correlation id and a deadline.
    Request,
    /// A reply to the call with `correlation`; its payload is the reply value.
    Reply,
    /// Starts a freshly reserved slot; the payload holds the init args.
    Init,
    /// A request from a thread outside the system: like `Request`, but `from`'s slot field
    /// names an external call slot and `correlation` that call's sequence number.
    ExternalRequest,
}

/// The header and payload of one message.
pub(crate) struct Envelope {
    /// Who the envelope is for.
    pub(crate) target: RawHandle,
    /// For requests: the caller the reply goes back to.
    pub(crate) from: RawHandle,
    /// For requests: the caller's deadline, in runtime nanoseconds; `u64::MAX` for none.
    pub(crate) deadline_nanos: u64,
    /// For requests and replies: pairs a reply with its call.
    pub(crate) correlation: u32,
    /// What the envelope knows about types beyond its payload's own (see [`TypeHelper`]):
    /// for requests, the reply type the caller expects; for messages and spawns sent to
    /// another shard, how to turn the payload back into the value sent, should it bounce.
    /// What this is.
    pub(crate) kind: Kind,
    pub(crate) helper: Option<TypeHelper>,
    /// Set when the envelope travels back to its sender as a bounce: why it was refused.
    pub(crate) bounced: Option<crate::error::SendErrorKind>,
    /// The value.
    pub(crate) payload: Payload,
}

impl Envelope {
    /// A reply to the call `correlation` of `caller`, carrying `payload`.
    #[inline]
    pub(crate) fn reply(
        caller: RawHandle,
        from: RawHandle,
        correlation: u32,
        payload: Payload,
    ) -> Self {
        Self {
            target: caller,
            from,
            deadline_nanos: u64::MAX,
            correlation,
            helper: None,
            kind: Kind::Reply,
            bounced: None,
            payload,
        }
    }

    /// A plain message envelope.
    #[inline]
    pub(crate) fn user(target: RawHandle, payload: Payload) -> Self {
        Self {
            target,
            from: target,
            deadline_nanos: u64::MAX,
            correlation: 0,
            helper: None,
            kind: Kind::User,
            bounced: None,
            payload,
        }
    }

    /// A message from `from` to an isolate on another shard: it carries its sender and the
    /// way back to the sent value, in case the target's shard refuses it on arrival.
    #[inline]
    pub(crate) fn remote(
        target: RawHandle,
        from: RawHandle,
        kind: Kind,
        recover: TypeHelper,
        payload: Payload,
    ) -> Self {
        Self {
            target,
            from,
            deadline_nanos: u64::MAX,
            correlation: 0,
            helper: Some(recover),
            kind,
            bounced: None,
            payload,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    #[test]
    fn envelope_fits_two_cache_lines() {
        // Tracked: the envelope is what the rings move, so its size is the cross-shard cost.
        assert!(
            size_of::<Envelope>() <= 112,
            "envelope is {} bytes",
            size_of::<Envelope>()
        );
    }

    #[test]
    fn values_round_trip_and_types_are_checked() {
        let mut payload = Payload::new([7u64; 8]);
        assert!(payload.take::<u32>().is_none());
        assert_eq!(payload.take::<[u64; 8]>(), Some([7; 8]));
        assert!(payload.is_empty());
        assert!(payload.take::<[u64; 8]>().is_none());
    }

    struct Counted(Rc<Cell<u32>>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    // `Counted` is not `Send`; this wrapper exists only to exercise drop accounting here.
    struct SendCounted(#[allow(dead_code)] Counted);
    // SAFETY: test-only; the value never leaves this thread.
    unsafe impl Send for SendCounted {}

    #[test]
    fn payload_drops_its_value_exactly_once() {
        let drops = Rc::new(Cell::new(0));
        let payload = Payload::new(SendCounted(Counted(drops.clone())));
        drop(payload);
        assert_eq!(drops.get(), 1);
        let mut payload = Payload::new(SendCounted(Counted(drops.clone())));
        let value = payload.take::<SendCounted>().unwrap();
        drop(payload);
        assert_eq!(drops.get(), 1);
        drop(value);
        assert_eq!(drops.get(), 2);
        let mut payload = Payload::new(SendCounted(Counted(drops.clone())));
        payload.write(5u8);
        assert_eq!(drops.get(), 3);
    }
}
