//! Timer lateness on an idle shard (issue 12): 10,000 timers from 50 µs to 10 ms, against
//! `tokio::time::sleep_until` on a current-thread runtime, in the same run.
//!
//! Eight isolates on one shard each run a chain of timers: each handler records how late
//! it runs (the OS monotonic clock against the due instant computed when the timer was
//! set), then sets the next timer, with delays cycling through 50 µs, 100 µs, 200 µs,
//! 500 µs, 1 ms, 2 ms, 5 ms and 10 ms. So the shard is idle (parked) between timers, which
//! is the case the lateness target is about. The tokio side runs eight tasks doing the same
//! with `sleep_until`. The runs alternate, `ROUNDS` times. Tina runs three ways: the
//! default (the shard parks until the deadline), and with `BootSpec::timer_spin` windows of
//! 250 µs and 1 ms (the shard parks until the window opens and spins the rest). Each round
//! also reports the process's CPU time over the round's wall time (what spinning costs).
//!
//! Run with `cargo bench -p tina-bench --bench timers` (`TINA_BENCH_QUICK=1` for a short
//! run).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tina_bench::{Plan, Table, machine, messages};
use tina_runtime::{BootSpec, Ctx, Effect, Isolate, ShardId, System};

/// Delays the chains cycle through.
const DELAYS_MICROS: [u64; 8] = [50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000];
/// Timer chains (isolates or tasks) running at once.
const CHAINS: usize = 8;
/// The most timers one round records.
const TIMERS_MAX: usize = 10_000;

/// Lateness of each fired timer in the current round, in nanoseconds.
static LATENESS: [AtomicU64; TIMERS_MAX] = [const { AtomicU64::new(0) }; TIMERS_MAX];
static RECORDED: AtomicUsize = AtomicUsize::new(0);
/// Timers per chain this round.
static PER_CHAIN: AtomicUsize = AtomicUsize::new(0);
/// The process's clock origin, for due instants carried in messages.
static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn nanos_now() -> u64 {
    ORIGIN.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

fn record(lateness_nanos: u64) {
    let index = RECORDED.fetch_add(1, Ordering::Relaxed);
    if index < TIMERS_MAX {
        LATENESS[index].store(lateness_nanos, Ordering::Relaxed);
    }
}

/// One timer of a chain: due at `due_nanos` (on `nanos_now`'s clock).
struct Due {
    due_nanos: u64,
}

/// A chain of timers.
struct Chain {
    fired: usize,
    offset: usize,
}

messages!(Chain => ChainMessage { Due(Due) });

impl Chain {
    fn arm(&mut self, ctx: &mut Ctx<'_, Self>) {
        let delay = Duration::from_micros(DELAYS_MICROS[(self.fired + self.offset) % 8]);
        let due_nanos = nanos_now() + delay.as_nanos() as u64;
        ctx.after(delay, Due { due_nanos }).expect("a timer slot");
    }
}

impl Isolate for Chain {
    type Message = ChainMessage;
    type Args = usize;
    const MAILBOX: usize = 2;
    const NAME: &'static str = "Chain";

    fn init(offset: &usize, ctx: &mut Ctx<Self>) -> Self {
        let mut chain = Chain {
            fired: 0,
            offset: *offset,
        };
        chain.arm(ctx);
        chain
    }

    fn handle(&mut self, message: ChainMessage, ctx: &mut Ctx<Self>) -> Effect {
        let ChainMessage::Due(Due { due_nanos }) = message;
        record(nanos_now().saturating_sub(due_nanos));
        self.fired += 1;
        if self.fired < PER_CHAIN.load(Ordering::Relaxed) {
            self.arm(ctx);
            Effect::Receive
        } else {
            Effect::Done
        }
    }
}

/// The recorded latenesses of the round, sorted, in microseconds.
fn take_round() -> Vec<f64> {
    let count = RECORDED.swap(0, Ordering::SeqCst).min(TIMERS_MAX);
    let mut values: Vec<f64> = LATENESS[..count]
        .iter()
        .map(|value| value.load(Ordering::Relaxed) as f64 / 1_000.0)
        .collect();
    values.sort_by(f64::total_cmp);
    values
}

/// The process's CPU time (all threads), in nanoseconds.
fn cpu_nanos() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; the clock id is a constant the OS knows.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// One round's latenesses (sorted, µs) and CPU time over wall time.
struct Round {
    values: Vec<f64>,
    cpu: f64,
}

/// Runs `body`, returning its latenesses with the CPU share it used.
fn measured(body: impl FnOnce() -> Vec<f64>) -> Round {
    let (cpu_start, wall_start) = (cpu_nanos(), Instant::now());
    let values = body();
    let cpu = (cpu_nanos() - cpu_start) as f64 / wall_start.elapsed().as_nanos() as f64;
    Round { values, cpu }
}

fn tina_round(per_chain: usize, spin: Option<Duration>) -> Vec<f64> {
    PER_CHAIN.store(per_chain, Ordering::SeqCst);
    let mut spec = BootSpec::new(1);
    spec.isolate::<Chain>(CHAINS);
    if let Some(window) = spin {
        spec.timer_spin(window);
    }
    for chain in 0..CHAINS {
        spec.root::<Chain>(ShardId(0), chain);
    }
    let system = System::start(spec).expect("boot");
    let expected = (CHAINS * per_chain) as u64;
    assert!(
        system.wait_until(Duration::from_secs(600), |totals| totals.timers_fired
            >= expected),
        "tina: the timers did not all fire"
    );
    let summary = system.shutdown(Duration::from_secs(5));
    assert_eq!(summary.total.timers_fired, expected);
    assert!(summary.total.sleeps > 0, "tina: the shard never slept");
    let values = take_round();
    assert_eq!(values.len() as u64, expected, "tina: every timer recorded");
    values
}

fn tokio_round(per_chain: usize) -> Vec<f64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let mut tasks = Vec::with_capacity(CHAINS);
        for offset in 0..CHAINS {
            tasks.push(tokio::spawn(async move {
                for fired in 0..per_chain {
                    let delay = Duration::from_micros(DELAYS_MICROS[(fired + offset) % 8]);
                    let due_nanos = nanos_now() + delay.as_nanos() as u64;
                    let due = tokio::time::Instant::now() + delay;
                    tokio::time::sleep_until(due).await;
                    record(nanos_now().saturating_sub(due_nanos));
                }
            }));
        }
        for task in tasks {
            task.await.expect("a timer task");
        }
    });
    let values = take_round();
    assert_eq!(
        values.len(),
        CHAINS * per_chain,
        "tokio: every timer recorded"
    );
    values
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn main() {
    let plan = Plan::from_env();
    let per_chain = plan.pick(TIMERS_MAX / CHAINS, 250, 20);
    let rounds = plan.pick(3, 1, 1);
    let _ = nanos_now();
    type System = (&'static str, Box<dyn Fn() -> Vec<f64>>);
    let systems: Vec<System> = vec![
        (
            "tina, `ctx.after` on one idle shard (default: parks until the deadline)",
            Box::new(move || tina_round(per_chain, None)),
        ),
        (
            "tina, the same with `timer_spin(250 µs)`",
            Box::new(move || tina_round(per_chain, Some(Duration::from_micros(250)))),
        ),
        (
            "tina, the same with `timer_spin(1 ms)`",
            Box::new(move || tina_round(per_chain, Some(Duration::from_millis(1)))),
        ),
        (
            "tokio `sleep_until`, current-thread runtime",
            Box::new(move || tokio_round(per_chain)),
        ),
    ];
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); systems.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); systems.len()];
    for round in 0..rounds {
        eprintln!("timers: round {} of {rounds}", round + 1);
        // Rotate who goes first, so no system always runs on a fresh machine.
        for turn in 0..systems.len() {
            let index = (turn + round) % systems.len();
            let Round {
                values: run,
                cpu: share,
            } = measured(|| (systems[index].1)());
            values[index].extend(run);
            cpu[index].push(share);
        }
    }
    for list in &mut values {
        list.sort_by(f64::total_cmp);
    }
    let mut table = Table::new();
    table.line(format!(
        "\n### Timer lateness on an idle shard ({} timers of 50 µs to 10 ms per system, {rounds} alternating rounds of {} chains; {})\n",
        values[0].len(),
        CHAINS,
        machine::describe()
    ));
    table.line("| system | p50 | p90 | p99 | max | CPU (process, share of one core, per round) |");
    table.line("|---|---:|---:|---:|---:|---|");
    for (index, (name, _)) in systems.iter().enumerate() {
        let list = &values[index];
        let shares: Vec<String> = cpu[index]
            .iter()
            .map(|share| format!("{:.1}%", share * 100.0))
            .collect();
        table.line(format!(
            "| {name} | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs | {} |",
            percentile(list, 0.50),
            percentile(list, 0.90),
            percentile(list, 0.99),
            list[list.len() - 1],
            shares.join(", ")
        ));
    }
    let tokio_p99 = percentile(&values[systems.len() - 1], 0.99);
    for (index, (name, _)) in systems.iter().enumerate().take(systems.len() - 1) {
        let p99 = percentile(&values[index], 0.99);
        table.line(format!(
            "\n{name}: p99 {:.1}× better than tokio's. Target: p99 ≤ 50 µs — {}.",
            tokio_p99 / p99.max(0.001),
            match plan.mode {
                tina_bench::Mode::Smoke => "not judged (smoke run)",
                _ if p99 <= 50.0 => "met",
                _ => "MISSED",
            }
        ));
    }
    table.finish();
}

tina_bench::plain_data!(Due, Chain);
