//! Every `SendError` cause, provoked on purpose, locally and across shards; stale handles
//! after `Done` and after a crash never reach the slot's next occupant.

mod support;

use core::time::Duration;

use tina_runtime::{BootSpec, Ctx, Effect, Handle, Isolate, SendErrorKind, ShardId, Simulation};

/// Counts what it receives; exits on `Quit`, panics on `Explode`.
struct Sink {
    received: u32,
    last: Option<u32>,
}

struct Data(u32);
struct Quit;
struct Explode;

messages!(Sink => SinkMessage { Data(Data), Quit(Quit), Explode(Explode) });

impl Isolate for Sink {
    type Message = SinkMessage;
    type Args = ();
    const MAILBOX: usize = 2;
    const NAME: &'static str = "Sink";

    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        Sink {
            received: 0,
            last: None,
        }
    }

    fn handle(&mut self, message: SinkMessage, _ctx: &mut Ctx<Self>) -> Effect {
        match message {
            SinkMessage::Data(Data(value)) => {
                self.received += 1;
                self.last = Some(value);
                Effect::Receive
            }
            SinkMessage::Quit(_) => Effect::Done,
            SinkMessage::Explode(_) => panic!("sink told to explode"),
        }
    }
}

/// What a driver step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Script {
    /// Three sends to one local sink with mailbox 2.
    LocalMailboxFull,
    /// Sends to fresh local sinks until the pool runs out.
    LocalPoolExhausted,
    /// Sends to a sink after it exited with `Done`, then to its successor.
    StaleAfterDone,
    /// Sends to a sink after it crashed, then to its successor.
    StaleAfterCrash,
    /// Fills the ring to shard 1.
    RemoteRingFull,
    /// Fills the ring to shard 1, whose sink may handle only one message per tick.
    RemoteRingFullBusySink,
    /// Sends to a remote sink: first fine, then shard partitioned.
    RemoteShardDown,
}

struct Driver {
    script: Script,
    step: u32,
    sinks: Vec<Handle<Sink>>,
    remote: Option<Handle<Sink>>,
    results: Vec<Result<(), SendErrorKind>>,
    successor: Option<Handle<Sink>>,
}

struct Step;

messages!(Driver => DriverMessage { Step(Step) });

impl Isolate for Driver {
    type Message = DriverMessage;
    type Args = (Script, Option<Handle<Sink>>);
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Driver";

    fn init(args: &Self::Args, ctx: &mut Ctx<Self>) -> Self {
        ctx.after(Duration::from_millis(1), Step).unwrap();
        Driver {
            script: args.0,
            step: 0,
            sinks: Vec::new(),
            remote: args.1,
            results: Vec::new(),
            successor: None,
        }
    }

    fn handle(&mut self, _message: DriverMessage, ctx: &mut Ctx<Self>) -> Effect {
        self.step += 1;
        match (self.script, self.step) {
            (Script::LocalMailboxFull, 1) => {
                let sink = ctx.spawn::<Sink>(()).unwrap();
                for value in 0..3 {
                    let result = record(ctx.send(&sink, Data(value)));
                    self.results.push(result);
                }
                self.sinks.push(sink);
            }
            (Script::LocalPoolExhausted, 1) => {
                // The pool has 8 ordinary slots; each sink takes at most 2 messages.
                for _ in 0..6 {
                    let sink = ctx.spawn::<Sink>(()).unwrap();
                    for value in 0..2 {
                        let result = record(ctx.send(&sink, Data(value)));
                        self.results.push(result);
                    }
                }
            }
            (Script::StaleAfterDone | Script::StaleAfterCrash, 1) => {
                let sink = ctx.spawn::<Sink>(()).unwrap();
                let result = if self.script == Script::StaleAfterDone {
                    record(ctx.send(&sink, Quit))
                } else {
                    record(ctx.send(&sink, Explode))
                };
                self.results.push(result);
                self.sinks.push(sink);
            }
            (Script::StaleAfterDone | Script::StaleAfterCrash, 2) => {
                let old = self.sinks[0];
                self.results.push(record(ctx.send(&old, Data(1))));
                // The successor takes the same slot with a new generation.
                let successor = ctx.spawn::<Sink>(()).unwrap();
                assert_eq!(successor.raw().slot(), old.raw().slot());
                assert_ne!(successor.raw().generation(), old.raw().generation());
                self.results.push(record(ctx.send(&old, Data(2))));
                self.results.push(record(ctx.send(&successor, Data(3))));
                self.successor = Some(successor);
            }
            (Script::RemoteRingFull | Script::RemoteRingFullBusySink, 1) => {
                let remote = self.remote.unwrap();
                // Ring capacity is 4: the fifth envelope of this tick does not fit.
                for value in 0..5 {
                    let result = record(ctx.send(&remote, Data(value)));
                    self.results.push(result);
                }
            }
            (Script::RemoteShardDown, 1) => {
                let remote = self.remote.unwrap();
                self.results.push(record(ctx.send(&remote, Data(0))));
            }
            (Script::RemoteShardDown, 3) => {
                let remote = self.remote.unwrap();
                self.results.push(record(ctx.send(&remote, Data(1))));
            }
            _ => {}
        }
        if self.step < 3 {
            ctx.after(Duration::from_millis(1), Step).unwrap();
        }
        Effect::Receive
    }
}

fn record<M>(result: Result<(), tina_runtime::SendError<M>>) -> Result<(), SendErrorKind> {
    result.map_err(|error| error.kind())
}

fn spec(script: Script) -> (BootSpec, Handle<Driver>, Handle<Sink>) {
    let mut spec = BootSpec::new(2);
    spec.pool_slots(8)
        .control_reserve(8)
        .ring_capacity(4)
        .timer_slots(8)
        .pin_threads(false);
    if script == Script::RemoteRingFullBusySink {
        spec.dispatch_budget(1);
    }
    spec.isolate::<Sink>(8).isolate::<Driver>(1);
    let remote = spec.root::<Sink>(ShardId(1), ());
    let driver = spec.root::<Driver>(ShardId(0), (script, Some(remote)));
    (spec, driver, remote)
}

fn run(script: Script) -> (Simulation, Handle<Driver>, Handle<Sink>) {
    let (spec, driver, remote) = spec(script);
    let mut sim = Simulation::new(spec, 1).unwrap();
    if script == Script::RemoteShardDown {
        // Step 1 at 1 ms, step 3 at 3 ms: partition shard 1 in between.
        sim.run_until(tina_runtime::Instant::from_nanos(2_000_000));
        sim.partition(ShardId(1));
    }
    let report = sim.run(100_000);
    assert!(report.quiescent);
    sim.check_pools().unwrap();
    (sim, driver, remote)
}

#[test]
fn local_mailbox_full() {
    let (sim, driver, _) = run(Script::LocalMailboxFull);
    let results = &sim.state(driver).unwrap().results;
    assert_eq!(results, &[Ok(()), Ok(()), Err(SendErrorKind::MailboxFull)]);
    assert_eq!(sim.counters(ShardId(0)).refused_mailbox_full, 1);
}

#[test]
fn local_pool_exhausted() {
    let (sim, driver, _) = run(Script::LocalPoolExhausted);
    let results = &sim.state(driver).unwrap().results;
    let ok = results.iter().filter(|result| result.is_ok()).count();
    assert_eq!(
        ok, 8,
        "exactly the 8 ordinary pool slots are used: {results:?}"
    );
    assert!(
        results[8..]
            .iter()
            .all(|result| *result == Err(SendErrorKind::PoolExhausted))
    );
    assert_eq!(sim.counters(ShardId(0)).refused_pool_exhausted, 4);
}

/// Runs a stale-handle script; checks the send results every such script must give (the
/// old handle refused twice, the successor reached) and returns the successor's state.
fn stale_script(script: Script) -> (Simulation, Handle<Sink>) {
    let (sim, driver, _) = run(script);
    let state = sim.state(driver).unwrap();
    assert_eq!(
        state.results,
        [
            Ok(()),
            Err(SendErrorKind::Stale),
            Err(SendErrorKind::Stale),
            Ok(())
        ]
    );
    let successor = state.successor.unwrap();
    (sim, successor)
}

#[test]
fn stale_after_done_never_reaches_the_successor() {
    let (sim, successor) = stale_script(Script::StaleAfterDone);
    let successor = sim.state(successor).unwrap();
    assert_eq!(
        successor.received, 1,
        "only the message sent to the new handle arrived"
    );
    assert_eq!(successor.last, Some(3));
    assert_eq!(sim.counters(ShardId(0)).exited, 1);
}

#[test]
fn stale_after_crash_never_reaches_the_successor() {
    let (sim, successor) = stale_script(Script::StaleAfterCrash);
    assert_eq!(sim.state(successor).unwrap().received, 1);
    assert_eq!(sim.counters(ShardId(0)).crashed, 1);
}

#[test]
fn remote_ring_full_and_an_idle_sink_takes_every_arrival() {
    let (sim, driver, remote) = run(Script::RemoteRingFull);
    let results = &sim.state(driver).unwrap().results;
    assert_eq!(results[..4], [Ok(()), Ok(()), Ok(()), Ok(())]);
    assert_eq!(results[4], Err(SendErrorKind::RingFull));
    // Four arrived in one tick at an idle sink: all four are handled straight from the ring,
    // so its mailbox bound (two) never comes into play.
    assert_eq!(sim.counters(ShardId(1)).dropped_on_arrival, 0);
    assert_eq!(sim.state(remote).unwrap().received, 4);
}

#[test]
fn remote_mailbox_full_on_arrival_at_a_busy_sink() {
    let (sim, driver, remote) = run(Script::RemoteRingFullBusySink);
    let results = &sim.state(driver).unwrap().results;
    assert_eq!(results[..4], [Ok(()), Ok(()), Ok(()), Ok(())]);
    assert_eq!(results[4], Err(SendErrorKind::RingFull));
    // The sink may run once per tick: the first arrival is handled from the ring, the next
    // two fill its mailbox (bound two), the fourth is refused on arrival and bounced back;
    // the driver declares no bounce handler, so its shard counts it by reason.
    assert_eq!(sim.counters(ShardId(1)).dropped_on_arrival, 0);
    assert_eq!(sim.counters(ShardId(1)).bounced, 1);
    assert_eq!(sim.counters(ShardId(0)).undelivered_mailbox_full, 1);
    assert_eq!(sim.state(remote).unwrap().received, 3);
}

#[test]
fn remote_shard_down() {
    let (sim, driver, remote) = run(Script::RemoteShardDown);
    let results = &sim.state(driver).unwrap().results;
    assert_eq!(results, &[Ok(()), Err(SendErrorKind::ShardDown)]);
    assert_eq!(sim.state(remote).unwrap().received, 1);
    assert_eq!(sim.counters(ShardId(0)).refused_shard_down, 1);
}

test_data!(Data, Driver, Explode, Quit, Sink, Step, Script);
