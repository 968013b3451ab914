//! The published intent contract: the JSON Schema in `schema/` and the Rust types must
//! accept and refuse exactly the same documented examples, so the two cannot drift.

use std::path::{Path, PathBuf};

use serde_json::Value;
use switchboard::intent::Intent;

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema")
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(schema_dir().join("intent.v1.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).expect("schema compiles")
}

fn examples(kind: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        std::fs::read_dir(schema_dir().join("examples").join(kind))
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&path).unwrap())
            })
            .collect();
    out.sort();
    out
}

#[test]
fn every_valid_example_passes_schema_and_types() {
    let schema = validator();
    let valid = examples("valid");
    assert!(valid.len() >= 6, "the examples went missing");
    for (name, text) in valid {
        let value: Value = serde_json::from_str(&text).unwrap();
        let errors: Vec<String> = schema.iter_errors(&value).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name} fails the schema: {errors:?}");
        let intent = Intent::parse(&text).unwrap_or_else(|e| panic!("{name} fails the types: {e}"));
        assert_eq!(
            intent
                .frame()
                .map(|f| serde_json::from_str::<Value>(f).unwrap()),
            Some(value["data"].clone())
        );
    }
}

#[test]
fn every_invalid_example_fails_schema_and_types() {
    let schema = validator();
    let invalid = examples("invalid");
    assert!(invalid.len() >= 8, "the examples went missing");
    for (name, text) in invalid {
        let value: Value = serde_json::from_str(&text).unwrap();
        assert!(!schema.is_valid(&value), "{name} passes the schema");
        assert!(Intent::parse(&text).is_err(), "{name} passes the types");
    }
}

#[test]
fn worker_bookkeeping_is_not_part_of_the_public_contract() {
    let internal = r#"{"to":"all","data":1,"_switchboard":{"attempt":1,"connections":["a"]}}"#;
    assert!(!validator().is_valid(&serde_json::from_str(internal).unwrap()));
    assert!(
        Intent::parse(internal).is_ok(),
        "the worker must still read its own continuations"
    );
}
