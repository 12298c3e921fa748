//! Templates: `{{name}}` placeholders in any string of a spec, filled from its `merge` object
//! and `--set name=value`, before the spec is read. A placeholder left unfilled is an error.

use super::SpecError;
use serde_json::{Map, Value};

/// Fill every placeholder in `doc` (the whole spec) and remove its `merge` object. `set`
/// (from the command line) wins over `merge`. Returns one error per unfilled placeholder.
pub fn apply(doc: &mut Value, set: &[(String, Value)]) -> Vec<SpecError> {
    let mut errs = Vec::new();
    let mut vars: Map<String, Value> = match doc.as_object_mut().and_then(|m| m.remove("merge")) {
        Some(Value::Object(m)) => m,
        Some(other) => {
            errs.push(SpecError {
                path: "merge".into(),
                reason: format!("expected an object of values, found {other}"),
            });
            Map::new()
        }
        None => Map::new(),
    };
    // A --set that no placeholder uses is a typo or a stale template: say so.
    let mut used = std::collections::BTreeSet::new();
    names(doc, &mut used);
    for (k, v) in set {
        if !used.contains(k) {
            let known: Vec<&str> = used.iter().map(String::as_str).collect();
            errs.push(SpecError {
                path: format!("--set {k}"),
                reason: if known.is_empty() {
                    "the spec has no {{placeholders}}: nothing uses it".into()
                } else {
                    format!("no {{{{{k}}}}} in the spec uses it (its placeholders: {})", known.join(", "))
                },
            });
        }
        vars.insert(k.clone(), v.clone());
    }
    walk(doc, "", &vars, &mut errs);
    errs
}

/// The names of every placeholder in `v`.
fn names(v: &Value, out: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Object(m) => m.values().for_each(|c| names(c, out)),
        Value::Array(a) => a.iter().for_each(|c| names(c, out)),
        Value::String(s) => out.extend(placeholders(s).into_iter().map(|(_, n)| n.to_string())),
        _ => {}
    }
}

fn walk(v: &mut Value, path: &str, vars: &Map<String, Value>, errs: &mut Vec<SpecError>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                walk(child, &p, vars, errs);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter_mut().enumerate() {
                walk(child, &format!("{path}[{i}]"), vars, errs);
            }
        }
        Value::String(s) if s.contains("{{") => match fill(s, vars) {
            Ok(filled) => *v = filled,
            Err(reason) => errs.push(SpecError { path: path.to_string(), reason }),
        },
        _ => {}
    }
}

/// The placeholders of `s` as (byte range, name).
fn placeholders(s: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(open) = s[at..].find("{{").map(|i| at + i) {
        let Some(close) = s[open + 2..].find("}}").map(|i| open + 2 + i) else { break };
        let name = s[open + 2..close].trim();
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
            out.push((open..close + 2, name));
            at = close + 2;
        } else {
            at = open + 2;
        }
    }
    out
}

/// Fill one string. A string that is exactly one placeholder takes the value with its type
/// (so `"duration": "{{d}}"` can become a number); otherwise values are spliced in as text.
fn fill(s: &str, vars: &Map<String, Value>) -> Result<Value, String> {
    let found = placeholders(s);
    let missing: Vec<&str> = found.iter().map(|(_, n)| *n).filter(|n| !vars.contains_key(*n)).collect();
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|n| format!("{{{{{n}}}}}")).collect();
        return Err(format!(
            "{} ha{} no value: add {} to merge or pass --set {}=…",
            list.join(", "),
            if missing.len() == 1 { "s" } else { "ve" },
            if missing.len() == 1 { "it" } else { "them" },
            missing[0]
        ));
    }
    if let [(range, name)] = found.as_slice() {
        if *range == (0..s.len()) {
            return Ok(vars[*name].clone());
        }
    }
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for (range, name) in &found {
        out.push_str(&s[last..range.start]);
        match &vars[*name] {
            Value::String(v) => out.push_str(v),
            Value::Number(n) => out.push_str(&n.to_string()),
            Value::Bool(b) => out.push_str(&b.to_string()),
            other => {
                return Err(format!("{{{{{name}}}}} is {other}: only a string, number or boolean can go inside text"))
            }
        }
        last = range.end;
    }
    out.push_str(&s[last..]);
    Ok(Value::String(out))
}

/// Parse `name=value` from the command line: JSON if it reads as JSON (`3`, `true`,
/// `"x"`), otherwise the text as a string.
pub fn parse_set(arg: &str) -> Result<(String, Value), String> {
    let (k, v) = arg.split_once('=').ok_or_else(|| format!("{arg:?}: expected name=value"))?;
    let k = k.trim();
    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
        return Err(format!("{k:?}: a placeholder name is made of A-Z a-z 0-9 _ . -"));
    }
    let value = match serde_json::from_str::<Value>(v) {
        Ok(j @ (Value::Number(_) | Value::Bool(_) | Value::String(_))) => j,
        _ => Value::String(v.to_string()),
    };
    Ok((k.to_string(), value))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_set_no_placeholder_uses_is_an_error() {
        let mut doc = serde_json::json!({"id": "a-{{order}}"});
        let errs =
            super::apply(&mut doc, &[("ordr".into(), serde_json::json!(1)), ("order".into(), serde_json::json!(7))]);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].path, "--set ordr");
        assert!(errs[0].reason.contains("its placeholders: order"), "{errs:?}");
        assert_eq!(doc["id"], "a-7");
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn fills_text_and_typed_values() {
        let mut doc = json!({
            "merge": {"name": "Ana", "secs": 2.5, "color": "#ff0000"},
            "a": "Hi {{ name }}, {{secs}} s!", "b": "{{secs}}", "c": ["{{color}}"], "d": "{{not a placeholder}}"
        });
        let errs = apply(&mut doc, &[("name".into(), json!("Bo"))]);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(doc, json!({"a": "Hi Bo, 2.5 s!", "b": 2.5, "c": ["#ff0000"], "d": "{{not a placeholder}}"}));
    }

    #[test]
    fn unfilled_placeholders_are_errors_with_paths() {
        let mut doc = json!({"timeline": {"tracks": [{"items": [{"text": "Hello {{first}} {{last}}"}]}]}});
        let errs = apply(&mut doc, &[]);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].path, "timeline.tracks[0].items[0].text");
        assert!(errs[0].reason.contains("{{first}}, {{last}} have no value"), "{}", errs[0].reason);
    }

    #[test]
    fn command_line_values() {
        assert_eq!(parse_set("n=3").unwrap(), ("n".into(), json!(3)));
        assert_eq!(parse_set("t=hello world").unwrap(), ("t".into(), json!("hello world")));
        assert_eq!(parse_set("t={\"a\":1}").unwrap(), ("t".into(), json!("{\"a\":1}")));
        assert!(parse_set("novalue").is_err());
    }
}
