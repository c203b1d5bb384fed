//! A bundle's `config.json` (runtime-spec 1.0–1.3, Linux) as typed data: what the OCI runtime
//! and `--oci-bundle` run. Parsing is strict where the spec says MUST (one error naming the
//! JSON path: `process.args: must not be empty`) and lenient where it asks runtimes to ignore
//! what they do not know (unknown members). `process.rs` reads `process`, `linux.rs` the
//! `linux` object; this file the rest.

mod linux;
mod process;
#[cfg(test)]
mod tests;

pub use linux::{
    BlockIo, Cpu, DeviceRule, HugepageLimit, IdMap, Linux, LinuxDevice, Memory, Namespace, NsKind, Resources, Seccomp,
    SeccompArg, SeccompRule, ThrottleDevice, TimeOffset, WeightDevice,
};
pub use process::{Capabilities, Process, Rlimit, User};

use crate::error::{Error, Result};
use crate::json::{self, At};

/// A parsed `config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    pub oci_version: String,
    pub root: Root,
    pub mounts: Vec<Mount>,
    /// Required by `create`; optional in the spec (a bundle may only be inspected).
    pub process: Option<Process>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub hooks: Hooks,
    pub annotations: Vec<(String, String)>,
    pub linux: Linux,
}

/// `root`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Root {
    /// As written: relative to the bundle, or absolute.
    pub path: String,
    pub readonly: bool,
}

/// One of `mounts`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mount {
    /// Absolute inside the container (a relative one is taken from `/`, as runc does).
    pub destination: String,
    pub kind: Option<String>,
    pub source: Option<String>,
    pub options: Vec<String>,
    /// The mount's own mappings (runtime-spec 1.1): `None` when the key is absent, so that an
    /// empty list stays visible (runc refuses it).
    pub uid_mappings: Option<Vec<IdMap>>,
    pub gid_mappings: Option<Vec<IdMap>>,
}

/// One hook.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hook {
    pub path: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    /// Seconds; more than zero.
    pub timeout: Option<u32>,
}

/// `hooks`, by the lifecycle point that runs them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hooks {
    pub prestart: Vec<Hook>,
    pub create_runtime: Vec<Hook>,
    pub create_container: Vec<Hook>,
    pub start_container: Vec<Hook>,
    pub poststart: Vec<Hook>,
    pub poststop: Vec<Hook>,
}

/// The spec versions accepted: 1.0.x to 1.3.x (what engines write today; crun rejecting 1.3
/// broke the newest conformance suite).
const VERSIONS: &[&str] = &["1.0", "1.1", "1.2", "1.3"];

/// The size limits of a config (podman's are a few KiB; seccomp profiles about 30 KiB).
const LIMITS: json::Limits = json::Limits { max_size: 4 << 20, max_depth: 32 };

/// Parses `config.json`'s bytes.
pub fn parse(bytes: &[u8]) -> Result<Config> {
    let v = json::parse_with(bytes, LIMITS).map_err(|e| Error::msg(e.to_string()))?;
    from_value(&v.at())
}

/// Parses a `process` object on its own (`exec --process FILE`).
pub fn parse_process(bytes: &[u8]) -> Result<Process> {
    let v = json::parse_with(bytes, LIMITS).map_err(|e| Error::msg(e.to_string()))?;
    process::parse(&v.at())
}

fn from_value(c: &At<'_>) -> Result<Config> {
    let version = c.req("ociVersion")?;
    let oci_version = version.str()?.to_string();
    if !VERSIONS.iter().any(|v| oci_version == *v || oci_version.starts_with(&format!("{v}."))) {
        return Err(version.error(format!("unsupported version {oci_version:?} (1.0.x to 1.3.x)")));
    }
    let root = c.req("root")?;
    let root = Root { path: nonempty(&root.req("path")?)?.to_string(), readonly: opt_bool(&root, "readonly")? };
    let mounts = match c.opt("mounts")? {
        Some(m) => m.items()?.iter().map(mount).collect::<Result<_>>()?,
        None => Vec::new(),
    };
    let process = c.opt("process")?.map(|p| process::parse(&p)).transpose()?;
    let hooks = match c.opt("hooks")? {
        Some(h) => hooks(&h)?,
        None => Hooks::default(),
    };
    let annotations = match c.opt("annotations")? {
        Some(a) => {
            a.entries()?.into_iter().map(|(k, v)| Ok((k.to_string(), v.str()?.to_string()))).collect::<Result<_>>()?
        }
        None => Vec::new(),
    };
    Ok(Config {
        oci_version,
        root,
        mounts,
        process,
        hostname: opt_str(c, "hostname")?,
        domainname: opt_str(c, "domainname")?,
        hooks,
        annotations,
        linux: match c.opt("linux")? {
            Some(l) => linux::parse(&l)?,
            None => Linux::default(),
        },
    })
}

fn mount(m: &At<'_>) -> Result<Mount> {
    let dest = m.req("destination")?;
    let destination = nonempty(&dest)?;
    let destination = if destination.starts_with('/') { destination.to_string() } else { format!("/{destination}") };
    Ok(Mount {
        destination,
        kind: opt_str(m, "type")?,
        source: opt_str(m, "source")?,
        options: opt_strings(m, "options")?,
        uid_mappings: linux::opt_id_maps(m, "uidMappings")?,
        gid_mappings: linux::opt_id_maps(m, "gidMappings")?,
    })
}

fn hooks(h: &At<'_>) -> Result<Hooks> {
    let list = |key: &str| -> Result<Vec<Hook>> {
        let Some(items) = h.opt(key)? else { return Ok(Vec::new()) };
        items.items()?.iter().map(hook).collect()
    };
    Ok(Hooks {
        prestart: list("prestart")?,
        create_runtime: list("createRuntime")?,
        create_container: list("createContainer")?,
        start_container: list("startContainer")?,
        poststart: list("poststart")?,
        poststop: list("poststop")?,
    })
}

fn hook(h: &At<'_>) -> Result<Hook> {
    let p = h.req("path")?;
    let path = absolute(&p, p.str()?)?;
    let timeout = match h.opt("timeout")? {
        Some(t) => {
            let n = t.i64()?;
            if n <= 0 {
                return Err(t.error(format!("must be greater than zero: {n}")));
            }
            Some(u32::try_from(n).map_err(|_| t.error(format!("too large: {n}")))?)
        }
        None => None,
    };
    Ok(Hook { path: path.to_string(), args: opt_strings(h, "args")?, env: opt_strings(h, "env")?, timeout })
}

/// A string that must not be empty.
pub(super) fn nonempty<'a>(v: &At<'a>) -> Result<&'a str> {
    let s = v.str()?;
    if s.is_empty() {
        return Err(v.error("must not be empty"));
    }
    Ok(s)
}

/// `s`, the string of `v`, if it is an absolute path.
pub(super) fn absolute<'a>(v: &At<'_>, s: &'a str) -> Result<&'a str> {
    if !s.starts_with('/') {
        return Err(v.error(format!("must be an absolute path: {s:?}")));
    }
    Ok(s)
}

pub(super) fn opt_str(v: &At<'_>, key: &str) -> Result<Option<String>> {
    v.opt(key)?.map(|s| s.str().map(str::to_string)).transpose()
}

pub(super) fn opt_bool(v: &At<'_>, key: &str) -> Result<bool> {
    Ok(v.opt(key)?.map(|b| b.bool()).transpose()?.unwrap_or(false))
}

pub(super) fn opt_strings(v: &At<'_>, key: &str) -> Result<Vec<String>> {
    match v.opt(key)? {
        Some(a) => Ok(a.strings()?.into_iter().map(str::to_string).collect()),
        None => Ok(Vec::new()),
    }
}

pub(super) fn opt_u64(v: &At<'_>, key: &str) -> Result<Option<u64>> {
    v.opt(key)?.map(|n| n.u64()).transpose()
}

pub(super) fn opt_i64(v: &At<'_>, key: &str) -> Result<Option<i64>> {
    v.opt(key)?.map(|n| n.i64()).transpose()
}

/// An integer that fits `u32`.
pub(super) fn u32_of(v: &At<'_>) -> Result<u32> {
    let n = v.u64()?;
    u32::try_from(n).map_err(|_| v.error(format!("out of range: {n}")))
}

pub(super) fn opt_u32(v: &At<'_>, key: &str) -> Result<Option<u32>> {
    v.opt(key)?.map(|n| u32_of(&n)).transpose()
}
