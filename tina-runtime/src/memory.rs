//! The memory ceiling checked at boot: what a spec reserves against what the process can
//! get — a cap set in the spec, the address-space limit (`RLIMIT_AS`, `ulimit -v`) and the
//! memory the OS reports available — so a spec too large for the machine is refused with
//! the numbers instead of aborting halfway through boot.

/// An allocation the allocator refused at boot: it becomes [`SpecError::OutOfMemory`]
/// instead of ending the process.
///
/// [`SpecError::OutOfMemory`]: crate::SpecError::OutOfMemory
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Refused {
    /// The bytes asked for.
    pub(crate) bytes: usize,
}

impl Refused {
    /// The refusal of `count` items of `T`.
    pub(crate) fn of<T>(count: usize) -> Refused {
        Refused {
            bytes: count.saturating_mul(size_of::<T>()),
        }
    }
}

/// A boxed slice of `len` items made by `make`, its memory reserved first.
pub(crate) fn try_boxed<T>(len: usize, make: impl FnMut(usize) -> T) -> Result<Box<[T]>, Refused> {
    let mut items = try_vec(len)?;
    items.extend((0..len).map(make));
    Ok(items.into_boxed_slice())
}

/// An empty double-ended queue with room for `capacity` items, reserved now.
pub(crate) fn try_deque<T>(capacity: usize) -> Result<std::collections::VecDeque<T>, Refused> {
    let mut items = std::collections::VecDeque::new();
    items
        .try_reserve_exact(capacity)
        .map_err(|_| Refused::of::<T>(capacity))?;
    Ok(items)
}

/// An empty vector with room for `capacity` items, reserved now.
pub(crate) fn try_vec<T>(capacity: usize) -> Result<Vec<T>, Refused> {
    let mut items = Vec::new();
    items
        .try_reserve_exact(capacity)
        .map_err(|_| Refused::of::<T>(capacity))?;
    Ok(items)
}

/// The tightest bound on memory the process can still get, and where it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ceiling {
    /// Bytes.
    pub(crate) bytes: u64,
    /// What sets it, for the error message.
    pub(crate) source: &'static str,
}

/// Stack reserved per shard thread (the standard library's default): counted against the
/// address-space limit only, since untouched stack pages take no memory.
const STACK_BYTES: u64 = 2 << 20;

/// The ceiling for a boot that reserves `needed` bytes on `threads` new threads, if any
/// bound is known: the spec's cap, what `RLIMIT_AS` leaves beside the address space in use
/// (minus the threads' stacks), and the OS's available memory.
pub(crate) fn ceiling(cap: Option<u64>, threads: u64) -> Option<Ceiling> {
    let mut bounds = Vec::with_capacity(3);
    if let Some(cap) = cap {
        bounds.push(Ceiling {
            bytes: cap,
            source: "the spec's memory_limit",
        });
    }
    if let Some(limit) = address_space_limit() {
        let in_use = status_kib("VmSize:").unwrap_or(0).saturating_mul(1024);
        bounds.push(Ceiling {
            bytes: limit
                .saturating_sub(in_use)
                .saturating_sub(threads.saturating_mul(STACK_BYTES)),
            source: "the address-space limit (RLIMIT_AS, `ulimit -v`) less what the process uses",
        });
    }
    if let Some(available) = meminfo_kib("MemAvailable:") {
        bounds.push(Ceiling {
            bytes: available.saturating_mul(1024),
            source: "the memory the OS reports available (MemAvailable)",
        });
    }
    bounds.into_iter().min_by_key(|bound| bound.bytes)
}

/// `RLIMIT_AS`, if the process has one. (Not asked under Miri, which runs no foreign code.)
#[cfg(miri)]
fn address_space_limit() -> Option<u64> {
    None
}

/// `RLIMIT_AS`, if the process has one.
#[cfg(not(miri))]
fn address_space_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // `getrlimit` writes one `rlimit` through the pointer, which points to a live,
    // properly aligned local of exactly that type; it reads nothing else.
    // SAFETY: so the call writes only into `limit`.
    let status = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) };
    (status == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// A `kB` field of `/proc/self/status`. (Not read under Miri, whose isolation forbids it.)
fn status_kib(field: &str) -> Option<u64> {
    if cfg!(miri) {
        return None;
    }
    kib_field(&std::fs::read_to_string("/proc/self/status").ok()?, field)
}

/// A `kB` field of `/proc/meminfo`. (Not read under Miri.)
fn meminfo_kib(field: &str) -> Option<u64> {
    if cfg!(miri) {
        return None;
    }
    kib_field(&std::fs::read_to_string("/proc/meminfo").ok()?, field)
}

/// The number in the line `field   N kB` of `text`.
fn kib_field(text: &str, field: &str) -> Option<u64> {
    let line = text.lines().find(|line| line.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kib_fields_are_read() {
        let text = "MemTotal:       24000000 kB\nMemAvailable:   12345 kB\n";
        assert_eq!(kib_field(text, "MemAvailable:"), Some(12_345));
        assert_eq!(kib_field(text, "Missing:"), None);
    }

    #[test]
    fn a_cap_bounds_the_ceiling() {
        let ceiling = ceiling(Some(4096), 1).expect("a cap is a bound");
        assert_eq!(ceiling.bytes, 4096);
        assert_eq!(ceiling.source, "the spec's memory_limit");
    }
}
