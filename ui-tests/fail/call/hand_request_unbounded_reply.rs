//! A hand-written `Request` must declare a `Bounded` reply.
use tina::prelude::*;

#[derive(Bounded)]
struct Dump;

impl Request for Dump {
    type Reply = Vec<u8>;
}

fn main() {}
