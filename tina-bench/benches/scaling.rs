//! Multi-core scaling: aggregate one-way throughput with 1, 2, 4, … shards, against a tokio
//! multi-thread runtime with as many worker threads, interleaved in one process.
//!
//! | contender | what runs |
//! |---|---|
//! | tina, a pair per shard | `S` shards (pinned threads); on each, a sender isolate and a receiver isolate on the same shard, mailbox bound 256 |
//! | tina, shard i → shard i+1 | `S` shards; the sender on shard `i` sends to the receiver on shard `(i + 1) % S` over the rings (ring capacity 256); `S ≥ 2` |
//! | tokio, S workers | a multi-thread runtime with `S` worker threads; `S` sender tasks each feeding its own receiver task through `mpsc::channel(256)`; tokio places and steals tasks as it likes |
//!
//! Every pair moves the same number of messages, so a perfectly scaling contender keeps its
//! time per sample constant while its aggregate rate grows with `S`. Every receiver checks
//! order and count; a lost, duplicated or reordered message fails the run.
//!
//! The shard counts default to the powers of two up to the number of cores (plus the core
//! count itself); `TINA_BENCH_SHARDS=1,2,4` picks them. On a machine with fewer cores than
//! shards, shard threads share cores (see `BootSpec::pin_threads`).
//!
//! Run with `cargo bench -p tina-bench --bench scaling` (`TINA_BENCH_QUICK=1` for a short
//! run).

use std::time::{Duration, Instant};

use tina_bench::stream::{self, Receiver, Sender};
use tina_bench::{Contender, Metric, Plan, Probe, Table, interleave, machine};
use tina_runtime::{BootSpec, ShardId, System};

/// Mailbox, channel and ring bound.
const BOUND: usize = 256;

static PROBE: Probe = Probe::new();

/// The receiver: mailbox bound 256.
type Sink = Receiver<BOUND>;

/// The sender: sends until the mailbox (same shard) or the ring (next shard) is full, then
/// yields.
type Source = Sender<BOUND>;

/// One sample: `shards` shards, one sender per shard sending `per_pair` messages to a
/// receiver `offset` shards further on; returns messages per second, all pairs together.
fn tina(shards: usize, offset: usize, per_pair: u64) -> f64 {
    PROBE.reset();
    let mut spec = BootSpec::new(shards);
    spec.isolate::<Sink>(1)
        .isolate::<Source>(1)
        .ring_capacity(BOUND);
    let pairs = shards as u64;
    for shard in 0..shards {
        let receiver_shard = ShardId(((shard + offset) % shards) as u16);
        stream::add_pair::<BOUND>(
            &mut spec,
            receiver_shard,
            ShardId(shard as u16),
            per_pair,
            pairs,
            &PROBE,
        );
    }
    let system = System::start(spec).expect("boot");
    let finished = system.wait_until(Duration::from_secs(300), |totals| {
        totals.exited == 2 * pairs
    });
    let summary = system.shutdown(Duration::from_secs(5));
    PROBE.check();
    assert!(finished, "tina: run did not finish: {:?}", summary.total);
    assert_eq!(PROBE.count(), pairs * per_pair, "tina: wrong count");
    assert_eq!(
        summary.total.dropped_on_arrival, 0,
        "tina: messages dropped on arrival"
    );
    (pairs * per_pair) as f64 / PROBE.elapsed_seconds()
}

/// One sample on a tokio multi-thread runtime with `workers` worker threads and as many
/// sender/receiver task pairs; returns messages per second, all pairs together.
fn tokio_pairs(runtime: &tokio::runtime::Runtime, workers: usize, per_pair: u64) -> f64 {
    runtime.block_on(async move {
        let start = Instant::now();
        let mut receivers = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (sender, mut inbox) = tokio::sync::mpsc::channel::<u64>(BOUND);
            receivers.push(tokio::spawn(async move {
                let mut expected = 0;
                while let Some(sequence) = inbox.recv().await {
                    assert_eq!(sequence, expected, "tokio: out of order");
                    expected += 1;
                }
                expected
            }));
            tokio::spawn(async move {
                for sequence in 0..per_pair {
                    sender.send(sequence).await.expect("tokio: receiver alive");
                }
            });
        }
        let mut total = 0;
        for receiver in receivers {
            let received = receiver.await.expect("tokio: receiver finished");
            assert_eq!(received, per_pair, "tokio: wrong count");
            total += received;
        }
        total as f64 / start.elapsed().as_secs_f64()
    })
}

/// The shard counts to measure.
fn shard_counts() -> Vec<usize> {
    if let Ok(list) = std::env::var("TINA_BENCH_SHARDS") {
        return list
            .split(',')
            .map(|count| {
                count
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("TINA_BENCH_SHARDS: not a number: {count:?}"))
            })
            .filter(|&count| count > 0)
            .collect();
    }
    let cores = machine::cpus().max(1);
    let mut counts: Vec<usize> = (0..)
        .map(|power| 1usize << power)
        .take_while(|&count| count <= cores)
        .collect();
    if counts.last() != Some(&cores) {
        counts.push(cores);
    }
    counts
}

fn main() {
    let plan = Plan::from_env();
    let per_pair: u64 = plan.pick(5_000_000, 1_000_000, 2_000);
    eprintln!("scaling: {}", plan.describe());
    let mut table = Table::new();
    table.line(format!(
        "\n### Multi-core scaling ({per_pair} messages per pair per sample, one pair per shard \
         or worker; {}; {})",
        plan.describe(),
        machine::describe()
    ));
    let mut summary = Vec::new();
    for shards in shard_counts() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(shards)
            .build()
            .expect("tokio runtime");
        let mut contenders = vec![Contender::new("tina, a pair per shard", || {
            tina(shards, 0, per_pair) / 1e6
        })];
        if shards >= 2 {
            contenders.push(Contender::new("tina, shard i → shard i+1", || {
                tina(shards, 1, per_pair) / 1e6
            }));
        }
        contenders.push(Contender::new("tokio, S workers", || {
            tokio_pairs(&runtime, shards, per_pair) / 1e6
        }));
        let samples = interleave(&plan, &mut contenders);
        table.section(
            &format!("{shards} shard(s) / worker thread(s): aggregate M msgs/s"),
            &samples,
            Metric::throughput("M msgs/s"),
            "tina, a pair per shard",
        );
        let local = tina_bench::median(samples.of("tina, a pair per shard"));
        let cross =
            (shards >= 2).then(|| tina_bench::median(samples.of("tina, shard i → shard i+1")));
        let tokio = tina_bench::median(samples.of("tokio, S workers"));
        summary.push((shards, local, cross, tokio));
    }
    table.line("\n**scaling summary (medians; efficiency = rate ÷ (S × the 1-shard rate))**\n");
    table.line(
        "| S | tina pair per shard | efficiency | tina i → i+1 | tokio, S workers | efficiency |",
    );
    table.line("|---:|---:|---:|---:|---:|---:|");
    if let Some(&(_, local_one, _, tokio_one)) = summary.first() {
        for &(shards, local, cross, tokio) in &summary {
            let cross = cross.map_or_else(|| "—".to_string(), |rate| format!("{rate:.1}"));
            table.line(format!(
                "| {shards} | {local:.1} | {:.0}% | {cross} | {tokio:.1} | {:.0}% |",
                100.0 * local / (shards as f64 * local_one),
                100.0 * tokio / (shards as f64 * tokio_one),
            ));
        }
    }
    table.finish();
}
