//! The host's JSON for `passage_user::ports::Json`: serde_json's values,
//! with `new Date(...)` marked as `{"Date": value}` so that a test sees
//! where passage-js makes a date. One type for every host-side user of the
//! port: the account mapping tests (`tests/account_mapping.rs`), the fuzz
//! checks (`fuzz/checks/client.rs`, compiled into the fuzz targets and into
//! `tests/fuzz_corpus.rs`) and the simulation (`tests/sim/world.rs`). Each
//! includes this file with `#[path = ".../support/json.rs"] mod json;`.
#![allow(dead_code)]

use serde_json::Value;

/// A JSON value on the host: serde_json's.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct HostJson(pub Value);

impl passage_user::ports::Json for HostJson {
    fn decode<T: serde::de::DeserializeOwned>(self) -> Option<T> {
        serde_json::from_value(self.0).ok()
    }

    fn is_nullish(&self) -> bool {
        self.0.is_null()
    }

    fn date(&self) -> Self {
        HostJson(serde_json::json!({ "Date": self.0 }))
    }

    fn encode<T: serde::Serialize + ?Sized>(value: &T) -> Option<Self> {
        serde_json::to_value(value).ok().map(HostJson)
    }
}
