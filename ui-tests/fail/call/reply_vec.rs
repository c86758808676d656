//! A reply is the request's declared, bounded type: a `Vec` does not compile.
use tina::prelude::*;

#[derive(Bounded, Request)]
#[reply(u64)]
struct GetHistory;

#[isolate(mailbox = 8)]
struct Bank;

#[isolate]
impl Bank {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Bank
    }

    fn get_history(
        &mut self,
        _request: GetHistory,
        reply: ReplyTo<GetHistory>,
        ctx: &mut Ctx<Self>,
    ) -> Effect {
        ctx.reply(reply, vec![1u64, 2, 3])
    }
}

fn main() {}
