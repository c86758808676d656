//! The echo scenario of `tcp.rs` in a `Simulation` (issue 14): the same kind of isolates on
//! the simulated network — connect, accept, partial reads and writes through bounded
//! windows, end of stream — byte-exact, and deterministic: the same seed gives the same
//! trace hash.

use std::time::Duration;

use tina::Counters;
use tina::prelude::*;

#[path = "support/echo.rs"]
mod echo;
use echo::Echo;

/// The byte at `position` of client `client`'s stream.
fn pattern(client: u64, position: u64) -> u8 {
    ((position * 31 + client * 7 + position / 251) % 251) as u8
}

/// Sends `total` pattern bytes to the echo server and checks every byte that comes back.
#[isolate(mailbox = 4)]
struct Client {
    id: u64,
    total: u64,
    socket: Option<Socket>,
    sent: u64,
    verified: u64,
    mismatches: u64,
    connected: bool,
    finished: bool,
}

#[isolate]
impl Client {
    fn init(args: &(u64, u64), ctx: &mut Ctx<Self>) -> Self {
        let (id, total) = *args;
        let server = ctx.listener_addr(0).expect("the echo listener");
        let socket = ctx.connect(server, Duration::from_secs(1)).ok();
        let mut client = Client {
            id,
            total,
            socket,
            sent: 0,
            verified: 0,
            mismatches: 0,
            connected: false,
            finished: false,
        };
        if let Some(socket) = socket {
            let _ = ctx.read(socket);
            client.send_more(ctx);
        }
        client
    }

    fn io(&mut self, event: IoEvent, ctx: &mut Ctx<Self>) -> Effect {
        match event {
            IoEvent::Connected { .. } => {
                self.connected = true;
                Effect::Receive
            }
            IoEvent::Read { socket, data } => {
                for byte in data.iter() {
                    if *byte != pattern(self.id, self.verified) {
                        self.mismatches += 1;
                    }
                    self.verified += 1;
                }
                drop(data);
                if self.verified >= self.total {
                    self.finished = true;
                    let _ = ctx.shutdown_write(socket);
                    let _ = ctx.close(socket);
                    return Effect::Receive;
                }
                let _ = ctx.read(socket);
                self.send_more(ctx);
                Effect::Receive
            }
            IoEvent::Drained { .. } => {
                self.send_more(ctx);
                Effect::Receive
            }
            _ => Effect::Receive,
        }
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
    let mut spec = BootSpec::new(2);
    spec.isolate::<Echo>(16)
        .isolate::<Client>(8)
        .sockets(8)
        .buffer_class(4096, 256);
    spec.listen(Listen::tcp::<Echo>("127.0.0.1:0".parse().unwrap()));
    let clients: Vec<Handle<Client>> = (0..CLIENTS)
        .map(|id| spec.root::<Client>(ShardId((id % 2) as u16), (id, total_of(id))))
        .collect();
    let mut sim = Simulation::new(spec, seed).expect("a valid spec");
    let report = sim.run(2_000_000);
    assert!(report.quiescent, "the run ended: {report:?}");
    let outcomes = clients
        .iter()
        .map(|&client| {
            let state = sim.state(client).expect("the client is alive");
            (state.verified, state.mismatches, state.finished)
        })
        .collect();
    (report.trace_hash, outcomes, sim.totals())
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
