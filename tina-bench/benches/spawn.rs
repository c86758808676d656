//! Spawning 100,000 isolates on one shard — time per spawn and bytes per isolate — against
//! 100,000 tokio tasks on a current-thread runtime, actix actors on one arbiter and ractor
//! actors, interleaved in one process.
//!
//! **Time.** From the first spawn call until every new isolate (task, actor) has run its
//! first code: Tina's `init`, the task's first poll, actix's `started`, ractor's `pre_start`.
//! Each of those bumps a counter; the sample fails unless all 100,000 ran.
//!
//! **Bytes.** A `#[global_allocator]` that counts net bytes while a window is open:
//! * tokio, actix, ractor: the heap growth over the spawn phase, divided by the count (the
//!   task or actor and everything the framework keeps for it, mailbox included);
//! * Tina: the spawn phase must allocate **nothing** (checked); an isolate's memory is the
//!   slot reserved at boot, measured as the boot-time heap of a spec with 100,001 slots minus
//!   one with 1 slot, divided by 100,000. That figure, minus `size_of` the isolate's state, is
//!   the per-isolate overhead. Tina's mailboxes are intrusive queues in the shard's shared
//!   envelope pool, so there is no per-isolate mailbox reservation beyond the 16-byte queue
//!   head inside the slot; the pool itself is reported separately.
//!
//! Timed rounds run with the counting off (one relaxed load per allocation); bytes are
//! measured in a separate pass.
//!
//! Run with `cargo bench -p tina-bench --bench spawn` (`TINA_BENCH_QUICK=1` for a short run).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tina_bench::{
    Contender, CountingAllocator, Metric, Plan, Probe, Table, interleave, machine, median, messages,
};
use tina_runtime::{BootSpec, Ctx, Effect, Isolate, ShardId, Simulation, SpawnError, System};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator::new();

static PROBE: Probe = Probe::new();

/// New isolates, tasks or actors that have run their first code in this sample.
static STARTED: AtomicU64 = AtomicU64::new(0);

/// How many children this sample spawns (the last one to start stamps the end).
static TOTAL: AtomicU64 = AtomicU64::new(0);

/// Set by the main thread once it is ready to measure; the spawner waits for it.
static GO: AtomicBool = AtomicBool::new(false);

// ---------------------------------------------------------------------------------------
// Tina
// ---------------------------------------------------------------------------------------

/// A spawned isolate: eight bytes of state.
struct Child {
    seed: u64,
}

/// Something a child could be told (never sent here; gives the child a message type).
struct Poke;

messages!(Child => ChildMessage { Poke(Poke) });

impl Isolate for Child {
    type Message = ChildMessage;
    type Args = u64;
    const MAILBOX: usize = 16;
    const NAME: &'static str = "Child";

    #[inline]
    fn init(seed: &u64, _ctx: &mut Ctx<Self>) -> Self {
        let started = STARTED.fetch_add(1, Ordering::Relaxed) + 1;
        if started == TOTAL.load(Ordering::Relaxed) {
            PROBE.finish(started);
        }
        Child { seed: *seed }
    }

    fn handle(&mut self, message: ChildMessage, _ctx: &mut Ctx<Self>) -> Effect {
        let ChildMessage::Poke(Poke) = message;
        self.seed = self.seed.wrapping_add(1);
        Effect::Receive
    }
}

/// Spawns `total` children as fast as it can (the last child to start stamps the end).
struct Spawner {
    spawned: u64,
    total: u64,
}

/// Starts the spawner.
struct Go;

messages!(Spawner => SpawnerMessage { Go(Go) });

impl Spawner {
    fn step(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        if !GO.load(Ordering::Acquire) {
            return Effect::Yield;
        }
        if self.spawned == 0 {
            PROBE.start();
        }
        while self.spawned < self.total {
            match ctx.spawn::<Child>(self.spawned) {
                Ok(_) => self.spawned += 1,
                Err(SpawnError::PoolExhausted) => return Effect::Yield,
                Err(error) => {
                    PROBE.fail(format!("tina: spawn {} refused: {error:?}", self.spawned));
                    return Effect::Done;
                }
            }
        }
        // The children's `init`s run after this handler, in the same or later ticks.
        Effect::Receive
    }
}

impl Isolate for Spawner {
    type Message = SpawnerMessage;
    type Args = u64;
    const MAILBOX: usize = 1;
    const NAME: &'static str = "Spawner";

    fn init(total: &u64, ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        if ctx.send(&me, Go).is_err() {
            PROBE.fail("tina: spawner could not start itself");
        }
        Spawner {
            spawned: 0,
            total: *total,
        }
    }

    fn handle(&mut self, message: SpawnerMessage, ctx: &mut Ctx<Self>) -> Effect {
        let SpawnerMessage::Go(Go) = message;
        self.step(ctx)
    }

    fn resume(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        self.step(ctx)
    }
}

/// The spec of a spawn sample: `slots` child slots, an envelope pool large enough for one
/// burst of `burst` init envelopes.
fn spawn_spec(slots: usize, burst: usize) -> BootSpec {
    let mut spec = BootSpec::new(1);
    spec.pin_threads(pinned());
    spec.isolate::<Spawner>(1)
        .isolate::<Child>(slots)
        .pool_slots(burst.max(1) + 64)
        .dispatch_budget(4096);
    spec
}

/// One sample: returns nanoseconds per spawn, and the bytes and allocator calls of the
/// spawn phase.
fn tina(total: u64) -> (f64, i64, u64) {
    PROBE.reset();
    STARTED.store(0, Ordering::SeqCst);
    TOTAL.store(total, Ordering::SeqCst);
    GO.store(false, Ordering::SeqCst);
    let mut spec = spawn_spec(total as usize, total as usize);
    spec.root::<Spawner>(ShardId(0), total);
    let system = System::start(spec).expect("boot");
    // Let the boot settle (roots started), then open the window and let the spawner go.
    assert!(
        system.wait_until(Duration::from_secs(10), |totals| totals.spawned == 1),
        "tina: spawner did not start"
    );
    let window = ALLOCATOR.window();
    GO.store(true, Ordering::Release);
    let finished = system.wait_until(Duration::from_secs(60), |_| PROBE.is_finished());
    let counted = window.finish();
    let summary = system.shutdown(Duration::from_secs(10));
    PROBE.check();
    assert!(finished, "tina: spawns did not finish: {:?}", summary.total);
    assert_eq!(
        STARTED.load(Ordering::SeqCst),
        total,
        "tina: wrong start count"
    );
    assert_eq!(
        summary.total.spawned,
        total + 1,
        "tina: spawned counter disagrees"
    );
    (
        PROBE.elapsed_seconds() * 1e9 / total as f64,
        counted.net_bytes,
        counted.allocations,
    )
}

/// Heap bytes a booted (simulated, so single-threaded) system holds for `slots` child slots.
fn tina_boot_bytes(slots: usize) -> i64 {
    let window = ALLOCATOR.window();
    let spec = spawn_spec(slots, 4096);
    let simulation = Simulation::new(spec, 1).expect("valid spec");
    let counted = window.finish();
    drop(simulation);
    counted.net_bytes
}

// ---------------------------------------------------------------------------------------
// tokio
// ---------------------------------------------------------------------------------------

/// One sample: `total` tasks that each bump the counter and then wait on a shared
/// `Notify`; returns nanoseconds per spawn and the bytes the spawn phase kept.
fn tokio(total: u64, count_bytes: bool) -> (f64, i64) {
    STARTED.store(0, Ordering::SeqCst);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        let release = std::sync::Arc::new(tokio::sync::Notify::new());
        let mut handles = Vec::with_capacity(total as usize);
        let window = count_bytes.then(|| ALLOCATOR.window());
        let start = Instant::now();
        for _ in 0..total {
            let release = release.clone();
            handles.push(tokio::spawn(async move {
                STARTED.fetch_add(1, Ordering::Relaxed);
                release.notified().await;
            }));
        }
        while STARTED.load(Ordering::Relaxed) < total {
            tokio::task::yield_now().await;
        }
        let elapsed = start.elapsed();
        let bytes = window.map_or(0, |window| window.finish().net_bytes);
        release.notify_waiters();
        for handle in handles {
            handle.await.expect("tokio: task finished");
        }
        assert_eq!(
            STARTED.load(Ordering::SeqCst),
            total,
            "tokio: wrong start count"
        );
        (elapsed.as_secs_f64() * 1e9 / total as f64, bytes)
    });
    drop(runtime);
    result
}

// ---------------------------------------------------------------------------------------
// actix
// ---------------------------------------------------------------------------------------

struct ActixChild {
    seed: u64,
}

impl actix::Actor for ActixChild {
    type Context = actix::Context<Self>;

    fn started(&mut self, _context: &mut actix::Context<Self>) {
        self.seed = self.seed.wrapping_add(1);
        STARTED.fetch_add(1, Ordering::Relaxed);
    }
}

fn actix(total: u64, count_bytes: bool) -> (f64, i64) {
    use actix::Actor as _;
    STARTED.store(0, Ordering::SeqCst);
    let system = actix::System::new();
    let result = system.block_on(async move {
        let mut addresses = Vec::with_capacity(total as usize);
        let window = count_bytes.then(|| ALLOCATOR.window());
        let start = Instant::now();
        for seed in 0..total {
            addresses.push(ActixChild { seed }.start());
        }
        while STARTED.load(Ordering::Relaxed) < total {
            tokio::task::yield_now().await;
        }
        let elapsed = start.elapsed();
        let bytes = window.map_or(0, |window| window.finish().net_bytes);
        assert_eq!(
            STARTED.load(Ordering::SeqCst),
            total,
            "actix: wrong start count"
        );
        drop(addresses);
        (elapsed.as_secs_f64() * 1e9 / total as f64, bytes)
    });
    drop(system);
    result
}

// ---------------------------------------------------------------------------------------
// ractor
// ---------------------------------------------------------------------------------------

struct RactorChild;

impl ractor::Actor for RactorChild {
    type Msg = ();
    type State = u64;
    type Arguments = u64;

    async fn pre_start(
        &self,
        _myself: ractor::ActorRef<()>,
        seed: u64,
    ) -> Result<u64, ractor::ActorProcessingErr> {
        STARTED.fetch_add(1, Ordering::Relaxed);
        Ok(seed)
    }
}

fn ractor(total: u64, count_bytes: bool) -> (f64, i64) {
    STARTED.store(0, Ordering::SeqCst);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        let mut actors = Vec::with_capacity(total as usize);
        let window = count_bytes.then(|| ALLOCATOR.window());
        let start = Instant::now();
        for seed in 0..total {
            actors.push(
                ractor::Actor::spawn(None, RactorChild, seed)
                    .await
                    .expect("ractor: spawn"),
            );
        }
        while STARTED.load(Ordering::Relaxed) < total {
            tokio::task::yield_now().await;
        }
        let elapsed = start.elapsed();
        let bytes = window.map_or(0, |window| window.finish().net_bytes);
        assert_eq!(
            STARTED.load(Ordering::SeqCst),
            total,
            "ractor: wrong start count"
        );
        for (actor, _) in &actors {
            actor.stop(None);
        }
        for (_, join) in actors {
            join.await.expect("ractor: actor stopped");
        }
        (elapsed.as_secs_f64() * 1e9 / total as f64, bytes)
    });
    drop(runtime);
    result
}

/// Whether Tina's shard is pinned (`TINA_BENCH_PIN`; see [`Plan::pin_single_thread`]).
fn pinned() -> bool {
    Plan::from_env().pin_single_thread()
}

fn main() {
    let plan = Plan::from_env();
    plan.pin_peer_thread();
    let total: u64 = plan.pick(100_000, 100_000, 2_000);
    eprintln!("spawn: {}", plan.describe());

    let mut tina_allocations = Vec::new();
    let mut contenders = [
        Contender::new("tina ctx.spawn", || {
            let (nanos, bytes, calls) = tina(total);
            tina_allocations.push((bytes, calls));
            nanos
        }),
        Contender::new("tokio::spawn, current-thread", || tokio(total, false).0),
        Contender::new("actix Actor::start", || actix(total, false).0),
        Contender::new("ractor Actor::spawn", || ractor(total, false).0),
    ];
    let samples = interleave(&plan, &mut contenders);
    drop(contenders);
    for (bytes, calls) in &tina_allocations {
        assert!(
            *bytes == 0 && *calls == 0,
            "tina: the spawn phase allocated {bytes} bytes in {calls} calls; it must allocate nothing"
        );
    }

    // Bytes, in a separate pass with the counting on.
    let only = std::env::var("TINA_BENCH_ONLY").unwrap_or_default();
    let slot_bytes =
        (tina_boot_bytes(total as usize + 1) - tina_boot_bytes(1)) as f64 / total as f64;
    let state_bytes = size_of::<Child>();
    let mut spec = spawn_spec(total as usize, 4096);
    spec.root::<Spawner>(ShardId(0), total);
    let report = spec.validate().expect("valid spec");
    let per_peer = |name: &str, measure: &dyn Fn() -> i64| -> String {
        if !name.contains(only.as_str()) {
            return "not run".to_owned();
        }
        let bytes: Vec<f64> = (0..3).map(|_| measure() as f64 / total as f64).collect();
        format!("{:.0}", median(&bytes))
    };
    let tokio_bytes = per_peer("tokio", &|| tokio(total, true).1);
    let actix_bytes = per_peer("actix", &|| actix(total, true).1);
    let ractor_bytes = per_peer("ractor", &|| ractor(total, true).1);

    let mut table = Table::new();
    table.line(format!(
        "\n### Spawning {total} isolates / tasks / actors on one thread ({}; {})",
        plan.describe(),
        machine::describe()
    ));
    table.section(
        "time per spawn, until every new one has run its first code",
        &samples,
        Metric::cost("ns per spawn"),
        "tina ctx.spawn",
    );
    table.line("\n**memory per isolate / task / actor** (net heap bytes ÷ count; median of 3)\n");
    table.line(
        "| contender | bytes each | state (`size_of`) | overhead beyond state | mailbox reservation |",
    );
    table.line("|---|---:|---:|---:|---|");
    table.line(format!(
        "| tina (slot reserved at boot; spawn allocates 0 bytes, checked) | {slot_bytes:.0} | {state_bytes} | {:.0} | none per isolate: a 16-byte queue head in the slot; messages wait in the shard's shared pool ({} KiB for {} envelopes) |",
        slot_bytes - state_bytes as f64,
        report.pool_bytes / 1024,
        4096 + 64 + 256 + 1024,
    ));
    table.line(format!(
        "| tokio task (future holds an `Arc<Notify>` and a `Notified`) | {tokio_bytes} | — | — | none (no mailbox) |"
    ));
    table.line(format!(
        "| actix actor | {actix_bytes} | — | — | included (its channel) |"
    ));
    table.line(format!(
        "| ractor actor | {ractor_bytes} | — | — | included (its channels) |"
    ));
    table.line(format!(
        "\nThe boot spec's own estimate (`BootSpec::validate`): {:.0} bytes of slot bookkeeping and {:.0} bytes of state per slot (the state and its presence bit; init args are kept only for the slots that can be supervised — static children and groups' room for dynamic ones — {} here).",
        report.slot_bytes as f64 / (total + 1) as f64,
        report.state_bytes as f64 / (total + 1) as f64,
        "one, the spawner's",
    ));
    table.finish();
}

tina_bench::plain_data!(Child, Poke, Spawner, Go);
