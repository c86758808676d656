//! A handler taking `&'static mut Vec<u8>`: the suggested fix is itself bounded.
use tina::prelude::*;

#[isolate(mailbox = 8)]
struct Sink;

#[isolate]
impl Sink {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Sink
    }

    fn bytes(&mut self, _bytes: &'static mut Vec<u8>, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

fn main() {}
