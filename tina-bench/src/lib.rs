//! Shared helpers for Tina's runtime benchmarks (`cargo bench -p tina-bench`).
//!
//! The benchmarks themselves are the `[[bench]]` targets of this crate, each a plain `main`
//! (`harness = false`) that runs Tina and its peers — tokio, actix, ractor, the raw
//! `tina-mailbox` ring — **interleaved in one process**: round 1 runs every contender once,
//! round 2 runs them again in a rotated order, and so on. On a small shared virtual machine
//! a figure swings by tens of percent from one second to the next, so each contender's
//! median says less than the **median of the per-round ratios**: two samples taken a moment
//! apart see the same weather.
//!
//! | item | what it is |
//! |---|---|
//! | [`Plan`] | how long a run lasts: full, quick (`TINA_BENCH_QUICK=1`) or a smoke run |
//! | [`Contender`], [`interleave`], [`Samples`] | the round-robin runner and what it records |
//! | [`Metric`], [`Table`] | the report: medians, spreads and ratios as a markdown table |
//! | [`Probe`], [`epoch_nanos`] | start/finish stamps and counts that isolates write and the bench reads |
//! | [`CountingAllocator`] | a `#[global_allocator]` wrapper that measures net bytes allocated in a window |
//! | [`process_cpu_time`] | user + system CPU time of the whole process |
//! | [`messages!`] | the hand-written part of an isolate that `#[isolate]` will generate |
//! | [`stream`] | the sender/receiver isolate pair of the throughput benchmarks |
//! | [`machine`] | the machine a run was measured on |
//!
//! Every benchmark verifies its own result — every message arrived, in order, counts match —
//! and panics otherwise, so a broken runtime cannot post a good number.

mod alloc;
mod cpu;
mod interleave;
pub mod machine;
mod messages;
mod plan;
mod probe;
mod report;
mod stats;
pub mod stream;

pub use alloc::{AllocationWindow, Counted, CountingAllocator};
pub use cpu::process_cpu_time;
pub use interleave::{Contender, Samples, interleave};
pub use plan::{Mode, Plan};
pub use probe::{Probe, epoch_nanos};
pub use report::{Metric, Table};
pub use stats::{median, percentile};

#[doc(hidden)]
pub mod __private {
    pub use tina_runtime;
}
