//! Same-shard one-way throughput: 10 million small messages from a sender to a receiver on
//! one thread, Tina against tokio, actix and ractor, interleaved in one process.
//!
//! | contender | sender | receiver | bound |
//! |---|---|---|---|
//! | tina | an isolate that sends until `MailboxFull`, then `Yield`s | an isolate on the same shard (a one-shard system) | mailbox of 256 |
//! | tokio | a task on a current-thread runtime, `send().await` | a task, `recv().await` | `mpsc::channel(256)` |
//! | actix | a future on the actor's arbiter, `try_send` until `Full`, then `yield_now` | an actor | mailbox capacity 256 |
//! | ractor | a task on a current-thread runtime, 256 `cast`s, then `yield_now` | an actor | none (ractor mailboxes are unbounded) |
//!
//! Each receiver checks that the messages arrive in order and that it got all of them; a
//! sample that loses, duplicates or reorders a message fails the run.
//!
//! Run with `cargo bench -p tina-bench --bench local_one_way` (`TINA_BENCH_QUICK=1` for a
//! short run).

use std::time::{Duration, Instant};

use tina_bench::stream::{self, Receiver, Sender};
use tina_bench::{Contender, Metric, Plan, Probe, Table, interleave, machine};
use tina_runtime::{BootSpec, ShardId, System};

/// The bound every contender's channel or mailbox has (where it has one).
const BOUND: usize = 256;

static PROBE: Probe = Probe::new();

// ---------------------------------------------------------------------------------------
// Tina
// ---------------------------------------------------------------------------------------

/// The receiver: mailbox bound 256, like every contender's channel or mailbox.
type Sink = Receiver<BOUND>;

/// The sender: sends until the mailbox is full, then yields.
type Source = Sender<BOUND>;

/// One sample: a fresh one-shard system, `total` messages; returns messages per second.
fn tina(total: u64) -> f64 {
    PROBE.reset();
    let mut spec = BootSpec::new(1);
    spec.pin_threads(pinned());
    spec.isolate::<Sink>(1).isolate::<Source>(1);
    stream::add_pair::<BOUND>(&mut spec, ShardId(0), ShardId(0), total, 1, &PROBE);
    let system = System::start(spec).expect("boot");
    let finished = system.wait_until(Duration::from_secs(120), |totals| totals.exited == 2);
    let summary = system.shutdown(Duration::from_secs(5));
    PROBE.check();
    if std::env::var_os("TINA_BENCH_COUNTERS").is_some() {
        eprintln!("\n{:?}", summary.total);
    }
    assert!(finished, "tina: run did not finish: {:?}", summary.total);
    assert_eq!(PROBE.count(), total, "tina: sink saw the wrong count");
    assert_eq!(
        summary.total.sent_local,
        total + 1,
        "tina: sent_local counter disagrees"
    );
    total as f64 / PROBE.elapsed_seconds()
}

// ---------------------------------------------------------------------------------------
// tokio
// ---------------------------------------------------------------------------------------

fn tokio_mpsc(runtime: &tokio::runtime::Runtime, total: u64) -> f64 {
    runtime.block_on(async {
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<u64>(BOUND);
        let start = Instant::now();
        let producer = tokio::spawn(async move {
            for sequence in 0..total {
                sender.send(sequence).await.expect("receiver alive");
            }
        });
        let mut expected = 0u64;
        while let Some(sequence) = receiver.recv().await {
            assert_eq!(sequence, expected, "tokio: message out of order");
            expected += 1;
        }
        let elapsed = start.elapsed();
        producer.await.expect("producer finished");
        assert_eq!(expected, total, "tokio: receiver saw the wrong count");
        total as f64 / elapsed.as_secs_f64()
    })
}

// ---------------------------------------------------------------------------------------
// actix
// ---------------------------------------------------------------------------------------

struct ActixSink {
    expected: u64,
    total: u64,
    done: Option<tokio::sync::oneshot::Sender<Instant>>,
}

struct ActixItem(u64);

impl actix::Message for ActixItem {
    type Result = ();
}

impl actix::Actor for ActixSink {
    type Context = actix::Context<Self>;
}

impl actix::Handler<ActixItem> for ActixSink {
    type Result = ();

    fn handle(&mut self, ActixItem(sequence): ActixItem, _: &mut actix::Context<Self>) {
        assert_eq!(sequence, self.expected, "actix: message out of order");
        self.expected += 1;
        if self.expected == self.total
            && let Some(done) = self.done.take()
        {
            let _ = done.send(Instant::now());
        }
    }
}

fn actix(total: u64) -> f64 {
    use actix::Actor as _;
    let system = actix::System::new();
    let rate = system.block_on(async move {
        let (done, finished) = tokio::sync::oneshot::channel();
        let sink = ActixSink::create(|context| {
            context.set_mailbox_capacity(BOUND);
            ActixSink {
                expected: 0,
                total,
                done: Some(done),
            }
        });
        let start = Instant::now();
        actix::spawn(async move {
            for sequence in 0..total {
                let mut item = ActixItem(sequence);
                loop {
                    match sink.try_send(item) {
                        Ok(()) => break,
                        Err(actix::prelude::SendError::Full(back)) => {
                            item = back;
                            tokio::task::yield_now().await;
                        }
                        Err(actix::prelude::SendError::Closed(_)) => panic!("actix: sink gone"),
                    }
                }
            }
        });
        let end = finished.await.expect("actix: sink finished");
        total as f64 / (end - start).as_secs_f64()
    });
    drop(system);
    rate
}

// ---------------------------------------------------------------------------------------
// ractor
// ---------------------------------------------------------------------------------------

struct RactorSink;

struct RactorSinkState {
    expected: u64,
    total: u64,
    done: Option<tokio::sync::oneshot::Sender<Instant>>,
}

impl ractor::Actor for RactorSink {
    type Msg = u64;
    type State = RactorSinkState;
    type Arguments = (u64, tokio::sync::oneshot::Sender<Instant>);

    async fn pre_start(
        &self,
        _myself: ractor::ActorRef<u64>,
        (total, done): Self::Arguments,
    ) -> Result<RactorSinkState, ractor::ActorProcessingErr> {
        Ok(RactorSinkState {
            expected: 0,
            total,
            done: Some(done),
        })
    }

    async fn handle(
        &self,
        _myself: ractor::ActorRef<u64>,
        sequence: u64,
        state: &mut RactorSinkState,
    ) -> Result<(), ractor::ActorProcessingErr> {
        assert_eq!(sequence, state.expected, "ractor: message out of order");
        state.expected += 1;
        if state.expected == state.total
            && let Some(done) = state.done.take()
        {
            let _ = done.send(Instant::now());
        }
        Ok(())
    }
}

fn ractor(runtime: &tokio::runtime::Runtime, total: u64) -> f64 {
    runtime.block_on(async {
        let (done, finished) = tokio::sync::oneshot::channel();
        let (sink, join) = ractor::Actor::spawn(None, RactorSink, (total, done))
            .await
            .expect("ractor: spawn");
        let start = Instant::now();
        let sender = sink.clone();
        tokio::spawn(async move {
            let mut sequence = 0;
            while sequence < total {
                // Unbounded mailbox: send a burst the size of the others' bound, then let
                // the sink run, so the queue stays as short as theirs.
                let burst_end = (sequence + BOUND as u64).min(total);
                while sequence < burst_end {
                    sender.cast(sequence).expect("ractor: sink alive");
                    sequence += 1;
                }
                tokio::task::yield_now().await;
            }
        });
        let end = finished.await.expect("ractor: sink finished");
        sink.stop(None);
        join.await.expect("ractor: sink stopped");
        total as f64 / (end - start).as_secs_f64()
    })
}

/// Whether Tina's shard is pinned (`TINA_BENCH_PIN`; see [`Plan::pin_single_thread`]).
fn pinned() -> bool {
    Plan::from_env().pin_single_thread()
}

fn main() {
    let plan = Plan::from_env();
    plan.pin_peer_thread();
    let total: u64 = plan.pick(10_000_000, 2_000_000, 20_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    eprintln!("local_one_way: {}", plan.describe());
    let mut contenders = [
        Contender::new("tina (1 shard)", || tina(total) / 1e6),
        Contender::new("tokio mpsc(256), current-thread", || {
            tokio_mpsc(&runtime, total) / 1e6
        }),
        Contender::new("actix (try_send, mailbox 256)", || actix(total) / 1e6),
        Contender::new("ractor (cast, unbounded)", || ractor(&runtime, total) / 1e6),
    ];
    let samples = interleave(&plan, &mut contenders);
    let mut table = Table::new();
    table.line(format!(
        "\n### Same-shard one-way throughput ({total} messages of 8 bytes per sample; {}; {})",
        plan.describe(),
        machine::describe()
    ));
    table.section(
        "one-way messages per second, sender and receiver on one thread",
        &samples,
        Metric::throughput("M msgs/s"),
        "tina (1 shard)",
    );
    table.finish();
}
