//! `Keyed`: a small table of values for the few slots that need one, sorted by slot.
//!
//! Supervision membership and kept init args concern only supervised isolates — the static
//! children of the boot spec and the dynamic children of groups — whose number the boot spec
//! bounds. Keeping them per slot would charge every isolate for them; keeping them here, in a
//! table whose capacity is that bound, charges nothing to the isolates that are not
//! supervised. Lookups are a binary search; inserts and removals (on spawn of a supervised
//! child, and when one is released) shift the entries behind, which is cheap at these sizes
//! and never allocates: the capacity is fixed at boot and the callers keep within it.

/// Values keyed by a slot index, sorted, with a fixed capacity.
#[derive(Debug)]
pub(crate) struct Keyed<V> {
    entries: Vec<(u32, V)>,
}

impl<V> Keyed<V> {
    /// An empty table with room for `capacity` entries.
    #[cfg(test)]
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self::try_with_capacity(capacity).expect("a small test table")
    }

    /// [`Keyed::with_capacity`], reporting a refused allocation.
    pub(crate) fn try_with_capacity(capacity: usize) -> Result<Self, crate::memory::Refused> {
        Ok(Self {
            entries: crate::memory::try_vec(capacity)?,
        })
    }

    fn position(&self, key: u32) -> Result<usize, usize> {
        self.entries.binary_search_by_key(&key, |&(entry, _)| entry)
    }

    /// The value kept for `key`.
    #[inline]
    pub(crate) fn get(&self, key: u32) -> Option<&V> {
        if self.entries.is_empty() {
            return None;
        }
        let index = self.position(key).ok()?;
        Some(&self.entries[index].1)
    }

    /// Whether a value is kept for `key`.
    #[inline]
    pub(crate) fn contains(&self, key: u32) -> bool {
        self.get(key).is_some()
    }

    /// Keeps `value` for `key` (replacing any value kept before) and returns it; hands it
    /// back when the table is full, which the callers' bound rules out.
    pub(crate) fn insert(&mut self, key: u32, value: V) -> Result<&V, V> {
        let index = match self.position(key) {
            Ok(index) => {
                self.entries[index].1 = value;
                index
            }
            Err(index) => {
                if self.entries.len() == self.entries.capacity() {
                    return Err(value);
                }
                self.entries.insert(index, (key, value));
                index
            }
        };
        Ok(&self.entries[index].1)
    }

    /// Forgets the value kept for `key`, returning it.
    pub(crate) fn remove(&mut self, key: u32) -> Option<V> {
        let index = self.position(key).ok()?;
        Some(self.entries.remove(index).1)
    }

    /// How many values are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_sorted_replaces_and_refuses_beyond_capacity() {
        let mut table = Keyed::with_capacity(3);
        assert_eq!(table.get(4), None);
        assert_eq!(table.insert(9, "nine"), Ok(&"nine"));
        assert_eq!(table.insert(2, "two"), Ok(&"two"));
        assert_eq!(table.insert(5, "five"), Ok(&"five"));
        assert_eq!(
            table.insert(5, "FIVE"),
            Ok(&"FIVE"),
            "a present key is replaced"
        );
        assert_eq!(table.insert(7, "seven"), Err("seven"), "full: handed back");
        assert_eq!(table.len(), 3);
        assert_eq!(
            (table.get(2), table.get(5), table.get(9), table.get(3)),
            (Some(&"two"), Some(&"FIVE"), Some(&"nine"), None)
        );
        assert_eq!(table.remove(5), Some("FIVE"));
        assert_eq!(table.remove(5), None);
        assert!(!table.contains(5));
        assert_eq!(table.insert(7, "seven"), Ok(&"seven"));
        assert!(table.contains(7) && table.contains(9) && table.contains(2));
        assert_eq!(table.entries.capacity(), 3, "never grew");
    }
}
