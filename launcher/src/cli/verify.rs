//! Cross-option rules, checked once the whole command line is parsed (nspawn's
//! `verify_arguments()` and the checks at the end of its `parse_argv()`).

use super::apply::Seen;
use super::values_sec::{CAP_NET_ADMIN, DEFAULT_RETAINED_CAPS};
use crate::error::Error;
use crate::settings::{
    BindIdmap, CustomMount, LinkJournal, PrivateUsers, Settings, StartMode, UserNamespaceOwnership, VolatileMode,
};
use std::path::Path;

type Result<T> = std::result::Result<T, Error>;

/// Fixes up what nspawn fixes up after parsing: `-x --template=X` without `-D` means `-x -D X`.
pub fn finish(s: &mut Settings) {
    if s.ephemeral && s.template.is_some() && s.directory.is_none() {
        s.directory = s.template.take();
    }
}

fn fail<T>(msg: &str) -> Result<T> {
    Err(Error::msg(msg))
}

/// The bounding set nspawn would retain for these settings.
pub fn retained_capabilities(s: &Settings) -> u64 {
    let net = if s.private_network { 1u64 << CAP_NET_ADMIN } else { 0 };
    (DEFAULT_RETAINED_CAPS | s.capability | net) & !s.drop_capability
}

/// Checks the rules that concern more than one option; the first broken one is the error.
pub fn verify(s: &Settings, seen: &Seen) -> Result<()> {
    let userns = matches!(s.private_users, Some(p) if p != PrivateUsers::No);
    let managed = s.private_users == Some(PrivateUsers::Managed);

    if seen.boot && seen.as_pid2 {
        return fail("--boot and --as-pid2 may not be combined");
    }
    if seen.forward_journal_limits && s.forward_journal.is_none() {
        return fail("--forward-journal-max-use=/--forward-journal-keep-free=/--forward-journal-max-file-size=/--forward-journal-max-files= require --forward-journal=");
    }
    if seen.user_scope && !managed {
        return fail("--user (user scope) requires --private-users=managed");
    }
    if managed && !s.private_network {
        return fail("--private-users=managed requires private networking");
    }
    if s.private_users_delegate.unwrap_or(0) > 0 && !managed {
        return fail("--private-users-delegate= requires --private-users=managed");
    }
    if s.cleanup && s.machine.is_none() && s.directory.is_none() && s.image.is_none() {
        return fail("--cleanup needs --machine=, --directory= or --image=");
    }

    let given = [s.directory.is_some(), s.image.is_some(), s.mstack.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        return fail("--directory=, --image= and --mstack= may not be combined");
    }
    if s.template.is_some() && (s.image.is_some() || s.mstack.is_some()) {
        return fail("--template= and --image=/--mstack= may not be combined");
    }
    if s.template.is_some() && s.directory.is_none() && s.machine.is_none() {
        return fail("--template= needs --directory= or --machine=");
    }
    if s.ephemeral && s.template.is_some() {
        return fail("--ephemeral and --template= may not be combined");
    }
    if s.ephemeral && s.mstack.is_some() {
        return fail("--ephemeral and --mstack= may not be combined");
    }
    if s.ephemeral && matches!(s.link_journal, Some(LinkJournal::Host | LinkJournal::Guest)) {
        return fail("--ephemeral and --link-journal=host|guest may not be combined");
    }
    let volatile = s.volatile.unwrap_or(VolatileMode::No);
    if s.directory.as_deref() == Some(Path::new("/"))
        && !s.ephemeral
        && !matches!(volatile, VolatileMode::Yes | VolatileMode::State)
    {
        return fail("--directory=/ needs --ephemeral, --volatile=yes or --volatile=state");
    }

    // --volatile and a custom mount on / make the root read-only, as in nspawn.
    let root_mount = s.custom_mounts.iter().any(|m| m.destination() == Path::new("/"));
    let read_only = s.read_only || volatile != VolatileMode::No || root_mount;
    let chown = s.private_users_ownership == Some(UserNamespaceOwnership::Chown);
    if chown && read_only {
        return fail("--read-only and --private-users-ownership=chown may not be combined");
    }
    if chown && volatile != VolatileMode::No {
        return fail("--volatile= and --private-users-ownership=chown may not be combined");
    }

    let other_network = !s.network_interfaces.is_empty()
        || !s.network_macvlan.is_empty()
        || !s.network_ipvlan.is_empty()
        || !s.network_veth_extra.is_empty()
        || s.network_bridge.is_some()
        || s.network_zone.is_some()
        || s.network_veth;
    if s.network_namespace_path.is_some() && other_network {
        return fail("--network-namespace-path= cannot be combined with other network options");
    }
    if s.network_bridge.is_some() && s.network_zone.is_some() {
        return fail("--network-bridge= and --network-zone= may not be combined");
    }
    if !s.ports.is_empty() && !s.private_network {
        return fail("cannot use --port= without private networking");
    }

    if s.ambient_capability != 0 {
        if s.ambient_capability == u64::MAX {
            return fail("--ambient-capability= does not support the value all");
        }
        if s.ambient_capability & !retained_capabilities(s) != 0 {
            return fail("--ambient-capability= is not fully covered by the retained capabilities");
        }
        if s.start_mode == Some(StartMode::Boot) {
            return fail("--ambient-capability= may not be combined with --boot");
        }
    }

    if !s.bind_user.is_empty() && !userns {
        return fail("--bind-user= requires --private-users");
    }
    if s.bind_user_shell.is_some() && s.bind_user.is_empty() {
        return fail("cannot use --bind-user-shell= without --bind-user=");
    }
    if !s.bind_user_group.is_empty() && s.bind_user.is_empty() {
        return fail("cannot use --bind-user-group= without --bind-user=");
    }

    for m in &s.custom_mounts {
        if let CustomMount::Bind { idmap, destination, .. } = m {
            // rootidmap and owneridmap map the source's owner without one too (nspawn ≥ 256).
            if *idmap == BindIdmap::Idmap && !userns {
                return Err(Error::msg(format!(
                    "idmapped bind mount on {} requires user namespacing (--private-users)",
                    destination.display()
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn ephemeral_template_becomes_directory() {
        let mut s = Settings { ephemeral: true, template: Some(PathBuf::from("/t")), ..Settings::default() };
        finish(&mut s);
        assert_eq!((s.directory, s.template), (Some(PathBuf::from("/t")), None));
        let mut s = Settings { template: Some(PathBuf::from("/t")), ..Settings::default() };
        finish(&mut s);
        assert_eq!((s.directory, s.template), (None, Some(PathBuf::from("/t"))));
    }

    #[test]
    fn retained_capabilities_follow_nspawn() {
        let s = Settings::default();
        assert_eq!(retained_capabilities(&s), DEFAULT_RETAINED_CAPS);
        let s =
            Settings { private_network: true, capability: 1 << 25, drop_capability: 1 << 21, ..Settings::default() };
        let want = (DEFAULT_RETAINED_CAPS | (1 << 12) | (1 << 25)) & !(1 << 21);
        assert_eq!(retained_capabilities(&s), want);
    }

    #[test]
    fn defaults_pass() {
        assert!(verify(&Settings::default(), &Seen::default()).is_ok());
    }
}
