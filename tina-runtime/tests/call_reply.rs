//! Call/reply: reply, timeout, late reply dropped, reply to a dead caller, a second call
//! while one is pending refused, a call to oneself refused, expired requests dropped.

mod support;

use core::time::Duration;

use tina_runtime::{
    Answers, BootSpec, CallError, CallResult, Ctx, Effect, Handle, Instant, Isolate, ReplyTo,
    Request, ShardId, Simulation,
};

/// Asks for the server's value.
struct GetValue;

impl Request for GetValue {
    type Reply = u64;
}

/// A request of another reply type, only to ask `Ctx::take_reply` for the wrong one.
struct Mismatch;

impl Request for Mismatch {
    type Reply = u32;
}

/// Makes the server busy for one dispatch.
struct Work;

/// How the server answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// At once.
    Immediate,
    /// Never.
    Ignore,
    /// 10 ms later, from a timer.
    Deferred,
}

struct Server {
    mode: Mode,
    deferred: Option<ReplyTo<GetValue>>,
    handled: u32,
    wrong_type_refused: bool,
}

/// Fires a deferred reply.
struct Answer;

messages!(Server => ServerMessage { GetValue(GetValue), Work(Work), Answer(Answer) });

impl Answers<GetValue> for Server {}

impl Isolate for Server {
    type Message = ServerMessage;
    type Args = Mode;
    const MAILBOX: usize = 16;
    const NAME: &'static str = "Server";

    fn init(mode: &Mode, _ctx: &mut Ctx<Self>) -> Self {
        Server {
            mode: *mode,
            deferred: None,
            handled: 0,
            wrong_type_refused: false,
        }
    }

    fn handle(&mut self, message: ServerMessage, ctx: &mut Ctx<Self>) -> Effect {
        match message {
            ServerMessage::GetValue(GetValue) => {
                self.handled += 1;
                match self.mode {
                    Mode::Immediate => match ctx.take_reply::<GetValue>() {
                        Some(reply) => ctx.reply(reply, 42),
                        None => Effect::Crash("a `GetValue` that was not called"),
                    },
                    Mode::Ignore => Effect::Receive,
                    Mode::Deferred => {
                        // The address of a request is taken only with its own reply type:
                        // the one run-time check left, for hand-written isolates.
                        self.wrong_type_refused = ctx.take_reply::<Mismatch>().is_none();
                        self.deferred = ctx.take_reply::<GetValue>();
                        ctx.after(Duration::from_millis(10), Answer).unwrap();
                        Effect::Receive
                    }
                }
            }
            ServerMessage::Work(Work) => Effect::Receive,
            ServerMessage::Answer(Answer) => {
                let to = self.deferred.take().unwrap();
                ctx.reply_to(to, 7).unwrap();
                Effect::Receive
            }
        }
    }
}

/// What the caller does on start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    /// One call with the given timeout.
    Call { timeout_micros: u64 },
    /// One call, then exit as soon as the result arrives.
    CallThenExit { timeout_micros: u64 },
    /// Two calls in one handler.
    Twice,
    /// A call to itself.
    SelfCall,
    /// Three `Work` messages, then a call with a 1 µs deadline.
    Backlog,
}

struct Caller {
    results: Vec<CallResult<GetValue>>,
    refusals: Vec<CallError>,
    plan: Plan,
    exit_after_result: bool,
}

/// Starts the plan.
struct Go;

messages!(Caller => CallerMessage { Go(Go), Result(CallResult<GetValue>), Value(GetValue) });

impl Answers<GetValue> for Caller {}

impl Isolate for Caller {
    type Message = CallerMessage;
    type Args = (Plan, Handle<Server>);
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Caller";

    fn init(args: &Self::Args, ctx: &mut Ctx<Self>) -> Self {
        let _ = ctx.after(Duration::from_micros(5), Go);
        Caller {
            results: Vec::new(),
            refusals: Vec::new(),
            plan: args.0,
            exit_after_result: matches!(args.0, Plan::CallThenExit { .. }),
        }
    }

    fn handle(&mut self, message: CallerMessage, ctx: &mut Ctx<Self>) -> Effect {
        match message {
            CallerMessage::Go(Go) => self.go(ctx),
            CallerMessage::Result(result) => {
                self.results.push(result);
                if self.exit_after_result {
                    Effect::Done
                } else {
                    Effect::Receive
                }
            }
            CallerMessage::Value(GetValue) => match ctx.take_reply::<GetValue>() {
                Some(reply) => ctx.reply(reply, 0),
                None => Effect::Receive,
            },
        }
    }
}

impl Caller {
    fn server(ctx: &Ctx<Self>) -> Handle<Server> {
        SERVER
            .with(|server| server.get())
            .unwrap_or_else(|| unreachable!("{ctx:?}"))
    }

    fn go(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        let server = Self::server(ctx);
        match self.plan {
            Plan::Call { timeout_micros } | Plan::CallThenExit { timeout_micros } => ctx
                .call(&server, GetValue, Duration::from_micros(timeout_micros))
                .unwrap(),
            Plan::Twice => {
                let first = ctx
                    .call(&server, GetValue, Duration::from_millis(5))
                    .unwrap();
                let second = ctx.call(&server, GetValue, Duration::from_millis(5));
                self.refusals.push(second.unwrap_err().error);
                first
            }
            Plan::SelfCall => {
                let me = ctx.me();
                let refused = ctx
                    .call(&me, GetValue, Duration::from_millis(5))
                    .unwrap_err();
                self.refusals.push(refused.error);
                Effect::Receive
            }
            Plan::Backlog => {
                for _ in 0..3 {
                    ctx.send(&server, Work).unwrap();
                }
                ctx.call(&server, GetValue, Duration::from_micros(1))
                    .unwrap()
            }
        }
    }
}

std::thread_local! {
    static SERVER: std::cell::Cell<Option<Handle<Server>>> = const { std::cell::Cell::new(None) };
}

fn simulate(
    plan: Plan,
    mode: Mode,
    server_shard: u16,
) -> (Simulation, Handle<Caller>, Handle<Server>) {
    let mut spec = BootSpec::new(2);
    spec.pin_threads(false).dispatch_budget(1);
    spec.isolate::<Server>(2).isolate::<Caller>(2);
    let server = spec.root::<Server>(ShardId(server_shard), mode);
    let caller = spec.root::<Caller>(ShardId(0), (plan, server));
    SERVER.with(|cell| cell.set(Some(server)));
    let mut sim = Simulation::new(spec, 3).unwrap();
    let report = sim.run(1_000_000);
    assert!(report.quiescent);
    sim.check_pools().unwrap();
    (sim, caller, server)
}

#[test]
fn reply_arrives_locally_and_across_shards() {
    for shard in [0, 1] {
        let (sim, caller, _) = simulate(
            Plan::Call {
                timeout_micros: 1_000,
            },
            Mode::Immediate,
            shard,
        );
        assert_eq!(
            sim.state(caller).unwrap().results,
            [CallResult::Reply(42)],
            "server on shard {shard}"
        );
        assert_eq!(sim.totals().calls, 1);
        assert_eq!(sim.totals().calls_timed_out, 0);
    }
}

#[test]
fn timeout_when_the_server_never_answers() {
    let (sim, caller, server) = simulate(
        Plan::Call {
            timeout_micros: 1_000,
        },
        Mode::Ignore,
        1,
    );
    assert_eq!(sim.state(caller).unwrap().results, [CallResult::Timeout]);
    assert_eq!(sim.state(server).unwrap().handled, 1);
    assert_eq!(sim.totals().calls_timed_out, 1);
    // The timeout fired at the deadline: 5 µs start + 1 ms.
    assert!(sim.now() >= Instant::from_nanos(1_005_000));
}

#[test]
fn late_reply_is_dropped_not_delivered() {
    let (sim, caller, server) = simulate(
        Plan::Call {
            timeout_micros: 1_000,
        },
        Mode::Deferred,
        1,
    );
    assert_eq!(sim.state(caller).unwrap().results, [CallResult::Timeout]);
    assert!(
        sim.state(server).unwrap().wrong_type_refused,
        "the reply address is not handed out for another reply type"
    );
    assert_eq!(sim.totals().late_replies_dropped, 1);
}

#[test]
fn reply_to_a_dead_caller_is_counted() {
    let (sim, caller, _) = simulate(
        Plan::CallThenExit {
            timeout_micros: 1_000,
        },
        Mode::Deferred,
        0,
    );
    assert!(
        sim.state(caller).is_none(),
        "caller exited after its timeout"
    );
    assert_eq!(sim.totals().replies_to_dead_callers, 1);
    assert_eq!(sim.totals().late_replies_dropped, 0);
}

#[test]
fn second_call_while_pending_is_refused() {
    let (sim, caller, server) = simulate(Plan::Twice, Mode::Immediate, 1);
    let state = sim.state(caller).unwrap();
    assert_eq!(state.refusals, [CallError::AlreadyPending]);
    assert_eq!(state.results, [CallResult::Reply(42)]);
    assert_eq!(sim.state(server).unwrap().handled, 1);
}

#[test]
fn call_to_oneself_is_refused_at_once() {
    let (sim, caller, _) = simulate(Plan::SelfCall, Mode::Immediate, 0);
    let state = sim.state(caller).unwrap();
    assert_eq!(state.refusals, [CallError::SelfCall]);
    assert!(state.results.is_empty());
    assert_eq!(sim.totals().calls, 0);
}

#[test]
fn request_past_its_deadline_is_dropped_before_dispatch() {
    let (sim, caller, server) = simulate(Plan::Backlog, Mode::Immediate, 0);
    assert_eq!(sim.state(caller).unwrap().results, [CallResult::Timeout]);
    assert_eq!(
        sim.state(server).unwrap().handled,
        0,
        "the server never saw the request"
    );
    assert_eq!(sim.totals().expired_requests_dropped, 1);
}

/// Calls the server from `init` (before any dispatch, so calls pile up), and once more
/// after its first result.
struct Eager {
    results: Vec<CallResult<GetValue>>,
    refusals: Vec<CallError>,
    server: Handle<Server>,
}

messages!(Eager => EagerMessage { Result(CallResult<GetValue>) });

impl Isolate for Eager {
    type Message = EagerMessage;
    type Args = Handle<Server>;
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Eager";

    fn init(server: &Handle<Server>, ctx: &mut Ctx<Self>) -> Self {
        let mut eager = Eager {
            results: Vec::new(),
            refusals: Vec::new(),
            server: *server,
        };
        if let Err(refused) = ctx.call(server, GetValue, Duration::from_millis(1)) {
            eager.refusals.push(refused.error);
        }
        eager
    }

    fn handle(&mut self, message: EagerMessage, ctx: &mut Ctx<Self>) -> Effect {
        let EagerMessage::Result(result) = message;
        self.results.push(result);
        if self.results.len() == 1 {
            match ctx.call(&self.server, GetValue, Duration::from_millis(1)) {
                Ok(effect) => return effect,
                Err(refused) => self.refusals.push(refused.error),
            }
        }
        Effect::Receive
    }
}

#[test]
fn calls_beyond_the_timer_slots_are_refused_and_entries_are_reused() {
    let mut spec = BootSpec::new(1);
    spec.pin_threads(false).timer_slots(2);
    spec.isolate::<Server>(1).isolate::<Eager>(3);
    let server = spec.root::<Server>(ShardId(0), Mode::Immediate);
    let eager: Vec<Handle<Eager>> = (0..3)
        .map(|_| spec.root::<Eager>(ShardId(0), server))
        .collect();
    let mut sim = Simulation::new(spec, 5).unwrap();
    assert!(sim.run(1_000_000).quiescent);
    sim.check_pools().unwrap();
    // Two timer slots: the first two calls made at boot hold them; the third is refused.
    for &caller in &eager[..2] {
        let state = sim.state(caller).unwrap();
        assert_eq!(
            state.results,
            [CallResult::Reply(42), CallResult::Reply(42)]
        );
        assert!(state.refusals.is_empty());
    }
    let third = sim.state(eager[2]).unwrap();
    assert_eq!(third.refusals, [CallError::NoTimer]);
    assert!(third.results.is_empty());
    // The second round of calls found the entries and timers of the first round free.
    assert_eq!(sim.totals().calls, 4);
    assert_eq!(sim.state(server).unwrap().handled, 4);
}

/// One of two isolates that call each other: the first calls from `init`; the second,
/// handling that request, calls back (filling the two-entry call table) and then sets a
/// timer, which must not depend on the call table.
struct Twin {
    peer: Option<Handle<Twin>>,
    called: bool,
    timer_after_call: Option<Result<(), tina_runtime::TimerError>>,
}

/// The request the twins send each other: the first names itself, so the second can call
/// back.
struct Ping(Option<Handle<Twin>>);

impl Request for Ping {
    type Reply = u64;
}

/// A timer message.
struct Tick;

messages!(Twin => TwinMessage { Ping(Ping), Result(CallResult<Ping>), Tick(Tick) });

impl Answers<Ping> for Twin {}

impl Isolate for Twin {
    type Message = TwinMessage;
    type Args = Option<Handle<Twin>>;
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Twin";

    fn init(peer: &Option<Handle<Twin>>, ctx: &mut Ctx<Self>) -> Self {
        let mut twin = Twin {
            peer: *peer,
            called: false,
            timer_after_call: None,
        };
        if let Some(peer) = peer {
            twin.called = true;
            let me = ctx.me();
            let _ = ctx.call(peer, Ping(Some(me)), Duration::from_millis(1));
        }
        twin
    }

    fn handle(&mut self, message: TwinMessage, ctx: &mut Ctx<Self>) -> Effect {
        match message {
            TwinMessage::Ping(Ping(Some(caller))) if !self.called => {
                self.called = true;
                let _unanswered = ctx.take_reply::<Ping>();
                let effect = ctx
                    .call(&caller, Ping(None), Duration::from_millis(1))
                    .unwrap();
                self.timer_after_call =
                    Some(ctx.after(Duration::from_micros(10), Tick).map(|_| ()));
                effect
            }
            TwinMessage::Ping(_) => match ctx.take_reply::<Ping>() {
                Some(reply) => ctx.reply(reply, 0),
                None => Effect::Receive,
            },
            TwinMessage::Result(_) | TwinMessage::Tick(Tick) => Effect::Receive,
        }
    }
}

#[test]
fn a_full_call_table_does_not_refuse_plain_timers() {
    // Two isolate slots: the call table has two entries; eight timer slots.
    let mut spec = BootSpec::new(1);
    spec.pin_threads(false).timer_slots(8);
    spec.isolate::<Twin>(2);
    let second = spec.root::<Twin>(ShardId(0), None);
    let _first = spec.root::<Twin>(ShardId(0), Some(second));
    let mut sim = Simulation::new(spec, 11).unwrap();
    assert!(sim.run(1_000_000).quiescent);
    let state = sim.state(second).unwrap();
    assert!(state.called && state.peer.is_none());
    assert_eq!(state.timer_after_call, Some(Ok(())));
    assert_eq!(sim.totals().calls, 2);
}

test_data!(
    Answer, Caller, Eager, GetValue, Go, Mismatch, Mode, Ping, Plan, Server, Tick, Twin, Work
);

/// Alternates a call answered at once with one never answered, from the same isolate: the
/// first is over within the tick it was made, so the second reuses its call entry in that
/// tick, and its timeout (only reserved at the call) must still be scheduled at the end of
/// the tick and fire on time.
struct Alternator {
    quick: Handle<Server>,
    silent: Handle<Server>,
    called_silent_at: Option<Instant>,
    replies: u32,
    timeouts: Vec<Duration>,
}

messages!(Alternator => AlternatorMessage { Result(CallResult<GetValue>) });
// Handles, counters and a recorder of `ALTERNATIONS` durations.
test_data!(Alternator);

const ALTERNATIONS: usize = 40;

impl Isolate for Alternator {
    type Message = AlternatorMessage;
    type Args = (Handle<Server>, Handle<Server>);
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Alternator";

    fn init(args: &Self::Args, ctx: &mut Ctx<Self>) -> Self {
        let alternator = Alternator {
            quick: args.0,
            silent: args.1,
            called_silent_at: None,
            replies: 0,
            timeouts: Vec::new(),
        };
        // From `init`, at boot: its timeout is scheduled before the first tick.
        let _ = ctx.call(&alternator.quick, GetValue, Duration::from_secs(1));
        alternator
    }

    fn handle(&mut self, message: AlternatorMessage, ctx: &mut Ctx<Self>) -> Effect {
        let AlternatorMessage::Result(result) = message;
        match result {
            CallResult::Reply(42) => {
                self.replies += 1;
                self.called_silent_at = Some(ctx.now());
                ctx.call(&self.silent, GetValue, Duration::from_millis(2))
                    .unwrap()
            }
            CallResult::Timeout => {
                let called = self
                    .called_silent_at
                    .take()
                    .expect("a silent call was made");
                self.timeouts.push(Duration::from_nanos(
                    ctx.now().as_nanos() - called.as_nanos(),
                ));
                if self.timeouts.len() == ALTERNATIONS {
                    return Effect::Receive;
                }
                ctx.call(&self.quick, GetValue, Duration::from_secs(1))
                    .unwrap()
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn a_call_entry_reused_within_a_tick_still_times_out_on_time() {
    let mut spec = BootSpec::new(1);
    spec.pin_threads(false).timer_slots(4);
    spec.isolate::<Server>(2).isolate::<Alternator>(1);
    let quick = spec.root::<Server>(ShardId(0), Mode::Immediate);
    let silent = spec.root::<Server>(ShardId(0), Mode::Ignore);
    let alternator = spec.root::<Alternator>(ShardId(0), (quick, silent));
    let mut sim = Simulation::new(spec, 17).unwrap();
    assert!(sim.run(1_000_000).quiescent);
    sim.check_pools().unwrap();
    let state = sim.state(alternator).unwrap();
    assert_eq!(state.replies as usize, ALTERNATIONS);
    assert_eq!(state.timeouts.len(), ALTERNATIONS);
    for waited in &state.timeouts {
        assert!(
            *waited >= Duration::from_millis(2) && *waited < Duration::from_millis(3),
            "a 2 ms timeout fired after {waited:?}"
        );
    }
    let stats = sim.stats();
    assert_eq!(stats.shards[0].timers_pending, 0, "no timer left behind");
    assert_eq!(sim.totals().calls_timed_out, ALTERNATIONS as u64);
}
