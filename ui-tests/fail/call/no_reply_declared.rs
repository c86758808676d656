//! `ctx.call` with a message whose type declares no reply (it forgot `#[derive(Request)]`).
use tina::prelude::*;

#[derive(Bounded)]
struct Ping;

#[derive(Bounded)]
struct Pong;

#[derive(Bounded)]
struct Start;

#[isolate(mailbox = 8)]
struct Server;

#[isolate]
impl Server {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Server
    }

    fn ping(&mut self, _ping: Ping, reply: ReplyTo<Ping>, ctx: &mut Ctx<Self>) -> Effect {
        ctx.reply(reply, Pong)
    }
}

#[isolate(mailbox = 8)]
struct Client {
    server: Handle<Server>,
}

#[isolate]
impl Client {
    fn init(server: &Handle<Server>, _ctx: &mut Ctx<Self>) -> Self {
        Client { server: *server }
    }

    fn start(&mut self, _start: Start, ctx: &mut Ctx<Self>) -> Effect {
        ctx.call(&self.server, Ping, Duration::from_millis(5)).unwrap()
    }

    fn pong(&mut self, _pong: CallResult<Ping>, _ctx: &mut Ctx<Self>) -> Effect {
        Effect::Receive
    }
}

fn main() {}
