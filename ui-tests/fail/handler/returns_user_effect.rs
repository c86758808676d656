//! A handler returning a user type that happens to be named `Effect`: reported on the
//! return type.
use tina::prelude::*;

mod mine {
    pub struct Effect;
}

#[derive(Bounded)]
struct Tick;

#[isolate(mailbox = 8)]
struct Clock;

#[isolate]
impl Clock {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Clock
    }

    fn tick(&mut self, _tick: Tick, _ctx: &mut Ctx<Self>) -> mine::Effect {
        mine::Effect
    }
}

fn main() {}
