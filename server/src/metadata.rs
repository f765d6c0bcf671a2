//! User metadata: the fields an app declares (Passage's `user_metadata_schema`)
//! and the checks an update of a user's values goes through.
//!
//! A field has a `field_name` and a `type`, one of Passage's
//! `UserMetadataType` values: `string`, `boolean`, `integer`, `date`,
//! `email`, `phone`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The longest string value accepted for any field.
pub const MAX_STRING_LEN: usize = 4096;
/// More fields than this in one app is a configuration mistake.
pub const MAX_FIELDS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    String,
    Boolean,
    Integer,
    Date,
    Email,
    Phone,
}

/// One declared field, with Passage's names (`UserMetadataField`, less its
/// generated `id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataField {
    pub field_name: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// The label a form shows; defaults to `field_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    /// Shown on the profile form (Passage's flag; stored, not used here).
    #[serde(default = "yes")]
    pub profile: bool,
    /// Asked at registration (Passage's flag; stored, not used here).
    #[serde(default)]
    pub registration: bool,
}

fn yes() -> bool {
    true
}

/// Field names are identifiers: 1 to 64 ASCII letters, digits or `_`.
fn valid_field_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks a whole schema (names, duplicates, size).
pub fn validate_schema(fields: &[MetadataField]) -> Result<(), String> {
    if fields.len() > MAX_FIELDS {
        return Err(format!(
            "user_metadata_schema has more than {MAX_FIELDS} fields"
        ));
    }
    for (i, field) in fields.iter().enumerate() {
        if !valid_field_name(&field.field_name) {
            return Err(format!(
                "invalid metadata field name {:?}: use 1 to 64 letters, digits or '_'",
                crate::util::truncate(&field.field_name, 70)
            ));
        }
        if fields[..i].iter().any(|f| f.field_name == field.field_name) {
            return Err(format!(
                "metadata field {:?} is declared twice",
                field.field_name
            ));
        }
        if matches!(&field.friendly_name, Some(n) if n.chars().count() > 200) {
            return Err(format!(
                "friendly_name of {:?} is over 200 characters",
                field.field_name
            ));
        }
    }
    Ok(())
}

/// Checks an update against the schema and merges it into `current`.
/// A `null` value removes the field. Any undeclared field or value of the
/// wrong type refuses the whole update (nothing is applied).
pub fn apply_update(
    schema: &[MetadataField],
    current: &Map<String, Value>,
    update: &Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    let mut merged = current.clone();
    for (name, value) in update {
        let field = schema
            .iter()
            .find(|f| &f.field_name == name)
            .ok_or_else(|| {
                format!(
                    "{:?} is not a user metadata field of this app",
                    crate::util::truncate(name, 70)
                )
            })?;
        if value.is_null() {
            merged.remove(name);
            continue;
        }
        check_value(field.field_type, value)
            .map_err(|expected| format!("{name} must be {expected}"))?;
        merged.insert(name.clone(), value.clone());
    }
    Ok(merged)
}

/// The stored values that the schema still declares (a JSON object's keys
/// come out sorted).
pub fn visible(schema: &[MetadataField], stored: &Map<String, Value>) -> Map<String, Value> {
    schema
        .iter()
        .filter_map(|f| {
            stored
                .get(&f.field_name)
                .map(|v| (f.field_name.clone(), v.clone()))
        })
        .collect()
}

/// `Err` names what was expected.
fn check_value(field_type: FieldType, value: &Value) -> Result<(), &'static str> {
    let ok = match field_type {
        FieldType::String => value
            .as_str()
            .is_some_and(|s| s.chars().count() <= MAX_STRING_LEN),
        FieldType::Boolean => value.is_boolean(),
        FieldType::Integer => value.is_i64() || value.is_u64(),
        FieldType::Date => value.as_str().is_some_and(valid_date),
        FieldType::Email => value.as_str().is_some_and(valid_email),
        FieldType::Phone => value.as_str().is_some_and(valid_phone),
    };
    if ok {
        Ok(())
    } else {
        Err(match field_type {
            FieldType::String => "a string (at most 4096 characters)",
            FieldType::Boolean => "a boolean",
            FieldType::Integer => "an integer",
            FieldType::Date => "a date as YYYY-MM-DD",
            FieldType::Email => "an email address",
            FieldType::Phone => "a phone number in E.164 form (+15555550123)",
        })
    }
}

/// `name@domain`, no spaces or control characters, at most 254 characters.
pub fn valid_email(s: &str) -> bool {
    s.len() <= 254
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && s.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        })
}

/// E.164: `+`, a non-zero digit, then 6 to 14 more digits.
pub fn valid_phone(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// A calendar date, `YYYY-MM-DD`.
pub fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &s[r];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Vec<MetadataField> {
        serde_json::from_value(json!([
            {"field_name": "nickname", "type": "string"},
            {"field_name": "newsletter", "type": "boolean"},
            {"field_name": "age", "type": "integer"},
            {"field_name": "birthday", "type": "date"},
            {"field_name": "work_email", "type": "email"},
            {"field_name": "mobile", "type": "phone", "friendly_name": "Mobile"},
        ]))
        .unwrap()
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn accepts_each_type() {
        let merged = apply_update(
            &schema(),
            &Map::new(),
            &obj(json!({"nickname": "Al", "newsletter": true, "age": 42,
                        "birthday": "2000-02-29", "work_email": "a@b.io",
                        "mobile": "+15555550123"})),
        )
        .unwrap();
        assert_eq!(merged.len(), 6);
        assert_eq!(merged["age"], 42);
    }

    #[test]
    fn refuses_wrong_types_and_undeclared_fields() {
        let bad = [
            json!({"nickname": 5}),
            json!({"newsletter": "yes"}),
            json!({"age": 4.5}),
            json!({"age": "4"}),
            json!({"birthday": "2001-02-29"}),
            json!({"birthday": "2000-13-01"}),
            json!({"birthday": "29/02/2000"}),
            json!({"work_email": "nope"}),
            json!({"mobile": "555-0123"}),
            json!({"mobile": "+0555550123"}),
            json!({"nickname": "x".repeat(MAX_STRING_LEN + 1)}),
            json!({"favourite_colour": "blue"}),
            json!({"nickname": "ok", "undeclared": 1}),
        ];
        for update in bad {
            assert!(
                apply_update(&schema(), &Map::new(), &obj(update.clone())).is_err(),
                "{update}"
            );
        }
    }

    #[test]
    fn merges_and_removes_with_null() {
        let current = obj(json!({"nickname": "Al", "age": 1}));
        let merged = apply_update(
            &schema(),
            &current,
            &obj(json!({"age": null, "newsletter": false})),
        )
        .unwrap();
        assert_eq!(merged, obj(json!({"nickname": "Al", "newsletter": false})));
    }

    #[test]
    fn shows_only_declared_fields() {
        let stored = obj(json!({"age": 3, "gone": true, "nickname": "x"}));
        let shown = visible(&schema(), &stored);
        assert_eq!(shown, obj(json!({"age": 3, "nickname": "x"})));
    }

    #[test]
    fn validates_schemas() {
        assert!(validate_schema(&schema()).is_ok());
        let dup: Vec<MetadataField> = serde_json::from_value(json!([
            {"field_name": "a", "type": "string"}, {"field_name": "a", "type": "date"}
        ]))
        .unwrap();
        assert!(validate_schema(&dup).is_err());
        let bad_name: Vec<MetadataField> =
            serde_json::from_value(json!([{"field_name": "a b", "type": "string"}])).unwrap();
        assert!(validate_schema(&bad_name).is_err());
        assert!(serde_json::from_value::<MetadataField>(
            json!({"field_name": "a", "type": "colour"})
        )
        .is_err());
        assert!(serde_json::from_value::<MetadataField>(
            json!({"field_name": "a", "type": "string", "extra": 1})
        )
        .is_err());
    }

    #[test]
    fn checks_phones_and_dates() {
        assert!(valid_phone("+15555550123"));
        assert!(!valid_phone("+1555"));
        assert!(!valid_phone("15555550123"));
        assert!(!valid_phone("+1555555012345678"));
        assert!(valid_date("1999-12-31"));
        assert!(!valid_date("1999-12-32"));
        assert!(!valid_date("1900-02-29"));
        assert!(!valid_date("+999-01-01"));
    }
}
