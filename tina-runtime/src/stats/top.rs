//! A `top` for shards: a plain-text view of a [`Stats`] snapshot, rates taken against the
//! previous one.
//!
//! [`render`] returns the screen as a `String` (one line per row, no escape codes), so it
//! can be printed, logged, compared in a test, or drawn by a terminal front end — the
//! facade's `top` feature redraws it in place once a second. It works the same on a
//! [`Simulation`](crate::Simulation) between rounds ([`Simulation::stats`](crate::Simulation::stats)).
//!
//! The screen has three parts:
//!
//! - **shards**: utilisation (busy ÷ wall since the previous snapshot), dispatches per
//!   second, ticks per second, sleeps per second, the longest tick, pool and call-table
//!   use, envelopes waiting in the rings to peers, open sockets, pending timers, state;
//! - **isolate types** (all shards added up): live / slots, ready, waiting on a call,
//!   queued messages and the deepest mailbox, handler calls per second, sampled handler
//!   p50 / p99 / max, refusals, bounces, crashes, restarts;
//! - **top types** by estimated handler time per second and by queued messages.

use core::fmt::Write as _;

use super::{Stats, TypeStats};

/// What [`render`] shows.
#[derive(Clone, Debug)]
pub struct TopOptions {
    /// Rows in each top-N list (default 5).
    pub top_n: usize,
    /// Most isolate-type rows (default 32); the rest are summarised in one line.
    pub type_rows: usize,
    /// A title for the first line (default "tina top").
    pub title: String,
}

impl Default for TopOptions {
    fn default() -> Self {
        Self {
            top_n: 5,
            type_rows: 32,
            title: "tina top".to_string(),
        }
    }
}

/// A duration in nanoseconds in a short human form: `850ns`, `12.4µs`, `3.1ms`, `2.0s`.
pub fn human_nanos(nanos: u64) -> String {
    match nanos {
        0..=999 => format!("{nanos}ns"),
        1_000..=999_999 => format!("{:.1}µs", nanos as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.1}ms", nanos as f64 / 1e6),
        _ => format!("{:.1}s", nanos as f64 / 1e9),
    }
}

/// A count in a short human form: `950`, `12.3k`, `4.5M`, `1.2G`.
pub fn human_count(value: f64) -> String {
    let value = value.max(0.0);
    if value < 1e3 {
        format!("{value:.0}")
    } else if value < 1e6 {
        format!("{:.1}k", value / 1e3)
    } else if value < 1e9 {
        format!("{:.1}M", value / 1e6)
    } else {
        format!("{:.1}G", value / 1e9)
    }
}

/// Per second: `now - before` over `seconds` (0 when no time passed).
fn rate(now: u64, before: u64, seconds: f64) -> f64 {
    if seconds <= 0.0 {
        0.0
    } else {
        now.saturating_sub(before) as f64 / seconds
    }
}

/// Renders the `top` screen for `now`; rates are against `previous` (an earlier snapshot of
/// the same system), or since boot without one.
pub fn render(now: &Stats, previous: Option<&Stats>, options: &TopOptions) -> String {
    let mut out = String::with_capacity(4096);
    let types_now = now.types_total();
    let types_before = previous.map(Stats::types_total);
    let latest = now
        .shards
        .iter()
        .map(|shard| shard.at.as_nanos())
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "{} — {} shards, {} isolate types, uptime {}",
        options.title,
        now.shards.len(),
        types_now.len(),
        human_nanos(latest)
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:>5} {:>6} {:>9} {:>8} {:>8} {:>9} {:>11} {:>9} {:>7} {:>6} {:>6} {:>11}",
        "SHARD",
        "UTIL%",
        "DISP/s",
        "TICKS/s",
        "SLEEP/s",
        "TICK-MAX",
        "POOL",
        "CALLS",
        "RINGS",
        "SOCKS",
        "TIMERS",
        "STATE"
    );
    for shard in &now.shards {
        let before = previous.and_then(|stats| stats.shards.get(shard.shard.index()));
        let (seconds, utilisation) = match before {
            Some(before) if shard.at > before.at => (
                (shard.at.as_nanos() - before.at.as_nanos()) as f64 / 1e9,
                shard.utilisation_since(before),
            ),
            _ => (shard.at.as_nanos() as f64 / 1e9, shard.utilisation()),
        };
        let counter = |pick: fn(&crate::Counters) -> u64| {
            rate(
                pick(&shard.counters),
                before.map_or(0, |before| pick(&before.counters)),
                seconds,
            )
        };
        let state = if shard.version == 0 {
            "not started"
        } else if shard.quarantined {
            "QUARANTINED"
        } else {
            "running"
        };
        let rings: u64 = shard.rings.iter().sum();
        let _ = writeln!(
            out,
            "{:>5} {:>6.1} {:>9} {:>8} {:>8} {:>9} {:>11} {:>9} {:>7} {:>6} {:>6} {:>11}",
            shard.shard.index(),
            utilisation * 100.0,
            human_count(counter(|counters| counters.dispatched)),
            human_count(counter(|counters| counters.ticks)),
            human_count(counter(|counters| counters.sleeps)),
            human_nanos(shard.tick_max_nanos),
            format!("{}/{}", shard.pool_used, shard.pool_capacity),
            shard.calls_outstanding,
            rings,
            shard.connections,
            shard.timers_pending,
            state
        );
    }
    let _ = writeln!(out);
    let seconds = seconds_between(now, previous);
    let _ = writeln!(
        out,
        "{:<24} {:>13} {:>6} {:>6} {:>7} {:>6} {:>9} {:>8} {:>8} {:>8} {:>7} {:>6} {:>6} {:>6}",
        "TYPE",
        "LIVE/SLOTS",
        "READY",
        "WAIT",
        "QUEUED",
        "DEPTH",
        "CALLS/s",
        "P50",
        "P99",
        "MAX",
        "REFUSED",
        "BOUNCE",
        "CRASH",
        "RESTRT"
    );
    for (index, stats) in types_now.iter().enumerate().take(options.type_rows) {
        let before = types_before.as_ref().and_then(|types| types.get(index));
        let _ = writeln!(
            out,
            "{:<24} {:>13} {:>6} {:>6} {:>7} {:>6} {:>9} {:>8} {:>8} {:>8} {:>7} {:>6} {:>6} {:>6}",
            truncate(stats.name, 24),
            format!("{}/{}", stats.live, stats.slots),
            stats.ready,
            stats.waiting,
            stats.queued,
            stats.depth_max,
            human_count(rate(stats.calls, before.map_or(0, |b| b.calls), seconds)),
            sampled(stats, stats.handler.quantile(0.5)),
            sampled(stats, stats.handler.quantile(0.99)),
            sampled(stats, stats.handler.max()),
            stats.refused.total(),
            stats.bounces,
            stats.crashes,
            stats.restarts
        );
    }
    if types_now.len() > options.type_rows {
        let _ = writeln!(
            out,
            "… and {} more types",
            types_now.len() - options.type_rows
        );
    }
    let _ = writeln!(out);
    // Top N by handler time per second (estimated: calls in the interval × sampled mean).
    let mut by_time: Vec<(f64, &TypeStats)> = types_now
        .iter()
        .enumerate()
        .map(|(index, stats)| {
            let before = types_before.as_ref().and_then(|types| types.get(index));
            let calls = rate(stats.calls, before.map_or(0, |b| b.calls), seconds);
            (calls * stats.handler.mean() as f64, stats)
        })
        .filter(|(busy, _)| *busy > 0.0)
        .collect();
    by_time.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.name.cmp(b.1.name)));
    let _ = write!(out, "top by handler time:");
    if by_time.is_empty() {
        let _ = write!(out, " (none sampled)");
    }
    for (busy, stats) in by_time.iter().take(options.top_n) {
        let _ = write!(
            out,
            "  {} {:.1}%",
            stats.name,
            busy / 1e9 * 100.0 / now.shards.len().max(1) as f64
        );
    }
    let _ = writeln!(out);
    let mut by_queue: Vec<&TypeStats> = types_now.iter().filter(|stats| stats.queued > 0).collect();
    by_queue.sort_by(|a, b| b.queued.cmp(&a.queued).then_with(|| a.name.cmp(b.name)));
    let _ = write!(out, "top by queued messages:");
    if by_queue.is_empty() {
        let _ = write!(out, " (none queued)");
    }
    for stats in by_queue.iter().take(options.top_n) {
        let _ = write!(
            out,
            "  {} {} (deepest {})",
            stats.name, stats.queued, stats.depth_max
        );
    }
    let _ = writeln!(out);
    out
}

/// Seconds between the two snapshots (by the latest shard clock), or since boot.
fn seconds_between(now: &Stats, previous: Option<&Stats>) -> f64 {
    let latest = |stats: &Stats| {
        stats
            .shards
            .iter()
            .map(|shard| shard.at.as_nanos())
            .max()
            .unwrap_or(0)
    };
    let end = latest(now);
    let start = previous.map_or(0, latest);
    end.saturating_sub(start) as f64 / 1e9
}

fn sampled(stats: &TypeStats, nanos: u64) -> String {
    if stats.handler.count() == 0 {
        "-".to_string()
    } else {
        human_nanos(nanos)
    }
}

fn truncate(name: &str, width: usize) -> String {
    if name.chars().count() <= width {
        name.to_string()
    } else {
        let mut short: String = name.chars().take(width - 1).collect();
        short.push('…');
        short
    }
}
