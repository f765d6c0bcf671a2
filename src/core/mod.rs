//! The pure core: plain Rust with no browser types, so every decision can be
//! tested on the host with a fake clock. It receives `now` as a parameter and
//! returns decisions; the client (`crate::client`) carries them out.

pub mod error;
pub mod future;
pub mod jwt;
pub mod policy;
pub mod session;
pub mod storage;
pub mod url;

#[cfg(test)]
pub(crate) mod testing;

/// `n` in decimal, without the `format!` machinery (every kilobyte of the
/// wasm ships to every page load).
pub fn decimal(n: i64) -> alloc::string::String {
    fn digits(out: &mut alloc::string::String, m: u64) {
        if m >= 10 {
            digits(out, m / 10);
        }
        out.push(char::from(b'0' + (m % 10) as u8));
    }
    let mut out = alloc::string::String::new();
    if n < 0 {
        out.push('-');
    }
    digits(&mut out, n.unsigned_abs());
    out
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn decimal_writes_every_digit_and_the_sign() {
        for (n, text) in [
            (0, "0"),
            (7, "7"),
            (10, "10"),
            (1_800_000_000, "1800000000"),
            (-5, "-5"),
            (i64::MIN, "-9223372036854775808"),
        ] {
            assert_eq!(decimal(n), text);
        }
    }
}
