//! The simulated network behind the socket calls in a [`Simulation`](crate::Simulation):
//! in-memory byte streams between simulated sockets, deterministic from the seed.
//!
//! Every stream end has a bounded receive window (the bytes its peer wrote and it has not
//! read), so writes are partial when the window is full and readers see arbitrary split
//! points (each read takes a length drawn from its shard's I/O stream). Connect, accept,
//! end of stream (FIN), reset (RST) and refused connects behave as they do over loopback;
//! readiness is level-triggered: a shard asks the network what each of its sockets can do
//! at the start of every tick. Everything is allocated when the simulation is built.

use std::io::{Error, ErrorKind};
use std::net::SocketAddr;

use crate::sim::Rng;

/// Bytes each stream end can hold unread.
pub(crate) const WINDOW: usize = 64 * 1024;
/// Connections a simulated listener holds before they are accepted.
const BACKLOG: usize = 128;

/// "No stream".
const NONE: u32 = u32::MAX;

struct End {
    in_use: bool,
    /// The other end (`NONE` once it is closed or reset, or before a connect pairs it).
    peer: u32,
    /// Bytes written by the peer, not yet read: a ring of `WINDOW` bytes.
    buffer: Box<[u8]>,
    head: usize,
    len: usize,
    /// The peer shut its write side (FIN after the buffered bytes).
    fin: bool,
    /// The peer reset the connection.
    reset: bool,
    /// A connect that found no listener (or a full backlog).
    refused: bool,
    /// The port of this end (listeners' addresses come from the spec; ends get ephemeral
    /// ports, for `local_addr`).
    local: SocketAddr,
}

struct Listener {
    in_use: bool,
    addr: SocketAddr,
    /// Connections made, waiting to be accepted.
    backlog: heapless::Deque<u32, BACKLOG>,
}

/// The whole simulated network, shared by the shards of one simulation (all on one thread).
pub(crate) struct SimNet {
    ends: Vec<End>,
    free: Vec<u32>,
    listeners: Vec<Listener>,
    next_port: u16,
    /// Picks among the listeners of one address, and nothing else.
    rng: Rng,
    /// The TCP faults to inject.
    faults: crate::sim::TcpFaults,
    /// The TCP faults injected so far.
    counts: crate::sim::FaultCounts,
}

impl SimNet {
    /// Sets the TCP faults to inject (see [`crate::sim::TcpFaults`]).
    pub(crate) fn set_faults(&mut self, faults: crate::sim::TcpFaults, seed: u64, shards: usize) {
        let _ = (seed, shards);
        self.faults = faults;
    }

    /// The TCP faults injected so far.
    pub(crate) fn fault_counts(&self) -> crate::sim::FaultCounts {
        self.counts
    }

    /// The earliest time something in flight on the network becomes visible (latency,
    /// stalls), if anything is waiting.
    pub(crate) fn next_deadline(&self, now: u64) -> Option<u64> {
        let _ = now;
        None
    }

    /// The network's integrity: every end is in use or free (exactly once), a connected
    /// end's peer names it back, and no end holds more than its window.
    pub(crate) fn check(&self) -> Result<(), String> {
        let mut free = vec![false; self.ends.len()];
        for &index in &self.free {
            let Some(seen) = free.get_mut(index as usize) else {
                return Err(format!("free list holds end {index}, beyond the network"));
            };
            if *seen {
                return Err(format!("end {index} is on the free list twice"));
            }
            *seen = true;
        }
        for (index, end) in self.ends.iter().enumerate() {
            if end.in_use == free[index] {
                return Err(format!(
                    "end {index}: in use {} but free {}",
                    end.in_use, free[index]
                ));
            }
            if end.len > WINDOW {
                return Err(format!(
                    "end {index} holds {} bytes, over its window",
                    end.len
                ));
            }
            if end.in_use && end.peer != NONE {
                let peer = &self.ends[end.peer as usize];
                if !peer.in_use || peer.peer != index as u32 {
                    return Err(format!(
                        "end {index}'s peer {} does not name it back",
                        end.peer
                    ));
                }
            }
        }
        Ok(())
    }

    /// A network with room for `ends` stream ends and `listeners` listeners.
    pub(crate) fn new(ends: usize, listeners: usize, rng: Rng) -> Self {
        let placeholder = SocketAddr::from(([127, 0, 0, 1], 0));
        SimNet {
            ends: (0..ends)
                .map(|_| End {
                    in_use: false,
                    peer: NONE,
                    buffer: vec![0u8; WINDOW].into_boxed_slice(),
                    head: 0,
                    len: 0,
                    fin: false,
                    reset: false,
                    refused: false,
                    local: placeholder,
                })
                .collect(),
            free: (0..ends as u32).rev().collect(),
            listeners: (0..listeners)
                .map(|_| Listener {
                    in_use: false,
                    addr: placeholder,
                    backlog: heapless::Deque::new(),
                })
                .collect(),
            next_port: 40_000,
            rng,
            faults: crate::sim::TcpFaults::default(),
            counts: crate::sim::FaultCounts::default(),
        }
    }

    fn ephemeral(&mut self, ip: std::net::IpAddr) -> SocketAddr {
        self.next_port = self.next_port.checked_add(1).unwrap_or(40_001);
        SocketAddr::new(ip, self.next_port)
    }

    fn take_end(&mut self, local: SocketAddr) -> Option<u32> {
        let index = self.free.pop()?;
        let end = &mut self.ends[index as usize];
        end.in_use = true;
        end.peer = NONE;
        end.head = 0;
        end.len = 0;
        end.fin = false;
        end.reset = false;
        end.refused = false;
        end.local = local;
        Some(index)
    }

    fn release_end(&mut self, index: u32) {
        let end = &mut self.ends[index as usize];
        if end.in_use {
            end.in_use = false;
            end.peer = NONE;
            end.len = 0;
            self.free.push(index);
        }
    }

    /// Opens a listener at `addr` (port 0: the next free one); several listeners may share
    /// an address (the shards of one declared listener).
    pub(crate) fn listen(&mut self, mut addr: SocketAddr) -> Result<(u32, SocketAddr), Error> {
        if addr.port() == 0 {
            addr = self.ephemeral(addr.ip());
        }
        let Some(index) = self.listeners.iter().position(|listener| !listener.in_use) else {
            return Err(Error::new(
                ErrorKind::AddrInUse,
                "no simulated listener left",
            ));
        };
        let listener = &mut self.listeners[index];
        listener.in_use = true;
        listener.addr = addr;
        while listener.backlog.pop_front().is_some() {}
        Ok((index as u32, addr))
    }

    /// Closes a listener; connections still in its backlog are reset.
    pub(crate) fn close_listener(&mut self, index: u32) {
        let listener = &mut self.listeners[index as usize];
        listener.in_use = false;
        let mut pending = heapless::Vec::<u32, BACKLOG>::new();
        while let Some(end) = listener.backlog.pop_front() {
            let _ = pending.push(end);
        }
        for end in pending {
            self.reset(end);
        }
    }

    /// Starts a connect to `addr`: the client end at once; it is connected (and the server
    /// end waits in a listener's backlog) or refused, as readiness will tell.
    pub(crate) fn connect(&mut self, addr: SocketAddr) -> Result<u32, Error> {
        let local = self.ephemeral(addr.ip());
        let Some(client) = self.take_end(local) else {
            return Err(Error::new(
                ErrorKind::OutOfMemory,
                "no simulated stream left",
            ));
        };
        let listening: heapless::Vec<u32, 64> = self
            .listeners
            .iter()
            .enumerate()
            .filter(|(_, listener)| listener.in_use && listener.addr == addr)
            .map(|(index, _)| index as u32)
            .take(64)
            .collect();
        if listening.is_empty() {
            self.ends[client as usize].refused = true;
            return Ok(client);
        }
        let chosen = listening[self.rng.below(listening.len() as u64) as usize];
        let full = self.listeners[chosen as usize].backlog.is_full();
        let Some(server) = (!full).then(|| self.take_end(addr)).flatten() else {
            self.ends[client as usize].refused = true;
            return Ok(client);
        };
        self.ends[client as usize].peer = server;
        self.ends[server as usize].peer = client;
        let _ = self.listeners[chosen as usize].backlog.push_back(server);
        Ok(client)
    }

    /// The next connection waiting on a listener.
    pub(crate) fn accept(&mut self, listener: u32) -> Result<u32, Error> {
        self.listeners[listener as usize]
            .backlog
            .pop_front()
            .ok_or_else(|| Error::from(ErrorKind::WouldBlock))
    }

    /// Whether a listener has connections waiting.
    pub(crate) fn acceptable(&self, listener: u32) -> bool {
        !self.listeners[listener as usize].backlog.is_empty()
    }

    /// What a read on `end` would find: data, end of stream, or an error.
    pub(crate) fn readable(&self, end: u32) -> bool {
        let end = &self.ends[end as usize];
        end.len > 0 || end.fin || end.reset || end.refused
    }

    /// Whether a write on `end` would make progress (or fail at once).
    pub(crate) fn writable(&self, end: u32) -> bool {
        let this = &self.ends[end as usize];
        if this.reset || this.refused || this.peer == NONE {
            return true;
        }
        self.ends[this.peer as usize].len < WINDOW
    }

    /// The outcome of a connect: `Ok(true)` connected, an error if refused or reset.
    pub(crate) fn connected(&self, end: u32) -> Result<bool, Error> {
        let this = &self.ends[end as usize];
        if this.refused {
            return Err(ErrorKind::ConnectionRefused.into());
        }
        if this.reset {
            return Err(ErrorKind::ConnectionReset.into());
        }
        Ok(true)
    }

    /// Reads at most `max` (at least 1) of the buffered bytes into `into`.
    pub(crate) fn read(&mut self, end: u32, into: &mut [u8], max: usize) -> Result<usize, Error> {
        let this = &mut self.ends[end as usize];
        if this.len == 0 {
            if this.reset {
                return Err(ErrorKind::ConnectionReset.into());
            }
            if this.refused {
                return Err(ErrorKind::ConnectionRefused.into());
            }
            if this.fin {
                return Ok(0);
            }
            return Err(ErrorKind::WouldBlock.into());
        }
        let count = this.len.min(into.len()).min(max.max(1));
        for (position, byte) in into[..count].iter_mut().enumerate() {
            *byte = this.buffer[(this.head + position) % WINDOW];
        }
        this.head = (this.head + count) % WINDOW;
        this.len -= count;
        Ok(count)
    }

    /// Writes as much of `bytes` as the peer's window takes.
    pub(crate) fn write(&mut self, end: u32, bytes: &[u8]) -> Result<usize, Error> {
        let this = &self.ends[end as usize];
        if this.reset {
            return Err(ErrorKind::ConnectionReset.into());
        }
        if this.peer == NONE {
            return Err(ErrorKind::BrokenPipe.into());
        }
        let peer = this.peer as usize;
        let peer = &mut self.ends[peer];
        let room = WINDOW - peer.len;
        if room == 0 {
            return Err(ErrorKind::WouldBlock.into());
        }
        let count = room.min(bytes.len());
        for (position, byte) in bytes[..count].iter().enumerate() {
            peer.buffer[(peer.head + peer.len + position) % WINDOW] = *byte;
        }
        peer.len += count;
        Ok(count)
    }

    /// Shuts the write side of `end`: its peer reads end of stream after the bytes before.
    pub(crate) fn shutdown_write(&mut self, end: u32) {
        let peer = self.ends[end as usize].peer;
        if peer != NONE {
            self.ends[peer as usize].fin = true;
        }
    }

    /// Closes `end` gracefully (FIN to the peer; the peer's later writes fail).
    pub(crate) fn close(&mut self, end: u32) {
        let peer = self.ends[end as usize].peer;
        if peer != NONE {
            let other = &mut self.ends[peer as usize];
            other.fin = true;
            other.peer = NONE;
        }
        self.release_end(end);
    }

    /// Closes `end` with a reset: the peer's reads and writes fail.
    pub(crate) fn reset(&mut self, end: u32) {
        let peer = self.ends[end as usize].peer;
        if peer != NONE {
            let other = &mut self.ends[peer as usize];
            other.reset = true;
            other.peer = NONE;
        }
        self.release_end(end);
    }

    /// The local address of `end`.
    pub(crate) fn local_addr(&self, end: u32) -> SocketAddr {
        self.ends[end as usize].local
    }

    /// The address of a listener.
    pub(crate) fn listener_addr(&self, listener: u32) -> SocketAddr {
        self.listeners[listener as usize].addr
    }
}
