//! A handler that returns something other than an `Effect`.
use tina::prelude::*;

#[derive(Bounded)]
struct Tick;

#[isolate(mailbox = 8)]
struct Clock {
    ticks: u64,
}

#[isolate]
impl Clock {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Clock { ticks: 0 }
    }

    fn tick(&mut self, _tick: Tick, _ctx: &mut Ctx<Self>) -> bool {
        self.ticks += 1;
        true
    }
}

fn main() {}
