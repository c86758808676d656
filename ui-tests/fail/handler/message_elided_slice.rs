//! A handler taking a borrowed slice `&[u8]`: one error saying what to take instead.
use tina::prelude::*;

#[isolate(mailbox = 8)]
struct Sink;

#[isolate]
impl Sink {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Sink
    }

    fn bytes(&mut self, _bytes: &[u8], _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

fn main() {}
