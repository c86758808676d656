//! A handler without the context parameter.
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

    fn tick(&mut self, _tick: Tick) -> Effect {
        Effect::Receive
    }
}

fn main() {}
