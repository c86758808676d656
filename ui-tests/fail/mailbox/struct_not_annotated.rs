//! An `#[isolate]` impl block whose struct has no `#[isolate(mailbox = N)]`.
use tina::prelude::*;

struct Account;

#[isolate]
impl Account {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Account
    }
}

fn main() {}
