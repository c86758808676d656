//! Tina: a framework for servers that must not fall over.
//!
//! This facade is what users depend on: `tina = "…"` and `use tina::prelude::*;`. It
//! re-exports the runtime ([`tina_runtime`]), the [`isolate`] attribute with the
//! [`Bounded`](macro@Bounded) and [`Request`](macro@Request) derives, and the bounded types
//! messages and states are built from ([`heapless`]).
//!
//! See the runtime's crate docs for the map of types, [`isolate`] for the shape of an
//! isolate and what the macro generates, and the book for a tutorial.
//!
//! Operating a running system: [`metrics`] serves the live statistics as Prometheus
//! metrics over HTTP from an isolate; with the `top` feature, `top::run` shows them as a
//! live `top` in the terminal; with the `tracing` feature, dispatches are `tracing` spans
//! and refusals, bounces, crashes, restarts and quarantines are events.

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
