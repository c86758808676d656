//! Sending a message type the target has no handler for.
use tina::prelude::*;

#[derive(Bounded)]
struct Deposit {
    amount: u64,
}

#[derive(Bounded)]
struct Withdraw {
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

#[isolate(mailbox = 8)]
struct Teller;

#[isolate]
impl Teller {
    fn init(account: &Handle<Account>, ctx: &mut Ctx<Self>) -> Self {
        let _ = ctx.send(account, Withdraw { amount: 5 });
        Teller
    }
}

fn main() {}
