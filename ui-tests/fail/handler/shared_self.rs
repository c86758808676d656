//! A handler taking `&self`: handlers change the state, so they take `&mut self`.
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

    fn tick(&self, _tick: Tick, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

fn main() {}
