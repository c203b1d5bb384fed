//! The OCI runtime front end, `spawnbox-runc` (runc's command-line contract; docs/OCI.md):
//! its command line (`args.rs`) and the bundle's `config.json` (`config/`). It drives the same
//! `Machine` lifecycle as the nspawn command line and spawnctl.

pub mod args;
pub mod config;
#[cfg(test)]
mod tests_args;
