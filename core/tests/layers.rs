//! The layering of `core` (lib.rs): flows → mechanisms → store/values, arrows only down, and a
//! flow never calls another flow. Read off the source, so a new `use` across the line fails here
//! before it becomes a cycle.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Layer and (for flows) the flow a file belongs to: `flows/recovery/sms.rs` is flow `recovery`.
fn place(src: &Path, file: &Path) -> (String, Option<String>) {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string());
    let layer = parts.next().unwrap_or_default();
    let flow = (layer == "flows").then(|| parts.next()).flatten();
    (layer, flow)
}

/// The layers a module may name, lowest first.
fn allowed(layer: &str) -> &'static [&'static str] {
    match layer {
        "values" => &["values"],
        "store" => &["values", "store"],
        "mechanisms" => &["values", "store", "mechanisms"],
        _ => &["values", "store", "mechanisms", "flows"],
    }
}

#[test]
fn layers_point_down_and_flows_do_not_call_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 20, "found the sources");
    let mut wrong = Vec::new();
    for file in &files {
        let (layer, flow) = place(&src, file);
        let text = std::fs::read_to_string(file).expect("read");
        for (at, _) in text.match_indices("crate::") {
            let rest = &text[at + "crate::".len()..];
            let named: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let shown = format!("{}: crate::{}", file.display(), &rest[..rest.len().min(40)]);
            if !allowed(&layer).contains(&named.as_str()) {
                wrong.push(shown);
                continue;
            }
            if let (Some(own), "flows") = (&flow, named.as_str()) {
                let other: String = rest["flows::".len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if &other != own {
                    wrong.push(shown);
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "uses across the layering:\n{}",
        wrong.join("\n")
    );
}

/// The body of the item starting at `at` (from its first `{` to the matching `}`), and where the
/// signature ends. Braces inside the body's strings are balanced in this code base (format
/// strings), which is all this needs.
fn body(text: &str, at: usize) -> Option<(&str, &str)> {
    let open = at + text[at..].find('{')?;
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&text[at..open], &text[open..open + i]));
                }
            }
            _ => {}
        }
    }
    None
}

/// One connection discipline: a function handed a connection or transaction (`&mut Conn`,
/// `&mut Tx`) works on it and never opens a second one behind its caller's back (on SQLite the
/// second would wait for the one writer the caller holds). Functions that open their own take
/// `&Deps` and no connection, so the signature says which kind a function is.
#[test]
fn a_function_given_a_connection_never_opens_another() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        // Unit tests at the end of a file open connections freely.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (at, _) in text.match_indices("async fn ") {
            let Some((signature, body)) = body(text, at) else {
                continue;
            };
            if !(signature.contains("&mut Conn") || signature.contains("&mut Tx")) {
                continue;
            }
            checked += 1;
            for opens in ["store.conn()", "store.begin()", "store.read()"] {
                if body.contains(opens) {
                    let name: String = signature.chars().take(60).collect();
                    wrong.push(format!("{}: {name}… opens {opens}", file.display()));
                }
            }
        }
    }
    assert!(
        checked > 50,
        "found the functions that take a connection ({checked})"
    );
    assert!(
        wrong.is_empty(),
        "opens a second connection:\n{}",
        wrong.join("\n")
    );
}

/// The app reaches the database only through core's flows: no server function holds a
/// connection of its own while it calls one.
#[test]
fn the_app_never_opens_a_connection() {
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/src");
    let mut files = Vec::new();
    sources(&app, &mut files);
    assert!(files.len() > 10, "found the app's sources");
    let wrong: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).expect("read");
            ["store.conn()", "store.begin()", "store.read()"]
                .iter()
                .any(|o| text.contains(o))
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(wrong.is_empty(), "the app opens connections in: {wrong:?}");
}
