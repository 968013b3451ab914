//! The binaries refuse to start on bad configuration with one line naming the variable.

use std::process::Command;

fn start(binary: &str, vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = Command::new(binary)
        .env_clear()
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    (output.status.code(), stderr)
}

#[test]
fn missing_table_is_named_on_one_line() {
    for (name, binary) in [
        (
            "switchboard-connect",
            env!("CARGO_BIN_EXE_switchboard-connect"),
        ),
        (
            "switchboard-disconnect",
            env!("CARGO_BIN_EXE_switchboard-disconnect"),
        ),
        (
            "switchboard-default",
            env!("CARGO_BIN_EXE_switchboard-default"),
        ),
    ] {
        let (code, stderr) = start(binary, &[]);
        assert_eq!(code, Some(1), "{name}");
        assert_eq!(stderr, format!("{name}: CONNECTIONS_TABLE: must be set\n"));
    }
}

#[test]
fn invalid_number_is_named() {
    let vars = [
        ("CONNECTIONS_TABLE", "t"),
        ("INTENTS_QUEUE_URL", "http://127.0.0.1:1/q"),
        ("JWT_SECRET", "s"),
        ("IDLE_TIMEOUT_SECS", "9000"),
    ];
    let (code, stderr) = start(env!("CARGO_BIN_EXE_switchboard-default"), &vars);
    assert_eq!(code, Some(1));
    assert_eq!(
        stderr,
        "switchboard-default: IDLE_TIMEOUT_SECS: 9000 is outside 1..=7200\n"
    );
}

#[test]
fn missing_key_source_is_named() {
    let vars = [("CONNECTIONS_TABLE", "t"), ("INTENTS_QUEUE_URL", "q")];
    let (code, stderr) = start(env!("CARGO_BIN_EXE_switchboard-connect"), &vars);
    assert_eq!(code, Some(1));
    assert!(
        stderr.starts_with("switchboard-connect: JWT_SECRET: no key to verify tokens with"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1);
}
