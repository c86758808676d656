//! Prometheus text exposition (format 0.0.4) of a [`Stats`] snapshot.
//!
//! [`render`] writes through `core::fmt::Write` and allocates nothing itself, so an
//! isolate can render into memory it reserved at boot (the facade's `tina::metrics`
//! endpoint does). Names follow Prometheus conventions: the `tina_` prefix, base units
//! (seconds), `_total` on counters, one `# HELP` and `# TYPE` per family followed by all
//! its samples. Labels: `shard`, and `type` (the isolate type's name), `reason`, `peer`,
//! `block_size` where they apply.
//!
//! | family | type | labels |
//! |---|---|---|
//! | `tina_<counter>_total`, one per [`Counters`] field | counter | shard |
//! | `tina_live_isolates` | gauge | shard |
//! | `tina_shard_uptime_seconds`, `tina_shard_busy_seconds_total`, `tina_shard_asleep_seconds_total`, `tina_shard_tick_max_seconds` | gauge / counter | shard |
//! | `tina_shard_quarantined`, `tina_envelope_pool_used`, `tina_envelope_pool_capacity`, `tina_connections_open`, `tina_timers_pending`, `tina_calls_outstanding` | gauge | shard |
//! | `tina_ring_queued` | gauge | shard, peer |
//! | `tina_buffer_blocks_taken`, `tina_buffer_blocks` | gauge | shard, block_size |
//! | `tina_isolate_slots`, `tina_isolates_live`, `tina_isolates_ready`, `tina_isolates_waiting`, `tina_mailbox_queued`, `tina_mailbox_depth_max` | gauge | shard, type |
//! | `tina_handler_calls_total`, `tina_bounces_total`, `tina_crashes_total`, `tina_restarts_total` | counter | shard, type |
//! | `tina_sends_refused_total` | counter | shard, type, reason |
//! | `tina_handler_seconds` (sampled dispatches) | histogram | shard, type |
//! | each user counter | counter | shard |
//! | each user histogram | histogram | shard |

use core::fmt::{self, Write};

use super::{Histogram, ShardStats, Stats, TypeStats, bucket_high, bucket_of};
use crate::counters::Counters;

/// A per-shard gauge: name, help, value.
type ShardGauge = (&'static str, &'static str, fn(&ShardStats) -> u64);

/// A per-type family: name, type, help, value.
type TypeFamily = (
    &'static str,
    &'static str,
    &'static str,
    fn(&TypeStats) -> u64,
);

/// The content type of what [`render`] writes, for an HTTP response.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders `stats` in the Prometheus text format into `out`.
///
/// # Errors
///
/// The [`fmt::Error`] of the first write `out` refuses; what was written before it stays
/// in `out`. Writing into a `String` never fails (see [`render_to_string`]).
pub fn render(stats: &Stats, out: &mut impl Write) -> fmt::Result {
    for (index, name) in Counters::NAMES.iter().enumerate() {
        let gauge = *name == "live_isolates";
        let help = Counters::HELP[index];
        if gauge {
            family(out, "tina_live_isolates", "gauge", help)?;
        } else {
            out.write_str("# HELP tina_")?;
            out.write_str(name)?;
            out.write_str("_total ")?;
            help_text(out, help)?;
            writeln!(out, "\n# TYPE tina_{name}_total counter")?;
        }
        for shard in &stats.shards {
            let value = shard.counters.values()[index];
            if gauge {
                writeln!(
                    out,
                    "tina_live_isolates{{shard=\"{}\"}} {value}",
                    shard.shard.0
                )?;
            } else {
                writeln!(
                    out,
                    "tina_{name}_total{{shard=\"{}\"}} {value}",
                    shard.shard.0
                )?;
            }
        }
    }
    shard_seconds(
        out,
        stats,
        "tina_shard_uptime_seconds",
        "gauge",
        "Time since the system booted, at the shard's last publication.",
        |shard| shard.at.as_nanos(),
    )?;
    shard_seconds(
        out,
        stats,
        "tina_shard_busy_seconds_total",
        "counter",
        "Time the shard spent in ticks that did work (utilisation: its rate).",
        |shard| shard.busy_nanos,
    )?;
    shard_seconds(
        out,
        stats,
        "tina_shard_asleep_seconds_total",
        "counter",
        "Time the shard spent asleep.",
        |shard| shard.asleep_nanos,
    )?;
    shard_seconds(
        out,
        stats,
        "tina_shard_tick_max_seconds",
        "gauge",
        "The longest tick since the last peak reset.",
        |shard| shard.tick_max_nanos,
    )?;
    let gauges: [ShardGauge; 6] = [
        (
            "tina_shard_quarantined",
            "1 while the shard is quarantined (its root group went over budget).",
            |shard| u64::from(shard.quarantined),
        ),
        (
            "tina_envelope_pool_used",
            "Envelope-pool slots in use.",
            |shard| shard.pool_used,
        ),
        (
            "tina_envelope_pool_capacity",
            "Envelope-pool slots in all.",
            |shard| shard.pool_capacity,
        ),
        (
            "tina_connections_open",
            "Open sockets (connections and listeners).",
            |shard| shard.connections,
        ),
        (
            "tina_timers_pending",
            "Timers pending, call timeouts included.",
            |shard| shard.timers_pending,
        ),
        (
            "tina_calls_outstanding",
            "Calls waiting for their outcome.",
            |shard| shard.calls_outstanding,
        ),
    ];
    for (name, help, value) in gauges {
        family(out, name, "gauge", help)?;
        for shard in &stats.shards {
            writeln!(
                out,
                "{name}{{shard=\"{}\"}} {}",
                shard.shard.0,
                value(shard)
            )?;
        }
    }
    family(
        out,
        "tina_ring_queued",
        "gauge",
        "Envelopes published to the ring to a peer shard and not yet taken.",
    )?;
    for shard in &stats.shards {
        for (peer, &queued) in shard.rings.iter().enumerate() {
            if peer != shard.shard.index() {
                writeln!(
                    out,
                    "tina_ring_queued{{shard=\"{}\",peer=\"{peer}\"}} {queued}",
                    shard.shard.0
                )?;
            }
        }
    }
    for (name, help, taken) in [
        (
            "tina_buffer_blocks_taken",
            "Transfer-buffer blocks in use, per size class.",
            true,
        ),
        (
            "tina_buffer_blocks",
            "Transfer-buffer blocks in all, per size class.",
            false,
        ),
    ] {
        family(out, name, "gauge", help)?;
        for shard in &stats.shards {
            for class in &shard.buffers {
                let value = if taken { class.taken } else { class.capacity };
                writeln!(
                    out,
                    "{name}{{shard=\"{}\",block_size=\"{}\"}} {value}",
                    shard.shard.0, class.block_size
                )?;
            }
        }
    }
    let per_type: [TypeFamily; 10] = [
        (
            "tina_isolate_slots",
            "gauge",
            "Slots the boot spec gave the isolate type.",
            |stats| stats.slots,
        ),
        (
            "tina_isolates_live",
            "gauge",
            "Isolates of the type alive.",
            |stats| stats.live,
        ),
        (
            "tina_isolates_ready",
            "gauge",
            "Isolates of the type with work waiting to be dispatched.",
            |stats| stats.ready,
        ),
        (
            "tina_isolates_waiting",
            "gauge",
            "Isolates of the type waiting on a call.",
            |stats| stats.waiting,
        ),
        (
            "tina_mailbox_queued",
            "gauge",
            "Messages queued in the type's mailboxes.",
            |stats| stats.queued,
        ),
        (
            "tina_mailbox_depth_max",
            "gauge",
            "The deepest mailbox of the type since the last peak reset.",
            |stats| stats.depth_max,
        ),
        (
            "tina_handler_calls_total",
            "counter",
            "Handler invocations of the type.",
            |stats| stats.calls,
        ),
        (
            "tina_bounces_total",
            "counter",
            "Sends of the type's isolates refused on arrival elsewhere and handed back.",
            |stats| stats.bounces,
        ),
        (
            "tina_crashes_total",
            "counter",
            "Crashes of the type's isolates.",
            |stats| stats.crashes,
        ),
        (
            "tina_restarts_total",
            "counter",
            "Restarts by supervision after an exit of one of the type's isolates.",
            |stats| stats.restarts,
        ),
    ];
    for (name, kind, help, value) in per_type {
        family(out, name, kind, help)?;
        for shard in &stats.shards {
            for stats in &shard.types {
                write!(out, "{name}{{")?;
                shard_and_type(out, shard, stats)?;
                writeln!(out, "}} {}", value(stats))?;
            }
        }
    }
    family(
        out,
        "tina_sends_refused_total",
        "counter",
        "Sends addressed to the type that the shard refused, by reason.",
    )?;
    for shard in &stats.shards {
        for stats in &shard.types {
            let refused = &stats.refused;
            for (reason, value) in [
                ("mailbox_full", refused.mailbox_full),
                ("pool_exhausted", refused.pool_exhausted),
                ("stale", refused.stale),
                ("shard_down", refused.shard_down),
                ("ring_full", refused.ring_full),
            ] {
                out.write_str("tina_sends_refused_total{")?;
                shard_and_type(out, shard, stats)?;
                writeln!(out, ",reason=\"{reason}\"}} {value}")?;
            }
        }
    }
    family(
        out,
        "tina_handler_seconds",
        "histogram",
        "Handler time of the type's sampled dispatches (one in 64 on average; the first \
         handler call of each).",
    )?;
    for shard in &stats.shards {
        for stats in &shard.types {
            histogram(out, "tina_handler_seconds", &stats.handler, true, |out| {
                shard_and_type(out, shard, stats)
            })?;
        }
    }
    for (index, metric) in stats.user_counters.iter().enumerate() {
        family(out, &metric.name, "counter", &metric.help)?;
        for shard in &stats.shards {
            let value = shard.user_counters.get(index).copied().unwrap_or(0);
            writeln!(
                out,
                "{}{{shard=\"{}\"}} {value}",
                metric.name, shard.shard.0
            )?;
        }
    }
    for (index, metric) in stats.user_histograms.iter().enumerate() {
        family(out, &metric.name, "histogram", &metric.help)?;
        for shard in &stats.shards {
            if let Some(values) = shard.user_histograms.get(index) {
                histogram(out, &metric.name, values, false, |out| {
                    write!(out, "shard=\"{}\"", shard.shard.0)
                })?;
            }
        }
    }
    Ok(())
}

/// A renderer with its memory reserved up front: a snapshot to read into and a text
/// buffer of a fixed capacity. [`Exposition::refresh`] reads the statistics and renders
/// them without allocating (once the first refresh has sized the snapshot, which `new`
/// does), so an isolate can serve metrics from memory it reserved at boot.
#[derive(Debug)]
pub struct Exposition {
    reader: super::StatsReader,
    stats: Stats,
    text: FixedText,
}

/// The rendered text would not fit the capacity given to [`Exposition::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLarge {
    /// The capacity, in bytes.
    pub capacity: usize,
}

impl fmt::Display for TooLarge {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "the metrics text does not fit in {} bytes: give the exposition more room",
            self.capacity
        )
    }
}

impl std::error::Error for TooLarge {}

impl Exposition {
    /// Reserves a snapshot of the system `reader` reads and `capacity` bytes of text.
    ///
    /// # Panics
    ///
    /// When `capacity` exceeds `isize::MAX` bytes (the text buffer cannot be reserved).
    pub fn new(reader: super::StatsReader, capacity: usize) -> Self {
        let stats = reader.read();
        Self {
            reader,
            stats,
            text: FixedText {
                bytes: Vec::with_capacity(capacity),
            },
        }
    }

    /// Reads the latest statistics and renders them; returns the text.
    ///
    /// # Errors
    ///
    /// [`TooLarge`] when the text does not fit the capacity given to
    /// [`Exposition::new`]. The snapshot is refreshed all the same.
    pub fn refresh(&mut self) -> Result<&[u8], TooLarge> {
        self.reader.read_into(&mut self.stats);
        self.text.bytes.clear();
        match render(&self.stats, &mut self.text) {
            Ok(()) => Ok(&self.text.bytes),
            Err(_) => {
                // A cut-off exposition is never served: what was written is dropped.
                self.text.bytes.clear();
                Err(TooLarge {
                    capacity: self.text.bytes.capacity(),
                })
            }
        }
    }

    /// The text of the last refresh (empty before the first, or after one that did not fit).
    pub fn text(&self) -> &[u8] {
        &self.text.bytes
    }

    /// The snapshot of the last refresh.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
}

/// Bytes with a capacity that writes never exceed (a write that would is refused).
#[derive(Debug)]
struct FixedText {
    bytes: Vec<u8>,
}

impl Write for FixedText {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if self.bytes.capacity() - self.bytes.len() < text.len() {
            return Err(fmt::Error);
        }
        self.bytes.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

/// [`render`] into a new `String` (for tests and for callers that do not mind allocating).
pub fn render_to_string(stats: &Stats) -> String {
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = render(stats, &mut text);
    text
}

/// `# HELP` and `# TYPE` lines.
fn family(out: &mut impl Write, name: &str, kind: &str, help: &str) -> fmt::Result {
    write!(out, "# HELP {name} ")?;
    help_text(out, help)?;
    writeln!(out, "\n# TYPE {name} {kind}")
}

/// Help text on one line: runs of white space become one space; `\` and line feeds are
/// escaped as the format asks.
fn help_text(out: &mut impl Write, help: &str) -> fmt::Result {
    for (index, word) in help.split_whitespace().enumerate() {
        if index > 0 {
            out.write_char(' ')?;
        }
        for c in word.chars() {
            match c {
                '\\' => out.write_str("\\\\")?,
                _ => out.write_char(c)?,
            }
        }
    }
    Ok(())
}

/// A label value, escaped (`\`, `"`, line feed).
fn label_value(out: &mut impl Write, value: &str) -> fmt::Result {
    for c in value.chars() {
        match c {
            '\\' => out.write_str("\\\\")?,
            '"' => out.write_str("\\\"")?,
            '\n' => out.write_str("\\n")?,
            _ => out.write_char(c)?,
        }
    }
    Ok(())
}

fn shard_and_type(out: &mut impl Write, shard: &ShardStats, stats: &TypeStats) -> fmt::Result {
    write!(out, "shard=\"{}\",type=\"", shard.shard.0)?;
    label_value(out, stats.name)?;
    out.write_char('"')
}

/// Nanoseconds as decimal seconds, exactly (`1.5`, `0.000000255`).
fn seconds(out: &mut impl Write, nanos: u64) -> fmt::Result {
    let (whole, fraction) = (nanos / 1_000_000_000, nanos % 1_000_000_000);
    if fraction == 0 {
        return write!(out, "{whole}");
    }
    let mut digits = 9;
    let mut fraction = fraction;
    while fraction % 10 == 0 {
        fraction /= 10;
        digits -= 1;
    }
    write!(out, "{whole}.{fraction:0digits$}")
}

fn shard_seconds(
    out: &mut impl Write,
    stats: &Stats,
    name: &str,
    kind: &str,
    help: &str,
    nanos: fn(&ShardStats) -> u64,
) -> fmt::Result {
    family(out, name, kind, help)?;
    for shard in &stats.shards {
        write!(out, "{name}{{shard=\"{}\"}} ", shard.shard.0)?;
        seconds(out, nanos(shard))?;
        out.write_char('\n')?;
    }
    Ok(())
}

/// The `le` bounds: tops of histogram buckets, so every cumulative count is exact. For
/// nanoseconds, from 2^8 − 1 ns (255 ns) to 2^34 − 1 ns (about 17 s), one per power of
/// two; for plain values, from 0 to 2^39 − 1.
fn bounds(time: bool) -> impl Iterator<Item = u64> {
    let exponents = if time { 8..=34u32 } else { 0..=39u32 };
    exponents.map(|exponent| {
        let top = (1u64 << exponent) - 1;
        debug_assert_eq!(bucket_high(bucket_of(top)), top);
        top
    })
}

/// One histogram's `_bucket`, `_sum` and `_count` lines; `labels` writes its labels.
fn histogram<W: Write>(
    out: &mut W,
    name: &str,
    values: &Histogram,
    time: bool,
    labels: impl Fn(&mut W) -> fmt::Result,
) -> fmt::Result {
    for bound in bounds(time) {
        write!(out, "{name}_bucket{{")?;
        labels(out)?;
        out.write_str(",le=\"")?;
        if time {
            seconds(out, bound)?;
        } else {
            write!(out, "{bound}")?;
        }
        writeln!(out, "\"}} {}", values.count_at_most(bound))?;
    }
    write!(out, "{name}_bucket{{")?;
    labels(out)?;
    writeln!(out, ",le=\"+Inf\"}} {}", values.count())?;
    write!(out, "{name}_sum{{")?;
    labels(out)?;
    out.write_str("} ")?;
    if time {
        seconds(out, values.sum())?;
    } else {
        write!(out, "{}", values.sum())?;
    }
    out.write_char('\n')?;
    write!(out, "{name}_count{{")?;
    labels(out)?;
    writeln!(out, "}} {}", values.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        label_value(&mut out, "a\\b\"c\nd").unwrap();
        assert_eq!(out, "a\\\\b\\\"c\\nd");
    }

    #[test]
    fn help_is_one_line() {
        let mut out = String::new();
        help_text(&mut out, " two\n  lines \\ here ").unwrap();
        assert_eq!(out, "two lines \\\\ here");
    }

    #[test]
    fn seconds_are_exact() {
        let cases = [
            (0, "0"),
            (1, "0.000000001"),
            (255, "0.000000255"),
            (1_500_000_000, "1.5"),
            (17_179_869_183, "17.179869183"),
        ];
        for (nanos, text) in cases {
            let mut out = String::new();
            seconds(&mut out, nanos).unwrap();
            assert_eq!(out, text);
        }
    }

    #[test]
    fn buckets_are_cumulative_and_exact() {
        let mut values = Histogram::new();
        for nanos in [100, 300, 300, 5_000, 70_000_000_000] {
            values.record(nanos);
        }
        let mut out = String::new();
        histogram(&mut out, "h", &values, true, |out| out.write_str("x=\"1\"")).unwrap();
        assert!(
            out.contains("h_bucket{x=\"1\",le=\"0.000000255\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("h_bucket{x=\"1\",le=\"0.000000511\"} 3\n"),
            "{out}"
        );
        assert!(
            out.contains("h_bucket{x=\"1\",le=\"0.000008191\"} 4\n"),
            "{out}"
        );
        assert!(
            out.contains("h_bucket{x=\"1\",le=\"17.179869183\"} 4\n"),
            "{out}"
        );
        assert!(out.contains("h_bucket{x=\"1\",le=\"+Inf\"} 5\n"), "{out}");
        assert!(out.contains("h_sum{x=\"1\"} 70.0000057\n"), "{out}");
        assert!(out.contains("h_count{x=\"1\"} 5\n"), "{out}");
    }
}
