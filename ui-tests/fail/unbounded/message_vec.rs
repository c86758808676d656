//! A handler whose message type is a `Vec`.
use tina::prelude::*;

#[isolate(mailbox = 8)]
struct Sink;

#[isolate]
impl Sink {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Sink
    }

    fn bytes(&mut self, bytes: Vec<u8>, _ctx: &mut Ctx<Self>) -> Effect {
        let _ = bytes;
        Effect::Receive
    }
}

fn main() {}
