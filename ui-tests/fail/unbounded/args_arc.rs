//! Init args holding an `Arc`.
use std::sync::Arc;

use tina::prelude::*;

#[isolate(mailbox = 8)]
struct Worker;

#[isolate]
impl Worker {
    fn init(config: &Arc<u64>, _ctx: &mut Ctx<Self>) -> Self {
        let _ = config;
        Worker
    }
}

fn main() {}
