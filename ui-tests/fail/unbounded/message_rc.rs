//! An `Rc` inside a message tuple: isolates share nothing.
use std::rc::Rc;

use tina::prelude::*;

#[isolate(mailbox = 8)]
struct Sink;

#[isolate]
impl Sink {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Sink
    }

    fn shared(&mut self, shared: (u32, Rc<u64>), _ctx: &mut Ctx<Self>) -> Effect {
        let _ = shared;
        Effect::Receive
    }
}

fn main() {}
