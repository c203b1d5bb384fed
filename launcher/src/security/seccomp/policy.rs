//! groups.rs resolved against one family's syscall table, at build time: the group lists and
//! nspawn's allow list become runs of table indices (a [`Policy`]), which build.rs writes out as
//! Rust (`OUT_DIR/seccomp-policy-FAMILY.rs`). The launcher compiles from those, so its binary
//! carries no group strings. Shared with build.rs and the unit tests; no dependency but std.

use super::groups::{GROUPS, NSPAWN_ALLOW};
use super::target::{Policy, Table, END, GROUP};
use std::fmt::Write;

/// A [`Policy`] being built (owned).
pub struct Encoded {
    groups: String,
    members: Vec<u16>,
    allow: Vec<u16>,
    foreign: String,
}

impl Encoded {
    /// groups.rs against `table`. Errors on a group the data names but does not define.
    pub fn new(table: &Table) -> Result<Encoded, String> {
        let names: Vec<&str> = table.names().collect();
        let mut absent: Vec<&str> = Vec::new();
        let mut run = |list: &'static str, out: &mut Vec<u16>| -> Result<(), String> {
            for w in list.split_ascii_whitespace() {
                if w.starts_with('@') {
                    let g = GROUPS.iter().position(|(n, _)| *n == w).ok_or_else(|| format!("no group {w}"))?;
                    out.push(GROUP | u16::try_from(g).map_err(|e| e.to_string())?);
                } else if let Ok(i) = names.binary_search(&w) {
                    out.push(u16::try_from(i).ok().filter(|i| i & GROUP == 0).ok_or("table too large")?);
                } else if !table.is_foreign(w) && !absent.contains(&w) {
                    absent.push(w);
                }
            }
            Ok(())
        };
        let mut members = Vec::new();
        for (_, list) in GROUPS {
            run(list, &mut members)?;
            members.push(END);
        }
        // One run per gate, in the order the gates first appear.
        let mut gates: Vec<u8> = Vec::new();
        for (cap, _) in NSPAWN_ALLOW {
            if !gates.contains(cap) {
                gates.push(*cap);
            }
        }
        let mut allow = Vec::new();
        for gate in gates {
            allow.push(u16::from(gate));
            for (_, list) in NSPAWN_ALLOW.iter().filter(|(cap, _)| *cap == gate) {
                run(list, &mut allow)?;
            }
            allow.push(END);
        }
        absent.sort_unstable();
        let groups = GROUPS.iter().map(|(n, _)| format!("{n} ")).collect();
        let foreign = absent.iter().map(|n| format!("{n} ")).collect();
        Ok(Encoded { groups, members, allow, foreign })
    }

    /// The policy, borrowed.
    pub fn policy(&self) -> Policy<'_> {
        Policy { groups: &self.groups, members: &self.members, allow: &self.allow, foreign: &self.foreign }
    }

    /// A Rust item `pub static POLICY: Policy<'static>` with this policy (for `include!`).
    pub fn to_rust(&self, what: &str) -> String {
        let list = |v: &[u16]| v.iter().map(|m| format!("{m:#x}")).collect::<Vec<_>>().join(", ");
        let mut out = String::new();
        let _ = writeln!(out, "/// groups.rs resolved against {what} (build.rs, policy.rs).");
        let _ = writeln!(out, "pub static POLICY: Policy<'static> = Policy {{");
        let _ = writeln!(out, "    groups: {:?},", self.groups);
        let _ = writeln!(out, "    members: &[{}],", list(&self.members));
        let _ = writeln!(out, "    allow: &[{}],", list(&self.allow));
        let _ = writeln!(out, "    foreign: {:?},", self.foreign);
        let _ = writeln!(out, "}};");
        out
    }
}
