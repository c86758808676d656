//! Several blocks queued on one kernel socket leave in one vectored write: the bytes must
//! arrive whole and in order, through short writes too. A connection isolate queues its
//! send queue full of patterned blocks at every chance (at accept, then at each `Drained`)
//! until 4 MiB are queued; a plain std client reads slowly at first (so the kernel's buffer
//! fills and writes come up short), then reads to the end and checks every byte.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use tina::prelude::*;

/// Bytes the server sends in all.
const TOTAL: usize = 4 << 20;
/// Bytes per block (uneven, so blocks straddle the kernel's buffer boundaries).
const BLOCK: usize = 3_000;

/// The byte at `position` of the stream.
fn pattern(position: usize) -> u8 {
    ((position * 7 + position / 4093) % 251) as u8
}

/// Queues patterned blocks while the send queue takes them; shuts its write side at the
/// end, and closes once the client has read it all and closed.
#[isolate(mailbox = 4)]
struct Pusher {
    socket: Socket,
    queued: usize,
}

#[isolate]
impl Pusher {
    fn init(socket: &Socket, ctx: &mut Ctx<Self>) -> Self {
        let mut pusher = Pusher {
            socket: *socket,
            queued: 0,
        };
        pusher.push(ctx);
        let _ = ctx.read(*socket);
        pusher
    }

    fn io(&mut self, event: IoEvent, ctx: &mut Ctx<Self>) -> Effect {
        match event {
            IoEvent::Drained { .. } => {
                self.push(ctx);
                Effect::Receive
            }
            _ => {
                let _ = ctx.close(self.socket);
                Effect::Done
            }
        }
    }

    /// Fills the send queue (or sends the rest).
    #[isolate(helper)]
    fn push(&mut self, ctx: &mut Ctx<Self>) {
        while self.queued < TOTAL {
            let Ok(mut block) = ctx.buffer(BLOCK) else {
                return;
            };
            let len = BLOCK.min(TOTAL - self.queued);
            for (offset, byte) in block.spare_mut()[..len].iter_mut().enumerate() {
                *byte = pattern(self.queued + offset);
            }
            block.set_len(len);
            if ctx.write(self.socket, block).is_err() {
                // Full: `Drained` comes once there is room again.
                return;
            }
            self.queued += len;
        }
        let _ = ctx.shutdown_write(self.socket);
    }
}

#[test]
fn queued_blocks_arrive_whole_and_in_order() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Pusher>(4)
        .buffer_class(4096, 64)
        .pin_threads(false);
    let listener = spec.listen(Listen::tcp::<Pusher>(SocketAddr::from(([127, 0, 0, 1], 0))));
    let system = System::start(spec).expect("boot");
    let addr = system.listener_addr(listener).expect("bound");

    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    // Let the server fill the kernel's buffers first: its writes then come up short.
    std::thread::sleep(Duration::from_millis(200));
    let mut received = Vec::with_capacity(TOTAL);
    stream.read_to_end(&mut received).expect("read to the end");
    drop(stream);
    assert_eq!(received.len(), TOTAL);
    let first_wrong = received
        .iter()
        .enumerate()
        .find(|&(position, &byte)| byte != pattern(position));
    assert_eq!(first_wrong, None, "the first byte out of place");

    let summary = system.shutdown(Duration::from_secs(2));
    assert_eq!(summary.total.io_bytes_written, TOTAL as u64);
}
