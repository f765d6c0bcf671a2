//! The client's modules import each other one way (docs/architecture.md,
//! "Layout"): `js_api` → `client` → `ports` → `core`, and `browser` →
//! `ports` → `core`. The client never names a browser type and the
//! adapters never name the client, so the simulation runs the very client
//! that ships. This test reads every `crate::` path in `src/**/*.rs` and
//! fails on an import the table below does not allow.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[path = "support/imports.rs"]
mod imports;
use imports::crate_modules;

/// Each top-level module of `src/`, and the modules it may import.
const ALLOWED: [(&str, &[&str]); 6] = [
    ("core", &[]),
    ("ports", &["core"]),
    ("client", &["ports", "core"]),
    ("browser", &["ports", "core"]),
    ("js_api", &["client", "browser", "ports", "core"]),
    ("lib", &["client", "browser", "ports", "core", "js_api"]),
];

/// Each module of `src/` and the code of its files.
fn modules() -> BTreeMap<String, String> {
    imports::modules(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &[])
}

#[test]
fn every_module_has_a_row_and_every_row_a_module() {
    let modules = modules();
    let rows: BTreeSet<&str> = ALLOWED.iter().map(|(m, _)| *m).collect();
    let found: BTreeSet<&str> = modules.keys().map(String::as_str).collect();
    assert_eq!(found, rows, "src/ and the ALLOWED table name other modules");
}

#[test]
fn imports_run_one_way() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.into_iter().collect();
    let mut wrong = Vec::new();
    for (module, code) in modules() {
        let may = allowed.get(module.as_str()).copied().unwrap_or_default();
        for used in crate_modules(&code) {
            if used != module && !may.contains(&used.as_str()) {
                wrong.push(format!("{module} imports {used}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layering:\n{}",
        wrong.join("\n")
    );
}

/// The check sees an import that runs back.
#[test]
fn a_backward_import_is_seen() {
    let code = "use crate::client::values::Field;\nuse crate::{ports::Json, core};";
    assert_eq!(
        crate_modules(code),
        ["client", "core", "ports"].map(String::from).into()
    );
}
