//! The struct has `#[isolate(mailbox = N)]` but its impl block lacks `#[isolate]`: using it
//! as an isolate says what to add.
use tina::prelude::*;

#[isolate(mailbox = 8)]
struct Counter {
    total: u64,
}

impl Counter {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Counter { total: 0 }
    }
}

fn main() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Counter>(1);
}
