//! Claiming `Bounded` by hand is an `unsafe impl`: a plain `impl` does not compile.
use tina::prelude::*;

struct Lie {
    bytes: Vec<u8>,
}

impl Bounded for Lie {}

fn main() {
    let _ = Lie { bytes: Vec::new() }.bytes;
}
