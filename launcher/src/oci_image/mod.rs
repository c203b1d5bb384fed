//! `spawnctl import-oci`: an OCI image (a layout directory, an `oci-archive` tar of one, or a
//! `docker save` tarball) becomes a machine image: the layers applied in order onto a new tree
//! and the image's command, environment, working directory and user written to `NAME.nspawn`
//! next to it (what systemd's `importctl pull-oci` does, from a local source).
//!
//! One concern per file: `import.rs` (the steps, in order), `source.rs` (a directory or an
//! archive), `digest.rs` (digests, checked reads), `layout.rs` (index and manifests),
//! `docker.rs` (`manifest.json`), `config.rs` (the image configuration), `nspawn.rs` (the
//! settings file), `name.rs` (the default image name). The layers go through the tar engine
//! (`crate::tar`, OCI layer mode).

pub mod config;
pub mod digest;
pub mod docker;
mod import;
pub mod layout;
pub mod name;
pub mod nspawn;
mod source;

pub use import::{import, Imported, Options};
