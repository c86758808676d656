//! The way in and out of a running system: bounded per-shard ingress queues and blocking
//! calls from threads outside the shards.
//!
//! **Ingress.** Each shard has one bounded queue for envelopes from outside (a tina-mailbox
//! SPSC ring whose producing half sits behind a mutex: outside threads take turns to push,
//! the shard drains it lock-free at the start of every tick, like a peer's ring). A push
//! that finds it full is refused at once and counted; a push to a sleeping shard wakes it.
//!
//! **Calls from outside.** A fixed table of call slots, shared by the whole system: an
//! outside caller takes a free slot, sends its request through the ingress queue with the
//! slot's index and a fresh sequence number as its return address, and waits on the slot's
//! condition variable until the reply, a refusal or its timeout. The shard thread that
//! replies locks that one slot for the moment it takes to store the reply — the only lock a
//! shard thread ever takes, and only when answering a caller outside the system. A reply
//! that arrives after its caller gave up finds a different sequence number and is dropped.

use std::sync::{Condvar, Mutex};

use crate::envelope::Payload;
use crate::error::SendErrorKind;

/// Why a call from outside the system failed. (Comparisons and `Debug` look at the
/// reason only, never at a handed-back request.)
pub enum ExternalCallError<Q> {
    /// The request was not sent (ingress queue full, shard down, stale handle, bad shard);
    /// it is handed back.
    NotSent(crate::SendError<Q>),
    /// Every call slot (see [`BootSpec::external_calls`](crate::BootSpec::external_calls))
    /// is in use by other outside callers; the request is handed back.
    NoCallSlot(Q),
    /// The target's shard refused the request on arrival (mailbox full, stale, …).
    Refused(SendErrorKind),
    /// No reply before the timeout (the callee was too slow, the request expired before
    /// dispatch, or the callee crashed or declined to answer).
    Timeout,
}

impl<Q> ExternalCallError<Q> {
    /// The reason without the request: `Err(kind)` of a send refusal for `NotSent`.
    fn key(&self) -> (u8, Option<SendErrorKind>) {
        match self {
            ExternalCallError::NotSent(error) => (0, Some(error.kind)),
            ExternalCallError::NoCallSlot(_) => (1, None),
            ExternalCallError::Refused(kind) => (2, Some(*kind)),
            ExternalCallError::Timeout => (3, None),
        }
    }
}

impl<Q> PartialEq for ExternalCallError<Q> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl<Q> Eq for ExternalCallError<Q> {}

impl<Q> core::fmt::Debug for ExternalCallError<Q> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ExternalCallError::NotSent(error) => {
                formatter.debug_tuple("NotSent").field(&error.kind).finish()
            }
            ExternalCallError::NoCallSlot(_) => formatter.write_str("NoCallSlot"),
            ExternalCallError::Refused(kind) => {
                formatter.debug_tuple("Refused").field(kind).finish()
            }
            ExternalCallError::Timeout => formatter.write_str("Timeout"),
        }
    }
}

impl<Q> core::fmt::Display for ExternalCallError<Q> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ExternalCallError::NotSent(error) => write!(formatter, "request not sent: {error}"),
            ExternalCallError::NoCallSlot(_) => {
                formatter.write_str("every external call slot is in use")
            }
            ExternalCallError::Refused(kind) => write!(formatter, "request refused: {kind}"),
            ExternalCallError::Timeout => formatter.write_str("no reply before the timeout"),
        }
    }
}

impl<Q> std::error::Error for ExternalCallError<Q> {}

/// How an outside call ended, as stored by the shard.
pub(crate) enum Outcome {
    Reply(Payload),
    Refused(SendErrorKind),
}

struct SlotState {
    /// The sequence number of the call waiting on this slot; 0 when nobody waits.
    waiting: u32,
    outcome: Option<Outcome>,
}

struct CallSlot {
    state: Mutex<SlotState>,
    settled: Condvar,
}

/// The system's table of call slots for outside callers.
pub(crate) struct ExternalCalls {
    slots: Box<[CallSlot]>,
    /// Free slot indices (capacity: every slot, so pushing never allocates).
    free: Mutex<Vec<u32>>,
    /// Sequence numbers, so a late reply cannot be taken for a later call's.
    sequence: std::sync::atomic::AtomicU32,
}

impl core::fmt::Debug for ExternalCalls {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("ExternalCalls")
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

/// A call slot held by one outside caller; given back on drop.
pub(crate) struct Ticket<'a> {
    calls: &'a ExternalCalls,
    pub(crate) index: u32,
    pub(crate) sequence: u32,
}

impl ExternalCalls {
    pub(crate) fn new(slots: usize) -> Self {
        Self {
            slots: (0..slots)
                .map(|_| CallSlot {
                    state: Mutex::new(SlotState {
                        waiting: 0,
                        outcome: None,
                    }),
                    settled: Condvar::new(),
                })
                .collect(),
            free: Mutex::new((0..slots as u32).rev().collect()),
            sequence: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// Takes a free slot for a new call, if any.
    pub(crate) fn begin(&self) -> Option<Ticket<'_>> {
        let index = lock(&self.free).pop()?;
        let sequence = loop {
            let next = self
                .sequence
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                .wrapping_add(1);
            if next != 0 {
                break next;
            }
        };
        let mut state = lock(&self.slots[index as usize].state);
        state.waiting = sequence;
        state.outcome = None;
        drop(state);
        Some(Ticket {
            calls: self,
            index,
            sequence,
        })
    }

    /// Stores the outcome of call `sequence` in slot `index` and wakes its caller; false
    /// (and the outcome dropped, after the lock is released) when nobody waits for it any
    /// more.
    pub(crate) fn settle(&self, index: u32, sequence: u32, outcome: Outcome) -> bool {
        let Some(slot) = self.slots.get(index as usize) else {
            return false;
        };
        let mut state = lock(&slot.state);
        if state.waiting != sequence || sequence == 0 || state.outcome.is_some() {
            drop(state);
            if let Outcome::Reply(payload) = outcome {
                crate::supervision::crash::drop_caught(payload);
            }
            return false;
        }
        state.outcome = Some(outcome);
        drop(state);
        slot.settled.notify_one();
        true
    }

    /// Ends the call with a refusal (its request was refused on arrival).
    pub(crate) fn refuse(&self, from: crate::RawHandle, sequence: u32, reason: SendErrorKind) {
        self.settle(from.slot(), sequence, Outcome::Refused(reason));
    }

    /// The outcome of the ticket's call, if it has one (without waiting).
    pub(crate) fn try_take(&self, ticket: &Ticket<'_>) -> Option<Outcome> {
        let mut state = lock(&self.slots[ticket.index as usize].state);
        state.outcome.take()
    }

    /// Waits until the ticket's call has an outcome or `deadline` passes.
    pub(crate) fn wait(
        &self,
        ticket: &Ticket<'_>,
        deadline: std::time::Instant,
    ) -> Option<Outcome> {
        let slot = &self.slots[ticket.index as usize];
        let mut state = lock(&slot.state);
        loop {
            if let Some(outcome) = state.outcome.take() {
                return Some(outcome);
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return None;
            }
            state = match slot.settled.wait_timeout(state, deadline - now) {
                Ok((state, _)) => state,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let slot = &self.calls.slots[self.index as usize];
        let mut state = lock(&slot.state);
        state.waiting = 0;
        let stale = state.outcome.take();
        drop(state);
        if let Some(Outcome::Reply(payload)) = stale {
            crate::supervision::crash::drop_caught(payload);
        }
        // Capacity is every slot, and each index is pushed back once: never allocates.
        lock(&self.calls.free).push(self.index);
    }
}

/// Locks a mutex, ignoring poisoning: every critical section here leaves the data whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Pushes the envelope `make` builds from `value` into `signals`' ingress queue, from a
/// thread outside the system (or the simulator), and wakes the shard if it sleeps. `make`
/// runs only when there is room, so a refusal hands `value` back untouched.
pub(crate) fn push_ingress<V>(
    signals: &crate::shard::core::Signals,
    value: V,
    make: impl FnOnce(V) -> crate::envelope::Envelope,
) -> Result<(), (SendErrorKind, V)> {
    use std::sync::atomic::{Ordering, fence};
    if signals.down.load(Ordering::Acquire) {
        return Err((SendErrorKind::ShardDown, value));
    }
    {
        let mut producer = lock(&signals.ingress);
        if !producer.has_room() {
            drop(producer);
            signals.ingress_refused.fetch_add(1, Ordering::Relaxed);
            return Err((SendErrorKind::IngressFull, value));
        }
        // Room was checked under the lock, which keeps every other pusher out.
        let pushed = producer.try_push(make(value));
        debug_assert!(pushed.is_ok(), "room was checked under the lock");
        producer.publish();
    }
    // Pairs with the fence of a shard going to sleep, as for a peer's ring: either it sees
    // the envelope before it sleeps, or we see its flag and wake it.
    fence(Ordering::SeqCst);
    if signals.sleeping.load(Ordering::Relaxed) {
        signals.wake();
    }
    Ok(())
}

/// Builds the envelope of a request from outside the system.
pub(crate) fn external_request<T, Q>(
    target: crate::RawHandle,
    ticket: &Ticket<'_>,
    deadline_nanos: u64,
    request: Q,
) -> crate::envelope::Envelope
where
    T: crate::Accepts<Q>,
    Q: crate::Request,
{
    crate::envelope::Envelope {
        target,
        from: crate::RawHandle::new(crate::ShardId(0), 0, ticket.index, 0),
        deadline_nanos,
        correlation: ticket.sequence,
        helper: Some(crate::envelope::reply_is::<Q::Reply>),
        kind: crate::envelope::Kind::ExternalRequest,
        bounced: None,
        payload: Payload::new(T::wrap(request)),
    }
}

/// What an outside call's outcome means for its caller.
pub(crate) fn finish<Q: crate::Request>(
    outcome: Option<Outcome>,
) -> Result<Q::Reply, ExternalCallError<Q>> {
    match outcome {
        Some(Outcome::Reply(mut payload)) => {
            payload.take::<Q::Reply>().ok_or(ExternalCallError::Timeout)
        }
        Some(Outcome::Refused(reason)) => Err(ExternalCallError::Refused(reason)),
        None => Err(ExternalCallError::Timeout),
    }
}

/// Checks the target of a send or call from outside: its shard exists.
pub(crate) fn check_target(
    target: crate::RawHandle,
    shards: usize,
) -> Result<usize, SendErrorKind> {
    let shard = target.shard().index();
    if shard >= shards {
        return Err(SendErrorKind::Stale);
    }
    Ok(shard)
}
