//! `--network-interface=`: host links lent to the container. They are resolved and checked
//! against both namespaces before anything moves (`plan::resolve_interfaces`), moved in and
//! renamed inside the container, and given back as the host had them: after every stop, and
//! at once when a later step of the start fails.
//!
//! Why each step is the way it is:
//! - A move that also renames (`IFLA_NET_NS_FD` and `IFLA_IFNAME` in one `RTM_NEWLINK`) is not
//!   atomic: when the old name is free in the target, the kernel moves the link under it and
//!   renames it there afterwards. If that rename fails (say the new name is one of the link's
//!   own altnames, which travel with it), the request fails with the link already in the
//!   container, where it dies with the namespace, a veth taking its peer along. So the move
//!   and the rename are two requests, each atomic, and a link counts as lent as soon as the
//!   move succeeded. Only when the old name is taken in the target does one request carry
//!   both: the kernel then picks the new name before moving anything.
//! - A link that leaves a namespace goes down and loses its addresses and its master. Its
//!   state (MTU, MAC, altnames, master, addresses, up) is saved before the move and restored
//!   when it comes back. Each step of giving back runs a second time if it fails: nobody can
//!   act on an error there, and a half-restored link is worse than one more request.

use super::ne;
use super::plan::{self, Plan};
use crate::error::{Error, Result};
use libc::{EEXIST, ENODEV, ENOENT};
use netsetup::{errno_text, Link, LinkInfo, Netns, Rtnl, SavedAddr};
use rustix::fd::BorrowedFd;
use std::fmt::Display;

/// A host link in the container's namespace.
#[derive(Debug, Clone)]
pub struct Lent {
    /// `--network-interface=...`, for messages.
    option: String,
    /// The link as the host had it before the move (its name is the host name).
    saved: LinkInfo,
    /// Its addresses then, in the kernel's order.
    addrs: Vec<SavedAddr>,
    /// Its name and index in the container (the index is what finds it again if the payload
    /// renamed it).
    name_inside: String,
    index_inside: Option<u32>,
}

/// `what: errno text` for a step the launcher names itself (the library's text would name an
/// ifindex and a namespace fd).
fn step_error(what: impl Display, e: netsetup::Error) -> Error {
    match e.errno() {
        Some(n) => Error::msg(format!("{what}: {}", errno_text(n))),
        None => Error::msg(format!("{what}: {e}")),
    }
}

/// Moves the plan's interfaces into the container's namespace `ns` (`c` is a connection
/// inside it), recording each in `lent` as soon as it is there.
pub fn lend(rtnl: &mut Rtnl, c: &mut Rtnl, ns: BorrowedFd<'_>, p: &Plan, lent: &mut Vec<Lent>) -> Result<()> {
    let links = rtnl.list_links().map_err(ne)?;
    let lendings = plan::resolve_interfaces(p, &links)?;
    let addrs = rtnl.saved_addresses().map_err(ne)?;
    // Names in the container so far (the moves come first, into a namespace holding only lo).
    let mut inside: Vec<String> = vec!["lo".into()];
    for l in lendings {
        let host = l.link.name.clone();
        let ctx = |e: Error| e.context(&l.option);
        let index = Link::Index(l.link.index);
        let renamed_by_move = l.container != host && inside.contains(&host);
        let name_by_move = if renamed_by_move { Some(l.container.as_str()) } else { None };
        rtnl.move_link(index, Netns::Fd(ns), name_by_move)
            .map_err(|e| ctx(step_error(format_args!("move {host} into the container"), e)))?;
        lent.push(Lent {
            option: l.option.clone(),
            saved: l.link.clone(),
            addrs: addrs.iter().filter(|a| a.info.index == l.link.index).cloned().collect(),
            name_inside: name_by_move.unwrap_or(&host).to_string(),
            index_inside: None,
        });
        let Some(this) = lent.last_mut() else { continue };
        if this.name_inside != l.container {
            c.rename_link(Link::Name(&host), &l.container).map_err(|e| ctx(ne(e).context("in the container")))?;
            this.name_inside = l.container.clone();
        }
        this.index_inside = Some(c.link_index(&l.container).map_err(|e| ctx(ne(e).context("in the container")))?);
        inside.push(l.container);
        inside.extend(l.link.altnames.iter().cloned());
    }
    Ok(())
}

/// Runs a step of giving back, once more if it fails.
fn twice(f: &mut dyn FnMut() -> netsetup::Result<()>) -> netsetup::Result<()> {
    f().or_else(|_| f())
}

/// `r`, with the errnos in `ok` counted as success (the state is already what was wanted).
fn unless(r: netsetup::Result<()>, ok: &[i32]) -> netsetup::Result<()> {
    match r {
        Err(e) if e.errno().is_some_and(|n| ok.contains(&n)) => Ok(()),
        r => r,
    }
}

/// Gives every lent link back to the launcher's namespace `own` (last lent first, so that
/// swapped names come back), renamed back and restored; `c` is a connection inside the
/// container's namespace. Problems are logged: the container is over either way.
pub fn give_back(rtnl: &mut Rtnl, c: &mut Rtnl, own: BorrowedFd<'_>, lent: &mut Vec<Lent>) {
    if lent.is_empty() {
        return;
    }
    let inside = c.list_links().or_else(|_| c.list_links()).unwrap_or_else(|e| {
        log::warn!("in the container: {e}");
        Vec::new()
    });
    let on_host = rtnl.list_links().or_else(|_| rtnl.list_links()).unwrap_or_else(|e| {
        log::warn!("{e}");
        Vec::new()
    });
    let mut back: Vec<String> = Vec::new();
    while let Some(l) = lent.pop() {
        let taken = |n: &str| on_host.iter().any(|h| h.has_name(n)) || back.iter().any(|b| b == n);
        if let Err(e) = give_back_one(rtnl, c, own, &l, &inside, &taken) {
            log::warn!("{}: {e}", l.option);
        }
        back.push(l.saved.name.clone());
    }
}

fn give_back_one(
    rtnl: &mut Rtnl,
    c: &mut Rtnl,
    own: BorrowedFd<'_>,
    l: &Lent,
    inside: &[LinkInfo],
    taken: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let host = l.saved.name.as_str();
    let gone = || Error::msg(format!("{host} is no longer in the container's namespace"));
    // Found by index (the payload may have renamed it), else by the name it was given.
    let found = match l.index_inside {
        Some(i) => inside.iter().find(|x| x.index == i),
        None => inside.iter().find(|x| x.name == l.name_inside),
    };
    let mut now = found.cloned().unwrap_or_else(|| LinkInfo { name: l.name_inside.clone(), ..l.saved.clone() });
    let link = match (found, l.index_inside) {
        (Some(f), _) => Link::Index(f.index),
        // The container's links could not be listed: the index is still the best guess.
        (None, Some(i)) if inside.is_empty() => Link::Index(i),
        (None, Some(_)) => return Err(gone()),
        (None, None) => Link::Name(&l.name_inside),
    };
    // As on the way in: one request carries the name only when the current one is taken.
    let by_move = now.name != host && taken(&now.name);
    let mut name = if by_move { host.to_string() } else { now.name.clone() };
    let r = twice(&mut || c.move_link(link, Netns::Fd(own), by_move.then_some(host)));
    match r {
        Ok(()) => {}
        Err(e) if e.errno() == Some(ENODEV) => return Err(gone()),
        Err(e) if e.errno() == Some(EEXIST) => {
            // Its names were taken on the host meanwhile. Rather than let it die with the
            // namespace, it comes back under a free name, without its altnames.
            name = (0..).map(|n| format!("sbx-back{n}")).find(|n| !taken(n)).unwrap_or_default();
            for a in std::mem::take(&mut now.altnames) {
                let _ = c.delete_altname(link, &a);
            }
            twice(&mut || c.move_link(link, Netns::Fd(own), Some(&name)))
                .map_err(|e| step_error(format_args!("move {} back to the host as {name}", now.name), e))?;
            log::warn!("{}: its names are taken on the host: it came back as {name}", l.option);
        }
        Err(e) => return Err(step_error(format_args!("move {} back to the host", now.name), e)),
    }
    if name == now.name && name != host {
        match twice(&mut || rtnl.rename_link(Link::Name(&name), host)) {
            Ok(()) => name = host.to_string(),
            Err(e) => log::warn!("{}: it came back as {name}: {e}", l.option),
        }
    }
    let index = rtnl.link_index(&name).or_else(|_| rtnl.link_index(&name)).map_err(ne)?;
    restore(rtnl, index, l, &now);
    Ok(())
}

/// Puts back what the link had on the host and lost (or the container changed): MTU, MAC,
/// altnames, master, addresses (IPv4 in the kernel's order; IPv6 in reverse, since the kernel
/// puts each new one first), up. A step that fails twice is logged.
fn restore(rtnl: &mut Rtnl, index: u32, l: &Lent, now: &LinkInfo) {
    let link = Link::Index(index);
    let was = &l.saved;
    let mut step = |f: &mut dyn FnMut(&mut Rtnl) -> netsetup::Result<()>| {
        if let Err(e) = twice(&mut || f(rtnl)) {
            log::warn!("{}: restore {}: {e}", l.option, was.name);
        }
    };
    if let (Some(mtu), true) = (was.mtu, was.mtu != now.mtu) {
        step(&mut |r| r.set_mtu(link, mtu));
    }
    if let (Some(mac), true) = (was.mac, was.mac != now.mac) {
        step(&mut |r| r.set_mac(link, mac));
    }
    for a in was.altnames.iter().filter(|a| !now.altnames.contains(a)) {
        step(&mut |r| unless(r.add_altname(link, a), &[EEXIST]));
    }
    for a in now.altnames.iter().filter(|a| !was.altnames.contains(a)) {
        step(&mut |r| unless(r.delete_altname(link, a), &[ENODEV, ENOENT]));
    }
    if let Some(m) = was.master {
        step(&mut |r| r.set_master(link, Some(Link::Index(m))));
    }
    let v4 = l.addrs.iter().filter(|a| !a.is_v6());
    let v6 = l.addrs.iter().filter(|a| a.is_v6()).rev();
    for a in v4.chain(v6) {
        step(&mut |r| unless(r.restore_address(index, a), &[EEXIST]));
    }
    if was.is_up() {
        step(&mut |r| r.set_link_up(link, true));
    }
}
