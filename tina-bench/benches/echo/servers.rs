//! The echo servers Tina is measured against, each started in-process on an ephemeral
//! loopback port and stopped after its sample.
//!
//! * [`tokio_echo`]: the idiomatic tokio server — an accept loop that `tokio::spawn`s one
//!   task per connection, each a `read` / `write_all` loop over a 4 KiB buffer — on a
//!   multi-thread runtime (2 workers) or a current-thread runtime, optionally with a
//!   CPU-heavy job running inline in a task of the same runtime ([`CpuJob`]).
//! * [`mio_echo`]: the hand-written limit: one thread per core, each with its own
//!   `SO_REUSEPORT` listener on the same port and its own `mio::Poll`, each connection
//!   served on the thread that accepted it through a fixed 4 KiB buffer, edge-triggered,
//!   no task, no queue, no allocation per message.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

/// Bytes a server reads at a time.
const BUFFER_BYTES: usize = 4 * 1024;
/// The listen backlog of every server: more than any workload's connections.
const BACKLOG: i32 = 1024;

/// A running echo server: its address and how to stop it (stopped on drop, too).
pub(crate) struct Server {
    address: SocketAddr,
    stop: Option<Box<dyn FnOnce() + Send>>,
}

impl Server {
    /// A server listening on `address` that `stop` shuts down (and waits for).
    pub(crate) fn new(address: SocketAddr, stop: impl FnOnce() + Send + 'static) -> Self {
        Self {
            address,
            stop: Some(Box::new(stop)),
        }
    }

    /// Where it listens.
    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops it and waits until its threads are gone.
    pub(crate) fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

/// Which tokio runtime serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavour {
    /// `Builder::new_multi_thread().worker_threads(workers)`.
    MultiThread {
        /// Worker threads.
        workers: usize,
    },
    /// `Builder::new_current_thread()`, driven by one thread.
    CurrentThread,
}

/// A CPU-heavy job run inline in a task of the server's runtime: `busy` of computation
/// every `period`, counting its runs in `runs`.
#[derive(Clone, Debug)]
pub(crate) struct CpuJob {
    /// How long one run computes.
    pub(crate) busy: Duration,
    /// From the start of one run to the start of the next.
    pub(crate) period: Duration,
    /// Runs completed so far.
    pub(crate) runs: Arc<AtomicU64>,
}

/// Spins for `busy`, computing something the optimiser cannot drop.
pub(crate) fn compute(busy: Duration) {
    let started = Instant::now();
    let mut value = 1u64;
    while started.elapsed() < busy {
        for _ in 0..1_000 {
            value = std::hint::black_box(value.wrapping_mul(6_364_136_223_846_793_005) ^ 1);
        }
    }
    std::hint::black_box(value);
}

/// The tokio echo server on `flavour`, with `job` running in a task beside the
/// connections when given.
///
/// # Panics
///
/// When the port cannot be bound or the runtime cannot be built.
pub(crate) fn tokio_echo(flavour: Flavour, job: Option<CpuJob>) -> Server {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("tokio: bind");
    listener.set_nonblocking(true).expect("tokio: nonblocking");
    let address = listener.local_addr().expect("tokio: address");
    let mut builder = match flavour {
        Flavour::MultiThread { workers } => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(workers);
            builder
        }
        Flavour::CurrentThread => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = builder.enable_all().build().expect("tokio: runtime");
    let (stop_sender, stop_receiver) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("tokio-echo".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("tokio: listener");
                tokio::spawn(async move {
                    while let Ok((stream, _)) = listener.accept().await {
                        tokio::spawn(tokio_connection(stream));
                    }
                });
                if let Some(job) = job {
                    tokio::spawn(async move {
                        loop {
                            let started = tokio::time::Instant::now();
                            compute(job.busy);
                            job.runs.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep_until(started + job.period).await;
                        }
                    });
                }
                let _ = stop_receiver.await;
            });
            // Drops every connection task and the job with the runtime.
            runtime.shutdown_timeout(Duration::from_secs(1));
        })
        .expect("tokio: server thread");
    Server::new(address, move || {
        let _ = stop_sender.send(());
        thread.join().expect("tokio: server thread panicked");
    })
}

/// One connection of the tokio server: read what came, write it back, until EOF or error.
async fn tokio_connection(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = stream.set_nodelay(true);
    let mut buffer = vec![0u8; BUFFER_BYTES];
    loop {
        let count = match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(count) => count,
        };
        if stream.write_all(&buffer[..count]).await.is_err() {
            return;
        }
    }
}

/// A non-blocking listener on `address` with `SO_REUSEPORT`, so several threads can each
/// have one on the same port and the kernel spreads connections over them.
fn reuse_port_listener(address: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// The token of a mio thread's listener.
const LISTENER: Token = Token(0);
/// The token of a mio thread's stop waker.
const WAKER: Token = Token(1);
/// Connection `k` of a mio thread has token `k + FIRST_CONNECTION`.
const FIRST_CONNECTION: usize = 2;

/// The hand-written mio echo server: `threads` threads, each with its own listener on the
/// same port.
///
/// # Panics
///
/// When a port, a poll or a thread cannot be had.
pub(crate) fn mio_echo(threads: usize) -> Server {
    let mut address: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let stop = Arc::new(AtomicBool::new(false));
    let mut wakers = Vec::with_capacity(threads);
    let mut handles = Vec::with_capacity(threads);
    for thread in 0..threads {
        let mut listener = reuse_port_listener(address).expect("mio: SO_REUSEPORT listener");
        // The first listener picks the port; the others join it.
        address = listener.local_addr().expect("mio: address");
        let poll = Poll::new().expect("mio: poll");
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .expect("mio: register the listener");
        wakers.push(Waker::new(poll.registry(), WAKER).expect("mio: waker"));
        let stop = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name(format!("mio-echo-{thread}"))
            .spawn(move || mio_thread(poll, listener, &stop))
            .expect("mio: server thread");
        handles.push(handle);
    }
    Server::new(address, move || {
        stop.store(true, Ordering::Release);
        for waker in &wakers {
            let _ = waker.wake();
        }
        for handle in handles {
            handle.join().expect("mio: server thread panicked");
        }
    })
}

/// One connection of the mio server and the bytes it still has to write back.
struct MioConnection {
    stream: TcpStream,
    buffer: Box<[u8; BUFFER_BYTES]>,
    /// Bytes in `buffer` read from the socket.
    filled: usize,
    /// Of those, bytes already written back.
    written: usize,
}

/// What became of a connection after serving its readiness.
enum Served {
    /// Waiting for the next readiness.
    Open,
    /// Closed by the peer, or failed: drop it.
    Closed,
}

impl MioConnection {
    /// Echoes until the socket would block: writes back what is pending, then reads more.
    /// Edge-triggered, so it stops only on `WouldBlock` (or the end).
    fn serve(&mut self) -> Served {
        loop {
            if self.written < self.filled {
                match self.stream.write(&self.buffer[self.written..self.filled]) {
                    Ok(0) => return Served::Closed,
                    Ok(count) => self.written += count,
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Served::Open,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Served::Closed,
                }
            } else {
                match self.stream.read(&mut self.buffer[..]) {
                    Ok(0) => return Served::Closed,
                    Ok(count) => {
                        self.filled = count;
                        self.written = 0;
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Served::Open,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Served::Closed,
                }
            }
        }
    }
}

/// One thread of the mio server: accepts on its own listener and serves what it accepted.
fn mio_thread(mut poll: Poll, listener: TcpListener, stop: &AtomicBool) {
    let mut events = Events::with_capacity(1024);
    let mut connections: Vec<Option<MioConnection>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    while !stop.load(Ordering::Acquire) {
        if let Err(error) = poll.poll(&mut events, None) {
            assert_eq!(error.kind(), io::ErrorKind::Interrupted, "mio: poll failed");
            continue;
        }
        for event in &events {
            match event.token() {
                WAKER => {}
                LISTENER => loop {
                    let mut stream = match listener.accept() {
                        Ok((stream, _)) => stream,
                        Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => break,
                    };
                    let _ = stream.set_nodelay(true);
                    let slot = free.pop().unwrap_or_else(|| {
                        connections.push(None);
                        connections.len() - 1
                    });
                    let token = Token(slot + FIRST_CONNECTION);
                    if poll
                        .registry()
                        .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
                        .is_err()
                    {
                        free.push(slot);
                        continue;
                    }
                    let mut connection = MioConnection {
                        stream,
                        buffer: Box::new([0; BUFFER_BYTES]),
                        filled: 0,
                        written: 0,
                    };
                    // Bytes may have arrived before the registration: serve them now.
                    match connection.serve() {
                        Served::Open => connections[slot] = Some(connection),
                        Served::Closed => free.push(slot),
                    }
                },
                Token(token) => {
                    let slot = token - FIRST_CONNECTION;
                    let Some(Some(connection)) = connections.get_mut(slot) else {
                        continue;
                    };
                    if let Served::Closed = connection.serve() {
                        connections[slot] = None;
                        free.push(slot);
                    }
                }
            }
        }
    }
}
