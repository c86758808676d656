//! Init args that are a `Box` behind a type alias.
use tina::prelude::*;

type Config = Box<[u8; 16]>;

#[isolate(mailbox = 8)]
struct Worker;

#[isolate]
impl Worker {
    fn init(config: &Config, _ctx: &mut Ctx<Self>) -> Self {
        let _ = config;
        Worker
    }
}

fn main() {}
