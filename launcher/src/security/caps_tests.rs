//! Golden masks of the retained/ambient computation for each option combination.

use super::*;

/// systemd-nspawn's well-known default CapBnd.
const NSPAWN_DEFAULT: u64 = 0xfdec_afff;
const MKNOD: u64 = 1 << 27;
const NET_ADMIN: u64 = 1 << 12;
const ALL_40: u64 = 0x1ff_ffff_ffff;

fn req() -> Request {
    Request {
        add: 0,
        drop: 0,
        ambient: 0,
        private_network: false,
        userns: false,
        device_policy: true,
        last_cap: 40,
        host: ALL_40,
    }
}

fn retained(r: Request) -> u64 {
    plan(&r).unwrap().retained
}

#[test]
fn default_is_nspawns_26() {
    assert_eq!(default_mask(), NSPAWN_DEFAULT);
    assert_eq!(DEFAULT_RETAINED_CAPS.count_ones(), 26);
    assert_eq!(plan(&req()).unwrap(), Plan { retained: NSPAWN_DEFAULT, ambient: 0, missing: 0, mknod_dropped: false });
}

#[test]
fn without_device_policy_mknod_goes_unless_asked_for() {
    let p = plan(&Request { device_policy: false, ..req() }).unwrap();
    assert_eq!((p.retained, p.mknod_dropped), (NSPAWN_DEFAULT & !MKNOD, true));
    let p = plan(&Request { device_policy: false, add: MKNOD, ..req() }).unwrap();
    assert_eq!((p.retained, p.mknod_dropped), (NSPAWN_DEFAULT, false));
    let p = plan(&Request { device_policy: false, add: u64::MAX, ..req() }).unwrap();
    assert_eq!((p.retained, p.mknod_dropped), (ALL_40, false));
    let p = plan(&Request { device_policy: false, drop: MKNOD, ..req() }).unwrap();
    assert_eq!((p.retained, p.mknod_dropped), (NSPAWN_DEFAULT & !MKNOD, false));
}

#[test]
fn capability_and_drop_capability() {
    assert_eq!(retained(Request { add: NET_ADMIN, ..req() }), 0xfdec_bfff);
    assert_eq!(retained(Request { drop: 1 << 21, ..req() }), 0xfdcc_afff);
    assert_eq!(retained(Request { add: 1 << 25, drop: 1 << 25, ..req() }), NSPAWN_DEFAULT);
    assert_eq!(retained(Request { drop: u64::MAX, ..req() }), 0);
}

#[test]
fn all_is_every_capability_up_to_cap_last_cap() {
    assert_eq!(retained(Request { add: u64::MAX, ..req() }), ALL_40);
    assert_eq!(retained(Request { add: u64::MAX, last_cap: 37, host: u64::MAX, ..req() }), 0x3f_ffff_ffff);
    assert_eq!(all_mask(63), u64::MAX);
}

#[test]
fn private_network_adds_net_admin() {
    assert_eq!(retained(Request { private_network: true, ..req() }), NSPAWN_DEFAULT | NET_ADMIN);
    assert_eq!(retained(Request { private_network: true, drop: NET_ADMIN, ..req() }), NSPAWN_DEFAULT);
}

#[test]
fn userns_without_private_network_drops_net_bind_service() {
    assert_eq!(retained(Request { userns: true, ..req() }), NSPAWN_DEFAULT & !(1 << 10));
    assert_eq!(retained(Request { userns: true, private_network: true, ..req() }), NSPAWN_DEFAULT | NET_ADMIN);
}

#[test]
fn capabilities_the_host_lacks_are_dropped_and_reported() {
    let host = ALL_40 & !(1 << 24);
    let p = plan(&Request { host, ambient: 1 << 24, ..req() }).unwrap();
    assert_eq!(p, Plan { retained: NSPAWN_DEFAULT & !(1 << 24), ambient: 0, missing: 1 << 24, mknod_dropped: false });
    assert_eq!(names(p.missing), "cap_sys_resource");
}

#[test]
fn ambient_must_be_retained() {
    let p = plan(&Request { ambient: 1 << 13, ..req() }).unwrap();
    assert_eq!((p.retained, p.ambient), (NSPAWN_DEFAULT, 1 << 13));
    let e = plan(&Request { ambient: (1 << 25) | (1 << 13), ..req() }).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--ambient-capability= is not fully covered by the retained capabilities (cap_sys_time not retained)"
    );
    let e = plan(&Request { ambient: MKNOD, device_policy: false, ..req() }).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--ambient-capability= is not fully covered by the retained capabilities (cap_mknod not retained)"
    );
}

#[test]
fn process_sets_for_root_and_others() {
    let p = Plan { retained: NSPAWN_DEFAULT, ambient: 1 << 13, missing: 0, mknod_dropped: false };
    let root = process_sets(&p, true);
    assert_eq!(
        (root.effective.bits(), root.permitted.bits(), root.inheritable.bits()),
        (NSPAWN_DEFAULT, NSPAWN_DEFAULT, NSPAWN_DEFAULT)
    );
    let user = process_sets(&p, false);
    assert_eq!((user.effective.bits(), user.permitted.bits(), user.inheritable.bits()), (0, 1 << 13, 1 << 13));
}

#[test]
fn names_of_capabilities() {
    assert_eq!(name(21), "cap_sys_admin");
    assert_eq!(name(45), "cap_45");
    assert_eq!(names((1 << 0) | (1 << 40)), "cap_chown,cap_checkpoint_restore");
}

#[test]
fn oci_quintet_masks_each_set_and_reports_what_it_leaves_out() {
    let c = crate::runtime_spec::Capabilities {
        bounding: vec![0, 1, 24, 40, 63],
        effective: vec![0, 24],
        inheritable: vec![1],
        permitted: vec![0, 24],
        ambient: vec![],
        unknown: vec!["CAP_FROB".into()],
    };
    let allowed = ALL_40 & !(1 << 24);
    let (q, outside) = Quintet::of(&c, allowed);
    assert_eq!(q, Quintet { bounding: 0b11 | 1 << 40, effective: 1, inheritable: 0b10, permitted: 1, ambient: 0 });
    assert_eq!(outside, 1 << 24 | 1 << 63);
    assert_eq!(names(outside), "cap_sys_resource,cap_63");
    assert_eq!(q.plan(), Plan { retained: 0b11 | 1 << 40, ambient: 0, missing: 0, mknod_dropped: false });
    assert_eq!(Quintet::of(&crate::runtime_spec::Capabilities::default(), allowed), (Quintet::default(), 0));
}
