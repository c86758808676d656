//! TCP on the shard's reactor (issue 14): echo across shards with byte-exact data from 1 byte
//! to 1 MiB, server push, bad peers, bounds, and sockets closed with their owner.
//!
//! Every connection is to 127.0.0.1; every test bounds its time and stops by itself.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tina::prelude::*;

#[path = "support/echo.rs"]
mod echo;
use echo::Echo;
use tina::{SocketTransfer, Wait};

fn echo_spec(shards: usize, connections: usize) -> (BootSpec, usize) {
    let mut spec = BootSpec::new(shards);
    spec.isolate::<Echo>(connections)
        .buffer_class(16 * 1024, 2048)
        .pin_threads(false);
    let listener = spec.listen(Listen::tcp::<Echo>("127.0.0.1:0".parse().unwrap()));
    (spec, listener)
}

/// Writes `message` and reads the same number of bytes back, checking them.
fn round_trip(stream: &mut TcpStream, message: &[u8], back: &mut Vec<u8>) {
    back.clear();
    back.resize(message.len(), 0);
    // Write and read concurrently enough for 1 MiB: write in chunks, draining what came back.
    let mut written = 0;
    let mut read = 0;
    stream.set_nonblocking(true).unwrap();
    let started = Instant::now();
    while read < message.len() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "echo stalled at {read} bytes"
        );
        if written < message.len() {
            match stream.write(&message[written..]) {
                Ok(count) => written += count,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(error) => panic!("write failed: {error}"),
            }
        }
        match stream.read(&mut back[read..]) {
            Ok(0) => panic!("server closed after {read} of {} bytes", message.len()),
            Ok(count) => read += count,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_micros(50));
            }
            Err(error) => panic!("read failed: {error}"),
        }
    }
    stream.set_nonblocking(false).unwrap();
    assert!(back[..] == message[..], "echoed bytes differ");
}

fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn echo_is_byte_exact_across_two_shards_with_256_connections_and_up_to_1_mib() {
    let (spec, listener) = echo_spec(2, 256);
    let system = System::start(spec).expect("boot");
    let addr = system.listener_addr(listener).unwrap();
    const THREADS: usize = 8;
    const PER_THREAD: usize = 32;
    let sizes = [1usize, 7, 64, 1000, 4096, 16 * 1024, 16 * 1024 + 1, 100_000];
    let big_done = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let big_done = &big_done;
            scope.spawn(move || {
                // All 256 connections are open at once.
                let mut streams: Vec<TcpStream> = (0..PER_THREAD)
                    .map(|_| {
                        let stream = TcpStream::connect(addr).unwrap();
                        stream.set_nodelay(true).unwrap();
                        stream
                    })
                    .collect();
                let mut back = Vec::new();
                for (round, size) in sizes.iter().enumerate() {
                    for (index, stream) in streams.iter_mut().enumerate() {
                        let seed = (thread * 1000 + index * 10 + round) as u64;
                        round_trip(stream, &pattern(seed, *size), &mut back);
                    }
                }
                // One 1 MiB message per thread (larger than any one buffer).
                let message = pattern(thread as u64 + 77, 1 << 20);
                round_trip(&mut streams[0], &message, &mut back);
                big_done.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    assert_eq!(big_done.load(Ordering::SeqCst), THREADS as u64);
    let summary = system.shutdown(Duration::from_secs(2));
    let totals = summary.total;
    assert_eq!(totals.connections_accepted, (THREADS * PER_THREAD) as u64);
    assert_eq!(totals.connections_refused, 0);
    // Both shards served connections (SO_REUSEPORT spreads them).
    for (shard, counters) in summary.shards.iter().enumerate() {
        assert!(
            counters.connections_accepted > 0,
            "shard {shard} accepted none"
        );
    }
    let expected: u64 = (THREADS * PER_THREAD) as u64 * sizes.iter().sum::<usize>() as u64
        + THREADS as u64 * (1 << 20);
    assert_eq!(totals.io_bytes_read, expected);
    assert_eq!(totals.io_bytes_written, expected);
}

// ---- Server push: a connection waiting for client bytes writes what another isolate sends.

/// Bytes to push to the client, from outside the connection.
#[derive(Bounded)]
struct Push {
    bytes: [u8; 8],
}

/// A connection announces itself to the hub.
#[derive(Bounded)]
struct Hello {
    connection: Handle<PushConnection>,
}

/// Knows the connections and forwards pushes to them.
#[isolate(mailbox = 16)]
struct Hub {
    connections: heapless::Vec<Handle<PushConnection>, 8>,
}

#[isolate]
impl Hub {
    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        Hub {
            connections: heapless::Vec::new(),
        }
    }

    fn hello(&mut self, hello: Hello, _ctx: &mut Ctx<Self>) -> Effect {
        let _ = self.connections.push(hello.connection);
        Effect::Receive
    }

    fn push(&mut self, push: Push, ctx: &mut Ctx<Self>) -> Effect {
        for connection in &self.connections {
            let _ = ctx.send(connection, Push { bytes: push.bytes });
        }
        Effect::Receive
    }

    fn count(&mut self, _ask: HowMany, reply: ReplyTo<HowMany>, ctx: &mut Ctx<Self>) -> Effect {
        ctx.reply(reply, self.connections.len() as u64)
    }
}

#[derive(Bounded, Request)]
#[reply(u64)]
struct HowMany;

static HUB: std::sync::OnceLock<Handle<Hub>> = std::sync::OnceLock::new();

#[isolate(mailbox = 4)]
struct PushConnection {
    socket: Socket,
}

#[isolate]
impl PushConnection {
    fn init(socket: &Socket, ctx: &mut Ctx<Self>) -> Self {
        // A read is armed (the client never sends): the mailbox still takes pushes.
        let _ = ctx.read(*socket);
        if let Some(hub) = HUB.get() {
            let _ = ctx.send(
                hub,
                Hello {
                    connection: ctx.me(),
                },
            );
        }
        PushConnection { socket: *socket }
    }

    fn push(&mut self, push: Push, ctx: &mut Ctx<Self>) -> Effect {
        let _ = ctx.write_bytes(self.socket, &push.bytes);
        Effect::Receive
    }

    fn io(&mut self, event: IoEvent, ctx: &mut Ctx<Self>) -> Effect {
        match event {
            IoEvent::Read { .. } => {
                let _ = ctx.read(self.socket);
                Effect::Receive
            }
            _ => Effect::Done,
        }
    }
}

#[test]
fn a_connection_waiting_for_bytes_still_takes_messages_and_pushes_to_its_client() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Hub>(1)
        .isolate::<PushConnection>(8)
        .buffer_class(4096, 64)
        .pin_threads(false);
    let hub = spec.root::<Hub>(ShardId(0), ());
    let _ = HUB.set(hub);
    let listener = spec.listen(Listen::tcp::<PushConnection>(
        "127.0.0.1:0".parse().unwrap(),
    ));
    let system = System::start(spec).expect("boot");
    let addr = system.listener_addr(listener).unwrap();
    let mut clients: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // Wait until the hub knows all three connections.
    let started = Instant::now();
    loop {
        let known = system
            .call(&hub, HowMany, Duration::from_secs(1))
            .expect("the hub answers");
        if known == 3 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "connections never said hello"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    system
        .send(
            &hub,
            Push {
                bytes: *b"pushed!\n",
            },
        )
        .expect("the hub takes it");
    for client in &mut clients {
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut got = [0u8; 8];
        client.read_exact(&mut got).expect("the push arrives");
        assert_eq!(&got, b"pushed!\n");
    }
    drop(clients);
    system.shutdown(Duration::from_secs(1));
}

// ---- Bad peers, while a well-behaved client keeps its round trips.

/// A connection with deadlines: an idle client is dropped after 200 ms without bytes; a
/// client that stops reading is dropped after 300 ms without write progress. It answers
/// every read with 64 KiB (so a client that never reads fills the send queue).
#[isolate(mailbox = 4)]
struct Strict {
    socket: Socket,
}

/// What the `Strict` connections saw, for the test to check.
static TIMED_OUT_READ: AtomicU64 = AtomicU64::new(0);
static TIMED_OUT_WRITE: AtomicU64 = AtomicU64::new(0);
static WRITES_REFUSED: AtomicU64 = AtomicU64::new(0);

#[isolate]
impl Strict {
    fn init(socket: &Socket, ctx: &mut Ctx<Self>) -> Self {
        let _ = ctx.set_write_timeout(*socket, Duration::from_millis(300));
        let _ = ctx.read_within(*socket, Duration::from_millis(200));
        Strict { socket: *socket }
    }

    fn io(&mut self, event: IoEvent, ctx: &mut Ctx<Self>) -> Effect {
        match event {
            IoEvent::Read { data, .. } => {
                if data.first() == Some(&b'B') {
                    // "Big": answer with 64 KiB blocks until the queue refuses.
                    loop {
                        let Ok(mut block) = ctx.buffer(16 * 1024) else {
                            break;
                        };
                        block.set_len(16 * 1024);
                        if ctx.write(self.socket, block).is_err() {
                            WRITES_REFUSED.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                    }
                    let _ = ctx.read(self.socket);
                } else {
                    let _ = ctx.write(self.socket, data);
                    let _ = ctx.read_within(self.socket, Duration::from_millis(200));
                }
                Effect::Receive
            }
            IoEvent::Drained { .. } => {
                // Keep the queue full for a client that does not read.
                loop {
                    let Ok(mut block) = ctx.buffer(16 * 1024) else {
                        break;
                    };
                    block.set_len(16 * 1024);
                    if ctx.write(self.socket, block).is_err() {
                        break;
                    }
                }
                Effect::Receive
            }
            IoEvent::TimedOut { wait, .. } => {
                match wait {
                    Wait::Read => TIMED_OUT_READ.fetch_add(1, Ordering::SeqCst),
                    _ => TIMED_OUT_WRITE.fetch_add(1, Ordering::SeqCst),
                };
                let _ = ctx.reset(self.socket);
                Effect::Done
            }
            IoEvent::Eof { .. } => {
                let _ = ctx.close(self.socket);
                Effect::Done
            }
            _ => Effect::Done,
        }
    }
}

/// Reads until the server closes (EOF or reset), within `limit`; returns how long it took.
fn wait_for_close(stream: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut sink = [0u8; 4096];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => return started.elapsed(),
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                ) =>
            {
                return started.elapsed();
            }
            Err(error) => panic!("no close within {limit:?}: {error}"),
        }
    }
}

#[test]
fn silent_and_non_reading_peers_cost_only_their_own_connection() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Strict>(16)
        .buffer_class(16 * 1024, 256)
        .pin_threads(false);
    let listener = spec.listen(Listen::tcp::<Strict>("127.0.0.1:0".parse().unwrap()));
    let system = System::start(spec).expect("boot");
    let addr = system.listener_addr(listener).unwrap();
    // A well-behaved client keeps its round trips throughout, every 20 ms.
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let good = scope.spawn(|| {
            let mut good = TcpStream::connect(addr).unwrap();
            let mut back = Vec::new();
            let mut rounds = 0u64;
            while !stop.load(Ordering::SeqCst) {
                round_trip(&mut good, &pattern(rounds, 100), &mut back);
                rounds += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            rounds
        });
        // A silent client: dropped by the idle deadline.
        let mut silent = TcpStream::connect(addr).unwrap();
        // A client that asks for a lot and never reads: the send queue fills, the write is
        // refused, and the write-progress deadline drops it.
        let mut stuck = TcpStream::connect(addr).unwrap();
        socket2::SockRef::from(&stuck)
            .set_recv_buffer_size(4096)
            .unwrap();
        stuck.write_all(b"B").unwrap();
        let silent_after = wait_for_close(&mut silent, Duration::from_secs(5));
        assert!(silent_after < Duration::from_secs(5));
        // Not reading for a while; then the connection must be found gone (reset).
        std::thread::sleep(Duration::from_millis(800));
        let _ = wait_for_close(&mut stuck, Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(100));
        stop.store(true, Ordering::SeqCst);
        let rounds = good.join().expect("the good client never failed");
        assert!(
            rounds >= 20,
            "the good client kept going: {rounds} round trips"
        );
    });
    assert_eq!(
        TIMED_OUT_READ.load(Ordering::SeqCst),
        1,
        "the silent client"
    );
    assert_eq!(
        TIMED_OUT_WRITE.load(Ordering::SeqCst),
        1,
        "the non-reading client"
    );
    assert!(
        WRITES_REFUSED.load(Ordering::SeqCst) >= 1,
        "the full queue refused a write"
    );
    let summary = system.shutdown(Duration::from_secs(1));
    assert!(summary.total.io_writes_refused >= 1);
}

#[test]
fn half_close_reset_and_garbage_are_handled_per_connection() {
    let (spec, listener) = echo_spec(1, 16);
    let system = System::start(spec).expect("boot");
    let addr = system.listener_addr(listener).unwrap();
    let mut good = TcpStream::connect(addr).unwrap();
    let mut back = Vec::new();
    // Half-close: the client sends, shuts its write side, and still reads the echo to EOF.
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(b"last words").unwrap();
    half.shutdown(std::net::Shutdown::Write).unwrap();
    half.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut echoed = Vec::new();
    half.read_to_end(&mut echoed).unwrap();
    assert_eq!(echoed, b"last words");
    // Reset mid-write: the client resets while the server has data in flight for it.
    let mut reset = TcpStream::connect(addr).unwrap();
    reset.write_all(&pattern(3, 200_000)).unwrap();
    socket2::SockRef::from(&reset)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(reset);
    // Garbage: arbitrary bytes are just bytes to an echo.
    let garbage = pattern(9, 5000);
    round_trip(&mut good, &garbage, &mut back);
    for round in 0..20 {
        round_trip(&mut good, &pattern(round, 300), &mut back);
    }
    let summary = system.shutdown(Duration::from_secs(1));
    assert_eq!(summary.total.connections_accepted, 3);
}

#[test]
fn beyond_the_bound_connections_are_accepted_closed_and_counted() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Echo>(10)
        .buffer_class(4096, 64)
        .pin_threads(false);
    let listener =
        spec.listen(Listen::tcp::<Echo>("127.0.0.1:0".parse().unwrap()).max_connections(10));
    let system = System::start(spec).expect("boot");
    let addr = system.listener_addr(listener).unwrap();
    let mut kept = Vec::new();
    let mut back = Vec::new();
    for index in 0..10 {
        let mut stream = TcpStream::connect(addr).unwrap();
        round_trip(&mut stream, &pattern(index, 10), &mut back);
        kept.push(stream);
    }
    // 10x the bound: each is accepted and closed at once; none is queued.
    let mut refused = 0;
    for _ in 0..100 {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let _ = stream.write_all(b"x");
        let mut byte = [0u8; 1];
        match stream.read(&mut byte) {
            Ok(0) | Err(_) => refused += 1,
            Ok(_) => panic!("a connection beyond the bound was served"),
        }
    }
    assert_eq!(refused, 100);
    // The ten kept ones still work.
    for (index, stream) in kept.iter_mut().enumerate() {
        round_trip(stream, &pattern(index as u64 + 50, 100), &mut back);
    }
    let summary = system.shutdown(Duration::from_secs(1));
    assert_eq!(summary.total.connections_accepted, 10);
    assert_eq!(summary.total.connections_refused, 100);
}

// ---- Connecting out.

/// Connects to an address and reports what happened.
#[isolate(mailbox = 4)]
struct Dialer {
    outcome: heapless::Vec<IoError, 1>,
}

static DIAL_REFUSED: AtomicU64 = AtomicU64::new(0);
static DIAL_CONNECTED: AtomicU64 = AtomicU64::new(0);

#[isolate]
impl Dialer {
    fn init(addr: &SocketAddr, ctx: &mut Ctx<Self>) -> Self {
        match ctx.connect(*addr, Duration::from_secs(2)) {
            Ok(socket) => {
                let _ = ctx.write_bytes(socket, b"ping");
                let _ = ctx.read(socket);
            }
            Err(_) => {
                DIAL_REFUSED.fetch_add(1, Ordering::SeqCst);
            }
        }
        Dialer {
            outcome: heapless::Vec::new(),
        }
    }

    fn io(&mut self, event: IoEvent, ctx: &mut Ctx<Self>) -> Effect {
        match event {
            IoEvent::Connected { .. } => Effect::Receive,
            IoEvent::Read { socket, data } => {
                assert_eq!(&data[..], b"ping");
                DIAL_CONNECTED.fetch_add(1, Ordering::SeqCst);
                let _ = ctx.close(socket);
                Effect::Done
            }
            IoEvent::Failed { error, .. } => {
                assert_eq!(error, IoError::Refused);
                let _ = self.outcome.push(error);
                DIAL_REFUSED.fetch_add(1, Ordering::SeqCst);
                Effect::Done
            }
            _ => Effect::Done,
        }
    }
}

#[test]
fn a_connect_to_a_closed_port_is_an_error_event_and_a_connect_to_a_server_works() {
    // A port with nothing listening: bind one, note it, close it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open = server.local_addr().unwrap();
    let echo = std::thread::spawn(move || {
        let (mut stream, _) = server.accept().unwrap();
        let mut four = [0u8; 4];
        stream.read_exact(&mut four).unwrap();
        stream.write_all(&four).unwrap();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
    });
    let mut spec = BootSpec::new(1);
    spec.isolate::<Dialer>(4)
        .sockets(4)
        .buffer_class(4096, 16)
        .pin_threads(false);
    spec.root::<Dialer>(ShardId(0), closed);
    spec.root::<Dialer>(ShardId(0), open);
    let system = System::start(spec).expect("boot");
    let started = Instant::now();
    while DIAL_REFUSED.load(Ordering::SeqCst) + DIAL_CONNECTED.load(Ordering::SeqCst) < 2 {
        assert!(started.elapsed() < Duration::from_secs(10), "no outcome");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(DIAL_REFUSED.load(Ordering::SeqCst), 1);
    assert_eq!(DIAL_CONNECTED.load(Ordering::SeqCst), 1);
    let summary = system.shutdown(Duration::from_secs(1));
    assert_eq!(summary.total.crashed, 0, "no isolate crashed over it");
    echo.join().unwrap();
}

// ---- Handing a socket over: on the same shard and to another shard.

/// A socket in a message.
#[derive(Bounded)]
struct Take {
    transfer: SocketTransfer,
}

/// Accepts a connection and hands it to the `Keeper` named in its args.
#[isolate(mailbox = 4)]
struct Doorman {
    keepers: [Handle<Keeper>; 2],
    next: usize,
}

#[isolate]
impl Doorman {
    fn init(keepers: &[Handle<Keeper>; 2], ctx: &mut Ctx<Self>) -> Self {
        let listener = ctx.listen("127.0.0.1:0".parse().unwrap()).expect("listen");
        let addr = ctx.local_addr(listener).expect("its address");
        DOORMAN_PORT.store(u64::from(addr.port()), Ordering::SeqCst);
        ctx.accept(listener).expect("arm an accept");
        Doorman {
            keepers: *keepers,
            next: 0,
        }
    }

    fn io(&mut self, event: IoEvent, ctx: &mut Ctx<Self>) -> Effect {
        if let IoEvent::Accepted { listener, socket } = event {
            let transfer = ctx.transfer(socket).expect("a quiet socket transfers");
            // The socket is stale here now.
            assert_eq!(ctx.read(socket), Err(IoError::Stale));
            let keeper = self.keepers[self.next % 2];
            self.next += 1;
            if ctx.send(&keeper, Take { transfer }).is_err() {
                panic!("keeper refused the socket");
            }
            let _ = ctx.accept(listener);
        }
        Effect::Receive
    }
}

static DOORMAN_PORT: AtomicU64 = AtomicU64::new(0);

/// Adopts a socket and answers each read with "kept by shard N".
#[isolate(mailbox = 4)]
struct Keeper {
    socket: Option<Socket>,
}

#[isolate]
impl Keeper {
    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        Keeper { socket: None }
    }

    fn take(&mut self, take: Take, ctx: &mut Ctx<Self>) -> Effect {
        let socket = ctx
            .adopt(take.transfer)
            .map_err(|(error, _)| error)
            .expect("adopt");
        assert_eq!(socket.shard(), ctx.shard());
        let _ = ctx.read(socket);
        self.socket = Some(socket);
        Effect::Receive
    }

    fn io(&mut self, event: IoEvent, ctx: &mut Ctx<Self>) -> Effect {
        match event {
            IoEvent::Read { socket, .. } => {
                let reply = [b'k', b'0' + ctx.shard().index() as u8];
                let _ = ctx.write_bytes(socket, &reply);
                let _ = ctx.read(socket);
                Effect::Receive
            }
            _ => Effect::Receive,
        }
    }
}

#[test]
fn a_socket_moves_to_an_isolate_on_the_same_shard_and_on_another() {
    let mut spec = BootSpec::new(2);
    spec.isolate::<Doorman>(1)
        .isolate::<Keeper>(2)
        .sockets(8)
        .buffer_class(4096, 32)
        .pin_threads(false);
    let same = spec.root::<Keeper>(ShardId(0), ());
    let other = spec.root::<Keeper>(ShardId(1), ());
    spec.root::<Doorman>(ShardId(0), [same, other]);
    let system = System::start(spec).expect("boot");
    let started = Instant::now();
    while DOORMAN_PORT.load(Ordering::SeqCst) == 0 {
        assert!(started.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(2));
    }
    let addr: SocketAddr = ([127, 0, 0, 1], DOORMAN_PORT.load(Ordering::SeqCst) as u16).into();
    let mut answers = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(b"?").unwrap();
        let mut reply = [0u8; 2];
        stream.read_exact(&mut reply).unwrap();
        answers.push(reply);
        // Again on the same connection: it stays with its keeper.
        stream.write_all(b"?").unwrap();
        stream.read_exact(&mut reply).unwrap();
        assert_eq!(reply, answers[answers.len() - 1]);
    }
    assert_eq!(answers, vec![*b"k0", *b"k1"]);
    system.shutdown(Duration::from_secs(1));
}

// ---- A quarantined shard refuses connections at once.

#[derive(Bounded)]
struct Explode;

/// Crashes when told; its group allows no restart, so the crash quarantines the shard.
#[isolate(mailbox = 2)]
struct Bomb;

#[isolate]
impl Bomb {
    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        Bomb
    }

    fn explode(&mut self, _explode: Explode, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Crash("told to explode")
    }
}

#[test]
fn a_quarantined_shard_refuses_connections_at_once() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Echo>(8)
        .isolate::<Bomb>(1)
        .buffer_class(4096, 32)
        .print_crashes(false)
        .pin_threads(false);
    let group = spec.supervisor(ShardId(0));
    spec.budget(group, tina::RestartBudget::new(0, Duration::from_secs(60)));
    let bomb = spec.child::<Bomb>(group, Restart::Permanent, ());
    let listener = spec.listen(Listen::tcp::<Echo>("127.0.0.1:0".parse().unwrap()));
    let system = System::start(spec).expect("boot");
    let addr = system.listener_addr(listener).unwrap();
    let mut back = Vec::new();
    let mut before = TcpStream::connect(addr).unwrap();
    round_trip(&mut before, b"served", &mut back);
    system.send(&bomb, Explode).unwrap();
    let started = Instant::now();
    while system.totals().quarantines == 0 {
        assert!(started.elapsed() < Duration::from_secs(5), "no quarantine");
        std::thread::sleep(Duration::from_millis(2));
    }
    for _ in 0..5 {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let _ = stream.write_all(b"anyone?");
        let mut byte = [0u8; 1];
        let began = Instant::now();
        match stream.read(&mut byte) {
            Ok(0) | Err(_) => {}
            Ok(_) => panic!("a quarantined shard served a connection"),
        }
        assert!(
            began.elapsed() < Duration::from_secs(2),
            "refused at once, not timed out"
        );
    }
    let summary = system.shutdown(Duration::from_secs(1));
    assert_eq!(summary.total.connections_refused, 5);
    assert_eq!(summary.total.connections_accepted, 1);
}
