//! A nested state type that does not derive `Bounded`: its fields are unknown, so it is
//! refused until it does.
use tina::prelude::*;

struct Totals {
    count: u64,
}

#[isolate(mailbox = 8)]
struct Counter {
    totals: Totals,
}

#[isolate]
impl Counter {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Counter { totals: Totals { count: 0 } }
    }
}

fn main() {}
