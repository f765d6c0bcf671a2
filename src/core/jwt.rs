//! Reading the claims of a JWT without verifying it.
//!
//! The client only needs `exp` and `iat` to decide when to refresh, and `aud`
//! / `iss` to find the app id the way passage-js does. Signatures are the
//! backend's business. Every input here is untrusted (it comes from storage or
//! from the network), so nothing in this module panics, and the JSON reader is
//! bounded in depth and never allocates more than the input's size.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

/// The claims of an auth token that the client uses.
#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Issued at, unix seconds, when present.
    pub iat: Option<i64>,
    /// The subject (user id), when present.
    pub sub: Option<String>,
    /// The app id as passage-js derives it: `aud[1]`, else the last path
    /// segment of `iss`.
    pub app_id: Option<String>,
}

/// Why a string is not a JWT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtError {
    /// Not three dot-separated segments.
    Shape,
    /// The payload is not valid base64url.
    Base64,
    /// The payload is not a JSON object.
    Json,
    /// The payload has no numeric `exp`.
    NoExp,
    /// Longer than [`MAX_TOKEN_LEN`].
    TooLong,
}

/// The longest token accepted. Passage tokens are well under 2 KB; a cap
/// keeps a hostile storage value from costing time or memory.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Decodes the payload of `token` and returns its claims.
pub fn decode(token: &str) -> Result<Claims, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::TooLong);
    }
    // Three dot-separated segments, as bytes (a dot is ASCII).
    let mut parts = token.as_bytes().split(|&b| b == b'.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Shape);
    };
    if header.is_empty() || payload.is_empty() || !is_base64url(header) || !is_base64url(signature)
    {
        return Err(JwtError::Shape);
    }
    let bytes = base64url_decode(payload).ok_or(JwtError::Base64)?;
    let text = core::str::from_utf8(&bytes).map_err(|_| JwtError::Json)?;
    parse_claims(text)
}

fn is_base64url(s: &[u8]) -> bool {
    s.iter().all(|&b| sextet(b).is_some())
}

fn sextet(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// Encodes `bytes` as unpadded base64url (as WebAuthn's JSON forms and
/// passage-js write credential ids).
pub fn base64url_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Decodes unpadded (or `=`-padded) base64url.
pub fn base64url_decode(input: impl AsRef<[u8]>) -> Option<Vec<u8>> {
    let mut input = input.as_ref();
    while let [head @ .., b'='] = input {
        input = head;
    }
    if input.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in input {
        acc = (acc << 6) | u32::from(sextet(b)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn parse_claims(text: &str) -> Result<Claims, JwtError> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let mut exp = None;
    let mut iat = None;
    let mut aud_app = None;
    let mut iss = None;
    let mut sub = None;
    p.ws();
    p.eat(b'{').ok_or(JwtError::Json)?;
    p.ws();
    if p.peek() == Some(b'}') {
        p.i += 1;
    } else {
        loop {
            p.ws();
            let key = p.string().ok_or(JwtError::Json)?;
            p.ws();
            p.eat(b':').ok_or(JwtError::Json)?;
            p.ws();
            match key.as_str() {
                "exp" => exp = p.number_or_skip()?,
                "iat" => iat = p.number_or_skip()?,
                "iss" => iss = p.string_or_skip()?,
                "sub" => sub = p.string_or_skip()?,
                "aud" => aud_app = p.aud()?,
                _ => p.skip_value(0).ok_or(JwtError::Json)?,
            }
            p.ws();
            match p.next() {
                Some(b',') => continue,
                Some(b'}') => break,
                _ => return Err(JwtError::Json),
            }
        }
    }
    p.ws();
    if p.i != p.s.len() {
        return Err(JwtError::Json);
    }
    let exp = exp.ok_or(JwtError::NoExp)?;
    let app_id = aud_app.or_else(|| {
        // The last segment of the URL's path, after the last '/' once
        // trailing ones go; an issuer URL without a path names no app.
        let iss = iss?;
        let mut bytes = iss.as_bytes();
        if let Some(at) = url_scheme_end(bytes) {
            let authority = bytes.get(at + 3..)?;
            let path = authority.iter().position(|&b| b == b'/')?;
            bytes = authority.get(path..)?;
        }
        while let [head @ .., b'/'] = bytes {
            bytes = head;
        }
        let start = bytes.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
        let segment = bytes.get(start..)?;
        core::str::from_utf8(segment)
            .ok()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    });
    Ok(Claims {
        exp,
        iat,
        sub,
        app_id,
    })
}

/// The value of a JSON number, its text already checked against the
/// grammar, as whole seconds: fractions are dropped, which errs on the side
/// of an earlier expiry. `None` when it does not fit an i64.
fn whole_seconds(text: &[u8]) -> Option<i64> {
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    // The digits, integer and fraction, as one integer, and the power of
    // ten that scales it back.
    let mut mantissa: i64 = 0;
    let mut scale: i64 = 0;
    let mut in_fraction = false;
    let mut i = 0;
    while let Some(&d) = text.get(i) {
        match d {
            b'0'..=b'9' => {
                let next = mantissa
                    .checked_mul(10)
                    .and_then(|m| m.checked_add(i64::from(d - b'0')));
                match next {
                    Some(m) => {
                        mantissa = m;
                        scale -= i64::from(in_fraction);
                    }
                    None if in_fraction => {} // fraction digits beyond precision
                    None => return None,
                }
            }
            b'.' => in_fraction = true,
            _ => break, // the exponent's `e` or `E`
        }
        i += 1;
    }
    if let Some(exponent) = text.get(i + 1..) {
        let (sign, digits) = match exponent.split_first() {
            Some((b'-', rest)) => (-1, rest),
            Some((b'+', rest)) => (1, rest),
            _ => (1, exponent),
        };
        let e = digits.iter().fold(0i64, |e, &d| {
            e.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
        scale = scale.saturating_add(sign * e);
    }
    let int = if scale >= 0 {
        mantissa.checked_mul(10i64.checked_pow(u32::try_from(scale).ok()?)?)?
    } else {
        // (`unsigned_abs`: the exponent saturates at i64::MIN, which has no
        // negation.)
        u32::try_from(scale.unsigned_abs())
            .ok()
            .and_then(|s| 10i64.checked_pow(s))
            .and_then(|p| mantissa.checked_div(p))
            .unwrap_or(0)
    };
    Some(if negative { -int } else { int })
}

/// Where the `://` after a URL's scheme begins, when `s` starts with a
/// scheme (a letter, then letters, digits, `+`, `-` or `.`) and `://`.
fn url_scheme_end(s: &[u8]) -> Option<usize> {
    let at = s.windows(3).position(|w| w == b"://")?;
    let (first, rest) = s.get(..at)?.split_first()?;
    let scheme = first.is_ascii_alphabetic()
        && rest
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b));
    scheme.then_some(at)
}

/// JSON nesting allowed inside claims we skip over.
const MAX_DEPTH: u32 = 32;

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.next()? == b).then_some(())
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i.checked_add(word.len())?;
        (self.s.get(self.i..end)? == word).then(|| self.i = end)
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut v = 0;
        for _ in 0..4 {
            let d = char::from(self.next()?).to_digit(16)?;
            v = v * 16 + d;
        }
        Some(v)
    }

    /// A JSON string, unescaped.
    fn string(&mut self) -> Option<String> {
        self.eat(b'"')?;
        let mut out = String::new();
        loop {
            let start = self.i;
            while !matches!(self.peek()?, b'"' | b'\\' | 0..=0x1f) {
                self.i += 1;
            }
            // The input is a &str and we stop only at ASCII bytes, so this
            // slice is valid UTF-8.
            out.push_str(core::str::from_utf8(self.s.get(start..self.i)?).ok()?);
            match self.next()? {
                b'"' => return Some(out),
                b'\\' => {
                    let c = match self.next()? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                self.literal(b"\\u")?;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return None;
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code)?
                        }
                        _ => return None,
                    };
                    out.push(c);
                }
                _ => return None, // a raw control character
            }
        }
    }

    /// A claim that should be a number: any other JSON value, or a number
    /// too large for an i64, counts as absent. The number's extent is found
    /// by its grammar once ([`Parser::skip_number`]); its value is read from
    /// that text.
    fn number_or_skip(&mut self) -> Result<Option<i64>, JwtError> {
        if matches!(self.peek(), Some(b'-' | b'0'..=b'9')) {
            let start = self.i;
            self.skip_number().ok_or(JwtError::Json)?;
            return Ok(self.s.get(start..self.i).and_then(whole_seconds));
        }
        self.skip_value(0).ok_or(JwtError::Json)?;
        Ok(None)
    }

    fn string_or_skip(&mut self) -> Result<Option<String>, JwtError> {
        if self.peek() == Some(b'"') {
            return self.string().map(Some).ok_or(JwtError::Json);
        }
        self.skip_value(0).ok_or(JwtError::Json)?;
        Ok(None)
    }

    /// `aud` as Passage writes it, `[origin, appId]`: returns `aud[1]`.
    fn aud(&mut self) -> Result<Option<String>, JwtError> {
        if self.peek() != Some(b'[') {
            self.skip_value(0).ok_or(JwtError::Json)?;
            return Ok(None);
        }
        self.i += 1;
        let mut index = 0;
        let mut second = None;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(None);
        }
        loop {
            self.ws();
            if index == 1 {
                second = self.string_or_skip()?;
            } else {
                self.skip_value(1).ok_or(JwtError::Json)?;
            }
            index += 1;
            self.ws();
            match self.next() {
                Some(b',') => continue,
                Some(b']') => return Ok(second.filter(|s| !s.is_empty())),
                _ => return Err(JwtError::Json),
            }
        }
    }

    /// A JSON number of any size, by its grammar:
    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn skip_number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => {
                while let Some(b'0'..=b'9') = self.peek() {
                    self.i += 1;
                }
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            self.digits()?;
        }
        Some(())
    }

    /// One digit or more.
    fn digits(&mut self) -> Option<()> {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        (self.i > start).then_some(())
    }

    fn skip_value(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' | b'[' => {
                let close = if self.next()? == b'{' { b'}' } else { b']' };
                self.ws();
                if self.peek()? == close {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.ws();
                    if close == b'}' {
                        self.string()?;
                        self.ws();
                        self.eat(b':')?;
                        self.ws();
                    }
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.next()? {
                        b',' => continue,
                        b if b == close => return Some(()),
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            // Skipped by their grammar, whatever their size.
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        crate::core::testing::jwt_with(payload)
    }

    fn b64(s: &str) -> String {
        crate::core::testing::b64(s.as_bytes())
    }

    #[test]
    fn reads_exp_iat_and_app_id_from_aud() {
        let c = decode(&jwt(
            r#"{"sub":"u1","exp":1700000300,"iat":1700000000,"aud":["https://example.com","app123"],"iss":"https://auth.passage.id/v1/apps/other"}"#,
        ))
        .unwrap();
        assert_eq!(c.exp, 1_700_000_300);
        assert_eq!(c.iat, Some(1_700_000_000));
        assert_eq!(c.app_id.as_deref(), Some("app123"));
        assert_eq!(c.sub.as_deref(), Some("u1"));
    }

    #[test]
    fn app_id_falls_back_to_last_segment_of_iss() {
        let c = decode(&jwt(
            r#"{"exp":5,"aud":"x","iss":"https://auth.passage.id/v1/apps/abc/"}"#,
        ))
        .unwrap();
        assert_eq!(c.app_id.as_deref(), Some("abc"));
        assert_eq!(c.iat, None);
    }

    #[test]
    fn an_issuer_without_a_path_names_no_app() {
        for iss in [
            "https://auth.example.com",
            "https://auth.example.com/",
            "https://a.b//",
        ] {
            let c = decode(&jwt(&format!(r#"{{"exp":5,"iss":"{iss}"}}"#))).unwrap();
            assert_eq!(c.app_id, None, "{iss}");
        }
        let c = decode(&jwt(r#"{"exp":5,"iss":"https://auth.example.com/app9"}"#)).unwrap();
        assert_eq!(c.app_id.as_deref(), Some("app9"));
        // Not a URL: its last segment, as before (a `://` inside a path
        // does not make one).
        let c = decode(&jwt(r#"{"exp":5,"iss":"apps/app7"}"#)).unwrap();
        assert_eq!(c.app_id.as_deref(), Some("app7"));
        let c = decode(&jwt(r#"{"exp":5,"iss":"/v1/apps/://"}"#)).unwrap();
        assert_eq!(c.app_id.as_deref(), Some(":"));
    }

    #[test]
    fn a_token_over_the_size_limit_says_so() {
        let long = jwt(&format!(
            r#"{{"exp":5,"pad":"{}"}}"#,
            "x".repeat(MAX_TOKEN_LEN)
        ));
        assert_eq!(decode(&long), Err(JwtError::TooLong));
    }

    #[test]
    fn base64url_round_trips_every_length() {
        for n in 0..40 {
            let s: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            assert_eq!(base64url_decode(b64(&s)).unwrap(), s.as_bytes());
        }
        assert_eq!(base64url_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64url_decode("Y"), None);
        assert_eq!(base64url_decode("Y+Q"), None);
    }

    #[test]
    fn refuses_what_is_not_a_jwt() {
        for bad in [
            "",
            "abc",
            "a.b",
            "a.b.c.d",
            ".e30.",
            "a.!!!.c",
            "a.e30.c d",
            &jwt("[]"),
            &jwt("null"),
            &jwt(r#"{"exp":1"#),
            &jwt(r#"{"exp":1} x"#),
            &jwt(r#"{"exp":"1"}"#),
            &jwt(r#"{"iat":1}"#),
            &jwt(r#"{"exp":01}"#),
            &jwt(r#"{"exp":1e999}"#),
            &jwt(r#"{"exp":1,"x":"\ud800"}"#),
        ] {
            assert!(decode(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(decode(&jwt(r#"{"iat":1}"#)), Err(JwtError::NoExp));
        assert_eq!(decode("a.!!!.c"), Err(JwtError::Base64));
        assert_eq!(decode("a!.e30.c"), Err(JwtError::Shape));
    }

    #[test]
    fn tolerates_the_json_real_tokens_carry() {
        let c = decode(&jwt(
            " { \"n\" : null , \"o\":{\"a\":[1,2.5e3,true,false,{}],\"b\":[]}, \"s\":\"\\u00e9\\ud83d\\ude00\\n\", \"exp\" : 1.9e3 } ",
        ))
        .unwrap();
        assert_eq!(c.exp, 1900);
        assert_eq!(
            decode(&jwt(r#"{"exp":1700000000.75}"#)).unwrap().exp,
            1_700_000_000
        );
    }

    #[test]
    fn base64url_encoding_round_trips_and_has_no_padding() {
        for len in 0..40u8 {
            let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(97) ^ 0xa5).collect();
            let text = base64url_encode(&bytes);
            assert!(!text.contains(['=', '+', '/']));
            assert_eq!(base64url_decode(&text).unwrap(), bytes);
        }
        assert_eq!(base64url_encode(b"\xfb\xff"), "-_8");
    }

    #[test]
    fn an_exponent_past_i64_is_read_without_overflow() {
        let tiny = jwt(r#"{"exp":1e-99999999999999999999999}"#);
        assert_eq!(decode(&tiny).unwrap().exp, 0);
        let huge = jwt(r#"{"exp":1e99999999999999999999999}"#);
        assert_eq!(decode(&huge), Err(JwtError::NoExp));
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!(r#"{{"exp":1,"x":{}{}}}"#, "[".repeat(100), "]".repeat(100));
        assert_eq!(decode(&jwt(&deep)), Err(JwtError::Json));
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(decode(&long), Err(JwtError::TooLong));
    }

    #[test]
    fn only_json_numbers_are_skipped() {
        // Found by the jwt fuzz target: a number too large to read was
        // skipped by its characters, so payloads that are not JSON passed.
        for bad in [
            r#"{"exp":1e99.99., "exp" : 1.9e3 }"#,
            r#"{"exp":1,"x":01}"#,
            r#"{"exp":1,"x":--1}"#,
            r#"{"exp":1,"x":1.}"#,
            r#"{"exp":1,"x":-}"#,
            r#"{"exp":1,"x":1e+}"#,
            r#"{"exp":1,"aud":["a",99999999999999999999.5.5]}"#,
        ] {
            assert_eq!(decode(&jwt(bad)), Err(JwtError::Json), "{bad}");
        }
        // Valid numbers past an i64 are still skipped.
        let c = decode(&jwt(
            r#"{"exp":1,"x":-123456789012345678901234567890.5e-3,"y":1E999,"z":0e+0}"#,
        ))
        .unwrap();
        assert_eq!(c.exp, 1);
    }
}
