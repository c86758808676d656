//! Cross-shard arrivals handled straight from the inbound ring: ordering when some
//! arrivals must queue behind others, and a crash in the middle of a ring batch.

use tina::prelude::*;

/// One numbered message.
#[derive(Bounded)]
struct Numbered(u32);

/// Checks that messages arrive in order and counts them; panics on `crash_at`.
#[isolate(mailbox = 64)]
struct Receiver {
    next: u32,
    crash_at: Option<u32>,
}

#[isolate]
impl Receiver {
    fn init(crash_at: &Option<u32>, _ctx: &mut Ctx<Self>) -> Self {
        Receiver {
            next: 0,
            crash_at: *crash_at,
        }
    }

    fn numbered(&mut self, numbered: Numbered, _ctx: &mut Ctx<Self>) -> Effect {
        assert_eq!(
            numbered.0, self.next,
            "messages from one sender arrive in order"
        );
        if Some(numbered.0) == self.crash_at {
            panic!("told to crash at {}", numbered.0);
        }
        self.next += 1;
        Effect::Receive
    }
}

/// Sends `per_tick` numbered messages every tick (yielding in between) until `total` are
/// out.
#[isolate(mailbox = 2)]
struct Sender {
    target: Handle<Receiver>,
    sent: u32,
    total: u32,
    per_tick: u32,
}

#[derive(Bounded)]
struct Go;

#[isolate]
impl Sender {
    fn init(args: &(Handle<Receiver>, u32, u32), ctx: &mut Ctx<Self>) -> Self {
        ctx.send(&ctx.me(), Go).unwrap();
        Sender {
            target: args.0,
            sent: 0,
            total: args.1,
            per_tick: args.2,
        }
    }

    fn go(&mut self, _go: Go, ctx: &mut Ctx<Self>) -> Effect {
        self.burst(ctx)
    }

    fn resume(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        self.burst(ctx)
    }
}

impl Sender {
    fn burst(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        for _ in 0..self.per_tick {
            if self.sent == self.total {
                return Effect::Receive;
            }
            ctx.send(&self.target, Numbered(self.sent)).unwrap();
            self.sent += 1;
        }
        Effect::Yield
    }
}

/// With a budget of two handler runs per tick and three arrivals per tick, some arrivals are
/// handled from the ring while the receiver is idle and the rest queue in its mailbox, and
/// the queue is still there when the next arrivals come: they must never overtake it. Every
/// seed, every message, in order.
#[test]
fn arrivals_never_overtake_queued_messages() {
    for seed in 0..16 {
        let mut spec = BootSpec::new(2);
        spec.dispatch_budget(2).ring_capacity(8);
        spec.isolate::<Receiver>(1).isolate::<Sender>(1);
        let receiver = spec.root::<Receiver>(ShardId(1), None);
        spec.root::<Sender>(ShardId(0), (receiver, 100, 3));
        let mut sim = Simulation::new(spec, seed).unwrap();
        assert!(sim.run(100_000).quiescent, "seed {seed}");
        assert_eq!(sim.state(receiver).unwrap().next, 100, "seed {seed}");
        let shard1 = sim.counters(ShardId(1));
        assert_eq!(shard1.dropped_on_arrival, 0, "seed {seed}");
        assert_eq!(shard1.crashed, 0, "seed {seed}");
        sim.check_pools().unwrap();
    }
}

/// A handler that panics on the third of five arrivals handled from one ring batch: the
/// crash is recorded and the receiver restarted; the two arrivals behind it were addressed
/// to the crashed incarnation and are dropped on arrival, counted, never delivered to the
/// successor; the pools stay consistent.
#[test]
fn a_crash_in_the_middle_of_a_ring_batch() {
    let mut spec = BootSpec::new(2);
    spec.print_crashes(false);
    spec.isolate::<Receiver>(1).isolate::<Sender>(1);
    let receiver = spec.root::<Receiver>(ShardId(1), Some(2));
    spec.root::<Sender>(ShardId(0), (receiver, 5, 5));
    let mut sim = Simulation::new(spec, 3).unwrap();
    assert!(sim.run(100_000).quiescent);
    let shard1 = sim.counters(ShardId(1));
    assert_eq!(shard1.crashed, 1);
    assert_eq!(shard1.restarts, 1);
    assert_eq!(shard1.dropped_on_arrival, 0);
    assert_eq!(
        shard1.bounced, 2,
        "the two messages behind the crash go back"
    );
    assert_eq!(
        sim.counters(ShardId(0)).undelivered_stale,
        2,
        "the sender declares no bounce handler: counted by reason on its shard"
    );
    assert!(sim.state(receiver).is_none(), "the old handle is stale");
    let report = sim.crash_reports(ShardId(1)).next().unwrap();
    assert!(report.reason.contains("told to crash at 2"), "{report:?}");
    sim.check_pools().unwrap();
}

/// Counts every message any incarnation of [`Sibling`] handles.
static SIBLING_HANDLED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A receiver that counts what it handles in a static, so the count survives restarts.
#[isolate(mailbox = 64)]
struct Sibling;

#[isolate]
impl Sibling {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Sibling
    }

    fn numbered(&mut self, _numbered: Numbered, _ctx: &mut Ctx<Self>) -> Effect {
        SIBLING_HANDLED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Effect::Receive
    }
}

/// Sends, in one tick, `[crasher 0, sibling 0, crasher 1, sibling 1, sibling 2]`.
#[isolate(mailbox = 2)]
struct Interleaver;

#[isolate]
impl Interleaver {
    fn init(targets: &(Handle<Receiver>, Handle<Sibling>), ctx: &mut Ctx<Self>) -> Self {
        let (crasher, sibling) = *targets;
        ctx.send(&crasher, Numbered(0)).unwrap();
        ctx.send(&sibling, Numbered(0)).unwrap();
        ctx.send(&crasher, Numbered(1)).unwrap();
        ctx.send(&sibling, Numbered(1)).unwrap();
        ctx.send(&sibling, Numbered(2)).unwrap();
        Interleaver
    }
}

/// One-for-all group on shard 1: when the first child crashes while its arrivals are being
/// handled from the ring, the supervisor acts before the next arrival, as it does after each
/// type in the dispatch phase: the sibling's old incarnation never sees the two messages
/// that came after the crash (they are addressed to it and dropped as stale).
#[test]
fn a_crash_during_the_drain_is_supervised_before_the_next_arrival() {
    let mut spec = BootSpec::new(2);
    spec.print_crashes(false);
    spec.isolate::<Receiver>(1)
        .isolate::<Sibling>(1)
        .isolate::<Interleaver>(1);
    let group = spec.supervisor(ShardId(1));
    spec.strategy(group, Strategy::OneForAll);
    let crasher = spec.child::<Receiver>(group, Restart::Permanent, Some(1));
    let sibling = spec.child::<Sibling>(group, Restart::Permanent, ());
    spec.root::<Interleaver>(ShardId(0), (crasher, sibling));
    let mut sim = Simulation::new(spec, 5).unwrap();
    assert!(sim.run(100_000).quiescent);
    let shard1 = sim.counters(ShardId(1));
    assert_eq!(shard1.crashed, 1);
    assert_eq!(shard1.restarts, 1);
    assert_eq!(
        SIBLING_HANDLED.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "only the sibling message that came before the crash was handled"
    );
    assert_eq!(
        shard1.bounced, 2,
        "sibling 1 and 2, sent to the old incarnation"
    );
    sim.check_pools().unwrap();
}
