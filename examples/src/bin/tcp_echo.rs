//! A TCP echo server on two shards, driven by a load generator on its own threads, with a
//! chaos client that crashes on purpose and is restarted by its supervisor.
//!
//! ```text
//! cargo run --release -p tina-examples --bin tcp_echo -- [--seconds 10] [--connections 64]
//!     [--message-bytes 64] [--tight-budget] [--serve PORT]
//! ```
//!
//! * Both shards accept on one ephemeral loopback port (`SO_REUSEPORT`: one listening socket
//!   per shard, the kernel spreads the connections); each connection is an `Echo` isolate
//!   that writes every block it reads straight back (the received buffer itself goes on the
//!   send queue) and arms its next read.
//! * The load generator (`tina_examples::loadgen`: plain threads and mio, not isolates)
//!   keeps `--connections` connections busy, one message outstanding on each.
//! * A `Chaos` client isolate on shard 1 connects to the server, makes a few round trips a
//!   few hundred milliseconds apart and panics; its supervisor restarts it. With
//!   `--tight-budget` its group allows one restart a minute, so the second crash escalates
//!   and shard 1 is quarantined: its connections are torn down (the generator sees the
//!   resets) while shard 0 keeps serving.
//! * `--serve PORT` runs only the server, on 127.0.0.1:PORT, for outside clients (`nc`,
//!   `socat`, `redis-benchmark`-style tools), until Ctrl-C.
//!
//! At the end it prints one table: round trips/s, latency percentiles, connections,
//! crashes, restarts, refused connections and the process's peak RSS.

use std::net::SocketAddr;
use std::time::Duration;

use tina::prelude::*;
use tina::{RestartBudget, ShardState, Summary};
use tina_examples::loadgen::{self, DisplayDuration};
use tina_examples::{flag, switch};

/// Time for the chaos client's next round trip.
#[derive(Bounded)]
struct Again;

// ANCHOR: chaos
/// Connects to the echo server, makes three round trips 100 ms apart, then panics.
#[isolate(mailbox = 4)]
struct Chaos {
    socket: Option<Socket>,
    round_trips: u32,
}

#[isolate]
impl Chaos {
    fn init(listener: &usize, ctx: &mut Ctx<Self>) -> Self {
        // The system's own echo listener, wherever boot bound it.
        let socket = ctx
            .listener_addr(*listener)
            .and_then(|server| ctx.connect(server, Duration::from_secs(1)).ok());
        if let Some(socket) = socket {
            let _ = ctx.write_bytes(socket, b"chaos says hello");
            let _ = ctx.read_within(socket, Duration::from_secs(1));
        }
        Chaos {
            socket,
            round_trips: 0,
        }
    }

    fn io(&mut self, event: IoEvent, ctx: &mut Ctx<Self>) -> Effect {
        match event {
            IoEvent::Connected { .. } => Effect::Receive,
            IoEvent::Read { .. } => {
                self.round_trips += 1;
                if self.round_trips == 3 {
                    panic!("chaos client: crashing on purpose after 3 round trips");
                }
                let _ = ctx.after(Duration::from_millis(100), Again);
                Effect::Receive
            }
            _ => Effect::Crash("chaos client: lost its connection"),
        }
    }

    fn again(&mut self, _again: Again, ctx: &mut Ctx<Self>) -> Effect {
        if let Some(socket) = self.socket {
            let _ = ctx.write_bytes(socket, b"chaos says again");
            let _ = ctx.read_within(socket, Duration::from_secs(1));
        }
        Effect::Receive
    }
}
// ANCHOR_END: chaos

/// The process's peak resident set size, in KiB (`VmHWM`), if the OS tells.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    if switch("--help") {
        println!(
            "usage: tcp_echo [--seconds N] [--connections N] [--message-bytes N] \
             [--tight-budget] [--serve PORT] [--top] [--metrics-port P]"
        );
        return;
    }
    let seconds: f64 = flag("--seconds", 10.0);
    let connections: usize = flag("--connections", 64).max(1);
    let message_bytes: usize = flag("--message-bytes", 64).max(1);
    let tight_budget = switch("--tight-budget");
    let serve: Option<u16> = Some(flag("--serve", 0u16)).filter(|&port| port != 0);

    // ANCHOR: spec
    let port = serve.unwrap_or(0);
    let (mut spec, listener) =
        tina_examples::echo::spec(2, 1024, SocketAddr::from(([127, 0, 0, 1], port)));
    spec.isolate::<Chaos>(1)
        .sockets(4)
        .print_crashes(!switch("--quiet"));
    // ANCHOR_END: spec
    // `--metrics-port P`: Prometheus metrics at http://127.0.0.1:P/metrics.
    let metrics_port: u16 = flag("--metrics-port", 0);
    if metrics_port != 0 {
        tina::metrics::serve(&mut spec, SocketAddr::from(([127, 0, 0, 1], metrics_port)));
        println!("metrics at http://127.0.0.1:{metrics_port}/metrics");
    }
    if serve.is_none() {
        let group = spec.supervisor(ShardId(1));
        spec.budget(
            group,
            if tight_budget {
                RestartBudget::new(1, Duration::from_secs(60))
            } else {
                RestartBudget::new(20, Duration::from_secs(1))
            },
        );
        spec.child::<Chaos>(group, Restart::Permanent, listener);
    }
    let system = match System::start(spec) {
        Ok(system) => system,
        Err(error) => {
            eprintln!("cannot start: {error}");
            std::process::exit(1);
        }
    };
    let addr = system
        .listener_addr(listener)
        .expect("the listener is bound");
    if let Err(error) = system.shutdown_on_signals() {
        eprintln!("no signal handlers ({error})");
    }
    if serve.is_some() {
        println!("serving echo on {addr} (both shards); Ctrl-C to stop");
        if switch("--top") {
            let reader = system.stats_reader();
            if let Err(error) = tina::top::run(&reader, Duration::from_secs(1), || {
                system.wait_for_signal(Duration::ZERO)
            }) {
                eprintln!("--top: {error}");
            }
        } else {
            while !system.wait_for_signal(Duration::from_secs(3600)) {}
        }
        print_summary(&system.shutdown(Duration::from_secs(2)), None);
        return;
    }
    println!(
        "echo server on {addr}, 2 shards; {connections} connections x {message_bytes}-byte \
         messages for {seconds} s; a chaos client on shard 1 crashes every few hundred ms{}",
        if tight_budget {
            " (its group allows one restart a minute: shard 1 will be quarantined)"
        } else {
            ""
        }
    );
    let config = loadgen::Config {
        connections,
        threads: 2.min(connections),
        message_bytes,
        duration: Duration::from_secs_f64(seconds),
        warm_up: Duration::from_millis(300),
        connect_timeout: Duration::from_secs(2),
        ..loadgen::Config::new(addr)
    };
    // `--top`: a live view of the shards and isolate types while the load runs.
    let load_done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let top = switch("--top").then(|| {
        let reader = system.stats_reader();
        let done = load_done.clone();
        std::thread::spawn(move || {
            tina::top::run(&reader, Duration::from_secs(1), || {
                done.load(std::sync::atomic::Ordering::Relaxed)
            })
        })
    });
    let report = loadgen::run(&config);
    load_done.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(top) = top
        && let Ok(Err(error)) = top.join()
    {
        eprintln!("--top: {error}");
    }
    let report = match report {
        Ok(report) => report,
        Err(error) => {
            eprintln!("the load generator failed: {error}");
            std::process::exit(1);
        }
    };
    for (index, health) in system.health().iter().enumerate() {
        if health.state != ShardState::Running {
            println!(
                "shard {index}: {:?} (quarantines: {})",
                health.state, health.quarantines
            );
        }
    }
    let summary = system.shutdown(Duration::from_secs(2));
    print_summary(&summary, Some(&report));
}

fn print_summary(summary: &Summary, report: Option<&loadgen::Report>) {
    let total = &summary.total;
    println!();
    println!("| measure | value |");
    println!("|---|---:|");
    if let Some(report) = report {
        println!("| round trips/s | {:.0} |", report.round_trips_per_second());
        println!("| round trips (measured) | {} |", report.round_trips);
        println!(
            "| latency p50 / p99 / max | {} / {} / {} |",
            DisplayDuration(report.latency.percentile(0.50)),
            DisplayDuration(report.latency.percentile(0.99)),
            DisplayDuration(report.latency.max())
        );
        println!(
            "| generator connections (opened / failed) | {} / {} |",
            report.connections_opened, report.connect_failures
        );
        println!(
            "| generator errors (resets, EOFs, mismatches) | {} / {} / {} |",
            report.errors.resets, report.errors.eofs, report.errors.mismatches
        );
    }
    println!("| connections accepted | {} |", total.connections_accepted);
    println!("| connections refused | {} |", total.connections_refused);
    println!("| crashes | {} |", total.crashed);
    println!("| restarts | {} |", total.restarts);
    println!("| quarantines | {} |", total.quarantines);
    println!(
        "| bytes read / written | {} / {} |",
        total.io_bytes_read, total.io_bytes_written
    );
    match peak_rss_kib() {
        Some(kib) => println!("| peak RSS | {:.1} MiB |", kib as f64 / 1024.0),
        None => println!("| peak RSS | unknown |"),
    }
    println!(
        "| drained in time | {} |",
        if summary.drained { "yes" } else { "no" }
    );
}
