//! Reading untrusted JavaScript values without throwing.

use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// Why a property could not be read as the type asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WrongType;

/// `obj[key]`, or `undefined` when reading it throws (a hostile getter or
/// proxy).
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    if !obj.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// A string property; `undefined` and `null` are absent, anything else but a
/// string is an error.
pub fn opt_string(obj: &JsValue, key: &str) -> Result<Option<String>, WrongType> {
    let v = get(obj, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_string().map(Some).ok_or(WrongType)
}

/// A finite number property; `undefined` and `null` are absent.
pub fn opt_number(obj: &JsValue, key: &str) -> Result<Option<f64>, WrongType> {
    let v = get(obj, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_f64()
        .filter(|n| n.is_finite())
        .map(Some)
        .ok_or(WrongType)
}

/// A boolean property; `undefined` and `null` are absent.
pub fn opt_bool(obj: &JsValue, key: &str) -> Result<Option<bool>, WrongType> {
    let v = get(obj, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_bool().map(Some).ok_or(WrongType)
}

/// The first of two spellings that is present; both present and different
/// is an error.
pub fn either<T: PartialEq>(
    read: impl Fn(&str) -> Result<Option<T>, WrongType>,
    snake: &str,
    camel: &str,
) -> Result<Option<T>, WrongType> {
    match (read(snake)?, read(camel)?) {
        (Some(a), Some(b)) if a != b => Err(WrongType),
        (a, b) => Ok(a.or(b)),
    }
}

/// The own enumerable keys of a plain object, or `None` for a non-object.
pub fn keys(obj: &JsValue) -> Option<Vec<String>> {
    let obj = obj.dyn_ref::<Object>()?;
    Some(
        Object::keys(obj)
            .iter()
            .filter_map(|k| k.as_string())
            .collect(),
    )
}
