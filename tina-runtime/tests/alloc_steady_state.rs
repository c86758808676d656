//! A counting global allocator proves the steady state never allocates: after boot, a
//! million local and cross-shard messages, timers and calls cause zero allocator calls —
//! in simulation and on real threads. So does supervision churn: thousands of dynamic
//! children spawned, crashed, restarted and ended, and unsupervised isolates spawned and
//! ended (the tables that keep supervised children's membership and init args are sized at
//! boot and never grow). So do bounces (a flood into a mailbox of 4 on another shard, the
//! refusals handed back to the sender's `Undelivered` handler), sends into the system from
//! the test thread through the ingress queue, blocking calls from outside, and transfer
//! buffers taken, handed over to another shard, copied there and returned. So do the live
//! statistics: the shards' publications, and reading them into a snapshot already used.
//!
//! One `#[test]` only: tests in one binary run in parallel and would count each other.

mod support;

use std::alloc::{GlobalAlloc, Layout, System as SystemAllocator};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tina::prelude::*;
use tina::{ExternalCallError, Undelivered};

/// Counts allocator calls made by the runtime's threads (the test thread running the
/// simulation and the `tina-shard-*` threads) while `COUNTING` is set. The test harness's
/// own threads allocate at times of their choosing and are not counted.
struct CountingAllocator;

std::thread_local! {
    /// 0: not yet known, 1: counted, 2: not counted, 3: being classified.
    static CLASS: std::cell::Cell<u8> = const { std::cell::Cell::new(0) };
}

/// Whether allocations on this thread count.
fn counted_thread() -> bool {
    CLASS
        .try_with(|class| match class.get() {
            1 => true,
            2 | 3 => false,
            _ => {
                class.set(3);
                let counted = std::thread::current().name().is_some_and(|name| {
                    name.starts_with("tina-shard") || name.contains("steady_state_never_allocates")
                });
                class.set(if counted { 1 } else { 2 });
                counted
            }
        })
        .unwrap_or(false)
}

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// Every method forwards to the system allocator with the caller's arguments
// unchanged, so the caller's contract is the system allocator's; counting touches only an
// atomic.
// SAFETY: so this allocator keeps the contract because the system allocator does.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) && counted_thread() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged; see the impl's comment.
        unsafe { SystemAllocator.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) && counted_thread() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged; see the impl's comment.
        unsafe { SystemAllocator.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) && counted_thread() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged; see the impl's comment.
        unsafe { SystemAllocator.realloc(pointer, layout, size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Runs `work` with counting on; returns its result and the allocator calls it made.
fn counting<R>(work: impl FnOnce() -> R) -> (R, u64) {
    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let result = work();
    COUNTING.store(false, Ordering::SeqCst);
    (result, ALLOCATIONS.load(Ordering::SeqCst))
}

/// A token passed around a ring of relays, alternating local and cross-shard hops.
#[derive(Bounded)]
struct Token {
    hops: u32,
}

/// Tells a relay where to forward.
#[derive(Bounded)]
struct Next(Handle<Relay>);

/// Forwards tokens to the next relay until `HOPS` hops.
#[isolate(mailbox = 16)]
struct Relay {
    next: Option<Handle<Relay>>,
    forwarded: u64,
}

const HOPS: u32 = 150_000;

#[isolate]
impl Relay {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Relay {
            next: None,
            forwarded: 0,
        }
    }

    fn next(&mut self, next: Next, _ctx: &mut Ctx<Self>) -> Effect {
        self.next = Some(next.0);
        Effect::Receive
    }

    fn token(&mut self, token: Token, ctx: &mut Ctx<Self>) -> Effect {
        if token.hops < HOPS {
            self.forwarded += 1;
            let next = self.next.expect("wired before the first token");
            ctx.send(
                &next,
                Token {
                    hops: token.hops + 1,
                },
            )
            .unwrap();
        }
        Effect::Receive
    }
}

/// Wires the relays into a ring and starts eight tokens: an ordinary isolate as test driver.
#[isolate(mailbox = 1)]
struct Wirer;

#[isolate]
impl Wirer {
    fn init(relays: &[Handle<Relay>; 4], ctx: &mut Ctx<Self>) -> Self {
        for (index, relay) in relays.iter().enumerate() {
            ctx.send(relay, Next(relays[(index + 1) % 4])).unwrap();
        }
        for _ in 0..4 {
            ctx.send(&relays[0], Token { hops: 0 }).unwrap();
            ctx.send(&relays[2], Token { hops: 0 }).unwrap();
        }
        Wirer
    }
}

/// Answers `Echo` with its value.
#[derive(Bounded, Request)]
#[reply(u64)]
struct Echo(u64);

#[isolate(mailbox = 8)]
struct Server;

#[isolate]
impl Server {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Server
    }

    fn echo(&mut self, echo: Echo, reply: ReplyTo<Echo>, ctx: &mut Ctx<Self>) -> Effect {
        ctx.reply(reply, echo.0)
    }
}

/// Calls a server, then waits on a timer, `CALLS` times.
#[isolate(mailbox = 4)]
struct Caller {
    server: Handle<Server>,
    replies: u64,
}

/// Time for the next call.
#[derive(Bounded)]
struct Again;

const CALLS: u64 = 50_000;

#[isolate]
impl Caller {
    fn init(server: &Handle<Server>, ctx: &mut Ctx<Self>) -> Self {
        ctx.after(Duration::ZERO, Again).unwrap();
        Caller {
            server: *server,
            replies: 0,
        }
    }

    fn result(&mut self, result: CallResult<Echo>, ctx: &mut Ctx<Self>) -> Effect {
        let CallResult::Reply(value) = result else {
            panic!("no call should time out")
        };
        assert_eq!(value, self.replies);
        self.replies += 1;
        if self.replies < CALLS {
            // A timer that is cancelled and one that fires.
            let cancelled = ctx.after(Duration::from_secs(60), Again).unwrap();
            assert!(ctx.cancel(cancelled));
            ctx.after(Duration::ZERO, Again).unwrap();
        }
        Effect::Receive
    }

    fn again(&mut self, _again: Again, ctx: &mut Ctx<Self>) -> Effect {
        let server = self.server;
        ctx.call(&server, Echo(self.replies), Duration::from_secs(10))
            .unwrap()
    }
}

/// Drives supervision churn: each round spawns a supervised worker (it crashes once, is
/// restarted with its kept args, then quits) and an unsupervised one (it quits at once).
#[isolate(mailbox = 8)]
struct Foreman {
    rounds: u32,
    /// The current supervised worker has started this many times.
    starts: u8,
}

/// A worker (re)started: whether it is the supervised one, and its handle.
#[derive(Bounded)]
struct Started(bool, Handle<Worker>);

/// Crash on purpose.
#[derive(Bounded)]
struct Fail;

/// End normally.
#[derive(Bounded)]
struct Quit;

/// Starts the first churn round, 10 ms after boot.
#[derive(Bounded)]
struct Begin;

const CHURN_ROUNDS: u32 = 2_000;

#[isolate]
impl Foreman {
    fn init(ctx: &mut Ctx<Self>) -> Self {
        ctx.after(Duration::from_millis(10), Begin).unwrap();
        Foreman {
            rounds: 0,
            starts: 0,
        }
    }

    fn begin(&mut self, _begin: Begin, ctx: &mut Ctx<Self>) -> Effect {
        self.next_round(ctx);
        Effect::Receive
    }

    fn started(&mut self, started: Started, ctx: &mut Ctx<Self>) -> Effect {
        let Started(supervised, worker) = started;
        if !supervised {
            ctx.send(&worker, Quit).unwrap();
            return Effect::Receive;
        }
        self.starts += 1;
        if self.starts == 1 {
            ctx.send(&worker, Fail).unwrap();
            return Effect::Receive;
        }
        // Restarted: end it and begin the next round (room for two dynamic children, so the
        // next can start while this one winds down).
        ctx.send(&worker, Quit).unwrap();
        self.next_round(ctx);
        Effect::Receive
    }
}

impl Foreman {
    fn next_round(&mut self, ctx: &mut Ctx<Self>) {
        if self.rounds == CHURN_ROUNDS {
            return;
        }
        self.rounds += 1;
        self.starts = 0;
        let me = ctx.me();
        ctx.spawn_child::<Worker>((me, true), Restart::Transient)
            .unwrap();
        ctx.spawn::<Worker>((me, false)).unwrap();
    }
}

#[isolate(mailbox = 4)]
struct Worker;

#[isolate]
impl Worker {
    fn init(args: &(Handle<Foreman>, bool), ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        ctx.send(&args.0, Started(args.1, me)).unwrap();
        Worker
    }

    fn fail(&mut self, _fail: Fail, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Crash("told to")
    }

    fn quit(&mut self, _quit: Quit, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Done
    }
}

/// One shard: the foreman (supervised, with room for two dynamic children) and four worker
/// slots; restarts are budgeted generously, the churn is the point.
fn churn_spec() -> (BootSpec, Handle<Foreman>) {
    let mut spec = support::small_spec(1);
    spec.print_crashes(false)
        .isolate::<Foreman>(1)
        .isolate::<Worker>(4);
    let root = spec.supervisor(ShardId(0));
    spec.dynamic_children(root, 2).budget(
        root,
        RestartBudget {
            restarts: 60_000,
            window: Duration::from_secs(1),
        },
    );
    let foreman = spec.root::<Foreman>(ShardId(0), ());
    (spec, foreman)
}

/// Two shards; on each, two relays (the ring a0 -> a1 -> b0 -> b1 -> a0 makes half the hops
/// remote), a server, and two callers — one calling the local server, one the remote.
/// The positive control: allocates on every beat, from a handler, on whatever thread runs
/// its shard — so the counting is shown to see shard threads and the simulating thread.
#[isolate(mailbox = 4)]
struct Leaky {
    beats: u32,
}

/// Time to allocate.
#[derive(Bounded)]
struct Beat;

#[isolate]
impl Leaky {
    fn init(ctx: &mut Ctx<Self>) -> Self {
        ctx.after(Duration::from_micros(100), Beat).unwrap();
        Leaky { beats: 0 }
    }

    fn beat(&mut self, _beat: Beat, ctx: &mut Ctx<Self>) -> Effect {
        let planted: Vec<u8> = Vec::with_capacity(64);
        std::hint::black_box(planted);
        self.beats += 1;
        if self.beats < 50 {
            ctx.after(Duration::from_micros(100), Beat).unwrap();
        }
        Effect::Receive
    }
}

fn leaky_spec() -> BootSpec {
    let mut spec = support::small_spec(2);
    spec.isolate::<Leaky>(1);
    spec.root::<Leaky>(ShardId(1), ());
    spec
}

/// The counter must see a planted allocation, in simulation and on a shard thread: a
/// counter that missed them (a renamed thread, a broken classification) would make every
/// zero below vacuous.
fn positive_control() {
    let mut sim = Simulation::new(leaky_spec(), 1).unwrap();
    let (report, allocations) = counting(|| sim.run(u64::MAX));
    assert!(report.quiescent);
    assert_eq!(sim.totals().timers_fired, 50);
    assert!(
        allocations >= 50,
        "the planted allocations were not counted in simulation: {allocations}"
    );

    let system = System::start(leaky_spec()).unwrap();
    let (fired, allocations) =
        counting(|| system.wait_until(Duration::from_secs(30), |totals| totals.timers_fired >= 50));
    let summary = system.shutdown(Duration::from_secs(5));
    assert!(fired, "{:?}", summary.total);
    // Some beats may fall before counting starts, or after the last counter snapshot it
    // waited for: most must be seen, not all.
    assert!(
        allocations >= 20,
        "the planted allocations on a shard thread were not counted: {allocations}"
    );
}

fn spec() -> BootSpec {
    let mut spec = support::small_spec(2);
    spec.isolate::<Relay>(2)
        .isolate::<Server>(1)
        .isolate::<Caller>(2)
        .isolate::<Wirer>(1);
    let relays = [
        spec.root::<Relay>(ShardId(0), ()),
        spec.root::<Relay>(ShardId(0), ()),
        spec.root::<Relay>(ShardId(1), ()),
        spec.root::<Relay>(ShardId(1), ()),
    ];
    let servers = [
        spec.root::<Server>(ShardId(0), ()),
        spec.root::<Server>(ShardId(1), ()),
    ];
    for shard in 0..2 {
        spec.root::<Caller>(ShardId(shard as u16), servers[shard]);
        spec.root::<Caller>(ShardId(shard as u16), servers[1 - shard]);
    }
    spec.root::<Wirer>(ShardId(0), relays);
    spec
}

/// A message that mostly bounces.
#[derive(Bounded)]
struct Flood {
    id: u32,
}

/// Bulk bytes handed over to another shard in a transfer buffer.
#[derive(Bounded)]
struct Bulk(tina::Buffer);

/// A question from outside the system.
#[derive(Bounded, Request)]
#[reply(u64)]
struct HowMany;

/// Starts another burst.
#[derive(Bounded)]
struct NextBurst;

const FLOOD_BURSTS: u32 = 2_000;

/// Handles what it can; its mailbox (4) refuses the rest.
#[isolate(mailbox = 4)]
struct Sink {
    handled: u64,
}

#[isolate]
impl Sink {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Sink { handled: 0 }
    }

    fn flood(&mut self, _flood: Flood, _ctx: &mut Ctx<Self>) -> Effect {
        self.handled += 1;
        Effect::Receive
    }

    fn how_many(
        &mut self,
        _question: HowMany,
        reply: ReplyTo<HowMany>,
        ctx: &mut Ctx<Self>,
    ) -> Effect {
        ctx.reply(reply, self.handled)
    }

    fn bulk(&mut self, bulk: Bulk, ctx: &mut Ctx<Self>) -> Effect {
        // Copy into this shard's pool, then drop both: the original goes home.
        self.handled += u64::from(ctx.buffer_from(&bulk.0).is_ok());
        Effect::Receive
    }
}

/// Sends bursts of 64 to a sink on another shard; takes the bounces back.
#[isolate(mailbox = 4)]
struct Flooder {
    sink: Handle<Sink>,
    bursts: u32,
    bounced: u64,
}

#[isolate]
impl Flooder {
    fn init(sink: &Handle<Sink>, ctx: &mut Ctx<Self>) -> Self {
        ctx.after(Duration::from_micros(10), NextBurst)
            .expect("a timer");
        Flooder {
            sink: *sink,
            bursts: 0,
            bounced: 0,
        }
    }

    fn next_burst(&mut self, _burst: NextBurst, ctx: &mut Ctx<Self>) -> Effect {
        for id in 0..64 {
            let _ = ctx.send(&self.sink, Flood { id });
        }
        if let Ok(mut buffer) = ctx.buffer(512) {
            let _ = buffer.try_extend_from_slice(&[7; 512]);
            let _ = ctx.send(&self.sink, Bulk(buffer));
        }
        self.bursts += 1;
        if self.bursts < FLOOD_BURSTS {
            ctx.after(Duration::from_micros(10), NextBurst)
                .expect("a timer");
        }
        Effect::Receive
    }

    fn undelivered(&mut self, bounce: Undelivered<Flood>, _ctx: &mut Ctx<Self>) -> Effect {
        self.bounced += u64::from(bounce.message.id < 64);
        Effect::Receive
    }

    fn how_many(
        &mut self,
        _question: HowMany,
        reply: ReplyTo<HowMany>,
        ctx: &mut Ctx<Self>,
    ) -> Effect {
        ctx.reply(reply, self.bounced)
    }
}

fn flood_spec() -> (BootSpec, Handle<Sink>, Handle<Flooder>) {
    let mut spec = support::small_spec(2);
    spec.isolate::<Sink>(1)
        .isolate::<Flooder>(1)
        .dispatch_budget(8)
        .ingress_capacity(64)
        .buffer_class(1024, 8);
    let sink = spec.root::<Sink>(ShardId(1), ());
    let flooder = spec.root::<Flooder>(ShardId(0), sink);
    (spec, sink, flooder)
}

/// Bounces, sends into the system from outside, and calls from outside, in simulation and
/// on threads, with counting on.
fn bounces_and_the_way_in_never_allocate() {
    // Simulation: the flood, then sends and calls from the test between rounds.
    let (spec, sink, flooder) = flood_spec();
    let mut sim = Simulation::new(spec, 3).unwrap();
    for _ in 0..20 {
        sim.step();
    }
    let (bounced, allocations) = counting(|| {
        assert!(sim.run(u64::MAX).quiescent);
        for round in 0..2_000u32 {
            let _ = sim.send(&sink, Flood { id: round });
            sim.step();
            if round % 10 == 0 {
                let handled = sim.call(&sink, HowMany, Duration::from_millis(1));
                assert!(handled.is_ok());
            }
        }
        sim.call(&flooder, HowMany, Duration::from_millis(1))
            .unwrap()
    });
    let totals = sim.totals();
    assert!(bounced > 50_000, "{totals:?}");
    assert_eq!(totals.bounces_handled, bounced);
    assert!(totals.ingress_accepted >= 2_000, "{totals:?}");
    assert!(totals.buffers_taken > 1_000, "{totals:?}");
    assert_eq!(
        allocations, 0,
        "bounces and the way in allocated {allocations} times in simulation"
    );

    // Threads: the flood runs while the test thread sends in and asks.
    let (spec, sink, flooder) = flood_spec();
    let system = System::start(spec).unwrap();
    // First use of every path, uncounted.
    let _ = system.send(&sink, Flood { id: 0 });
    let _ = system.call(&sink, HowMany, Duration::from_secs(1));
    let ((), allocations) = counting(|| {
        for round in 0..20_000u32 {
            let _ = system.send(&sink, Flood { id: round });
            if round % 20 == 0 {
                // The sink's mailbox may be full of the flood: refused at once is an answer.
                let answer = system.call(&sink, HowMany, Duration::from_secs(5));
                assert!(
                    matches!(answer, Ok(_) | Err(ExternalCallError::Refused(_))),
                    "{answer:?}"
                );
            }
        }
        let flooded = system.wait_until(Duration::from_secs(60), |totals| {
            totals.bounces_handled > 100 && totals.timers_fired >= u64::from(FLOOD_BURSTS)
        });
        assert!(flooded, "{:?}", system.totals());
        assert!(
            system
                .call(&flooder, HowMany, Duration::from_secs(5))
                .is_ok()
        );
    });
    let summary = system.shutdown(Duration::from_secs(5));
    assert!(
        summary.total.ingress_accepted >= 1_000,
        "{:?}",
        summary.total
    );
    assert!(summary.total.buffers_taken > 1_000, "{:?}", summary.total);
    assert_eq!(
        allocations, 0,
        "bounces and the way in allocated {allocations} times on threads"
    );
}

// ---- TCP: echo round trips with accepts, closes and crashes on the reactor. ----

/// Echoes; crashes on a read starting with `X`, closes on `Q` (the client reconnects).
#[isolate(mailbox = 4)]
struct EchoConnection {
    socket: tina::Socket,
}

#[isolate]
impl EchoConnection {
    fn init(socket: &tina::Socket, ctx: &mut Ctx<Self>) -> Self {
        let _ = ctx.read(*socket);
        EchoConnection { socket: *socket }
    }

    fn io(&mut self, event: tina::IoEvent, ctx: &mut Ctx<Self>) -> Effect {
        match event {
            tina::IoEvent::Read { data, .. } => match data.first() {
                Some(b'X') => Effect::Crash("asked to crash"),
                Some(b'Q') => {
                    let _ = ctx.close(self.socket);
                    Effect::Done
                }
                _ => {
                    if ctx.write(self.socket, data).is_err() {
                        return Effect::Crash("send queue full on an echo");
                    }
                    let _ = ctx.read(self.socket);
                    Effect::Receive
                }
            },
            _ => {
                let _ = ctx.close(self.socket);
                Effect::Done
            }
        }
    }
}

/// Round trips on one connection; reconnects after `X` (crash) and `Q` (close).
fn tcp_client(addr: std::net::SocketAddr, round_trips: u64, salt: u64) -> Result<(), String> {
    use std::io::{Read, Write};
    let connect = || {
        let stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    };
    let mut stream = connect();
    let mut message = [0u8; 64];
    let mut back = [0u8; 64];
    for round in 0..round_trips {
        let turn = round + salt;
        if turn % 997 == 500 || turn % 1999 == 1000 {
            // Ask the server to crash (X) or to close (Q), then reconnect.
            let command = if turn % 997 == 500 { b'X' } else { b'Q' };
            stream.write_all(&[command]).unwrap();
            let mut sink = [0u8; 8];
            while let Ok(count) = stream.read(&mut sink) {
                if count == 0 {
                    break;
                }
            }
            stream = connect();
            continue;
        }
        // Lower-case letters only: never the `X` or `Q` commands.
        message.fill(b'a' + (turn % 26) as u8);
        stream
            .write_all(&message)
            .map_err(|error| format!("write, round {round}: {error}"))?;
        stream
            .read_exact(&mut back)
            .map_err(|error| format!("read, round {round}: {error}"))?;
        assert_eq!(back, message);
    }
    Ok(())
}

fn tcp_never_allocates() {
    const CONNECTIONS: u64 = 64;
    const COUNTED_ROUND_TRIPS: u64 = 100_000;
    let mut spec = BootSpec::new(2);
    spec.isolate::<EchoConnection>(64)
        .buffer_class(4096, 256)
        .print_crashes(false)
        .pin_threads(false);
    let listener = spec.listen(tina::Listen::tcp::<EchoConnection>(
        "127.0.0.1:0".parse().unwrap(),
    ));
    let system = System::start(spec).unwrap();
    let addr = system.listener_addr(listener).unwrap();
    // Warm-up, not counted: every path (accept, read, write, crash, close) once.
    let warmed = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|connection| scope.spawn(move || tcp_client(addr, 1100, connection * 31)))
            .collect();
        clients
            .into_iter()
            .map(|client| client.join().unwrap())
            .collect::<Result<Vec<()>, String>>()
    });
    assert!(
        warmed.is_ok(),
        "a warm-up client failed: {warmed:?} {:?}",
        system.totals()
    );
    let warm = system.totals();
    assert!(
        warm.crashed > 0 && warm.connections_accepted > CONNECTIONS,
        "{warm:?}"
    );
    let done = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let go = AtomicBool::new(false);
    let allocations = std::thread::scope(|scope| {
        let per_connection = COUNTED_ROUND_TRIPS / CONNECTIONS + 1;
        // The clients start once counting is on; spawning them (on the counted test thread)
        // happens before.
        for connection in 0..CONNECTIONS {
            let (done, failed, go) = (&done, &failed, &go);
            scope.spawn(move || {
                while !go.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_micros(200));
                }
                if let Err(error) = tcp_client(addr, per_connection, 7 + connection * 13) {
                    eprintln!("counted client {connection}: {error}");
                    failed.store(true, Ordering::SeqCst);
                }
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        COUNTING.store(true, Ordering::SeqCst);
        ALLOCATIONS.store(0, Ordering::SeqCst);
        go.store(true, Ordering::SeqCst);
        // The test thread only sleeps while it counts (joining threads would free memory).
        while done.load(Ordering::SeqCst) < CONNECTIONS {
            std::thread::sleep(Duration::from_millis(2));
        }
        COUNTING.store(false, Ordering::SeqCst);
        ALLOCATIONS.load(Ordering::SeqCst)
    });
    assert!(
        !failed.load(Ordering::SeqCst),
        "a counted client failed: {:?}",
        system.totals()
    );
    let summary = system.shutdown(Duration::from_secs(5));
    let totals = summary.total;
    let counted = totals.io_events - warm.io_events;
    assert!(counted > COUNTED_ROUND_TRIPS, "{totals:?}");
    assert!(
        totals.crashed > warm.crashed,
        "crashes while counting: {totals:?}"
    );
    assert!(
        totals.connections_accepted > warm.connections_accepted + 64,
        "accepts while counting: {totals:?}"
    );
    assert_eq!(
        allocations, 0,
        "TCP echo with accepts, closes and crashes allocated {allocations} times"
    );
}

#[test]
fn steady_state_never_allocates() {
    tcp_never_allocates();

    bounces_and_the_way_in_never_allocate();

    positive_control();

    // Simulation.
    let mut sim = Simulation::new(spec(), 5).unwrap();
    for _ in 0..4 {
        sim.step();
    }
    let (report, allocations) = counting(|| sim.run(u64::MAX));
    assert!(report.quiescent);
    let totals = sim.totals();
    assert_eq!(totals.calls, 4 * CALLS);
    assert!(totals.dispatched > 1_000_000, "{totals:?}");
    assert!(totals.sent_remote > 500_000, "{totals:?}");
    assert_eq!(totals.crashed, 0, "{totals:?}");
    assert_eq!(totals.calls_timed_out, 0, "{totals:?}");
    assert_eq!(
        allocations, 0,
        "the simulated steady state allocated {allocations} times"
    );

    // Supervision churn, in simulation.
    let (churn, foreman) = churn_spec();
    let mut sim = Simulation::new(churn, 9).unwrap();
    // A few rounds uncounted (first use of every path), the rest counted.
    while sim.state(foreman).unwrap().rounds < 4 {
        sim.step();
    }
    let uncounted = sim.state(foreman).unwrap().rounds;
    assert!(uncounted < 20, "{uncounted} rounds before counting");
    let (report, allocations) = counting(|| sim.run(u64::MAX));
    assert!(report.quiescent);
    assert_eq!(sim.state(foreman).unwrap().rounds, CHURN_ROUNDS);
    let totals = sim.totals();
    let rounds = u64::from(CHURN_ROUNDS);
    assert_eq!(totals.crashed, rounds, "{totals:?}");
    assert_eq!(totals.restarts, rounds, "{totals:?}");
    assert_eq!(totals.exited, 2 * rounds, "{totals:?}");
    assert_eq!(
        totals.live_isolates, 1,
        "only the foreman is left: {totals:?}"
    );
    assert_eq!(
        allocations, 0,
        "supervision churn allocated {allocations} times"
    );

    // Real threads.
    let system = System::start(spec()).unwrap();
    assert!(system.wait_until(Duration::from_secs(10), |totals| totals.live_isolates == 11));
    // Live statistics: the shards publish every millisecond while counted, and this
    // thread reads them into a snapshot that already held one (the first read allocates
    // its vectors; later ones reuse them).
    let reader = system.stats_reader();
    let stats = std::cell::RefCell::new(reader.read());
    let reads = std::cell::Cell::new(0u64);
    let (finished, allocations) = counting(|| {
        system.wait_until(Duration::from_secs(120), |totals| {
            reader.read_into(&mut stats.borrow_mut());
            reads.set(reads.get() + 1);
            totals.calls_timed_out == 0
                && totals.timers_fired >= 4 * CALLS - 4
                && totals.dispatched > 1_000_000
        })
    });
    let published: u64 = stats
        .borrow()
        .shards
        .iter()
        .map(|shard| shard.version)
        .sum();
    assert!(
        reads.get() > 10 && published > 10,
        "{} reads, {published} publications",
        reads.get()
    );
    let summary = system.shutdown(Duration::from_secs(5));
    assert!(finished, "{:?}", summary.total);
    let totals = &summary.total;
    assert_eq!(totals.crashed, 0, "{totals:?}");
    assert!(totals.calls >= 4 * CALLS - 4, "{totals:?}");
    assert!(totals.sent_remote > 100_000, "{totals:?}");
    assert!(summary.failed_shards.is_empty());
    assert_eq!(
        allocations, 0,
        "the threaded steady state allocated {allocations} times"
    );
}
