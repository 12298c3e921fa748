//! The spec's JSON Schema, as `cutlist schema` prints it: derived from the types that read a
//! spec, so it cannot drift from them, and checked against docs/spec.md by the tests below.

use serde_json::{json, Map, Value};

/// The JSON Schema of a spec. Every field that is not free text also accepts a string that
/// is exactly one `{{placeholder}}` (templates are filled before the spec is read), so an
/// editor validating a templated spec against it accepts what `cutlist` accepts.
pub fn json_schema() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(super::Spec)).expect("schema serializes");
    allow_placeholders(&mut schema);
    schema
}

/// A string that is exactly one placeholder (see `template`).
fn placeholder() -> Value {
    json!({"type": "string", "pattern": "^\\{\\{\\s*[A-Za-z0-9_.-]+\\s*\\}\\}$"})
}

/// Whether a schema is a constrained scalar (a number, a boolean, an enum, a pattern), or
/// a choice between such: what a placeholder may stand for.
fn scalar(v: &Value) -> bool {
    let Some(m) = v.as_object() else { return false };
    if m.contains_key("properties") || m.contains_key("items") || m.contains_key("$ref") {
        return false;
    }
    if m.contains_key("const") || m.contains_key("enum") || m.contains_key("pattern") {
        return true;
    }
    let types: Vec<&str> = match m.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if types.iter().any(|t| matches!(*t, "number" | "integer" | "boolean")) {
        return true;
    }
    let branches = m.get("oneOf").or_else(|| m.get("anyOf")).and_then(Value::as_array);
    branches.is_some_and(|bs| bs.iter().all(|b| scalar(b) || b.get("type") == Some(&json!("null"))))
}

/// Let every scalar field also take a placeholder (its description and default stay
/// outside, where readers of the schema look for them).
fn allow_placeholders(v: &mut Value) {
    let Some(m) = v.as_object_mut() else { return };
    if scalar(&Value::Object(m.clone())) {
        let mut inner = std::mem::take(m);
        let mut outer = Map::new();
        for k in ["description", "default", "title"] {
            if let Some(x) = inner.remove(k) {
                outer.insert(k.into(), x);
            }
        }
        outer.insert("anyOf".into(), json!([Value::Object(inner), placeholder()]));
        *m = outer;
        return;
    }
    for (k, child) in m.iter_mut() {
        match k.as_str() {
            "properties" | "$defs" => {
                for (name, p) in child.as_object_mut().into_iter().flatten() {
                    // A tagged object's `type` names its kind: a placeholder there means nothing.
                    if !(k == "properties" && name == "type") {
                        allow_placeholders(p);
                    }
                }
            }
            "items" | "additionalProperties" => allow_placeholders(child),
            "anyOf" | "oneOf" | "allOf" => child.as_array_mut().into_iter().flatten().for_each(allow_placeholders),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    const DOC: &str = include_str!("../../docs/spec.md");

    fn validator() -> jsonschema::Validator {
        jsonschema::validator_for(&json_schema()).expect("the schema is a valid JSON Schema")
    }

    fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
        v.iter_errors(doc).map(|e| format!("{}: {e}", e.instance_path())).collect()
    }

    /// Every complete spec in docs/spec.md, and the demo's, is valid against the schema.
    #[test]
    fn the_documented_specs_are_valid_against_the_schema() {
        let v = validator();
        let mut n = 0;
        for block in DOC.split("```json").skip(1) {
            let text = block.split("```").next().unwrap();
            let doc: Value = serde_json::from_str(text).unwrap();
            assert_eq!(errors(&v, &doc), Vec::<String>::new(), "{text}");
            n += 1;
        }
        assert!(n >= 5, "{n} examples");
        let demo: Value = serde_json::from_str(crate::demo::DEMO_SPEC).unwrap();
        assert_eq!(errors(&v, &demo), Vec::<String>::new());
    }

    #[test]
    fn the_schema_refuses_what_cutlist_refuses() {
        let v = validator();
        let good = json!({"version": 1, "id": "x", "output": {"path": "o.mp4", "width": 64, "height": 64, "fps": 30},
            "timeline": {"tracks": [{"type": "video", "clips": [{"type": "color", "color": "red", "duration": 1}]}]}});
        assert!(v.is_valid(&good));
        let mut unknown = good.clone();
        unknown["timeline"]["tracks"][0]["clips"][0]["zoom"] = json!(2);
        assert!(!v.is_valid(&unknown), "an unknown field");
        let mut typo = good.clone();
        typo["output"]["format"] = json!("mkv");
        assert!(!v.is_valid(&typo), "a value outside an enum");
        let mut templated = good.clone();
        templated["merge"] = json!({"secs": 2, "fit": "contain"});
        templated["timeline"]["tracks"][0]["clips"][0]["duration"] = json!("{{secs}}");
        assert!(v.is_valid(&templated), "{:?}", errors(&v, &templated));
        templated["timeline"]["tracks"][0]["clips"][0]["duration"] = json!("{{secs}} s");
        assert!(!v.is_valid(&templated), "text around a placeholder in a number");
    }

    /// What the schema says of each field name: enum values, defaults, whether required.
    #[derive(Default, Debug)]
    struct Field {
        values: BTreeSet<String>,
        /// Each object that has a field of this name: whether it requires it, and its default.
        variants: Vec<(bool, Option<Value>)>,
    }

    fn resolve<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => &root["$defs"][r.trim_start_matches("#/$defs/")],
            None => v,
        }
    }

    /// The string values a schema allows (consts and enums, through references and choices).
    fn values(root: &Value, v: &Value, out: &mut BTreeSet<String>, depth: usize) {
        let v = resolve(root, v);
        if depth > 8 || v.get("properties").is_some() {
            return;
        }
        if let Some(c) = v.get("const").and_then(Value::as_str) {
            out.insert(c.into());
        }
        for e in v.get("enum").and_then(Value::as_array).into_iter().flatten() {
            out.extend(e.as_str().map(String::from));
        }
        for k in ["anyOf", "oneOf"] {
            for b in v.get(k).and_then(Value::as_array).into_iter().flatten() {
                values(root, b, out, depth + 1);
            }
        }
    }

    /// Every property of every object in the schema, by name.
    fn fields(root: &Value) -> BTreeMap<String, Field> {
        let mut out: BTreeMap<String, Field> = BTreeMap::new();
        let mut objects: Vec<&Value> = vec![root];
        let mut todo: Vec<&Value> = root["$defs"].as_object().unwrap().values().collect();
        while let Some(v) = todo.pop() {
            if v.get("properties").is_some() {
                objects.push(v);
            }
            for k in ["anyOf", "oneOf"] {
                todo.extend(v.get(k).and_then(Value::as_array).into_iter().flatten());
            }
        }
        for o in objects {
            let required: Vec<&str> =
                o.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
            for (name, p) in o["properties"].as_object().unwrap() {
                let f = out.entry(name.clone()).or_default();
                values(root, p, &mut f.values, 0);
                f.variants.push((required.contains(&name.as_str()), p.get("default").cloned()));
            }
        }
        out
    }

    /// A row of a field table in docs/spec.md: the field names, the values its type column
    /// lists, and its default column.
    struct Row {
        names: Vec<String>,
        values: Vec<String>,
        /// `None` in a table without a default column.
        default: Option<String>,
    }

    fn ticked(cell: &str) -> Vec<String> {
        cell.split('`').skip(1).step_by(2).map(String::from).collect()
    }

    fn rows() -> Vec<Row> {
        let mut out = Vec::new();
        let mut in_table = false;
        let mut default_column = None;
        for line in DOC.lines() {
            if line.starts_with("| field |") {
                in_table = true;
                default_column = line.trim_matches('|').split('|').position(|c| c.trim() == "default");
                continue;
            }
            if !line.starts_with('|') {
                in_table = false;
                continue;
            }
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            if !in_table || cells[0].starts_with("---") {
                continue;
            }
            let names = ticked(cells[0]).iter().map(|n| n.rsplit('.').next().unwrap().to_string()).collect();
            // The type column lists values as `a` / `b` / `c`.
            let values = if cells.get(1).is_some_and(|c| c.contains(" / ")) { ticked(cells[1]) } else { vec![] };
            let default = default_column.map(|i| cells.get(i).copied().unwrap_or("").to_string());
            out.push(Row { names, values, default });
        }
        out
    }

    /// docs/spec.md and the schema agree, both ways: every field the schema has is documented
    /// (a row of a field table, or a name in the text), every documented field exists, every
    /// listed value is allowed and every allowed value is documented, and the defaults agree.
    #[test]
    fn the_docs_and_the_schema_agree() {
        let schema = json_schema();
        let fields = fields(&schema);
        let rows = rows();
        let documented: BTreeSet<&str> = rows.iter().flat_map(|r| r.names.iter().map(String::as_str)).collect();
        let mentioned: BTreeSet<String> = DOC.split('`').skip(1).step_by(2).map(String::from).collect();
        let mut problems = Vec::new();
        for (name, f) in &fields {
            let quoted = |s: &str| mentioned.contains(s) || mentioned.iter().any(|m| m.contains(&format!("\"{s}\"")));
            if !documented.contains(name.as_str()) && !quoted(name) {
                problems.push(format!("the schema's field {name:?} is not in docs/spec.md"));
            }
            for v in &f.values {
                if !quoted(v) {
                    problems.push(format!("{name}: the value {v:?} is not in docs/spec.md"));
                }
            }
        }
        for row in &rows {
            for name in &row.names {
                let Some(f) = fields.get(name) else {
                    problems.push(format!("docs/spec.md documents {name:?}, which the schema does not have"));
                    continue;
                };
                for v in &row.values {
                    if !f.values.contains(v) {
                        problems.push(format!("docs/spec.md lists {v:?} for {name}; the schema allows {:?}", f.values));
                    }
                }
                let Some(default) = row.default.as_deref() else { continue };
                // Some object with a field of this name must be as the row says.
                if default.starts_with("required") {
                    if !f.variants.iter().any(|(required, _)| *required) {
                        problems.push(format!("docs/spec.md says {name} is required; the schema does not"));
                    }
                    continue;
                }
                if !f.variants.iter().any(|(required, _)| !required) {
                    problems.push(format!("the schema requires {name}; docs/spec.md gives it the default {default:?}"));
                }
                // A default written as one literal is compared with the schema's.
                let literal = ticked(default);
                if literal.len() == 1 && default.trim() == format!("`{}`", literal[0]) {
                    let want: Value =
                        serde_json::from_str(&literal[0]).unwrap_or_else(|_| Value::String(literal[0].clone()));
                    let colour = |v: &Value| serde_json::from_value::<super::super::Color>(v.clone()).ok();
                    let same = |d: &Value| match (d.as_f64(), want.as_f64()) {
                        (Some(a), Some(b)) => (a - b).abs() < 1e-9,
                        _ => *d == want || colour(d).is_some_and(|c| colour(&want) == Some(c)),
                    };
                    let defaults: Vec<&Value> = f.variants.iter().filter_map(|(_, d)| d.as_ref()).collect();
                    if !defaults.is_empty() && !defaults.iter().any(|d| same(d)) {
                        problems.push(format!(
                            "{name}: docs/spec.md says the default is {want}; the schema says {defaults:?}"
                        ));
                    }
                }
            }
        }
        assert!(problems.is_empty(), "docs/spec.md and `cutlist schema` disagree:\n  {}", problems.join("\n  "));
    }
}
