//! spawnbox: entry point (argv[0] dispatch, logging, the one place errors are printed).
#![deny(unsafe_code)]

mod cli;
mod error;
mod settings;

fn main() {}
