//! Shared helpers for the smtp-send tests.
#![allow(dead_code)]

use std::process::{Command, Output};

use serde_json::Value;

/// The exit code and the one JSON object on stdout.
pub fn parse(out: &Output) -> (i32, Value) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout:?}"));
    (out.status.code().unwrap_or(-1), json)
}

/// Runs smtp-send with `args` and `--json`; returns the exit code and the parsed JSON.
pub fn run(args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_smtp-send"))
        .args(args)
        .arg("--json")
        .output()
        .expect("run smtp-send");
    parse(&out)
}

/// host-test's real-server fixtures, compiled into these tests by path: smtp-send
/// does not depend on host-test, not even for its tests.
#[path = "../../../../host-test/src/servers.rs"]
pub mod servers;
