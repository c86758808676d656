//! Compile-time rejection tests for Tina, run by `cargo test` with
//! [trybuild](https://docs.rs/trybuild).
//!
//! A design that could grow without bound, or a handler that is not a plain synchronous
//! function, must not compile, and the error must name the problem and the fix at the
//! offending token. This crate keeps that promise honest:
//!
//! * `fail/<category>/<case>.rs` holds one misuse each, and the `.stderr` next to it the
//!   exact compiler output it must produce. The categories: `mailbox` (the bound on the
//!   isolate's struct), `unbounded` (`Vec`, `String`, `Box`, `HashMap`, `Rc`, `Arc`, … in a
//!   message, the init args or the state, written out or hidden behind aliases, generics and
//!   nested fields), `payload` (messages and args over the 64-byte envelope payload),
//!   `handler` (the shapes of `init`, handlers and hooks), `call` (requests and replies) and
//!   `send` (sending a message the target does not handle).
//! * `pass/*.rs` must compile and run: several message types, call and reply, generics,
//!   shadowed prelude names, `heapless` state, hooks and helpers, the mailbox limits, and the
//!   twenty-handler isolate used to measure the macro's compile cost.
//!
//! The driver is `tests/ui.rs`. The snapshots are tied to the pinned toolchain
//! (`rust-toolchain.toml`); after an intended change to a message, regenerate them with
//! `TRYBUILD=overwrite cargo test -p tina-ui-tests` and read every changed `.stderr`.
//!
//! The library itself is empty.
