//! A boxed closure as a message: one error, on the type, and nothing about the generated
//! message enum.
use tina::prelude::*;

#[isolate(mailbox = 8)]
struct Runner;

#[isolate]
impl Runner {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Runner
    }

    fn job(&mut self, job: Box<dyn Fn()>, _ctx: &mut Ctx<Self>) -> Effect {
        job();
        Effect::Receive
    }
}

fn main() {}
