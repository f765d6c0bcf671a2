//! Percent-encoding for URL parts, as JavaScript's `encodeURIComponent`.

use alloc::string::String;

/// `s` with every byte but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` percent-encoded
/// (UTF-8), as `encodeURIComponent` does.
pub fn encode_component(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_as_encode_uri_component_does() {
        assert_eq!(encode_component("abc-_.!~*'()XYZ09"), "abc-_.!~*'()XYZ09");
        assert_eq!(
            encode_component("a b/c?d=e&f+g%"),
            "a%20b%2Fc%3Fd%3De%26f%2Bg%25"
        );
        assert_eq!(encode_component("é"), "%C3%A9");
        assert_eq!(encode_component(""), "");
    }
}
