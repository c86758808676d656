//! A caller that has no handler for the `CallResult` its call will deliver.
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

    fn get_balance(
        &mut self,
        _request: GetBalance,
        reply: ReplyTo<GetBalance>,
        ctx: &mut Ctx<Self>,
    ) -> Effect {
        ctx.reply(reply, 7u64)
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
}

fn main() {}
