//! `#[derive(Bounded)]` on an isolate's struct: the attribute checks the fields already.
use tina::prelude::*;

#[isolate(mailbox = 8)]
#[derive(Bounded, Clone)]
struct Counter {
    total: u64,
}

#[isolate]
impl Counter {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Counter { total: 0 }
    }
}

fn main() {
    let _ = Counter { total: 1 }.clone().total;
}
