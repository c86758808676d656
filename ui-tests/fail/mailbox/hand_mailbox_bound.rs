//! The marker `#[isolate(mailbox = N)]` implements cannot be implemented by hand without
//! `unsafe`: a plain `impl` does not compile.
use tina::prelude::*;

struct Account {
    history: Vec<u64>,
}

impl tina::IsolateStruct for Account {
    const MAILBOX: usize = 8;
}

#[isolate]
impl Account {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Account { history: Vec::new() }
    }
}

fn main() {}
