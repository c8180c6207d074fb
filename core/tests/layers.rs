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
