//! Calling an isolate whose handler for the request does not take the reply address: it
//! could never answer, so the call does not compile.
use tina::prelude::*;

#[derive(Bounded, Request)]
#[reply(u64)]
struct GetBalance;

#[derive(Bounded)]
struct Start;

#[isolate(mailbox = 8)]
struct Bank;

#[isolate]
impl Bank {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Bank
    }

    fn get_balance(&mut self, _request: GetBalance, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

#[isolate(mailbox = 8)]
struct Client {
    bank: Handle<Bank>,
}

#[isolate]
impl Client {
    fn init(bank: &Handle<Bank>, _ctx: &mut Ctx<Self>) -> Self {
        Client { bank: *bank }
    }

    fn start(&mut self, _start: Start, ctx: &mut Ctx<Self>) -> Effect {
        ctx.call(&self.bank, GetBalance, Duration::from_millis(5)).unwrap()
    }

    fn balance(&mut self, _outcome: CallResult<GetBalance>, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

fn main() {}
