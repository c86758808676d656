//! A `HashMap` in a nested field of the state: `#[derive(Bounded)]` on the inner type
//! reports it.
use std::collections::HashMap;

use tina::prelude::*;

#[derive(Bounded)]
struct Index {
    by_key: HashMap<u64, u32>,
}

#[isolate(mailbox = 8)]
struct Store {
    index: Index,
}

#[isolate]
impl Store {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Store { index: Index { by_key: HashMap::new() } }
    }
}

fn main() {}
