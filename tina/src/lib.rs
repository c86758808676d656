//! Tina: a framework for servers that must not fall over.
//!
//! This facade is what users depend on: `tina = "…"` and `use tina::prelude::*;`. It
//! re-exports the runtime ([`tina_runtime`]), the `#[isolate]` attribute, and the bounded
//! types messages and states are built from ([`heapless`]).
//!
//! See the runtime's crate docs for the map of types, and the book for a tutorial.

pub use heapless;
pub use tina_runtime::*;

/// The names almost every Tina program uses.
pub mod prelude {
    pub use core::time::Duration;

    pub use tina_runtime::{
        Accepts, BootSpec, CallResult, Ctx, Effect, Handle, Instant, Isolate, Request,
        SendError, SendErrorKind, ShardId, Simulation, System,
    };
}

/// Paths used by generated code; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use core;
    pub use tina_runtime;
}
