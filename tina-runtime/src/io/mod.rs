//! TCP on the shard's reactor.
//!
//! Isolates never make syscalls. Each shard that the boot spec gives sockets
//! ([`BootSpec::sockets`](crate::BootSpec::sockets) or a [`Listen`] declaration) owns a
//! mio `Poll` (epoll on Linux), a fixed table of socket entries and the buffers its reads land
//! in. An isolate asks through its [`Ctx`](crate::Ctx) — `connect`, `read`, `write`,
//! `shutdown_write`, `close`, … — and the reactor performs the non-blocking call and reports
//! the outcome as an [`IoEvent`] message, delivered through the control queue (reserved
//! capacity, like a fired timer) to the isolate's handler for `IoEvent`.
//!
//! The rules (see DESIGN.md, "I/O"):
//!
//! * **A pending read never blocks the mailbox.** `ctx.read(socket)` arms one read and
//!   returns; the bytes come later as [`IoEvent::Read`], and meanwhile the isolate handles
//!   its other messages. One read is armed at a time per socket (like Erlang's
//!   `{active, once}`): a slow isolate slows its peer through the kernel's TCP window, never
//!   through a queue.
//! * **Buffers are taken at readiness.** A socket waiting for bytes holds no buffer. When it
//!   becomes readable, the reactor takes a block from the shard's largest transfer-buffer
//!   class and reads into it; the handler gets it as a [`Buffer`](crate::Buffer), to drop
//!   (the block goes back) or keep — for instance written straight back (zero-copy echo).
//!   With no block free the read waits (the socket stays readable) and is counted in
//!   `io_reads_delayed`; no byte is dropped.
//! * **Writes are bounded.** `ctx.write` puts a buffer on the socket's send queue
//!   ([`SEND_QUEUE`] buffers); a full queue refuses the write and hands the buffer back
//!   ([`WriteRefused`]), and an [`IoEvent::Drained`] follows once the queue has room again.
//! * **Sockets are owned and generational.** A [`Socket`] names one entry of its shard's
//!   table and one incarnation of it; once closed, every copy of it is stale. When its owner
//!   ends or crashes, teardown closes its sockets and returns their buffers. A socket moves
//!   to another isolate (on this shard or another) only through [`Ctx::transfer`]
//!   (`crate::Ctx::transfer`) and [`Ctx::adopt`](crate::Ctx::adopt).
//! * **Every wait has a deadline**: connect takes a timeout, reads and writes may have one
//!   ([`Ctx::read_within`](crate::Ctx::read_within),
//!   [`Ctx::set_write_timeout`](crate::Ctx::set_write_timeout)), through the timer wheel.
//!
//! In a [`Simulation`](crate::Simulation) the same calls run on a simulated network
//! (in-memory byte streams with bounded windows, partial reads and writes, FIN, RST and
//! refused connects, deterministic from the seed), so the same isolates serve simulated
//! clients unchanged; [`Simulation::listener_addr`](crate::Simulation::listener_addr) gives
//! a declared listener's simulated address. Fault injection on it is not built yet.

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use tina_mailbox::{Buffer, BufferPool, PoolIndex};

use crate::envelope::{Envelope, Payload};
use crate::handle::RawHandle;
use crate::shard::core::Core;
use crate::timer::{TimerAction, TimerId};

mod ctx;
mod listen;
mod sim;

pub(crate) use sim::SimNet;

pub use listen::Listen;
pub(crate) use listen::{ListenerSpec, bind_listeners, type_and_bound};

/// How many buffers a socket's send queue holds; a write beyond them is refused.
pub const SEND_QUEUE: usize = 8;

/// After a refused write, [`IoEvent::Drained`] is sent once the send queue holds this many
/// buffers or fewer.
pub const SEND_LOW_WATER: usize = SEND_QUEUE / 2;

/// How many connections one listener accepts per tick (the rest wait in the kernel's
/// backlog until the next tick).
const ACCEPT_BATCH: usize = 64;

/// What one socket entry costs the shard at boot (the kernel's socket memory aside).
pub(crate) const BYTES_PER_SOCKET: usize = size_of::<Entry>() + 2 * size_of::<u32>();

/// The poll token of the shard's waker (peers wake a sleeping shard through it).
const WAKER: Token = Token(usize::MAX - 1);
/// The poll token of the shard's timerfd (sub-millisecond sleeps).
const TIMER: Token = Token(usize::MAX - 2);

/// "No entry" in the intrusive lists.
const NONE: u32 = u32::MAX;

/// A TCP socket owned by one isolate: an entry of its shard's socket table and one
/// incarnation of it. Plain data: copy it into messages and state freely; once the socket is
/// closed, every copy is stale and the calls that take it return [`IoError::Stale`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Socket {
    shard: u16,
    index: u32,
    generation: u32,
}

impl Socket {
    /// The shard whose reactor serves this socket.
    pub fn shard(&self) -> crate::ShardId {
        crate::ShardId(self.shard)
    }
}

/// What a socket was waiting for when its deadline passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wait {
    /// The connect did not finish in time; the socket is closed.
    Connect,
    /// No bytes arrived in time for the armed read (see [`Ctx::read_within`](crate::Ctx::read_within)).
    /// The socket stays open; the read is disarmed.
    Read,
    /// Queued bytes made no progress in time (see
    /// [`Ctx::set_write_timeout`](crate::Ctx::set_write_timeout)), usually a peer that does
    /// not read. The socket stays open with its queue; most owners close it.
    Write,
}

/// Why an I/O call or operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IoError {
    /// The socket is closed, or not this isolate's.
    Stale,
    /// The shard's socket table is full (see [`BootSpec::sockets`](crate::BootSpec::sockets)).
    NoSocketSlot,
    /// A read is already armed on this socket: one at a time.
    ReadArmed,
    /// The write side was shut down (or a close is flushing).
    WriteShut,
    /// The socket's send queue is full: wait for [`IoEvent::Drained`].
    QueueFull,
    /// No room for the operation's completion (the control reserve) or, for an operation
    /// with a deadline (`connect`, `read_within`), for its timer (every one of the
    /// spec's `timer_slots` is pending); try again later, or size the spec for it.
    PoolExhausted,
    /// The peer refused the connection (nothing listens there).
    Refused,
    /// The peer reset the connection.
    Reset,
    /// This shard has no reactor: the spec gave it no sockets.
    Unsupported,
    /// [`Ctx::write_bytes`](crate::Ctx::write_bytes) was given more bytes than the spec's
    /// largest buffer block holds: no retry helps; split the bytes, or declare a larger
    /// class.
    TooLarge,
    /// Any other OS error, by its `errno`.
    Os(i32),
}

impl IoError {
    fn of(error: &std::io::Error) -> Self {
        match error.kind() {
            std::io::ErrorKind::ConnectionRefused => IoError::Refused,
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe => IoError::Reset,
            _ => IoError::Os(error.raw_os_error().unwrap_or(0)),
        }
    }
}

impl core::fmt::Display for IoError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            IoError::Stale => formatter.write_str("the socket is closed or not this isolate's"),
            IoError::NoSocketSlot => formatter.write_str(
                "the shard's socket table is full; raise BootSpec::sockets or close idle sockets",
            ),
            IoError::ReadArmed => {
                formatter.write_str("a read is already armed on this socket (one at a time)")
            }
            IoError::WriteShut => formatter.write_str("the socket's write side is shut down"),
            IoError::QueueFull => {
                formatter.write_str("the socket's send queue is full; retry after IoEvent::Drained")
            }
            IoError::PoolExhausted => formatter.write_str(
                "no control-reserve envelope for the completion, or no timer slot for its \
                     deadline; retry, or raise the spec's timer_slots",
            ),
            IoError::Refused => formatter.write_str("connection refused"),
            IoError::Reset => formatter.write_str("connection reset by peer"),
            IoError::Unsupported => formatter
                .write_str("this shard has no reactor (no sockets in the spec, or a simulation)"),
            IoError::TooLarge => formatter.write_str(
                "more bytes than the spec's largest buffer block holds; split them or declare \
                 a larger buffer class",
            ),
            IoError::Os(errno) => {
                write!(formatter, "{}", std::io::Error::from_raw_os_error(*errno))
            }
        }
    }
}

impl std::error::Error for IoError {}

/// A write the send queue had no room for: the data comes back, to retry after
/// [`IoEvent::Drained`] (or to drop).
#[derive(Debug)]
pub struct WriteRefused {
    /// Why it was refused: [`IoError::QueueFull`] (an [`IoEvent::Drained`] follows),
    /// [`IoError::Stale`], [`IoError::WriteShut`] or [`IoError::Unsupported`].
    pub error: IoError,
    /// The data, untouched.
    pub data: Buffer,
}

/// What the reactor reports to a socket's owner. Delivered like a fired timer: through the
/// control queue, ahead of ordinary mail.
#[derive(Debug)]
pub enum IoEvent {
    /// A connect finished: the socket is ready to read and write.
    Connected {
        /// The socket.
        socket: Socket,
    },
    /// A listener opened with [`Ctx::listen`](crate::Ctx::listen) accepted a connection,
    /// owned by the listener's owner.
    Accepted {
        /// The listening socket.
        listener: Socket,
        /// The new connection.
        socket: Socket,
    },
    /// Bytes arrived for the armed read. `data` is a block from the shard's pool: drop it to
    /// give it back, or keep it (write it, send it, store it) as a transfer buffer.
    Read {
        /// The socket.
        socket: Socket,
        /// The bytes (never empty).
        data: Buffer,
    },
    /// The peer shut its write side (end of stream): no more reads. Writing may still work.
    Eof {
        /// The socket.
        socket: Socket,
    },
    /// The send queue has room again after a refused write.
    Drained {
        /// The socket.
        socket: Socket,
    },
    /// A deadline passed (see [`Wait`]).
    TimedOut {
        /// The socket.
        socket: Socket,
        /// What it was waiting for.
        wait: Wait,
    },
    /// The connection failed (reset, refused connect, OS error): the socket is closed and
    /// stale, its queued writes dropped.
    Failed {
        /// The socket (now stale).
        socket: Socket,
        /// Why.
        error: IoError,
    },
}

impl IoEvent {
    /// The socket the event is about.
    pub fn socket(&self) -> Socket {
        match self {
            IoEvent::Connected { socket }
            | IoEvent::Accepted { socket, .. }
            | IoEvent::Read { socket, .. }
            | IoEvent::Eof { socket }
            | IoEvent::Drained { socket }
            | IoEvent::TimedOut { socket, .. }
            | IoEvent::Failed { socket, .. } => *socket,
        }
    }
}

/// A socket on its way to another isolate (see [`Ctx::transfer`](crate::Ctx::transfer)):
/// it owns the file descriptor, so one that is never adopted is closed when dropped.
#[derive(Debug)]
pub struct SocketTransfer {
    fd: Option<OwnedFd>,
    /// A simulated stream end instead, with its network (closed on drop if never adopted).
    sim: Option<(Arc<std::sync::Mutex<SimNet>>, u32)>,
    listener: bool,
}

impl core::fmt::Debug for SimNet {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str("SimNet")
    }
}

impl SocketTransfer {
    fn take(&mut self) -> Option<OwnedFd> {
        self.fd.take()
    }
}

impl Drop for SocketTransfer {
    fn drop(&mut self) {
        if let Some((net, end)) = self.sim.take() {
            let mut net = net
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if self.listener {
                net.close_listener(end);
            } else {
                net.close(end);
            }
        }
    }
}

/// Turns an event into the owner's message payload (`Payload::new(I::wrap(event))`).
pub(crate) type WrapEvent = fn(IoEvent) -> Payload;

/// The owner's side of an entry: who gets its events and how.
#[derive(Clone, Copy)]
struct Owner {
    handle: RawHandle,
    global: u32,
    wrap: WrapEvent,
}

enum Source {
    Free,
    Stream(TcpStream),
    Listener(TcpListener),
    /// A stream end of the simulated network.
    SimStream(u32),
    /// A listener of the simulated network.
    SimListener(u32),
}

impl Source {
    fn is_stream(&self) -> bool {
        matches!(self, Source::Stream(_) | Source::SimStream(_))
    }

    fn is_listener(&self) -> bool {
        matches!(self, Source::Listener(_) | Source::SimListener(_))
    }
}

/// One socket of the table.
struct Entry {
    /// Taken from the free stack (a socket, or a close still flushing).
    in_use: bool,
    generation: u32,
    source: Source,
    owner: Option<Owner>,
    /// The owner's list of sockets (`NONE`-terminated).
    next_owned: u32,
    previous_owned: u32,
    /// Edge-triggered readiness, remembered until an attempt finds the socket drained.
    readable: bool,
    writable: bool,
    read_armed: bool,
    accept_armed: bool,
    connecting: bool,
    /// The peer's end of stream was reported: no more reads.
    read_closed: bool,
    /// The kernel reported the peer's FIN (or an error): a short read does not end the
    /// readiness, the end of stream is still to be read.
    peer_hup: bool,
    /// `shutdown_write` asked: shut once the queue is empty, refuse further writes.
    write_shut: bool,
    /// `close` asked: flushing the queue, then the socket is closed (no owner any more).
    closing: bool,
    /// A write was refused for a full queue: send `Drained` at the low-water mark.
    drained_wanted: bool,
    /// Closing resets the connection (SO_LINGER 0), in the simulated network too.
    reset_on_close: bool,
    /// On the reactor's work list.
    queued: bool,
    /// Accepted by a declared listener (index), counted against its bound until closed.
    listener: u16,
    send: heapless::Deque<Buffer, SEND_QUEUE>,
    /// Bytes of the queue's front buffer already written.
    sent: usize,
    write_timeout: u64,
    read_timer: Option<TimerId>,
    write_timer: Option<TimerId>,
}

impl Entry {
    /// Whether its readiness lets the reactor do something it was asked for: a read, a
    /// connect's outcome, an accept, or queued writes (a shutdown or close among them).
    fn wants_work(&self) -> bool {
        (self.readable && (self.read_armed || self.connecting || self.source.is_listener()))
            || (self.writable
                && (self.connecting || !self.send.is_empty() || self.write_shut || self.closing))
    }

    fn new() -> Self {
        Entry {
            in_use: false,
            generation: 0,
            source: Source::Free,
            owner: None,
            next_owned: NONE,
            previous_owned: NONE,
            readable: false,
            writable: false,
            read_armed: false,
            accept_armed: false,
            connecting: false,
            read_closed: false,
            peer_hup: false,
            write_shut: false,
            closing: false,
            drained_wanted: false,
            reset_on_close: false,
            queued: false,
            listener: u16::MAX,
            send: heapless::Deque::new(),
            sent: 0,
            write_timeout: 0,
            read_timer: None,
            write_timer: None,
        }
    }
}

/// A declared listener as its shard runs it.
pub(crate) struct ShardListener {
    /// Its entry in the table.
    entry: u32,
    /// Spawns the connection isolate for an accepted socket; `None` when no slot or pool.
    spawn: fn(&mut Core, u16, Socket) -> Option<RawHandle>,
    wrap: WrapEvent,
    type_index: u16,
    bound: usize,
    open: usize,
    nodelay: bool,
}

/// The timer action code of an I/O deadline: the entry index and the wait, packed.
fn timer_code(index: u32, wait: Wait) -> u32 {
    let kind = match wait {
        Wait::Connect => 0,
        Wait::Read => 1,
        Wait::Write => 2,
    };
    index << 2 | kind
}

/// One shard's reactor.
pub(crate) struct Io {
    shard: u16,
    /// The OS reactor (`None` in simulation).
    poll: Option<Poll>,
    /// The simulated network (in simulation only), and this shard's I/O stream of the seed
    /// (how much each simulated read takes).
    net: Option<(Arc<std::sync::Mutex<SimNet>>, crate::sim::Rng)>,
    events: Events,
    entries: Vec<Entry>,
    /// Free entries (a stack).
    free: Vec<u32>,
    /// The head of each slot's list of owned sockets, by slot-table index.
    owned: Vec<u32>,
    /// Entries with work for the reactor (readiness to use, writes to flush).
    work: Vec<u32>,
    /// Declared listeners served by this shard.
    pub(crate) listeners: Vec<ShardListener>,
    /// Where reads land: the shard's largest buffer class.
    read_pool: Option<Arc<BufferPool>>,
    /// Sub-millisecond sleeps: armed before a sleep, registered in `poll`.
    timerfd: Option<OwnedFd>,
    /// Where every declared listener of the system was bound, by declaration order.
    pub(crate) listener_addrs: Vec<SocketAddr>,
    /// The shard is quarantined: its declared listeners accept and close at once (counted
    /// as refused), so clients learn at once instead of waiting in a backlog.
    pub(crate) refusing: bool,
}

impl Io {
    /// The socket table's integrity, for the simulator's checks: every entry is either in
    /// use or on the free stack (exactly once), free entries hold no source, and every
    /// owner's list links only entries in use that name that owner.
    pub(crate) fn check(&self) -> Result<(), String> {
        let mut on_free = vec![false; self.entries.len()];
        for &index in &self.free {
            let Some(seen) = on_free.get_mut(index as usize) else {
                return Err(format!("free stack holds entry {index}, beyond the table"));
            };
            if *seen {
                return Err(format!("entry {index} is on the free stack twice"));
            }
            *seen = true;
        }
        for (index, entry) in self.entries.iter().enumerate() {
            if entry.in_use == on_free[index] {
                return Err(format!(
                    "entry {index}: in use {} but on the free stack {}",
                    entry.in_use, on_free[index]
                ));
            }
            if !entry.in_use && !matches!(entry.source, Source::Free) {
                return Err(format!("free entry {index} still holds a socket"));
            }
        }
        for (global, &head) in self.owned.iter().enumerate() {
            let mut index = head;
            let mut steps = 0;
            while index != NONE {
                let Some(entry) = self.entries.get(index as usize) else {
                    return Err(format!("slot {global}'s socket list links entry {index}"));
                };
                let owner = entry.owner.as_ref().map(|owner| owner.global as usize);
                if !entry.in_use || owner != Some(global) {
                    return Err(format!(
                        "slot {global}'s socket list holds entry {index}, owned by {owner:?} \
                         (in use {})",
                        entry.in_use
                    ));
                }
                steps += 1;
                if steps > self.entries.len() {
                    return Err(format!("slot {global}'s socket list loops"));
                }
                index = entry.next_owned;
            }
        }
        Ok(())
    }

    /// A reactor with `sockets` entries for a shard with `slots` isolate slots.
    pub(crate) fn new(
        shard: u16,
        sockets: usize,
        slots: usize,
        read_pool: Option<Arc<BufferPool>>,
    ) -> std::io::Result<Self> {
        let poll = Poll::new()?;
        let timerfd = new_timerfd();
        if let Some(fd) = &timerfd {
            poll.registry().register(
                &mut mio::unix::SourceFd(&fd.as_raw_fd()),
                TIMER,
                Interest::READABLE,
            )?;
        }
        // The socket table is sized by the spec: a refused allocation is a boot error.
        let refused = |refused: crate::memory::Refused| {
            std::io::Error::new(
                std::io::ErrorKind::OutOfMemory,
                format!(
                    "shard {shard}: the allocator refused {} bytes for the socket table (the \
                     spec's socket entries): lower them",
                    refused.bytes
                ),
            )
        };
        let entries = crate::memory::try_boxed(sockets, |_| Entry::new()).map_err(refused)?;
        let free = crate::memory::try_boxed(sockets, |index| (sockets - 1 - index) as u32)
            .map_err(refused)?;
        let owned = crate::memory::try_boxed(slots, |_| NONE).map_err(refused)?;
        let work = crate::memory::try_vec(sockets).map_err(refused)?;
        Ok(Io {
            shard,
            poll: Some(poll),
            net: None,
            events: Events::with_capacity(1024),
            entries: entries.into_vec(),
            free: free.into_vec(),
            owned: owned.into_vec(),
            work,
            listeners: Vec::new(),
            read_pool,
            timerfd,
            listener_addrs: Vec::new(),
            refusing: false,
        })
    }

    /// A reactor on the simulated network `net`, reads sized by `rng`.
    pub(crate) fn simulated(
        shard: u16,
        sockets: usize,
        slots: usize,
        read_pool: Option<Arc<BufferPool>>,
        net: Arc<std::sync::Mutex<SimNet>>,
        rng: crate::sim::Rng,
    ) -> Self {
        Io {
            shard,
            poll: None,
            net: Some((net, rng)),
            events: Events::with_capacity(0),
            entries: (0..sockets).map(|_| Entry::new()).collect(),
            free: (0..sockets as u32).rev().collect(),
            owned: vec![NONE; slots],
            work: Vec::with_capacity(sockets),
            listeners: Vec::new(),
            read_pool,
            timerfd: None,
            listener_addrs: Vec::new(),
            refusing: false,
        }
    }

    /// A waker for peers to wake this shard while it sleeps in its poll.
    pub(crate) fn waker(&self) -> std::io::Result<mio::Waker> {
        let poll = self
            .poll
            .as_ref()
            .ok_or_else(|| std::io::Error::other("simulated"))?;
        mio::Waker::new(poll.registry(), WAKER)
    }

    /// The simulated network, locked (simulation only; one thread, never contended).
    fn net(&self) -> Option<std::sync::MutexGuard<'_, SimNet>> {
        self.net.as_ref().map(|(net, _)| {
            net.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        })
    }

    /// Reads from entry `index`'s stream into `into` (a simulated read takes a length drawn
    /// from the shard's I/O stream, so readers see every split point).
    fn source_read(&mut self, index: usize, into: &mut [u8]) -> std::io::Result<usize> {
        match &mut self.entries[index].source {
            Source::Stream(stream) => stream.read(into),
            Source::SimStream(end) => {
                let end = *end;
                let shard = self.shard;
                let Some((net, rng)) = self.net.as_mut() else {
                    return Err(std::io::ErrorKind::NotConnected.into());
                };
                let max = 1 + rng.below(into.len().max(1) as u64) as usize;
                let mut net = net
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                net.read(shard, end, into, max)
            }
            _ => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }

    /// Writes `bytes` to entry `index`'s stream.
    fn source_write(&mut self, index: usize, bytes: &[u8]) -> std::io::Result<usize> {
        match &mut self.entries[index].source {
            Source::Stream(stream) => stream.write(bytes),
            Source::SimStream(end) => {
                let end = *end;
                let shard = self.shard;
                match self.net() {
                    Some(mut net) => net.write(shard, end, bytes),
                    None => Err(std::io::ErrorKind::NotConnected.into()),
                }
            }
            _ => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }

    /// Shuts the write side of entry `index`'s stream.
    fn source_shutdown(&mut self, index: usize) {
        match &self.entries[index].source {
            Source::Stream(stream) => {
                let _ = stream.shutdown(std::net::Shutdown::Write);
            }
            Source::SimStream(end) => {
                let end = *end;
                if let Some(mut net) = self.net() {
                    net.shutdown_write(end);
                }
            }
            _ => {}
        }
    }

    /// Whether entry `index`'s connect finished (`Ok(false)`: not yet), or why it failed.
    fn source_connected(&mut self, index: usize) -> std::io::Result<bool> {
        match &self.entries[index].source {
            Source::Stream(stream) => {
                if let Some(error) = stream.take_error()? {
                    return Err(error);
                }
                match stream.peer_addr() {
                    Ok(_) => Ok(true),
                    Err(error) if error.kind() == std::io::ErrorKind::NotConnected => Ok(false),
                    Err(error) => Err(error),
                }
            }
            Source::SimStream(end) => {
                let end = *end;
                match self.net() {
                    Some(net) => net.connected(end),
                    None => Err(std::io::ErrorKind::NotConnected.into()),
                }
            }
            _ => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }

    /// Accepts one connection on listener entry `index`.
    fn source_accept(&mut self, index: usize) -> std::io::Result<Source> {
        match &self.entries[index].source {
            Source::Listener(listener) => {
                listener.accept().map(|(stream, _)| Source::Stream(stream))
            }
            Source::SimListener(listener) => {
                let listener = *listener;
                match self.net() {
                    Some(mut net) => net.accept(listener).map(Source::SimStream),
                    None => Err(std::io::ErrorKind::NotConnected.into()),
                }
            }
            _ => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }

    /// Records the simulated network's readiness on every simulated socket and queues the
    /// ones with work (level-triggered: asked every tick).
    fn absorb_simulated(&mut self) {
        let Some((net, _)) = self.net.as_ref() else {
            return;
        };
        let net = net
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (index, entry) in self.entries.iter_mut().enumerate() {
            if !entry.in_use {
                continue;
            }
            match entry.source {
                Source::SimStream(end) => {
                    entry.readable = net.readable(end);
                    entry.writable = net.writable(end);
                }
                Source::SimListener(listener) => entry.readable = net.acceptable(listener),
                _ => continue,
            }
            if entry.wants_work() && !entry.queued {
                entry.queued = true;
                self.work.push(index as u32);
            }
        }
    }

    /// Open sockets (listeners included).
    pub(crate) fn open(&self) -> usize {
        self.entries.len() - self.free.len()
    }

    fn socket_of(&self, index: u32) -> Socket {
        Socket {
            shard: self.shard,
            index,
            generation: self.entries[index as usize].generation,
        }
    }

    /// The entry of `socket` if it is current and owned by `owner`.
    fn owned_entry(&self, socket: Socket, owner: RawHandle) -> Result<usize, IoError> {
        if socket.shard != self.shard {
            return Err(IoError::Stale);
        }
        let index = socket.index as usize;
        match self.entries.get(index) {
            Some(entry)
                if entry.generation == socket.generation
                    && !entry.closing
                    && entry.owner.is_some_and(|o| o.handle == owner) =>
            {
                Ok(index)
            }
            _ => Err(IoError::Stale),
        }
    }

    fn enqueue_work(&mut self, index: usize) {
        let entry = &mut self.entries[index];
        if !entry.queued {
            entry.queued = true;
            // Capacity: one place per entry, and an entry is queued at most once.
            self.work.push(index as u32);
        }
    }

    /// Takes a free entry for `source`, owned by `owner`; registers it with the poll.
    fn insert(&mut self, mut source: Source, owner: Option<Owner>) -> Result<u32, IoError> {
        let Some(index) = self.free.pop() else {
            return Err(IoError::NoSocketSlot);
        };
        let token = Token(index as usize);
        let registered = match (&mut source, &self.poll) {
            (Source::Stream(stream), Some(poll)) => {
                poll.registry()
                    .register(stream, token, Interest::READABLE | Interest::WRITABLE)
            }
            (Source::Listener(listener), Some(poll)) => {
                poll.registry()
                    .register(listener, token, Interest::READABLE)
            }
            _ => Ok(()),
        };
        if let Err(error) = registered {
            self.free.push(index);
            return Err(IoError::of(&error));
        }
        let entry = &mut self.entries[index as usize];
        let generation = entry.generation;
        *entry = Entry::new();
        entry.generation = generation;
        entry.in_use = true;
        entry.source = source;
        if let Some(owner) = owner {
            self.link_owner(index, owner);
        }
        Ok(index)
    }

    fn link_owner(&mut self, index: u32, owner: Owner) {
        let head = self.owned[owner.global as usize];
        let entry = &mut self.entries[index as usize];
        entry.owner = Some(owner);
        entry.next_owned = head;
        entry.previous_owned = NONE;
        if head != NONE {
            self.entries[head as usize].previous_owned = index;
        }
        self.owned[owner.global as usize] = index;
    }

    fn unlink_owner(&mut self, index: u32) {
        let entry = &mut self.entries[index as usize];
        let Some(owner) = entry.owner.take() else {
            return;
        };
        let (previous, next) = (entry.previous_owned, entry.next_owned);
        entry.next_owned = NONE;
        entry.previous_owned = NONE;
        if previous == NONE {
            self.owned[owner.global as usize] = next;
        } else {
            self.entries[previous as usize].next_owned = next;
        }
        if next != NONE {
            self.entries[next as usize].previous_owned = previous;
        }
    }

    /// Closes entry `index` at once: deregisters and closes the descriptor, drops its queue
    /// (the buffers go back to their pools), cancels its deadlines, frees the entry and makes
    /// every copy of its socket stale.
    fn close_now(&mut self, core_timers: &mut crate::timer::Timers, index: u32) {
        if !self.entries[index as usize].in_use {
            return;
        }
        self.unlink_owner(index);
        let entry = &mut self.entries[index as usize];
        let reset = entry.reset_on_close;
        match core::mem::replace(&mut entry.source, Source::Free) {
            Source::Stream(mut stream) => {
                if let Some(poll) = &self.poll {
                    let _ = poll.registry().deregister(&mut stream);
                }
                if reset {
                    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                }
            }
            Source::Listener(mut listener) => {
                if let Some(poll) = &self.poll {
                    let _ = poll.registry().deregister(&mut listener);
                }
            }
            Source::SimStream(end) => {
                if let Some(mut net) = self.net() {
                    if reset {
                        net.reset(end)
                    } else {
                        net.close(end)
                    }
                }
            }
            Source::SimListener(listener) => {
                if let Some(mut net) = self.net() {
                    net.close_listener(listener);
                }
            }
            Source::Free => {}
        }
        let entry = &mut self.entries[index as usize];
        entry.in_use = false;
        while entry.send.pop_front().is_some() {}
        for timer in [entry.read_timer.take(), entry.write_timer.take()]
            .into_iter()
            .flatten()
        {
            core_timers.cancel(timer);
        }
        if entry.listener != u16::MAX
            && let Some(listener) = self.listeners.get_mut(entry.listener as usize)
        {
            listener.open = listener.open.saturating_sub(1);
        }
        entry.generation = entry.generation.wrapping_add(1);
        entry.queued = false;
        self.free.push(index);
    }

    /// Closes every socket `global` owns (its teardown).
    pub(crate) fn release_owned(
        &mut self,
        timers: &mut crate::timer::Timers,
        global: usize,
    ) -> usize {
        let mut closed = 0;
        while self.owned[global] != NONE {
            let index = self.owned[global];
            self.close_now(timers, index);
            closed += 1;
        }
        closed
    }
}

/// A non-blocking, close-on-exec timerfd on the monotonic clock, if the OS gives one.
fn new_timerfd() -> Option<OwnedFd> {
    // SAFETY: `timerfd_create` takes two integer flags and returns a new descriptor or -1;
    // no memory is passed.
    let fd = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` was just returned by `timerfd_create`, is open, and nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Arms `fd` to expire once, `after` from now (zero disarms it).
fn arm_timerfd(fd: &OwnedFd, after: Duration) {
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: after.as_secs() as libc::time_t,
            tv_nsec: after.subsec_nanos() as libc::c_long,
        },
    };
    // SAFETY: `fd` is an open timerfd owned by the caller; `spec` is a valid, initialised
    // `itimerspec` that lives across the call; the old value is not asked for (null).
    unsafe {
        libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, core::ptr::null_mut());
    }
}

/// Empties the timerfd's expiry count (it is level-triggered in the kernel).
fn drain_timerfd(fd: &OwnedFd) {
    let mut count = 0u64;
    // SAFETY: reads at most 8 bytes into `count`, a valid, writable u64 on the stack; the fd
    // is non-blocking, so an empty count returns EAGAIN at once.
    unsafe {
        libc::read(
            fd.as_raw_fd(),
            (&mut count as *mut u64).cast::<libc::c_void>(),
            8,
        );
    }
}

// ---- The reactor's work, driven by the shard's tick. ----

impl Core {
    /// Step 2 of the tick: takes the readiness the kernel reports (without waiting) and
    /// performs what it allows — reads into fresh buffers, accepts, connects, writes.
    /// Returns how much it did.
    pub(crate) fn poll_io(&mut self) -> usize {
        let now = self.now;
        let Some(io) = self.io.as_mut() else {
            return 0;
        };
        // The simulated network runs on simulated time: latency, stalls and connects
        // resolve by it. Told before anything else, so this tick's socket calls see it.
        if let Some(mut net) = io.net() {
            net.set_now(now);
        }
        if io.open() == 0 {
            return 0;
        }
        match io.poll.as_mut() {
            Some(poll) => {
                if poll.poll(&mut io.events, Some(Duration::ZERO)).is_err() {
                    return 0;
                }
                io.absorb_events();
            }
            None => io.absorb_simulated(),
        }
        self.run_io_work()
    }

    /// Sleeps in the poll until readiness, a peer's wake-up or `timeout` (to the
    /// nanosecond, through the timerfd), then records the readiness it got.
    pub(crate) fn sleep_in_poll(&mut self, timeout: Duration) {
        let Some(io) = self.io.as_mut() else {
            return;
        };
        let mut poll_timeout = Some(timeout);
        if let Some(fd) = &io.timerfd
            && timeout < crate::system::SLEEP_MAX
            && !timeout.is_zero()
        {
            arm_timerfd(fd, timeout);
            // The timerfd ends the wait; the poll's own timeout (milliseconds) is only a
            // backstop.
            poll_timeout = Some(crate::system::SLEEP_MAX);
        }
        if let Some(poll) = io.poll.as_mut() {
            let _ = poll.poll(&mut io.events, poll_timeout);
            io.absorb_events();
        }
    }

    /// Whether reactor work waits for a retry (a delayed read or event).
    pub(crate) fn io_waiting(&self) -> bool {
        self.io.as_ref().is_some_and(|io| !io.work.is_empty())
    }

    /// Step 4 of the tick (with the ring flush): writes what handlers queued this tick.
    pub(crate) fn flush_io(&mut self) -> usize {
        match &self.io {
            Some(io) if !io.work.is_empty() => self.run_io_work(),
            _ => 0,
        }
    }

    /// Runs the reactor's work list once: every entry on it gets one attempt at what its
    /// readiness and requests allow; entries that must wait (no buffer, no envelope, accept
    /// batch used up) stay on it for the next tick.
    fn run_io_work(&mut self) -> usize {
        let mut done = 0;
        let count = self.io.as_ref().map_or(0, |io| io.work.len());
        for position in 0..count {
            let Some(io) = self.io.as_mut() else {
                return done;
            };
            let index = io.work[position];
            io.entries[index as usize].queued = false;
            // May put entries (this one included) back on the list, behind `count`.
            done += self.serve_entry(index);
        }
        if let Some(io) = self.io.as_mut() {
            io.work.drain(..count);
        }
        done
    }

    /// One attempt at everything entry `index` is ready for.
    fn serve_entry(&mut self, index: u32) -> usize {
        let mut done = 0;
        let Some(io) = self.io.as_ref() else {
            return 0;
        };
        let entry = &io.entries[index as usize];
        if entry.source.is_listener() {
            if entry.readable {
                done += self.accept_ready(index);
            }
            return done;
        }
        if !entry.source.is_stream() {
            return 0;
        }
        if entry.connecting {
            if entry.writable || entry.readable {
                done += self.finish_connect(index);
            }
            return done;
        }
        if entry.read_armed && entry.readable {
            done += self.read_ready(index);
        }
        let Some(io) = self.io.as_ref() else {
            return done;
        };
        let entry = &io.entries[index as usize];
        if entry.source.is_stream()
            && entry.writable
            && (!entry.send.is_empty() || entry.write_shut)
        {
            done += self.write_ready(index);
        }
        done
    }

    /// Hands `event` to the owner of entry `index` through its control queue; false (the
    /// event is given back untouched by being dropped… never: see the caller) when the
    /// control reserve has no room.
    fn deliver_io(&mut self, owner: Owner, event: IoEvent) -> Result<(), IoEvent> {
        let Ok(global) = self.live_global(owner.handle) else {
            // The owner is gone (its teardown closes its sockets): nothing to tell.
            drop(event);
            return Ok(());
        };
        let Some(index) = self.reserve_io_envelope(owner) else {
            return Err(event);
        };
        self.post_io(owner, global, index, event);
        Ok(())
    }

    /// An envelope of the control reserve for an event to `owner` (counted as delayed when
    /// there is none: the caller retries next tick).
    fn reserve_io_envelope(&mut self, owner: Owner) -> Option<PoolIndex> {
        let index = self
            .pool
            .try_alloc_reserved_with(|| Envelope::user(owner.handle, Payload::empty()));
        if index.is_none() {
            self.counters.io_events_delayed += 1;
        }
        index
    }

    /// Puts `event` in the reserved envelope `index` and queues it on the owner's control
    /// queue (`global` is the owner's slot-table index).
    fn post_io(&mut self, owner: Owner, global: usize, index: PoolIndex, event: IoEvent) {
        self.pool.get_mut(index).payload = (owner.wrap)(event);
        self.pool.push_back(&mut self.slots[global].control, index);
        self.counters.io_events += 1;
        self.mark_ready(owner.handle.type_index(), owner.handle.slot());
    }

    /// Delivers an event that carries no data, keeping the entry on the work list if the
    /// control reserve is full (the condition is re-derived next tick).
    fn notify(&mut self, index: u32, event: IoEvent) -> bool {
        let Some(owner) = self
            .io
            .as_ref()
            .and_then(|io| io.entries[index as usize].owner)
        else {
            return true;
        };
        match self.deliver_io(owner, event) {
            Ok(()) => true,
            Err(_) => false,
        }
    }

    /// Closes entry `index` now and tells its owner why.
    fn fail(&mut self, index: u32, error: IoError) {
        let Some(io) = self.io.as_mut() else {
            return;
        };
        let socket = io.socket_of(index);
        let owner = io.entries[index as usize].owner;
        io.close_now(&mut self.timers, index);
        self.counters.io_failures += 1;
        if let Some(owner) = owner {
            // A failure that finds no envelope is still a closed socket; the owner learns it
            // at its next call (`Stale`). Counted as a delayed event.
            let _ = self.deliver_io(owner, IoEvent::Failed { socket, error });
        }
    }

    fn read_ready(&mut self, index: u32) -> usize {
        let Some(io) = self.io.as_mut() else {
            return 0;
        };
        let Some(pool) = io.read_pool.clone() else {
            return 0;
        };
        let socket = io.socket_of(index);
        let Some(owner) = io.entries[index as usize].owner else {
            return 0;
        };
        // The completion's envelope first: bytes are read only once they can be delivered.
        let Ok(global) = self.live_global(owner.handle) else {
            return 0;
        };
        let Some(envelope) = self.reserve_io_envelope(owner) else {
            self.requeue(index);
            return 0;
        };
        let Some(mut buffer) = pool.try_take() else {
            self.pool.remove(envelope);
            self.counters.io_reads_delayed += 1;
            self.requeue(index);
            return 0;
        };
        let io = self.io.as_mut().expect("checked above");
        if !io.entries[index as usize].source.is_stream() {
            self.pool.remove(envelope);
            return 0;
        }
        let result = loop {
            match io.source_read(index as usize, buffer.spare_mut()) {
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let entry = &mut io.entries[index as usize];
        let event = match result {
            Ok(0) => {
                entry.readable = false;
                entry.read_armed = false;
                entry.read_closed = true;
                IoEvent::Eof { socket }
            }
            Ok(read) => {
                // A short read emptied the kernel's queue: wait for the next edge (unless
                // the peer's FIN is already known: no edge would announce it again).
                if read < buffer.capacity() && !entry.peer_hup {
                    entry.readable = false;
                }
                entry.read_armed = false;
                buffer.set_len(read);
                self.counters.io_bytes_read += read as u64;
                IoEvent::Read {
                    socket,
                    data: buffer,
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                entry.readable = false;
                self.pool.remove(envelope);
                return 0;
            }
            Err(error) => {
                self.pool.remove(envelope);
                self.fail(index, IoError::of(&error));
                return 1;
            }
        };
        if let Some(timer) = entry.read_timer.take() {
            self.timers.cancel(timer);
        }
        self.post_io(owner, global, envelope, event);
        1
    }

    fn requeue(&mut self, index: u32) {
        if let Some(io) = self.io.as_mut() {
            io.enqueue_work(index as usize);
        }
    }

    fn write_ready(&mut self, index: u32) -> usize {
        let Some(io) = self.io.as_mut() else {
            return 0;
        };
        let slot = index as usize;
        if !io.entries[slot].source.is_stream() {
            return 0;
        }
        let mut written_total = 0u64;
        let mut failure = None;
        // Several blocks queued on a kernel socket: one vectored write for all of them, so a
        // pipelined client's replies leave in one syscall rather than one each. (The
        // simulated network takes them block by block below: its trace does not change.)
        let vectored =
            io.entries[slot].send.len() > 1 && matches!(io.entries[slot].source, Source::Stream(_));
        if vectored {
            let entry = &mut io.entries[slot];
            let result = {
                let mut slices = [std::io::IoSlice::new(&[]); SEND_QUEUE];
                for (position, block) in entry.send.iter().enumerate() {
                    let bytes = block.as_slice();
                    let start = if position == 0 { entry.sent } else { 0 };
                    slices[position] = std::io::IoSlice::new(&bytes[start..]);
                }
                let count = entry.send.len();
                match &mut entry.source {
                    Source::Stream(stream) => stream.write_vectored(&slices[..count]),
                    _ => Ok(0),
                }
            };
            match result {
                Ok(0) => failure = Some(IoError::Reset),
                Ok(written) => {
                    written_total += written as u64;
                    let mut left = written;
                    while let Some(front) = entry.send.front() {
                        let rest = front.len() - entry.sent;
                        if left < rest {
                            entry.sent += left;
                            // A short write: the kernel's buffer is full; wait for the edge.
                            entry.writable = false;
                            break;
                        }
                        left -= rest;
                        entry.sent = 0;
                        // The block goes back to its pool here.
                        drop(entry.send.pop_front());
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                    entry.writable = false;
                }
                Err(error) => failure = Some(IoError::of(&error)),
            }
        }
        // The front block is taken off the queue while it is written (and put back if it is
        // not finished), so the write can borrow the reactor.
        while !vectored && let Some(front) = io.entries[slot].send.pop_front() {
            let sent = io.entries[slot].sent;
            let result = io.source_write(slot, &front.as_slice()[sent..]);
            let entry = &mut io.entries[slot];
            let finished = match result {
                Ok(0) => {
                    failure = Some(IoError::Reset);
                    false
                }
                Ok(written) => {
                    written_total += written as u64;
                    entry.sent += written;
                    if entry.sent == front.len() {
                        entry.sent = 0;
                        true
                    } else {
                        // A short write: the kernel's buffer is full; wait for the edge.
                        entry.writable = false;
                        false
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => false,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                    entry.writable = false;
                    false
                }
                Err(error) => {
                    failure = Some(IoError::of(&error));
                    false
                }
            };
            if finished {
                // The block goes back to its pool here.
                drop(front);
                continue;
            }
            // Room: it was just taken off.
            let _ = entry.send.push_front(front);
            if failure.is_some() || !entry.writable {
                break;
            }
        }
        let entry = &io.entries[slot];
        let empty = entry.send.is_empty();
        if failure.is_none() && empty && entry.write_shut && !entry.closing {
            io.source_shutdown(slot);
        }
        self.counters.io_bytes_written += written_total;
        if let Some(error) = failure {
            self.fail(index, error);
            return 1;
        }
        let progress = written_total > 0;
        let io = self.io.as_mut().expect("checked above");
        let entry = &mut io.entries[index as usize];
        if empty && entry.closing {
            io.close_now(&mut self.timers, index);
            return 1;
        }
        // The write-progress deadline: restarted by progress, gone with an empty queue.
        if (empty || progress)
            && let Some(timer) = entry.write_timer.take()
        {
            self.timers.cancel(timer);
        }
        if !empty
            && entry.write_timeout > 0
            && entry.write_timer.is_none()
            && let Some(owner) = entry.owner
        {
            entry.write_timer = self.timers.schedule(
                self.now,
                entry.write_timeout,
                owner.handle,
                None,
                TimerAction::Io(timer_code(index, Wait::Write)),
            );
            if entry.write_timer.is_none() {
                // Every timer slot is taken: this wait runs without its deadline. Counted,
                // so an undersized `timer_slots` shows; retried at the next progress.
                self.counters.io_deadlines_unarmed += 1;
            }
        }
        if entry.drained_wanted && entry.send.len() <= SEND_LOW_WATER {
            let socket = io.socket_of(index);
            if self.notify(index, IoEvent::Drained { socket }) {
                if let Some(io) = self.io.as_mut() {
                    io.entries[index as usize].drained_wanted = false;
                }
            } else {
                self.requeue(index);
            }
        }
        usize::from(progress)
    }

    fn finish_connect(&mut self, index: u32) -> usize {
        let Some(io) = self.io.as_mut() else {
            return 0;
        };
        let socket = io.socket_of(index);
        if !io.entries[index as usize].source.is_stream() {
            return 0;
        }
        match io.source_connected(index as usize) {
            Ok(true) => {}
            Ok(false) => {
                // Not yet: the next edge will tell.
                let entry = &mut io.entries[index as usize];
                entry.writable = false;
                entry.readable = false;
                return 0;
            }
            Err(error) => {
                self.fail(index, IoError::of(&error));
                return 1;
            }
        }
        if !self.notify(index, IoEvent::Connected { socket }) {
            self.requeue(index);
            return 0;
        }
        let Some(io) = self.io.as_mut() else {
            return 1;
        };
        let entry = &mut io.entries[index as usize];
        entry.connecting = false;
        if let Some(timer) = entry.write_timer.take() {
            self.timers.cancel(timer);
        }
        // Readiness seen while connecting still counts for what comes next.
        if entry.readable || entry.writable {
            io.enqueue_work(index as usize);
        }
        1
    }

    fn accept_ready(&mut self, index: u32) -> usize {
        let mut accepted = 0;
        let declared = self.io.as_ref().and_then(|io| {
            io.listeners
                .iter()
                .position(|listener| listener.entry == index)
        });
        for _ in 0..ACCEPT_BATCH {
            let Some(io) = self.io.as_mut() else {
                return accepted;
            };
            let entry = &io.entries[index as usize];
            if declared.is_none() && !entry.accept_armed {
                return accepted;
            }
            if !entry.source.is_listener() {
                return accepted;
            }
            let accepted_source = io.source_accept(index as usize);
            let entry = &mut io.entries[index as usize];
            let stream = match accepted_source {
                Ok(stream) => stream,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                    entry.readable = false;
                    return accepted;
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    // Out of descriptors, or a connection that died in the backlog: counted,
                    // the listener stays.
                    self.counters.connections_refused += 1;
                    entry.readable = false;
                    return accepted;
                }
            };
            accepted += 1;
            match declared {
                Some(listener) => self.adopt_accepted(listener, stream),
                None => self.accept_manual(index, stream),
            }
        }
        // The batch is used up; the rest wait for the next tick.
        self.requeue(index);
        accepted
    }

    /// A connection accepted by a declared listener: spawns its connection isolate with
    /// the socket as its argument, or closes it at once (counted) beyond the bound.
    fn adopt_accepted(&mut self, listener: usize, stream: Source) {
        let Some(io) = self.io.as_mut() else {
            return;
        };
        let spec = &io.listeners[listener];
        if io.refusing || spec.open >= spec.bound || io.free.is_empty() {
            self.counters.connections_refused += 1;
            io.refuse(stream);
            return;
        }
        if spec.nodelay
            && let Source::Stream(stream) = &stream
        {
            let _ = stream.set_nodelay(true);
        }
        let (spawn, wrap, type_index) = (spec.spawn, spec.wrap, spec.type_index);
        let Ok(entry) = io.insert(stream, None) else {
            self.counters.connections_refused += 1;
            return;
        };
        io.entries[entry as usize].listener = listener as u16;
        io.entries[entry as usize].writable = true;
        io.listeners[listener].open += 1;
        let socket = io.socket_of(entry);
        let Some(handle) = spawn(self, type_index, socket) else {
            // No free connection slot (or no pool room for its init): closed, counted.
            self.counters.connections_refused += 1;
            if let Some(io) = self.io.as_mut() {
                reset_entry(io, entry);
                io.close_now(&mut self.timers, entry);
            }
            return;
        };
        let global = self.types[handle.type_index() as usize].base + handle.slot() as usize;
        self.counters.connections_accepted += 1;
        if let Some(io) = self.io.as_mut() {
            io.link_owner(
                entry,
                Owner {
                    handle,
                    global: global as u32,
                    wrap,
                },
            );
        }
    }

    /// A connection accepted by a listener opened with `Ctx::listen`: owned by the
    /// listener's owner, announced with `Accepted`; the accept is disarmed (one at a time).
    fn accept_manual(&mut self, listener_index: u32, stream: Source) {
        let Some(io) = self.io.as_mut() else {
            return;
        };
        let Some(owner) = io.entries[listener_index as usize].owner else {
            io.refuse(stream);
            return;
        };
        let Ok(entry) = io.insert(stream, Some(owner)) else {
            self.counters.connections_refused += 1;
            return;
        };
        io.entries[entry as usize].writable = true;
        io.entries[listener_index as usize].accept_armed = false;
        let event = IoEvent::Accepted {
            listener: io.socket_of(listener_index),
            socket: io.socket_of(entry),
        };
        self.counters.connections_accepted += 1;
        if self.deliver_io(owner, event).is_err()
            && let Some(io) = self.io.as_mut()
        {
            // No envelope for the news: the connection cannot be handed over; closed.
            io.close_now(&mut self.timers, entry);
            io.entries[listener_index as usize].accept_armed = true;
        }
    }

    /// An I/O deadline fired (from `fire_timers`).
    pub(crate) fn io_timed_out(&mut self, code: u32) {
        let index = code >> 2;
        let wait = match code & 3 {
            0 => Wait::Connect,
            1 => Wait::Read,
            _ => Wait::Write,
        };
        let Some(io) = self.io.as_mut() else {
            return;
        };
        let Some(entry) = io.entries.get_mut(index as usize) else {
            return;
        };
        let socket = Socket {
            shard: io.shard,
            index,
            generation: entry.generation,
        };
        match wait {
            Wait::Connect => {
                entry.write_timer = None;
                if !entry.connecting {
                    return;
                }
                let owner = entry.owner;
                io.close_now(&mut self.timers, index);
                if let Some(owner) = owner {
                    let _ = self.deliver_io(owner, IoEvent::TimedOut { socket, wait });
                }
            }
            Wait::Read => {
                entry.read_timer = None;
                if !entry.read_armed {
                    return;
                }
                entry.read_armed = false;
                let _ = self.notify(index, IoEvent::TimedOut { socket, wait });
            }
            Wait::Write => {
                entry.write_timer = None;
                if entry.closing {
                    // A close that cannot flush in time: the rest is dropped.
                    io.close_now(&mut self.timers, index);
                    return;
                }
                if entry.send.is_empty() {
                    return;
                }
                let _ = self.notify(index, IoEvent::TimedOut { socket, wait });
            }
        }
    }
}

/// Forgets the entry's listener so closing it does not count against the bound twice.
fn reset_entry(io: &mut Io, entry: u32) {
    let listener = io.entries[entry as usize].listener;
    if listener != u16::MAX {
        io.listeners[listener as usize].open =
            io.listeners[listener as usize].open.saturating_sub(1);
        io.entries[entry as usize].listener = u16::MAX;
    }
}

impl Io {
    /// Closes a connection nobody will serve, with a reset (nothing queued for it anyway).
    fn refuse(&mut self, stream: Source) {
        match stream {
            Source::Stream(stream) => {
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            }
            Source::SimStream(end) => {
                if let Some(mut net) = self.net() {
                    net.reset(end);
                }
            }
            _ => {}
        }
    }
}

impl Io {
    /// Records the readiness in `events` on the entries and queues them for work.
    fn absorb_events(&mut self) {
        let Io {
            events,
            entries,
            work,
            timerfd,
            ..
        } = self;
        for event in events.iter() {
            let token = event.token();
            if token == WAKER {
                continue;
            }
            if token == TIMER {
                if let Some(fd) = timerfd.as_ref() {
                    drain_timerfd(fd);
                }
                continue;
            }
            let Some(entry) = entries.get_mut(token.0) else {
                continue;
            };
            if !entry.in_use || matches!(entry.source, Source::Free) {
                continue;
            }
            entry.readable |= event.is_readable() || event.is_read_closed() || event.is_error();
            entry.peer_hup |= event.is_read_closed() || event.is_error();
            entry.writable |= event.is_writable() || event.is_write_closed() || event.is_error();
            if entry.wants_work() && !entry.queued {
                entry.queued = true;
                // Capacity: one place per entry, and an entry is queued at most once.
                work.push(token.0 as u32);
            }
        }
    }
}

// ---- What `Ctx` asks of the reactor (see `crate::ctx` for the typed front). ----

impl Core {
    /// Connects to `addr` for `owner`; `Connected` (or `Failed` / `TimedOut`) follows.
    pub(crate) fn io_connect(
        &mut self,
        owner: RawHandle,
        global: usize,
        wrap: WrapEvent,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<Socket, IoError> {
        if !self.timers.has_room() {
            return Err(IoError::PoolExhausted);
        }
        let io = self.io.as_deref_mut().ok_or(IoError::Unsupported)?;
        if io.free.is_empty() {
            return Err(IoError::NoSocketSlot);
        }
        let shard = io.shard;
        let source = match io.net() {
            Some(mut net) => Source::SimStream(
                net.connect(shard, addr)
                    .map_err(|error| IoError::of(&error))?,
            ),
            None => Source::Stream(TcpStream::connect(addr).map_err(|error| IoError::of(&error))?),
        };
        let index = io.insert(
            source,
            Some(Owner {
                handle: owner,
                global: global as u32,
                wrap,
            }),
        )?;
        io.entries[index as usize].connecting = true;
        let socket = io.socket_of(index);
        let timer = self.timers.schedule(
            self.now,
            crate::clock::nanos_of(timeout),
            owner,
            None,
            TimerAction::Io(timer_code(index, Wait::Connect)),
        );
        if let Some(io) = self.io.as_mut() {
            io.entries[index as usize].write_timer = timer;
        }
        self.counters.connects += 1;
        Ok(socket)
    }

    /// Opens a listening socket at `addr` for `owner`; each `accept` arms one `Accepted`.
    pub(crate) fn io_listen(
        &mut self,
        owner: RawHandle,
        global: usize,
        wrap: WrapEvent,
        addr: SocketAddr,
    ) -> Result<Socket, IoError> {
        let io = self.io.as_deref_mut().ok_or(IoError::Unsupported)?;
        if io.free.is_empty() {
            return Err(IoError::NoSocketSlot);
        }
        let source = match io.net() {
            Some(mut net) => {
                Source::SimListener(net.listen(addr).map_err(|error| IoError::of(&error))?.0)
            }
            None => Source::Listener(TcpListener::from_std(
                listen::bind(addr, false).map_err(|error| IoError::of(&error))?,
            )),
        };
        let index = io.insert(
            source,
            Some(Owner {
                handle: owner,
                global: global as u32,
                wrap,
            }),
        )?;
        Ok(io.socket_of(index))
    }

    /// The local address of an owned socket.
    pub(crate) fn io_local_addr(
        &mut self,
        owner: RawHandle,
        socket: Socket,
    ) -> Result<SocketAddr, IoError> {
        let io = self.io.as_deref_mut().ok_or(IoError::Unsupported)?;
        let index = io.owned_entry(socket, owner)?;
        match &io.entries[index].source {
            Source::Stream(stream) => stream.local_addr(),
            Source::Listener(listener) => listener.local_addr(),
            Source::SimStream(end) => {
                let end = *end;
                return io
                    .net()
                    .map(|net| net.local_addr(end))
                    .ok_or(IoError::Stale);
            }
            Source::SimListener(listener) => {
                let listener = *listener;
                return io
                    .net()
                    .map(|net| net.listener_addr(listener))
                    .ok_or(IoError::Stale);
            }
            Source::Free => return Err(IoError::Stale),
        }
        .map_err(|error| IoError::of(&error))
    }

    /// Arms one accept on an owned listener.
    pub(crate) fn io_accept(&mut self, owner: RawHandle, socket: Socket) -> Result<(), IoError> {
        let io = self.io.as_deref_mut().ok_or(IoError::Unsupported)?;
        let index = io.owned_entry(socket, owner)?;
        let entry = &mut io.entries[index];
        if !entry.source.is_listener() {
            return Err(IoError::Stale);
        }
        entry.accept_armed = true;
        if entry.readable {
            io.enqueue_work(index);
        }
        Ok(())
    }

    /// Arms one read, with an idle deadline if `timeout` is set.
    pub(crate) fn io_read(
        &mut self,
        owner: RawHandle,
        socket: Socket,
        timeout: Option<Duration>,
    ) -> Result<(), IoError> {
        let now = self.now;
        let has_timer_room = self.timers.has_room();
        let io = self.io.as_deref_mut().ok_or(IoError::Unsupported)?;
        let index = io.owned_entry(socket, owner)?;
        let entry = &mut io.entries[index];
        if !entry.source.is_stream() || entry.read_closed {
            return Err(IoError::Stale);
        }
        if entry.read_armed {
            return Err(IoError::ReadArmed);
        }
        if timeout.is_some() && !has_timer_room {
            return Err(IoError::PoolExhausted);
        }
        entry.read_armed = true;
        let ready = entry.readable && !entry.connecting;
        if ready {
            io.enqueue_work(index);
        }
        if let Some(timeout) = timeout {
            let timer = self.timers.schedule(
                now,
                crate::clock::nanos_of(timeout),
                owner,
                None,
                TimerAction::Io(timer_code(index as u32, Wait::Read)),
            );
            if let Some(io) = self.io.as_mut() {
                io.entries[index].read_timer = timer;
            }
        }
        Ok(())
    }

    /// Queues `data` on an owned socket's send queue.
    pub(crate) fn io_write(
        &mut self,
        owner: RawHandle,
        socket: Socket,
        data: Buffer,
    ) -> Result<(), WriteRefused> {
        let refused = |error, data| WriteRefused { error, data };
        let Some(io) = self.io.as_deref_mut() else {
            return Err(refused(IoError::Unsupported, data));
        };
        let index = match io.owned_entry(socket, owner) {
            Ok(index) => index,
            Err(error) => return Err(refused(error, data)),
        };
        let entry = &mut io.entries[index];
        if !entry.source.is_stream() {
            return Err(refused(IoError::Stale, data));
        }
        if entry.write_shut {
            return Err(refused(IoError::WriteShut, data));
        }
        if data.is_empty() {
            return Ok(());
        }
        if let Err(data) = entry.send.push_back(data) {
            entry.drained_wanted = true;
            self.counters.io_writes_refused += 1;
            return Err(refused(IoError::QueueFull, data));
        }
        if entry.writable && !entry.connecting {
            io.enqueue_work(index);
        }
        Ok(())
    }

    /// Room on an owned socket's send queue, in buffers.
    pub(crate) fn io_send_room(
        &mut self,
        owner: RawHandle,
        socket: Socket,
    ) -> Result<usize, IoError> {
        let io = self.io.as_deref_mut().ok_or(IoError::Unsupported)?;
        let index = io.owned_entry(socket, owner)?;
        Ok(SEND_QUEUE - io.entries[index].send.len())
    }

    /// Shuts the write side once the queue is flushed.
    pub(crate) fn io_shutdown_write(
        &mut self,
        owner: RawHandle,
        socket: Socket,
    ) -> Result<(), IoError> {
        let io = self.io.as_deref_mut().ok_or(IoError::Unsupported)?;
        let index = io.owned_entry(socket, owner)?;
        let entry = &mut io.entries[index];
        entry.write_shut = true;
        if entry.writable {
            io.enqueue_work(index);
        }
        Ok(())
    }

    /// Closes an owned socket: at once with `reset` (RST, queue dropped), else after the
    /// queue is flushed (bounded by the write timeout, or `CLOSE_LINGER`).
    pub(crate) fn io_close(
        &mut self,
        owner: RawHandle,
        socket: Socket,
        reset: bool,
    ) -> Result<(), IoError> {
        let now = self.now;
        let io = self.io.as_deref_mut().ok_or(IoError::Unsupported)?;
        let index = io.owned_entry(socket, owner)?;
        let entry = &mut io.entries[index];
        if reset {
            entry.reset_on_close = true;
        }
        if reset || entry.send.is_empty() || !entry.source.is_stream() {
            io.close_now(&mut self.timers, index as u32);
            return Ok(());
        }
        // Flush first: no owner any more (no events), closed when the queue empties.
        io.unlink_owner(index as u32);
        let entry = &mut io.entries[index];
        entry.closing = true;
        entry.read_armed = false;
        if let Some(timer) = entry.read_timer.take() {
            self.timers.cancel(timer);
        }
        let io = self.io.as_mut().expect("checked above");
        let entry = &mut io.entries[index];
        if entry.write_timer.is_none() {
            let linger = if entry.write_timeout > 0 {
                entry.write_timeout
            } else {
                crate::clock::nanos_of(CLOSE_LINGER)
            };
            entry.write_timer = self.timers.schedule(
                now,
                linger,
                owner,
                None,
                TimerAction::Io(timer_code(index as u32, Wait::Write)),
            );
            if entry.write_timer.is_none() {
                // No timer slot for the linger: the queue is still flushed, but a peer
                // that never reads keeps the socket until it does. Counted.
                self.counters.io_deadlines_unarmed += 1;
            }
        }
        if entry.writable {
            io.enqueue_work(index);
        }
        Ok(())
    }

    /// Sets an owned socket's write-progress deadline (zero: none).
    pub(crate) fn io_set_write_timeout(
        &mut self,
        owner: RawHandle,
        socket: Socket,
        timeout: Duration,
    ) -> Result<(), IoError> {
        let io = self.io.as_deref_mut().ok_or(IoError::Unsupported)?;
        let index = io.owned_entry(socket, owner)?;
        io.entries[index].write_timeout = crate::clock::nanos_of(timeout);
        Ok(())
    }

    /// Sets TCP_NODELAY or SO_KEEPALIVE on an owned stream.
    pub(crate) fn io_option(
        &mut self,
        owner: RawHandle,
        socket: Socket,
        option: SocketOption,
    ) -> Result<(), IoError> {
        let io = self.io.as_deref_mut().ok_or(IoError::Unsupported)?;
        let index = io.owned_entry(socket, owner)?;
        let stream = match &io.entries[index].source {
            Source::Stream(stream) => stream,
            // The simulated network has no Nagle and no keepalive probes.
            Source::SimStream(_) => return Ok(()),
            _ => return Err(IoError::Stale),
        };
        let result = match option {
            SocketOption::NoDelay(on) => stream.set_nodelay(on),
            SocketOption::KeepAlive(on) => socket2::SockRef::from(stream).set_keepalive(on),
        };
        result.map_err(|error| IoError::of(&error))
    }

    /// Takes an owned socket out of this shard's reactor, for another isolate to adopt.
    pub(crate) fn io_transfer(
        &mut self,
        owner: RawHandle,
        socket: Socket,
    ) -> Result<SocketTransfer, IoError> {
        let io = self.io.as_deref_mut().ok_or(IoError::Unsupported)?;
        let index = io.owned_entry(socket, owner)?;
        let entry = &mut io.entries[index];
        if !entry.send.is_empty() || entry.connecting {
            // Queued bytes belong to this reactor; a transfer takes a quiet socket.
            return Err(IoError::WriteShut);
        }
        io.unlink_owner(index as u32);
        let entry = &mut io.entries[index];
        let source = core::mem::replace(&mut entry.source, Source::Free);
        let simulated = |end| io.net.as_ref().map(|(net, _)| (Arc::clone(net), end));
        let (fd, listener) = match source {
            Source::SimStream(end) => {
                let sim = simulated(end);
                io.close_now(&mut self.timers, index as u32);
                return Ok(SocketTransfer {
                    fd: None,
                    sim,
                    listener: false,
                });
            }
            Source::SimListener(end) => {
                let sim = simulated(end);
                io.close_now(&mut self.timers, index as u32);
                return Ok(SocketTransfer {
                    fd: None,
                    sim,
                    listener: true,
                });
            }
            Source::Stream(mut stream) => {
                if let Some(poll) = &io.poll {
                    let _ = poll.registry().deregister(&mut stream);
                }
                // SAFETY: `into_raw_fd` gives up ownership of an open descriptor, which the
                // `OwnedFd` takes over; nothing else refers to it.
                (unsafe { OwnedFd::from_raw_fd(stream.into_raw_fd()) }, false)
            }
            Source::Listener(mut listener) => {
                if let Some(poll) = &io.poll {
                    let _ = poll.registry().deregister(&mut listener);
                }
                // SAFETY: as above, for the listener's descriptor.
                (
                    unsafe { OwnedFd::from_raw_fd(listener.into_raw_fd()) },
                    true,
                )
            }
            Source::Free => return Err(IoError::Stale),
        };
        // Free the entry (nothing queued, no descriptor left in it).
        io.close_now(&mut self.timers, index as u32);
        Ok(SocketTransfer {
            fd: Some(fd),
            sim: None,
            listener,
        })
    }

    /// Registers a transferred socket with this shard's reactor, owned by `owner`.
    pub(crate) fn io_adopt(
        &mut self,
        owner: RawHandle,
        global: usize,
        wrap: WrapEvent,
        mut transfer: SocketTransfer,
    ) -> Result<Socket, (IoError, SocketTransfer)> {
        let Some(io) = self.io.as_deref_mut() else {
            return Err((IoError::Unsupported, transfer));
        };
        if io.free.is_empty() {
            return Err((IoError::NoSocketSlot, transfer));
        }
        let listener = transfer.listener;
        let simulated = io.net.is_some();
        let source = if let Some((_, end)) = transfer.sim.as_ref().filter(|_| simulated) {
            let end = *end;
            // Adopted: the transfer no longer closes it.
            transfer.sim = None;
            if listener {
                Source::SimListener(end)
            } else {
                Source::SimStream(end)
            }
        } else if let Some(fd) = transfer.take() {
            let raw = fd.into_raw_fd();
            if listener {
                // SAFETY: `raw` came from an `OwnedFd` just given up, an open listening socket.
                Source::Listener(TcpListener::from_std(unsafe {
                    std::net::TcpListener::from_raw_fd(raw)
                }))
            } else {
                // SAFETY: `raw` came from an `OwnedFd` just given up, an open, non-blocking TCP
                // stream (it was registered with a reactor).
                Source::Stream(TcpStream::from_std(unsafe {
                    std::net::TcpStream::from_raw_fd(raw)
                }))
            }
        } else {
            return Err((IoError::Stale, transfer));
        };
        let owner = Owner {
            handle: owner,
            global: global as u32,
            wrap,
        };
        match io.insert(source, Some(owner)) {
            Ok(index) => {
                // Unknown readiness: assume both, the first attempt finds out.
                io.entries[index as usize].readable = true;
                io.entries[index as usize].writable = true;
                Ok(io.socket_of(index))
            }
            // `insert` dropped the source (closed) only when registration failed.
            Err(error) => Err((
                error,
                SocketTransfer {
                    fd: None,
                    sim: None,
                    listener,
                },
            )),
        }
    }
}

/// A socket option (see [`Ctx::set_option`](crate::Ctx::set_option)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketOption {
    /// TCP_NODELAY: send small writes at once (on by default for accepted connections).
    NoDelay(bool),
    /// SO_KEEPALIVE: let the kernel probe an idle peer.
    KeepAlive(bool),
}

/// How long a `close` may take to flush its queue when the socket has no write timeout.
pub const CLOSE_LINGER: Duration = Duration::from_secs(10);

/// The spawner a declared listener uses: spawns `C` with the socket as its argument.
pub(crate) fn spawn_connection<C>(
    core: &mut Core,
    type_index: u16,
    socket: Socket,
) -> Option<RawHandle>
where
    C: crate::Isolate,
    C::Args: From<Socket>,
{
    let handle = core.reserve_slot(type_index)?;
    let mut envelope = Envelope::user(handle, Payload::new(C::Args::from(socket)));
    envelope.kind = crate::envelope::Kind::Init;
    core.accept_init(envelope).ok()?;
    Some(handle)
}

/// The event wrapper of isolate type `I`.
pub(crate) fn wrap_event<I: crate::Accepts<IoEvent>>(event: IoEvent) -> Payload {
    Payload::new(I::wrap(event))
}
