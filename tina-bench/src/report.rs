//! The report: medians, spreads and per-round ratios as markdown tables.

use std::fmt::Write as _;

use crate::interleave::Samples;
use crate::stats::median;

/// What a table's figures measure.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    /// The unit, as shown in the header (`M msgs/s`, `ns`, …).
    pub unit: &'static str,
    /// Whether a larger figure is better (throughput) or worse (latency, cost).
    pub higher_is_better: bool,
}

impl Metric {
    /// A throughput: larger is better.
    pub const fn throughput(unit: &'static str) -> Self {
        Self {
            unit,
            higher_is_better: true,
        }
    }

    /// A cost or a latency: smaller is better.
    pub const fn cost(unit: &'static str) -> Self {
        Self {
            unit,
            higher_is_better: false,
        }
    }
}

/// A markdown report built section by section, printed to stdout and, when
/// `TINA_BENCH_MARKDOWN` names a file, appended to it.
#[derive(Debug, Default)]
pub struct Table {
    text: String,
}

impl Table {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a free-form line (a note, a heading).
    pub fn line(&mut self, line: impl AsRef<str>) {
        self.text.push_str(line.as_ref());
        self.text.push('\n');
    }

    /// Adds one table: a row per contender with its median, its range over rounds and —
    /// for every contender but `ours` — the median of the per-round ratios, oriented so that
    /// a figure above 1 means `ours` did better.
    pub fn section(&mut self, title: &str, samples: &Samples, metric: Metric, ours: &str) {
        let direction = if metric.higher_is_better {
            "ours ÷ theirs"
        } else {
            "theirs ÷ ours"
        };
        let _ = writeln!(self.text, "\n**{title}**\n");
        let _ = writeln!(
            self.text,
            "| contender | median ({unit}) | min | max | {ours} advantage ({direction}, median of per-round ratios) |",
            unit = metric.unit
        );
        self.text.push_str("|---|---:|---:|---:|---:|\n");
        for (name, values) in samples.names.iter().zip(&samples.values) {
            let minimum = values.iter().copied().fold(f64::INFINITY, f64::min);
            let maximum = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let advantage = if *name == ours {
                "—".to_owned()
            } else if metric.higher_is_better {
                format!("{:.2}×", samples.ratio_median(ours, name))
            } else {
                format!("{:.2}×", samples.ratio_median(name, ours))
            };
            let _ = writeln!(
                self.text,
                "| {name} | {} | {} | {} | {advantage} |",
                figure(median(values)),
                figure(minimum),
                figure(maximum)
            );
        }
    }

    /// The report so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Prints the report and appends it to the file named by `TINA_BENCH_MARKDOWN`, if set.
    pub fn finish(self) {
        println!("{}", self.text);
        if let Some(path) = std::env::var_os("TINA_BENCH_MARKDOWN") {
            use std::io::Write as _;
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut file| file.write_all(self.text.as_bytes()));
            if let Err(error) = written {
                eprintln!("could not append the report to {path:?}: {error}");
            }
        }
    }
}

/// Three significant figures or so, without exponent notation.
fn figure(value: f64) -> String {
    let magnitude = value.abs();
    if !value.is_finite() {
        format!("{value}")
    } else if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}
