//! A message type that does not derive `Bounded`.
use tina::prelude::*;

struct Deposit {
    amount: u64,
}

#[isolate(mailbox = 8)]
struct Account {
    balance: u64,
}

#[isolate]
impl Account {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Account { balance: 0 }
    }

    fn deposit(&mut self, deposit: Deposit, _ctx: &mut Ctx<Self>) -> Effect {
        self.balance += deposit.amount;
        Effect::Receive
    }
}

fn main() {}
