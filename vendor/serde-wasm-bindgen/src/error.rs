use wasm_bindgen::prelude::*;

/// A newtype that represents Serde errors as JavaScript exceptions.
#[derive(Debug)]
pub struct Error(JsValue);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        #[wasm_bindgen]
        extern "C" {
            #[wasm_bindgen(js_name = String)]
            pub fn to_string(value: &JsValue) -> String;
        }

        to_string(&self.0).fmt(f)
    }
}

impl std::error::Error for Error {}

impl Error {
    /// Creates a JavaScript `Error` with a given message.
    pub fn new<T: std::fmt::Display>(msg: T) -> Self {
        Error(JsError::new(&msg.to_string()).into())
    }
}

impl serde::ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::new(msg)
    }
}

impl serde::de::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::new(msg)
    }

    // serde's defaults for the methods below format their arguments with
    // `core::fmt`, and `Unexpected`'s `Display` formats an `f64`: every
    // deserializer using this error would link the float formatting code
    // (about 15 KB of gzip in a small module) through them. These build
    // their messages without `core::fmt`, naming what they can name.

    fn invalid_type(unexp: serde::de::Unexpected, _: &dyn serde::de::Expected) -> Self {
        Error::text(&["invalid type: ", unexpected(&unexp)])
    }

    fn invalid_value(unexp: serde::de::Unexpected, _: &dyn serde::de::Expected) -> Self {
        Error::text(&["invalid value: ", unexpected(&unexp)])
    }

    fn invalid_length(_: usize, _: &dyn serde::de::Expected) -> Self {
        Error::text(&["invalid length"])
    }

    fn unknown_variant(variant: &str, _: &'static [&'static str]) -> Self {
        Error::text(&["unknown variant `", variant, "`"])
    }

    fn unknown_field(field: &str, _: &'static [&'static str]) -> Self {
        Error::text(&["unknown field `", field, "`"])
    }

    fn missing_field(field: &'static str) -> Self {
        Error::text(&["missing field `", field, "`"])
    }

    fn duplicate_field(field: &'static str) -> Self {
        Error::text(&["duplicate field `", field, "`"])
    }
}

impl Error {
    /// A JavaScript `Error` whose message is `parts` joined.
    fn text(parts: &[&str]) -> Self {
        let mut text = String::new();
        for part in parts {
            text.push_str(part);
        }
        Error(JsError::new(&text).into())
    }
}

/// What kind of value was found, without the value itself.
fn unexpected<'a>(unexp: &serde::de::Unexpected<'a>) -> &'a str {
    use serde::de::Unexpected::*;
    match unexp {
        Bool(_) => "boolean",
        Unsigned(_) | Signed(_) => "integer",
        Float(_) => "floating point number",
        Char(_) => "character",
        Str(_) => "string",
        Bytes(_) => "byte array",
        Unit => "unit value",
        Option => "Option value",
        NewtypeStruct => "newtype struct",
        Seq => "sequence",
        Map => "map",
        Enum => "enum",
        UnitVariant => "unit variant",
        NewtypeVariant => "newtype variant",
        TupleVariant => "tuple variant",
        StructVariant => "struct variant",
        Other(other) => other,
    }
}

/// This conversion is needed for `?` to just work when using wasm-bindgen
/// imports that return JavaScript exceptions as `Result<T, JsValue>`.
impl From<JsValue> for Error {
    fn from(error: JsValue) -> Error {
        Error(error)
    }
}

// This conversion is needed for `?` to just work in wasm-bindgen exports
// that return `Result<T, JsValue>` to throw JavaScript exceptions.
impl From<Error> for JsValue {
    fn from(error: Error) -> JsValue {
        error.0
    }
}
