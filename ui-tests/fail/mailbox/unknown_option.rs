//! A misspelled option.
use tina::prelude::*;

#[isolate(mailbx = 64)]
struct Account;

#[isolate]
impl Account {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Account
    }
}

fn main() {}
