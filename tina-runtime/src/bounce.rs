//! Bounces: messages refused on arrival at another shard, handed back to their sender.
//!
//! A same-shard send is refused synchronously: `send` returns the reason with the message.
//! A send to another shard returns `Ok` once the envelope is in this tick's ring; the target
//! shard decides on arrival. When it refuses (mailbox full, stale handle, no free slot for a
//! `spawn_on`, pool exhausted, shard quarantined) the envelope travels back to the sending
//! shard through that pair's bounce ring — capacity reserved for bounces alone: a shard takes
//! envelopes from a peer's ring only while its bounce ring back to that peer has room for
//! every one of them, so a bounce never finds the way back full (a flood of refusals slows
//! the peer's sends down to `RingFull`, synchronously, instead).
//!
//! Back on the sending shard, the bounce goes to the sending isolate as an
//! [`Undelivered<M>`] holding the original message, the reason and the target — through the
//! isolate's handler for `Undelivered<M>` (an `#[isolate]` handler whose message type is
//! `Undelivered<M>`), or, when it declares none for `M` or no longer exists, it is counted in
//! the sending shard's `undelivered_*` counter for its reason and dropped. A refused request
//! never becomes a bounce: it ends the caller's call at once with
//! [`CallResult::Refused`](crate::CallResult::Refused). A refused `spawn_on` comes back as an
//! `Undelivered<Spawn<W>>` holding the init args.

use core::marker::PhantomData;

use crate::envelope::Payload;
use crate::error::SendErrorKind;
use crate::handle::RawHandle;
use crate::isolate::{Accepts, Isolate};

/// A message its target's shard refused on arrival, back with its sender.
///
/// An isolate receives it through a handler whose message type is `Undelivered<M>`:
///
/// ```ignore
/// fn undelivered(&mut self, bounce: Undelivered<Item>, ctx: &mut Ctx<Self>) -> Effect {
///     self.retry.push(bounce.message);   // or give up, log, count …
///     Effect::Receive
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undelivered<M> {
    /// The message, as it was sent.
    pub message: M,
    /// Why the target's shard refused it.
    pub reason: SendErrorKind,
    /// The handle it was sent to (for a [`Spawn`]: the shard and type; its slot field is
    /// the "any slot" marker).
    pub to: RawHandle,
}

/// A `spawn_on` that the target shard refused, as the message of an `Undelivered<Spawn<W>>`:
/// the init args come back.
pub struct Spawn<W: Isolate> {
    /// The init args the spawn carried.
    pub args: W::Args,
    _type: PhantomData<fn() -> W>,
}

impl<W: Isolate> Spawn<W> {
    pub(crate) fn new(args: W::Args) -> Self {
        Self {
            args,
            _type: PhantomData,
        }
    }
}

impl<W: Isolate> core::fmt::Debug for Spawn<W>
where
    W::Args: core::fmt::Debug,
{
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("Spawn")
            .field("isolate", &W::NAME)
            .field("args", &self.args)
            .finish()
    }
}

/// A bounce of a message of a type the runtime knows only by its type id: what
/// [`Isolate::undelivered`] receives. [`Bounce::downcast`] recovers the typed
/// [`Undelivered<M>`]; the `#[isolate]` macro generates that call for every handler of an
/// `Undelivered<M>`.
pub struct Bounce {
    payload: Payload,
    reason: SendErrorKind,
    to: RawHandle,
}

impl Bounce {
    pub(crate) fn new(payload: Payload, reason: SendErrorKind, to: RawHandle) -> Self {
        Self {
            payload,
            reason,
            to,
        }
    }

    /// Why the message was refused.
    pub fn reason(&self) -> SendErrorKind {
        self.reason
    }

    /// The handle the message was sent to.
    pub fn to(&self) -> RawHandle {
        self.to
    }

    /// Whether the bounced message is an `M`.
    pub fn is<M: 'static>(&self) -> bool {
        self.payload.holds::<M>()
    }

    /// The typed bounce, if the message is an `M`.
    ///
    /// # Errors
    ///
    /// The bounce back, unchanged, when the bounced message is not an `M` (see
    /// [`Bounce::is`]), so another type can be tried.
    pub fn downcast<M: 'static>(mut self) -> Result<Undelivered<M>, Bounce> {
        match self.payload.take::<M>() {
            Some(message) => Ok(Undelivered {
                message,
                reason: self.reason,
                to: self.to,
            }),
            None => Err(self),
        }
    }
}

impl core::fmt::Debug for Bounce {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("Bounce")
            .field("reason", &self.reason)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

/// Turns the payload of a bounced envelope sent to a `T` — a `T::Message` — back into the
/// `M` the sender sent. False when the payload holds something else (nothing is recovered).
pub(crate) fn recover_message<T: Accepts<M>, M: Send + 'static>(
    payload: &mut Payload,
    _asked: Option<core::any::TypeId>,
) -> bool {
    match payload.take::<T::Message>().and_then(T::extract) {
        Some(message) => {
            payload.write(message);
            true
        }
        None => false,
    }
}

/// Turns the payload of a bounced `spawn_on` of a `W` — its init args — into a [`Spawn<W>`].
pub(crate) fn recover_spawn<W: Isolate>(
    payload: &mut Payload,
    _asked: Option<core::any::TypeId>,
) -> bool {
    match payload.take::<W::Args>() {
        Some(args) => {
            payload.write(Spawn::<W>::new(args));
            true
        }
        None => false,
    }
}
