//! spawnbox as a library: the systemd-nspawn compatible core (command line, spec, launcher,
//! cgroups, network, security layer, user namespaces) that the front ends share — today the
//! nspawn command line (`main.rs`) and the fuzz targets; `spawnctl` and the OCI runtime next.
#![deny(unsafe_code)]

#[cfg(test)]
mod arch_tests;
mod bind_user;
mod btrfs;
#[allow(dead_code, unused_imports)]
pub mod cgroup;
mod channel;
mod child;
pub mod cli;
pub mod clock;
mod console;
mod container;
pub mod copy;
mod credentials;
pub mod ctl;
mod dev;
pub mod env;
mod ephemeral;
pub mod error;
mod etc_files;
mod guest;
mod host_file;
mod id128;
pub mod image;
mod journal;
pub mod json;
mod kernel_names;
pub mod launch;
pub mod logger;
pub mod machine;
#[cfg(test)]
mod man_pages;
mod mount_plan;
mod mount_plan_oci;
mod mounts;
mod mounts_oci;
mod network;
mod notify;
pub mod oci;
pub mod oci_bundle;
mod oci_hooks;
#[cfg(feature = "images")]
pub mod oci_image;
mod overlay;
mod premade;
mod prepared;
mod resolv_conf;
mod rootfs;
mod run_host;
pub mod runtime_spec;
mod security;
pub mod settings;
mod setup;
#[cfg(feature = "images")]
pub mod sha256;
mod signals;
mod sort;
pub mod spec;
pub mod spec_oci;
mod stopping;
mod sys;
#[cfg(feature = "images")]
pub mod tar;
pub mod template;
mod timezone;
pub mod user;
mod userns;
mod volatile;
