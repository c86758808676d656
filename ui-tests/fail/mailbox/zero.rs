//! A mailbox bound of 0 could never hold a message.
use tina::prelude::*;

#[isolate(mailbox = 0)]
struct Account;

#[isolate]
impl Account {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Account
    }
}

fn main() {}
