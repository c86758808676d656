//! The bound is a number, not a string.
use tina::prelude::*;

#[isolate(mailbox = "64")]
struct Account;

#[isolate]
impl Account {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Account
    }
}

fn main() {}
