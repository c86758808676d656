//! The echo connection isolate of the `tcp_echo` demo and of the echo benchmark.

use std::time::Duration;

use tina::prelude::*;

// ANCHOR: echo
/// One echo connection: every read goes straight back, then the next read is armed.
#[isolate(mailbox = 4)]
pub struct Echo {
    socket: Socket,
    /// A block the send queue refused, written again on `Drained` (reads wait meanwhile:
    /// a client that does not read slows only itself, through TCP's window).
    held: Option<Buffer>,
}

#[isolate]
impl Echo {
    /// Arms the first read (idle connections close after a minute) and a write deadline.
    fn init(socket: &Socket, ctx: &mut Ctx<Self>) -> Self {
        let _ = ctx.set_write_timeout(*socket, Duration::from_secs(10));
        let mut echo = Echo {
            socket: *socket,
            held: None,
        };
        echo.arm_read(ctx);
        echo
    }

    /// Echoes what it reads; ends on end of stream, a failure or a deadline.
    fn io(&mut self, event: IoEvent, ctx: &mut Ctx<Self>) -> Effect {
        match event {
            IoEvent::Read { data, .. } => self.echo(data, ctx),
            IoEvent::Drained { .. } => match self.held.take() {
                Some(data) => self.echo(data, ctx),
                None => Effect::Receive,
            },
            // End of stream, a failure, a deadline: this connection is over.
            _ => {
                let _ = ctx.close(self.socket);
                Effect::Done
            }
        }
    }

    #[isolate(helper)]
    fn echo(&mut self, data: Buffer, ctx: &mut Ctx<Self>) -> Effect {
        match ctx.write(self.socket, data) {
            Ok(()) => {
                self.arm_read(ctx);
                Effect::Receive
            }
            Err(refused) if refused.error == IoError::QueueFull => {
                self.held = Some(refused.data);
                Effect::Receive
            }
            Err(_) => Effect::Done,
        }
    }

    /// Arms the next read: idle connections are closed after a minute without a byte. A
    /// read deadline needs a free timer slot; when every one is pending (the spec below
    /// reserves two per connection, so only a spec sized otherwise gets here), the read is
    /// armed without it rather than not at all.
    #[isolate(helper)]
    fn arm_read(&mut self, ctx: &mut Ctx<Self>) {
        if ctx
            .read_within(self.socket, Duration::from_secs(60))
            .is_err()
        {
            let _ = ctx.read(self.socket);
        }
    }
}
// ANCHOR_END: echo

// ANCHOR: spec
/// A spec for an echo server on `shards` shards at `addr` (port 0: any free port), up to
/// `connections` connections per shard; returns it with the listener's index.
pub fn spec(shards: usize, connections: usize, addr: std::net::SocketAddr) -> (BootSpec, usize) {
    let mut spec = BootSpec::new(shards);
    spec.isolate::<Echo>(connections)
        // Reads land in 16 KiB blocks; 4096 per shard (64 MiB) bound what is in flight.
        .buffer_class(16 * 1024, 4096)
        // Two deadlines per connection (the idle read and the write progress), and room
        // for the demo's own timers.
        .timer_slots(2 * connections + 64)
        // No idle spinning: the shards sleep in their poll as soon as a tick finds nothing.
        // On a machine whose cores the shards share with other busy threads (the load
        // generator, on 2 cores), a spinning shard steals their time slices and the tail
        // latency goes from hundreds of microseconds to milliseconds (BENCHMARKS.md).
        .spin_before_sleep(0)
        .pin_threads(false);
    let listener = spec.listen(Listen::tcp::<Echo>(addr).max_connections(connections));
    (spec, listener)
}
// ANCHOR_END: spec
