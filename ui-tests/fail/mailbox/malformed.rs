//! Malformed options: `mailbox: 64` instead of `mailbox = 64`.
use tina::prelude::*;

#[isolate(mailbox: 64)]
struct Account;

#[isolate]
impl Account {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Account
    }
}

fn main() {}
