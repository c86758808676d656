//! A handler that returns nothing instead of the next state.
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

    fn tick(&mut self, _tick: Tick, _ctx: &mut Ctx<Self>) {
        self.ticks += 1;
    }
}

fn main() {}
