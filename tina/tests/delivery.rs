//! Nothing lost silently (issue 11): every message sent across shards with `Ok` is handled,
//! bounced back to its sender, or counted — on real threads and in simulation; deadlines
//! are checked at dispatch; the ingress queue and calls from outside.

use std::time::Duration;

use tina::prelude::*;
use tina::{ExternalCallError, Spawn, Undelivered};

/// How many messages the 1,000-message tests send.
const SENT: u32 = 1_000;
/// Bits of a 1,024-message bitmap.
const WORDS: usize = 16;

fn mark(bits: &mut [u64; WORDS], value: u32) -> bool {
    let (word, bit) = (value as usize / 64, value % 64);
    let fresh = bits[word] & (1 << bit) == 0;
    bits[word] |= 1 << bit;
    fresh
}

fn count(bits: &[u64; WORDS]) -> u32 {
    bits.iter().map(|word| word.count_ones()).sum()
}

/// Adds to the counter; `value` identifies the message.
#[derive(Bounded, Clone, Copy, Debug, PartialEq, Eq)]
struct Add {
    value: u32,
}

/// Asks for `(handled, duplicates)`.
#[derive(Bounded, Request)]
#[reply((u32, u32))]
struct Tally;

/// Ends the counter (`Done`).
#[derive(Bounded)]
struct Stop;

/// A counter that spends `spin` busy microseconds per message and remembers which
/// messages it handled.
#[isolate(mailbox = 64)]
struct Counter {
    seen: [u64; WORDS],
    duplicates: u32,
    spin_micros: u64,
}

#[isolate]
impl Counter {
    fn init(spin_micros: &u64, _ctx: &mut Ctx<Self>) -> Self {
        Counter {
            seen: [0; WORDS],
            duplicates: 0,
            spin_micros: *spin_micros,
        }
    }

    fn add(&mut self, add: Add, _ctx: &mut Ctx<Self>) -> Effect {
        if !mark(&mut self.seen, add.value) {
            self.duplicates += 1;
        }
        if self.spin_micros > 0 {
            let until = std::time::Instant::now() + Duration::from_micros(self.spin_micros);
            while std::time::Instant::now() < until {
                std::hint::spin_loop();
            }
        }
        Effect::Receive
    }

    fn tally(&mut self, _tally: Tally, reply: ReplyTo<Tally>, ctx: &mut Ctx<Self>) -> Effect {
        ctx.reply(reply, (count(&self.seen), self.duplicates))
    }

    fn stop(&mut self, _stop: Stop, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Done
    }
}

/// Starts the sender's burst.
#[derive(Bounded)]
struct Go;

/// What a sender saw: sends refused at once, messages bounced (with their reasons) and
/// bounces that were not a message it sent.
#[derive(Bounded, Clone, Copy, Debug, Default, PartialEq, Eq)]
struct SenderReport {
    accepted: u32,
    refused: u32,
    bounced: u32,
    bounced_mailbox_full: u32,
    bounced_stale: u32,
    duplicates: u32,
}

/// Asks a sender for its report.
#[derive(Bounded, Request)]
#[reply(SenderReport)]
struct Report;

/// Sends `SENT` numbered messages to one counter on `Go`, in one burst.
#[isolate(mailbox = 8)]
struct Sender {
    target: Handle<Counter>,
    report: SenderReport,
    bounced: [u64; WORDS],
}

#[isolate]
impl Sender {
    fn init(target: &Handle<Counter>, _ctx: &mut Ctx<Self>) -> Self {
        Sender {
            target: *target,
            report: SenderReport::default(),
            bounced: [0; WORDS],
        }
    }

    fn go(&mut self, _go: Go, ctx: &mut Ctx<Self>) -> Effect {
        for value in 0..SENT {
            match ctx.send(&self.target, Add { value }) {
                Ok(()) => self.report.accepted += 1,
                Err(_) => self.report.refused += 1,
            }
        }
        Effect::Receive
    }

    fn undelivered(&mut self, bounce: Undelivered<Add>, _ctx: &mut Ctx<Self>) -> Effect {
        assert_eq!(bounce.to, self.target.raw(), "a bounce names its target");
        self.report.bounced += 1;
        match bounce.reason {
            SendErrorKind::MailboxFull => self.report.bounced_mailbox_full += 1,
            SendErrorKind::Stale => self.report.bounced_stale += 1,
            other => panic!("unexpected bounce reason {other:?}"),
        }
        if !mark(&mut self.bounced, bounce.message.value) {
            self.report.duplicates += 1;
        }
        Effect::Receive
    }

    fn report(&mut self, _report: Report, reply: ReplyTo<Report>, ctx: &mut Ctx<Self>) -> Effect {
        ctx.reply(reply, self.report)
    }
}

fn counter_spec(spin_micros: u64) -> (BootSpec, Handle<Counter>, Handle<Sender>) {
    let mut spec = BootSpec::new(2);
    spec.pin_threads(false)
        .isolate::<Counter>(2)
        .isolate::<Sender>(1)
        .dispatch_budget(16);
    let counter = spec.root::<Counter>(ShardId(1), spin_micros);
    let sender = spec.root::<Sender>(ShardId(0), counter);
    (spec, counter, sender)
}

#[test]
fn a_remote_counter_in_simulation_every_message_is_handled_or_bounced_exactly_once() {
    for seed in 0..4 {
        let (spec, counter, sender) = counter_spec(0);
        let mut sim = Simulation::new(spec, seed).unwrap();
        sim.send(&sender, Go).unwrap();
        assert!(sim.run(1_000_000).quiescent);
        let report = sim.state(sender).unwrap().report;
        let counter_state = sim.state(counter).unwrap();
        let handled = count(&counter_state.seen);
        assert_eq!(report.refused, 0, "the ring (1024) holds the whole burst");
        assert_eq!(report.accepted, SENT);
        assert!(
            report.bounced > 0,
            "seed {seed}: mailbox 64 and budget 16 must refuse"
        );
        assert_eq!(handled + report.bounced, SENT, "seed {seed}: {report:?}");
        assert_eq!(report.bounced, report.bounced_mailbox_full);
        assert_eq!((report.duplicates, counter_state.duplicates), (0, 0));
        // Disjoint: no message both handled and bounced.
        let bounced = &sim.state(sender).unwrap().bounced;
        for (seen, bounced) in counter_state.seen.iter().zip(bounced) {
            assert_eq!(seen & bounced, 0);
        }
        let totals = sim.totals();
        assert_eq!(totals.bounced, u64::from(report.bounced));
        assert_eq!(totals.bounces_handled, u64::from(report.bounced));
        assert_eq!(totals.dropped_on_arrival, 0);
        sim.check_pools().unwrap();
    }
}

#[test]
fn a_remote_counter_on_threads_every_message_is_handled_or_bounced_exactly_once() {
    let (spec, counter, sender) = counter_spec(3);
    let system = System::start(spec).unwrap();
    system.send(&sender, Go).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let (handled, report) = loop {
        // The counter's mailbox may be full of the burst: a refusal is an answer, ask again.
        let (handled, duplicates) = match system.call(&counter, Tally, Duration::from_secs(5)) {
            Ok(tally) => tally,
            Err(ExternalCallError::Refused(SendErrorKind::MailboxFull)) => {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            Err(error) => panic!("no tally: {error}"),
        };
        assert_eq!(duplicates, 0);
        let report = system
            .call(&sender, Report, Duration::from_secs(5))
            .unwrap();
        if handled + report.bounced + report.refused == SENT {
            break (handled, report);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never settled: {handled} handled, {report:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(
        report.bounced > 0,
        "a 3 µs receiver with mailbox 64 refuses some: {report:?}"
    );
    assert_eq!(report.duplicates, 0);
    assert_eq!(handled + report.bounced, report.accepted);
    let summary = system.shutdown(Duration::from_secs(5));
    assert_eq!(summary.total.bounced, u64::from(report.bounced));
    assert_eq!(summary.total.bounces_handled, u64::from(report.bounced));
    assert_eq!(summary.total.dropped_on_arrival, 0);
}

#[test]
fn sends_to_a_stale_remote_handle_come_back_as_stale() {
    let (spec, counter, sender) = counter_spec(0);
    let mut sim = Simulation::new(spec, 7).unwrap();
    sim.send(&counter, Stop).unwrap();
    sim.run(1_000);
    assert!(sim.state(counter).is_none(), "the counter has exited");
    sim.send(&sender, Go).unwrap();
    assert!(sim.run(1_000_000).quiescent);
    let report = sim.state(sender).unwrap().report;
    assert_eq!(
        report.accepted, SENT,
        "the sender cannot see the target: Ok"
    );
    assert_eq!(report.bounced_stale, SENT, "every one comes back as stale");
    assert_eq!(count(&sim.state(sender).unwrap().bounced), SENT);
}

/// A worker spawned on another shard; reports nothing.
#[isolate(mailbox = 4)]
struct Worker {
    _id: u32,
}

#[isolate]
impl Worker {
    fn init(id: &u32, _ctx: &mut Ctx<Self>) -> Self {
        Worker { _id: *id }
    }

    fn stop(&mut self, _stop: Stop, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Done
    }
}

/// Spawns five workers on shard 1, which has room for two.
#[isolate(mailbox = 8)]
struct Spawner {
    accepted: u32,
    refused_ids: tina::heapless::Vec<u32, 8>,
}

#[isolate]
impl Spawner {
    fn init(ctx: &mut Ctx<Self>) -> Self {
        let mut accepted = 0;
        for id in 0..5 {
            if ctx.spawn_on::<Worker>(ShardId(1), id).is_ok() {
                accepted += 1;
            }
        }
        Spawner {
            accepted,
            refused_ids: tina::heapless::Vec::new(),
        }
    }

    fn spawn_failed(&mut self, bounce: Undelivered<Spawn<Worker>>, _ctx: &mut Ctx<Self>) -> Effect {
        assert_eq!(bounce.reason, SendErrorKind::NoFreeSlot);
        assert_eq!(bounce.to.shard(), ShardId(1));
        let _ = self.refused_ids.push(bounce.message.args);
        Effect::Receive
    }
}

#[test]
fn spawn_on_a_full_shard_hands_the_args_back_to_the_spawner() {
    let mut spec = BootSpec::new(2);
    spec.isolate::<Worker>(2).isolate::<Spawner>(1);
    let spawner = spec.root::<Spawner>(ShardId(0), ());
    let mut sim = Simulation::new(spec, 1).unwrap();
    assert!(sim.run(10_000).quiescent);
    let state = sim.state(spawner).unwrap();
    assert_eq!(state.accepted, 5, "the ring takes all five");
    assert_eq!(
        state.refused_ids,
        [2, 3, 4],
        "the three that found no slot, with their args"
    );
    assert_eq!(sim.counters(ShardId(1)).live_isolates, 2);
    assert_eq!(sim.counters(ShardId(1)).bounced, 3);
    assert_eq!(sim.counters(ShardId(0)).bounces_handled, 3);
}

// ---------------------------------------------------------------------------------------
// Deadlines at dispatch.

/// One millisecond of work.
#[derive(Bounded)]
struct Work;

/// A request answered at once.
#[derive(Bounded, Request)]
#[reply(u32)]
struct Ping;

#[isolate(mailbox = 128)]
struct Callee {
    pings: u32,
    works: u32,
}

#[isolate]
impl Callee {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Callee { pings: 0, works: 0 }
    }

    fn work(&mut self, _work: Work, _ctx: &mut Ctx<Self>) -> Effect {
        let until = std::time::Instant::now() + Duration::from_millis(1);
        while std::time::Instant::now() < until {
            std::hint::spin_loop();
        }
        self.works += 1;
        Effect::Receive
    }

    fn ping(&mut self, _ping: Ping, reply: ReplyTo<Ping>, ctx: &mut Ctx<Self>) -> Effect {
        self.pings += 1;
        ctx.reply(reply, self.pings)
    }

    fn tally(&mut self, _tally: Tally, reply: ReplyTo<Tally>, ctx: &mut Ctx<Self>) -> Effect {
        ctx.reply(reply, (self.pings, self.works))
    }
}

/// Queues 60 ms of work at the callee, then calls it with a 1 ms timeout.
#[isolate(mailbox = 8)]
struct Impatient {
    callee: Handle<Callee>,
    outcome: Option<CallResult<Ping>>,
}

#[isolate]
impl Impatient {
    fn init(callee: &Handle<Callee>, _ctx: &mut Ctx<Self>) -> Self {
        Impatient {
            callee: *callee,
            outcome: None,
        }
    }

    fn go(&mut self, _go: Go, ctx: &mut Ctx<Self>) -> Effect {
        for _ in 0..60 {
            ctx.send(&self.callee, Work).expect("room for the work");
        }
        match ctx.call(&self.callee, Ping, Duration::from_millis(1)) {
            Ok(effect) => effect,
            Err(refused) => panic!("call refused: {refused}"),
        }
    }

    fn answer(&mut self, outcome: CallResult<Ping>, _ctx: &mut Ctx<Self>) -> Effect {
        self.outcome = Some(outcome);
        Effect::Receive
    }

    fn outcome(
        &mut self,
        _report: Report2,
        reply: ReplyTo<Report2>,
        ctx: &mut Ctx<Self>,
    ) -> Effect {
        let code: u8 = match self.outcome {
            None => 0,
            Some(CallResult::Reply(_)) => 1,
            Some(CallResult::Timeout) => 2,
            Some(CallResult::Refused(_)) => 3,
        };
        ctx.reply(reply, code)
    }
}

/// Asks the impatient caller how its call ended: 0 pending, 1 reply, 2 timeout, 3 refused.
#[derive(Bounded, Request)]
#[reply(u8)]
struct Report2;

fn expired_request_is_never_handled(caller_shard: ShardId) {
    let mut spec = BootSpec::new(2);
    spec.pin_threads(false)
        .isolate::<Callee>(1)
        .isolate::<Impatient>(1);
    let callee = spec.root::<Callee>(ShardId(0), ());
    let impatient = spec.root::<Impatient>(caller_shard, callee);
    let system = System::start(spec).unwrap();
    system.send(&impatient, Go).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let code = system
            .call(&impatient, Report2, Duration::from_secs(5))
            .unwrap();
        if code != 0 {
            assert_eq!(code, 2, "the caller sees its timeout");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the call never ended");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The question may overtake the work on its way in: ask until the work is done.
    let (pings, works) = loop {
        let (pings, works) = system.call(&callee, Tally, Duration::from_secs(5)).unwrap();
        if works == 60 || std::time::Instant::now() > deadline {
            break (pings, works);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(works, 60);
    assert_eq!(
        pings, 0,
        "a request that expired behind 60 ms of work is never handled"
    );
    let summary = system.shutdown(Duration::from_secs(5));
    assert_eq!(summary.total.expired_requests_dropped, 1);
    assert_eq!(summary.total.calls_timed_out, 1);
    assert_eq!(summary.total.dropped_on_arrival, 0);
}

#[test]
fn a_request_that_expires_while_earlier_work_runs_is_dropped_at_dispatch() {
    expired_request_is_never_handled(ShardId(0));
}

#[test]
fn a_remote_request_that_expires_while_earlier_work_runs_is_dropped_at_dispatch() {
    expired_request_is_never_handled(ShardId(1));
}

// ---------------------------------------------------------------------------------------
// The way in and out.

/// Blocks its shard for `millis`.
#[derive(Bounded)]
struct Block {
    millis: u64,
}

/// Never answered: the callee keeps the reply address and drops it.
#[derive(Bounded, Request)]
#[reply(u32)]
struct Ignored;

#[isolate(mailbox = 64)]
struct Door {
    added: u32,
}

#[isolate]
impl Door {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Door { added: 0 }
    }

    fn add(&mut self, add: Add, _ctx: &mut Ctx<Self>) -> Effect {
        self.added += add.value;
        Effect::Receive
    }

    fn block(&mut self, block: Block, _ctx: &mut Ctx<Self>) -> Effect {
        std::thread::sleep(Duration::from_millis(block.millis));
        Effect::Receive
    }

    fn tally(&mut self, _tally: Tally, reply: ReplyTo<Tally>, ctx: &mut Ctx<Self>) -> Effect {
        ctx.reply(reply, (self.added, 0u32))
    }

    fn ignored(
        &mut self,
        _request: Ignored,
        _reply: ReplyTo<Ignored>,
        _ctx: &mut Ctx<Self>,
    ) -> Effect {
        // The reply address is dropped unanswered: the caller sees its timeout.
        Effect::Receive
    }
}

#[test]
fn a_plain_thread_sends_in_and_asks_out() {
    let mut spec = BootSpec::new(2);
    spec.pin_threads(false)
        .isolate::<Door>(1)
        .ingress_capacity(4);
    let door = spec.root::<Door>(ShardId(1), ());
    let system = System::start(spec).unwrap();
    // Sends from another thread than the test's, into a sleeping shard.
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for value in 1..=10 {
                loop {
                    match system.send(&door, Add { value }) {
                        Ok(()) => break,
                        Err(error) => {
                            assert_eq!(error.kind, SendErrorKind::IngressFull);
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    }
                }
            }
        });
    });
    // A timeout too long for any clock is just a long wait. The last sends may still fill
    // the ingress queue: a call is refused at once then, and asked again.
    let (added, _) = loop {
        match system.call(&door, Tally, Duration::MAX) {
            Err(ExternalCallError::NotSent(error)) if error.kind == SendErrorKind::IngressFull => {
                std::thread::sleep(Duration::from_millis(1));
            }
            answer => break answer.unwrap(),
        }
    };
    assert_eq!(added, 55);
    // Block the shard, fill its ingress queue (capacity 4) and see the rest refused.
    let refused_before = system.counters(ShardId(1)).ingress_refused;
    system.send(&door, Block { millis: 300 }).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let mut refused = 0;
    for value in 0..10 {
        if let Err(error) = system.send(
            &door,
            Add {
                value: 1000 + value,
            },
        ) {
            assert_eq!(error.kind, SendErrorKind::IngressFull);
            assert_eq!(
                error.message,
                Add {
                    value: 1000 + value
                },
                "handed back"
            );
            refused += 1;
        }
    }
    assert_eq!(refused, 6, "four fit the queue");
    assert_eq!(
        system.counters(ShardId(1)).ingress_refused,
        refused_before + 6,
        "counted by the refused thread"
    );
    // Once the block is over the queue drains; a call that is never answered times out.
    std::thread::sleep(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let outcome = system.call(&door, Ignored, Duration::from_millis(400));
    assert_eq!(outcome, Err(ExternalCallError::Timeout));
    assert!(started.elapsed() >= Duration::from_millis(400));
    let (added, _) = system.call(&door, Tally, Duration::from_secs(5)).unwrap();
    assert_eq!(added, 55 + 1000 * 4 + 6);
    let summary = system.shutdown(Duration::from_secs(5));
    assert_eq!(summary.total.ingress_refused, refused_before + 6);
    assert!(summary.total.ingress_accepted >= 10 + 1 + 4 + 3);
}

#[test]
fn a_call_from_outside_to_a_stale_handle_is_refused_at_once() {
    let mut spec = BootSpec::new(1);
    spec.pin_threads(false).isolate::<Counter>(1);
    let counter = spec.root::<Counter>(ShardId(0), 0);
    let system = System::start(spec).unwrap();
    system.send(&counter, Stop).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let started = std::time::Instant::now();
    let outcome = system.call(&counter, Tally, Duration::from_secs(10));
    assert_eq!(
        outcome,
        Err(ExternalCallError::Refused(SendErrorKind::Stale))
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "not after the timeout"
    );
    system.shutdown(Duration::from_secs(5));
}

#[test]
fn a_simulation_can_be_sent_to_and_asked_between_rounds() {
    let mut spec = BootSpec::new(2);
    spec.isolate::<Door>(1);
    let door = spec.root::<Door>(ShardId(1), ());
    let mut sim = Simulation::new(spec, 11).unwrap();
    for value in 1..=4 {
        sim.send(&door, Add { value }).unwrap();
    }
    assert_eq!(
        sim.call(&door, Tally, Duration::from_millis(10)),
        Ok((10, 0))
    );
    assert_eq!(
        sim.call(&door, Ignored, Duration::from_millis(10)),
        Err(ExternalCallError::Timeout)
    );
    assert!(sim.now() >= tina::Instant::from_nanos(10_000_000));
}

/// Floods a slow remote sink, then only yields (so it never takes its bounces), and after
/// a while sets a timer: the bounces waiting for it must not have eaten the control reserve.
#[isolate(mailbox = 4)]
struct Yielder {
    sink: Handle<Counter>,
    resumes: u32,
    timer: Option<Result<(), tina::TimerError>>,
}

#[isolate]
impl Yielder {
    fn init(sink: &Handle<Counter>, _ctx: &mut Ctx<Self>) -> Self {
        Yielder {
            sink: *sink,
            resumes: 0,
            timer: None,
        }
    }

    fn go(&mut self, _go: Go, ctx: &mut Ctx<Self>) -> Effect {
        for value in 0..200 {
            let _ = ctx.send(&self.sink, Add { value });
        }
        Effect::Yield
    }

    fn resume(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        self.resumes += 1;
        if self.resumes == 50 {
            self.timer = Some(ctx.after(Duration::from_micros(1), Stop).map(|_| ()));
            return Effect::Receive;
        }
        Effect::Yield
    }

    fn stop(&mut self, _stop: Stop, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }

    fn undelivered(&mut self, _bounce: Undelivered<Add>, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

#[test]
fn bounces_waiting_for_a_busy_sender_leave_the_control_reserve_alone() {
    let mut spec = BootSpec::new(2);
    spec.isolate::<Counter>(1)
        .isolate::<Yielder>(1)
        .pool_slots(16)
        .control_reserve(4)
        .timer_slots(4)
        .dispatch_budget(1);
    let sink = spec.root::<Counter>(ShardId(1), 0);
    let yielder = spec.root::<Yielder>(ShardId(0), sink);
    let mut sim = Simulation::new(spec, 5).unwrap();
    sim.send(&yielder, Go).unwrap();
    assert!(sim.run(100_000).quiescent);
    let state = sim.state(yielder).unwrap();
    assert_eq!(state.resumes, 50);
    assert_eq!(
        state.timer,
        Some(Ok(())),
        "the timer found its reserved envelope"
    );
    let totals = sim.totals();
    assert!(
        totals.bounced > 16,
        "more bounces than ordinary slots: {totals:?}"
    );
    assert_eq!(
        totals.bounced,
        totals.bounces_handled + totals.undelivered_mailbox_full,
        "every bounce reached the sender in the end"
    );
    sim.check_pools().unwrap();
}

/// Floods a slow remote sink, then yields until ten of its messages have come back.
#[isolate(mailbox = 4)]
struct Persistent {
    sink: Handle<Counter>,
    back: u32,
}

#[isolate]
impl Persistent {
    fn init(sink: &Handle<Counter>, _ctx: &mut Ctx<Self>) -> Self {
        Persistent {
            sink: *sink,
            back: 0,
        }
    }

    fn go(&mut self, _go: Go, ctx: &mut Ctx<Self>) -> Effect {
        for value in 0..100 {
            let _ = ctx.send(&self.sink, Add { value });
        }
        Effect::Yield
    }

    fn resume(&mut self, _ctx: &mut Ctx<Self>) -> Effect {
        if self.back >= 10 {
            Effect::Receive
        } else {
            Effect::Yield
        }
    }

    fn undelivered(&mut self, _bounce: Undelivered<Add>, _ctx: &mut Ctx<Self>) -> Effect {
        self.back += 1;
        Effect::Receive
    }
}

#[test]
fn a_sender_that_keeps_yielding_still_takes_its_bounces() {
    let mut spec = BootSpec::new(2);
    spec.isolate::<Counter>(1)
        .isolate::<Persistent>(1)
        .dispatch_budget(1);
    let sink = spec.root::<Counter>(ShardId(1), 0);
    let sender = spec.root::<Persistent>(ShardId(0), sink);
    let mut sim = Simulation::new(spec, 2).unwrap();
    sim.send(&sender, Go).unwrap();
    // Before control envelopes ran ahead of `resume`, the bounces waited behind a resume
    // that yielded forever and the run never went quiet.
    assert!(sim.run(100_000).quiescent);
    assert!(sim.state(sender).unwrap().back >= 10);
}
