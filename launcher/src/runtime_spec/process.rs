//! `config.json`'s `process`: what runs as the container's init (and, in the same shape,
//! what `exec --process` runs).

use super::{absolute, nonempty, opt_bool, opt_str, opt_strings, opt_u32, u32_of};
use crate::error::Result;
use crate::json::At;
use crate::kernel_names::{CAPABILITIES, RLIMITS};

/// `process`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Process {
    pub terminal: bool,
    /// (height, width).
    pub console_size: Option<(u32, u32)>,
    pub user: User,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    /// `None`: the member was missing (no capabilities in any set).
    pub capabilities: Option<Capabilities>,
    pub rlimits: Vec<Rlimit>,
    pub no_new_privileges: bool,
    pub oom_score_adj: Option<i32>,
    pub apparmor_profile: Option<String>,
    pub selinux_label: Option<String>,
}

/// `process.user`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub umask: Option<u32>,
    pub additional_gids: Vec<u32>,
}

/// `process.capabilities`, as capability numbers. Names the kernel does not know (a newer
/// spec's) are left out, as runc does; `unknown` keeps them for a warning.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    pub bounding: Vec<u32>,
    pub effective: Vec<u32>,
    pub inheritable: Vec<u32>,
    pub permitted: Vec<u32>,
    pub ambient: Vec<u32>,
    pub unknown: Vec<String>,
}

/// One of `process.rlimits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    /// The resource number (`RLIMIT_NOFILE` is 7).
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

/// Reads a `process` object (of `config.json`, or the file of `exec --process`).
pub fn parse(p: &At<'_>) -> Result<Process> {
    let args_at = p.req("args")?;
    let args: Vec<String> = args_at.strings()?.into_iter().map(str::to_string).collect();
    if args.is_empty() {
        return Err(args_at.error("must not be empty"));
    }
    let cwd_at = p.req("cwd")?;
    let cwd = absolute(&cwd_at, nonempty(&cwd_at)?)?;
    let console_size = match p.opt("consoleSize")? {
        Some(c) => Some((u32_of(&c.req("height")?)?, u32_of(&c.req("width")?)?)),
        None => None,
    };
    let oom_score_adj = match p.opt("oomScoreAdj")? {
        Some(o) => {
            let n = o.i64()?;
            if !(-1000..=1000).contains(&n) {
                return Err(o.error(format!("must be between -1000 and 1000: {n}")));
            }
            Some(n as i32)
        }
        None => None,
    };
    let env = opt_strings(p, "env")?;
    if let Some(env_at) = p.opt("env")? {
        for (item, e) in env_at.items()?.iter().zip(&env) {
            if !e.contains('=') {
                return Err(item.error(format!("expected NAME=VALUE: {e:?}")));
            }
        }
    }
    Ok(Process {
        terminal: opt_bool(p, "terminal")?,
        console_size,
        user: user(&p.req("user")?)?,
        args,
        env,
        cwd: cwd.to_string(),
        capabilities: p.opt("capabilities")?.map(|c| capabilities(&c)).transpose()?,
        rlimits: match p.opt("rlimits")? {
            Some(r) => rlimits(&r)?,
            None => Vec::new(),
        },
        no_new_privileges: opt_bool(p, "noNewPrivileges")?,
        oom_score_adj,
        apparmor_profile: opt_str(p, "apparmorProfile")?.filter(|s| !s.is_empty()),
        selinux_label: opt_str(p, "selinuxLabel")?.filter(|s| !s.is_empty()),
    })
}

fn user(u: &At<'_>) -> Result<User> {
    Ok(User {
        uid: u32_of(&u.req("uid")?)?,
        gid: u32_of(&u.req("gid")?)?,
        umask: opt_u32(u, "umask")?,
        additional_gids: match u.opt("additionalGids")? {
            Some(g) => g.items()?.iter().map(u32_of).collect::<Result<_>>()?,
            None => Vec::new(),
        },
    })
}

fn capabilities(c: &At<'_>) -> Result<Capabilities> {
    let mut caps = Capabilities::default();
    for (key, set) in [
        ("bounding", &mut caps.bounding),
        ("effective", &mut caps.effective),
        ("inheritable", &mut caps.inheritable),
        ("permitted", &mut caps.permitted),
        ("ambient", &mut caps.ambient),
    ] {
        let Some(names) = c.opt(key)? else { continue };
        for item in names.items()? {
            let name = item.str()?;
            let Some(short) = name.strip_prefix("CAP_") else {
                return Err(item.error(format!("not a capability name: {name:?}")));
            };
            let lower = short.to_ascii_lowercase();
            match CAPABILITIES.iter().position(|c| *c == lower) {
                Some(n) => set.push(n as u32),
                None => caps.unknown.push(name.to_string()),
            }
        }
    }
    Ok(caps)
}

/// `process.rlimits`: a type given twice is an error (config.md "POSIX process": the runtime
/// MUST generate an error for duplicated entries with the same type).
fn rlimits(r: &At<'_>) -> Result<Vec<Rlimit>> {
    let mut out: Vec<Rlimit> = Vec::new();
    for item in r.items()? {
        let l = rlimit(&item)?;
        if out.iter().any(|o| o.resource == l.resource) {
            let t = item.req("type")?;
            return Err(t.error(format!("{:?} given twice", t.str()?)));
        }
        out.push(l);
    }
    Ok(out)
}

fn rlimit(r: &At<'_>) -> Result<Rlimit> {
    let t = r.req("type")?;
    let name = t.str()?;
    let resource = name
        .strip_prefix("RLIMIT_")
        .and_then(|n| RLIMITS.iter().position(|r| *r == n))
        .ok_or_else(|| t.error(format!("unknown resource {name:?}")))?;
    let soft = r.req("soft")?.u64()?;
    let hard = r.req("hard")?.u64()?;
    if soft > hard {
        return Err(r.error(format!("soft limit {soft} above hard limit {hard}")));
    }
    Ok(Rlimit { resource: resource as u32, soft, hard })
}
