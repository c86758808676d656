//! Tina: a framework for servers that must not fall over.
//!
//! This facade is what users depend on: `tina = "…"` and `use tina::prelude::*;`. It
//! re-exports the runtime (every item below), the [`isolate`] attribute with the
//! [`Bounded`](macro@Bounded) and [`Request`](macro@Request) derives, and the bounded types
//! messages and states are built from ([`heapless`]).
//!
//! | type | what it is |
//! |---|---|
//! | [`isolate`](macro@isolate), [`Isolate`] | an isolate type: a struct with a mailbox bound, `init` and one handler per message type |
//! | [`Effect`] | what a handler returns: `Receive`, `Yield`, `Done`, `Crash`, `Call`, `Reply` |
//! | [`Ctx`] | a handler's actions: typed `send`, `spawn`, timers, `call`/`reply`, sockets, buffers, the clock, metrics |
//! | [`Handle<T>`](Handle) | a typed, generational name for one incarnation of an isolate |
//! | [`BootSpec`] | every capacity of the system, validated at boot |
//! | [`System`], [`Simulation`] | the drivers: one pinned thread per shard, or every shard on one thread from a seed |
//! | [`SendError`], [`SendErrorKind`], [`Undelivered<M>`](Undelivered), [`CallResult<Q>`](CallResult) | what a send or a call tells its sender |
//! | [`Bounded`](trait@Bounded) | memory fixed at compile time: required of states, args, messages, replies |
//! | [`Strategy`], [`Restart`], [`RestartBudget`], [`OverloadPolicy`], [`CrashReport`] | supervision, declared in the boot spec, and what a crash reports |
//! | [`Listen`], [`Socket`], [`IoEvent`], [`Buffer`] | TCP on a reactor per shard, and transfer buffers |
//! | [`Counters`], [`StatsReader`], [`Stats`], [`stats`] | per-shard counters and live per-type statistics |
//! | [`metrics`], `top` (feature `top`) | Prometheus over HTTP from an isolate, a live `top` in the terminal |
//! | [`sim`] | faults, the `SimTest` runner and the seeded PRNG of deterministic simulation |
//!
//! See [`isolate`](macro@isolate) for the shape of an isolate and what the macro
//! generates, and the book for a tutorial.
//!
//! Operating a running system: [`metrics`] serves the live statistics as Prometheus
//! metrics over HTTP from an isolate; with the `top` feature, `top::run` shows them as a
//! live `top` in the terminal; with the `tracing` feature, dispatches are `tracing` spans
//! and refusals, bounces, crashes, restarts and quarantines are events.

// Doctests deny warnings (dead code aside), so an example that drops a `#[must_use]` result
// fails.
#![doc(test(attr(deny(warnings), allow(dead_code))))]

// The `#[isolate]` expansion names `::tina`; this crate's own isolates (`metrics`) use it too.
extern crate self as tina;

pub use heapless;
pub use tina_macros::{Bounded, Request, isolate};
pub use tina_runtime::*;

/// The names almost every Tina program uses.
pub mod prelude {
    pub use core::time::Duration;

    pub use tina_macros::{Bounded, Request, isolate};
    pub use tina_runtime::{
        Accepts, Answers, BootSpec, Bounded, Buffer, CallResult, Ctx, Effect, Handle, Instant,
        IoError, IoEvent, Isolate, Listen, OverloadPolicy, ReplyTo, Request, Restart,
        RestartBudget, SendError, SendErrorKind, ShardId, Simulation, Socket, Spawn, Strategy,
        System, Undelivered,
    };
}

#[doc(hidden)]
pub mod __private;

pub mod metrics;
#[cfg(feature = "top")]
pub mod top;
