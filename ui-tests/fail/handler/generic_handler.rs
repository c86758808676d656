//! A generic handler: each handler takes one concrete message type.
use tina::prelude::*;

#[isolate(mailbox = 8)]
struct Sink;

#[isolate]
impl Sink {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Sink
    }

    fn anything<M: Send + 'static>(&mut self, _message: M, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

fn main() {}
