//! A reply larger than an envelope's payload: found by `cargo check`, at the reply type.
use tina::prelude::*;

#[derive(Bounded, Request)]
#[reply([u64; 9])]
struct Dump;

fn main() {
    let _ = Dump;
}
