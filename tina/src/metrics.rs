//! Prometheus metrics over HTTP, served by an isolate: `GET /metrics`.
//!
//! [`serve`] adds a [`MetricsServer`] to a boot spec. It is a root isolate on one shard
//! that listens on the address you give it and answers `GET /metrics` (and `HEAD`) with
//! the whole system's statistics in the Prometheus text format
//! ([`tina_runtime::stats::prometheus`]). Any other path gets `404`, any other method
//! `405`, and a request head over [`REQUEST_MAX`] bytes gets `431`. Each response closes
//! the connection.
//!
//! The server answers one scrape at a time. A connection that arrives while one is being
//! answered gets `503` and is closed: scrapers come every few seconds, so there is
//! nothing to queue. All memory is reserved in `init`, at boot: the snapshot, the text
//! (at most [`MetricsConfig::max_bytes`]) and the request head. A scrape then allocates
//! nothing. It reads every shard's latest publication, renders the text, and writes it
//! out through transfer buffers, waiting on the socket's send queue when it is full.
//!
//! ```no_run
//! use tina::prelude::*;
//!
//! let mut spec = BootSpec::new(2);
//! // … the application's isolates …
//! tina::metrics::serve(&mut spec, "127.0.0.1:9100".parse().unwrap());
//! let system = System::start(spec).unwrap();
//! // curl http://127.0.0.1:9100/metrics
//! # drop(system);
//! ```

use core::time::Duration;
use std::net::SocketAddr;

use tina_runtime::stats::prometheus::{CONTENT_TYPE, Exposition};

use crate::BufferError;
use crate::prelude::*;

/// The longest request head accepted, in bytes.
pub const REQUEST_MAX: usize = 4096;

/// How long a client has to send its request, and the write deadline of the response.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how the endpoint serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricsConfig {
    /// The address to listen on (loopback, or an interface the scraper reaches).
    pub addr: SocketAddr,
    /// The shard the server runs on (default: shard 0).
    pub shard: ShardId,
    /// The most bytes of metrics text it renders (default 4 MiB). A system whose text
    /// would be longer gets `500` and a message saying so.
    pub max_bytes: usize,
}

// Written out rather than derived so that it is not offered as an example in the
// "`Bounded` is implemented for …" help of users' compile errors.
#[diagnostic::do_not_recommend]
// An address, a shard index and a byte count: plain values that own no heap memory.
// SAFETY: so nothing in it can grow.
unsafe impl tina_runtime::Bounded for MetricsConfig {}

impl MetricsConfig {
    /// Serves at `addr` from shard 0, with room for 4 MiB of text.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            shard: ShardId(0),
            max_bytes: 4 << 20,
        }
    }
}

/// Adds a [`MetricsServer`] at `addr` on shard 0 to `spec` (see [`serve_with`]).
pub fn serve(spec: &mut BootSpec, addr: SocketAddr) -> Handle<MetricsServer> {
    serve_with(spec, MetricsConfig::new(addr))
}

/// Adds a [`MetricsServer`] to `spec`: registers the type (one slot per shard), gives
/// every shard three more socket entries (the listener, the scrape being answered and
/// one to refuse), declares a 16 KiB transfer-buffer class of 16 blocks if the spec
/// has none yet, and adds the server as a root on `config.shard`. If the address cannot
/// be bound, the root's `init` fails and boot fails with the reason.
pub fn serve_with(spec: &mut BootSpec, config: MetricsConfig) -> Handle<MetricsServer> {
    spec.isolate::<MetricsServer>(1);
    let sockets = spec.sockets_per_shard();
    spec.sockets(sockets + 3);
    if spec.buffer_classes().is_empty() {
        spec.buffer_class(16 * 1024, 16);
    }
    spec.root::<MetricsServer>(config.shard, config)
}

/// Where the response being written stands.
#[derive(Debug, Bounded)]
struct Sending {
    /// The status line and headers.
    head: heapless::Vec<u8, 256>,
    /// Whether the rendered text follows the head (not for `HEAD` or errors).
    body: bool,
    /// Bytes of head and body queued so far (a refused block counts once it is queued).
    sent: usize,
    /// A block the send queue refused, written again on `Drained`.
    held: Option<Buffer>,
}

/// The metrics endpoint (see the module docs). Added to a spec by [`serve`].
#[isolate(mailbox = 4)]
pub struct MetricsServer {
    exposition: Exposition,
    listener: Socket,
    /// The scrape being answered.
    client: Option<Socket>,
    request: heapless::Vec<u8, REQUEST_MAX>,
    sending: Option<Sending>,
    /// Bytes per write (the largest buffer block, up to 16 KiB).
    chunk: usize,
    /// An error response's body, when the response is an error.
    error_body: &'static str,
}

#[isolate]
impl MetricsServer {
    fn init(config: &MetricsConfig, ctx: &mut Ctx<Self>) -> Self {
        let listener = match ctx.listen(config.addr) {
            Ok(listener) => listener,
            Err(error) => panic!(
                "the metrics endpoint cannot listen on {}: {error:?}",
                config.addr
            ),
        };
        let _ = ctx.accept(listener);
        let chunk = match ctx.buffer(16 * 1024) {
            Ok(_) => 16 * 1024,
            Err(BufferError::TooLarge { largest }) => largest.max(1),
            Err(BufferError::Exhausted) => 4096,
        };
        MetricsServer {
            exposition: Exposition::new(ctx.stats_reader(), config.max_bytes),
            listener,
            client: None,
            request: heapless::Vec::new(),
            sending: None,
            chunk,
            error_body: "",
        }
    }

    fn io(&mut self, event: IoEvent, ctx: &mut Ctx<Self>) -> Effect {
        match event {
            IoEvent::Accepted { socket, .. } => {
                let _ = ctx.accept(self.listener);
                if self.client.is_some() {
                    // One scrape at a time: tell this one to come back.
                    let _ = ctx.write_bytes(
                        socket,
                        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\
                          Retry-After: 1\r\nConnection: close\r\n\r\n",
                    );
                    let _ = ctx.close(socket);
                    return Effect::Receive;
                }
                self.client = Some(socket);
                self.request.clear();
                let _ = ctx.set_write_timeout(socket, CLIENT_TIMEOUT);
                let _ = ctx.read_within(socket, CLIENT_TIMEOUT);
                Effect::Receive
            }
            IoEvent::Read { socket, data } if Some(socket) == self.client => {
                if self.sending.is_some() {
                    // Bytes after the request head: ignored.
                    return Effect::Receive;
                }
                if self.request.extend_from_slice(data.as_slice()).is_err() {
                    self.respond(ctx, 431, "Request Header Fields Too Large", false);
                    return self.send(ctx);
                }
                drop(data);
                if !self.request.windows(4).any(|window| window == b"\r\n\r\n") {
                    let _ = ctx.read_within(socket, CLIENT_TIMEOUT);
                    return Effect::Receive;
                }
                self.answer(ctx);
                self.send(ctx)
            }
            IoEvent::Drained { socket } if Some(socket) == self.client => self.send(ctx),
            // End of stream before a whole request, a failure, a deadline: drop the client.
            event => {
                if Some(event.socket()) == self.client {
                    self.finish(ctx);
                }
                Effect::Receive
            }
        }
    }

    fn resume(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        self.send(ctx)
    }

    /// Decides the response to the request head in `self.request`.
    #[isolate(helper)]
    fn answer(&mut self, ctx: &mut Ctx<Self>) {
        let line = self
            .request
            .split(|&byte| byte == b'\r')
            .next()
            .unwrap_or_default();
        let mut parts = line.split(|&byte| byte == b' ');
        let method = parts.next().unwrap_or_default();
        let target = parts.next().unwrap_or_default();
        let path = target
            .split(|&byte| byte == b'?')
            .next()
            .unwrap_or_default();
        let head_only = method == b"HEAD";
        if method != b"GET" && !head_only {
            self.respond(ctx, 405, "Method Not Allowed", false);
        } else if path != b"/metrics" {
            self.respond(ctx, 404, "Not Found", false);
        } else {
            match self.exposition.refresh() {
                Ok(_) => self.respond(ctx, 200, "OK", !head_only),
                Err(_) => self.respond(ctx, 500, "Internal Server Error", false),
            }
        }
    }

    /// Prepares the status line and headers.
    #[isolate(helper)]
    fn respond(&mut self, _ctx: &mut Ctx<Self>, status: u16, reason: &str, body: bool) {
        use core::fmt::Write as _;
        self.error_body = match status {
            200 => "",
            404 => "not found: the metrics are at /metrics\n",
            405 => "only GET and HEAD are served\n",
            431 => "the request head is too long\n",
            _ => "the metrics text is larger than the endpoint's max_bytes: raise it\n",
        };
        let (length, content_type) = if status == 200 {
            (self.exposition.text().len(), CONTENT_TYPE)
        } else {
            (self.error_body.len(), "text/plain; charset=utf-8")
        };
        let mut head = heapless::String::<256>::new();
        let _ = write!(
            head,
            "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n\
             Content-Length: {length}\r\nConnection: close\r\n\r\n"
        );
        let mut bytes = heapless::Vec::new();
        let _ = bytes.extend_from_slice(head.as_bytes());
        // A HEAD request gets the headers alone; an error its short text.
        self.sending = Some(Sending {
            head: bytes,
            body: body || (status != 200),
            sent: 0,
            held: None,
        });
    }

    /// Queues as much of the response as the send queue takes; closes when all is queued.
    #[isolate(helper)]
    fn send(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        let (Some(socket), Some(mut sending)) = (self.client, self.sending.take()) else {
            return Effect::Receive;
        };
        let body: &[u8] = match (sending.body, self.error_body.is_empty()) {
            (false, _) => &[],
            (true, true) => self.exposition.text(),
            (true, false) => self.error_body.as_bytes(),
        };
        let total = sending.head.len() + body.len();
        loop {
            // The block the queue refused last time first, then the next piece.
            let buffer = match sending.held.take() {
                Some(held) => held,
                None if sending.sent == total => break,
                None => {
                    let start = sending.sent;
                    let piece = if start < sending.head.len() {
                        &sending.head[start..]
                    } else {
                        let from = start - sending.head.len();
                        &body[from..(from + self.chunk).min(body.len())]
                    };
                    match ctx.buffer_from(piece) {
                        Ok(buffer) => buffer,
                        // Every block is in flight: try again next tick.
                        Err(_) => {
                            self.sending = Some(sending);
                            return Effect::Yield;
                        }
                    }
                }
            };
            let length = buffer.len();
            match ctx.write(socket, buffer) {
                Ok(()) => sending.sent += length,
                Err(refused) if refused.error == IoError::QueueFull => {
                    sending.held = Some(refused.data);
                    self.sending = Some(sending);
                    return Effect::Receive;
                }
                Err(_) => {
                    self.finish(ctx);
                    return Effect::Receive;
                }
            }
        }
        // Everything is queued: closing writes it out first.
        self.finish(ctx);
        Effect::Receive
    }

    /// Closes the client and forgets the response.
    #[isolate(helper)]
    fn finish(&mut self, ctx: &mut Ctx<Self>) {
        if let Some(socket) = self.client.take() {
            let _ = ctx.close(socket);
        }
        self.sending = None;
        self.request.clear();
    }
}
