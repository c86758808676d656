//! An isolate impl without `init`.
use tina::prelude::*;

#[derive(Bounded)]
struct Deposit {
    amount: u64,
}

#[isolate(mailbox = 8)]
struct Account {
    balance: u64,
}

#[isolate]
impl Account {
    fn deposit(&mut self, deposit: Deposit, _ctx: &mut Ctx<Self>) -> Effect {
        self.balance += deposit.amount;
        Effect::Receive
    }
}

fn main() {}
