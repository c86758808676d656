//! Regression tests for behaviour found wrong while writing the book: each once failed.

mod support;

use tina::SpawnError;
use tina::prelude::*;

/// Counts what arrives.
#[isolate(mailbox = 8)]
struct Counter {
    seen: u32,
}

#[derive(Bounded)]
struct Hit;

#[isolate]
impl Counter {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Counter { seen: 0 }
    }

    fn hit(&mut self, _hit: Hit, _ctx: &mut Ctx<Self>) -> Effect {
        self.seen += 1;
        Effect::Receive
    }
}

/// Sends four hits to another shard from `init`, before any tick has run.
#[isolate(mailbox = 1)]
struct EarlySender;

#[isolate]
impl EarlySender {
    fn init(target: &Handle<Counter>, ctx: &mut Ctx<Self>) -> Self {
        for _ in 0..4 {
            ctx.send(target, Hit).unwrap();
        }
        EarlySender
    }
}

#[test]
fn messages_sent_from_init_across_shards_are_delivered_before_quiescence() {
    for seed in 0..16 {
        let mut spec = BootSpec::new(2);
        spec.isolate::<Counter>(1).isolate::<EarlySender>(1);
        let counter = spec.root::<Counter>(ShardId(1), ());
        spec.root::<EarlySender>(ShardId(0), counter);
        let mut sim = Simulation::new(spec, seed).unwrap();
        assert!(sim.run(1_000).quiescent);
        assert_eq!(sim.state(counter).unwrap().seen, 4, "seed {seed}");
    }
}

/// Yields `steps` times, recording when each `resume` ran.
#[isolate(mailbox = 4)]
struct Chunked {
    left: u32,
    resumed_at: tina::heapless::Vec<Instant, 8>,
}

#[derive(Bounded)]
struct Start;

#[isolate]
impl Chunked {
    fn init(steps: &u32, ctx: &mut Ctx<Self>) -> Self {
        ctx.send(&ctx.me(), Start).unwrap();
        Chunked {
            left: *steps,
            resumed_at: tina::heapless::Vec::new(),
        }
    }

    fn start(&mut self, _start: Start, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Yield
    }

    fn resume(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        self.resumed_at.push(ctx.now()).unwrap();
        self.left -= 1;
        if self.left == 0 {
            Effect::Receive
        } else {
            Effect::Yield
        }
    }
}

#[test]
fn yield_resumes_next_tick_not_in_the_same_one() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Chunked>(1);
    let chunked = spec.root::<Chunked>(ShardId(0), 5);
    let mut sim = Simulation::new(spec, 1).unwrap();
    assert!(sim.run(1_000).quiescent);
    let times = &sim.state(chunked).unwrap().resumed_at;
    assert_eq!(times.len(), 5);
    // Each simulated round (tick) with work advances the clock by 1 µs: one resume per tick.
    for pair in times.windows(2) {
        assert_eq!(pair[1] - pair[0], Duration::from_micros(1), "{times:?}");
    }
}

/// Sets a 10 s timer in `init`, crashes on `Boom`, and checks in with the poker.
#[isolate(mailbox = 4)]
struct Sleeper {
    timer_ok: bool,
}

#[derive(Bounded)]
struct Boom;

#[derive(Bounded)]
struct WakeUp;

#[isolate]
impl Sleeper {
    fn init(poker: &Handle<Poker>, ctx: &mut Ctx<Self>) -> Self {
        // With one timer slot, the restarted incarnation gets it only if the crashed one's
        // timer was cancelled when it was torn down.
        let timer_ok = ctx.after(Duration::from_secs(10), WakeUp).is_ok();
        let me = ctx.me();
        let _ = ctx.send(poker, CheckIn(me));
        Sleeper { timer_ok }
    }

    fn boom(&mut self, _boom: Boom, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Crash("crash with a pending timer")
    }

    fn wake_up(&mut self, _wake_up: WakeUp, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

/// Bombs the first sleeper incarnation that checks in; remembers the latest.
#[isolate(mailbox = 4)]
struct Poker {
    latest: Option<Handle<Sleeper>>,
}

#[derive(Bounded)]
struct CheckIn(Handle<Sleeper>);

#[isolate]
impl Poker {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Poker { latest: None }
    }

    fn check_in(&mut self, check_in: CheckIn, ctx: &mut Ctx<Self>) -> Effect {
        if self.latest.is_none() {
            ctx.send(&check_in.0, Boom).unwrap();
        }
        self.latest = Some(check_in.0);
        Effect::Receive
    }
}

#[test]
fn a_torn_down_isolate_gives_back_its_timers() {
    let mut spec = BootSpec::new(1);
    spec.timer_slots(1).print_crashes(false);
    spec.isolate::<Poker>(1).isolate::<Sleeper>(1);
    let poker = spec.root::<Poker>(ShardId(0), ());
    spec.root::<Sleeper>(ShardId(0), poker);
    let mut sim = Simulation::new(spec, 1).unwrap();
    sim.run_until(Instant::from_nanos(1_000_000));
    let counters = sim.totals();
    assert_eq!(counters.crashed, 1);
    assert_eq!(counters.restarts, 1);
    assert_eq!(
        counters.timers_cancelled, 1,
        "the crashed incarnation's timer was cancelled"
    );
    let successor = sim.state(poker).unwrap().latest.unwrap();
    assert_eq!(successor.raw().generation(), 1);
    assert!(
        sim.state(successor).unwrap().timer_ok,
        "the only timer slot was free again"
    );
}

/// Calls a server that answers after 5 ms, with a timer due in 1 ms meanwhile.
#[isolate(mailbox = 4)]
struct Patient {
    order: tina::heapless::Vec<&'static str, 4>,
}

#[derive(Bounded, Request)]
#[reply(u32)]
struct Question;

#[derive(Bounded)]
struct Ring;

#[isolate]
impl Patient {
    fn init(server: &Handle<Slow>, ctx: &mut Ctx<Self>) -> Self {
        let _ = server;
        ctx.send(&ctx.me(), Start).unwrap();
        Patient {
            order: tina::heapless::Vec::new(),
        }
    }

    fn start(&mut self, _start: Start, ctx: &mut Ctx<Self>) -> Effect {
        ctx.after(Duration::from_millis(1), Ring).unwrap();
        let server = SLOW.with(|slow| slow.get()).unwrap();
        ctx.call(&server, Question, Duration::from_millis(50))
            .unwrap()
    }

    fn ring(&mut self, _ring: Ring, _ctx: &mut Ctx<Self>) -> Effect {
        self.order.push("timer").unwrap();
        Effect::Receive
    }

    fn answer(&mut self, _answer: CallResult<Question>, _ctx: &mut Ctx<Self>) -> Effect {
        self.order.push("answer").unwrap();
        Effect::Receive
    }
}

std::thread_local! {
    static SLOW: std::cell::Cell<Option<Handle<Slow>>> = const { std::cell::Cell::new(None) };
}

/// Answers after 5 ms.
#[isolate(mailbox = 4)]
struct Slow {
    pending: Option<tina::ReplyTo<Question>>,
}

#[derive(Bounded)]
struct Answer;

#[isolate]
impl Slow {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Slow { pending: None }
    }

    fn question(
        &mut self,
        _question: Question,
        reply: tina::ReplyTo<Question>,
        ctx: &mut Ctx<Self>,
    ) -> Effect {
        self.pending = Some(reply);
        ctx.after(Duration::from_millis(5), Answer).unwrap();
        Effect::Receive
    }

    fn answer(&mut self, _answer: Answer, ctx: &mut Ctx<Self>) -> Effect {
        ctx.reply_to(self.pending.take().unwrap(), 7u32).unwrap();
        Effect::Receive
    }
}

#[test]
fn a_parked_caller_gets_its_timer_only_after_the_call_completes() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Slow>(1).isolate::<Patient>(1);
    let slow = spec.root::<Slow>(ShardId(0), ());
    SLOW.with(|cell| cell.set(Some(slow)));
    let patient = spec.root::<Patient>(ShardId(0), slow);
    let mut sim = Simulation::new(spec, 1).unwrap();
    assert!(sim.run(100_000).quiescent);
    assert_eq!(sim.state(patient).unwrap().order, ["answer", "timer"]);
}

/// Static children of one type declared in an order the groups are not built in: a child
/// of a nested group first, then one of the root group.
#[test]
fn static_slots_follow_declaration_order_across_groups() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Counter>(2);
    let root = spec.supervisor(ShardId(0));
    let nested = spec.group(root, Strategy::OneForOne, RestartBudget::default());
    let first = spec.child::<Counter>(nested, Restart::Permanent, ());
    let second = spec.child::<Counter>(root, Restart::Permanent, ());
    assert_eq!((first.raw().slot(), second.raw().slot()), (0, 1));
    let mut sim = Simulation::new(spec, 1).unwrap();
    assert!(sim.run(100).quiescent);
    assert!(sim.state(first).is_some());
    assert!(sim.state(second).is_some());
}

/// Spawned on another shard; announces itself to its parent from `init`.
#[isolate(mailbox = 4)]
struct Remote;

#[isolate]
impl Remote {
    fn init(parent: &Handle<Spawner>, ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        ctx.send(parent, Arrived(me)).unwrap();
        Remote
    }
}

#[derive(Bounded)]
struct Arrived(Handle<Remote>);

/// Spawns two `Remote`s on shard 1, then one more than shard 1 has slots for.
#[isolate(mailbox = 4)]
struct Spawner {
    arrived: tina::heapless::Vec<Handle<Remote>, 4>,
    results: tina::heapless::Vec<Result<(), SpawnError>, 4>,
}

#[isolate]
impl Spawner {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Spawner {
            arrived: tina::heapless::Vec::new(),
            results: tina::heapless::Vec::new(),
        }
    }

    fn start(&mut self, _start: Start, ctx: &mut Ctx<Self>) -> Effect {
        let me = ctx.me();
        for _ in 0..3 {
            let _ = self.results.push(ctx.spawn_on::<Remote>(ShardId(1), me));
        }
        Effect::Receive
    }

    fn arrived(&mut self, arrived: Arrived, _ctx: &mut Ctx<Self>) -> Effect {
        let _ = self.arrived.push(arrived.0);
        Effect::Receive
    }
}

#[test]
fn spawn_on_another_shard_and_check_in() {
    let mut spec = BootSpec::new(2);
    spec.isolate::<Remote>(2)
        .isolate::<Spawner>(1)
        .isolate::<Kick>(1);
    let spawner = spec.root::<Spawner>(ShardId(0), ());
    spec.root::<Kick>(ShardId(0), spawner);
    let mut sim = Simulation::new(spec, 5).unwrap();
    assert!(sim.run(1_000).quiescent);
    let state = sim.state(spawner).unwrap();
    // All three requests left (the ring had room); shard 1 has two slots for `Remote`.
    assert_eq!(state.results, [Ok(()), Ok(()), Ok(())]);
    assert_eq!(state.arrived.len(), 2);
    assert!(
        state
            .arrived
            .iter()
            .all(|handle| handle.shard() == ShardId(1))
    );
    assert_eq!(
        sim.counters(ShardId(1)).bounced,
        1,
        "the third found no slot and went back"
    );
    assert_eq!(sim.counters(ShardId(0)).undelivered_no_free_slot, 1);
    for handle in &state.arrived {
        assert!(sim.state(*handle).is_some());
    }
}

/// Sends `Start` to the spawner once both are up.
#[isolate(mailbox = 1)]
struct Kick;

#[isolate]
impl Kick {
    fn init(spawner: &Handle<Spawner>, ctx: &mut Ctx<Self>) -> Self {
        ctx.send(spawner, Start).unwrap();
        Kick
    }
}

/// Tries `spawn_on` a shard the system does not have, from `init`.
#[isolate(mailbox = 1)]
struct OffTheEdge {
    result: Result<(), SpawnError>,
}

#[isolate]
impl OffTheEdge {
    fn init(shard: &u16, ctx: &mut Ctx<Self>) -> Self {
        OffTheEdge {
            result: ctx.spawn_on::<OffTheEdge>(ShardId(*shard), *shard),
        }
    }
}

#[test]
fn spawn_on_a_shard_the_system_does_not_have_says_so() {
    let mut spec = BootSpec::new(2);
    spec.isolate::<OffTheEdge>(2);
    let beyond = spec.root::<OffTheEdge>(ShardId(0), 2);
    let mut sim = Simulation::new(spec, 1).unwrap();
    assert!(sim.run(100).quiescent);
    let result = sim.state(beyond).unwrap().result;
    assert_eq!(result, Err(SpawnError::UnknownShard));
    assert_eq!(
        SpawnError::UnknownShard.to_string(),
        "no such shard in this system"
    );
}

/// Writes more bytes than any buffer block holds, and a few that fit.
#[isolate(mailbox = 4)]
struct Oversized {
    too_large: Option<Result<(), IoError>>,
    small: Option<Result<(), IoError>>,
}

#[isolate]
impl Oversized {
    fn init(ctx: &mut Ctx<Self>) -> Self {
        let addr = "127.0.0.1:7000".parse().unwrap();
        let mut state = Oversized {
            too_large: None,
            small: None,
        };
        if let Ok(socket) = ctx.connect(addr, Duration::from_secs(1)) {
            state.too_large = Some(ctx.write_bytes(socket, &[7; 8192]));
            state.small = Some(ctx.write_bytes(socket, b"fits"));
        }
        state
    }

    fn io(&mut self, _event: IoEvent, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

#[test]
fn write_bytes_larger_than_every_block_is_too_large_not_exhausted() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Oversized>(1)
        .buffer_class(4096, 8)
        .sockets(2);
    let writer = spec.root::<Oversized>(ShardId(0), ());
    let mut sim = Simulation::new(spec, 3).unwrap();
    sim.run(1_000);
    let state = sim.state(writer).unwrap();
    assert_eq!(state.too_large, Some(Err(IoError::TooLarge)));
    assert_eq!(state.small, Some(Ok(())));
}
