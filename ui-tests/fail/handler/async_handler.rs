//! Handlers are synchronous.
use tina::prelude::*;

#[derive(Bounded)]
struct Fetch;

#[isolate(mailbox = 8)]
struct Client;

#[isolate]
impl Client {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Client
    }

    async fn fetch(&mut self, _fetch: Fetch, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

fn main() {}
