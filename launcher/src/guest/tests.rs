//! The init table: recognition by file name and by content, and the requests per init.

use super::*;

#[test]
fn recognised_by_file_name() {
    assert_eq!(classify("systemd", b""), InitKind::Systemd);
    assert_eq!(classify("busybox", b""), InitKind::Busybox);
    assert_eq!(classify("openrc-init", b""), InitKind::OpenrcInit);
    assert_eq!(classify("runit-init", b""), InitKind::Runit);
    assert_eq!(classify("runit-init", b"\x7fELF../sbin/runit\0/run/runit.stopit\0"), InitKind::RunitDebian);
    assert_eq!(classify("tini", b""), InitKind::Forwarder);
    assert_eq!(classify("catatonit", b""), InitKind::Forwarder);
    assert_eq!(classify("spawnbox-init", b""), InitKind::SpawnboxInit);
}

#[test]
fn recognised_by_content() {
    assert_eq!(classify("init", b"\x7fELF...INIT: version %s booting\0/run/initctl\0"), InitKind::Sysvinit);
    assert_eq!(classify("init", b"\x7fELF...BusyBox v1.35.0 (Debian 1:1.35.0-4+b3)"), InitKind::Busybox);
    assert_eq!(
        classify("init", b"#!/bin/execlineb -S0\n/bin/s6-linux-init -c /etc/s6-linux-init/current\n"),
        InitKind::S6LinuxInit
    );
    assert_eq!(classify("init", b"#!/bin/sh\nexec /bin/sleep infinity\n"), InitKind::Unknown);
    assert_eq!(classify("init", b""), InitKind::Unknown);
}

#[test]
fn each_init_is_asked_its_own_way() {
    let rt = crate::cli::SIGRTMIN;
    assert_eq!(asks(InitKind::Systemd, Shutdown::Halt), &[Ask::Signal(rt + 3)]);
    assert_eq!(asks(InitKind::Systemd, Shutdown::Poweroff), &[Ask::Signal(rt + 4)]);
    assert_eq!(asks(InitKind::Systemd, Shutdown::Reboot), &[Ask::Signal(rt + 5)]);
    assert_eq!(asks(InitKind::Busybox, Shutdown::Poweroff), &[Ask::Signal(libc::SIGUSR2)]);
    assert_eq!(asks(InitKind::Busybox, Shutdown::Halt), &[Ask::Signal(libc::SIGUSR1)]);
    assert_eq!(asks(InitKind::Busybox, Shutdown::Reboot), &[Ask::Signal(libc::SIGTERM)]);
    assert_eq!(asks(InitKind::Sysvinit, Shutdown::Poweroff), &[Ask::Runlevel(b'0'), Ask::Signal(rt + 4)]);
    assert_eq!(asks(InitKind::Sysvinit, Shutdown::Reboot), &[Ask::Runlevel(b'6'), Ask::Signal(libc::SIGINT)]);
    assert_eq!(asks(InitKind::OpenrcInit, Shutdown::Halt), &[Ask::Signal(libc::SIGTERM)]);
    assert_eq!(asks(InitKind::OpenrcInit, Shutdown::Reboot), &[Ask::Signal(libc::SIGINT)]);
    assert_eq!(asks(InitKind::S6LinuxInit, Shutdown::Poweroff), &[Ask::Signal(libc::SIGUSR1)]);
    assert_eq!(
        asks(InitKind::Runit, Shutdown::Reboot),
        &[Ask::Runit { reboot: true, stopit: "/etc/runit/stopit", reboot_file: "/etc/runit/reboot" }]
    );
    assert_eq!(
        asks(InitKind::RunitDebian, Shutdown::Poweroff),
        &[Ask::Runit { reboot: false, stopit: "/run/runit.stopit", reboot_file: "/run/runit.reboot" }]
    );
    assert_eq!(asks(InitKind::Forwarder, Shutdown::Reboot), &[Ask::Unsupported]);
    assert_eq!(asks(InitKind::Unknown, Shutdown::Halt), &[Ask::Signal(rt + 3)]);
}

#[test]
fn every_kind_has_one_row() {
    for k in [
        InitKind::Systemd,
        InitKind::Sysvinit,
        InitKind::OpenrcInit,
        InitKind::Busybox,
        InitKind::Runit,
        InitKind::RunitDebian,
        InitKind::S6LinuxInit,
        InitKind::SpawnboxInit,
        InitKind::Forwarder,
        InitKind::Unknown,
    ] {
        assert_eq!(TABLE.iter().filter(|r| r.kind == k).count(), 1, "{k:?}");
        assert_eq!(row(k).kind, k);
    }
}

#[test]
fn a_signal_is_heard_when_caught_or_blocked() {
    // busybox init after start-up: USR1, USR2, TERM, INT ... caught.
    let status = "Name:\tinit\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000004a03\n";
    assert!(hears(status, libc::SIGUSR1) && hears(status, libc::SIGTERM) && hears(status, libc::SIGINT));
    // busybox 1.35 waiting in sigtimedwait: its set shows unblocked, only SIGTSTP caught.
    assert!(hears("SigBlk:\t0000000000000000\nSigCgt:\t0000000000080000\n", libc::SIGUSR1));
    // systemd blocks what it reads from its signalfd (RTMIN+3 = 37 is bit 36).
    let status = "SigBlk:\t0000001000000000\nSigCgt:\t0000000000000000\n";
    assert!(hears(status, crate::cli::SIGRTMIN + 3));
    // A process that has not set anything up yet hears nothing from outside.
    assert!(!hears("SigBlk:\t0000000000000000\nSigCgt:\t0000000000000000\n", libc::SIGTERM));
    assert!(!hears("", libc::SIGTERM));
}
