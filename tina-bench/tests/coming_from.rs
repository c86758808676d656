//! The program of the book's chapter "Coming from tokio, actix or Erlang/OTP", written with
//! each peer: `CLIENTS` clients send `INCREMENTS` increments each to a counter whose mailbox
//! holds 64, then one party asks the counter for its total, with a timeout, and checks it.
//!
//! The chapter includes the tokio and actix programs from here (the `ANCHOR` lines); the
//! Tina program is the chapter's own doctest, repeated here so the peers sit side by side.
//! The other tests check what the chapter says each peer does when the counter's mailbox is
//! full and when its handler panics.

use std::time::Duration;

const CLIENTS: u64 = 8;
const INCREMENTS: u64 = 1_000;

// ---------------------------------------------------------------------------------------
// tokio
// ---------------------------------------------------------------------------------------

// ANCHOR: tokio
mod with_tokio {
    use std::time::Duration;

    use tokio::sync::{mpsc, oneshot};

    use super::{CLIENTS, INCREMENTS};

    /// What the counter task receives: an increment, or a question with its reply channel.
    enum Command {
        Increment,
        Total(oneshot::Sender<u64>),
    }

    /// The counter: a task that owns the total and reads its channel until every sender
    /// is gone.
    async fn counter(mut inbox: mpsc::Receiver<Command>) {
        let mut total = 0;
        while let Some(command) = inbox.recv().await {
            match command {
                Command::Increment => total += 1,
                Command::Total(reply) => {
                    let _ = reply.send(total); // the asker may have given up
                }
            }
        }
    }

    fn run() -> u64 {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let (to_counter, inbox) = mpsc::channel(64); // the bounded mailbox
            tokio::spawn(counter(inbox));

            let mut clients = Vec::new();
            for _ in 0..CLIENTS {
                let to_counter = to_counter.clone();
                clients.push(tokio::spawn(async move {
                    for _ in 0..INCREMENTS {
                        // Waits while the channel is full; fails only if the counter is gone.
                        to_counter
                            .send(Command::Increment)
                            .await
                            .expect("the counter is running");
                    }
                }));
            }
            for client in clients {
                client.await.expect("a client panicked");
            }

            let (reply, answer) = oneshot::channel();
            to_counter
                .send(Command::Total(reply))
                .await
                .expect("the counter is running");
            tokio::time::timeout(Duration::from_secs(1), answer)
                .await
                .expect("the counter answered in time")
                .expect("the counter kept the reply channel")
        })
    }

    #[test]
    fn counts_every_increment() {
        assert_eq!(run(), CLIENTS * INCREMENTS);
    }
}
// ANCHOR_END: tokio

// ---------------------------------------------------------------------------------------
// actix
// ---------------------------------------------------------------------------------------

// ANCHOR: actix
mod with_actix {
    use std::time::Duration;

    use actix::{Actor, Context, Handler, Message};

    use super::{CLIENTS, INCREMENTS};

    struct Counter {
        total: u64,
    }

    impl Actor for Counter {
        type Context = Context<Self>;
    }

    struct Increment;

    impl Message for Increment {
        type Result = ();
    }

    struct GetTotal;

    impl Message for GetTotal {
        type Result = u64;
    }

    impl Handler<Increment> for Counter {
        type Result = ();

        fn handle(&mut self, _: Increment, _: &mut Context<Self>) {
            self.total += 1;
        }
    }

    impl Handler<GetTotal> for Counter {
        type Result = u64;

        fn handle(&mut self, _: GetTotal, _: &mut Context<Self>) -> u64 {
            self.total
        }
    }

    fn run() -> u64 {
        let system = actix::System::new();
        system.block_on(async {
            let counter = Counter::create(|ctx| {
                ctx.set_mailbox_capacity(64); // the default is 16
                Counter { total: 0 }
            });

            let mut clients = Vec::new();
            for _ in 0..CLIENTS {
                let counter = counter.clone();
                clients.push(actix::spawn(async move {
                    for _ in 0..INCREMENTS {
                        // Resolves when the handler has run: one increment in flight.
                        counter
                            .send(Increment)
                            .await
                            .expect("the counter is running");
                    }
                }));
            }
            for client in clients {
                client.await.expect("a client panicked");
            }

            counter
                .send(GetTotal)
                .timeout(Duration::from_secs(1))
                .await
                .expect("the counter answered in time")
        })
    }

    #[test]
    fn counts_every_increment() {
        assert_eq!(run(), CLIENTS * INCREMENTS);
    }
}
// ANCHOR_END: actix

// ---------------------------------------------------------------------------------------
// Tina (the chapter's doctest, on a `Simulation` here too; then on a `System`)
// ---------------------------------------------------------------------------------------

mod with_tina {
    use tina::CallError;
    use tina::prelude::*;

    use super::{CLIENTS, INCREMENTS};

    #[derive(Bounded)]
    struct Increment;

    /// Asks for the total; answered with a `u64`.
    #[derive(Bounded, Request)]
    #[reply(u64)]
    struct GetTotal;

    #[isolate(mailbox = 64)]
    struct Counter {
        total: u64,
    }

    #[isolate]
    impl Counter {
        fn init(_ctx: &mut Ctx<Self>) -> Self {
            Counter { total: 0 }
        }

        fn increment(&mut self, _increment: Increment, _ctx: &mut Ctx<Self>) -> Effect {
            self.total += 1;
            Effect::Receive
        }

        fn get_total(
            &mut self,
            _request: GetTotal,
            reply: ReplyTo<GetTotal>,
            ctx: &mut Ctx<Self>,
        ) -> Effect {
            ctx.reply(reply, self.total)
        }
    }

    /// A client's increments have all been accepted.
    #[derive(Bounded)]
    struct Finished;

    /// Counts the clients that finished, then asks the counter for its total.
    #[isolate(mailbox = 16)]
    struct Auditor {
        counter: Handle<Counter>,
        finished: u64,
        total: Option<u64>,
    }

    #[isolate]
    impl Auditor {
        fn init(counter: &Handle<Counter>, _ctx: &mut Ctx<Self>) -> Self {
            Auditor {
                counter: *counter,
                finished: 0,
                total: None,
            }
        }

        fn finished(&mut self, _finished: Finished, ctx: &mut Ctx<Self>) -> Effect {
            self.finished += 1;
            if self.finished < CLIENTS {
                return Effect::Receive;
            }
            self.ask(ctx)
        }

        fn resume(&mut self, ctx: &mut Ctx<Self>) -> Effect {
            self.ask(ctx)
        }

        fn answered(&mut self, outcome: CallResult<GetTotal>, _ctx: &mut Ctx<Self>) -> Effect {
            match outcome {
                CallResult::Reply(total) => self.total = Some(total),
                CallResult::Timeout | CallResult::Refused(_) => {
                    return Effect::Crash("the counter did not answer");
                }
            }
            Effect::Receive
        }

        #[isolate(helper)]
        fn ask(&mut self, ctx: &mut Ctx<Self>) -> Effect {
            match ctx.call(&self.counter, GetTotal, Duration::from_millis(100)) {
                Ok(wait_for_the_answer) => wait_for_the_answer,
                Err(refused) => match refused.error {
                    // The counter's mailbox is full: ask again on the next tick.
                    CallError::Send(SendErrorKind::MailboxFull) => Effect::Yield,
                    _ => Effect::Crash("cannot ask the counter"),
                },
            }
        }
    }

    #[derive(Bounded)]
    struct Start;

    #[isolate(mailbox = 1)]
    struct Client {
        counter: Handle<Counter>,
        auditor: Handle<Auditor>,
        left: u64,
    }

    #[isolate]
    impl Client {
        fn init(
            (counter, auditor): &(Handle<Counter>, Handle<Auditor>),
            ctx: &mut Ctx<Self>,
        ) -> Self {
            let me = ctx.me();
            ctx.send(&me, Start).expect("an empty mailbox");
            Client {
                counter: *counter,
                auditor: *auditor,
                left: INCREMENTS,
            }
        }

        fn start(&mut self, _start: Start, ctx: &mut Ctx<Self>) -> Effect {
            self.push(ctx)
        }

        fn resume(&mut self, ctx: &mut Ctx<Self>) -> Effect {
            self.push(ctx)
        }

        /// Sends until the counter's mailbox is full, then yields and carries on next tick.
        #[isolate(helper)]
        fn push(&mut self, ctx: &mut Ctx<Self>) -> Effect {
            while self.left > 0 {
                match ctx.send(&self.counter, Increment) {
                    Ok(()) => self.left -= 1,
                    Err(refused) if refused.kind() == SendErrorKind::MailboxFull => {
                        return Effect::Yield;
                    }
                    Err(_) => return Effect::Crash("the counter is gone"),
                }
            }
            match ctx.send(&self.auditor, Finished) {
                Ok(()) => Effect::Done,
                Err(_) => Effect::Crash("cannot tell the auditor"),
            }
        }
    }

    /// The boot spec: one shard holding the counter, the auditor and the clients.
    fn spec() -> (BootSpec, Handle<Counter>, Handle<Auditor>) {
        let mut spec = BootSpec::new(1);
        spec.isolate::<Counter>(1)
            .isolate::<Auditor>(1)
            .isolate::<Client>(CLIENTS as usize);
        let counter = spec.root::<Counter>(ShardId(0), ());
        let auditor = spec.root::<Auditor>(ShardId(0), counter);
        for _ in 0..CLIENTS {
            spec.root::<Client>(ShardId(0), (counter, auditor));
        }
        (spec, counter, auditor)
    }

    #[test]
    fn counts_every_increment_in_a_simulation() {
        let (spec, _counter, auditor) = spec();
        let mut sim = Simulation::new(spec, 1).unwrap();
        assert!(sim.run(1_000_000).quiescent);
        assert_eq!(
            sim.state(auditor).unwrap().total,
            Some(CLIENTS * INCREMENTS)
        );
        assert!(
            sim.totals().refused_mailbox_full > 0,
            "the bound of 64 was reached"
        );
    }

    #[test]
    fn counts_every_increment_on_threads() {
        let (spec, counter, _auditor) = spec();
        let system = System::start(spec).expect("a valid spec");
        // The clients return `Effect::Done` once every increment is accepted.
        assert!(system.wait_until(Duration::from_secs(10), |totals| totals.exited == CLIENTS));
        // Ask from outside too; a full mailbox refuses the question at once, so ask again.
        let total = loop {
            match system.call(&counter, GetTotal, Duration::from_secs(1)) {
                Ok(total) => break total,
                Err(tina::ExternalCallError::Refused(SendErrorKind::MailboxFull)) => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(error) => panic!("the counter did not answer: {error}"),
            }
        };
        assert_eq!(total, CLIENTS * INCREMENTS);
        let summary = system.shutdown(Duration::from_secs(1));
        assert_eq!(summary.total.crashed, 0);
    }
}

// ---------------------------------------------------------------------------------------
// A full mailbox
// ---------------------------------------------------------------------------------------

/// tokio: `try_send` refuses at once when the channel holds its bound; `send` would wait.
#[test]
fn tokio_full_channel() {
    use tokio::sync::mpsc::{self, error::TrySendError};

    let (sender, mut receiver) = mpsc::channel::<u64>(64);
    for value in 0..64 {
        sender.try_send(value).expect("room in the channel");
    }
    assert!(matches!(sender.try_send(64), Err(TrySendError::Full(64))));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        // `send` on a full channel does not fail: it waits for room.
        let waited = tokio::time::timeout(Duration::from_millis(20), sender.send(64)).await;
        assert!(waited.is_err(), "send waited for room until the timeout");
        assert_eq!(receiver.recv().await, Some(0));
        sender.send(64).await.expect("room again");
    });
}

/// actix: `do_send` queues past the mailbox capacity; `try_send` refuses, but only once
/// the address it is called on has itself gone over the capacity (each address gets one
/// message more).
#[test]
fn actix_full_mailbox() {
    use actix::prelude::SendError;
    use actix::{Actor, Context, Handler, Message};

    struct Sink {
        received: u64,
    }

    impl Actor for Sink {
        type Context = Context<Self>;
    }

    struct Item;

    impl Message for Item {
        type Result = ();
    }

    struct Received;

    impl Message for Received {
        type Result = u64;
    }

    impl Handler<Item> for Sink {
        type Result = ();

        fn handle(&mut self, _: Item, _: &mut Context<Self>) {
            self.received += 1;
        }
    }

    impl Handler<Received> for Sink {
        type Result = u64;

        fn handle(&mut self, _: Received, _: &mut Context<Self>) -> u64 {
            self.received
        }
    }

    let system = actix::System::new();
    system.block_on(async {
        let sink = Sink::create(|ctx| {
            ctx.set_mailbox_capacity(64);
            Sink { received: 0 }
        });
        // The sink cannot run until this task awaits: nothing leaves the mailbox meanwhile.
        for _ in 0..1_000 {
            sink.do_send(Item);
        }
        // The first `try_send` on this address still goes in (and marks the address as
        // over capacity); the next one is refused.
        assert!(sink.try_send(Item).is_ok());
        assert!(matches!(sink.try_send(Item), Err(SendError::Full(_))));
        // A fresh clone of the address gets its one message in again.
        assert!(sink.clone().try_send(Item).is_ok());
        let received = sink.send(Received).await.expect("the sink is running");
        assert_eq!(received, 1_002, "1,002 messages queued on a mailbox of 64");
    });
}

// ---------------------------------------------------------------------------------------
// A panicking handler
// ---------------------------------------------------------------------------------------

/// tokio: the panic ends the task (its `JoinHandle` reports it), the channel closes, and
/// the senders' `send` fails; the runtime and the other tasks go on.
#[test]
fn tokio_panicking_task() {
    use tokio::sync::mpsc;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let (sender, mut receiver) = mpsc::channel::<u64>(64);
        let counter = tokio::spawn(async move {
            while let Some(value) = receiver.recv().await {
                assert!(value != 13, "unlucky increment");
            }
        });
        sender.send(13).await.expect("the counter is running");
        let joined = counter.await;
        assert!(joined.is_err_and(|error| error.is_panic()));
        assert!(
            sender.send(1).await.is_err(),
            "the channel closed with the task"
        );
    });
}

/// actix: the panic ends the actor's task; its address is closed, and a waiting `send`
/// gets `MailboxError::Closed`.
#[test]
fn actix_panicking_handler() {
    use actix::{Actor, Context, Handler, Message};

    struct Fragile;

    impl Actor for Fragile {
        type Context = Context<Self>;
    }

    struct Poison;

    impl Message for Poison {
        type Result = ();
    }

    impl Handler<Poison> for Fragile {
        type Result = ();

        fn handle(&mut self, _: Poison, _: &mut Context<Self>) {
            panic!("poisoned");
        }
    }

    let system = actix::System::new();
    system.block_on(async {
        let fragile = Fragile.start();
        let outcome = fragile.send(Poison).await;
        assert!(matches!(outcome, Err(actix::MailboxError::Closed)));
        assert!(!fragile.connected(), "the actor is gone");
        let again = fragile.send(Poison).await;
        assert!(matches!(again, Err(actix::MailboxError::Closed)));
    });
}

/// actix: a `Supervisor` restarts an actor that stops, but a panic ends the supervisor's
/// task with the actor: nothing restarts it.
#[test]
fn actix_supervisor_does_not_catch_panics() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use actix::{Actor, Context, Handler, Message, Supervised, Supervisor};

    struct Fragile {
        restarts: Arc<AtomicU32>,
    }

    impl Actor for Fragile {
        type Context = Context<Self>;
    }

    impl Supervised for Fragile {
        fn restarting(&mut self, _: &mut Context<Self>) {
            self.restarts.fetch_add(1, Ordering::Relaxed);
        }
    }

    struct Stop;

    impl Message for Stop {
        type Result = ();
    }

    impl Handler<Stop> for Fragile {
        type Result = ();

        fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
            use actix::ActorContext;
            ctx.stop();
        }
    }

    struct Poison;

    impl Message for Poison {
        type Result = ();
    }

    impl Handler<Poison> for Fragile {
        type Result = ();

        fn handle(&mut self, _: Poison, _: &mut Context<Self>) {
            panic!("poisoned");
        }
    }

    let restarts = Arc::new(AtomicU32::new(0));
    let counted = restarts.clone();
    let system = actix::System::new();
    system.block_on(async move {
        let fragile = Supervisor::start(move |_| Fragile { restarts: counted });
        fragile.send(Stop).await.expect("the actor is running");
        // Give the supervisor a turn to restart it.
        actix::clock::sleep(Duration::from_millis(10)).await;
        assert_eq!(restarts.load(Ordering::Relaxed), 1, "a stop is restarted");
        assert!(fragile.connected());

        let outcome = fragile.send(Poison).await;
        assert!(matches!(outcome, Err(actix::MailboxError::Closed)));
        actix::clock::sleep(Duration::from_millis(10)).await;
        assert_eq!(restarts.load(Ordering::Relaxed), 1, "a panic is not");
        assert!(!fragile.connected());
    });
}
