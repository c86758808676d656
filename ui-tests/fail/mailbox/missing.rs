//! An isolate struct without a mailbox bound.
use tina::prelude::*;

#[isolate]
struct Account;

#[isolate]
impl Account {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Account
    }
}

fn main() {}
