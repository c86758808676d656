//! Replying with a type other than the request's declared reply does not compile.
use tina::prelude::*;

#[derive(Bounded, Request)]
#[reply(u64)]
struct GetBalance;

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
        ctx.reply(reply, "seven")
    }
}

fn main() {}
