//! A generic isolate with a const generic capacity and a generic message type, registered
//! twice with different parameters.

use tina::prelude::*;

/// A job carrying a value of the worker's item type.
#[derive(Bounded)]
struct Job<T> {
    item: T,
}

/// Drops every collected item.
#[derive(Bounded)]
struct Flush;

#[isolate(mailbox = 8)]
struct Collector<T: Bounded + Copy + Into<u64> + Send + 'static, const N: usize> {
    items: tina::heapless::Vec<T, N>,
    total: u64,
    dropped: u32,
}

#[isolate]
impl<T: Bounded + Copy + Into<u64> + Send + 'static, const N: usize> Collector<T, N> {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Collector { items: tina::heapless::Vec::new(), total: 0, dropped: 0 }
    }

    fn job(&mut self, job: Job<T>, _ctx: &mut Ctx<Self>) -> Effect {
        self.total += job.item.into();
        if self.items.push(job.item).is_err() {
            self.dropped += 1;
        }
        Effect::Receive
    }

    fn flush(&mut self, _flush: Flush, _ctx: &mut Ctx<Self>) -> Effect {
        self.items.clear();
        Effect::Receive
    }
}

/// Feeds both collectors.
#[isolate(mailbox = 1)]
struct Feeder;

#[isolate]
impl Feeder {
    fn init(targets: &(Handle<Collector<u32, 4>>, Handle<Collector<u8, 2>>), ctx: &mut Ctx<Self>) -> Self {
        let (wide, narrow) = *targets;
        for item in 1..=5u32 {
            ctx.send(&wide, Job { item }).unwrap();
        }
        for item in 1..=3u8 {
            ctx.send(&narrow, Job { item }).unwrap();
        }
        ctx.send(&narrow, Flush).unwrap();
        Feeder
    }
}

fn main() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Collector<u32, 4>>(1)
        .isolate::<Collector<u8, 2>>(1)
        .isolate::<Feeder>(1);
    let wide = spec.root::<Collector<u32, 4>>(ShardId(0), ());
    let narrow = spec.root::<Collector<u8, 2>>(ShardId(0), ());
    spec.root::<Feeder>(ShardId(0), (wide, narrow));
    let mut sim = Simulation::new(spec, 3).unwrap();
    sim.run(1_000);
    let wide = sim.state(wide).unwrap();
    assert_eq!((wide.total, wide.items.len(), wide.dropped), (15, 4, 1));
    let narrow = sim.state(narrow).unwrap();
    assert_eq!((narrow.total, narrow.items.len(), narrow.dropped), (6, 0, 1));
    assert_eq!(<Collector<u8, 2> as Isolate>::NAME, "Collector");
}
