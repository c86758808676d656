//! Simulator speed (issue 15): how fast the deterministic simulator runs, with faults off,
//! with every fault on and with swarm configurations, and how many seeds of the bank's
//! swarm sweep it checks per second; against turmoil in the same run.
//!
//! * **a. Mesh**: on every shard, four `Peer`s pass `Ball`s around: each ball carries a hop
//!   count and every peer that receives one sends it on (alternately to the next peer on its
//!   own shard and to its twin on the next shard) until the count runs out. A `Pacer` per
//!   shard (supervised, restarted when it crashes) kicks one of its shard's peers every 25 µs
//!   of simulated time (each peer every 100 µs), and each kick starts 32 new balls of 64 hops per peer, so drops, delays,
//!   partitions and crashes never end the work. Run on 1, 2 and 8 shards, with
//!   `Faults::none()`, with `Faults::all()` (every kind on; injected crashes and init
//!   failures aimed at the `Pacer`, the one type that receives no balls) and with
//!   `Faults::swarm` (a new configuration per sample), until a fixed number of dispatches.
//!   The figure is `SimReport::dispatched` (handler calls) ÷ host wall-clock seconds of
//!   `Simulation::run`.
//! * **b. Stream**: one `tina_bench::stream` sender streaming numbered items to one receiver
//!   on the same shard (one shard), with faults off: the like-for-like of the ~80 M
//!   dispatches/s measured before fault injection existed. The same with `Faults::all()`
//!   (crashes aimed at a type not in the system: on one shard only the per-dispatch fault
//!   hooks run) shows what merely switching faults on costs.
//! * **c. Bank sweep**: the 1,000-seed swarm sweep of `examples/tests/bank_sim.rs` (same
//!   plan, checkers, rounds limit, crash targets and seed names), on one thread and on every
//!   core; seeds per second.
//! * **d. turmoil**: the mesh over turmoil's simulated UDP network: one host per Tina shard,
//!   each injecting 4 × 32 balls of 64 hops every tick (1 ms; 60 ticks per sample, 3 rounds) and forwarding every datagram
//!   it receives to the next or the next-but-one host; faults off (1 ms latency, no loss)
//!   and on (`fail_rate` 0.01, `repair_rate` 0.5, latency 0–5 ms). The figure is datagrams
//!   received by host code ÷ wall seconds of `Sim::run`. And a bank-like scenario for seeds
//!   per second: a fresh `Sim` per seed, four account hosts and two teller clients making 40
//!   withdraw calls each (UDP, 1 ms timeout, retried), each withdrawal forwarded as a deposit
//!   that the destination acknowledges; faults on.
//!
//! **What is compared**: a Tina dispatch (one handler call of an isolate, whatever it was
//! for: a message, a timer, a resume, an init) against a turmoil datagram received by host
//! code (one `recv_from` completing in a host's task). Both are "one unit of simulated work
//! that user code sees"; a turmoil receive also goes through its network model and a tokio
//! task wake-up, a Tina dispatch through a mailbox and, across shards, the simulated
//! transport. The bank-like turmoil scenario is smaller in logic than the Tina bank (no
//! deduplication, no resend timers, no money checker): seeds per second are compared with
//! that caveat.
//!
//! madsim is not measured: its simulation needs the whole build under `RUSTFLAGS="--cfg
//! madsim"` (it swaps tokio for its own runtime crate-wide), which does not fit a bench
//! target of a workspace whose other benches use the real tokio.
//!
//! Run with `cargo bench -p tina-bench --bench sim` (`TINA_BENCH_QUICK=1` for a short run,
//! `TINA_BENCH_PARTS=abcd` for some parts only); `cargo test -p tina-bench --bench sim` is the
//! smoke run: tiny sizes, asserting that every scenario dispatched and that faults were
//! injected where they are on.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tina::prelude::*;
use tina::sim::{CrashTargets, FaultCounts, Faults, SimTest};
use tina_bench::stream::{self, Receiver, Sender};
use tina_bench::{Contender, Metric, Mode, Plan, Probe, Samples, Table, interleave, machine};
use tina_examples::bank::{BankPlan, BankWorld, Teller, bank_spec, conserved, settled};

// ---------------------------------------------------------------------------------------
// a. The mesh
// ---------------------------------------------------------------------------------------

/// Peers on every shard.
const PEERS: usize = 4;
/// Balls each peer starts per kick.
const BURST: u32 = 32;
/// Hops a new ball makes.
const HOPS: u32 = 64;
/// How often a pacer kicks one of its peers, in turn (simulated time): each peer every
/// 100 µs.
const PERIOD: Duration = Duration::from_micros(25);
/// Rounds per `Simulation::run` call between checks of the dispatch count.
const CHUNK: u64 = 1_000;

/// A ball with `hops` hops left.
#[derive(Bounded, Clone, Copy, Debug)]
pub struct Ball {
    hops: u32,
}

/// Where a peer passes balls: a peer on its own shard and one on the next shard.
#[derive(Bounded, Clone, Copy, Debug)]
pub struct Wire {
    local: Handle<Peer>,
    remote: Handle<Peer>,
}

/// Start a burst of balls.
#[derive(Bounded, Clone, Copy, Debug)]
pub struct Kick;

/// Passes balls on until their hops run out.
#[isolate(mailbox = 512)]
pub struct Peer {
    local: Option<Handle<Peer>>,
    remote: Option<Handle<Peer>>,
    flip: bool,
    received: u64,
}

#[isolate]
impl Peer {
    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        Peer {
            local: None,
            remote: None,
            flip: false,
            received: 0,
        }
    }

    fn wire(&mut self, wire: Wire, _ctx: &mut Ctx<Self>) -> Effect {
        self.local = Some(wire.local);
        self.remote = Some(wire.remote);
        Effect::Receive
    }

    fn kick(&mut self, _kick: Kick, ctx: &mut Ctx<Self>) -> Effect {
        for _ in 0..BURST {
            self.pass(HOPS, ctx);
        }
        Effect::Receive
    }

    fn ball(&mut self, ball: Ball, ctx: &mut Ctx<Self>) -> Effect {
        self.received += 1;
        if ball.hops > 0 {
            self.pass(ball.hops - 1, ctx);
        }
        Effect::Receive
    }
}

impl Peer {
    /// Sends a ball on, alternately to the local and the remote peer; a refusal (full
    /// mailbox or ring) loses it: the pacer starts new ones.
    #[inline]
    fn pass(&mut self, hops: u32, ctx: &mut Ctx<Self>) {
        self.flip = !self.flip;
        let to = if self.flip { self.local } else { self.remote };
        if let Some(to) = to {
            let _ = ctx.send(&to, Ball { hops });
        }
    }
}

/// The pacer's timer.
#[derive(Bounded, Clone, Copy, Debug)]
pub struct Tick;

/// The peers of the pacer's shard.
#[derive(Bounded, Clone, Copy, Debug)]
pub struct PacerArgs {
    peers: [Handle<Peer>; PEERS],
}

/// Kicks one of its shard's peers, in turn, every [`PERIOD`]; what crash injection aims at.
#[isolate(mailbox = 4)]
pub struct Pacer {
    peers: [Handle<Peer>; PEERS],
    ticks: u64,
}

#[isolate]
impl Pacer {
    fn init(args: &PacerArgs, ctx: &mut Ctx<Self>) -> Self {
        let _ = ctx.after(PERIOD, Tick);
        Pacer {
            peers: args.peers,
            ticks: 0,
        }
    }

    fn tick(&mut self, _tick: Tick, ctx: &mut Ctx<Self>) -> Effect {
        let peer = self.peers[self.ticks as usize % PEERS];
        self.ticks += 1;
        let _ = ctx.send(&peer, Kick);
        let _ = ctx.after(PERIOD, Tick);
        Effect::Receive
    }
}

/// The mesh on `shards` shards: its spec and its peers, shard by shard.
fn mesh_spec(shards: usize) -> (BootSpec, Vec<Handle<Peer>>) {
    let mut spec = BootSpec::new(shards);
    spec.isolate::<Peer>(PEERS)
        .isolate::<Pacer>(1)
        .print_crashes(false);
    let mut peers = Vec::with_capacity(shards * PEERS);
    for shard in 0..shards {
        for _ in 0..PEERS {
            peers.push(spec.root::<Peer>(ShardId(shard as u16), ()));
        }
    }
    for shard in 0..shards {
        let group = spec.supervisor(ShardId(shard as u16));
        spec.budget(group, RestartBudget::new(1_000, Duration::from_secs(1)));
        let mut own = [peers[0]; PEERS];
        own.copy_from_slice(&peers[shard * PEERS..(shard + 1) * PEERS]);
        spec.child::<Pacer>(group, Restart::Permanent, PacerArgs { peers: own });
    }
    (spec, peers)
}

/// Tells every peer where to pass balls: the next peer of its shard, and its twin on the
/// next shard (on one shard, the peer two along).
fn wire(sim: &mut Simulation, peers: &[Handle<Peer>], shards: usize) {
    for shard in 0..shards {
        for index in 0..PEERS {
            let local = peers[shard * PEERS + (index + 1) % PEERS];
            let remote = if shards == 1 {
                peers[(index + 2) % PEERS]
            } else {
                peers[((shard + 1) % shards) * PEERS + index]
            };
            sim.send(&peers[shard * PEERS + index], Wire { local, remote })
                .unwrap_or_else(|error| panic!("mesh: wiring refused: {error}"));
        }
    }
}

/// What one simulated run did.
#[derive(Clone, Copy, Debug, Default)]
struct SimRun {
    dispatched: u64,
    seconds: f64,
    rounds: u64,
    faults: FaultCounts,
}

impl SimRun {
    fn rate_millions(&self) -> f64 {
        self.dispatched as f64 / self.seconds / 1e6
    }
}

/// How a mesh run is faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Faulting {
    Off,
    All,
    Swarm,
}

/// Every fault kind on, crashes and init failures aimed at the pacers.
fn all_faults_on_pacers() -> Faults {
    Faults::all().crash_only::<Pacer>()
}

/// Runs the mesh on `shards` shards until it has dispatched `dispatches` handler calls.
fn mesh_run(shards: usize, faulting: Faulting, seed: u64, dispatches: u64) -> SimRun {
    let (spec, peers) = mesh_spec(shards);
    let faults = match faulting {
        Faulting::Off => Faults::none(),
        Faulting::All => all_faults_on_pacers(),
        Faulting::Swarm => Faults::swarm(seed, Faults::none().crash_only::<Pacer>().crash_targets),
    };
    let mut sim = Simulation::with_faults(spec, seed, faults).expect("a valid mesh");
    wire(&mut sim, &peers, shards);
    let started = Instant::now();
    let report = loop {
        let report = sim.run(CHUNK);
        if report.dispatched >= dispatches || report.quiescent {
            break report;
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        !report.quiescent,
        "mesh on {shards} shards went quiet: {report:?}"
    );
    let received: u64 = peers
        .iter()
        .filter_map(|peer| sim.state(*peer))
        .map(|peer| peer.received)
        .sum();
    assert!(received > 0, "mesh: no ball arrived");
    SimRun {
        dispatched: report.dispatched,
        seconds,
        rounds: report.rounds,
        faults: report.faults,
    }
}

// ---------------------------------------------------------------------------------------
// b. The same-shard stream
// ---------------------------------------------------------------------------------------

/// Mailbox of the stream's receiver, and the dispatch budget (as the `xsim` program of
/// BENCHMARKS.md).
const RING: usize = 1024;

static PROBE: Probe = Probe::new();

/// One sender streaming `total` items to one receiver on the same shard.
fn stream_run(total: u64, faults: bool) -> SimRun {
    PROBE.reset();
    let mut spec = BootSpec::new(1);
    spec.isolate::<Receiver<{ 2 * RING }>>(1)
        .isolate::<Sender<{ 2 * RING }>>(1)
        .dispatch_budget(RING);
    stream::add_pair::<{ 2 * RING }>(&mut spec, ShardId(0), ShardId(0), total, 1, &PROBE);
    let faults = if faults {
        // Crashes aimed at a type this system does not have: on one shard nothing can be
        // injected, but every per-dispatch fault hook runs.
        all_faults_on_pacers()
    } else {
        Faults::none()
    };
    let mut sim = Simulation::with_faults(spec, 1, faults).expect("a valid stream");
    let started = Instant::now();
    let report = sim.run(u64::MAX);
    let seconds = started.elapsed().as_secs_f64();
    PROBE.check();
    assert!(
        report.quiescent && PROBE.is_finished(),
        "stream: {report:?}"
    );
    assert_eq!(PROBE.count(), total, "stream: items");
    SimRun {
        dispatched: report.dispatched,
        seconds,
        rounds: report.rounds,
        faults: report.faults,
    }
}

// ---------------------------------------------------------------------------------------
// c. The bank sweep
// ---------------------------------------------------------------------------------------

/// As `examples/tests/bank_sim.rs`: injected crashes aim at tellers.
fn teller_only() -> CrashTargets {
    Faults::none().crash_only::<Teller>().crash_targets
}

/// The sweep of `money_is_conserved_under_swarm_faults` (without its corpus).
fn bank_test() -> SimTest<BankWorld> {
    SimTest::new("bank", move |seed| bank_spec(BankPlan::default(), seed))
        .checker("money is conserved", 25, conserved)
        .at_end("every payment delivered", settled)
        .max_rounds(200_000)
        .swarm(teller_only())
}

/// Seeds per second of a sweep of `seeds` seeds on `threads` threads.
fn bank_sweep(seeds: u64, threads: usize) -> (f64, tina::sim::SweepReport) {
    let test = bank_test();
    let started = Instant::now();
    let swept = test
        .sweep_parallel(seeds, threads)
        .unwrap_or_else(|failure| panic!("{failure}"));
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(swept.seeds, seeds, "bank: seeds swept");
    (seeds as f64 / seconds, swept)
}

// ---------------------------------------------------------------------------------------
// d. turmoil
// ---------------------------------------------------------------------------------------

/// Datagrams host code received in the current turmoil run.
static RECEIVED: AtomicU64 = AtomicU64::new(0);
const PORT: u16 = 9000;

fn host_name(index: usize) -> String {
    format!("h{index}")
}

/// One turmoil mesh run: `hosts` hosts, `ticks` ticks of 1 ms; returns datagrams received
/// and wall seconds.
fn turmoil_mesh(hosts: usize, faults: bool, seed: u64, ticks: u64) -> (u64, f64) {
    RECEIVED.store(0, Ordering::SeqCst);
    let mut builder = turmoil::Builder::new();
    builder
        .rng_seed(seed)
        .tick_duration(Duration::from_millis(1))
        .simulation_duration(Duration::from_secs(3_600))
        .udp_capacity(1 << 16);
    if faults {
        builder
            .fail_rate(0.01)
            .repair_rate(0.5)
            .min_message_latency(Duration::ZERO)
            .max_message_latency(Duration::from_millis(5));
    } else {
        builder
            .min_message_latency(Duration::from_millis(1))
            .max_message_latency(Duration::from_millis(1));
    }
    let mut sim = builder.build();
    for index in 0..hosts {
        sim.host(host_name(index), move || async move {
            let socket = Arc::new(
                turmoil::net::UdpSocket::bind((IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT)).await?,
            );
            let targets: [SocketAddr; 2] = [
                (turmoil::lookup(host_name((index + 1) % hosts)), PORT).into(),
                (turmoil::lookup(host_name((index + 2) % hosts)), PORT).into(),
            ];
            let injector = socket.clone();
            tokio::spawn(async move {
                let mut flip = 0;
                loop {
                    for _ in 0..PEERS as u32 * BURST {
                        flip ^= 1;
                        let _ = injector.send_to(&HOPS.to_le_bytes(), targets[flip]).await;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            });
            let mut buffer = [0u8; 4];
            let mut flip = 0;
            loop {
                let (length, _) = socket.recv_from(&mut buffer).await?;
                RECEIVED.fetch_add(1, Ordering::Relaxed);
                if length == 4 {
                    let hops = u32::from_le_bytes(buffer);
                    if hops > 0 {
                        flip ^= 1;
                        let _ = socket
                            .send_to(&(hops - 1).to_le_bytes(), targets[flip])
                            .await;
                    }
                }
            }
        });
    }
    sim.client("driver", async move {
        tokio::time::sleep(Duration::from_millis(ticks)).await;
        Ok(())
    });
    let started = Instant::now();
    sim.run().expect("turmoil mesh");
    let seconds = started.elapsed().as_secs_f64();
    (RECEIVED.load(Ordering::SeqCst), seconds)
}

/// Accounts and tellers of the turmoil bank-like scenario.
const TURMOIL_ACCOUNTS: usize = 4;
const TURMOIL_TELLERS: usize = 2;
const TURMOIL_TRANSFERS: u32 = 40;

/// One seed of the turmoil bank-like scenario: returns datagrams received.
fn turmoil_bank(seed: u64) -> u64 {
    RECEIVED.store(0, Ordering::SeqCst);
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .tick_duration(Duration::from_micros(100))
        .simulation_duration(Duration::from_secs(60))
        .fail_rate(0.01)
        .repair_rate(0.5)
        .min_message_latency(Duration::ZERO)
        .max_message_latency(Duration::from_millis(2))
        .build();
    for account in 0..TURMOIL_ACCOUNTS {
        sim.host(format!("a{account}"), move || async move {
            let socket =
                turmoil::net::UdpSocket::bind((IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT)).await?;
            let mut balance: i64 = 200;
            let mut buffer = [0u8; 16];
            loop {
                let (length, from) = socket.recv_from(&mut buffer).await?;
                RECEIVED.fetch_add(1, Ordering::Relaxed);
                if length != 16 {
                    continue;
                }
                let kind = buffer[0];
                let to = usize::from(buffer[1]);
                let amount = i64::from_le_bytes(buffer[8..16].try_into().expect("8 bytes"));
                match kind {
                    // Withdraw: take it, send the deposit on, answer the teller.
                    0 => {
                        balance -= amount;
                        let mut deposit = buffer;
                        deposit[0] = 1;
                        let target: SocketAddr = (turmoil::lookup(format!("a{to}")), PORT).into();
                        let _ = socket.send_to(&deposit, target).await;
                        let _ = socket.send_to(&buffer, from).await;
                    }
                    // Deposit: apply it and acknowledge.
                    1 => {
                        balance += amount;
                        let mut ack = buffer;
                        ack[0] = 2;
                        let _ = socket.send_to(&ack, from).await;
                    }
                    _ => {}
                }
                std::hint::black_box(balance);
            }
        });
    }
    for teller in 0..TURMOIL_TELLERS {
        sim.client(format!("t{teller}"), async move {
            let socket =
                turmoil::net::UdpSocket::bind((IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT)).await?;
            let mut rng = seed ^ (teller as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut draw = move || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            let mut buffer = [0u8; 16];
            for _ in 0..TURMOIL_TRANSFERS {
                let from = (draw() % TURMOIL_ACCOUNTS as u64) as usize;
                let to = (from + 1 + (draw() % (TURMOIL_ACCOUNTS as u64 - 1)) as usize)
                    % TURMOIL_ACCOUNTS;
                let mut request = [0u8; 16];
                request[1] = to as u8;
                request[8..16].copy_from_slice(&(1 + draw() % 50).to_le_bytes());
                let target: SocketAddr = (turmoil::lookup(format!("a{from}")), PORT).into();
                loop {
                    let _ = socket.send_to(&request, target).await;
                    match tokio::time::timeout(
                        Duration::from_millis(1),
                        socket.recv_from(&mut buffer),
                    )
                    .await
                    {
                        Ok(Ok(_)) => {
                            RECEIVED.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        Ok(Err(error)) => return Err(error.into()),
                        Err(_) => {}
                    }
                }
                tokio::time::sleep(Duration::from_micros(20)).await;
            }
            Ok(())
        });
    }
    sim.run().expect("turmoil bank-like");
    RECEIVED.load(Ordering::SeqCst)
}

// ---------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------

fn median_of(samples: &Samples, name: &str) -> f64 {
    tina_bench::median(samples.of(name))
}

fn parts() -> String {
    std::env::var("TINA_BENCH_PARTS").unwrap_or_else(|_| "abcd".to_owned())
}

fn main() {
    let plan = Plan::from_env();
    let parts = parts();
    let mut table = Table::new();
    table.line(format!(
        "\n### Simulator speed ({}; {})\n",
        plan.describe(),
        machine::describe()
    ));
    let mut tina_mesh: Vec<(String, f64)> = Vec::new();

    if parts.contains('a') {
        let dispatches = plan.pick(10_000_000, 3_000_000, 30_000);
        let mut last: Vec<(&'static str, SimRun)> = Vec::new();
        let names: [(&'static str, usize, Faulting); 9] = [
            ("tina mesh, 1 shard, faults off", 1, Faulting::Off),
            ("tina mesh, 1 shard, every fault", 1, Faulting::All),
            ("tina mesh, 1 shard, swarm", 1, Faulting::Swarm),
            ("tina mesh, 2 shards, faults off", 2, Faulting::Off),
            ("tina mesh, 2 shards, every fault", 2, Faulting::All),
            ("tina mesh, 2 shards, swarm", 2, Faulting::Swarm),
            ("tina mesh, 8 shards, faults off", 8, Faulting::Off),
            ("tina mesh, 8 shards, every fault", 8, Faulting::All),
            ("tina mesh, 8 shards, swarm", 8, Faulting::Swarm),
        ];
        let last_cell = std::cell::RefCell::new(&mut last);
        let counter = std::cell::Cell::new(0u64);
        let mut contenders: Vec<Contender<'_>> = names
            .iter()
            .map(|&(name, shards, faulting)| {
                let last = &last_cell;
                let counter = &counter;
                Contender::new(name, move || {
                    counter.set(counter.get() + 1);
                    let run = mesh_run(shards, faulting, counter.get(), dispatches);
                    let mut last = last.borrow_mut();
                    last.retain(|(known, _)| *known != name);
                    last.push((name, run));
                    run.rate_millions()
                })
            })
            .collect();
        let samples = interleave(&plan, &mut contenders);
        drop(contenders);
        table.section(
            &format!(
                "a. Mesh: simulated dispatches per host second ({dispatches} dispatches per sample; 4 peers per shard, balls of 64 hops)"
            ),
            &samples,
            Metric::throughput("M dispatches/s"),
            "tina mesh, 8 shards, every fault",
        );
        table.line("\nLast sample of each configuration:\n");
        table.line("| configuration | dispatched | rounds | dropped | delayed | partitions (one-way) | crashes | init failures |");
        table.line("|---|---:|---:|---:|---:|---:|---:|---:|");
        for &(name, _, faulting) in &names {
            let Some((_, run)) = last.iter().find(|(known, _)| *known == name) else {
                continue;
            };
            let faults = run.faults;
            table.line(format!(
                "| {name} | {} | {} | {} | {} | {} ({}) | {} | {} |",
                run.dispatched,
                run.rounds,
                faults.dropped,
                faults.delayed,
                faults.partitions,
                faults.one_way_partitions,
                faults.crashes,
                faults.init_failures
            ));
            assert!(run.dispatched > 0, "{name}: nothing dispatched");
            if faulting == Faulting::All && name.contains("shards") {
                assert!(
                    faults.dropped > 0 && faults.delayed > 0,
                    "{name}: {faults:?}"
                );
            }
            // Only a full run is long enough to be sure of a crash at 1/500 per pacer tick.
            if faulting == Faulting::All && plan.mode == Mode::Full {
                assert!(faults.crashes > 0, "{name}: no crash injected: {faults:?}");
            }
        }
        if plan.mode == Mode::Smoke {
            // Crashes and init failures reach the pacers (and only them) and the mesh goes on.
            let faults = Faults {
                crash: tina::sim::Ratio::new(1, 3),
                init_failure: tina::sim::Ratio::new(1, 3),
                ..all_faults_on_pacers()
            };
            let (spec, peers) = mesh_spec(2);
            let mut sim = Simulation::with_faults(spec, 7, faults).expect("a valid mesh");
            wire(&mut sim, &peers, 2);
            let report = sim.run(2_000);
            assert!(report.dispatched > 0 && !report.quiescent, "{report:?}");
            assert!(
                report.faults.crashes > 0 && report.faults.init_failures > 0,
                "{:?}",
                report.faults
            );
            assert!(
                peers.iter().all(|peer| sim.state(*peer).is_some()),
                "a peer crashed: crashes must hit pacers only"
            );
        }
        for &(name, _, _) in &names {
            tina_mesh.push((name.to_owned(), median_of(&samples, name)));
        }
        let eight = median_of(&samples, "tina mesh, 8 shards, every fault");
        table.line(format!(
            "\nTarget: ≥ 20 M dispatches/s with every fault on across 8 shards — {:.1} M/s: {}.",
            eight,
            match plan.mode {
                Mode::Smoke => "not judged (smoke run)",
                _ if eight >= 20.0 => "met",
                _ => "MISSED",
            }
        ));
    }

    if parts.contains('b') {
        let total = plan.pick(10_000_000, 3_000_000, 20_000);
        let mut contenders = vec![
            Contender::new("tina stream, 1 shard, faults off", || {
                let run = stream_run(total, false);
                assert!(run.dispatched >= total);
                run.rate_millions()
            }),
            Contender::new(
                "tina stream, 1 shard, Faults::all (nothing injectable)",
                || {
                    let run = stream_run(total, true);
                    assert!(run.dispatched >= total);
                    run.rate_millions()
                },
            ),
        ];
        let samples = interleave(&plan, &mut contenders);
        table.section(
            &format!(
                "b. Same-shard stream: one sender, one receiver, one shard ({total} items per sample)"
            ),
            &samples,
            Metric::throughput("M dispatches/s"),
            "tina stream, 1 shard, faults off",
        );
    }

    if parts.contains('c') {
        let seeds = plan.pick(1_000, 1_000, 10);
        let cores = machine::cpus();
        let mut swept = None;
        let mut contenders = vec![
            Contender::new("tina bank sweep, 1 thread", || {
                let (rate, report) = bank_sweep(seeds, 1);
                swept = Some(report);
                rate
            }),
            Contender::new("tina bank sweep, all cores", || bank_sweep(seeds, cores).0),
            Contender::new("turmoil bank-like, 1 thread", || {
                let started = Instant::now();
                let count = seeds.min(plan.pick(200, 100, 3));
                let mut received = 0;
                for seed in 0..count {
                    received += turmoil_bank(seed);
                }
                assert!(received > 0, "turmoil bank-like: nothing received");
                count as f64 / started.elapsed().as_secs_f64()
            }),
        ];
        let bank_plan = Plan {
            rounds: plan.pick(3, 1, 1),
            ..plan
        };
        let samples = interleave(&bank_plan, &mut contenders);
        drop(contenders);
        table.section(
            &format!(
                "c. Bank swarm sweep: seeds per second ({seeds} seeds per tina sample, {} per turmoil sample; {cores} cores)",
                seeds.min(plan.pick(200, 100, 3))
            ),
            &samples,
            Metric::throughput("seeds/s"),
            "tina bank sweep, 1 thread",
        );
        if let Some(report) = swept {
            table.line(format!(
                "\nOne tina sweep: {} seeds, {} rounds, {} dispatches, faults {:?}",
                report.seeds, report.rounds, report.dispatched, report.faults
            ));
            assert!(report.dispatched > 0, "bank: nothing dispatched");
            assert!(report.faults.total() > 0, "bank: no fault injected");
        }
        let single = median_of(&samples, "tina bank sweep, 1 thread");
        let all = median_of(&samples, "tina bank sweep, all cores");
        let best = single.max(all);
        table.line(format!(
            "\nTarget: the 1,000-seed bank sweep in < 30 s on this machine — {:.1} s on one thread, {:.1} s on {cores} cores: {}.",
            1_000.0 / single,
            1_000.0 / all,
            match plan.mode {
                Mode::Smoke => "not judged (smoke run)",
                _ if 1_000.0 / best < 30.0 => "met",
                _ => "MISSED",
            }
        ));
    }

    if parts.contains('d') {
        // turmoil runs about a hundred times slower: short runs, three rounds.
        let ticks = plan.pick(60, 20, 5);
        let turmoil_plan = Plan {
            rounds: plan.pick(3, 1, 1),
            ..plan
        };
        let counter = std::cell::Cell::new(0u64);
        let mut contenders: Vec<Contender<'_>> = Vec::new();
        let configurations: [(&'static str, usize, bool); 4] = [
            ("turmoil mesh, 2 hosts, faults off", 2, false),
            ("turmoil mesh, 2 hosts, faults on", 2, true),
            ("turmoil mesh, 8 hosts, faults off", 8, false),
            ("turmoil mesh, 8 hosts, faults on", 8, true),
        ];
        for &(name, hosts, faults) in &configurations {
            let counter = &counter;
            contenders.push(Contender::new(name, move || {
                counter.set(counter.get() + 1);
                let (received, seconds) = turmoil_mesh(hosts, faults, counter.get(), ticks);
                assert!(received > 0, "{name}: nothing received");
                received as f64 / seconds / 1e6
            }));
        }
        let samples = interleave(&turmoil_plan, &mut contenders);
        table.section(
            &format!(
                "d. turmoil mesh: datagrams received by host code per host second ({ticks} ticks of 1 ms per sample)"
            ),
            &samples,
            Metric::throughput("M receives/s"),
            "turmoil mesh, 8 hosts, faults on",
        );
        if !tina_mesh.is_empty() {
            table.line("\nTina dispatches/s ÷ turmoil receives/s (medians):\n");
            table.line("| configuration | tina (M/s) | turmoil (M/s) | ratio |");
            table.line("|---|---:|---:|---:|");
            for (tina, turmoil) in [
                (
                    "tina mesh, 2 shards, faults off",
                    "turmoil mesh, 2 hosts, faults off",
                ),
                (
                    "tina mesh, 2 shards, every fault",
                    "turmoil mesh, 2 hosts, faults on",
                ),
                (
                    "tina mesh, 8 shards, faults off",
                    "turmoil mesh, 8 hosts, faults off",
                ),
                (
                    "tina mesh, 8 shards, every fault",
                    "turmoil mesh, 8 hosts, faults on",
                ),
            ] {
                let ours = tina_mesh
                    .iter()
                    .find(|(name, _)| name == tina)
                    .map_or(f64::NAN, |(_, value)| *value);
                let theirs = median_of(&samples, turmoil);
                table.line(format!(
                    "| {tina} / {turmoil} | {ours:.2} | {theirs:.3} | {:.0}× |",
                    ours / theirs
                ));
            }
        }
    }
    table.finish();
}
