//! Call and reply: a client calls a bank, which answers; the reply arrives as a
//! `CallResult<GetBalance>` handled like any other message. The bank's handler takes the
//! request's reply address, `ReplyTo<GetBalance>`, and answers through it.

use tina::prelude::*;

/// Asks for the balance; the bank answers with a `Balance`.
#[derive(Bounded, Request)]
#[reply(Balance)]
struct GetBalance;

#[derive(Bounded, Clone, Copy, Debug, PartialEq)]
struct Balance(u64);

/// Kicks the client off (a call is made from a handler, which returns its `Effect`).
#[derive(Bounded)]
struct Start;

#[isolate(mailbox = 8)]
struct Bank {
    balance: u64,
    asked: u32,
}

#[isolate]
impl Bank {
    fn init(balance: &u64, _ctx: &mut Ctx<Self>) -> Self {
        Bank { balance: *balance, asked: 0 }
    }

    fn get_balance(
        &mut self,
        _request: GetBalance,
        reply: ReplyTo<GetBalance>,
        ctx: &mut Ctx<Self>,
    ) -> Effect {
        self.asked += 1;
        ctx.reply(reply, Balance(self.balance))
    }
}

#[isolate(mailbox = 8)]
struct Client {
    bank: Handle<Bank>,
    answer: Option<Balance>,
    timeouts: u32,
}

#[isolate]
impl Client {
    fn init(bank: &Handle<Bank>, ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        ctx.send(&me, Start).unwrap();
        Client { bank: *bank, answer: None, timeouts: 0 }
    }

    fn start(&mut self, _start: Start, ctx: &mut Ctx<Self>) -> Effect {
        match ctx.call(&self.bank, GetBalance, Duration::from_millis(10)) {
            Ok(effect) => effect,
            Err(refused) => panic!("call refused: {}", refused.error),
        }
    }

    fn on_balance(&mut self, result: CallResult<GetBalance>, _ctx: &mut Ctx<Self>) -> Effect {
        match result {
            CallResult::Reply(balance) => self.answer = Some(balance),
            CallResult::Timeout | CallResult::Refused(_) => self.timeouts += 1,
        }
        Effect::Receive
    }
}

fn main() {
    let mut spec = BootSpec::new(2);
    spec.isolate::<Bank>(1).isolate::<Client>(1);
    let bank = spec.root::<Bank>(ShardId(1), 42);
    let client = spec.root::<Client>(ShardId(0), bank);
    let mut sim = Simulation::new(spec, 7).unwrap();
    sim.run(10_000);
    let client = sim.state(client).unwrap();
    assert_eq!(client.answer, Some(Balance(42)));
    assert_eq!(client.timeouts, 0);
    assert_eq!(sim.state(bank).unwrap().asked, 1);
}
