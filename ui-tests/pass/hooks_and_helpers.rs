//! `resume` for chunked work after `Effect::Yield`, `shutdown`, an `#[isolate(helper)]`
//! method, a second plain impl block, `init` without args, and a state that is an enum.

use std::sync::atomic::{AtomicU32, Ordering};

use tina::prelude::*;

static SHUTDOWN_HOOKS: AtomicU32 = AtomicU32::new(0);

/// Sum `1..=up_to`, a few numbers per tick.
#[derive(Bounded)]
struct Sum {
    up_to: u64,
}

#[isolate(mailbox = 4)]
struct Summer {
    next: u64,
    up_to: u64,
    total: u64,
    ticks: u32,
}

#[isolate]
impl Summer {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Summer { next: 1, up_to: 0, total: 0, ticks: 0 }
    }

    fn sum(&mut self, sum: Sum, _ctx: &mut Ctx<Self>) -> Effect {
        self.up_to = sum.up_to;
        self.step()
    }

    fn resume(&mut self, _ctx: &mut Ctx<Self>) -> Effect {
        self.step()
    }

    fn shutdown(&mut self, _ctx: &mut Ctx<Self>) -> Effect {
        SHUTDOWN_HOOKS.fetch_add(1, Ordering::Relaxed);
        Effect::Done
    }

    /// Adds at most three numbers, then yields while work is left.
    #[isolate(helper)]
    fn step(&mut self) -> Effect {
        self.ticks += 1;
        for _ in 0..3 {
            if self.next > self.up_to {
                return Effect::Receive;
            }
            self.total += self.next;
            self.next += 1;
        }
        if self.is_done() { Effect::Receive } else { Effect::Yield }
    }
}

impl Summer {
    fn is_done(&self) -> bool {
        self.next > self.up_to
    }
}

/// An enum state: a light that is off, or on since a given toggle.
#[isolate(mailbox = 4)]
enum Light {
    Off { toggles: u32 },
    On { toggles: u32 },
}

#[derive(Bounded)]
struct Toggle;

#[isolate]
impl Light {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Light::Off { toggles: 0 }
    }

    fn toggle(&mut self, _toggle: Toggle, _ctx: &mut Ctx<Self>) -> Effect {
        *self = match *self {
            Light::Off { toggles } => Light::On { toggles: toggles + 1 },
            Light::On { toggles } => Light::Off { toggles: toggles + 1 },
        };
        Effect::Receive
    }
}

#[isolate(mailbox = 1)]
struct Starter;

#[isolate]
impl Starter {
    fn init(targets: &(Handle<Summer>, Handle<Light>), ctx: &mut Ctx<Self>) -> Self {
        ctx.send(&targets.0, Sum { up_to: 10 }).unwrap();
        for _ in 0..3 {
            ctx.send(&targets.1, Toggle).unwrap();
        }
        Starter
    }
}

fn main() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Summer>(1).isolate::<Light>(1).isolate::<Starter>(1);
    let summer = spec.root::<Summer>(ShardId(0), ());
    let light = spec.root::<Light>(ShardId(0), ());
    spec.root::<Starter>(ShardId(0), (summer, light));
    let mut sim = Simulation::new(spec, 11).unwrap();
    sim.run(1_000);
    let state = sim.state(summer).unwrap();
    assert_eq!(state.total, 55);
    assert_eq!(state.ticks, 4, "1..=10 three at a time: four dispatches");
    assert!(matches!(sim.state(light), Some(Light::On { toggles: 3 })));
    assert!(sim.shutdown(1_000));
    assert_eq!(SHUTDOWN_HOOKS.load(Ordering::Relaxed), 1);
}
