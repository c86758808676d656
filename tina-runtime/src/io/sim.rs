//! The simulated network behind the socket calls in a [`Simulation`](crate::Simulation):
//! in-memory byte streams between simulated sockets, deterministic from the seed.
//!
//! Every stream end has a bounded receive window (the bytes its peer wrote and it has not
//! read), so writes are partial when the window is full and readers see arbitrary split
//! points (each read takes a length drawn from its shard's I/O stream). Connect, accept,
//! end of stream (FIN), reset (RST) and refused connects behave as they do over loopback;
//! readiness is level-triggered: a shard asks the network what each of its sockets can do
//! at the start of every tick. Everything is allocated when the simulation is built.
//!
//! **Faults** ([`TcpFaults`], drawn from one stream per shard, [`Domain::TcpFaults`], by the
//! shard whose socket call meets them; a kind that is off draws nothing):
//!
//! - *latency* and *jitter*: a write's bytes, a FIN and an RST reach the reader after the
//!   latency (plus a jitter drawn per write; FIN and RST take the latency alone), each never
//!   ahead of what was sent before it, so a stream stays in order. Bytes in flight count
//!   against the reader's window. A connect's outcome arrives after a round trip. The
//!   network reads simulated time from the reactors (every tick) and names the next
//!   arrival in [`SimNet::next_deadline`], so the simulation waits for it.
//! - *short_read*, *short_write*: fewer bytes (at least one) than there are, or than there
//!   is room for.
//! - *reset*: a read or write finds the connection reset: that end at once (what it held
//!   is discarded), the peer when the RST arrives.
//! - *connect_refused*, *backlog_overflow*: a connect is refused although a listener is
//!   there; *connect_timeout*: it is never answered (the caller's connect deadline ends it).
//! - *half_open* (met by a write): both ends lose each other without FIN or RST; what they
//!   write is discarded and nothing more arrives (only a read deadline tells).
//! - *stall* (met by a write): the reader takes no bytes (a zero window) for a time drawn up
//!   to `stall_max`; the writer finds no room meanwhile.
//!
//! A writer whose peer's FIN or RST is still in flight (or vanished) writes into the void,
//! as over a real network; once it has arrived, writes fail.

use std::io::{Error, ErrorKind};
use std::net::SocketAddr;

use crate::clock::nanos_of;
use crate::sim::{Domain, FaultCounts, Rng, TcpFaults};

/// Bytes each stream end can hold unread (in flight to it included).
pub(crate) const WINDOW: usize = 64 * 1024;
/// Connections a simulated listener holds before they are accepted.
const BACKLOG: usize = 128;
/// Segments in flight to one end (with latency): a write beyond them joins the last one.
const FLIGHT: usize = 16;

/// "No stream".
const NONE: u32 = u32::MAX;

/// Bytes in flight to an end: the next `bytes` of its ring after those already arrived,
/// visible from `at` (simulated nanoseconds).
#[derive(Clone, Copy)]
struct Segment {
    at: u64,
    bytes: usize,
}

struct End {
    in_use: bool,
    /// The other end (`NONE` once it is closed, reset or vanished, or before a connect
    /// pairs it).
    peer: u32,
    /// Bytes written by the peer, not yet read: a ring of `WINDOW` bytes. The first
    /// `len - in_flight` have arrived; the rest are in flight, in `flight`'s segments.
    buffer: Box<[u8]>,
    head: usize,
    len: usize,
    /// Of `len`, the bytes still in flight (the sum of `flight`).
    in_flight: usize,
    /// The segments in flight, oldest first, with nondecreasing arrival times.
    flight: heapless::Deque<Segment, FLIGHT>,
    /// The peer shut its write side (FIN after the buffered bytes).
    fin: bool,
    /// The peer reset the connection (or a read or write here found it reset).
    reset: bool,
    /// When the FIN or RST arrives (after every byte before it).
    closed_at: u64,
    /// A connect that found no listener (or a full backlog, or was refused).
    refused: bool,
    /// A connect nobody answers: never connected, never refused.
    unanswered: bool,
    /// When a connect's outcome (connected or refused) arrives.
    opens_at: u64,
    /// Zero window: this end takes no more bytes before then.
    stalled_until: u64,
    /// Half-open: the peer vanished without FIN or RST; writes here are discarded.
    vanished: bool,
    /// The port of this end (listeners' addresses come from the spec; ends get ephemeral
    /// ports, for `local_addr`).
    local: SocketAddr,
}

impl End {
    /// Whether the FIN or RST in `fin`/`reset` has arrived by `now`.
    fn closed_by(&self, now: u64) -> bool {
        (self.fin || self.reset) && self.closed_at <= now
    }

    /// Whether a connect on this end is still waiting for its outcome at `now`.
    fn opening(&self, now: u64) -> bool {
        self.unanswered || self.opens_at > now
    }

    /// Bytes that have arrived by `now` (in-flight segments due by then included).
    fn arrived(&self, now: u64) -> usize {
        let due: usize = self
            .flight
            .iter()
            .take_while(|segment| segment.at <= now)
            .map(|segment| segment.bytes)
            .sum();
        self.len - self.in_flight + due
    }

    /// Moves the segments due by `now` to the arrived bytes.
    fn settle(&mut self, now: u64) {
        while let Some(segment) = self.flight.front() {
            if segment.at > now {
                break;
            }
            self.in_flight -= segment.bytes;
            self.flight.pop_front();
        }
    }

    /// Forgets every byte held (a reset discards them).
    fn discard(&mut self) {
        self.len = 0;
        self.in_flight = 0;
        while self.flight.pop_front().is_some() {}
    }

    /// The earliest time after `now` something on this end changes (an arrival, a stall's
    /// end, a connect's outcome).
    fn deadline(&self, now: u64) -> Option<u64> {
        let arrival = self
            .flight
            .iter()
            .map(|segment| segment.at)
            .find(|&at| at > now);
        let closed = ((self.fin || self.reset) && self.closed_at > now).then_some(self.closed_at);
        let stall = (self.stalled_until > now).then_some(self.stalled_until);
        let opens = (!self.unanswered && self.opens_at > now).then_some(self.opens_at);
        [arrival, closed, stall, opens].into_iter().flatten().min()
    }
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
    /// Simulated time, as the shards' reactors last reported it.
    now: u64,
    /// The TCP faults to inject.
    faults: TcpFaults,
    latency: u64,
    jitter: u64,
    stall_max: u64,
    /// One stream per shard ([`Domain::TcpFaults`]), drawn by that shard's socket calls.
    fault_rngs: Vec<Rng>,
    /// The TCP faults injected so far.
    counts: FaultCounts,
}

impl SimNet {
    /// Sets the TCP faults to inject (see [`TcpFaults`]): each of the `shards` shards draws
    /// them from its own stream of `seed`. A kind that is off draws nothing.
    pub(crate) fn set_faults(&mut self, faults: TcpFaults, seed: u64, shards: usize) {
        self.latency = nanos_of(faults.latency);
        self.jitter = nanos_of(faults.jitter);
        self.stall_max = nanos_of(faults.stall_max).max(1);
        self.faults = faults;
        self.fault_rngs = (0..shards)
            .map(|shard| Rng::stream(seed, Domain::TcpFaults(shard as u16)))
            .collect();
    }

    /// The TCP faults injected so far.
    pub(crate) fn fault_counts(&self) -> FaultCounts {
        self.counts
    }

    /// Tells the network the simulated time (each shard's reactor does, every tick).
    pub(crate) fn set_now(&mut self, now: u64) {
        self.now = now;
    }

    /// The earliest time something in flight on the network becomes visible (bytes, FIN or
    /// RST under latency, a stall's end, a connect's outcome) that no reactor has seen yet,
    /// if anything is waiting.
    ///
    /// "Seen" is by the time the reactors last told the network (every tick), not by `now`:
    /// after time jumps to a deadline, what becomes visible then is still pending until a
    /// round has run at that time, so the run is not judged quiescent before the reactors
    /// have looked.
    pub(crate) fn next_deadline(&self, now: u64) -> Option<u64> {
        let seen = self.now.min(now);
        self.ends
            .iter()
            .filter(|end| end.in_use)
            .filter_map(|end| end.deadline(seen))
            .min()
    }

    /// Whether `ratio` fires for a call from `shard` (no draw when it is off).
    fn hit(&mut self, shard: u16, ratio: crate::sim::Ratio) -> bool {
        match self.fault_rngs.get_mut(shard as usize) {
            Some(rng) => ratio.hit(rng),
            None => false,
        }
    }

    /// A number in `0..bound` from `shard`'s fault stream (`bound > 0`).
    fn draw(&mut self, shard: u16, bound: u64) -> u64 {
        match self.fault_rngs.get_mut(shard as usize) {
            Some(rng) => rng.below(bound),
            None => 0,
        }
    }

    /// The one-way delay of a segment written by `shard`: latency plus drawn jitter.
    fn delay(&mut self, shard: u16) -> u64 {
        let jitter = if self.jitter > 0 {
            self.draw(shard, self.jitter.saturating_add(1))
        } else {
            0
        };
        self.latency.saturating_add(jitter)
    }

    /// When a FIN or RST sent to `end` now arrives: after the latency, and after every byte
    /// in flight before it.
    fn close_arrival(&self, end: u32) -> u64 {
        let end = &self.ends[end as usize];
        let after = end.flight.back().map_or(0, |segment| segment.at);
        self.now.saturating_add(self.latency).max(after)
    }

    /// The network's integrity: every end is in use or free (exactly once), a connected
    /// end's peer names it back, no end holds more than its window (bytes in flight to it
    /// included), and its bytes in flight are its segments', in order of arrival.
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
            if end.in_flight > end.len {
                return Err(format!(
                    "end {index} has {} bytes in flight but holds {}",
                    end.in_flight, end.len
                ));
            }
            let flying: usize = end.flight.iter().map(|segment| segment.bytes).sum();
            if flying != end.in_flight {
                return Err(format!(
                    "end {index}: segments hold {flying} bytes, {} counted in flight",
                    end.in_flight
                ));
            }
            let mut previous = 0;
            for segment in &end.flight {
                if segment.at < previous || segment.bytes == 0 {
                    return Err(format!(
                        "end {index}: a segment of {} bytes at {} out of order (after {previous})",
                        segment.bytes, segment.at
                    ));
                }
                previous = segment.at;
            }
            if (end.fin || end.reset) && end.closed_at < previous {
                return Err(format!(
                    "end {index}: its FIN/RST at {} overtakes bytes arriving at {previous}",
                    end.closed_at
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
                    in_flight: 0,
                    flight: heapless::Deque::new(),
                    fin: false,
                    reset: false,
                    closed_at: 0,
                    refused: false,
                    unanswered: false,
                    opens_at: 0,
                    stalled_until: 0,
                    vanished: false,
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
            now: 0,
            faults: TcpFaults::default(),
            latency: 0,
            jitter: 0,
            stall_max: 1,
            fault_rngs: Vec::new(),
            counts: FaultCounts::default(),
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
        end.discard();
        end.fin = false;
        end.reset = false;
        end.closed_at = 0;
        end.refused = false;
        end.unanswered = false;
        end.opens_at = 0;
        end.stalled_until = 0;
        end.vanished = false;
        end.local = local;
        Some(index)
    }

    fn release_end(&mut self, index: u32) {
        let end = &mut self.ends[index as usize];
        if end.in_use {
            end.in_use = false;
            end.peer = NONE;
            end.discard();
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

    /// Starts a connect from `shard` to `addr`: the client end at once; it is connected
    /// (and the server end waits in a listener's backlog), refused or never answered, as
    /// readiness will tell (under latency, after a round trip).
    pub(crate) fn connect(&mut self, shard: u16, addr: SocketAddr) -> Result<u32, Error> {
        let local = self.ephemeral(addr.ip());
        let Some(client) = self.take_end(local) else {
            return Err(Error::new(
                ErrorKind::OutOfMemory,
                "no simulated stream left",
            ));
        };
        if self.latency > 0 || self.jitter > 0 {
            let there = self.delay(shard);
            let back = self.latency;
            self.ends[client as usize].opens_at =
                self.now.saturating_add(there.saturating_add(back));
        }
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
        if self.hit(shard, self.faults.connect_refused) {
            self.counts.connects_refused += 1;
            self.ends[client as usize].refused = true;
            return Ok(client);
        }
        if self.hit(shard, self.faults.backlog_overflow) {
            self.counts.backlog_overflows += 1;
            self.ends[client as usize].refused = true;
            return Ok(client);
        }
        if self.hit(shard, self.faults.connect_timeout) {
            self.counts.connects_timed_out += 1;
            self.ends[client as usize].unanswered = true;
            return Ok(client);
        }
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
        let now = self.now;
        let end = &self.ends[end as usize];
        if end.opening(now) {
            return false;
        }
        end.arrived(now) > 0 || end.closed_by(now) || end.refused
    }

    /// Whether a write on `end` would make progress (or fail at once).
    pub(crate) fn writable(&self, end: u32) -> bool {
        let now = self.now;
        let this = &self.ends[end as usize];
        if this.opening(now) {
            return false;
        }
        if this.reset || this.refused || this.peer == NONE {
            return true;
        }
        let peer = &self.ends[this.peer as usize];
        peer.stalled_until <= now && peer.len < WINDOW
    }

    /// The outcome of a connect: `Ok(true)` connected, `Ok(false)` not yet (or never), an
    /// error if refused or reset.
    pub(crate) fn connected(&self, end: u32) -> Result<bool, Error> {
        let this = &self.ends[end as usize];
        if this.opening(self.now) {
            return Ok(false);
        }
        if this.refused {
            return Err(ErrorKind::ConnectionRefused.into());
        }
        if this.reset {
            return Err(ErrorKind::ConnectionReset.into());
        }
        Ok(true)
    }

    /// An injected reset, found by a read or write on `end`: `end` sees it at once (what it
    /// held is discarded), its peer when the RST arrives.
    fn inject_reset(&mut self, end: u32) {
        self.counts.resets += 1;
        let peer = self.ends[end as usize].peer;
        if peer != NONE {
            let at = self.close_arrival(peer);
            let other = &mut self.ends[peer as usize];
            other.reset = true;
            other.closed_at = other.closed_at.max(at);
            other.peer = NONE;
        }
        let now = self.now;
        let this = &mut self.ends[end as usize];
        this.discard();
        this.reset = true;
        this.fin = false;
        this.closed_at = now;
        this.peer = NONE;
    }

    /// Reads at most `max` (at least 1) of the bytes arrived at `end` into `into`, for a
    /// call from `shard` (which draws the faults).
    pub(crate) fn read(
        &mut self,
        shard: u16,
        end: u32,
        into: &mut [u8],
        max: usize,
    ) -> Result<usize, Error> {
        let now = self.now;
        let this = &mut self.ends[end as usize];
        if this.opening(now) {
            return Err(ErrorKind::WouldBlock.into());
        }
        this.settle(now);
        let available = this.len - this.in_flight;
        if available == 0 {
            if this.reset && this.closed_at <= now {
                return Err(ErrorKind::ConnectionReset.into());
            }
            if this.refused {
                return Err(ErrorKind::ConnectionRefused.into());
            }
            if this.fin && this.closed_at <= now {
                return Ok(0);
            }
            return Err(ErrorKind::WouldBlock.into());
        }
        let live = this.peer != NONE;
        if live && self.hit(shard, self.faults.reset) {
            self.inject_reset(end);
            return Err(ErrorKind::ConnectionReset.into());
        }
        let mut count = available.min(into.len()).min(max.max(1));
        if count > 1 && self.hit(shard, self.faults.short_read) {
            self.counts.short_reads += 1;
            count = 1 + self.draw(shard, count as u64 - 1) as usize;
        }
        let this = &mut self.ends[end as usize];
        for (position, byte) in into[..count].iter_mut().enumerate() {
            *byte = this.buffer[(this.head + position) % WINDOW];
        }
        this.head = (this.head + count) % WINDOW;
        this.len -= count;
        Ok(count)
    }

    /// Writes as much of `bytes` as the peer's window takes, for a call from `shard` (which
    /// draws the faults and the jitter).
    pub(crate) fn write(&mut self, shard: u16, end: u32, bytes: &[u8]) -> Result<usize, Error> {
        let now = self.now;
        let this = &self.ends[end as usize];
        if this.opening(now) {
            return Err(ErrorKind::WouldBlock.into());
        }
        if this.reset && this.closed_at <= now {
            return Err(ErrorKind::ConnectionReset.into());
        }
        if this.peer == NONE {
            // A vanished peer, or one whose FIN or RST is still on its way: the bytes go
            // out, and nobody will ever read them.
            if this.vanished || ((this.fin || this.reset) && this.closed_at > now) {
                return Ok(bytes.len());
            }
            return Err(ErrorKind::BrokenPipe.into());
        }
        let peer = this.peer;
        let other = &self.ends[peer as usize];
        if other.stalled_until > now {
            return Err(ErrorKind::WouldBlock.into());
        }
        let room = WINDOW - other.len;
        if room == 0 {
            return Err(ErrorKind::WouldBlock.into());
        }
        let mut count = room.min(bytes.len());
        if count == 0 {
            return Ok(0);
        }
        if self.hit(shard, self.faults.reset) {
            self.inject_reset(end);
            return Err(ErrorKind::ConnectionReset.into());
        }
        if self.hit(shard, self.faults.half_open) {
            self.counts.half_open += 1;
            for side in [end, peer] {
                let side = &mut self.ends[side as usize];
                side.peer = NONE;
                side.vanished = true;
            }
            return Ok(count);
        }
        if self.hit(shard, self.faults.stall) {
            self.counts.stalls += 1;
            let until = now
                .saturating_add(1)
                .saturating_add(self.draw(shard, self.stall_max));
            self.ends[peer as usize].stalled_until = until;
            return Err(ErrorKind::WouldBlock.into());
        }
        if count > 1 && self.hit(shard, self.faults.short_write) {
            self.counts.short_writes += 1;
            count = 1 + self.draw(shard, count as u64 - 1) as usize;
        }
        let delay = if self.latency > 0 || self.jitter > 0 {
            self.delay(shard)
        } else {
            0
        };
        let other = &mut self.ends[peer as usize];
        for (position, byte) in bytes[..count].iter().enumerate() {
            other.buffer[(other.head + other.len + position) % WINDOW] = *byte;
        }
        other.len += count;
        let at = now.saturating_add(delay);
        let last = other.flight.back().map(|segment| segment.at);
        if at > now || last.is_some() {
            // In flight: never ahead of the bytes before it.
            let at = last.map_or(at, |last| at.max(last));
            other.in_flight += count;
            let joined = Segment { at, bytes: count };
            if let Err(segment) = other.flight.push_back(joined) {
                // No room for another segment: these bytes ride with the last one, which
                // then arrives with them.
                if let Some(back) = other.flight.back_mut() {
                    back.bytes += segment.bytes;
                    back.at = back.at.max(segment.at);
                }
            }
        }
        Ok(count)
    }

    /// Shuts the write side of `end`: its peer reads end of stream after the bytes before.
    pub(crate) fn shutdown_write(&mut self, end: u32) {
        let peer = self.ends[end as usize].peer;
        if peer != NONE {
            let at = self.close_arrival(peer);
            let other = &mut self.ends[peer as usize];
            if !other.fin {
                other.fin = true;
                other.closed_at = at;
            }
        }
    }

    /// Closes `end` gracefully (FIN to the peer; the peer's later writes fail).
    pub(crate) fn close(&mut self, end: u32) {
        let peer = self.ends[end as usize].peer;
        if peer != NONE {
            let at = self.close_arrival(peer);
            let other = &mut self.ends[peer as usize];
            if !other.fin {
                other.fin = true;
                other.closed_at = at;
            }
            other.peer = NONE;
        }
        self.release_end(end);
    }

    /// Closes `end` with a reset: the peer's reads and writes fail (once the RST arrives).
    pub(crate) fn reset(&mut self, end: u32) {
        let peer = self.ends[end as usize].peer;
        if peer != NONE {
            let at = self.close_arrival(peer);
            let other = &mut self.ends[peer as usize];
            if !other.reset {
                other.reset = true;
                other.closed_at = other.closed_at.max(at);
            }
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
