//! A negative mailbox bound: the error covers the whole `-1`.
use tina::prelude::*;

#[isolate(mailbox = -1)]
struct Counter;

#[isolate]
impl Counter {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Counter
    }
}

fn main() {}
