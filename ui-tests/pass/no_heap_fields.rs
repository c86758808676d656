//! Types that own no heap memory are `Bounded`: function pointers, `'static` slices and
//! strings, `std::time::Instant`; and a hand claim is an explicit `unsafe impl`.
#![forbid(unsafe_code)]

use tina::prelude::*;

/// Messages made of things that own nothing.
#[derive(Bounded)]
struct Job {
    run: fn(u64) -> u64,
    table: &'static [u8],
    name: &'static str,
    queued_at: std::time::Instant,
}

#[isolate(mailbox = 8)]
struct Worker {
    last: u64,
    started: std::time::Instant,
}

#[isolate]
impl Worker {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Worker { last: 0, started: std::time::Instant::now() }
    }

    fn job(&mut self, job: Job, _ctx: &mut Ctx<Self>) -> Effect {
        let _ = (job.name, job.queued_at, self.started);
        self.last = (job.run)(u64::from(job.table[0]));
        Effect::Receive
    }
}

fn double(value: u64) -> u64 {
    value * 2
}

fn main() {
    fn assert_bounded<T: Bounded>() {}
    assert_bounded::<Job>();
    assert_bounded::<Worker>();
    let _ = Job { run: double, table: b"x", name: "double", queued_at: std::time::Instant::now() };
    // The derive's `unsafe impl` is generated code: a crate that forbids `unsafe` can use it.
    let _ = Worker::init as fn(&mut Ctx<Worker>) -> Worker;
}
