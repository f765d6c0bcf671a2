//! The browser adapters in headless Chromium: localStorage round trips and
//! hostile stored values.
#![cfg(target_arch = "wasm32")]

use passage_user::browser::store::{self, Store};
use passage_user::core::session::Session;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn local_storage() -> web_sys::Storage {
    web_sys::window().unwrap().local_storage().unwrap().unwrap()
}

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDAsImlhdCI6MTcwMDAwMDAwMH0.c2ln";

#[wasm_bindgen_test]
async fn local_storage_round_trips_a_session_under_passage_js_keys() {
    local_storage().clear().unwrap();
    let store = Store::local(false).expect("localStorage exists in Chromium");
    let session = Session::from_stored(Some(TOKEN.into()), Some("rt-1".into()), Some("4102444800"));
    store.save(&session).await.unwrap();
    assert_eq!(
        local_storage()
            .get_item(store::AUTH_TOKEN)
            .unwrap()
            .as_deref(),
        Some(TOKEN)
    );
    assert_eq!(
        local_storage()
            .get_item(store::REFRESH_TOKEN)
            .unwrap()
            .as_deref(),
        Some("rt-1")
    );
    assert_eq!(
        local_storage()
            .get_item(store::REFRESH_EXPIRATION)
            .unwrap()
            .as_deref(),
        Some("4102444800")
    );
    let loaded = store.load().await.unwrap();
    assert_eq!(loaded, session);
    assert_eq!(loaded.claims().map(|c| c.exp), Some(4_102_444_800));

    store.clear().await.unwrap();
    assert_eq!(local_storage().length().unwrap(), 0);
    assert!(store.load().await.unwrap().is_empty());
}

#[wasm_bindgen_test]
async fn hostile_stored_values_load_as_nothing_usable() {
    let storage = local_storage();
    for bad in [
        "",
        "garbage",
        "a.b.c",
        "{}",
        "\u{0}",
        "-5",
        "1e999",
        &"x".repeat(200_000),
    ] {
        storage.clear().unwrap();
        storage.set_item(store::AUTH_TOKEN, bad).unwrap();
        storage.set_item(store::REFRESH_EXPIRATION, bad).unwrap();
        let loaded = Store::local(false).unwrap().load().await.unwrap();
        assert_eq!(loaded.claims(), None, "{bad:?} read as a JWT");
        assert_eq!(loaded.refresh_expiration(), None, "{bad:?} read as a time");
        assert_eq!(loaded.refresh_token(), None);
    }
    storage.clear().unwrap();
}

#[wasm_bindgen_test]
fn pending_revocations_survive_garbage_and_round_trip() {
    let storage = local_storage();
    storage.clear().unwrap();
    let store = Store::local(false).unwrap();
    for bad in ["not json", "{\"a\":1}", "[1,null,{}]", "\"rt\"", "[\"\"]"] {
        storage.set_item(store::PENDING_REVOCATION, bad).unwrap();
        assert!(store.pending().is_empty(), "{bad:?} gave tokens");
    }
    storage
        .set_item(store::PENDING_REVOCATION, "[1,\"rt-a\",false]")
        .unwrap();
    assert_eq!(store.pending(), vec!["rt-a".to_owned()]);
    store.add_pending("rt-b");
    store.add_pending("rt-b");
    assert_eq!(store.pending(), vec!["rt-a".to_owned(), "rt-b".to_owned()]);
    store.remove_pending("rt-a");
    store.remove_pending("rt-b");
    assert!(store.pending().is_empty());
    assert_eq!(storage.get_item(store::PENDING_REVOCATION).unwrap(), None);
}

#[wasm_bindgen_test]
async fn memory_store_keeps_the_session_apart_from_local_storage() {
    local_storage().clear().unwrap();
    let store = Store::memory();
    let session = Session::from_stored(Some(TOKEN.into()), Some("rt".into()), None);
    store.save(&session).await.unwrap();
    assert_eq!(store.load().await.unwrap(), session);
    assert_eq!(local_storage().length().unwrap(), 0);
}
