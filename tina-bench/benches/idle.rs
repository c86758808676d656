//! An idle two-shard system: how much CPU does it burn while nothing happens?
//!
//! Boots two shards with one isolate each that never receives a message, lets them settle,
//! then measures the whole process's CPU time (`getrusage`: user + system, every thread) over
//! a window — 10 s by default, `TINA_BENCH_IDLE_SECONDS=N` to change it (1 s under
//! `TINA_BENCH_QUICK=1`, 0.2 s for a smoke run). The benchmark's own main thread sleeps
//! meanwhile. For reference the same is measured for an idle tokio multi-thread runtime
//! with two workers. This runs once, not interleaved: an idle system has nothing to
//! interleave with.
//!
//! It checks that the shards really went to sleep (each sleeps at least once) and reports
//! how often they woke. Then the same two shards with a heartbeat (a timer every 100 ms on
//! each shard, the kind of timer an idle server keeps), without and with
//! `BootSpec::timer_spin(250 µs)`: what the spin window costs a mostly idle system.
//!
//! Run with `cargo bench -p tina-bench --bench idle`.

use std::time::{Duration, Instant};

use tina_bench::{Plan, Table, machine, messages, process_cpu_time};
use tina_runtime::{BootSpec, Ctx, Effect, Isolate, ShardId, System};

/// Never receives anything.
struct Idle;

/// Never sent.
struct Nudge;

messages!(Idle => IdleMessage { Nudge(Nudge) });

impl Isolate for Idle {
    type Message = IdleMessage;
    type Args = ();
    const MAILBOX: usize = 1;
    const NAME: &'static str = "Idle";

    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        Idle
    }

    fn handle(&mut self, message: IdleMessage, _ctx: &mut Ctx<Self>) -> Effect {
        let IdleMessage::Nudge(Nudge) = message;
        Effect::Receive
    }
}

/// Re-arms a timer every [`HEARTBEAT`].
struct Heartbeat;

/// The heartbeat's timer.
struct Beat;

messages!(Heartbeat => HeartbeatMessage { Beat(Beat) });

/// How often a heartbeat fires.
const HEARTBEAT: Duration = Duration::from_millis(100);

impl Isolate for Heartbeat {
    type Message = HeartbeatMessage;
    type Args = ();
    const MAILBOX: usize = 1;
    const NAME: &'static str = "Heartbeat";

    fn init(_args: &(), ctx: &mut Ctx<Self>) -> Self {
        ctx.after(HEARTBEAT, Beat).expect("a timer slot");
        Heartbeat
    }

    fn handle(&mut self, message: HeartbeatMessage, ctx: &mut Ctx<Self>) -> Effect {
        let HeartbeatMessage::Beat(Beat) = message;
        ctx.after(HEARTBEAT, Beat).expect("a timer slot");
        Effect::Receive
    }
}

/// Two shards with a heartbeat each, with the given spin window: CPU share over `window`
/// and timers fired in it.
fn heartbeat_cpu(window: Duration, settle: Duration, spin: Option<Duration>) -> (f64, u64) {
    let mut spec = BootSpec::new(2);
    spec.isolate::<Heartbeat>(1);
    if let Some(spin) = spin {
        spec.timer_spin(spin);
    }
    spec.root::<Heartbeat>(ShardId(0), ());
    spec.root::<Heartbeat>(ShardId(1), ());
    let system = System::start(spec).expect("boot");
    std::thread::sleep(settle);
    let fired_before = system.totals().timers_fired;
    let cpu = cpu_fraction_over(window);
    let fired = system.totals().timers_fired - fired_before;
    let summary = system.shutdown(Duration::from_secs(5));
    assert!(summary.drained, "tina: shutdown did not drain");
    assert!(fired > 0, "tina: no heartbeat fired");
    (cpu, fired)
}

/// CPU time used by the process over `window`, as a fraction of one core, with the main
/// thread asleep.
fn cpu_fraction_over(window: Duration) -> f64 {
    let cpu_before = process_cpu_time();
    let wall_before = Instant::now();
    std::thread::sleep(window);
    let cpu = process_cpu_time() - cpu_before;
    cpu.as_secs_f64() / wall_before.elapsed().as_secs_f64()
}

fn main() {
    let plan = Plan::from_env();
    let seconds: f64 = std::env::var("TINA_BENCH_IDLE_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(plan.pick(10.0, 1.0, 0.2));
    let window = Duration::from_secs_f64(seconds);
    let settle = Duration::from_millis(300);
    eprintln!("idle: {seconds} s per system");

    // Nothing running: the floor (the sleeping main thread).
    let floor = cpu_fraction_over(window);

    let mut spec = BootSpec::new(2);
    spec.isolate::<Idle>(1);
    spec.root::<Idle>(ShardId(0), ());
    spec.root::<Idle>(ShardId(1), ());
    let system = System::start(spec).expect("boot");
    assert!(
        system.wait_until(Duration::from_secs(10), |totals| totals.spawned == 2),
        "tina: roots did not start"
    );
    std::thread::sleep(settle);
    let sleeps_before = system.totals().sleeps;
    let tina = cpu_fraction_over(window);
    let sleeps = system.totals().sleeps - sleeps_before;
    let summary = system.shutdown(Duration::from_secs(5));
    assert!(summary.drained, "tina: shutdown did not drain");
    for (index, shard) in summary.shards.iter().enumerate() {
        assert!(shard.sleeps > 0, "tina: shard {index} never slept");
    }

    let (beating, beats) = heartbeat_cpu(window, settle, None);
    let (spinning, spun_beats) = heartbeat_cpu(window, settle, Some(Duration::from_micros(250)));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("tokio runtime");
    std::thread::sleep(settle);
    let tokio = cpu_fraction_over(window);
    drop(runtime);

    let mut table = Table::new();
    table.line(format!(
        "\n### Idle CPU ({seconds} s window after {} ms to settle; {})\n",
        settle.as_millis(),
        machine::describe()
    ));
    table.line("| system | CPU time, % of one core |");
    table.line("|---|---:|");
    table.line(format!(
        "| tina, 2 idle shards (woke {sleeps} times in the window, {:.1}/s) | {:.3}% |",
        sleeps as f64 / seconds,
        100.0 * tina
    ));
    table.line(format!(
        "| tina, 2 shards with a heartbeat timer every {} ms each ({beats} fired) | {:.3}% |",
        HEARTBEAT.as_millis(),
        100.0 * beating
    ));
    table.line(format!(
        "| … the same with `timer_spin(250 µs)` ({spun_beats} fired) | {:.3}% |",
        100.0 * spinning
    ));
    table.line(format!(
        "| tokio multi-thread runtime, 2 idle workers | {:.3}% |",
        100.0 * tokio
    ));
    table.line(format!(
        "| nothing started (this process's sleeping main thread) | {:.3}% |",
        100.0 * floor
    ));
    let verdict = match plan.mode {
        tina_bench::Mode::Smoke => "not judged (smoke run)",
        _ if tina < 0.01 && spinning < 0.01 => "met",
        _ => "MISSED",
    };
    table.line(format!(
        "\nTarget for tina: < 1% of one core, idle and with heartbeats under a 250 µs spin window — {verdict}."
    ));
    table.finish();
}

tina_bench::plain_data!(Idle, Nudge, Heartbeat, Beat);
