//! TCP on the shard's reactor (issue 14): echo across shards with byte-exact data from 1 byte
//! to 1 MiB, server push, bad peers, bounds, and sockets closed with their owner.
//!
//! Every connection is to 127.0.0.1; every test bounds its time and stops by itself.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tina::prelude::*;

/// An echo connection: every read is written straight back (zero-copy: the received block
/// goes on the send queue), and the next read is armed once the write is queued.
#[isolate(mailbox = 4)]
struct Echo {
    socket: Socket,
    /// A read whose write the send queue refused, waiting for `Drained`.
    held: Option<Buffer>,
}

#[isolate]
impl Echo {
    fn init(socket: &Socket, ctx: &mut Ctx<Self>) -> Self {
        let _ = ctx.read(*socket);
        Echo {
            socket: *socket,
            held: None,
        }
    }

    fn io(&mut self, event: IoEvent, ctx: &mut Ctx<Self>) -> Effect {
        match event {
            IoEvent::Read { data, .. } => self.echo(data, ctx),
            IoEvent::Drained { .. } => match self.held.take() {
                Some(data) => self.echo(data, ctx),
                None => Effect::Receive,
            },
            IoEvent::Eof { .. } => {
                let _ = ctx.close(self.socket);
                Effect::Done
            }
            _ => Effect::Done,
        }
    }

    #[isolate(helper)]
    fn echo(&mut self, data: Buffer, ctx: &mut Ctx<Self>) -> Effect {
        match ctx.write(self.socket, data) {
            Ok(()) => {
                let _ = ctx.read(self.socket);
                Effect::Receive
            }
            Err(refused) if refused.error == IoError::QueueFull => {
                self.held = Some(refused.data);
                Effect::Receive
            }
            Err(_) => Effect::Done,
        }
    }
}

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
