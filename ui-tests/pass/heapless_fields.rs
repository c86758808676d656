//! State and messages built from fixed-capacity `heapless` collections, arrays and handles.

use tina::heapless::index_map::FnvIndexMap;
use tina::heapless::{Deque, LinearMap, String, Vec};
use tina::prelude::*;

/// A name of at most 16 bytes: fits a message.
#[derive(Bounded)]
struct Register {
    name: String<16>,
    score: u32,
}

#[derive(Bounded, Clone, Copy)]
struct Limits {
    scores_max: u32,
}

#[isolate(mailbox = 32)]
struct Registry {
    names: Vec<String<16>, 8>,
    recent: Deque<u32, 4>,
    by_name: FnvIndexMap<String<16>, u32, 8>,
    by_score: LinearMap<u32, u8, 4>,
    histogram: [u16; 8],
    limits: Limits,
    myself: Option<Handle<Registry>>,
}

#[isolate]
impl Registry {
    fn init(limits: &Limits, ctx: &mut Ctx<Self>) -> Self {
        Registry {
            names: Vec::new(),
            recent: Deque::new(),
            by_name: FnvIndexMap::new(),
            by_score: LinearMap::new(),
            histogram: [0; 8],
            limits: *limits,
            myself: Some(ctx.me()),
        }
    }

    fn register(&mut self, register: Register, _ctx: &mut Ctx<Self>) -> Effect {
        let score = register.score.min(self.limits.scores_max);
        if self.recent.is_full() {
            self.recent.pop_front();
        }
        let _ = self.recent.push_back(score);
        let _ = self.by_name.insert(register.name.clone(), score);
        let _ = self.by_score.insert(score, 1);
        self.histogram[(score % 8) as usize] += 1;
        let _ = self.names.push(register.name);
        Effect::Receive
    }
}

#[isolate(mailbox = 1)]
struct Loader;

#[isolate]
impl Loader {
    fn init(registry: &Handle<Registry>, ctx: &mut Ctx<Self>) -> Self {
        for (name, score) in [("ada", 3), ("grace", 9), ("edsger", 5), ("barbara", 1), ("ken", 4)] {
            let name = String::try_from(name).unwrap();
            ctx.send(registry, Register { name, score }).unwrap();
        }
        Loader
    }
}

fn main() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Registry>(1).isolate::<Loader>(1);
    let registry = spec.root::<Registry>(ShardId(0), Limits { scores_max: 8 });
    spec.root::<Loader>(ShardId(0), registry);
    let mut sim = Simulation::new(spec, 5).unwrap();
    sim.run(100);
    let state = sim.state(registry).unwrap();
    assert_eq!(state.names.len(), 5);
    assert_eq!(state.by_name.get(&String::try_from("grace").unwrap()), Some(&8));
    assert_eq!(state.recent.iter().copied().collect::<std::vec::Vec<_>>(), [8, 5, 1, 4]);
    assert_eq!(state.histogram.iter().sum::<u16>(), 5);
    assert_eq!(state.myself, Some(registry));
}
