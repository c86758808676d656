//! The round-robin runner: every contender once per round, in a rotated order.

use crate::plan::Plan;

/// One contender: a name and a closure that runs one sample and returns its figure (in the
/// unit of the table it goes into). The closure verifies its own result and panics when the
/// result is wrong.
pub struct Contender<'a> {
    /// The name shown in the report.
    pub name: &'static str,
    run: Box<dyn FnMut() -> f64 + 'a>,
}

impl<'a> Contender<'a> {
    /// A contender named `name` whose samples come from `run`.
    pub fn new(name: &'static str, run: impl FnMut() -> f64 + 'a) -> Self {
        Self {
            name,
            run: Box::new(run),
        }
    }
}

impl core::fmt::Debug for Contender<'_> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("Contender")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Every contender's samples, one per round, in round order.
#[derive(Clone, Debug)]
pub struct Samples {
    /// Contender names, in the order they were given.
    pub names: Vec<&'static str>,
    /// `values[contender][round]`.
    pub values: Vec<Vec<f64>>,
}

impl Samples {
    /// The samples of the contender called `name` (none if it did not run, for example when
    /// `TINA_BENCH_ONLY` left it out).
    pub fn of(&self, name: &str) -> &[f64] {
        self.names
            .iter()
            .position(|known| *known == name)
            .map_or(&[], |index| &self.values[index])
    }

    /// The median over rounds of `numerator`'s sample divided by `denominator`'s sample in
    /// the same round.
    pub fn ratio_median(&self, numerator: &str, denominator: &str) -> f64 {
        let ratios: Vec<f64> = self
            .of(numerator)
            .iter()
            .zip(self.of(denominator))
            .map(|(top, bottom)| top / bottom)
            .collect();
        crate::stats::median(&ratios)
    }
}

/// Runs `plan.rounds` rounds (after one discarded warm-up round unless this is a smoke run);
/// in round `r` the contenders run starting from the one at index `r % len`, so each takes
/// every position in turn. Progress goes to stderr.
///
/// `TINA_BENCH_ONLY=text` keeps only the contenders whose name contains `text` (for
/// profiling one of them); the report then has rows for those alone.
pub fn interleave(plan: &Plan, contenders: &mut [Contender<'_>]) -> Samples {
    let only = std::env::var("TINA_BENCH_ONLY").ok();
    let mut kept: Vec<&mut Contender<'_>> = contenders
        .iter_mut()
        .filter(|contender| {
            only.as_deref()
                .is_none_or(|text| contender.name.contains(text))
        })
        .collect();
    let contenders = kept.as_mut_slice();
    let count = contenders.len();
    let mut values = vec![Vec::with_capacity(plan.rounds); count];
    if plan.warm_up() {
        for contender in contenders.iter_mut() {
            eprint!("\r  warm-up: {:<40}", contender.name);
            (contender.run)();
        }
    }
    for round in 0..plan.rounds {
        for offset in 0..count {
            let index = (round + offset) % count;
            let contender = &mut contenders[index];
            eprint!(
                "\r  round {}/{}: {:<40}",
                round + 1,
                plan.rounds,
                contender.name
            );
            values[index].push((contender.run)());
        }
    }
    eprintln!("\r  {} rounds done{:<50}", plan.rounds, "");
    Samples {
        names: contenders.iter().map(|contender| contender.name).collect(),
        values,
    }
}
