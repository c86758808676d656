//! A helper method in the `#[isolate]` impl without `#[isolate(helper)]`: the error says how
//! to mark it.
use tina::prelude::*;

#[isolate(mailbox = 8)]
struct Counter {
    total: u64,
}

#[isolate]
impl Counter {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Counter { total: 0 }
    }

    fn doubled(&self) -> u64 {
        self.total * 2
    }
}

fn main() {}
