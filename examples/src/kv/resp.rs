//! RESP2 requests: multibulk frames (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline commands
//! (`PING\r\n`), parsed in place. A parsed command is a list of argument ranges into the
//! bytes it was parsed from; nothing is copied and nothing is allocated.
//!
//! Written here rather than taken from a crate: the RESP crates on crates.io decode into
//! owned frames (a `Vec` per array, `Bytes` per string), which would allocate on every
//! command — against the rule that the message path allocates nothing after boot. The
//! request side of RESP2 is small: two frame shapes, four error texts (Redis's own).

use tina::heapless;

/// Arguments a command may have (more is a protocol error, like a frame over the limit).
pub const MAX_ARGS: usize = 256;

/// The ranges of a command's arguments in the parsed bytes.
pub type Args = heapless::Vec<(u32, u32), MAX_ARGS>;

/// What parsing the front of a byte stream found. (Large by design: the argument list
/// lives inline, so parsing allocates nothing; it is returned by value and never stored.)
#[derive(Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    /// Not a whole command yet: read more.
    Incomplete,
    /// Nothing to run (an empty inline line or an empty multibulk), `used` bytes long.
    Empty {
        /// Bytes it took.
        used: usize,
    },
    /// A command and how many bytes it took.
    Command {
        /// Its arguments (the name first).
        args: Args,
        /// Bytes it took.
        used: usize,
    },
    /// A malformed request: Redis answers with this error and closes the connection.
    Error(&'static str),
}

/// Parses the first request in `bytes`.
pub fn parse(bytes: &[u8]) -> Parsed {
    match bytes.first() {
        None => Parsed::Incomplete,
        Some(b'*') => multibulk(bytes),
        Some(_) => inline(bytes),
    }
}

/// The line starting at `from`, without its `\r\n`, and where the next one starts.
fn line(bytes: &[u8], from: usize) -> Option<(&[u8], usize)> {
    let rest = bytes.get(from..)?;
    let end = rest.iter().position(|&byte| byte == b'\n')?;
    let text = &rest[..end];
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    Some((text, from + end + 1))
}

/// A decimal integer as Redis's `string2ll` takes it (an optional `-`, digits, no `+`).
pub fn integer(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    // Like Redis: no leading zeros, and no "-0".
    if (digits.len() > 1 || negative) && digits[0] == b'0' {
        return None;
    }
    let mut value: i128 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i128::from(digit - b'0');
    }
    if negative {
        value = -value;
    }
    i64::try_from(value).ok()
}

fn multibulk(bytes: &[u8]) -> Parsed {
    let Some((header, mut at)) = line(bytes, 0) else {
        return too_long_or_incomplete(bytes);
    };
    let Some(count) = integer(&header[1..]) else {
        return Parsed::Error("ERR Protocol error: invalid multibulk length");
    };
    if count <= 0 {
        return Parsed::Empty { used: at };
    }
    if count > MAX_ARGS as i64 {
        return Parsed::Error("ERR Protocol error: invalid multibulk length");
    }
    let mut args = Args::new();
    for _ in 0..count {
        let Some(&first) = bytes.get(at) else {
            return Parsed::Incomplete;
        };
        if first != b'$' {
            return Parsed::Error(expected_dollar(first));
        }
        let Some((header, start)) = line(bytes, at) else {
            return too_long_or_incomplete(&bytes[at..]);
        };
        let Some(len) = integer(&header[1..]).filter(|&len| (0..=512 * 1024 * 1024).contains(&len))
        else {
            return Parsed::Error("ERR Protocol error: invalid bulk length");
        };
        let end = start + len as usize;
        if bytes.len() < end + 2 {
            return Parsed::Incomplete;
        }
        // Room was checked: at most `MAX_ARGS` pushes.
        let _ = args.push((start as u32, end as u32));
        at = end + 2;
    }
    Parsed::Command { args, used: at }
}

/// Redis's error for a multibulk element that is not a bulk string.
fn expected_dollar(found: u8) -> &'static str {
    // Redis prints the byte it found; the common ones get their own text, anything else a
    // generic one (the connection closes either way).
    match found {
        b'*' => "ERR Protocol error: expected '$', got '*'",
        b':' => "ERR Protocol error: expected '$', got ':'",
        b'+' => "ERR Protocol error: expected '$', got '+'",
        b'-' => "ERR Protocol error: expected '$', got '-'",
        _ => "ERR Protocol error: expected '$'",
    }
}

/// Longest header line or inline command Redis reads before giving up (64 KiB).
const INLINE_MAX: usize = 64 * 1024;

fn too_long_or_incomplete(bytes: &[u8]) -> Parsed {
    if bytes.len() > INLINE_MAX {
        Parsed::Error("ERR Protocol error: too big inline request")
    } else {
        Parsed::Incomplete
    }
}

fn inline(bytes: &[u8]) -> Parsed {
    let Some((text, used)) = line(bytes, 0) else {
        return too_long_or_incomplete(bytes);
    };
    let mut args = Args::new();
    let base = text.as_ptr() as usize - bytes.as_ptr() as usize;
    let mut index = 0;
    while index < text.len() {
        if text[index].is_ascii_whitespace() {
            index += 1;
            continue;
        }
        if text[index] == b'"' || text[index] == b'\'' {
            // Quoted arguments need unescaping, which cannot be done in place: refused.
            return Parsed::Error("ERR Protocol error: unbalanced quotes in request");
        }
        let start = index;
        while index < text.len() && !text[index].is_ascii_whitespace() {
            index += 1;
        }
        if args
            .push(((base + start) as u32, (base + index) as u32))
            .is_err()
        {
            return Parsed::Error("ERR Protocol error: invalid multibulk length");
        }
    }
    if args.is_empty() {
        Parsed::Empty { used }
    } else {
        Parsed::Command { args, used }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(bytes: &[u8]) -> Vec<Vec<u8>> {
        match parse(bytes) {
            Parsed::Command { args, .. } => args
                .iter()
                .map(|&(start, end)| bytes[start as usize..end as usize].to_vec())
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn multibulk_and_inline() {
        assert_eq!(
            words(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"),
            vec![b"GET".to_vec(), b"k".to_vec()]
        );
        assert_eq!(words(b"PING\r\n"), vec![b"PING".to_vec()]);
        assert_eq!(
            words(b"set  a  b\n"),
            vec![b"set".to_vec(), b"a".to_vec(), b"b".to_vec()]
        );
        assert_eq!(parse(b"*2\r\n$3\r\nGET\r\n$1\r\n"), Parsed::Incomplete);
        assert_eq!(parse(b"*2\r\n$3\r\nGE"), Parsed::Incomplete);
        assert_eq!(parse(b"PIN"), Parsed::Incomplete);
        assert_eq!(parse(b"\r\n"), Parsed::Empty { used: 2 });
        assert_eq!(parse(b"*0\r\n"), Parsed::Empty { used: 4 });
        assert!(matches!(parse(b"*x\r\n"), Parsed::Error(_)));
        assert!(matches!(parse(b"*1\r\n:1\r\n"), Parsed::Error(_)));
        assert!(matches!(parse(b"*1\r\n$-5\r\n"), Parsed::Error(_)));
    }

    #[test]
    fn integers_as_redis_reads_them() {
        assert_eq!(integer(b"0"), Some(0));
        assert_eq!(integer(b"-12"), Some(-12));
        assert_eq!(integer(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(integer(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(integer(b"9223372036854775808"), None);
        assert_eq!(integer(b"+1"), None);
        assert_eq!(integer(b"01"), None);
        assert_eq!(integer(b"-0"), None);
        assert_eq!(integer(b""), None);
        assert_eq!(integer(b"1 "), None);
    }
}
