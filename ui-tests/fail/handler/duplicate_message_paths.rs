//! Two handlers for one message type, written once as `Add` and once as `crate::Add`.
use tina::prelude::*;

#[derive(Bounded)]
struct Add(u64);

#[isolate(mailbox = 8)]
struct Counter {
    total: u64,
}

#[isolate]
impl Counter {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Counter { total: 0 }
    }

    fn add(&mut self, Add(amount): Add, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += amount;
        Effect::Receive
    }

    fn add_again(&mut self, Add(amount): crate::Add, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += 2 * amount;
        Effect::Receive
    }
}

fn main() {}
