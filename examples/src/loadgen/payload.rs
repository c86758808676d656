//! The bytes a message carries: a pattern unique to the connection, the message and the
//! offset, so an echo that returns another connection's bytes, a stale message or bytes
//! out of order is caught — without keeping a copy of what was sent.

/// The seed of message `message` on connection `connection`: a splitmix64 of both.
pub(crate) fn seed(connection: u64, message: u64) -> u64 {
    let mut value = (connection << 40) ^ message ^ 0x9E37_79B9_7F4A_7C15;
    value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    value ^ (value >> 31)
}

/// The byte at `offset` of the message with `seed`: one of the seed's eight bytes, mixed
/// with the offset's higher bits so the pattern does not repeat every eight bytes.
fn byte(seed: u64, offset: usize) -> u8 {
    let lane = (seed >> ((offset & 7) * 8)) as u8;
    lane ^ (offset >> 3) as u8 ^ (offset >> 11) as u8
}

/// The eight bytes at `offset..offset + 8` for an `offset` that is a multiple of eight, as
/// one little-endian word: what [`byte`] gives for each of them.
fn word(seed: u64, offset: usize) -> u64 {
    let mix = (offset >> 3) as u8 ^ (offset >> 11) as u8;
    seed ^ (u64::from(mix) * 0x0101_0101_0101_0101)
}

/// Fills `buffer` with the message's bytes from `offset` on.
pub(crate) fn fill(seed: u64, offset: usize, buffer: &mut [u8]) {
    let head = buffer.len().min((8 - offset % 8) % 8);
    let (unaligned, rest) = buffer.split_at_mut(head);
    for (position, slot) in unaligned.iter_mut().enumerate() {
        *slot = byte(seed, offset + position);
    }
    let offset = offset + head;
    let tail_offset = offset + (rest.len() & !7);
    let mut words = rest.chunks_exact_mut(8);
    for (index, chunk) in (&mut words).enumerate() {
        chunk.copy_from_slice(&word(seed, offset + index * 8).to_le_bytes());
    }
    for (position, slot) in words.into_remainder().iter_mut().enumerate() {
        *slot = byte(seed, tail_offset + position);
    }
}

/// Whether `received` are exactly the message's bytes from `offset` on.
pub(crate) fn matches(seed: u64, offset: usize, received: &[u8]) -> bool {
    let head = received.len().min((8 - offset % 8) % 8);
    let (unaligned, rest) = received.split_at(head);
    let bytes_match = |start: usize, bytes: &[u8]| {
        bytes
            .iter()
            .enumerate()
            .all(|(position, &value)| value == byte(seed, start + position))
    };
    if !bytes_match(offset, unaligned) {
        return false;
    }
    let offset = offset + head;
    let words = rest.chunks_exact(8);
    let tail = words.remainder();
    let words_match = words.enumerate().all(|(index, chunk)| {
        let expected = word(seed, offset + index * 8).to_le_bytes();
        chunk == expected
    });
    words_match && bytes_match(offset + (rest.len() & !7), tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_and_match_agree_at_any_offset() {
        let seed = seed(3, 17);
        let mut whole = vec![0; 5_000];
        fill(seed, 0, &mut whole);
        assert!(matches(seed, 0, &whole));
        assert!(matches(seed, 1_234, &whole[1_234..2_000]));
        for (start, length) in [(4_000, 100), (3, 2), (5, 21), (13, 3), (0, 8), (7, 0)] {
            let mut part = vec![0; length];
            fill(seed, start, &mut part);
            assert_eq!(
                part,
                whole[start..start + length],
                "at {start}, {length} bytes"
            );
            assert!(matches(seed, start, &whole[start..start + length]));
        }
        for (offset, expected) in whole.iter().enumerate() {
            assert_eq!(byte(seed, offset), *expected);
        }
    }

    #[test]
    fn other_messages_and_offsets_do_not_match() {
        let mut message = vec![0; 64];
        fill(seed(3, 17), 0, &mut message);
        assert!(!matches(seed(3, 18), 0, &message));
        assert!(!matches(seed(4, 17), 0, &message));
        assert!(!matches(seed(3, 17), 8, &message));
        message[63] ^= 1;
        assert!(!matches(seed(3, 17), 0, &message));
    }
}
