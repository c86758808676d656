//! The echo scenario of `tcp.rs` in a `Simulation` (issue 14): the same kind of isolates on
//! the simulated network — connect, accept, partial reads and writes through bounded
//! windows, end of stream — byte-exact, and deterministic: the same seed gives the same
//! trace hash. Then the same scenario under every simulated TCP fault (latency and jitter,
//! short reads and writes, resets, refused and unanswered connects, half-open peers, stalls,
//! backlog overflows): every byte that comes back is right, every client completes or stops
//! on a recorded failure, the run goes quiescent, and a seed replays; and one focused test
//! per kind.

use std::time::Duration;

use tina::prelude::*;
use tina::sim::{FaultCounts, Faults, Ratio, TcpFaults};
use tina::{Counters, Wait};

#[path = "support/echo.rs"]
mod echo;
use echo::Echo;

/// The byte at `position` of client `client`'s stream.
fn pattern(client: u64, position: u64) -> u8 {
    ((position * 31 + client * 7 + position / 251) % 251) as u8
}

/// How a client's connection ended, when it did not complete its round trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Bounded)]
enum Failure {
    /// `ctx.connect` itself was refused (no socket entry).
    NoSocket,
    /// The connect was refused.
    Refused,
    /// The connection was reset.
    Reset,
    /// A deadline passed: the connect's, or the read's (see `read_within`).
    TimedOut(Wait),
    /// End of stream before every byte came back.
    EarlyEof,
    /// Any other I/O error.
    Other(IoError),
}

/// What a client is asked to do: its id (which selects its byte pattern), how many bytes
/// to send, and its read timeout in microseconds (0: none).
type Plan = (u64, u64, u64);

/// Sends `total` pattern bytes to the echo server and checks every byte that comes back.
/// A reset, refusal or timeout is recorded and ends its work (it never retries).
#[isolate(mailbox = 4)]
struct Client {
    id: u64,
    total: u64,
    read_timeout: Option<Duration>,
    socket: Option<Socket>,
    sent: u64,
    verified: u64,
    mismatches: u64,
    connected: bool,
    finished: bool,
    failure: Option<Failure>,
    started: Instant,
    /// When the first echoed byte came back.
    first_echo: Option<Instant>,
}

#[isolate]
impl Client {
    fn init(plan: &Plan, ctx: &mut Ctx<Self>) -> Self {
        let (id, total, read_timeout) = *plan;
        let server = ctx.listener_addr(0).expect("the echo listener");
        let socket = ctx.connect(server, Duration::from_secs(1)).ok();
        let mut client = Client {
            id,
            total,
            read_timeout: (read_timeout > 0).then(|| Duration::from_micros(read_timeout)),
            socket,
            sent: 0,
            verified: 0,
            mismatches: 0,
            connected: false,
            finished: false,
            failure: socket.is_none().then_some(Failure::NoSocket),
            started: ctx.now(),
            first_echo: None,
        };
        if let Some(socket) = socket {
            // A read deadline starts once connected (the connect has its own).
            if client.read_timeout.is_none() {
                client.arm_read(socket, ctx);
            }
            client.send_more(ctx);
        }
        client
    }

    fn io(&mut self, event: IoEvent, ctx: &mut Ctx<Self>) -> Effect {
        match event {
            IoEvent::Connected { socket } => {
                self.connected = true;
                if self.read_timeout.is_some() {
                    self.arm_read(socket, ctx);
                }
                Effect::Receive
            }
            IoEvent::Read { socket, data } => {
                if self.first_echo.is_none() {
                    self.first_echo = Some(ctx.now());
                }
                for byte in data.iter() {
                    if *byte != pattern(self.id, self.verified) {
                        self.mismatches += 1;
                    }
                    self.verified += 1;
                }
                drop(data);
                if self.verified >= self.total {
                    self.finished = true;
                    self.socket = None;
                    let _ = ctx.shutdown_write(socket);
                    let _ = ctx.close(socket);
                    return Effect::Receive;
                }
                self.arm_read(socket, ctx);
                self.send_more(ctx);
                Effect::Receive
            }
            IoEvent::Drained { .. } => {
                self.send_more(ctx);
                Effect::Receive
            }
            IoEvent::Eof { socket } => {
                self.fail(Failure::EarlyEof);
                let _ = ctx.close(socket);
                Effect::Receive
            }
            IoEvent::TimedOut { socket, wait } => {
                self.fail(Failure::TimedOut(wait));
                // A connect's deadline closed the socket already; a read's leaves it open.
                let _ = ctx.reset(socket);
                Effect::Receive
            }
            IoEvent::Failed { error, .. } => {
                self.fail(match error {
                    IoError::Refused => Failure::Refused,
                    IoError::Reset => Failure::Reset,
                    other => Failure::Other(other),
                });
                Effect::Receive
            }
            IoEvent::Accepted { .. } => Effect::Receive,
        }
    }

    /// Records why the round trip ended (the first reason only) and stops.
    #[isolate(helper)]
    fn fail(&mut self, failure: Failure) {
        if !self.finished && self.failure.is_none() {
            self.failure = Some(failure);
        }
        self.socket = None;
    }

    /// Arms the next read, with the client's read timeout if it has one.
    #[isolate(helper)]
    fn arm_read(&mut self, socket: Socket, ctx: &mut Ctx<Self>) {
        let _ = match self.read_timeout {
            Some(timeout) => ctx.read_within(socket, timeout),
            None => ctx.read(socket),
        };
    }

    /// Queues pattern bytes while the send queue and the pool take them.
    #[isolate(helper)]
    fn send_more(&mut self, ctx: &mut Ctx<Self>) {
        let Some(socket) = self.socket else {
            return;
        };
        while self.sent < self.total {
            // Keep some blocks free for the reads.
            let Ok(mut block) = ctx.buffer(4096) else {
                return;
            };
            let len = (self.total - self.sent).min(block.capacity() as u64) as usize;
            for (offset, byte) in block.spare_mut()[..len].iter_mut().enumerate() {
                *byte = pattern(self.id, self.sent + offset as u64);
            }
            block.set_len(len);
            match ctx.write(socket, block) {
                Ok(()) => self.sent += len as u64,
                Err(_) => return,
            }
        }
    }
}

const CLIENTS: u64 = 8;

fn total_of(client: u64) -> u64 {
    // 1 byte up to more than twice the simulated window (64 KiB), per client.
    [1, 100, 4096, 5000, 70_000, 150_000, 33, 12_345][client as usize % 8]
}

fn run(seed: u64) -> (u64, Vec<(u64, u64, bool)>, Counters) {
    let scenario = scenario(seed, Faults::none(), 0, CLIENTS);
    assert!(
        scenario.report.quiescent,
        "the run ended: {:?}",
        scenario.report
    );
    let outcomes = scenario
        .clients
        .iter()
        .map(|client| (client.verified, client.mismatches, client.finished))
        .collect();
    (scenario.report.trace_hash, outcomes, scenario.totals)
}

/// What one client did, read from its state after the run.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ClientEnd {
    total: u64,
    verified: u64,
    mismatches: u64,
    finished: bool,
    failure: Option<Failure>,
    /// Simulated nanoseconds from the client's start to its first echoed byte.
    first_echo_after: Option<u64>,
}

struct Scenario {
    report: tina::SimReport,
    clients: Vec<ClientEnd>,
    totals: Counters,
}

/// `clients` echo clients on two shards under `faults`, each with read timeout
/// `read_timeout` µs (0: none); run until quiescent (at most 2,000,000 rounds).
fn scenario(seed: u64, faults: Faults, read_timeout: u64, clients: u64) -> Scenario {
    let mut spec = BootSpec::new(2);
    spec.isolate::<Echo>(16)
        .isolate::<Client>(8)
        .sockets(8)
        .buffer_class(4096, 256)
        .print_crashes(false);
    spec.listen(Listen::tcp::<Echo>("127.0.0.1:0".parse().unwrap()));
    let handles: Vec<Handle<Client>> = (0..clients)
        .map(|id| spec.root::<Client>(ShardId((id % 2) as u16), (id, total_of(id), read_timeout)))
        .collect();
    let mut sim = Simulation::with_faults(spec, seed, faults).expect("a valid spec");
    let report = sim.run(2_000_000);
    sim.check().expect("the simulation's invariants hold");
    let clients = handles
        .iter()
        .map(|&handle| {
            let state = sim.state(handle).expect("the client is alive");
            ClientEnd {
                total: state.total,
                verified: state.verified,
                mismatches: state.mismatches,
                finished: state.finished,
                failure: state.failure,
                first_echo_after: state
                    .first_echo
                    .map(|at| at.as_nanos() - state.started.as_nanos()),
            }
        })
        .collect();
    Scenario {
        report,
        clients,
        totals: sim.totals(),
    }
}

/// Only TCP faults, as given.
fn tcp(faults: TcpFaults) -> Faults {
    Faults {
        tcp: faults,
        ..Faults::none()
    }
}

/// Every TCP fault on.
fn every_tcp_fault() -> TcpFaults {
    TcpFaults {
        latency: Duration::from_micros(20),
        jitter: Duration::from_micros(50),
        short_read: Ratio::new(1, 4),
        short_write: Ratio::new(1, 4),
        reset: Ratio::new(1, 1000),
        connect_refused: Ratio::new(1, 30),
        connect_timeout: Ratio::new(1, 30),
        half_open: Ratio::new(1, 1000),
        stall: Ratio::new(1, 50),
        stall_max: Duration::from_millis(2),
        backlog_overflow: Ratio::new(1, 30),
    }
}

/// A read timeout well above every stall and latency of `every_tcp_fault`.
const READ_TIMEOUT_MICROS: u64 = 50_000;

/// Every client either finished with every byte right, or stopped on a recorded failure
/// with every byte it got right; the run went quiescent.
fn assert_sound(seed: u64, scenario: &Scenario) {
    assert!(
        scenario.report.quiescent,
        "seed {seed}: the run ended: {:?}",
        scenario.report
    );
    for (index, client) in scenario.clients.iter().enumerate() {
        assert_eq!(
            client.mismatches, 0,
            "seed {seed} client {index}: {client:?}"
        );
        assert!(
            client.verified <= client.total,
            "seed {seed} client {index}: {client:?}"
        );
        if client.finished {
            assert_eq!(client.verified, client.total, "seed {seed} client {index}");
            assert_eq!(client.failure, None, "seed {seed} client {index}");
        } else {
            assert!(
                client.failure.is_some(),
                "seed {seed} client {index} hangs: {client:?}"
            );
        }
    }
}

#[test]
fn echo_under_every_tcp_fault_is_byte_exact_and_never_hangs() {
    let mut counts = FaultCounts::default();
    let mut finished = 0;
    let mut failed = 0;
    let mut reasons: Vec<Failure> = Vec::new();
    for seed in 0..50 {
        let scenario = scenario(seed, tcp(every_tcp_fault()), READ_TIMEOUT_MICROS, CLIENTS);
        assert_sound(seed, &scenario);
        let faults = scenario.report.faults;
        counts.short_reads += faults.short_reads;
        counts.short_writes += faults.short_writes;
        counts.resets += faults.resets;
        counts.connects_refused += faults.connects_refused;
        counts.connects_timed_out += faults.connects_timed_out;
        counts.half_open += faults.half_open;
        counts.stalls += faults.stalls;
        counts.backlog_overflows += faults.backlog_overflows;
        for client in &scenario.clients {
            if client.finished {
                finished += 1;
            } else {
                failed += 1;
                let failure = client.failure.expect("checked");
                if !reasons.contains(&failure) {
                    reasons.push(failure);
                }
            }
        }
    }
    eprintln!("{finished} finished, {failed} failed ({reasons:?}); injected: {counts:?}");
    assert!(counts.short_reads > 0, "{counts:?}");
    assert!(counts.short_writes > 0, "{counts:?}");
    assert!(counts.resets > 0, "{counts:?}");
    assert!(counts.connects_refused > 0, "{counts:?}");
    assert!(counts.connects_timed_out > 0, "{counts:?}");
    assert!(counts.half_open > 0, "{counts:?}");
    assert!(counts.stalls > 0, "{counts:?}");
    assert!(counts.backlog_overflows > 0, "{counts:?}");
    // Most round trips still complete; the failures are the injected kinds.
    assert!(finished > failed, "{finished} finished, {failed} failed");
    for reason in [
        Failure::Refused,
        Failure::Reset,
        Failure::TimedOut(Wait::Connect),
        Failure::TimedOut(Wait::Read),
    ] {
        assert!(reasons.contains(&reason), "{reason:?} among {reasons:?}");
    }
}

#[test]
fn echo_under_tcp_faults_replays_from_its_seed() {
    for seed in [3, 17, 40] {
        let first = scenario(seed, tcp(every_tcp_fault()), READ_TIMEOUT_MICROS, CLIENTS);
        let again = scenario(seed, tcp(every_tcp_fault()), READ_TIMEOUT_MICROS, CLIENTS);
        assert_eq!(
            first.report.trace_hash, again.report.trace_hash,
            "seed {seed}"
        );
        assert_eq!(first.report.faults, again.report.faults, "seed {seed}");
        assert_eq!(first.report.now, again.report.now, "seed {seed}");
        assert_eq!(first.clients, again.clients, "seed {seed}");
    }
}

#[test]
fn an_unanswered_connect_times_out() {
    let faults = tcp(TcpFaults {
        connect_timeout: Ratio::ALWAYS,
        ..TcpFaults::default()
    });
    let scenario = scenario(1, faults, 0, 2);
    assert!(scenario.report.quiescent, "{:?}", scenario.report);
    for client in &scenario.clients {
        assert_eq!(
            client.failure,
            Some(Failure::TimedOut(Wait::Connect)),
            "{client:?}"
        );
        assert_eq!(client.verified, 0);
    }
    assert_eq!(scenario.report.faults.connects_timed_out, 2);
    // The connect timeout (1 s) decided.
    assert!(
        scenario.report.now.as_nanos() >= 1_000_000_000,
        "{:?}",
        scenario.report
    );
    assert_eq!(scenario.totals.connections_accepted, 0);
}

#[test]
fn a_refused_connect_with_a_listener_is_an_event() {
    let faults = tcp(TcpFaults {
        connect_refused: Ratio::ALWAYS,
        ..TcpFaults::default()
    });
    let scenario = scenario(2, faults, 0, 2);
    assert!(scenario.report.quiescent, "{:?}", scenario.report);
    for client in &scenario.clients {
        assert_eq!(client.failure, Some(Failure::Refused), "{client:?}");
    }
    assert_eq!(scenario.report.faults.connects_refused, 2);
    assert_eq!(scenario.totals.connections_accepted, 0);
}

#[test]
fn a_full_backlog_refuses_the_connect() {
    let faults = tcp(TcpFaults {
        backlog_overflow: Ratio::ALWAYS,
        ..TcpFaults::default()
    });
    let scenario = scenario(3, faults, 0, 2);
    assert!(scenario.report.quiescent, "{:?}", scenario.report);
    for client in &scenario.clients {
        assert_eq!(client.failure, Some(Failure::Refused), "{client:?}");
    }
    assert_eq!(scenario.report.faults.backlog_overflows, 2);
    assert_eq!(scenario.report.faults.connects_refused, 0);
}

#[test]
fn a_half_open_peer_is_a_read_timeout() {
    let faults = tcp(TcpFaults {
        half_open: Ratio::ALWAYS,
        ..TcpFaults::default()
    });
    let scenario = scenario(4, faults, 10_000, 2);
    assert!(scenario.report.quiescent, "{:?}", scenario.report);
    for client in &scenario.clients {
        assert_eq!(
            client.failure,
            Some(Failure::TimedOut(Wait::Read)),
            "{client:?}"
        );
        assert_eq!(client.verified, 0, "nothing comes back: {client:?}");
    }
    assert!(
        scenario.report.faults.half_open >= 2,
        "{:?}",
        scenario.report
    );
    assert!(scenario.report.now.as_nanos() >= 10_000_000);
}

#[test]
fn a_reset_reaches_both_ends() {
    let faults = tcp(TcpFaults {
        reset: Ratio::ALWAYS,
        ..TcpFaults::default()
    });
    let scenario = scenario(5, faults, 0, 2);
    assert!(scenario.report.quiescent, "{:?}", scenario.report);
    for client in &scenario.clients {
        assert_eq!(client.failure, Some(Failure::Reset), "{client:?}");
    }
    assert!(scenario.report.faults.resets >= 2, "{:?}", scenario.report);
    // The clients' first writes found the reset; the servers' reads found the RST.
    assert_eq!(scenario.totals.io_bytes_read, 0);
    assert_eq!(scenario.totals.connections_accepted, 2);
    assert_eq!(scenario.totals.io_failures, 4, "{:?}", scenario.totals);
}

#[test]
fn latency_delays_the_round_trip() {
    let latency = Duration::from_millis(3);
    let faults = tcp(TcpFaults {
        latency,
        jitter: Duration::from_micros(500),
        ..TcpFaults::default()
    });
    let scenario = scenario(6, faults, 0, CLIENTS);
    assert_sound(6, &scenario);
    for client in &scenario.clients {
        assert!(client.finished, "{client:?}");
        let after = client.first_echo_after.expect("an echo came back");
        // Connect (a round trip) then the bytes there and back.
        assert!(after >= 4 * 3_000_000, "{client:?}");
    }
    assert_eq!(scenario.report.faults.total(), 0, "latency is not counted");
}

#[test]
fn short_reads_and_writes_keep_every_byte() {
    let faults = tcp(TcpFaults {
        short_read: Ratio::ALWAYS,
        short_write: Ratio::ALWAYS,
        ..TcpFaults::default()
    });
    let scenario = scenario(7, faults, 0, CLIENTS);
    assert_sound(7, &scenario);
    assert!(scenario.clients.iter().all(|client| client.finished));
    let faults = scenario.report.faults;
    assert!(
        faults.short_reads > 0 && faults.short_writes > 0,
        "{faults:?}"
    );
}

#[test]
fn stalls_hold_the_writer_and_then_let_it_go() {
    let faults = tcp(TcpFaults {
        stall: Ratio::new(1, 3),
        stall_max: Duration::from_millis(1),
        ..TcpFaults::default()
    });
    let plain = scenario(8, Faults::none(), 0, CLIENTS);
    let scenario = scenario(8, faults, 0, CLIENTS);
    assert_sound(8, &scenario);
    assert!(scenario.clients.iter().all(|client| client.finished));
    assert!(scenario.report.faults.stalls > 0);
    // Zero windows cost simulated time.
    assert!(
        scenario.report.now > plain.report.now,
        "{:?}",
        scenario.report
    );
}

#[test]
fn echo_in_simulation_is_byte_exact_and_replays_from_its_seed() {
    let (hash, outcomes, totals) = run(42);
    for (client, (verified, mismatches, finished)) in outcomes.iter().enumerate() {
        assert!(finished, "client {client} finished: {outcomes:?}");
        assert_eq!(*verified, total_of(client as u64), "client {client}");
        assert_eq!(*mismatches, 0, "client {client} got wrong bytes");
    }
    let expected: u64 = (0..CLIENTS).map(total_of).sum();
    // Every byte went client -> server -> client.
    assert_eq!(totals.io_bytes_read, 2 * expected, "{totals:?}");
    assert_eq!(totals.io_bytes_written, 2 * expected, "{totals:?}");
    assert_eq!(totals.connections_accepted, CLIENTS);
    assert_eq!(totals.crashed, 0);
    // Partial reads: far more reads than the 4 KiB blocks would need.
    assert!(totals.io_events > 2 * expected / 4096, "{totals:?}");
    // The same seed replays exactly.
    let (again, outcomes_again, _) = run(42);
    assert_eq!(again, hash, "same seed, same trace");
    assert_eq!(outcomes_again, outcomes);
    // Another seed schedules (and splits reads) differently, with the same bytes.
    let (other, outcomes_other, _) = run(43);
    assert_ne!(other, hash);
    assert_eq!(outcomes_other, outcomes);
}

/// Connects to a port nothing listens on.
#[isolate(mailbox = 2)]
struct Lonely {
    refused: bool,
}

#[isolate]
impl Lonely {
    fn init(_args: &(), ctx: &mut Ctx<Self>) -> Self {
        let _ = ctx.connect("127.0.0.1:9".parse().unwrap(), Duration::from_secs(1));
        Lonely { refused: false }
    }

    fn io(&mut self, event: IoEvent, _ctx: &mut Ctx<Self>) -> Effect {
        if let IoEvent::Failed { error, .. } = event {
            self.refused = error == IoError::Refused;
        }
        Effect::Receive
    }
}

#[test]
fn a_refused_connect_in_simulation_is_an_event() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Lonely>(1).sockets(2).buffer_class(1024, 4);
    let lonely = spec.root::<Lonely>(ShardId(0), ());
    let mut sim = Simulation::new(spec, 7).unwrap();
    let report = sim.run(10_000);
    assert!(report.quiescent);
    assert!(sim.state(lonely).unwrap().refused);
    assert_eq!(sim.totals().io_failures, 1);
}

/// Every fault kind at once — transport, crashes of the server's connection isolates, and
/// every TCP fault — or a swarm configuration, over 100 seeds: each seed run twice gives
/// the same trace, the same faults and the same client outcomes, and every client that
/// finished got every byte right.
#[test]
fn every_fault_kind_at_once_replays_from_its_seed_for_100_seeds() {
    let mut hashes = Vec::new();
    let mut injected = tina::sim::FaultCounts::default();
    for seed in 0..100u64 {
        let faults = if seed.is_multiple_of(2) {
            Faults {
                tcp: every_tcp_fault(),
                ..Faults::all()
            }
            .crash_only::<Echo>()
        } else {
            Faults::swarm(seed, Faults::none().crash_only::<Echo>().crash_targets)
        };
        let first = scenario(seed, faults.clone(), READ_TIMEOUT_MICROS, 4);
        let again = scenario(seed, faults, READ_TIMEOUT_MICROS, 4);
        assert_eq!(first.report, again.report, "seed {seed}");
        assert_eq!(first.clients, again.clients, "seed {seed}");
        for (index, client) in first.clients.iter().enumerate() {
            assert_eq!(
                client.mismatches, 0,
                "seed {seed} client {index}: {client:?}"
            );
            if client.finished {
                assert_eq!(client.verified, client.total, "seed {seed} client {index}");
            }
        }
        if seed.is_multiple_of(2) {
            let counts = &first.report.faults;
            injected.crashes += counts.crashes;
            injected.short_reads += counts.short_reads;
            injected.stalls += counts.stalls;
        }
        hashes.push(first.report.trace_hash);
    }
    assert!(injected.crashes > 0 && injected.short_reads > 0 && injected.stalls > 0);
    let mut distinct = hashes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        hashes.len(),
        "different seeds, different traces"
    );
}
