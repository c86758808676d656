//! `kv`: a Redis-compatible cache on Tina (see `tina_examples::kv`).
//!
//! ```text
//! cargo run --release -p tina-examples --bin kv -- --port 6380 --shards 2
//! redis-cli -p 6380 set greeting hello
//! redis-benchmark -p 6380 -t set,get -n 100000 -r 100000 -c 50 -P 16
//! ```

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use tina::prelude::*;
use tina_examples::kv::{self, KvConfig, Policy};
use tina_examples::{flag, switch};

fn main() {
    if switch("--help") {
        println!(
            "usage: kv [--port P (0: any free port; default 6380)] [--shards N (default 2)] \
             [--maxkeys N (default 200000)] [--connections N per shard (default 256)] \
             [--maxmemory-policy noeviction|allkeys-lru] [--quiet] [--top] [--metrics-port P]"
        );
        return;
    }
    let port: u16 = flag("--port", 6380);
    let policy = match flag("--maxmemory-policy", String::from("noeviction")).as_str() {
        "noeviction" => Policy::NoEviction,
        "allkeys-lru" => Policy::AllKeysLru,
        other => {
            eprintln!("kv: --maxmemory-policy {other}: use noeviction or allkeys-lru");
            std::process::exit(2);
        }
    };
    let config = KvConfig {
        shards: flag("--shards", 2usize).max(1),
        max_keys: flag("--maxkeys", 200_000usize).max(16),
        connections: flag("--connections", 256usize).max(1),
        policy,
        print_crashes: !switch("--quiet"),
        ..KvConfig::default()
    };
    let (mut spec, listener) = kv::spec(&config, SocketAddr::from(([127, 0, 0, 1], port)));
    // `--metrics-port P`: Prometheus metrics at http://127.0.0.1:P/metrics.
    let metrics_port: u16 = flag("--metrics-port", 0);
    if metrics_port != 0 {
        tina::metrics::serve(&mut spec, SocketAddr::from(([127, 0, 0, 1], metrics_port)));
    }
    // What the spec reserves at boot, said before it is reserved (an invalid spec is
    // reported by `System::start` below).
    if let Ok(memory) = spec.validate() {
        eprintln!(
            "kv: boot reserves {:.1} MiB per shard ({:.1} MiB of it transfer buffers for keys, values and I/O)",
            memory.bytes_per_shard as f64 / 1048576.0,
            memory.buffer_bytes as f64 / 1048576.0
        );
    }
    let system = match System::start(spec) {
        Ok(system) => system,
        Err(error) => {
            eprintln!("kv: cannot start: {error}");
            std::process::exit(1);
        }
    };
    let addr = system
        .listener_addr(listener)
        .expect("the listener is bound");
    if let Err(error) = system.shutdown_on_signals() {
        eprintln!("kv: no signal handlers ({error})");
    }
    println!("kv: listening on {addr}");
    if metrics_port != 0 {
        println!("kv: metrics at http://127.0.0.1:{metrics_port}/metrics");
    }
    let _ = std::io::stdout().flush();
    eprintln!(
        "kv: {} shards, {} keys, {} connections per shard, {:?}; Ctrl-C to stop",
        config.shards, config.max_keys, config.connections, config.policy
    );
    if switch("--top") {
        // A live view of the shards and isolate types until Ctrl-C (or q).
        let reader = system.stats_reader();
        if let Err(error) = tina::top::run(&reader, Duration::from_secs(1), || {
            system.wait_for_signal(Duration::ZERO)
        }) {
            eprintln!("kv: --top: {error}");
        }
    } else {
        while !system.wait_for_signal(Duration::from_secs(3600)) {}
    }
    let summary = system.shutdown(Duration::from_secs(2));
    eprintln!(
        "kv: stopped; {} dispatches, {} connections accepted",
        summary.total.dispatched, summary.total.connections_accepted
    );
}
