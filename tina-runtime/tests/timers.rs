//! Timers fire in deadline order, cancelled timers never fire, and timers still fire on
//! time while every user mailbox is full and the user pool is exhausted.

mod support;

use core::time::Duration;

use tina_runtime::{BootSpec, Ctx, Effect, Handle, Instant, Isolate, ShardId, Simulation, TimerId};

/// A timer's payload: which one it was.
struct Fired(u32);

struct Clockwork {
    fired: Vec<(u32, Instant)>,
    cancelled: Option<TimerId>,
    cancel_result: Option<bool>,
}

messages!(Clockwork => ClockworkMessage { Fired(Fired) });

impl Isolate for Clockwork {
    type Message = ClockworkMessage;
    type Args = ();
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Clockwork";

    fn init(_args: &(), ctx: &mut Ctx<Self>) -> Self {
        let mut cancelled = None;
        for (tag, delay_millis) in [(0u32, 50u64), (1, 10), (2, 30), (3, 10), (4, 40), (5, 20)] {
            let id = ctx
                .after(Duration::from_millis(delay_millis), Fired(tag))
                .unwrap();
            if tag == 2 {
                cancelled = Some(id);
            }
        }
        Clockwork {
            fired: Vec::new(),
            cancelled,
            cancel_result: None,
        }
    }

    fn handle(&mut self, message: ClockworkMessage, ctx: &mut Ctx<Self>) -> Effect {
        let ClockworkMessage::Fired(Fired(tag)) = message;
        self.fired.push((tag, ctx.now()));
        if let Some(id) = self.cancelled.take() {
            // Cancel timer 2 (due at 30 ms) when the first timer (10 ms) fires.
            self.cancel_result = Some(ctx.cancel(id));
            // Cancelling again reports that nothing was pending.
            assert!(!ctx.cancel(id));
        }
        Effect::Receive
    }
}

#[test]
fn timers_fire_in_deadline_order_and_cancelled_ones_never_fire() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Clockwork>(1);
    let clockwork = spec.root::<Clockwork>(ShardId(0), ());
    let mut sim = Simulation::new(spec, 9).unwrap();
    assert!(sim.run(100_000).quiescent);
    let state = sim.state(clockwork).unwrap();
    let order: Vec<u32> = state.fired.iter().map(|&(tag, _)| tag).collect();
    assert_eq!(
        order,
        [1, 3, 5, 4, 0],
        "deadline order, ties in the order they were set"
    );
    for &(tag, at) in &state.fired {
        let due = match tag {
            1 | 3 => 10,
            5 => 20,
            4 => 40,
            0 => 50,
            _ => unreachable!(),
        };
        let due = Instant::from_nanos(due * 1_000_000);
        assert!(
            at >= due && at - due <= Duration::from_micros(2),
            "timer {tag} at {at}, due {due}"
        );
    }
    assert_eq!(state.cancel_result, Some(true));
    let counters = sim.totals();
    assert_eq!(counters.timers_fired, 5);
    assert_eq!(counters.timers_cancelled, 1);
    sim.check_pools().unwrap();
}

/// Keeps a timer and a mailbox of 2; records when the timer's message ran.
struct Target {
    tick_at: Option<Instant>,
    data: u32,
}

struct Tick;
struct Data;

messages!(Target => TargetMessage { Tick(Tick), Data(Data) });

impl Isolate for Target {
    type Message = TargetMessage;
    type Args = ();
    const MAILBOX: usize = 2;
    const NAME: &'static str = "Target";

    fn init(_args: &(), ctx: &mut Ctx<Self>) -> Self {
        ctx.after(Duration::from_millis(1), Tick).unwrap();
        Target {
            tick_at: None,
            data: 0,
        }
    }

    fn handle(&mut self, message: TargetMessage, ctx: &mut Ctx<Self>) -> Effect {
        match message {
            TargetMessage::Tick(Tick) => self.tick_at = Some(ctx.now()),
            TargetMessage::Data(Data) => self.data += 1,
        }
        Effect::Receive
    }
}

/// Floods every target with data every tick for 2 ms, counting refusals.
struct Flooder {
    targets: [Handle<Target>; 2],
    refused_before_tick: u64,
    refused_total: u64,
}

struct Flood;

messages!(Flooder => FlooderMessage { Flood(Flood) });

impl Isolate for Flooder {
    type Message = FlooderMessage;
    type Args = [Handle<Target>; 2];
    const MAILBOX: usize = 2;
    const NAME: &'static str = "Flooder";

    fn init(targets: &[Handle<Target>; 2], _ctx: &mut Ctx<Self>) -> Self {
        Flooder {
            targets: *targets,
            refused_before_tick: 0,
            refused_total: 0,
        }
    }

    fn handle(&mut self, _message: FlooderMessage, ctx: &mut Ctx<Self>) -> Effect {
        self.resume(ctx)
    }

    fn resume(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        for target in self.targets {
            // Keep sending until refused: the mailbox (2) or the pool (4 slots) is full.
            while ctx.send(&target, Data).is_ok() {}
            self.refused_total += 1;
            if ctx.now() < Instant::from_nanos(1_000_000) {
                self.refused_before_tick += 1;
            }
        }
        if ctx.now() < Instant::from_nanos(2_000_000) {
            Effect::Yield
        } else {
            Effect::Receive
        }
    }
}

/// Spawns the flooder and starts it.
struct Starter;

messages!(Starter => StarterMessage {});

impl Isolate for Starter {
    type Message = StarterMessage;
    type Args = [Handle<Target>; 2];
    const MAILBOX: usize = 1;
    const NAME: &'static str = "Starter";

    fn init(targets: &[Handle<Target>; 2], ctx: &mut Ctx<Self>) -> Self {
        let flooder = ctx.spawn::<Flooder>(*targets).unwrap();
        ctx.send(&flooder, Flood).unwrap();
        FLOODER.with(|cell| cell.set(Some(flooder)));
        Starter
    }

    fn handle(&mut self, message: StarterMessage, _ctx: &mut Ctx<Self>) -> Effect {
        match message {}
    }
}

std::thread_local! {
    static FLOODER: std::cell::Cell<Option<Handle<Flooder>>> = const { std::cell::Cell::new(None) };
}

#[test]
fn timers_fire_on_time_while_mailboxes_and_pool_are_full() {
    let mut spec = BootSpec::new(1);
    // Three ordinary envelopes: the first target's mailbox (2) fills, then the pool runs dry.
    spec.pool_slots(3).control_reserve(4).timer_slots(4);
    spec.isolate::<Target>(2)
        .isolate::<Flooder>(1)
        .isolate::<Starter>(1);
    let first = spec.root::<Target>(ShardId(0), ());
    let second = spec.root::<Target>(ShardId(0), ());
    spec.root::<Starter>(ShardId(0), [first, second]);
    let mut sim = Simulation::new(spec, 11).unwrap();
    sim.run(1_000_000);
    let flooder = FLOODER.with(|cell| cell.get()).unwrap();
    let due = Instant::from_nanos(1_000_000);
    for target in [first, second] {
        let at = sim.state(target).unwrap().tick_at.expect("the timer fired");
        assert!(
            at >= due && at - due <= Duration::from_micros(2),
            "fired at {at}, due {due}"
        );
    }
    let flooder_state = sim.state(flooder).unwrap();
    assert!(
        flooder_state.refused_before_tick > 100,
        "mailboxes were full all along"
    );
    let counters = sim.totals();
    assert!(
        counters.refused_mailbox_full + counters.refused_pool_exhausted
            >= flooder_state.refused_total
    );
    assert!(
        counters.refused_pool_exhausted > 0,
        "the ordinary pool ran dry too"
    );
    assert_eq!(counters.timers_fired, 2);
    sim.check_pools().unwrap();
}

test_data!(
    Clockwork, Data, Fired, Flood, Flooder, Starter, Target, Tick
);

/// What the spinning shard saw: each timer's tag, when it was due and when it ran (runtime
/// nanoseconds).
static SPUN: std::sync::Mutex<Vec<(u32, u64, u64)>> = std::sync::Mutex::new(Vec::new());

/// A timer and the runtime instant it is due at.
struct Due {
    tag: u32,
    due: u64,
}

/// Sets timers inside and beyond its shard's spin window and records when each ran.
struct Spinner;

messages!(Spinner => SpinnerMessage { Due(Due) });
// Plain data: integers, and a unit struct.
test_data!(Due, Spinner);

impl Isolate for Spinner {
    type Message = SpinnerMessage;
    type Args = ();
    const MAILBOX: usize = 8;
    const NAME: &'static str = "Spinner";

    fn init(_args: &(), ctx: &mut Ctx<Self>) -> Self {
        let now = ctx.now().as_nanos();
        // 1 ms and 2 ms are inside the 3 ms window from the start; 8 ms and 5 ms are not:
        // the shard parks until their window opens.
        for (tag, delay_micros) in [(0u32, 8_000u64), (1, 1_000), (2, 5_000), (3, 2_000)] {
            let due = now + delay_micros * 1_000;
            ctx.after(Duration::from_micros(delay_micros), Due { tag, due })
                .unwrap();
        }
        Spinner
    }

    fn handle(&mut self, message: SpinnerMessage, ctx: &mut Ctx<Self>) -> Effect {
        let SpinnerMessage::Due(Due { tag, due }) = message;
        SPUN.lock().unwrap().push((tag, due, ctx.now().as_nanos()));
        Effect::Receive
    }
}

#[test]
fn with_a_spin_window_timers_fire_in_order_and_never_early() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Spinner>(1)
        .pin_threads(false)
        .spin_before_sleep(0)
        .timer_spin(Duration::from_millis(3));
    spec.root::<Spinner>(ShardId(0), ());
    let system = tina_runtime::System::start(spec).unwrap();
    assert!(
        system.wait_until(Duration::from_secs(10), |totals| totals.timers_fired >= 4),
        "all four timers fire"
    );
    let summary = system.shutdown(Duration::from_secs(1));
    assert_eq!(summary.total.timers_fired, 4);
    let spun = SPUN.lock().unwrap().clone();
    let order: Vec<u32> = spun.iter().map(|&(tag, _, _)| tag).collect();
    assert_eq!(order, [1, 3, 2, 0], "deadline order");
    for (tag, due, ran) in spun {
        assert!(ran >= due, "timer {tag} ran {} ns early", due - ran);
    }
}
