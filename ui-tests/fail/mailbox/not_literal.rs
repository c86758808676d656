//! The bound must be a literal, checked at compile time, not a constant's name.
use tina::prelude::*;

const CAPACITY: usize = 64;

#[isolate(mailbox = CAPACITY)]
struct Account;

#[isolate]
impl Account {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Account
    }
}

fn main() {
    let _ = CAPACITY;
}
