//! `init` takes its args by reference: the runtime keeps them for restarts.
use tina::prelude::*;

#[isolate(mailbox = 8)]
struct Account {
    balance: u64,
}

#[isolate]
impl Account {
    fn init(opening: u64, _ctx: &mut Ctx<Self>) -> Self {
        Account { balance: opening }
    }
}

fn main() {}
