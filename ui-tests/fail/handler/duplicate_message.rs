//! Two handlers for one message type.
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
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Account { balance: 0 }
    }

    fn deposit(&mut self, deposit: Deposit, _ctx: &mut Ctx<Self>) -> Effect {
        self.balance += deposit.amount;
        Effect::Receive
    }

    fn credit(&mut self, credit: Deposit, _ctx: &mut Ctx<Self>) -> Effect {
        self.balance += credit.amount;
        Effect::Receive
    }
}

fn main() {}
