//! spawnbox: entry point (argv[0] dispatch, logging, the one place errors are printed).
#![deny(unsafe_code)]

#[allow(dead_code, unused_imports)] // main does not call it yet
mod cgroup;
mod error;
mod settings;

fn main() {}
