//! Effects: what a handler wants to happen next.

/// The state transition a handler returns.
///
/// Actions (send, spawn, timers) happen through [`Ctx`](crate::Ctx) during the handler and take
/// effect at once; the effect says what the isolate does afterwards.
#[must_use = "an Effect is the isolate's next state; return it from the handler"]
#[derive(Debug, PartialEq, Eq)]
pub enum Effect {
    /// Wait for the next message.
    Receive,
    /// Run [`Isolate::resume`](crate::Isolate::resume) again next tick (chunked long work),
    /// before any further message.
    Yield,
    /// Exit cleanly: the isolate is torn down and its handles go stale.
    Done,
    /// Let it crash with a reason: the isolate is torn down and its supervisor decides.
    Crash(&'static str),
    /// Park until the call made with [`Ctx::call`](crate::Ctx::call) is answered or times
    /// out. Only `Ctx::call` builds this variant.
    Call(CallToken),
    /// The current request has been answered with [`Ctx::reply`](crate::Ctx::reply); wait for
    /// the next message. Only `Ctx::reply` builds this variant.
    Reply(ReplyToken),
}

/// Proof that a call was made; carried by [`Effect::Call`].
#[derive(Debug, PartialEq, Eq)]
pub struct CallToken {
    pub(crate) _private: (),
}

/// Proof that a reply was sent; carried by [`Effect::Reply`].
#[derive(Debug, PartialEq, Eq)]
pub struct ReplyToken {
    pub(crate) _private: (),
}
