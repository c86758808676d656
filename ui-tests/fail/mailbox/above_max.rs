//! A mailbox bound above `MAILBOX_MAX` (65536).
use tina::prelude::*;

#[isolate(mailbox = 65_537)]
struct Account;

#[isolate]
impl Account {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Account
    }
}

fn main() {}
