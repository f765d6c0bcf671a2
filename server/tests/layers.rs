//! The modules of `src/` import each other in layers (README.md, "Layout"):
//! a module uses only modules of its own layer or of the layers below,
//! never in a circle, and nothing below the HTTP layer knows HTTP. This
//! test reads every `crate::` path in `src/**/*.rs` and fails on any that
//! breaks these rules, so the layering cannot quietly regress.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[path = "../../tests/support/imports.rs"]
mod imports;
use imports::{code_lines, crate_modules};

/// The layers, bottom up, and their modules (a file `src/x.rs` or
/// `src/x/*.rs` is the module `x`; `lib.rs` is `lib`).
const LAYERS: [(&str, &[&str]); 6] = [
    (
        "leaves",
        &[
            "clock", "config", "faults", "jwt", "metadata", "stats", "util",
        ],
    ),
    ("store", &["db", "purge", "store"]),
    ("state", &["state"]),
    (
        "http",
        &[
            "access_log",
            "conn",
            "cors",
            "error",
            "extract",
            "fault_injection",
            "long_uri",
        ],
    ),
    (
        "handlers",
        &["account", "admin", "api", "passkeys", "static_files"],
    ),
    ("app", &["cli", "fuzzing", "lib", "routes", "server"]),
];

/// The first layer that may use HTTP crates; the ones below it know
/// nothing of HTTP.
const HTTP_LAYER: usize = 3;
const HTTP_CRATES: [&str; 4] = ["axum", "hyper", "hyper_util", "tower"];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

/// Whether a piece of code uses one of the HTTP crates.
fn http_crates(code: &str) -> Vec<&'static str> {
    HTTP_CRATES
        .into_iter()
        .filter(|name| {
            code.match_indices(&format!("{name}::")).any(|(at, _)| {
                !code[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            })
        })
        .collect()
}

/// Each module of `src/` and the code of its files; `main.rs` (the
/// binary, which only calls the library) is not a module of the library.
fn modules() -> BTreeMap<String, String> {
    imports::modules(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &["main"],
    )
}

/// Who imports whom, self-references left out.
fn imports(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    modules
        .iter()
        .map(|(module, code)| {
            let mut used = crate_modules(code);
            used.remove(module);
            (module.clone(), used)
        })
        .collect()
}

#[test]
fn every_module_has_a_layer_and_every_layer_module_exists() {
    let modules = modules();
    let unplaced: Vec<_> = modules.keys().filter(|m| layer_of(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "modules without a layer (add them to LAYERS here and to README.md's Layout): {unplaced:?}"
    );
    for (layer, names) in LAYERS {
        for name in names {
            assert!(
                modules.contains_key(*name),
                "layer {layer} names {name}, which is not in src/"
            );
        }
    }
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let mut upward = Vec::new();
    for (module, used) in imports(&modules()) {
        let Some(own) = layer_of(&module) else {
            continue;
        };
        for other in used {
            match layer_of(&other) {
                Some(theirs) if theirs > own => upward.push(format!(
                    "{module} ({}) imports {other} ({})",
                    LAYERS[own].0, LAYERS[theirs].0
                )),
                Some(_) => {}
                None => upward.push(format!("{module} imports {other}, which has no layer")),
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that point up a layer:\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_modules_import_each_other_in_a_circle() {
    let graph = imports(&modules());
    // Depth-first, with the path so far: a module met again on it closes a
    // circle.
    fn visit<'a>(
        module: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|m| *m == module) {
            let mut circle: Vec<String> = path[start..].iter().map(|m| m.to_string()).collect();
            circle.push(module.to_owned());
            return Some(circle);
        }
        if !done.insert(module) {
            return None;
        }
        path.push(module);
        for next in graph.get(module).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        if let Some(circle) = visit(module, &graph, &mut Vec::new(), &mut done) {
            panic!(
                "modules import each other in a circle: {}",
                circle.join(" -> ")
            );
        }
    }
}

#[test]
fn nothing_below_the_http_layer_knows_http() {
    let mut found = Vec::new();
    for (module, code) in modules() {
        if layer_of(&module).is_some_and(|layer| layer < HTTP_LAYER) {
            for name in http_crates(&code) {
                found.push(format!("{module} uses {name}"));
            }
        }
    }
    assert!(found.is_empty(), "HTTP below the HTTP layer: {found:?}");
}

/// The checks above see what they are meant to see.
#[test]
fn the_checks_read_paths_groups_and_crates() {
    let code = "use crate::a::B;\nuse crate::{b, c::{D, E}, self};\nlet x = crate::d::f();\n\
                passage_auth_server::e::g(); $crate::h!();";
    assert_eq!(
        crate_modules(code),
        ["a", "b", "c", "d"].map(String::from).into()
    );
    assert_eq!(
        http_crates("use axum::Json; tower::ServiceExt"),
        ["axum", "tower"]
    );
    assert!(http_crates("my_axum::x(); serde_json::json!()").is_empty());
    let text = "/// [`crate::x::Y`]\n// crate::z\nuse crate::w;";
    assert_eq!(
        crate_modules(&code_lines(text).collect::<Vec<_>>().join("\n")),
        ["w"].map(String::from).into()
    );
}
