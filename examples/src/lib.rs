//! Runnable Tina examples; each program is a binary in `src/bin/`:
//!
//! * `task_dispatcher` — supervision: workers crash on poisoned jobs, are restarted, check
//!   in with their new handles; a tight budget quarantines a shard while the other keeps
//!   working. `cargo run --release -p tina-examples --bin task_dispatcher -- --help`
//! * `kv` — a Redis-compatible cache (see [`kv`]): `cargo run --release -p tina-examples --bin kv`
//! * `tcp_echo` — TCP on the shards' reactors: a 2-shard echo server under a load
//!   generator, a chaos client restarted by its supervisor, a quarantine with
//!   `--tight-budget`. `cargo run --release -p tina-examples --bin tcp_echo -- --help`
//!
//! This library holds the small helpers the examples share, [`echo`] (the echo connection
//! isolate), and [`loadgen`], the TCP echo load generator the echo demo and the echo
//! benchmarks drive servers with.

pub mod bank;
pub mod echo;
pub mod kv;
pub mod loadgen;

/// Reads `--name value` from the command line, or `default`.
pub fn flag<T: core::str::FromStr>(name: &str, default: T) -> T {
    let mut args = std::env::args();
    while let Some(arg) = args.next() {
        if arg == name {
            if let Some(value) = args.next().and_then(|value| value.parse().ok()) {
                return value;
            }
            eprintln!("{name} needs a value; using the default");
        }
    }
    default
}

/// Whether `--name` is on the command line.
pub fn switch(name: &str) -> bool {
    std::env::args().any(|arg| arg == name)
}
