//! One generator thread: its share of the connections, one `mio::Poll`, one loop.

use core::time::Duration;
use std::io::{self, Read, Write};
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::timer::Timer;
use super::{Config, Pacing, Report, payload};

/// The instants every thread of one run shares.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Schedule {
    /// Connecting starts; a paced schedule counts from here.
    pub(crate) start: Instant,
    /// Round trips that start (or are scheduled) from here on are recorded.
    pub(crate) measure_from: Instant,
    /// No message starts from here on; round trips completing later are not recorded.
    pub(crate) end: Instant,
    /// Connections still waiting for a reply are given up here.
    pub(crate) drain_until: Instant,
    /// Connections not established by now are connect failures.
    pub(crate) connect_deadline: Instant,
}

/// Bytes read or written per system call, at most.
const CHUNK_BYTES: usize = 64 * 1024;
/// Readiness events taken per poll.
const EVENTS_CAPACITY: usize = 1024;
/// The token of the pacing timer; connections use their position in the thread's list.
const TIMER: Token = Token(usize::MAX);

/// Where a connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Connecting,
    Open,
    Closed,
}

/// One connection and its message in flight.
struct Connection {
    stream: TcpStream,
    /// The connection's number over the whole run, which seeds its payloads.
    index: u64,
    state: State,
    /// The number of the message in flight, or of the next one.
    message: u64,
    in_flight: bool,
    sent_bytes: usize,
    received_bytes: usize,
    /// The message's latency is measured from here: its first write (closed loop) or its
    /// scheduled send time (paced).
    origin: Instant,
    /// Paced only: the schedule's first slot for this connection.
    schedule_base: Instant,
    /// Paced only: how many of this connection's slots have been used.
    slot: u64,
}

/// What a paced connection's schedule looks like.
#[derive(Clone, Copy, Debug)]
struct Pace {
    /// Between two sends on one connection.
    interval_nanos: u64,
}

impl Pace {
    fn slot_time(&self, connection: &Connection) -> Instant {
        connection.schedule_base
            + Duration::from_nanos(self.interval_nanos.saturating_mul(connection.slot))
    }
}

/// Runs thread `thread` of a run: opens its connections, exchanges messages until the
/// schedule ends and reports what it saw.
pub(crate) fn run(config: &Config, schedule: &Schedule, thread: usize) -> io::Result<Report> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(EVENTS_CAPACITY);
    let chunk_bytes = config.message_bytes.min(CHUNK_BYTES);
    let mut read_buffer = vec![0u8; chunk_bytes];
    let mut write_buffer = vec![0u8; chunk_bytes];
    let mut report = Report::empty(0, config.duration);
    let pace = match config.pacing {
        Pacing::Closed => None,
        Pacing::Rate {
            requests_per_second,
        } => Some(Pace {
            // At least a nanosecond: a rate too high to space out is a closed loop.
            interval_nanos: ((config.connections as f64 / requests_per_second * 1e9) as u64).max(1),
        }),
    };
    let timer = match pace {
        Some(_) => Timer::new(poll.registry(), TIMER),
        None => None,
    };

    let mut connections = Vec::with_capacity(config.connections.div_ceil(config.threads));
    for index in (thread..config.connections).step_by(config.threads) {
        report.connections += 1;
        // Connection `k` of `n` at a total rate `r` first sends `k / r` after the start.
        let offset_nanos = pace.map_or(0, |pace| {
            pace.interval_nanos.saturating_mul(index as u64) / config.connections as u64
        });
        let stream = TcpStream::connect(config.address);
        let Ok(mut stream) = stream else {
            report.connect_failures += 1;
            continue;
        };
        let token = Token(connections.len());
        if poll
            .registry()
            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            .is_err()
        {
            report.connect_failures += 1;
            continue;
        }
        connections.push(Connection {
            stream,
            index: index as u64,
            state: State::Connecting,
            message: 0,
            in_flight: false,
            sent_bytes: 0,
            received_bytes: 0,
            origin: schedule.start,
            schedule_base: schedule.start + Duration::from_nanos(offset_nanos),
            slot: 0,
        });
    }

    let mut loop_state = Loop {
        config,
        schedule,
        pace,
        connecting: connections.len(),
        open: 0,
        in_flight: 0,
        next_due: schedule.start,
        report,
    };
    let mut armed_for: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let sending = now < schedule.end;
        if now >= schedule.drain_until
            || (loop_state.connecting == 0
                && loop_state.in_flight == 0
                && (!sending || loop_state.open == 0))
        {
            break;
        }
        if loop_state.connecting > 0 && now >= schedule.connect_deadline {
            for connection in &mut connections {
                if connection.state == State::Connecting {
                    loop_state.report.connect_failures += 1;
                    loop_state.close(connection);
                }
            }
            loop_state.connecting = 0;
        }
        if sending && pace.is_some() && now >= loop_state.next_due {
            loop_state.start_due(&mut connections, now, &mut write_buffer);
        }

        let mut wake = if sending {
            schedule.end
        } else {
            schedule.drain_until
        };
        if loop_state.connecting > 0 {
            wake = wake.min(schedule.connect_deadline);
        }
        if sending && pace.is_some() {
            wake = wake.min(loop_state.next_due);
            if let Some(timer) = &timer
                && armed_for != Some(loop_state.next_due)
            {
                timer.arm(loop_state.next_due.saturating_duration_since(now));
                armed_for = Some(loop_state.next_due);
            }
        }
        match poll.poll(&mut events, Some(wake.saturating_duration_since(now))) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
        for event in &events {
            if event.token() == TIMER {
                if let Some(timer) = &timer {
                    timer.acknowledge();
                }
                armed_for = None;
                continue;
            }
            let Some(connection) = connections.get_mut(event.token().0) else {
                continue;
            };
            if connection.state == State::Connecting {
                loop_state.finish_connect(connection, &mut write_buffer);
            }
            if connection.state == State::Open && event.is_readable() {
                loop_state.read(connection, &mut read_buffer, &mut write_buffer);
            }
            if connection.state == State::Open && event.is_writable() {
                loop_state.write(connection, &mut write_buffer);
            }
        }
    }

    let mut report = loop_state.report;
    for connection in &connections {
        match connection.state {
            State::Open => {
                report.connections_finished += 1;
                if connection.in_flight {
                    report.abandoned += 1;
                }
            }
            // The run ended before the connect timeout did: never established, all the same.
            State::Connecting => report.connect_failures += 1,
            State::Closed => {}
        }
    }
    Ok(report)
}

/// The loop's bookkeeping, apart from the connections themselves.
struct Loop<'a> {
    config: &'a Config,
    schedule: &'a Schedule,
    pace: Option<Pace>,
    /// Connections still connecting.
    connecting: usize,
    /// Connections established and not closed.
    open: usize,
    /// Connections with a message in flight.
    in_flight: usize,
    /// Paced: no idle connection is due before this.
    next_due: Instant,
    report: Report,
}

impl Loop<'_> {
    /// Checks a connection that became ready while connecting; on success sends its first
    /// message when the schedule says so.
    fn finish_connect(&mut self, connection: &mut Connection, write_buffer: &mut [u8]) {
        match connection.stream.take_error() {
            Ok(None) => {}
            Ok(Some(_)) | Err(_) => {
                self.report.connect_failures += 1;
                self.connecting -= 1;
                self.close(connection);
                return;
            }
        }
        match connection.stream.peer_addr() {
            Ok(_) => {}
            // Not yet: a spurious wake-up; the next one will tell.
            Err(error) if error.kind() == io::ErrorKind::NotConnected => return,
            Err(_) => {
                self.report.connect_failures += 1;
                self.connecting -= 1;
                self.close(connection);
                return;
            }
        }
        self.connecting -= 1;
        self.report.connections_opened += 1;
        self.open += 1;
        connection.state = State::Open;
        let _ = connection.stream.set_nodelay(true);
        let now = Instant::now();
        if now >= self.schedule.end {
            return;
        }
        match self.pace {
            None => self.start(connection, now, write_buffer),
            Some(pace) => {
                // Slots missed while connecting are skipped, not charged as latency.
                let late_nanos = now
                    .saturating_duration_since(connection.schedule_base)
                    .as_nanos();
                let missed = late_nanos.div_ceil(u128::from(pace.interval_nanos));
                connection.slot = u64::try_from(missed).unwrap_or(u64::MAX);
                self.next_due = self.next_due.min(pace.slot_time(connection));
            }
        }
    }

    /// Paced: starts every idle connection whose slot has come and recomputes `next_due`.
    fn start_due(&mut self, connections: &mut [Connection], now: Instant, write_buffer: &mut [u8]) {
        let Some(pace) = self.pace else {
            return;
        };
        let mut next_due = self.schedule.end;
        for connection in connections.iter_mut() {
            if connection.state != State::Open || connection.in_flight {
                continue;
            }
            let due = pace.slot_time(connection);
            if due <= now {
                self.start_slot(connection, write_buffer);
            } else {
                next_due = next_due.min(due);
            }
        }
        self.next_due = next_due;
    }

    /// Paced: starts the message of the connection's current slot, charged from the slot's
    /// time.
    fn start_slot(&mut self, connection: &mut Connection, write_buffer: &mut [u8]) {
        let Some(pace) = self.pace else {
            return;
        };
        let due = pace.slot_time(connection);
        connection.slot += 1;
        self.start(connection, due, write_buffer);
    }

    /// Starts the connection's next message, its latency measured from `origin`.
    fn start(&mut self, connection: &mut Connection, origin: Instant, write_buffer: &mut [u8]) {
        debug_assert!(!connection.in_flight);
        connection.in_flight = true;
        connection.sent_bytes = 0;
        connection.received_bytes = 0;
        connection.origin = origin;
        self.in_flight += 1;
        self.write(connection, write_buffer);
    }

    /// Writes what the socket takes of the message in flight.
    fn write(&mut self, connection: &mut Connection, write_buffer: &mut [u8]) {
        let message_bytes = self.config.message_bytes;
        let seed = payload::seed(connection.index, connection.message);
        while connection.in_flight && connection.sent_bytes < message_bytes {
            let length = (message_bytes - connection.sent_bytes).min(write_buffer.len());
            let chunk = &mut write_buffer[..length];
            payload::fill(seed, connection.sent_bytes, chunk);
            match connection.stream.write(chunk) {
                Ok(0) => return self.fail(connection, io::ErrorKind::WriteZero.into()),
                Ok(written) => connection.sent_bytes += written,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return self.fail(connection, error),
            }
        }
    }

    /// Reads what the socket holds, checks it, and completes the message when it is whole.
    fn read(
        &mut self,
        connection: &mut Connection,
        read_buffer: &mut [u8],
        write_buffer: &mut [u8],
    ) {
        let message_bytes = self.config.message_bytes;
        while connection.state == State::Open {
            let count = match connection.stream.read(read_buffer) {
                Ok(0) => return self.fail(connection, io::ErrorKind::UnexpectedEof.into()),
                Ok(count) => count,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return self.fail(connection, error),
            };
            let seed = payload::seed(connection.index, connection.message);
            let expected = connection.sent_bytes - connection.received_bytes;
            if !connection.in_flight
                || count > expected
                || !payload::matches(seed, connection.received_bytes, &read_buffer[..count])
            {
                self.report.errors.mismatches += 1;
                return self.close(connection);
            }
            connection.received_bytes += count;
            if connection.received_bytes == message_bytes {
                self.complete(connection, write_buffer);
            }
        }
    }

    /// Records the round trip just completed and starts the next message when it is due.
    fn complete(&mut self, connection: &mut Connection, write_buffer: &mut [u8]) {
        let now = Instant::now();
        connection.in_flight = false;
        connection.message += 1;
        self.in_flight -= 1;
        if connection.origin >= self.schedule.measure_from && now <= self.schedule.end {
            self.report.round_trips += 1;
            self.report
                .latency
                .record(now.saturating_duration_since(connection.origin));
        }
        if now >= self.schedule.end {
            return;
        }
        match self.pace {
            None => self.start(connection, now, write_buffer),
            Some(pace) => {
                let due = pace.slot_time(connection);
                if due <= now {
                    // Behind schedule (the server was slow): send at once, charged from the
                    // slot's time.
                    self.start_slot(connection, write_buffer);
                } else {
                    self.next_due = self.next_due.min(due);
                }
            }
        }
    }

    /// Counts `error` by its cause and closes the connection.
    fn fail(&mut self, connection: &mut Connection, error: io::Error) {
        let errors = &mut self.report.errors;
        match error.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => errors.resets += 1,
            io::ErrorKind::UnexpectedEof => errors.eofs += 1,
            _ => errors.other += 1,
        }
        self.close(connection);
    }

    /// Closes a connection for good (it is not reopened).
    fn close(&mut self, connection: &mut Connection) {
        if connection.in_flight {
            connection.in_flight = false;
            self.in_flight -= 1;
        }
        if connection.state == State::Open {
            self.open -= 1;
        }
        connection.state = State::Closed;
        let _ = connection.stream.shutdown(std::net::Shutdown::Both);
    }
}
