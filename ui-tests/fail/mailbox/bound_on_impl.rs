//! The mailbox bound belongs on the struct, not on the impl block.
use tina::prelude::*;

#[isolate(mailbox = 8)]
struct Account;

#[isolate(mailbox = 8)]
impl Account {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Account
    }
}

fn main() {}
