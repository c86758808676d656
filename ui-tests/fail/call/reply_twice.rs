//! A request is answered once: the reply address is used up by the first reply.
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
        let _ = ctx.reply_to(reply, 1);
        ctx.reply(reply, 2)
    }
}

fn main() {}
