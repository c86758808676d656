//! The expansion uses fully qualified paths: user items that shadow prelude and primitive
//! names (`Result`, `Option`, `Some`, `Box`, `From`, `u16`, `usize`, `str`, a module named
//! `core`) change nothing.
#![allow(non_camel_case_types, dead_code)]

use tina::prelude::*;

struct Result;
struct Option;
struct Some;
struct None;
#[derive(Bounded)]
struct Box;
struct Vec;
struct String;
struct Send;
trait From {}
trait Into {}
struct u16;
struct usize;
struct str;
mod core {}
mod std {}
fn panic() {}
fn drop() {}

#[derive(Bounded)]
struct Ping(u32);

/// A user type named like a standard collection, but fixed-size: not refused.
#[derive(Bounded)]
struct Reply {
    text: Box,
}

#[derive(Bounded, Request)]
#[reply(u64)]
struct Ask;

#[isolate(mailbox = 4)]
struct Echo {
    pings: u32,
    last: Box,
}

#[isolate]
impl Echo {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Echo { pings: 0, last: Box }
    }

    fn ping(&mut self, Ping(count): Ping, _ctx: &mut Ctx<Self>) -> Effect {
        self.pings += count;
        Effect::Receive
    }

    fn reply(&mut self, reply: Reply, _ctx: &mut Ctx<Self>) -> Effect {
        self.last = reply.text;
        Effect::Receive
    }

    fn ask(&mut self, _ask: Ask, reply: ReplyTo<Ask>, ctx: &mut Ctx<Self>) -> Effect {
        ctx.reply(reply, self.pings as u64)
    }
}

#[isolate(mailbox = 2)]
struct Driver;

#[isolate]
impl Driver {
    fn init(echo: &Handle<Echo>, ctx: &mut Ctx<Self>) -> Self {
        ctx.send(echo, Ping(2)).unwrap();
        ctx.send(echo, Ping(3)).unwrap();
        ctx.send(echo, Reply { text: Box }).unwrap();
        Driver
    }
}

fn main() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Echo>(1).isolate::<Driver>(1);
    let echo = spec.root::<Echo>(ShardId(0), ());
    spec.root::<Driver>(ShardId(0), echo);
    let mut sim = Simulation::new(spec, 9).unwrap();
    sim.run(100);
    assert_eq!(sim.state(echo).unwrap().pings, 5);
}
