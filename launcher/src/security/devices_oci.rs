//! The device policy of an OCI bundle: `linux.resources.devices` read as runc reads it, plus
//! the devices runc allows on its own and an allow for each node of `linux.devices`, as one
//! cgroup device program (devices.rs's straight-line code).
//!
//! runc runs the rules through its emulator of the cgroup v1 device controller
//! (libcontainer/cgroups/devices) and builds its cgroup v2 program from the result; so do we:
//! - A rule of type `a` (the default when `type` is missing), whatever its numbers, resets the
//!   policy: `allow` to "everything allowed", `deny` to "everything denied", with no
//!   exceptions. The policy starts as "everything denied".
//! - Any other rule adds an exception when it goes against the default (an allow under "deny
//!   everything"; a deny under "allow everything"), merging its accesses into an exception of
//!   the same type, major and minor; when it goes with the default, it removes its accesses from
//!   the exception of exactly the same type, major and minor (the v1 kernel's
//!   `dev_exception_rm`: a deny of `c 1:3` does not punch a hole into an allowed `c *:*`).
//! - Under "deny everything" an access is allowed when one exception matches its type, major
//!   and minor (a missing or -1 number is any) and has all the accesses asked for; under "allow
//!   everything" it is denied when one exception matches and has any of them.
//! - After config.json's rules come runc's own (`specconv.AllowedDevices`, runc 1.1): mknod of
//!   any character or block device; /dev/null, zero, full, random, urandom, tty (1:3, 1:5,
//!   1:7, 1:8, 1:9, 5:0), /dev/ptmx (5:2), every /dev/pts/N (136:*) and /dev/net/tun (10:200),
//!   rwm; /dev/console is a bind mount of a pts. Then an rwm allow for each character or block
//!   node of `linux.devices` (the spec: they "MUST be available in the container").

use super::devices::{self, insn, Insn, Rule, AND_X, BLOCK, CHAR, EXIT, MKNOD, MOV_K, RWM, XOR32_K};
use crate::error::{Error, Result};
use crate::runtime_spec::{DeviceRule, LinuxDevice};

/// One exception: type ([`CHAR`] or [`BLOCK`]), major and minor (`None`: any), accesses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exception {
    pub kind: u32,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u32,
}

impl Exception {
    fn same_device(&self, o: &Exception) -> bool {
        (self.kind, self.major, self.minor) == (o.kind, o.major, o.minor)
    }

    #[cfg(test)]
    fn covers(&self, kind: u32, major: u32, minor: u32) -> bool {
        self.kind == kind && self.major.map_or(true, |m| m == major) && self.minor.map_or(true, |m| m == minor)
    }

    /// As devices.rs's [`Rule`] (a major range of one, or all).
    fn rule(&self) -> Rule {
        let majors = self.major.map_or((0, u32::MAX), |m| (m, m));
        Rule { kind: self.kind, majors, minor: self.minor, access: self.access }
    }
}

/// The result of the rules: the default and its exceptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub default_allow: bool,
    pub exceptions: Vec<Exception>,
}

/// One rule as the emulator takes it: allow?, type (`None`: `a`), major, minor, accesses.
type Step = (bool, Option<u32>, Option<u32>, Option<u32>, u32);

/// runc's `AllowedDevices` (runc 1.1's specconv), after config.json's rules.
const RUNC_ALLOWED: [Step; 11] = [
    (true, Some(CHAR), None, None, MKNOD),
    (true, Some(BLOCK), None, None, MKNOD),
    (true, Some(CHAR), Some(1), Some(3), RWM),
    (true, Some(CHAR), Some(1), Some(8), RWM),
    (true, Some(CHAR), Some(1), Some(7), RWM),
    (true, Some(CHAR), Some(5), Some(0), RWM),
    (true, Some(CHAR), Some(1), Some(5), RWM),
    (true, Some(CHAR), Some(1), Some(9), RWM),
    (true, Some(CHAR), Some(136), None, RWM),
    (true, Some(CHAR), Some(5), Some(2), RWM),
    (true, Some(CHAR), Some(10), Some(200), RWM),
];

/// A device number of config.json: `None` and -1 are any.
fn number(v: Option<i64>, at: &str) -> Result<Option<u32>> {
    match v {
        None | Some(-1) => Ok(None),
        Some(n) => u32::try_from(n).map(Some).map_err(|_| Error::msg(format!("{at}: out of range: {n}"))),
    }
}

/// `rwm` letters as access bits (the parser checked them).
fn access_bits(access: Option<&str>) -> u32 {
    let Some(a) = access else { return RWM };
    a.chars().fold(0, |m, c| {
        m | match c {
            'r' => devices::READ,
            'w' => devices::WRITE,
            'm' => MKNOD,
            _ => 0,
        }
    })
}

/// The policy of `rules` (`linux.resources.devices`) and `nodes` (`linux.devices`).
pub fn policy(rules: &[DeviceRule], nodes: &[LinuxDevice]) -> Result<Policy> {
    let mut steps: Vec<Step> = Vec::with_capacity(rules.len() + RUNC_ALLOWED.len() + nodes.len());
    for (i, r) in rules.iter().enumerate() {
        let at = |k: &str| format!("linux.resources.devices[{i}].{k}");
        let kind = match r.kind {
            None | Some('a') => None,
            Some('c') => Some(CHAR),
            Some('b') => Some(BLOCK),
            Some(other) => return Err(Error::msg(format!("{}: unknown device type {other:?}", at("type")))),
        };
        steps.push((
            r.allow,
            kind,
            number(r.major, &at("major"))?,
            number(r.minor, &at("minor"))?,
            access_bits(r.access.as_deref()),
        ));
    }
    steps.extend(RUNC_ALLOWED);
    for (i, d) in nodes.iter().enumerate() {
        let kind = match d.kind {
            'c' | 'u' => CHAR,
            'b' => BLOCK,
            _ => continue,
        };
        let at = |k: &str| format!("linux.devices[{i}].{k}");
        let major = number(Some(d.major), &at("major"))?;
        let minor = number(Some(d.minor), &at("minor"))?;
        steps.push((true, Some(kind), major, minor, RWM));
    }
    let mut p = Policy { default_allow: false, exceptions: Vec::new() };
    for (allow, kind, major, minor, access) in steps {
        let Some(kind) = kind else {
            p = Policy { default_allow: allow, exceptions: Vec::new() };
            continue;
        };
        let e = Exception { kind, major, minor, access };
        if allow != p.default_allow {
            match p.exceptions.iter_mut().find(|x| x.same_device(&e)) {
                Some(x) => x.access |= access,
                None => p.exceptions.push(e),
            }
        } else {
            for x in p.exceptions.iter_mut().filter(|x| x.same_device(&e)) {
                x.access &= !access;
            }
            p.exceptions.retain(|x| x.access != 0);
        }
    }
    Ok(p)
}

impl Policy {
    /// Whether the policy allows `access` to device (kind, major, minor): the kernel's reading
    /// of a v1 device cgroup with these exceptions (the model the tests check the program on).
    #[cfg(test)]
    pub fn allows(&self, kind: u32, major: u32, minor: u32, access: u32) -> bool {
        let mut matching = self.exceptions.iter().filter(|e| e.covers(kind, major, minor));
        if self.default_allow {
            !matching.any(|e| e.access & access != 0)
        } else {
            matching.any(|e| access & !e.access == 0)
        }
    }

    /// The cgroup device program (see devices.rs's [`assemble`](devices::assemble)): r0 starts
    /// as the default; each exception's match sets it (allow list) or clears it (deny list).
    pub fn assemble(&self) -> Vec<Insn> {
        let mut p = devices::assemble(&[]);
        // devices::assemble ends with `r0 = 0; exit`: drop the exit, set the default.
        p.pop();
        if self.default_allow {
            p.push(insn(MOV_K, 0, 0, 0, 1));
        }
        for e in &self.exceptions {
            devices::match_into_r7(&mut p, &e.rule(), self.default_allow);
            if self.default_allow {
                p.push(insn(XOR32_K, 7, 0, 0, 1)); // w7 = 0 on a match
                p.push(insn(AND_X, 0, 7, 0, 0)); // r0 &= r7
            } else {
                p.push(insn(devices::OR_X, 0, 7, 0, 0)); // r0 |= r7
            }
        }
        p.push(insn(EXIT, 0, 0, 0, 0));
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::devices::tests::run;
    use crate::security::devices::{READ, WRITE};

    fn rule(
        allow: bool,
        kind: Option<char>,
        major: Option<i64>,
        minor: Option<i64>,
        access: Option<&str>,
    ) -> DeviceRule {
        DeviceRule { allow, kind, major, minor, access: access.map(str::to_string) }
    }

    fn node(kind: char, major: i64, minor: i64) -> LinuxDevice {
        LinuxDevice { path: "/dev/x".into(), kind, major, minor, file_mode: None, uid: None, gid: None }
    }

    /// The program agrees with the policy's own reading on every access near its numbers.
    fn check(p: &Policy) {
        let prog = p.assemble();
        let mut majors: Vec<u32> = vec![0, 1, 5, 10, 136, 137, 254, u32::MAX];
        let mut minors: Vec<u32> = vec![0, 1, 2, 3, 200, u32::MAX];
        for e in &p.exceptions {
            majors.extend(e.major.iter().flat_map(|m| [m.wrapping_sub(1), *m, m.wrapping_add(1)]));
            minors.extend(e.minor.iter().flat_map(|m| [m.wrapping_sub(1), *m, m.wrapping_add(1)]));
        }
        for kind in [CHAR, BLOCK] {
            for &major in &majors {
                for &minor in &minors {
                    for access in 1..=RWM {
                        let want = p.allows(kind, major, minor, access);
                        let got = run(&prog, kind, access, major, minor) == 1;
                        assert_eq!(got, want, "{kind} {major}:{minor} {access:#b} in {p:?}");
                    }
                }
            }
        }
    }

    /// Docker's rules: deny everything, then a few allows (and a deny that removes nothing).
    #[test]
    fn dockers_rules_with_runcs_defaults() {
        let rules = [
            rule(false, None, None, None, Some("rwm")),
            rule(true, Some('c'), Some(10), Some(229), Some("rwm")),
            rule(false, Some('c'), Some(10), Some(229), Some("m")),
            rule(true, Some('c'), Some(4), None, Some("r")),
        ];
        let p = policy(&rules, &[node('c', 226, 0), node('p', 0, 0), node('b', 8, 0)]).unwrap();
        assert!(!p.default_allow);
        let allows = |k, maj, min, acc| p.allows(k, maj, min, acc);
        assert!(allows(CHAR, 10, 229, READ | WRITE));
        // The deny of m on 10:229 removed it from that exception; runc's c *:* m allows it again.
        assert!(allows(CHAR, 10, 229, MKNOD) && allows(CHAR, 99, 99, MKNOD));
        assert!(allows(CHAR, 1, 3, RWM) && allows(CHAR, 5, 2, READ | WRITE) && allows(CHAR, 136, 7, READ));
        assert!(allows(CHAR, 10, 200, READ) && allows(CHAR, 4, 1, READ) && !allows(CHAR, 4, 1, WRITE));
        assert!(allows(CHAR, 226, 0, READ | WRITE) && allows(BLOCK, 8, 0, READ));
        assert!(!allows(BLOCK, 8, 1, READ) && !allows(CHAR, 1, 4, READ) && !allows(CHAR, 5, 1, READ));
        assert!(allows(BLOCK, 8, 1, MKNOD), "mknod of anything (runc)");
        check(&p);
    }

    #[test]
    fn type_a_resets_and_default_allow_denies_partially() {
        // Allow everything, deny reads of 1:3 and writes of block 8:*.
        let rules = [
            rule(false, None, None, None, None),
            rule(true, Some('c'), Some(1), Some(3), None),
            rule(true, None, Some(1), Some(3), Some("r")), // type a: a reset to allow-all
            rule(false, Some('c'), Some(1), Some(3), Some("r")),
            rule(false, Some('b'), Some(8), None, Some("w")),
        ];
        let p = policy(&rules, &[]).unwrap();
        assert!(p.default_allow);
        // runc's own allow of c 1:3 rwm removes the deny exception of exactly c 1:3.
        assert!(p.allows(CHAR, 1, 3, READ));
        assert!(!p.allows(BLOCK, 8, 0, WRITE) && !p.allows(BLOCK, 8, 0, READ | WRITE) && p.allows(BLOCK, 8, 0, READ));
        assert!(p.allows(CHAR, 7, 7, RWM));
        check(&p);
    }

    #[test]
    fn removal_is_exact_and_cannot_punch_holes() {
        let rules = [
            rule(false, None, None, None, None),
            rule(true, Some('c'), None, None, Some("rw")),
            rule(false, Some('c'), Some(1), Some(3), Some("rw")), // no exception c 1:3: nothing
            rule(true, Some('b'), Some(8), Some(0), Some("rw")),
            rule(false, Some('b'), Some(8), Some(0), Some("w")), // leaves r
        ];
        let p = policy(&rules, &[]).unwrap();
        assert!(p.allows(CHAR, 1, 3, READ | WRITE));
        assert!(p.allows(BLOCK, 8, 0, READ) && !p.allows(BLOCK, 8, 0, WRITE));
        check(&p);
        // No rules at all: runc's allows only.
        let p = policy(&[], &[]).unwrap();
        assert!(!p.default_allow && p.allows(CHAR, 1, 9, RWM) && !p.allows(CHAR, 4, 0, READ));
        check(&p);
        let e = policy(&[rule(true, Some('c'), Some(1 << 40), None, None)], &[]).unwrap_err();
        assert_eq!(e.to_string(), "linux.resources.devices[0].major: out of range: 1099511627776");
    }
}
