//! Init args larger than the 64-byte inline payload of an envelope.
use tina::prelude::*;

#[derive(Bounded, Clone)]
struct Config {
    name: tina::heapless::String<80>,
}

#[isolate(mailbox = 8)]
struct Worker;

#[isolate]
impl Worker {
    fn init(config: &Config, _ctx: &mut Ctx<Self>) -> Self {
        let _ = &config.name;
        Worker
    }
}

fn main() {}
