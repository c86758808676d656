//! A dispatcher hands jobs to workers on a timer; every Nth job is poisoned and makes its
//! worker panic. The worker's supervision group restarts it; the new incarnation warms up
//! and checks in with its new handle; meanwhile the dispatcher's sends to the old handle are
//! refused as stale, and it carries on with the other workers. A job already on its way to
//! a worker on the other shard when that worker crashed bounces back (`Undelivered<Job>`)
//! and is queued again, so no job is lost; at the end `main` asks the running dispatcher for
//! its figures with a blocking `System::call`.
//!
//! ```text
//! cargo run --release -p tina-examples --bin task_dispatcher -- [--seconds 3]
//!     [--poison-every 5] [--tight-budget] [--revive-after 1]
//! ```
//!
//! With `--tight-budget`, shard 1's root group allows one restart a minute: the second crash
//! there quarantines shard 1, the dispatcher gets `ShardDown` for its workers and keeps
//! going with shard 0's; `--revive-after S` revives shard 1 after S seconds (SIGUSR2 does
//! the same). `--abort-on-overload` aborts the whole process instead of quarantining, for
//! deployments where partial service is worse than a restart by an external supervisor.

use tina::prelude::*;
use tina::{OverloadPolicy, Restart, RestartBudget, Summary};
use tina_examples::{flag, switch};

/// How many workers, and where: the first half on shard 0, the rest on shard 1.
const WORKERS: usize = 4;

// ANCHOR: messages
/// A unit of work. Poisoned jobs crash the worker that takes them.
#[derive(Bounded, Clone, Copy, Debug)]
struct Job {
    id: u32,
    poisoned: bool,
}

/// Tells the dispatcher a job is finished.
#[derive(Bounded)]
struct JobDone {
    id: u32,
}

/// A worker announcing the handle of its current incarnation (the check-in pattern).
#[derive(Bounded)]
struct CheckIn {
    index: u8,
    handle: Handle<Worker>,
}
// ANCHOR_END: messages

/// The dispatcher's clock.
#[derive(Bounded)]
struct Tick;

/// A worker's warm-up is over.
#[derive(Bounded)]
struct Ready;

/// Configuration for the dispatcher.
#[derive(Bounded, Clone, Copy)]
struct DispatcherArgs {
    interval_micros: u64,
    poison_every: u32,
}

#[isolate(mailbox = 64)]
struct Dispatcher {
    args: DispatcherArgs,
    workers: [Option<Handle<Worker>>; WORKERS],
    queue: tina::heapless::Deque<Job, 32>,
    next_id: u32,
    next_worker: usize,
    dispatched: u64,
    done: u64,
    last_done: u32,
    stale_sends: u64,
    down_sends: u64,
    recoveries: u64,
    bounced: u64,
}

#[isolate]
impl Dispatcher {
    fn init(args: &DispatcherArgs, ctx: &mut Ctx<Self>) -> Self {
        ctx.after(Duration::from_micros(args.interval_micros), Tick)
            .expect("a timer slot at boot");
        Dispatcher {
            args: *args,
            workers: [None; WORKERS],
            queue: tina::heapless::Deque::new(),
            next_id: 1,
            next_worker: 0,
            dispatched: 0,
            done: 0,
            last_done: 0,
            stale_sends: 0,
            down_sends: 0,
            recoveries: 0,
            bounced: 0,
        }
    }

    fn tick(&mut self, _tick: Tick, ctx: &mut Ctx<Self>) -> Effect {
        let id = self.next_id;
        self.next_id += 1;
        let job = Job {
            id,
            poisoned: id.is_multiple_of(self.args.poison_every),
        };
        if self.queue.push_back(job).is_err() {
            println!("BACKLOG job {id} dropped: every worker is down or busy");
        }
        self.dispatch(ctx);
        ctx.after(Duration::from_micros(self.args.interval_micros), Tick)
            .expect("timer slot");
        Effect::Receive
    }

    // ANCHOR: check_in
    fn check_in(&mut self, check_in: CheckIn, _ctx: &mut Ctx<Self>) -> Effect {
        let index = check_in.index as usize;
        if check_in.handle.raw().generation() > 0 {
            self.recoveries += 1;
            println!(
                "RECOVER worker {index} is back as {:?}",
                check_in.handle.raw()
            );
        }
        self.workers[index] = Some(check_in.handle);
        Effect::Receive
    }
    // ANCHOR_END: check_in

    // ANCHOR: bounced
    /// A job sent to a worker on the other shard that its shard refused on arrival (the
    /// worker had crashed meanwhile, or its mailbox was full): the job comes back and goes
    /// to the front of the queue, so no job is lost.
    fn job_bounced(&mut self, bounce: Undelivered<Job>, ctx: &mut Ctx<Self>) -> Effect {
        self.bounced += 1;
        let job = bounce.message;
        println!(
            "BOUNCED job {} from {:?} ({}): queued again",
            job.id, bounce.to, bounce.reason
        );
        if bounce.reason == SendErrorKind::Stale {
            // Forget that incarnation; its successor checks in.
            for worker in &mut self.workers {
                if worker.is_some_and(|worker| worker.raw() == bounce.to) {
                    *worker = None;
                }
            }
        }
        if self.queue.push_front(job).is_err() {
            println!(
                "BACKLOG job {} dropped: every worker is down or busy",
                job.id
            );
        }
        self.dispatched -= 1;
        self.dispatch(ctx);
        Effect::Receive
    }
    // ANCHOR_END: bounced

    fn job_done(&mut self, done: JobDone, _ctx: &mut Ctx<Self>) -> Effect {
        self.done += 1;
        self.last_done = done.id;
        Effect::Receive
    }

    fn shutdown(&mut self, _ctx: &mut Ctx<Self>) -> Effect {
        println!(
            "dispatcher: {} jobs dispatched, {} done (last #{}), {} stale sends, {} sends to a \
             down shard, {} bounced back and requeued, {} recoveries seen, {} jobs still queued",
            self.dispatched,
            self.done,
            self.last_done,
            self.stale_sends,
            self.down_sends,
            self.bounced,
            self.recoveries,
            self.queue.len()
        );
        Effect::Done
    }

    // ANCHOR: dispatch
    /// Sends queued jobs round-robin to the workers that have checked in.
    #[isolate(helper)]
    fn dispatch(&mut self, ctx: &mut Ctx<Self>) {
        let mut attempts = 0;
        while let Some(&job) = self.queue.front() {
            if attempts == WORKERS {
                return;
            }
            attempts += 1;
            let index = self.next_worker;
            self.next_worker = (self.next_worker + 1) % WORKERS;
            let Some(worker) = self.workers[index] else {
                continue;
            };
            match ctx.send(&worker, job) {
                Ok(()) => {
                    self.queue.pop_front();
                    self.dispatched += 1;
                    attempts = 0;
                }
                Err(error) => match error.kind() {
                    SendErrorKind::Stale => {
                        self.stale_sends += 1;
                        println!(
                            "STALE job {} to worker {index} at {:?}: that incarnation is gone; \
                             waiting for its check-in",
                            job.id,
                            worker.raw()
                        );
                        self.workers[index] = None;
                    }
                    SendErrorKind::ShardDown => {
                        self.down_sends += 1;
                        println!(
                            "SHARD DOWN job {} to worker {index}: {} is quarantined; using the others",
                            job.id,
                            worker.shard()
                        );
                        self.workers[index] = None;
                    }
                    _ => {}
                },
            }
        }
    }
    // ANCHOR_END: dispatch

    /// Answers `main`'s question from outside the system.
    fn stats(
        &mut self,
        _question: GetStats,
        reply: ReplyTo<GetStats>,
        ctx: &mut Ctx<Self>,
    ) -> Effect {
        ctx.reply(
            reply,
            DispatcherStats {
                dispatched: self.dispatched,
                done: self.done,
                stale_sends: self.stale_sends,
                down_sends: self.down_sends,
                bounced: self.bounced,
                recoveries: self.recoveries,
            },
        )
    }
}

/// `main` asks the running dispatcher for its figures (a blocking call from outside).
#[derive(Bounded, Request)]
#[reply(DispatcherStats)]
struct GetStats;

/// The dispatcher's own view of the run.
#[derive(Bounded, Clone, Copy, Debug)]
struct DispatcherStats {
    dispatched: u64,
    done: u64,
    stale_sends: u64,
    down_sends: u64,
    bounced: u64,
    recoveries: u64,
}

// ANCHOR: worker
/// Who a worker is and whom it reports to.
#[derive(Bounded, Clone, Copy)]
struct WorkerArgs {
    index: u8,
    dispatcher: Handle<Dispatcher>,
    warm_up_micros: u64,
}

#[isolate(mailbox = 16)]
struct Worker {
    args: WorkerArgs,
    completed: u64,
}

#[isolate]
impl Worker {
    fn init(args: &WorkerArgs, ctx: &mut Ctx<Self>) -> Self {
        // Warm up before taking work; the dispatcher learns the new handle afterwards.
        ctx.after(Duration::from_micros(args.warm_up_micros), Ready)
            .expect("timer slot");
        Worker {
            args: *args,
            completed: 0,
        }
    }

    fn ready(&mut self, _ready: Ready, ctx: &mut Ctx<Self>) -> Effect {
        let handle = ctx.me();
        // A full dispatcher mailbox would lose the check-in; a real system would retry.
        let _ = ctx.send(
            &self.args.dispatcher,
            CheckIn {
                index: self.args.index,
                handle,
            },
        );
        Effect::Receive
    }

    fn job(&mut self, job: Job, ctx: &mut Ctx<Self>) -> Effect {
        if job.poisoned {
            println!(
                "FAIL worker {} got poisoned job {}: crashing",
                self.args.index, job.id
            );
            panic!("job {} is poisoned", job.id);
        }
        self.completed += 1;
        let _ = ctx.send(&self.args.dispatcher, JobDone { id: job.id });
        Effect::Receive
    }
}
// ANCHOR_END: worker

fn main() {
    if switch("--help") {
        println!(
            "usage: task_dispatcher [--seconds N] [--poison-every N] [--interval-micros N] \
             [--tight-budget] [--revive-after S] [--abort-on-overload]"
        );
        return;
    }
    let seconds: f64 = flag("--seconds", 3.0);
    let poison_every: u32 = flag("--poison-every", 5).max(1);
    let interval_micros: u64 = flag("--interval-micros", 2_000);
    let tight_budget = switch("--tight-budget");
    let revive_after: f64 = flag("--revive-after", 0.0);
    let abort_on_overload = switch("--abort-on-overload");

    // ANCHOR: spec
    let mut spec = BootSpec::new(2);
    spec.isolate::<Dispatcher>(1).isolate::<Worker>(WORKERS);
    // Crash reports are printed by the FAIL lines here; keep the runtime's log quiet.
    spec.print_crashes(false)
        .overload_policy(if abort_on_overload {
            OverloadPolicy::Abort
        } else {
            OverloadPolicy::Quarantine
        });
    let dispatcher = spec.root::<Dispatcher>(
        ShardId(0),
        DispatcherArgs {
            interval_micros,
            poison_every,
        },
    );
    for index in 0..WORKERS {
        let shard = ShardId((index * 2 / WORKERS) as u16);
        let group = spec.supervisor(shard);
        if tight_budget && shard == ShardId(1) {
            spec.budget(group, RestartBudget::new(1, Duration::from_secs(60)));
        } else {
            spec.budget(group, RestartBudget::new(100, Duration::from_secs(1)));
        }
        spec.child::<Worker>(
            group,
            Restart::Permanent,
            WorkerArgs {
                index: index as u8,
                dispatcher,
                // Long enough that the dispatcher routes work to the old handle meanwhile.
                warm_up_micros: 3 * WORKERS as u64 * interval_micros,
            },
        );
    }
    if let Err(error) = spec.validate() {
        eprintln!("{error}");
        std::process::exit(2);
    }
    // ANCHOR_END: spec

    // ANCHOR: run
    let system = match System::start(spec) {
        Ok(system) => system,
        Err(error) => {
            eprintln!("cannot start: {error}");
            std::process::exit(1);
        }
    };
    if let Err(error) = system.shutdown_on_signals() {
        eprintln!("no signal handlers ({error}); stop with the time limit");
    }
    println!(
        "running for {seconds} s: a job every {interval_micros} µs, every {poison_every}th poisoned{}",
        if tight_budget {
            "; shard 1 allows one restart a minute"
        } else {
            ""
        }
    );
    let total = Duration::from_secs_f64(seconds);
    let revive_at = (revive_after > 0.0).then(|| Duration::from_secs_f64(revive_after));
    let signalled = match revive_at {
        Some(at) if at < total => {
            let early = system.wait_for_signal(at);
            if !early {
                println!(
                    "REVIVE shard 1 (quarantines so far: {})",
                    system.counters(ShardId(1)).quarantines
                );
                system.revive(ShardId(1));
                system.wait_for_signal(total - at)
            } else {
                true
            }
        }
        _ => system.wait_for_signal(total),
    };
    if signalled {
        println!("signal received: shutting down");
    }
    // The way out of a running system: a call from `main`, answered by the dispatcher.
    match system.call(&dispatcher, GetStats, Duration::from_secs(1)) {
        Ok(stats) => println!(
            "asked from main, the dispatcher says: {} dispatched, {} done, {} stale sends, {} \
             sends to a down shard, {} bounced and requeued, {} recoveries",
            stats.dispatched,
            stats.done,
            stats.stale_sends,
            stats.down_sends,
            stats.bounced,
            stats.recoveries
        ),
        Err(error) => println!("the dispatcher did not answer: {error}"),
    }
    let summary = system.shutdown(Duration::from_secs(1));
    // ANCHOR_END: run
    print_summary(&summary);
}

fn print_summary(summary: &Summary) {
    let total = &summary.total;
    println!("summary:");
    println!("  crashes          {}", total.crashed);
    println!("  restarts         {}", total.restarts);
    println!("  stale sends      {}", total.refused_stale);
    println!("  shard-down sends {}", total.refused_shard_down);
    println!("  quarantines      {}", total.quarantines);
    println!("  revives          {}", total.revives);
    println!("  messages handled {}", total.dispatched);
    for (index, shard) in summary.shards.iter().enumerate() {
        println!(
            "  shard {index}: {} dispatched, {} crashed, {} restarts, {} quarantines",
            shard.dispatched, shard.crashed, shard.restarts, shard.quarantines
        );
    }
    println!("  drained cleanly  {}", summary.drained);
}
