//! TCP echo (issue 14): throughput and latency of echo servers driven by one load
//! generator ([`tina_examples::loadgen`]) in one process, plus the seed's two claims — the
//! stall claim and the overload claim.
//!
//! **Parts** (all four by default; `TINA_BENCH_PARTS=stall,overload` runs the ones named):
//!
//! 1. **echo**: 64 connections, 64-byte messages, one outstanding message per connection,
//!    closed loop, against each server in turn, interleaved in rounds (A B C, B C A, …):
//!    tokio multi-thread (2 workers, `tokio::spawn` per connection), tokio current-thread
//!    (the same code), and a hand-written mio loop per core (2 threads, each its own
//!    `SO_REUSEPORT` listener). The table shows medians over rounds and, for every server,
//!    the median of its per-round ratios against tokio multi-thread.
//! 2. **stall**: the same connections paced at 20,000 requests/s in all, latency measured
//!    from each message's scheduled send time, while a CPU-heavy job (50 ms of computation
//!    every 200 ms) runs inline in a task of the server's runtime — tokio current-thread and
//!    tokio multi-thread (2 workers) — against the same server without the job.
//! 3. **overload**: a downstream that completes 10,000 requests/s receiving 200,000/s for
//!    5 s; tokio spawns a task per request. The process RSS is sampled every 100 ms.
//! 4. **idle**: 10,000 silent connections held open on one Tina shard (the clients in a
//!    child process, which has its own descriptor limit); the server's RSS after boot and
//!    with every connection open, and the boot reservation per connection.
//!
//! **Tina** runs in every part: its echo server is `tina_examples::echo` (the demo's), its
//! stall and overload variants are under "Tina's place" below.
//!
//! **Lengths.** `TINA_BENCH_SECS=S` sets the seconds of each echo and stall sample and of
//! the overload window (defaults 3, 3 and 5 s; `TINA_BENCH_QUICK=1` 0.5, 1 and 1 s). Run
//! without `--bench` (`cargo test -p tina-bench --bench echo`) it is a smoke run of a few
//! seconds that checks every server works. `TINA_BENCH_LOAD_THREADS=N` sets the generator's
//! threads (default 2), `TINA_BENCH_ONLY=text` keeps the echo servers whose name contains
//! `text`.
//!
//! Every sample verifies its own result: every connection opened and finished, no reset,
//! no short or wrong byte (the generator checks each one), no reply left unanswered —
//! otherwise the bench panics, so a broken server cannot post a good number.
//!
//! Run with `cargo bench -p tina-bench --bench echo` (`TINA_BENCH_QUICK=1` for a short
//! run). Traffic stays on 127.0.0.1 and every part stops by itself.

#[path = "echo/overload.rs"]
mod overload;
#[path = "echo/servers.rs"]
mod servers;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tina_bench::{Contender, Mode, Plan, Samples, Table, interleave, machine, median};
use tina_examples::loadgen::{self, Config, DisplayDuration, Pacing, Report};

use crate::overload::Outcome;
use crate::servers::{CpuJob, Flavour, Server};

/// Connections of the echo and stall workloads.
const CONNECTIONS: usize = 64;
/// Bytes per message of the echo and stall workloads.
const MESSAGE_BYTES: usize = 64;
/// The stall workload's total request rate.
const STALL_REQUESTS_PER_SECOND: f64 = 20_000.0;
/// The stall workload's CPU job: this much computation…
const JOB_BUSY: Duration = Duration::from_millis(50);
/// …every this long.
const JOB_PERIOD: Duration = Duration::from_millis(200);
/// The overload workload's offered rate.
const OVERLOAD_OFFERED_PER_SECOND: u64 = 200_000;
/// The overload workload's downstream capacity.
const OVERLOAD_CAPACITY_PER_SECOND: u64 = 10_000;

/// The server every ratio is taken against.
const BASELINE: &str = "tokio multi-thread (2 workers)";

// ───────────────────────────────── Tina's place ─────────────────────────────────
//
// Tina's servers go here once the reactor and the listeners of issue 14 exist. Each
// function boots its system, waits until it listens, and returns the address with a stop
// closure (`Server::new(address, move || { … shut the system down … })`). The bench then
// drives it with exactly the same load as the others: `echo_sample(server.address(), …)`
// and `stall_sample(…)` take the address of an already-running server. Until then they
// return `None` and the bench prints no Tina row.

/// Tina's echo server: 2 shards on 127.0.0.1:0, one connection isolate per connection
/// (`tina_examples::echo::Echo`, the demo's: zero-copy, the received block is written back).
fn tina_echo_server() -> Option<Server> {
    let (spec, listener) =
        tina_examples::echo::spec(2, 1024, SocketAddr::from(([127, 0, 0, 1], 0)));
    let system = tina_runtime::System::start(spec).expect("Tina's echo server boots");
    let address = system.listener_addr(listener).expect("bound");
    Some(Server::new(address, move || {
        let _ = system.shutdown(Duration::from_secs(2));
    }))
}

/// Tina's echo server for the stall claim: two echo shards and, when `job` is given, the
/// CPU job (`busy` every `period`) on an isolate of a third shard of its own.
fn tina_stall_server(job: Option<CpuJob>) -> Option<Server> {
    tina_stall(job, true)
}

/// The same with the compute shard at the OS's default priority (the A/B of
/// `BootSpec::background`).
fn tina_stall_default_priority(job: Option<CpuJob>) -> Option<Server> {
    tina_stall(job, false)
}

fn tina_stall(job: Option<CpuJob>, background: bool) -> Option<Server> {
    use tina::prelude::*;
    let mut spec = BootSpec::new(3);
    spec.isolate::<tina_examples::echo::Echo>(1024)
        .isolate::<tina_jobs::Job>(1)
        .buffer_class(16 * 1024, 4096)
        // As the echo spec: no idle spinning on cores shared with the load generator.
        .spin_before_sleep(0)
        .pin_threads(false);
    let listener = spec.listen(
        Listen::tcp::<tina_examples::echo::Echo>(SocketAddr::from(([127, 0, 0, 1], 0)))
            .on_shards(&[ShardId(0), ShardId(1)]),
    );
    if let Some(job) = job {
        *tina_jobs::JOB
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(job);
        spec.root::<tina_jobs::Job>(ShardId(2), ());
    }
    // The compute shard yields its core to the echo shards and the load generator
    // whenever they want it (the job may wait; the round trips may not).
    if background {
        spec.background(ShardId(2));
    }
    let system = System::start(spec).expect("Tina's stall server boots");
    let address = system.listener_addr(listener).expect("bound");
    Some(Server::new(address, move || {
        let _ = system.shutdown(Duration::from_secs(2));
    }))
}

/// Tina under overload: requests come from outside through `System::send` into a `Gate`,
/// which hands them to a `Downstream` that completes `capacity_per_second` (a token bucket
/// refilled every millisecond) and keeps at most 256 waiting; everything else is refused at
/// once — by the ingress queue (the sender gets `Err`), by the downstream's mailbox (the
/// gate's `send` gets `Err`) or by the downstream's full waiting list — and counted.
fn tina_overload(
    offered_per_second: u64,
    capacity_per_second: u64,
    window: Duration,
) -> Option<Outcome> {
    use tina::prelude::*;
    use tina_jobs::{COMPLETED, Downstream, Gate, REFUSED, Work};
    COMPLETED.store(0, Ordering::SeqCst);
    REFUSED.store(0, Ordering::SeqCst);
    let mut spec = BootSpec::new(2);
    spec.isolate::<Gate>(1)
        .isolate::<Downstream>(1)
        .pin_threads(false);
    let downstream = spec.root::<Downstream>(ShardId(1), capacity_per_second);
    let gate = spec.root::<Gate>(ShardId(0), downstream);
    let system = System::start(spec).expect("Tina's overload system boots");
    // Boot is done: everything the system will use is reserved.
    let rss_before_bytes = overload::rss_bytes();
    let done = std::sync::atomic::AtomicBool::new(false);
    let mut refused_at_ingress = 0u64;
    let (offered, window, rss_samples_bytes) = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| overload::sample_rss_until(&done));
        let started = std::time::Instant::now();
        let offered = overload::offer(offered_per_second, window, |number| {
            if system.send(&gate, Work { number }).is_err() {
                refused_at_ingress += 1;
            }
        });
        let window = started.elapsed();
        done.store(true, Ordering::Release);
        let samples = sampler.join().expect("the RSS sampler panicked");
        (offered, window, samples)
    });
    let completed = COMPLETED.load(Ordering::SeqCst);
    let refused = REFUSED.load(Ordering::SeqCst) + refused_at_ingress;
    let summary = system.shutdown(Duration::from_secs(2));
    let refused = refused + summary.total.undelivered_mailbox_full;
    let rss_peak_bytes = rss_samples_bytes
        .iter()
        .copied()
        .max()
        .unwrap_or(rss_before_bytes);
    Some(Outcome {
        offered,
        completed,
        refused: Some(refused),
        window,
        rss_before_bytes,
        rss_peak_bytes,
        rss_samples_bytes,
    })
}

/// The isolates of Tina's stall and overload variants.
mod tina_jobs {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use tina::prelude::*;

    use crate::servers::CpuJob;

    /// The job the stall variant's `Job` isolate runs (replaced by each server started).
    pub(crate) static JOB: Mutex<Option<CpuJob>> = Mutex::new(None);

    fn job() -> Option<CpuJob> {
        JOB.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    #[derive(Bounded)]
    pub(crate) struct Run;

    /// Computes for `busy` every `period`, on its own shard.
    #[isolate(mailbox = 2)]
    pub(crate) struct Job;

    #[isolate]
    impl Job {
        fn init(_args: &(), ctx: &mut Ctx<Self>) -> Self {
            if let Some(job) = job() {
                let _ = ctx.after(job.period, Run);
            }
            Job
        }

        fn run(&mut self, _run: Run, ctx: &mut Ctx<Self>) -> Effect {
            let Some(job) = job() else {
                return Effect::Receive;
            };
            // The same computation as the tokio variants' job.
            crate::servers::compute(job.busy);
            job.runs.fetch_add(1, Ordering::Relaxed);
            let _ = ctx.after(job.period.saturating_sub(job.busy), Run);
            Effect::Receive
        }
    }

    /// Requests completed by the downstream, and refused by the gate or the downstream.
    pub(crate) static COMPLETED: AtomicU64 = AtomicU64::new(0);
    pub(crate) static REFUSED: AtomicU64 = AtomicU64::new(0);

    /// One request from the outside world (64 bytes, like the tokio variant's).
    #[derive(Bounded, Clone, Copy)]
    pub(crate) struct Work {
        pub(crate) number: u64,
    }

    /// Hands requests to the downstream; counts the ones its mailbox refuses.
    #[isolate(mailbox = 256)]
    pub(crate) struct Gate {
        downstream: Handle<Downstream>,
    }

    #[isolate]
    impl Gate {
        fn init(downstream: &Handle<Downstream>, _ctx: &mut Ctx<Self>) -> Self {
            Gate {
                downstream: *downstream,
            }
        }

        fn work(&mut self, work: Work, ctx: &mut Ctx<Self>) -> Effect {
            if ctx.send(&self.downstream, work).is_err() {
                // Answered with a refusal: a real server writes an error reply here.
                REFUSED.fetch_add(1, Ordering::Relaxed);
            }
            Effect::Receive
        }
    }

    #[derive(Bounded)]
    pub(crate) struct Refill;

    /// Completes at most `capacity` requests a second (tokens refilled every millisecond,
    /// 10 ms worth banked at most); keeps up to 256 waiting, refuses the rest.
    #[isolate(mailbox = 1024)]
    pub(crate) struct Downstream {
        capacity: u64,
        started: Option<tina::Instant>,
        added: u64,
        tokens: u64,
        waiting: heapless::Deque<Work, 256>,
    }

    #[isolate]
    impl Downstream {
        fn init(capacity: &u64, ctx: &mut Ctx<Self>) -> Self {
            let _ = ctx.after(Duration::from_millis(1), Refill);
            Downstream {
                capacity: *capacity,
                started: None,
                added: 0,
                tokens: 0,
                waiting: heapless::Deque::new(),
            }
        }

        fn work(&mut self, work: Work, _ctx: &mut Ctx<Self>) -> Effect {
            if self.tokens > 0 {
                self.tokens -= 1;
                std::hint::black_box(work.number);
                COMPLETED.fetch_add(1, Ordering::Relaxed);
            } else if self.waiting.push_back(work).is_err() {
                REFUSED.fetch_add(1, Ordering::Relaxed);
            }
            Effect::Receive
        }

        fn refill(&mut self, _refill: Refill, ctx: &mut Ctx<Self>) -> Effect {
            let now = ctx.now();
            let started = *self.started.get_or_insert(now);
            let elapsed = now.saturating_duration_since(started);
            let due = (u128::from(self.capacity) * elapsed.as_nanos() / 1_000_000_000) as u64;
            let burst = (self.capacity / 100).max(1);
            self.tokens = (self.tokens + (due - self.added)).min(burst);
            self.added = due;
            while self.tokens > 0 {
                let Some(work) = self.waiting.pop_front() else {
                    break;
                };
                self.tokens -= 1;
                std::hint::black_box(work.number);
                COMPLETED.fetch_add(1, Ordering::Relaxed);
            }
            let _ = ctx.after(Duration::from_millis(1), Refill);
            Effect::Receive
        }
    }
}

// ─────────────────────────────── end of Tina's place ───────────────────────────────

/// Seconds per sample, from `TINA_BENCH_SECS` or the plan.
fn seconds(plan: &Plan, full: f64, quick: f64, smoke: f64) -> Duration {
    let seconds = std::env::var("TINA_BENCH_SECS")
        .ok()
        .and_then(|value| value.parse::<f64>().ok())
        .filter(|value| *value > 0.0)
        .unwrap_or(plan.pick(full, quick, smoke));
    Duration::from_secs_f64(seconds)
}

/// The generator's threads, from `TINA_BENCH_LOAD_THREADS` (default 2).
fn load_threads() -> usize {
    std::env::var("TINA_BENCH_LOAD_THREADS")
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|threads| (1..=CONNECTIONS).contains(threads))
        .unwrap_or(2)
}

/// Whether `TINA_BENCH_PARTS` (names separated by commas) selects `part`; every part when
/// unset.
fn part_selected(part: &str) -> bool {
    std::env::var("TINA_BENCH_PARTS").map_or(true, |selected| {
        selected.split(',').any(|name| name.trim() == part)
    })
}

/// The load every server gets, for `duration` after a short warm-up.
fn load(address: SocketAddr, duration: Duration, pacing: Pacing) -> Config {
    Config {
        connections: CONNECTIONS,
        threads: load_threads(),
        message_bytes: MESSAGE_BYTES,
        duration,
        warm_up: Duration::from_millis(100).min(duration),
        pacing,
        // Waiting costs nothing when every reply is in; a stalled server gets a second.
        drain: Duration::from_secs(1),
        ..Config::new(address)
    }
}

/// Drives the already-running echo server at `address` for `duration`, closed loop, and
/// checks the run was clean.
fn echo_sample(name: &str, address: SocketAddr, duration: Duration) -> Report {
    let report = loadgen::run(&load(address, duration, Pacing::Closed)).expect("load generator");
    assert!(
        report.is_clean(),
        "{name}: the echo run was not clean: {report}"
    );
    assert!(report.round_trips > 0, "{name}: no round trip: {report}");
    report
}

/// Drives the already-running echo server at `address` for `duration` at the stall
/// workload's rate, and checks the run was clean.
fn stall_sample(name: &str, address: SocketAddr, duration: Duration) -> Report {
    let pacing = Pacing::Rate {
        requests_per_second: STALL_REQUESTS_PER_SECOND,
    };
    let report = loadgen::run(&load(address, duration, pacing)).expect("load generator");
    assert!(
        report.is_clean(),
        "{name}: the stall run was not clean: {report}"
    );
    report
}

/// A latency in microseconds, for the tables.
fn micros(latency: Duration) -> f64 {
    latency.as_secs_f64() * 1e6
}

/// Part 1: closed-loop echo, every server once per round.
fn echo(plan: &Plan, table: &mut Table) {
    let duration = seconds(plan, 3.0, 0.5, 0.15);
    eprintln!(
        "echo: {CONNECTIONS} connections, {MESSAGE_BYTES}-byte messages, {:.2} s per sample",
        duration.as_secs_f64()
    );
    type Start = fn() -> Option<Server>;
    let servers: [(&'static str, Start); 4] = [
        (BASELINE, || {
            Some(servers::tokio_echo(
                Flavour::MultiThread { workers: 2 },
                None,
            ))
        }),
        ("tokio current-thread", || {
            Some(servers::tokio_echo(Flavour::CurrentThread, None))
        }),
        ("mio loop per core (2 threads, SO_REUSEPORT)", || {
            Some(servers::mio_echo(2))
        }),
        ("tina (2 shards)", tina_echo_server),
    ];
    let reports: RefCell<Vec<(&'static str, Report)>> = RefCell::new(Vec::new());
    let mut contenders: Vec<Contender<'_>> = Vec::new();
    for (name, start) in servers {
        // A server that does not exist yet (Tina's, until it is plugged in) gets no row.
        let Some(probe) = start() else { continue };
        probe.stop();
        let reports = &reports;
        contenders.push(Contender::new(name, move || {
            let server = start().expect("the server started before");
            let report = echo_sample(name, server.address(), duration);
            server.stop();
            let throughput = report.round_trips_per_second();
            reports.borrow_mut().push((name, report));
            throughput
        }));
    }
    let throughput = interleave(plan, &mut contenders);
    drop(contenders);
    let reports = reports.into_inner();
    // The warm-up round's reports come first; keep the last `rounds` of each server.
    let measured = |name: &str| -> Vec<&Report> {
        let all: Vec<&Report> = reports
            .iter()
            .filter(|(server, _)| *server == name)
            .map(|(_, report)| report)
            .collect();
        all[all.len().saturating_sub(plan.rounds)..].to_vec()
    };
    let latency_samples = |fraction: f64| Samples {
        names: throughput.names.clone(),
        values: throughput
            .names
            .iter()
            .map(|name| {
                measured(name)
                    .iter()
                    .map(|report| micros(report.latency.percentile(fraction)))
                    .collect()
            })
            .collect(),
    };
    let p50 = latency_samples(0.5);
    let p99 = latency_samples(0.99);
    let p999 = latency_samples(0.999);

    table.line(format!(
        "\n### Echo: {CONNECTIONS} connections × {MESSAGE_BYTES} B, 1 outstanding each, \
         closed loop, {:.2} s per sample, {} rounds, generator on {} threads ({})\n",
        duration.as_secs_f64(),
        plan.rounds,
        load_threads(),
        machine::describe()
    ));
    table.line(
        "| server | round trips/s (median) | min | max | p50 µs | p99 µs | p99.9 µs | max µs \
         | throughput ÷ tokio MT | p99 ÷ tokio MT |",
    );
    table.line("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (index, name) in throughput.names.iter().enumerate() {
        let values = &throughput.values[index];
        let largest = measured(name)
            .iter()
            .map(|report| report.latency.max())
            .max()
            .unwrap_or_default();
        let has_baseline = !throughput.of(BASELINE).is_empty();
        let (throughput_ratio, p99_ratio) = if *name == BASELINE || !has_baseline {
            ("—".to_owned(), "—".to_owned())
        } else {
            (
                format!("{:.2}×", throughput.ratio_median(name, BASELINE)),
                format!("{:.2}×", p99.ratio_median(name, BASELINE)),
            )
        };
        table.line(format!(
            "| {name} | {:.0} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {:.0} | {throughput_ratio} \
             | {p99_ratio} |",
            median(values),
            values.iter().copied().fold(f64::INFINITY, f64::min),
            values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            median(&p50.values[index]),
            median(&p99.values[index]),
            median(&p999.values[index]),
            micros(largest),
        ));
    }
    table.line(
        "\nLatency columns: medians over rounds of each round's percentile; max µs: the largest \
         round trip of any round. Ratios: median of the per-round ratios (throughput above 1 \
         is faster than tokio multi-thread, p99 below 1 is lower).",
    );
    if plan.mode == Mode::Smoke {
        table.line("(smoke run: sizes are tiny, figures meaningless)");
    }
}

/// One variant of the stall workload: which server, with or without the job.
struct StallVariant {
    name: &'static str,
    job_running: bool,
    start: fn(Option<CpuJob>) -> Option<Server>,
    /// Every round's latencies, pooled.
    latency: loadgen::Histogram,
    round_trips: u64,
    window: Duration,
    job_runs: u64,
}

/// Part 2: paced echo with and without a CPU-heavy job inline in the server's runtime.
fn stall(plan: &Plan, table: &mut Table) {
    let duration = seconds(plan, 3.0, 1.0, 0.45);
    let rounds = plan.pick(3, 1, 1);
    eprintln!(
        "stall: {STALL_REQUESTS_PER_SECOND} requests/s, {:.2} s per sample, {rounds} rounds",
        duration.as_secs_f64()
    );
    let variant = |name, job_running, start| StallVariant {
        name,
        job_running,
        start,
        latency: loadgen::Histogram::new(),
        round_trips: 0,
        window: Duration::ZERO,
        job_runs: 0,
    };
    let current: fn(Option<CpuJob>) -> Option<Server> =
        |job| Some(servers::tokio_echo(Flavour::CurrentThread, job));
    let multi: fn(Option<CpuJob>) -> Option<Server> = |job| {
        Some(servers::tokio_echo(
            Flavour::MultiThread { workers: 2 },
            job,
        ))
    };
    let mut variants = vec![
        variant("tokio current-thread", false, current),
        variant("tokio current-thread", true, current),
        variant("tokio multi-thread (2 workers)", false, multi),
        variant("tokio multi-thread (2 workers)", true, multi),
        variant(
            "tina (2 shards + a background compute shard)",
            false,
            tina_stall_server,
        ),
        variant(
            "tina (2 shards + a background compute shard)",
            true,
            tina_stall_server,
        ),
        variant(
            "tina, compute shard at default priority",
            false,
            tina_stall_default_priority,
        ),
        variant(
            "tina, compute shard at default priority",
            true,
            tina_stall_default_priority,
        ),
    ];
    variants.retain(|variant| match (variant.start)(None) {
        Some(server) => {
            server.stop();
            true
        }
        None => false,
    });
    let count = variants.len();
    for round in 0..rounds {
        for offset in 0..count {
            let variant = &mut variants[(round + offset) % count];
            eprint!(
                "\r  round {}/{rounds}: {} (job {})          ",
                round + 1,
                variant.name,
                if variant.job_running { "on" } else { "off" }
            );
            let runs = Arc::new(AtomicU64::new(0));
            let job = variant.job_running.then(|| CpuJob {
                busy: JOB_BUSY,
                period: JOB_PERIOD,
                runs: Arc::clone(&runs),
            });
            let server = (variant.start)(job).expect("the server started before");
            let report = stall_sample(variant.name, server.address(), duration);
            server.stop();
            let job_runs = runs.load(Ordering::Relaxed);
            if variant.job_running {
                // The job must really have run about every period, or the figure says nothing.
                let expected = (duration + Duration::from_millis(100)).as_secs_f64()
                    / JOB_PERIOD.as_secs_f64();
                assert!(
                    job_runs as f64 >= (expected * 0.5).floor().max(1.0),
                    "{}: the CPU job ran {job_runs} times, expected about {expected:.0}",
                    variant.name
                );
            }
            variant.latency.merge(&report.latency);
            variant.round_trips += report.round_trips;
            variant.window += report.window;
            variant.job_runs += job_runs;
        }
    }
    eprintln!("\r  {rounds} rounds done{:<60}", "");

    table.line(format!(
        "\n### Stall: echo paced at {STALL_REQUESTS_PER_SECOND:.0} requests/s over \
         {CONNECTIONS} connections, latency from the scheduled send time; CPU job {} ms every \
         {} ms inline in a task; {:.2} s per sample, {rounds} rounds pooled\n",
        JOB_BUSY.as_millis(),
        JOB_PERIOD.as_millis(),
        duration.as_secs_f64()
    ));
    table.line(
        "| server | CPU job | p50 µs | p99 µs | p99.9 µs | max µs | round trips/s | job runs |",
    );
    table.line("|---|---|---:|---:|---:|---:|---:|---:|");
    for variant in &variants {
        let latency = &variant.latency;
        table.line(format!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} | {} |",
            variant.name,
            if variant.job_running { "on" } else { "off" },
            micros(latency.percentile(0.5)),
            micros(latency.percentile(0.99)),
            micros(latency.percentile(0.999)),
            micros(latency.max()),
            variant.round_trips as f64 / variant.window.as_secs_f64(),
            if variant.job_running {
                variant.job_runs.to_string()
            } else {
                "—".to_owned()
            },
        ));
    }
    table.line("");
    for pair in variants.chunks(2) {
        if let [off, on] = pair {
            table.line(format!(
                "* {}: p99 {} → {} with the job ({:.1}×), max {} → {}",
                off.name,
                DisplayDuration(off.latency.percentile(0.99)),
                DisplayDuration(on.latency.percentile(0.99)),
                on.latency.percentile(0.99).as_secs_f64()
                    / off.latency.percentile(0.99).as_secs_f64(),
                DisplayDuration(off.latency.max()),
                DisplayDuration(on.latency.max()),
            ));
        }
    }
    if plan.mode == Mode::Smoke {
        table.line("\n(smoke run: sizes are tiny, figures meaningless)");
    }
}

/// Part 3: a slow downstream flooded with requests.
fn overload(plan: &Plan, table: &mut Table) {
    let window = seconds(plan, 5.0, 1.0, 0.2);
    eprintln!(
        "overload: {OVERLOAD_OFFERED_PER_SECOND} requests/s offered, \
         {OVERLOAD_CAPACITY_PER_SECOND}/s served, {:.2} s",
        window.as_secs_f64()
    );
    let mut outcomes = vec![(
        "tokio multi-thread (2 workers), a task per request",
        overload::tokio_task_per_request(
            OVERLOAD_OFFERED_PER_SECOND,
            OVERLOAD_CAPACITY_PER_SECOND,
            window,
        ),
    )];
    if let Some(outcome) = tina_overload(
        OVERLOAD_OFFERED_PER_SECOND,
        OVERLOAD_CAPACITY_PER_SECOND,
        window,
    ) {
        outcomes.push(("tina", outcome));
    }

    table.line(format!(
        "\n### Overload: {OVERLOAD_OFFERED_PER_SECOND} requests/s offered to a downstream that \
         completes {OVERLOAD_CAPACITY_PER_SECOND}/s, for {:.2} s; RSS sampled every {} ms\n",
        window.as_secs_f64(),
        overload::SAMPLE_INTERVAL.as_millis()
    ));
    table.line(
        "| system | offered | completed | downstream /s | refused | queued at the end | RSS before \
         MiB | RSS peak MiB | growth MiB | growth MiB/s |",
    );
    table.line("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mebibytes = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    for (name, outcome) in &outcomes {
        let seconds = outcome.window.as_secs_f64();
        let served = outcome.completed as f64 / seconds;
        // The downstream's cap holds (with its 10 ms burst), or the workload is wrong.
        let cap = OVERLOAD_CAPACITY_PER_SECOND as f64 * (seconds + 0.02) * 1.05;
        assert!(
            outcome.completed as f64 <= cap,
            "{name}: the downstream completed {} requests in {seconds:.2} s, over its cap",
            outcome.completed
        );
        table.line(format!(
            "| {name} | {} | {} | {served:.0} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            outcome.offered,
            outcome.completed,
            outcome
                .refused
                .map_or_else(|| "never".to_owned(), |refused| refused.to_string()),
            outcome.queued(),
            mebibytes(outcome.rss_before_bytes),
            mebibytes(outcome.rss_peak_bytes),
            mebibytes(outcome.rss_growth_bytes()),
            mebibytes(outcome.rss_growth_bytes()) / seconds,
        ));
    }
    for (name, outcome) in &outcomes {
        let trace: Vec<String> = outcome
            .rss_samples_bytes
            .iter()
            .step_by(5)
            .map(|bytes| format!("{:.0}", mebibytes(*bytes)))
            .collect();
        table.line(format!(
            "\n{name}: RSS MiB every {} ms: {}",
            5 * overload::SAMPLE_INTERVAL.as_millis(),
            trace.join(", ")
        ));
    }
    if plan.mode == Mode::Smoke {
        table.line("\n(smoke run: sizes are tiny, figures meaningless)");
    }
}

/// The client side of the idle part, run as a child process (its own descriptor limit):
/// opens `count` connections to `addr`, says so on stdout, and keeps them until stdin
/// closes.
fn idle_clients(spec: &str) {
    use std::io::{BufRead, Write};
    let (addr, count) = spec.split_once(',').expect("addr,count");
    let addr: SocketAddr = addr.parse().expect("an address");
    let count: usize = count.parse().expect("a count");
    let mut streams = Vec::with_capacity(count);
    for _ in 0..count {
        streams.push(std::net::TcpStream::connect(addr).expect("connect"));
    }
    println!("connected {}", streams.len());
    std::io::stdout().flush().expect("stdout");
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
}

/// Idle connections: the server's memory per connection held open and silent (its read
/// armed, no buffer held), from the RSS of this process (the server alone: the clients
/// live in a child process) after boot and once every connection is accepted.
fn idle(plan: &Plan, table: &mut Table) {
    use std::io::{BufRead, BufReader};
    use tina::prelude::*;
    let connections: usize = match plan.mode {
        Mode::Smoke => 100,
        _ => 10_000,
    };
    let mut spec = BootSpec::new(1);
    spec.isolate::<tina_examples::echo::Echo>(connections)
        .buffer_class(16 * 1024, 64)
        // Each connection's idle-read deadline (and write deadline) holds a timer slot.
        .timer_slots(2 * connections + 64)
        .spin_before_sleep(0)
        .pin_threads(false);
    let listener = spec.listen(
        Listen::tcp::<tina_examples::echo::Echo>(SocketAddr::from(([127, 0, 0, 1], 0)))
            .max_connections(connections),
    );
    let reserved = spec.validate().expect("a valid spec");
    let system = System::start(spec).expect("the idle server boots");
    let addr = system.listener_addr(listener).expect("bound");
    // Let the boot settle, then take the baseline.
    std::thread::sleep(Duration::from_millis(200));
    let before = overload::rss_bytes();
    let mut child = std::process::Command::new(std::env::current_exe().expect("this bench"))
        .env("TINA_IDLE_CLIENTS", format!("{addr},{connections}"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the client process starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("the clients report");
    assert_eq!(
        line.trim(),
        format!("connected {connections}"),
        "the clients connected"
    );
    let started = std::time::Instant::now();
    while system.totals().connections_accepted < connections as u64 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "accepted {} of {connections}",
            system.totals().connections_accepted
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    let after = overload::rss_bytes();
    let live = system.totals().live_isolates;
    drop(child.stdin.take());
    let _ = child.wait();
    let summary = system.shutdown(Duration::from_secs(2));
    let per_connection = after.saturating_sub(before) as f64 / connections as f64;
    table.line(format!(
        "\n### Idle connections: {connections} silent connections on one shard, each an \
         `Echo` isolate with a read armed\n"
    ));
    table.line("| measure | value |");
    table.line("|---|---:|");
    table.line(format!(
        "| connections accepted / live isolates | {} / {live} |",
        summary.total.connections_accepted
    ));
    table.line(format!(
        "| RSS after boot | {:.1} MiB |",
        before as f64 / (1 << 20) as f64
    ));
    table.line(format!(
        "| RSS with every connection open | {:.1} MiB |",
        after as f64 / (1 << 20) as f64
    ));
    table.line(format!(
        "| RSS per idle connection (beyond the kernel's socket) | {per_connection:.0} B |"
    ));
    table.line(format!(
        "| boot reservation of the spec (all slots, buffers, socket table) | {:.1} MiB |",
        reserved.bytes_per_shard as f64 / (1 << 20) as f64
    ));
    table.line(format!(
        "| of which per connection, read buffers aside (slot, state, socket entry, timers) | {:.0} B |",
        (reserved.bytes_per_shard - reserved.buffer_bytes) as f64 / connections as f64
    ));
}

fn main() {
    if let Ok(spec) = std::env::var("TINA_IDLE_CLIENTS") {
        idle_clients(&spec);
        return;
    }
    let plan = Plan::from_env();
    let mut table = Table::new();
    table.line(format!("\n## TCP echo ({})", plan.describe()));
    if part_selected("echo") {
        echo(&plan, &mut table);
    }
    if part_selected("stall") {
        stall(&plan, &mut table);
    }
    if part_selected("overload") {
        overload(&plan, &mut table);
    }
    if part_selected("idle") {
        idle(&plan, &mut table);
    }
    table.finish();
}
