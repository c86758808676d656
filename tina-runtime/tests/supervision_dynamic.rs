//! Dynamic children: a supervised isolate spawns children into its own group, within the
//! group's room; they restart by their own restart type and free their room when they end.

mod support;

use core::time::Duration;

use tina_runtime::{
    BootSpec, Ctx, Effect, Handle, Isolate, Restart, ShardId, Simulation, SpawnError,
};

/// Crashes on `Boom`, exits on `Quit`; tells its parent when it starts.
struct Worker;

struct Boom;
struct Quit;

messages!(Worker => WorkerMessage { Boom(Boom), Quit(Quit) });

impl Isolate for Worker {
    type Message = WorkerMessage;
    type Args = (u8, Handle<Parent>);
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Worker";

    fn init(args: &Self::Args, ctx: &mut Ctx<Self>) -> Self {
        let me = ctx.me();
        ctx.send(&args.1, Started(args.0, me)).unwrap();
        Worker
    }

    fn handle(&mut self, message: WorkerMessage, _ctx: &mut Ctx<Self>) -> Effect {
        match message {
            WorkerMessage::Boom(Boom) => Effect::Crash("told to crash"),
            WorkerMessage::Quit(Quit) => Effect::Done,
        }
    }
}

/// Spawns workers into its group and drives them through a script.
struct Parent {
    workers: [Option<Handle<Worker>>; 4],
    starts: [u32; 4],
    spawn_results: Vec<Result<(), SpawnError>>,
    step: u32,
}

struct Started(u8, Handle<Worker>);
struct Step;

messages!(Parent => ParentMessage { Started(Started), Step(Step) });

impl Isolate for Parent {
    type Message = ParentMessage;
    type Args = ();
    const MAILBOX: usize = 8;
    const NAME: &'static str = "Parent";

    fn init(_args: &(), ctx: &mut Ctx<Self>) -> Self {
        let mut parent = Parent {
            workers: [None; 4],
            starts: [0; 4],
            spawn_results: Vec::new(),
            step: 0,
        };
        let me = ctx.me();
        for id in 0..3u8 {
            let result = ctx
                .spawn_child::<Worker>((id, me), Restart::Transient)
                .map(|_| ());
            parent.spawn_results.push(result);
        }
        ctx.after(Duration::from_micros(10), Step).unwrap();
        parent
    }

    fn handle(&mut self, message: ParentMessage, ctx: &mut Ctx<Self>) -> Effect {
        match message {
            ParentMessage::Started(Started(id, handle)) => {
                self.workers[id as usize] = Some(handle);
                self.starts[id as usize] += 1;
            }
            ParentMessage::Step(Step) => {
                if self.workers[0].is_none() || self.workers[1].is_none() {
                    return Effect::Receive;
                }
                self.step += 1;
                match self.step {
                    // Crash worker 0: transient, so it restarts.
                    1 => ctx.send(&self.workers[0].unwrap(), Boom).unwrap(),
                    // Worker 1 exits normally: it is forgotten and its room freed.
                    2 => ctx.send(&self.workers[1].unwrap(), Quit).unwrap(),
                    // Now there is room for worker 3.
                    3 => {
                        let me = ctx.me();
                        let result = ctx
                            .spawn_child::<Worker>((3, me), Restart::Transient)
                            .map(|_| ());
                        self.spawn_results.push(result);
                    }
                    _ => return Effect::Receive,
                }
                ctx.after(Duration::from_micros(10), Step).unwrap();
            }
        }
        Effect::Receive
    }
}

#[test]
fn dynamic_children_live_within_the_group_room() {
    let mut spec = BootSpec::new(1);
    spec.print_crashes(false);
    spec.isolate::<Worker>(4).isolate::<Parent>(1);
    let root = spec.supervisor(ShardId(0));
    spec.dynamic_children(root, 2);
    let parent = spec.root::<Parent>(ShardId(0), ());
    let mut sim = Simulation::new(spec, 3).unwrap();
    assert!(sim.run(100_000).quiescent);
    let state = sim.state(parent).unwrap();
    assert_eq!(
        state.spawn_results,
        [Ok(()), Ok(()), Err(SpawnError::GroupFull), Ok(())],
        "room for two; the third is refused; after one ends, room again"
    );
    assert_eq!(
        state.starts,
        [2, 1, 0, 1],
        "worker 0 restarted once after its crash"
    );
    assert!(sim.state(state.workers[0].unwrap()).is_some());
    assert!(sim.state(state.workers[1].unwrap()).is_none());
    assert!(sim.state(state.workers[3].unwrap()).is_some());
    let counters = sim.totals();
    assert_eq!(counters.restarts, 1);
    assert_eq!(counters.live_isolates, 3, "parent, worker 0 and worker 3");
}

/// An isolate spawned with plain `spawn` is unsupervised and cannot add children.
struct Orphan {
    parent: Handle<Parent>,
}

messages!(Orphan => OrphanMessage {});

impl Isolate for Orphan {
    type Message = OrphanMessage;
    type Args = ();
    const MAILBOX: usize = 1;
    const NAME: &'static str = "Orphan";

    fn init(_args: &(), ctx: &mut Ctx<Self>) -> Self {
        let parent = ctx.spawn::<Parent>(()).unwrap();
        Orphan { parent }
    }

    fn handle(&mut self, message: OrphanMessage, _ctx: &mut Ctx<Self>) -> Effect {
        match message {}
    }
}

#[test]
fn unsupervised_isolates_cannot_spawn_children() {
    let mut spec = BootSpec::new(1);
    spec.print_crashes(false);
    spec.isolate::<Worker>(4)
        .isolate::<Parent>(1)
        .isolate::<Orphan>(1);
    let orphan = spec.root::<Orphan>(ShardId(0), ());
    let mut sim = Simulation::new(spec, 3).unwrap();
    assert!(sim.run(100_000).quiescent);
    // The spawned (unsupervised) parent tried to spawn children: all refused.
    let parent = sim.state(orphan).unwrap().parent;
    assert_eq!(
        sim.state(parent).unwrap().spawn_results,
        [Err(SpawnError::NotSupervised); 3]
    );
    assert_eq!(
        sim.totals().live_isolates,
        2,
        "the orphan and its unsupervised parent, no workers"
    );
}

test_data!(Boom, Orphan, Parent, Quit, Started, Step, Worker);
