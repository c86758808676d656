//! Escalation through nested groups to quarantine; peers keep working and see `ShardDown`;
//! revive restores service. A panic in `init` during a restart; a crash while a call is
//! pending never hangs the caller.

mod support;

use core::time::Duration;

use tina_runtime::{
    BootSpec, CallResult, Ctx, Effect, Handle, Instant, Isolate, Request, Restart, RestartBudget,
    SendErrorKind, ShardId, Simulation, Strategy,
};

/// Crashes on `Boom`; checks in with its bomber from `init`.
struct Fragile {
    pokes: u32,
}

struct Boom;
struct Poke;

messages!(Fragile => FragileMessage { Boom(Boom), Poke(Poke) });

impl Isolate for Fragile {
    type Message = FragileMessage;
    /// `(bomber to check in with, panic in init on restarts)`.
    type Args = (Handle<Bomber>, bool);
    const MAILBOX: usize = 8;
    const NAME: &'static str = "Fragile";

    fn init(args: &Self::Args, ctx: &mut Ctx<Self>) -> Self {
        if args.1 && ctx.me().raw().generation() > 0 {
            panic!("init cannot restart");
        }
        let me = ctx.me();
        let _ = ctx.send(&args.0, CheckIn(me));
        Fragile { pokes: 0 }
    }

    fn handle(&mut self, message: FragileMessage, _ctx: &mut Ctx<Self>) -> Effect {
        match message {
            FragileMessage::Boom(Boom) => panic!("boom"),
            FragileMessage::Poke(Poke) => {
                self.pokes += 1;
                Effect::Receive
            }
        }
    }
}

/// Every 10 µs: pokes the fragile isolate's latest incarnation, and bombs it at the listed
/// ticks. Records every send result.
struct Bomber {
    target: Handle<Fragile>,
    tick: u32,
    bomb_at: [u32; 4],
    results: Vec<(u32, Result<(), SendErrorKind>)>,
}

struct Tick;
struct CheckIn(Handle<Fragile>);

messages!(Bomber => BomberMessage { Tick(Tick), CheckIn(CheckIn) });

impl Isolate for Bomber {
    type Message = BomberMessage;
    type Args = (Handle<Fragile>, [u32; 4]);
    const MAILBOX: usize = 8;
    const NAME: &'static str = "Bomber";

    fn init(args: &Self::Args, ctx: &mut Ctx<Self>) -> Self {
        ctx.after(Duration::from_micros(10), Tick).unwrap();
        Bomber {
            target: args.0,
            tick: 0,
            bomb_at: args.1,
            results: Vec::new(),
        }
    }

    fn handle(&mut self, message: BomberMessage, ctx: &mut Ctx<Self>) -> Effect {
        match message {
            BomberMessage::CheckIn(CheckIn(handle)) => self.target = handle,
            BomberMessage::Tick(Tick) => {
                self.tick += 1;
                let result = if self.bomb_at.contains(&self.tick) {
                    ctx.send(&self.target, Boom).map_err(|error| error.kind())
                } else {
                    ctx.send(&self.target, Poke).map_err(|error| error.kind())
                };
                self.results.push((self.tick, result));
                if self.tick < 200 {
                    ctx.after(Duration::from_micros(10), Tick).unwrap();
                }
            }
        }
        Effect::Receive
    }
}

/// Shard 1: root group (1 restart per second) > nested group (1 restart per second) >
/// the fragile isolate. Shard 0: the bomber.
fn spec(panic_in_init: bool, bomb_at: [u32; 4]) -> (BootSpec, Handle<Bomber>, Handle<Fragile>) {
    let mut spec = BootSpec::new(2);
    spec.print_crashes(false).pin_threads(false);
    spec.isolate::<Fragile>(2).isolate::<Bomber>(1);
    let bomber = spec.next_root::<Bomber>(ShardId(0)).unwrap();
    let root = spec.supervisor(ShardId(1));
    spec.budget(root, RestartBudget::new(1, Duration::from_secs(1)));
    let nested = spec.group(
        root,
        Strategy::OneForOne,
        RestartBudget::new(1, Duration::from_secs(1)),
    );
    let fragile = spec.child::<Fragile>(nested, Restart::Permanent, (bomber, panic_in_init));
    assert_eq!(spec.root::<Bomber>(ShardId(0), (fragile, bomb_at)), bomber);
    (spec, bomber, fragile)
}

#[test]
fn escalation_reaches_quarantine_peers_keep_working_and_revive_restores_service() {
    let (spec, bomber, _) = spec(false, [3, 5, 7, 9]);
    let mut sim = Simulation::new(spec, 2).unwrap();
    // Bombs at ticks 3, 5, 7, 9 (every 20 µs, all within the 1 s windows): the nested group
    // restarts the isolate; the second crash puts the nested group over budget and the root
    // restarts the group (fresh budget); the third is restarted by the fresh group; the
    // fourth escalates the group again, the root is over budget too: quarantine.
    sim.run_until(Instant::from_nanos(1_000_000));
    assert!(sim.is_quarantined(ShardId(1)));
    let counters = sim.counters(ShardId(1));
    assert_eq!(counters.crashed, 4);
    assert_eq!(
        counters.escalations, 3,
        "nested group twice, then the root group"
    );
    assert_eq!(counters.restarts, 3);
    assert_eq!(counters.quarantines, 1);
    assert_eq!(counters.live_isolates, 0);
    let reports: Vec<_> = sim.crash_reports(ShardId(1)).collect();
    assert_eq!(reports.len(), 4);
    assert!(reports.iter().all(|report| report.type_name == "Fragile"));
    assert!(
        reports[0].reason.starts_with("panicked: boom"),
        "{}",
        reports[0].reason
    );
    assert_eq!(reports[0].message_tag, Some(0), "Boom is the first variant");

    // The peer shard kept working and was told `ShardDown`.
    let state = sim.state(bomber).unwrap();
    let after_quarantine: Vec<_> = state
        .results
        .iter()
        .filter(|(tick, _)| *tick > 10)
        .collect();
    assert!(
        after_quarantine.len() > 50,
        "the bomber kept running: {}",
        after_quarantine.len()
    );
    assert!(
        after_quarantine
            .iter()
            .all(|(_, result)| *result == Err(SendErrorKind::ShardDown))
    );
    let dispatched_before = sim.counters(ShardId(0)).dispatched;
    sim.run_until(Instant::from_nanos(1_500_000));
    assert!(
        sim.counters(ShardId(0)).dispatched > dispatched_before,
        "shard 0 keeps dispatching"
    );

    // Revive: the tree is rebuilt from the spec, the isolate checks in, service resumes.
    sim.revive(ShardId(1));
    assert!(!sim.is_quarantined(ShardId(1)));
    let report = sim.run(1_000_000);
    assert!(report.quiescent);
    let state = sim.state(bomber).unwrap();
    let (last_tick, last) = *state.results.last().unwrap();
    assert_eq!(last_tick, 200);
    assert_eq!(last, Ok(()), "sends reach the revived shard");
    assert!(sim.state(state.target).unwrap().pokes > 0);
    assert_eq!(sim.counters(ShardId(1)).revives, 1);
    sim.check_pools().unwrap();
}

#[test]
fn panic_in_init_during_restart_is_a_crash_and_escalates_without_hanging() {
    let (spec, _, _) = spec(true, [3, 0, 0, 0]);
    let mut sim = Simulation::new(spec, 4).unwrap();
    let report = sim.run(1_000_000);
    assert!(report.quiescent, "no hang");
    let counters = sim.counters(ShardId(1));
    // The bomb (crash 1); the nested group restarts the isolate, whose init panics (2): the
    // nested group is over budget and escalates; the root restarts it with a fresh budget
    // (init panics, 3), the nested group restarts once more (4) and escalates again; the root
    // is over budget too (a third escalation) and quarantines the shard.
    assert_eq!(counters.crashed, 4, "{counters:?}");
    assert_eq!(counters.restarts, 3, "{counters:?}");
    assert_eq!(counters.escalations, 3, "{counters:?}");
    assert_eq!(counters.quarantines, 1, "{counters:?}");
    assert!(sim.is_quarantined(ShardId(1)));
    let reports: Vec<_> = sim.crash_reports(ShardId(1)).collect();
    assert_eq!(reports.len(), 4);
    assert_eq!(
        reports[0].message_tag,
        Some(0),
        "the bomb is message tag 0 (Boom)"
    );
    assert!(
        reports[0].reason.contains("boom"),
        "{:?}",
        reports[0].reason
    );
    for report in &reports[1..] {
        assert_eq!(report.message_tag, None, "{report}");
        assert!(report.reason.contains("init cannot restart"), "{report}");
    }
}

/// Asks the server something.
struct Question;

impl Request for Question {
    type Reply = u32;
}

/// Panics on every question.
struct Faulty;

messages!(Faulty => FaultyMessage { Question(Question) });

/// `Faulty` takes questions as requests (and panics on each).
impl tina_runtime::Answers<Question> for Faulty {}

impl Isolate for Faulty {
    type Message = FaultyMessage;
    type Args = ();
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Faulty";

    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        Faulty
    }

    fn handle(&mut self, _message: FaultyMessage, _ctx: &mut Ctx<Self>) -> Effect {
        panic!("cannot answer")
    }
}

/// Calls the faulty server once and records the result.
struct Asker {
    result: Option<CallResult<Question>>,
}

struct Ask;

messages!(Asker => AskerMessage { Ask(Ask), Answer(CallResult<Question>) });

impl Isolate for Asker {
    type Message = AskerMessage;
    type Args = Handle<Faulty>;
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Asker";

    fn init(server: &Handle<Faulty>, ctx: &mut Ctx<Self>) -> Self {
        ctx.send(&ctx.me(), Ask).unwrap();
        let _ = server;
        Asker { result: None }
    }

    fn handle(&mut self, message: AskerMessage, ctx: &mut Ctx<Self>) -> Effect {
        match message {
            AskerMessage::Ask(Ask) => {
                let server = SERVER.with(|server| server.get()).unwrap();
                ctx.call(&server, Question, Duration::from_millis(5))
                    .unwrap()
            }
            AskerMessage::Answer(result) => {
                self.result = Some(result);
                Effect::Receive
            }
        }
    }
}

std::thread_local! {
    static SERVER: std::cell::Cell<Option<Handle<Faulty>>> = const { std::cell::Cell::new(None) };
}

#[test]
fn crash_while_a_call_is_pending_times_the_caller_out() {
    for server_shard in [0u16, 1] {
        let mut spec = BootSpec::new(2);
        spec.print_crashes(false);
        spec.isolate::<Faulty>(1).isolate::<Asker>(1);
        let server = spec.root::<Faulty>(ShardId(server_shard), ());
        SERVER.with(|cell| cell.set(Some(server)));
        let asker = spec.root::<Asker>(ShardId(0), server);
        let mut sim = Simulation::new(spec, 8).unwrap();
        let report = sim.run(1_000_000);
        assert!(report.quiescent, "no hang");
        assert_eq!(sim.state(asker).unwrap().result, Some(CallResult::Timeout));
        let totals = sim.totals();
        assert_eq!(totals.crashed, 1);
        assert_eq!(
            totals.restarts, 1,
            "the server was restarted (transient root)"
        );
        assert_eq!(totals.calls_timed_out, 1);
    }
}

test_data!(
    Ask, Asker, Bomber, Boom, CheckIn, Faulty, Fragile, Poke, Question, Tick
);
