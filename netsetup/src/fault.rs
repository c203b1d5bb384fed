//! Fault injection: a test seam in front of every netlink request (feature `fault-injection`,
//! and this crate's unit tests). Builds without the feature carry none of it: [`check`] is an
//! empty inline function there.
//!
//! - `NETSETUP_FAULT=N:ERRNO` makes the N-th request of the process (counted from 1 over every
//!   rtnetlink and nfnetlink connection) fail with ERRNO; `NETSETUP_FAULT=N:ERRNO:PREFIX`
//!   counts only the requests whose operation starts with PREFIX (`2:17:move link` fails the
//!   second move). The request is not sent, as when the kernel refuses one before changing
//!   anything, and the error reads as the kernel's would (`move link tif0 to netns fd 9:
//!   input/output error`).
//! - `NETSETUP_TRACE=FILE` appends `N<TAB>operation` for every request, so that a test can list
//!   the steps of a path and then fail each in turn.

/// Whether the request about to be sent for `what` must fail, and with which errno.
#[cfg(not(any(test, feature = "fault-injection")))]
#[inline(always)]
pub fn check(_what: &dyn std::fmt::Display) -> Option<i32> {
    None
}

#[cfg(any(test, feature = "fault-injection"))]
pub use imp::check;

#[cfg(any(test, feature = "fault-injection"))]
mod imp {
    use std::fmt::Display;
    use std::fs::File;
    use std::io::Write;
    use std::sync::Mutex;

    /// One planned failure: the `nth` request (of those starting with `prefix`) gets `errno`.
    #[derive(Debug, PartialEq, Eq)]
    pub(super) struct Fault {
        pub nth: u32,
        pub errno: i32,
        pub prefix: Option<String>,
    }

    /// Parses `N:ERRNO[:PREFIX]`; `None` for anything else (the seam then stays off).
    pub(super) fn parse(spec: &str) -> Option<Fault> {
        let mut it = spec.splitn(3, ':');
        let nth = it.next()?.trim().parse().ok().filter(|&n| n > 0)?;
        let errno = it.next()?.trim().parse().ok().filter(|&e| e > 0)?;
        let prefix = it.next().filter(|p| !p.is_empty()).map(str::to_string);
        Some(Fault { nth, errno, prefix })
    }

    /// The process's seam: its configuration and how many requests it has seen.
    pub(super) struct Seam {
        fault: Option<Fault>,
        trace: Option<File>,
        seen: u32,
        matched: u32,
    }

    impl Seam {
        pub(super) fn new(fault: Option<Fault>, trace: Option<File>) -> Seam {
            Seam { fault, trace, seen: 0, matched: 0 }
        }

        fn from_env() -> Seam {
            let fault = std::env::var("NETSETUP_FAULT").ok().and_then(|s| parse(&s));
            let trace =
                std::env::var_os("NETSETUP_TRACE").and_then(|p| File::options().create(true).append(true).open(p).ok());
            Seam::new(fault, trace)
        }

        /// Counts the request for `what`; the errno it must fail with, if it is the one.
        pub(super) fn next(&mut self, what: &dyn Display) -> Option<i32> {
            if self.fault.is_none() && self.trace.is_none() {
                return None;
            }
            let text = what.to_string();
            self.seen += 1;
            if let Some(f) = self.trace.as_mut() {
                let _ = writeln!(f, "{}\t{text}", self.seen);
            }
            let fault = self.fault.as_ref()?;
            let n = match &fault.prefix {
                None => self.seen,
                Some(p) if text.starts_with(p.as_str()) => {
                    self.matched += 1;
                    self.matched
                }
                Some(_) => return None,
            };
            (n == fault.nth).then_some(fault.errno)
        }
    }

    static SEAM: Mutex<Option<Seam>> = Mutex::new(None);

    /// Whether the request about to be sent for `what` must fail, and with which errno.
    pub fn check(what: &dyn Display) -> Option<i32> {
        let mut g = SEAM.lock().unwrap_or_else(|p| p.into_inner());
        g.get_or_insert_with(Seam::from_env).next(what)
    }
}

#[cfg(test)]
mod tests {
    use super::imp::{parse, Fault, Seam};

    #[test]
    fn specs_parse_or_leave_the_seam_off() {
        assert_eq!(parse("3:5"), Some(Fault { nth: 3, errno: 5, prefix: None }));
        let f = parse("2:17:move link").unwrap();
        assert_eq!((f.nth, f.errno, f.prefix.as_deref()), (2, 17, Some("move link")));
        assert_eq!(parse("1:5:a:b").unwrap().prefix.as_deref(), Some("a:b"));
        for bad in ["", "3", "0:5", "3:0", "x:5", "3:-1"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_nth_request_fails_once() {
        let mut s = Seam::new(parse("2:5"), None);
        let got: Vec<_> = ["a", "b", "c"].iter().map(|w| s.next(w)).collect();
        assert_eq!(got, [None, Some(5), None]);
    }

    #[test]
    fn a_prefix_counts_only_matching_operations() {
        let mut s = Seam::new(parse("2:17:move link"), None);
        let ops = ["query link a", "move link a to x", "set link a up", "move link b to x", "move link c to x"];
        let got: Vec<_> = ops.iter().map(|w| s.next(w)).collect();
        assert_eq!(got, [None, None, None, Some(17), None]);
    }

    #[test]
    fn the_trace_lists_every_request() {
        let path = std::env::temp_dir().join(format!("netsetup-trace-{}", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        let mut s = Seam::new(None, Some(file));
        assert_eq!(s.next(&"create veth ve-foo/host0"), None);
        assert_eq!(s.next(&"set link ve-foo up"), None);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(text, "1\tcreate veth ve-foo/host0\n2\tset link ve-foo up\n");
    }
}
