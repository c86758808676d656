//! `resume` is the hook run after `Effect::Yield`; it takes no message.
use tina::prelude::*;

#[derive(Bounded)]
struct Continue;

#[isolate(mailbox = 8)]
struct Worker;

#[isolate]
impl Worker {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Worker
    }

    fn resume(&mut self, _message: Continue, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

fn main() {}
