//! A TCP echo load generator on its own OS threads (not isolates), for the echo demo and the
//! echo benchmarks.
//!
//! [`run`] opens [`Config::connections`] connections to an echo server on the loopback
//! interface, spreads them over [`Config::threads`] threads — each with its own
//! `mio::Poll`, non-blocking throughout — and keeps **one message outstanding per
//! connection** for a bounded time: it writes a message of [`Config::message_bytes`], reads
//! until as many bytes came back, checks every byte, records the round trip and sends the
//! next. It stops by itself after [`Config::warm_up`] plus [`Config::duration`] (plus at
//! most [`Config::drain`] waiting for the replies in flight) and returns a [`Report`].
//!
//! | item | what it is |
//! |---|---|
//! | [`Config`], [`Pacing`] | what to send, how many connections and threads, how long, how fast |
//! | [`run`] | drives the server and blocks until the run is over |
//! | [`Report`], [`Errors`] | round trips, latency percentiles, connect failures, errors by cause |
//! | [`Histogram`] | the fixed-size log-linear latency histogram (about 1% precision) |
//!
//! **Two ways to send.** [`Pacing::Closed`] sends the next message as soon as the previous
//! reply is complete: throughput is whatever the server sustains, and a latency is measured
//! from the first byte written. [`Pacing::Rate`] fixes the total request rate instead:
//! connection `k` of `n` sends at `rate / n` per second on a fixed schedule, staggered so
//! the sends of all connections are spread evenly, and a latency is measured from the
//! **scheduled** send time. When the server stalls, the messages that fell due meanwhile
//! are sent as soon as the connection is free again and each is charged the whole wait —
//! the stall is not hidden by the generator politely waiting (no coordinated omission).
//!
//! **Checked bytes.** Every message carries a pattern unique to its connection, its number
//! and each byte's offset, so a reply that is short, stale, out of order or another
//! connection's is counted in [`Errors::mismatches`] and its connection closed. A message
//! may be any size up to many megabytes; it is written and read in chunks of at most
//! 64 KiB while both directions proceed at once, so a server that echoes before the whole
//! message arrived cannot deadlock the generator.
//!
//! **No allocation per round trip.** Connections, buffers and histograms are allocated
//! before the first message; a round trip costs a write, a read, the byte check and a
//! histogram increment.
//!
//! ```no_run
//! use std::time::Duration;
//! use tina_examples::loadgen::{self, Config, Pacing};
//!
//! let address = "127.0.0.1:7000".parse().unwrap();
//! let report = loadgen::run(&Config {
//!     connections: 64,
//!     threads: 2,
//!     message_bytes: 64,
//!     duration: Duration::from_secs(5),
//!     warm_up: Duration::from_millis(500),
//!     pacing: Pacing::Closed,
//!     ..Config::new(address)
//! })
//! .expect("the generator's threads could not start");
//! println!("{report}");
//! assert!(report.is_clean());
//! ```

mod histogram;
mod payload;
mod timer;
mod worker;

use core::fmt;
use core::time::Duration;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

pub use histogram::Histogram;

/// How the generator decides when to send the next message on a connection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pacing {
    /// Closed loop: the next message goes out as soon as the previous reply is complete;
    /// latency is measured from the first byte written.
    Closed,
    /// A fixed total rate over all connections, each connection sending its share on a
    /// fixed, staggered schedule; latency is measured from the scheduled send time (see the
    /// module docs).
    Rate {
        /// Messages per second, summed over every connection; must be positive.
        requests_per_second: f64,
    },
}

/// What to send, to whom, and for how long.
///
/// Start from [`Config::new`] and change the fields you need:
/// `Config { connections: 256, ..Config::new(address) }`.
#[derive(Clone, Debug)]
pub struct Config {
    /// The echo server; must be a loopback address (the generator refuses anything else).
    pub address: SocketAddr,
    /// Connections opened, at least one.
    pub connections: usize,
    /// Generator threads, at least one and at most `connections`; connection `k` is served
    /// by thread `k % threads`.
    pub threads: usize,
    /// Bytes per message, at least one; a message is complete when as many came back.
    pub message_bytes: usize,
    /// How long round trips are measured, after the warm-up.
    pub duration: Duration,
    /// How long messages are exchanged, but not recorded, before measuring starts; it also
    /// covers connecting.
    pub warm_up: Duration,
    /// When messages are sent.
    pub pacing: Pacing,
    /// A connection not established this long after the start counts as a connect failure.
    pub connect_timeout: Duration,
    /// After the measured window, how long the replies still in flight are awaited before
    /// the connections are closed (so a healthy server sees an orderly close, not a reset).
    pub drain: Duration,
}

impl Config {
    /// 64 connections on one thread, 64-byte messages, closed loop, one second measured after
    /// a 100 ms warm-up, a one-second connect timeout and a 200 ms drain.
    pub fn new(address: SocketAddr) -> Self {
        Self {
            address,
            connections: 64,
            threads: 1,
            message_bytes: 64,
            duration: Duration::from_secs(1),
            warm_up: Duration::from_millis(100),
            pacing: Pacing::Closed,
            connect_timeout: Duration::from_secs(1),
            drain: Duration::from_millis(200),
        }
    }

    /// Panics with the reason when the configuration cannot be run.
    fn validate(&self) {
        assert!(
            self.address.ip().is_loopback(),
            "the load generator drives loopback servers only, not {}",
            self.address
        );
        assert!(
            self.connections >= 1,
            "the load generator needs a connection"
        );
        assert!(
            (1..=self.connections).contains(&self.threads),
            "the load generator needs between 1 and {} threads, not {}",
            self.connections,
            self.threads
        );
        assert!(self.message_bytes >= 1, "a message needs at least one byte");
        if let Pacing::Rate {
            requests_per_second,
        } = self.pacing
        {
            assert!(
                requests_per_second.is_finite() && requests_per_second > 0.0,
                "a paced run needs a positive rate, not {requests_per_second}"
            );
        }
    }
}

/// Errors on established connections, by cause; each closes its connection (which is not
/// reopened).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Errors {
    /// The server reset the connection (`ECONNRESET`, `EPIPE`, `ECONNABORTED`).
    pub resets: u64,
    /// A reply's bytes differed from what was sent, or more bytes came than were sent.
    pub mismatches: u64,
    /// The server closed the connection while the generator was still using it.
    pub eofs: u64,
    /// Any other I/O error on an established connection.
    pub other: u64,
}

impl Errors {
    /// All errors together.
    pub fn total(&self) -> u64 {
        self.resets + self.mismatches + self.eofs + self.other
    }

    fn merge(&mut self, other: &Errors) {
        self.resets += other.resets;
        self.mismatches += other.mismatches;
        self.eofs += other.eofs;
        self.other += other.other;
    }
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// Round trips completed inside the measured window (the warm-up and the drain do not
    /// count).
    pub round_trips: u64,
    /// The measured window: [`Config::duration`].
    pub window: Duration,
    /// The latency of every counted round trip.
    pub latency: Histogram,
    /// Connections asked for.
    pub connections: usize,
    /// Connections established.
    pub connections_opened: usize,
    /// Connections still healthy at the end of the run.
    pub connections_finished: usize,
    /// Connections refused, failed, or not established within [`Config::connect_timeout`]
    /// (or before the run ended, if that came first).
    pub connect_failures: usize,
    /// Errors on established connections.
    pub errors: Errors,
    /// Messages still unanswered when the drain ended (the server kept them too long).
    pub abandoned: u64,
}

impl Report {
    /// Counted round trips per second of the measured window.
    pub fn round_trips_per_second(&self) -> f64 {
        self.round_trips as f64 / self.window.as_secs_f64()
    }

    /// Whether every connection opened and finished, with no error and no message left
    /// unanswered.
    pub fn is_clean(&self) -> bool {
        self.connect_failures == 0
            && self.errors.total() == 0
            && self.connections_finished == self.connections
            && self.abandoned == 0
    }

    /// An empty report for `connections` connections over `window`.
    fn empty(connections: usize, window: Duration) -> Self {
        Self {
            round_trips: 0,
            window,
            latency: Histogram::new(),
            connections,
            connections_opened: 0,
            connections_finished: 0,
            connect_failures: 0,
            errors: Errors::default(),
            abandoned: 0,
        }
    }

    /// Adds another thread's figures to this one's.
    fn merge(&mut self, other: &Report) {
        self.round_trips += other.round_trips;
        self.latency.merge(&other.latency);
        self.connections_opened += other.connections_opened;
        self.connections_finished += other.connections_finished;
        self.connect_failures += other.connect_failures;
        self.errors.merge(&other.errors);
        self.abandoned += other.abandoned;
    }
}

impl fmt::Display for Report {
    /// One line: throughput, latency percentiles, connections and errors.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let latency = &self.latency;
        write!(
            formatter,
            "{} round trips in {:.2} s ({:.0}/s); latency p50 {} p99 {} p99.9 {} max {}; \
             connections {} asked, {} opened, {} finished, {} connect failures; \
             errors {} (resets {}, mismatches {}, eofs {}, other {}); {} abandoned",
            self.round_trips,
            self.window.as_secs_f64(),
            self.round_trips_per_second(),
            DisplayDuration(latency.percentile(0.50)),
            DisplayDuration(latency.percentile(0.99)),
            DisplayDuration(latency.percentile(0.999)),
            DisplayDuration(latency.max()),
            self.connections,
            self.connections_opened,
            self.connections_finished,
            self.connect_failures,
            self.errors.total(),
            self.errors.resets,
            self.errors.mismatches,
            self.errors.eofs,
            self.errors.other,
            self.abandoned,
        )
    }
}

/// Shows a latency in the unit that suits it: `850 ns`, `21.3 µs`, `4.05 ms`, `1.20 s`.
#[derive(Clone, Copy, Debug)]
pub struct DisplayDuration(pub Duration);

impl fmt::Display for DisplayDuration {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos < 1_000 {
            write!(formatter, "{nanos} ns")
        } else if nanos < 1_000_000 {
            write!(formatter, "{:.1} µs", nanos as f64 / 1e3)
        } else if nanos < 1_000_000_000 {
            write!(formatter, "{:.2} ms", nanos as f64 / 1e6)
        } else {
            write!(formatter, "{:.2} s", nanos as f64 / 1e9)
        }
    }
}

/// Drives the echo server at `config.address` as `config` says, on `config.threads` new
/// threads, and blocks until they are done: about `warm_up + duration`, plus at most
/// `drain`. Never runs past `warm_up + duration + drain` plus a poll's wake-up.
///
/// # Errors
///
/// When a thread or its `mio::Poll` cannot be created. Connect failures and errors on
/// connections are not errors of the run; they are counted in the [`Report`].
///
/// # Panics
///
/// When `config` cannot be run (see the field docs: a non-loopback address, no connection,
/// no thread or more threads than connections, an empty message, a rate that is not
/// positive), or when a generator thread panics.
pub fn run(config: &Config) -> io::Result<Report> {
    config.validate();
    let start = Instant::now();
    let schedule = worker::Schedule {
        start,
        measure_from: start + config.warm_up,
        end: start + config.warm_up + config.duration,
        drain_until: start + config.warm_up + config.duration + config.drain,
        connect_deadline: start + config.connect_timeout,
    };
    let mut report = Report::empty(config.connections, config.duration);
    std::thread::scope(|scope| {
        let mut threads = Vec::with_capacity(config.threads);
        for thread in 0..config.threads {
            let spawned = std::thread::Builder::new()
                .name(format!("loadgen-{thread}"))
                .spawn_scoped(scope, move || worker::run(config, &schedule, thread));
            match spawned {
                Ok(handle) => threads.push(handle),
                Err(error) => return Err(error),
            }
        }
        for handle in threads {
            let part = handle.join().expect("a load generator thread panicked")?;
            report.merge(&part);
        }
        Ok(())
    })?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// How the test server misbehaves on every connection.
    #[derive(Clone, Copy, Default)]
    struct Faults {
        /// Flips the byte at this stream offset.
        corrupt_at: Option<usize>,
        /// Sleeps this long once the stream passed this offset.
        stall_at: Option<(usize, Duration)>,
    }

    /// A tiny blocking echo server, one thread per connection, misbehaving as `faults` say.
    /// It stops accepting when the flag returned is set.
    fn echo_server(faults: Faults) -> (SocketAddr, Arc<AtomicBool>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        std::thread::spawn(move || echo(stream, faults));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(1)),
                }
            }
        });
        (address, stop)
    }

    fn echo(mut stream: TcpStream, faults: Faults) {
        stream.set_nonblocking(false).expect("blocking");
        stream.set_nodelay(true).expect("nodelay");
        let mut buffer = [0u8; 16 * 1024];
        let mut offset = 0;
        loop {
            let count = match stream.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(count) => count,
            };
            if let Some(position) = faults.corrupt_at
                && (offset..offset + count).contains(&position)
            {
                buffer[position - offset] ^= 0xFF;
            }
            if let Some((position, stall)) = faults.stall_at
                && (offset..offset + count).contains(&position)
            {
                std::thread::sleep(stall);
            }
            offset += count;
            if stream.write_all(&buffer[..count]).is_err() {
                return;
            }
        }
    }

    fn quick(address: SocketAddr) -> Config {
        Config {
            connections: 8,
            threads: 2,
            duration: Duration::from_millis(200),
            warm_up: Duration::from_millis(50),
            ..Config::new(address)
        }
    }

    #[test]
    fn closed_loop_echo_is_clean() {
        let (address, stop) = echo_server(Faults::default());
        let report = run(&quick(address)).expect("run");
        stop.store(true, Ordering::Relaxed);
        assert!(report.is_clean(), "{report}");
        assert!(report.round_trips > 100, "{report}");
        assert_eq!(report.latency.count(), report.round_trips);
        assert!(report.latency.percentile(0.5) <= report.latency.percentile(0.99));
        assert!(report.latency.percentile(0.99) <= report.latency.max());
    }

    #[test]
    fn large_messages_are_echoed_whole() {
        let (address, stop) = echo_server(Faults::default());
        let report = run(&Config {
            connections: 4,
            message_bytes: 1024 * 1024,
            warm_up: Duration::ZERO,
            duration: Duration::from_millis(400),
            drain: Duration::from_millis(500),
            ..quick(address)
        })
        .expect("run");
        stop.store(true, Ordering::Relaxed);
        assert!(report.is_clean(), "{report}");
        assert!(report.round_trips >= 4, "{report}");
    }

    #[test]
    fn paced_run_keeps_its_rate() {
        let (address, stop) = echo_server(Faults::default());
        let report = run(&Config {
            pacing: Pacing::Rate {
                requests_per_second: 2_000.0,
            },
            duration: Duration::from_millis(500),
            ..quick(address)
        })
        .expect("run");
        stop.store(true, Ordering::Relaxed);
        assert!(report.is_clean(), "{report}");
        let rate = report.round_trips_per_second();
        assert!((1_800.0..=2_200.0).contains(&rate), "{report}");
    }

    #[test]
    fn a_stall_is_charged_to_every_message_it_delayed() {
        // Each connection stalls 100 ms once, while it should have sent 25 messages (one
        // every 4 ms): measured from their scheduled times, about 12 of them wait over 50 ms
        // — some 8% of the run. A generator that waited politely would see 4 slow ones.
        let (address, stop) = echo_server(Faults {
            stall_at: Some((64 * 40, Duration::from_millis(100))),
            ..Faults::default()
        });
        let report = run(&Config {
            connections: 4,
            threads: 1,
            pacing: Pacing::Rate {
                requests_per_second: 1_000.0,
            },
            duration: Duration::from_millis(600),
            ..quick(address)
        })
        .expect("run");
        stop.store(true, Ordering::Relaxed);
        assert!(report.is_clean(), "{report}");
        assert!(
            report.latency.max() >= Duration::from_millis(100),
            "{report}"
        );
        assert!(
            report.latency.percentile(0.95) >= Duration::from_millis(40),
            "{report}"
        );
        assert!(
            report.latency.percentile(0.5) < Duration::from_millis(10),
            "{report}"
        );
    }

    #[test]
    fn corrupted_bytes_are_counted() {
        let (address, stop) = echo_server(Faults {
            corrupt_at: Some(100),
            ..Faults::default()
        });
        let report = run(&quick(address)).expect("run");
        stop.store(true, Ordering::Relaxed);
        assert_eq!(report.errors.mismatches, 8, "{report}");
        assert_eq!(report.connections_finished, 0, "{report}");
        assert_eq!(report.connections_opened, 8, "{report}");
    }

    #[test]
    fn refused_connections_are_counted() {
        // Bind, then close: nothing listens on the port any more.
        let address = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("bind");
        let report = run(&quick(address)).expect("run");
        assert_eq!(report.connect_failures, 8, "{report}");
        assert_eq!(report.round_trips, 0);
        assert!(!report.is_clean());
    }

    #[test]
    #[should_panic(expected = "loopback")]
    fn other_hosts_are_refused() {
        let _ = run(&Config::new("192.0.2.1:7".parse().expect("address")));
    }
}
