//! Same-shard request/response: round trips per second through Tina's `Ctx::call` /
//! `Ctx::reply` against a tokio task pair (bounded `mpsc` for requests, a `oneshot` per reply)
//! on a current-thread runtime, actix's `Addr::send` and ractor's `call`, interleaved in one
//! process.
//!
//! Two shapes, both on one thread:
//!
//! * **1 pair** — one client calling one server, one call at a time: each round trip pays
//!   the whole path (request, dispatch, reply, wake-up) with nothing to overlap it.
//! * **64 pairs** — 64 independent client/server pairs sharing the thread: what a loaded
//!   shard does, where the scheduler batches work.
//!
//! Every client checks each reply (`request + 1`) and counts them; the sample fails unless
//! every pair finished its round trips with no timeout.
//!
//! Run with `cargo bench -p tina-bench --bench local_call` (`TINA_BENCH_QUICK=1` for a short
//! run).

use std::time::{Duration, Instant};

use tina_bench::{Contender, Metric, Plan, Probe, Table, interleave, machine, messages};
use tina_runtime::{
    Answers, BootSpec, CallResult, Ctx, Effect, Handle, Isolate, Request, ShardId, System,
};

/// Request channel bound for the tokio server (as in the one-way benchmark).
const BOUND: usize = 256;

/// A call's timeout: generous, so a timeout means something is broken.
const TIMEOUT: Duration = Duration::from_secs(30);

static PROBE: Probe = Probe::new();

// ---------------------------------------------------------------------------------------
// Tina
// ---------------------------------------------------------------------------------------

/// Answers `Ask(n)` with `n + 1`.
struct Server;

/// A request: answer with the value plus one.
struct Ask(u64);

impl Request for Ask {
    type Reply = u64;
}

messages!(Server => ServerMessage { Ask(Ask) });

/// `Server` answers `Ask`: its `handle` takes the reply address of each one.
impl Answers<Ask> for Server {}

impl Isolate for Server {
    type Message = ServerMessage;
    type Args = ();
    const MAILBOX: usize = 16;
    const NAME: &'static str = "Server";

    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        Server
    }

    #[inline]
    fn handle(&mut self, message: ServerMessage, ctx: &mut Ctx<Self>) -> Effect {
        let ServerMessage::Ask(Ask(value)) = message;
        match ctx.take_reply::<Ask>() {
            Some(reply) => ctx.reply(reply, value + 1),
            None => Effect::Receive,
        }
    }
}

/// Calls its server `total` times, one call at a time, checking every reply.
struct Client {
    server: Handle<Server>,
    done: u64,
    total: u64,
    pairs: u64,
}

/// Starts the client.
struct Go;

messages!(Client => ClientMessage { Go(Go), Answer(CallResult<Ask>) });

impl Client {
    #[inline]
    fn call(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        match ctx.call(&self.server, Ask(self.done), TIMEOUT) {
            Ok(effect) => effect,
            Err(refused) => {
                PROBE.fail(format!("tina: call refused: {refused}"));
                Effect::Done
            }
        }
    }
}

impl Isolate for Client {
    type Message = ClientMessage;
    type Args = (Handle<Server>, u64, u64);
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Client";

    fn init(args: &(Handle<Server>, u64, u64), ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        if ctx.send(&me, Go).is_err() {
            PROBE.fail("tina: client could not start itself");
        }
        Client {
            server: args.0,
            done: 0,
            total: args.1,
            pairs: args.2,
        }
    }

    #[inline]
    fn handle(&mut self, message: ClientMessage, ctx: &mut Ctx<Self>) -> Effect {
        match message {
            ClientMessage::Go(Go) => {
                // The first client to start stamps the start of the sample.
                PROBE.start_once();
                self.call(ctx)
            }
            ClientMessage::Answer(CallResult::Reply(value)) => {
                if value != self.done + 1 {
                    PROBE.fail(format!("tina: reply {value} to request {}", self.done));
                    return Effect::Done;
                }
                self.done += 1;
                if self.done == self.total {
                    // The last client to finish stamps the end.
                    if PROBE.add(1) == self.pairs {
                        PROBE.finish(self.pairs * self.total);
                    }
                    return Effect::Done;
                }
                self.call(ctx)
            }
            ClientMessage::Answer(CallResult::Timeout) => {
                PROBE.fail(format!("tina: call {} timed out", self.done));
                Effect::Done
            }
            ClientMessage::Answer(CallResult::Refused(reason)) => {
                PROBE.fail(format!("tina: call {} refused: {reason}", self.done));
                Effect::Done
            }
        }
    }
}

/// One sample: a fresh one-shard system with `pairs` client/server pairs, each making
/// `per_pair` calls; returns round trips per second.
fn tina(pairs: usize, per_pair: u64) -> f64 {
    PROBE.reset();
    let mut spec = BootSpec::new(1);
    spec.pin_threads(pinned());
    spec.isolate::<Client>(pairs)
        .isolate::<Server>(pairs)
        .timer_slots(pairs.max(16));
    for _ in 0..pairs {
        let server = spec.root::<Server>(ShardId(0), ());
        spec.root::<Client>(ShardId(0), (server, per_pair, pairs as u64));
    }
    let system = System::start(spec).expect("boot");
    let finished = system.wait_until(Duration::from_secs(120), |totals| {
        totals.exited == pairs as u64
    });
    let summary = system.shutdown(Duration::from_secs(5));
    PROBE.check();
    assert!(finished, "tina: run did not finish: {:?}", summary.total);
    let total = pairs as u64 * per_pair;
    assert_eq!(PROBE.count(), total, "tina: wrong number of round trips");
    assert_eq!(summary.total.calls, total, "tina: calls counter disagrees");
    assert_eq!(summary.total.calls_timed_out, 0, "tina: calls timed out");
    total as f64 / PROBE.elapsed_seconds()
}

// ---------------------------------------------------------------------------------------
// tokio
// ---------------------------------------------------------------------------------------

type TokioRequest = (u64, tokio::sync::oneshot::Sender<u64>);

fn tokio_pairs(runtime: &tokio::runtime::Runtime, pairs: usize, per_pair: u64) -> f64 {
    runtime.block_on(async {
        let start = Instant::now();
        let mut clients = Vec::with_capacity(pairs);
        for _ in 0..pairs {
            let (requests, mut inbox) = tokio::sync::mpsc::channel::<TokioRequest>(BOUND);
            tokio::spawn(async move {
                while let Some((value, reply)) = inbox.recv().await {
                    let _ = reply.send(value + 1);
                }
            });
            clients.push(tokio::spawn(async move {
                for request in 0..per_pair {
                    let (reply, answer) = tokio::sync::oneshot::channel();
                    requests
                        .send((request, reply))
                        .await
                        .expect("tokio: server alive");
                    let value = answer.await.expect("tokio: server replied");
                    assert_eq!(value, request + 1, "tokio: wrong reply");
                }
                per_pair
            }));
        }
        let mut total = 0;
        for client in clients {
            total += client.await.expect("tokio: client finished");
        }
        let elapsed = start.elapsed();
        assert_eq!(total, pairs as u64 * per_pair, "tokio: wrong round trips");
        total as f64 / elapsed.as_secs_f64()
    })
}

// ---------------------------------------------------------------------------------------
// actix
// ---------------------------------------------------------------------------------------

struct ActixServer;

struct ActixAsk(u64);

impl actix::Message for ActixAsk {
    type Result = u64;
}

impl actix::Actor for ActixServer {
    type Context = actix::Context<Self>;
}

impl actix::Handler<ActixAsk> for ActixServer {
    type Result = u64;

    fn handle(&mut self, ActixAsk(value): ActixAsk, _: &mut actix::Context<Self>) -> u64 {
        value + 1
    }
}

fn actix(pairs: usize, per_pair: u64) -> f64 {
    use actix::Actor as _;
    let system = actix::System::new();
    let rate = system.block_on(async move {
        let start = Instant::now();
        let mut clients = Vec::with_capacity(pairs);
        for _ in 0..pairs {
            let server = ActixServer.start();
            clients.push(actix::spawn(async move {
                for request in 0..per_pair {
                    let value = server
                        .send(ActixAsk(request))
                        .await
                        .expect("actix: server replied");
                    assert_eq!(value, request + 1, "actix: wrong reply");
                }
                per_pair
            }));
        }
        let mut total = 0;
        for client in clients {
            total += client.await.expect("actix: client finished");
        }
        let elapsed = start.elapsed();
        assert_eq!(total, pairs as u64 * per_pair, "actix: wrong round trips");
        total as f64 / elapsed.as_secs_f64()
    });
    drop(system);
    rate
}

// ---------------------------------------------------------------------------------------
// ractor
// ---------------------------------------------------------------------------------------

struct RactorServer;

enum RactorAsk {
    Ask(u64, ractor::RpcReplyPort<u64>),
}

impl ractor::Actor for RactorServer {
    type Msg = RactorAsk;
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ractor::ActorRef<RactorAsk>,
        _args: (),
    ) -> Result<(), ractor::ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ractor::ActorRef<RactorAsk>,
        RactorAsk::Ask(value, reply): RactorAsk,
        _state: &mut (),
    ) -> Result<(), ractor::ActorProcessingErr> {
        let _ = reply.send(value + 1);
        Ok(())
    }
}

fn ractor(runtime: &tokio::runtime::Runtime, pairs: usize, per_pair: u64) -> f64 {
    runtime.block_on(async {
        let mut servers = Vec::with_capacity(pairs);
        for _ in 0..pairs {
            servers.push(
                ractor::Actor::spawn(None, RactorServer, ())
                    .await
                    .expect("ractor: spawn"),
            );
        }
        let start = Instant::now();
        let mut clients = Vec::with_capacity(pairs);
        for (server, _) in &servers {
            let server = server.clone();
            clients.push(tokio::spawn(async move {
                for request in 0..per_pair {
                    let reply = server
                        .call(|port| RactorAsk::Ask(request, port), None)
                        .await
                        .expect("ractor: server alive");
                    match reply {
                        ractor::rpc::CallResult::Success(value) => {
                            assert_eq!(value, request + 1, "ractor: wrong reply");
                        }
                        _ => panic!("ractor: call failed"),
                    }
                }
                per_pair
            }));
        }
        let mut total = 0;
        for client in clients {
            total += client.await.expect("ractor: client finished");
        }
        let elapsed = start.elapsed();
        for (server, join) in servers {
            server.stop(None);
            join.await.expect("ractor: server stopped");
        }
        assert_eq!(total, pairs as u64 * per_pair, "ractor: wrong round trips");
        total as f64 / elapsed.as_secs_f64()
    })
}

/// Whether Tina's shard is pinned (`TINA_BENCH_PIN`; see [`Plan::pin_single_thread`]).
fn pinned() -> bool {
    Plan::from_env().pin_single_thread()
}

fn main() {
    let plan = Plan::from_env();
    plan.pin_peer_thread();
    let total: u64 = plan.pick(1_000_000, 200_000, 2_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    eprintln!("local_call: {}", plan.describe());
    let mut table = Table::new();
    table.line(format!(
        "\n### Same-shard request/response ({total} round trips per sample; {}; {})",
        plan.describe(),
        machine::describe()
    ));
    // `TINA_BENCH_PAIRS=64` (or `1`) runs one shape only, for profiling.
    let shapes: Vec<usize> = match std::env::var("TINA_BENCH_PAIRS") {
        Ok(pairs) => vec![pairs.parse().expect("TINA_BENCH_PAIRS: a number")],
        Err(_) => vec![1, 64],
    };
    for pairs in shapes {
        let per_pair = total / pairs as u64;
        let mut contenders = [
            Contender::new("tina call/reply", || tina(pairs, per_pair) / 1e6),
            Contender::new("tokio mpsc + oneshot", || {
                tokio_pairs(&runtime, pairs, per_pair) / 1e6
            }),
            Contender::new("actix Addr::send", || actix(pairs, per_pair) / 1e6),
            Contender::new("ractor call", || ractor(&runtime, pairs, per_pair) / 1e6),
        ];
        let samples = interleave(&plan, &mut contenders);
        table.section(
            &format!("round trips per second, {pairs} client/server pair(s) on one thread"),
            &samples,
            Metric::throughput("M round trips/s"),
            "tina call/reply",
        );
        let latency = tina_bench::Samples {
            names: samples.names.clone(),
            values: samples
                .values
                .iter()
                .map(|values| values.iter().map(|rate| 1e3 / rate).collect())
                .collect(),
        };
        if pairs == 1 {
            table.section(
                "the same, as nanoseconds per round trip",
                &latency,
                Metric::cost("ns"),
                "tina call/reply",
            );
        }
    }
    table.finish();
}

tina_bench::plain_data!(Server, Ask, Client, Go);
