//! A handler taking its message by reference.
use tina::prelude::*;

#[derive(Bounded)]
struct Tick;

#[isolate(mailbox = 8)]
struct Clock;

#[isolate]
impl Clock {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Clock
    }

    fn tick(&mut self, _tick: &Tick, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

fn main() {}
