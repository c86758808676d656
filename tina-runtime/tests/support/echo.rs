//! The echo connection isolate shared by the TCP tests on real sockets (`tcp.rs`) and on
//! the simulated network (`sim_tcp.rs`): the same isolate on both.

use tina::prelude::*;

/// An echo connection: every read is written straight back (zero-copy: the received block
/// goes on the send queue), and the next read is armed once the write is queued.
#[isolate(mailbox = 4)]
pub(crate) struct Echo {
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
