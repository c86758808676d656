//! A message aligned to 16 bytes: the error is about the alignment, not the size.
use tina::prelude::*;

#[derive(Bounded)]
#[repr(align(16))]
struct Aligned {
    value: u64,
}

#[isolate(mailbox = 8)]
struct Sink;

#[isolate]
impl Sink {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Sink
    }

    fn aligned(&mut self, _aligned: Aligned, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

fn main() {}
