//! Transfer buffers (issue 11): bounded per-shard pools of byte blocks, moved in messages,
//! handed over across shards, returned on drop and on their owner's crash.

use std::time::Duration;

use tina::prelude::*;
use tina::{BufferError, BufferStats};

/// Bulk bytes in a message: only the 16-byte handle travels.
#[derive(Bounded)]
struct Bulk {
    buffer: Buffer,
    checksum: u64,
}

fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Crashes its holder.
#[derive(Bounded)]
struct Boom;

/// Holds two buffers in its state and whatever bulk it is sent; crashes on `Boom`.
#[isolate(mailbox = 8)]
struct Holder {
    own: [Option<Buffer>; 2],
    kept: tina::heapless::Vec<Buffer, 4>,
    verified: u32,
}

/// A holder's current incarnation, announced to the storm.
#[derive(Bounded)]
struct CheckIn {
    index: usize,
    holder: Handle<Holder>,
}

#[isolate]
impl Holder {
    fn init(args: &(usize, Handle<Storm>), ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        ctx.send(
            &args.1,
            CheckIn {
                index: args.0,
                holder: me,
            },
        )
        .map_err(|error| error.kind)
        .expect("the storm has room");
        Holder {
            own: [ctx.buffer(100).ok(), ctx.buffer(1000).ok()],
            kept: tina::heapless::Vec::new(),
            verified: 0,
        }
    }

    fn bulk(&mut self, bulk: Bulk, _ctx: &mut Ctx<Self>) -> Effect {
        assert_eq!(
            checksum(&bulk.buffer),
            bulk.checksum,
            "the bytes arrive intact"
        );
        self.verified += 1;
        // Keeps up to four (dropped with its state when it crashes), drops the rest here.
        let _ = self.kept.push(bulk.buffer);
        Effect::Receive
    }

    fn boom(&mut self, _boom: Boom, _ctx: &mut Ctx<Self>) -> Effect {
        panic!("boom, holding {} buffers", 2 + self.kept.len());
    }
}

/// Sends bulk and booms to the holders, round after round.
#[derive(Bounded)]
struct Round;

#[isolate(mailbox = 8)]
struct Storm {
    holders: [Option<Handle<Holder>>; 2],
    rounds: u32,
}

#[isolate]
impl Storm {
    fn init(ctx: &mut Ctx<Self>) -> Self {
        ctx.after(Duration::from_micros(5), Round).expect("a timer");
        Storm {
            holders: [None; 2],
            rounds: 0,
        }
    }

    fn check_in(&mut self, check_in: CheckIn, _ctx: &mut Ctx<Self>) -> Effect {
        self.holders[check_in.index] = Some(check_in.holder);
        Effect::Receive
    }

    fn round(&mut self, _round: Round, ctx: &mut Ctx<Self>) -> Effect {
        self.rounds += 1;
        for (index, holder) in self.holders.iter().enumerate() {
            let Some(holder) = holder else { continue };
            for size in [10usize, 300, 900] {
                let Ok(mut buffer) = ctx.buffer(size) else {
                    continue;
                };
                let byte = (self.rounds as usize + index + size) as u8;
                buffer.set_len(size);
                buffer.as_mut_slice().fill(byte);
                let sum = checksum(&buffer);
                // Refused (mailbox full, stale after a crash): the buffer comes back in the
                // error and is dropped here, back to the pool.
                let _ = ctx.send(
                    holder,
                    Bulk {
                        buffer,
                        checksum: sum,
                    },
                );
            }
            if self.rounds % 3 == index as u32 {
                let _ = ctx.send(holder, Boom);
            }
        }
        if self.rounds < 200 {
            ctx.after(Duration::from_micros(5), Round).expect("a timer");
        }
        Effect::Receive
    }
}

fn held_by_live_holders(sim: &Simulation, storm: Handle<Storm>) -> usize {
    sim.state(storm)
        .unwrap()
        .holders
        .iter()
        .flatten()
        .filter_map(|holder| sim.state(*holder))
        .map(|state| state.own.iter().flatten().count() + state.kept.len())
        .sum()
}

fn taken(stats: &[BufferStats]) -> usize {
    stats.iter().map(|class| class.taken).sum()
}

#[test]
fn a_crash_storm_of_buffer_holders_leaves_every_pool_whole() {
    for seed in 0..3 {
        let mut spec = BootSpec::new(2);
        spec.print_crashes(false)
            .isolate::<Holder>(2)
            .isolate::<Storm>(1)
            .buffer_class(128, 16)
            .buffer_class(1024, 16);
        let lenient = tina::RestartBudget::new(1_000, Duration::from_secs(1));
        let group = spec.supervisor(ShardId(1));
        spec.budget(group, lenient);
        let group = spec.supervisor(ShardId(0));
        spec.budget(group, lenient);
        let storm = spec.root::<Storm>(ShardId(0), ());
        // Holders on both shards: bulk moves locally and is handed over across shards.
        spec.root::<Holder>(ShardId(0), (0, storm));
        spec.root::<Holder>(ShardId(1), (1, storm));
        let mut sim = Simulation::new(spec, seed).unwrap();
        assert!(sim.run(1_000_000).quiescent);
        let totals = sim.totals();
        assert!(totals.crashed > 100, "{totals:?}");
        assert!(totals.buffers_taken > 500, "{totals:?}");
        // Every buffer not in a live holder's state is back in its pool, on both shards:
        // shard 0's pool lent to shard 1's holder, shard 1's holder took from shard 1's.
        let live = held_by_live_holders(&sim, storm);
        assert!(live > 0);
        let taken_now = taken(&sim.buffer_stats(ShardId(0))) + taken(&sim.buffer_stats(ShardId(1)));
        assert_eq!(taken_now, live, "seed {seed}: {totals:?}");
        for shard in [ShardId(0), ShardId(1)] {
            for class in sim.buffer_stats(shard) {
                assert_eq!(class.free + class.taken, class.capacity);
            }
        }
        sim.shutdown(1_000);
        for shard in [ShardId(0), ShardId(1)] {
            assert_eq!(
                taken(&sim.buffer_stats(shard)),
                0,
                "seed {seed}: after shutdown"
            );
        }
    }
}

#[test]
fn exhaustion_is_refused_and_counted_and_sizes_pick_the_smallest_class() {
    /// Takes buffers on request and reports what happened.
    #[isolate(mailbox = 4)]
    struct Taker {
        held: tina::heapless::Vec<Buffer, 8>,
        results: tina::heapless::Vec<Result<usize, BufferError>, 16>,
    }

    #[derive(Bounded)]
    struct Take(usize);

    #[isolate]
    impl Taker {
        fn init(_ctx: &mut Ctx<Self>) -> Self {
            Taker {
                held: tina::heapless::Vec::new(),
                results: tina::heapless::Vec::new(),
            }
        }

        fn take(&mut self, take: Take, ctx: &mut Ctx<Self>) -> Effect {
            let result = ctx.buffer(take.0).map(|buffer| {
                let capacity = buffer.capacity();
                let _ = self.held.push(buffer);
                capacity
            });
            let _ = self.results.push(result);
            Effect::Receive
        }
    }

    let mut spec = BootSpec::new(1);
    spec.isolate::<Taker>(1)
        .buffer_class(4096, 1)
        .buffer_class(64, 2);
    let taker = spec.root::<Taker>(ShardId(0), ());
    let mut sim = Simulation::new(spec, 0).unwrap();
    for size in [10, 64, 65, 10, 4096, 4097] {
        sim.send(&taker, Take(size)).unwrap();
        sim.run(100);
    }
    let results = &sim.state(taker).unwrap().results;
    assert_eq!(
        results[..],
        [
            Ok(64),
            Ok(64),
            Ok(4096),
            // Both small blocks and the large one are taken.
            Err(BufferError::Exhausted),
            Err(BufferError::Exhausted),
            Err(BufferError::TooLarge { largest: 4096 }),
        ]
    );
    assert_eq!(sim.totals().buffers_refused, 2);
    assert_eq!(sim.totals().buffers_taken, 3);
}

/// Sends one bulk buffer to a holder on another shard.
#[isolate(mailbox = 4)]
struct Courier {
    to: Handle<Copier>,
}

#[derive(Bounded)]
struct Ship(u8);

#[isolate]
impl Courier {
    fn init(to: &Handle<Copier>, _ctx: &mut Ctx<Self>) -> Self {
        Courier { to: *to }
    }

    fn ship(&mut self, ship: Ship, ctx: &mut Ctx<Self>) -> Effect {
        let mut buffer = ctx.buffer(3000).expect("a free block");
        buffer.set_len(3000);
        buffer.as_mut_slice().fill(ship.0);
        let sum = checksum(&buffer);
        ctx.send(
            &self.to,
            Bulk {
                buffer,
                checksum: sum,
            },
        )
        .map_err(|error| error.kind)
        .expect("sent");
        Effect::Receive
    }
}

/// Keeps a copy of what it receives in its own shard's pool; drops the original.
#[isolate(mailbox = 4)]
struct Copier {
    copy: Option<Buffer>,
}

#[isolate]
impl Copier {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Copier { copy: None }
    }

    fn bulk(&mut self, bulk: Bulk, ctx: &mut Ctx<Self>) -> Effect {
        assert_eq!(checksum(&bulk.buffer), bulk.checksum);
        self.copy = Some(ctx.buffer_from(&bulk.buffer).expect("a free block here"));
        Effect::Receive
    }
}

#[test]
fn a_buffer_handed_across_shards_returns_to_its_home_pool_and_can_be_copied() {
    let mut spec = BootSpec::new(2);
    spec.pin_threads(false)
        .isolate::<Courier>(1)
        .isolate::<Copier>(1)
        .buffer_class(4096, 2);
    let copier = spec.root::<Copier>(ShardId(1), ());
    let courier = spec.root::<Courier>(ShardId(0), copier);
    let system = System::start(spec).unwrap();
    system.send(&courier, Ship(7)).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while taken(&system.buffer_stats(ShardId(1))) == 0 {
        assert!(std::time::Instant::now() < deadline, "never copied");
        std::thread::sleep(Duration::from_millis(1));
    }
    // The original went back to shard 0's pool when shard 1 dropped it; the copy lives in
    // shard 1's pool.
    while taken(&system.buffer_stats(ShardId(0))) != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the original never came home"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(taken(&system.buffer_stats(ShardId(1))), 1);
    let summary = system.shutdown(Duration::from_secs(5));
    assert_eq!(summary.total.buffers_taken, 2);
}
