//! An account with several message types, driven by a teller, checked in simulation.

use tina::prelude::*;

#[derive(Bounded)]
struct Deposit {
    amount: u64,
}

#[derive(Bounded)]
struct Withdraw {
    amount: u64,
}

#[derive(Bounded)]
enum Audit {
    Freeze,
    Note { code: u32 },
}

#[isolate(mailbox = 16)]
struct Account {
    balance: u64,
    refused: u32,
    frozen: bool,
    notes: u32,
}

#[isolate]
impl Account {
    fn init(opening: &u64, _ctx: &mut Ctx<Self>) -> Self {
        Account { balance: *opening, refused: 0, frozen: false, notes: 0 }
    }

    fn deposit(&mut self, message: Deposit, _ctx: &mut Ctx<Self>) -> Effect {
        if !self.frozen {
            self.balance += message.amount;
        }
        Effect::Receive
    }

    fn withdraw(&mut self, Withdraw { amount }: Withdraw, _ctx: &mut Ctx<Self>) -> Effect {
        match self.balance.checked_sub(amount) {
            Some(left) if !self.frozen => self.balance = left,
            _ => self.refused += 1,
        }
        Effect::Receive
    }

    fn audit(&mut self, audit: Audit, _ctx: &mut Ctx<Self>) -> Effect {
        match audit {
            Audit::Freeze => self.frozen = true,
            Audit::Note { code } => self.notes += code,
        }
        Effect::Receive
    }

    /// A plain `u64` is a message too.
    fn bonus(&mut self, points: u64, _ctx: &mut Ctx<Self>) -> Effect {
        self.balance += points;
        Effect::Receive
    }
}

#[isolate(mailbox = 4)]
struct Teller;

#[isolate]
impl Teller {
    fn init(account: &Handle<Account>, ctx: &mut Ctx<Self>) -> Self {
        ctx.send(account, Deposit { amount: 50 }).unwrap();
        ctx.send(account, Withdraw { amount: 20 }).unwrap();
        ctx.send(account, Withdraw { amount: 1000 }).unwrap();
        ctx.send(account, 7u64).unwrap();
        ctx.send(account, Audit::Note { code: 3 }).unwrap();
        ctx.send(account, Audit::Freeze).unwrap();
        ctx.send(account, Deposit { amount: 1 }).unwrap();
        Teller
    }
}

fn main() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Account>(1).isolate::<Teller>(1);
    let account = spec.root::<Account>(ShardId(0), 100);
    spec.root::<Teller>(ShardId(0), account);
    let mut sim = Simulation::new(spec, 1).unwrap();
    sim.run(1_000);
    let state = sim.state(account).unwrap();
    assert_eq!(state.balance, 100 + 50 - 20 + 7);
    assert_eq!(state.refused, 1);
    assert_eq!(state.notes, 3);
    assert!(state.frozen);
    assert_eq!(<Account as Isolate>::MAILBOX, 16);
    assert_eq!(<Account as Isolate>::NAME, "Account");
    let tags: Vec<u16> = [
        AccountMessage::from(Deposit { amount: 0 }),
        AccountMessage::from(Withdraw { amount: 0 }),
        AccountMessage::from(Audit::Freeze),
        AccountMessage::from(0u64),
    ]
    .iter()
    .map(tina::Message::tag)
    .collect();
    assert_eq!(tags, [0, 1, 2, 3]);
}
