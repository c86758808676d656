//! Not a workspace target: built as the binary of a throwaway crate (see BENCHMARKS.md,
//! "Simulator speed (issue 15)") against each of two checkouts, to A/B faults-off speed.
//! Same-run A/B of the simulator with faults off: the `sim` bench's mesh and same-shard
//! stream, built against the commit before fault injection and against `simbench`.
use std::time::{Duration, Instant};
use tina::prelude::*;
use tina_bench::Probe;
use tina_bench::stream::{self, Receiver, Sender};

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

fn mesh(shards: usize, dispatches: u64) -> f64 {
    let (spec, peers) = mesh_spec(shards);
    let mut sim = Simulation::new(spec, 1).expect("mesh");
    wire(&mut sim, &peers, shards);
    let started = Instant::now();
    loop {
        let report = sim.run(CHUNK);
        assert!(!report.quiescent);
        if sim.totals().dispatched >= dispatches {
            break;
        }
    }
    sim.totals().dispatched as f64 / started.elapsed().as_secs_f64() / 1e6
}

const RING: usize = 1024;
static PROBE: Probe = Probe::new();

fn stream(total: u64) -> f64 {
    PROBE.reset();
    let mut spec = BootSpec::new(1);
    spec.isolate::<Receiver<{ 2 * RING }>>(1)
        .isolate::<Sender<{ 2 * RING }>>(1)
        .dispatch_budget(RING);
    stream::add_pair::<{ 2 * RING }>(&mut spec, ShardId(0), ShardId(0), total, 1, &PROBE);
    let mut sim = Simulation::new(spec, 1).expect("stream");
    let started = Instant::now();
    let report = sim.run(u64::MAX);
    let seconds = started.elapsed().as_secs_f64();
    PROBE.check();
    assert!(report.quiescent && PROBE.count() == total);
    sim.totals().dispatched as f64 / seconds / 1e6
}

fn main() {
    let dispatches: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    print!("stream1 {:.2}", stream(dispatches));
    for shards in [1, 2, 8] {
        print!(" mesh{shards} {:.2}", mesh(shards, dispatches));
    }
    println!();
}
