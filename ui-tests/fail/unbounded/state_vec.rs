//! A `Vec` in the state, written out: the macro sees it.
use tina::prelude::*;

#[isolate(mailbox = 8)]
struct Log {
    entries: Vec<u64>,
}

#[isolate]
impl Log {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Log { entries: Vec::new() }
    }
}

fn main() {}
