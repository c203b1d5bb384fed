//! The OCI runtime front end, `spawnbox-runc` (runc's command-line contract; docs/OCI.md):
//! its command line (`args.rs`); a bundle's `config.json` is read by `runtime_spec/`. It drives the same
//! `Machine` lifecycle as the nspawn command line and spawnctl.

pub mod args;
#[cfg(test)]
mod tests_args;
