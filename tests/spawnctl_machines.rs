//! Root integration tests of spawnctl's machine verbs on the registry: `start` (as
//! systemd-nspawn@.service, in the background), `list`, `status`, `show`, `poweroff`, `reboot`,
//! `kill`, `terminate`, stale entries, and many machines at once — on the busybox guest and
//! the stock Debian guests (systemd, sysvinit+OpenRC).
//!
//! Each test runs one script with `unshare -m -n`: a private mount namespace with a tmpfs on
//! /run (images in /run/machines, the registry in /run/spawnbox) and /var/log (the machines'
//! logs), and a network namespace of its own for `--network-veth`. Machine names carry the
//! test process's pid: cgroups are host-wide.

use spawnbox_tests::{guest, unshared_script, Test};

/// Runs `script` in private mount and network namespaces with `$SPAWNCTL`, `$BUSYBOX`,
/// `$SYSTEMD`, `$OPENRC` (guest trees) and the helpers below; its stdout.
fn in_private_run(t: &Test, script: &str) -> String {
    let setup = "set -u
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=0755 tmpfs /var/log
mkdir -p /run/machines
ip link set lo up
# `run ARGS`: the command line, spawnctl's output, its status.
run() { echo \"\\$ $*\"; \"$SPAWNCTL\" \"$@\" 2>&1; echo \"rc=$?\"; }
# `until_gone NAME...`: waits (at most 60 s) until none of the machines is listed.
until_gone() { n=0; while [ $n -lt 600 ]; do left=0; for m in \"$@\"; do \"$SPAWNCTL\" list --no-legend | grep -q \"^$m \" && left=1; done; [ $left = 0 ] && return 0; n=$((n+1)); sleep 0.1; done; echo \"still running: $*\"; }
";
    let (ctl, busybox, systemd, openrc) = (t.spawnctl(), guest("busybox"), guest("systemd"), guest("openrc"));
    let env = [
        ("SPAWNCTL", ctl.as_os_str()),
        ("BUSYBOX", busybox.as_os_str()),
        ("SYSTEMD", systemd.as_os_str()),
        ("OPENRC", openrc.as_os_str()),
    ];
    unshared_script(true, &format!("{setup}{script}"), &env)
}

/// A machine name unique on the host.
fn name(tag: &str) -> String {
    format!("{tag}-{}", std::process::id())
}

#[test]
fn start_list_show_and_poweroff_a_busybox_guest() {
    let t = Test::new("ctl-bb");
    let m = name("sm-bb");
    let script = format!(
        "cp -a \"$BUSYBOX\" /run/machines/{m}
run start {m}
run list --no-legend
run show {m} -p Name,Class,Service,RootDirectory,NetworkInterfaces,Addresses,Init,State
run start {m}
L=$(\"$SPAWNCTL\" show {m} -p Leader --value)
run status {m} | grep -E \"Root|Iface|Address|OS:|Init|Unit|scope $L init\\$\" | sed \"s/scope $L init/scope PID init/\"
run poweroff --wait {m}
run list
cat /run/machines/{m}/var/lib/spawnbox-marker
grep -c 'Requesting system poweroff' /var/log/spawnbox/{m}.log
ls -A /run/spawnbox/machines
run status {m}
run poweroff {m}
"
    );
    let want = format!(
        "$ start {m}
rc=0
$ list --no-legend
{m} container spawnbox spawnbox-test 1 10.0.0.2/28
rc=0
$ show {m} -p Name,Class,Service,RootDirectory,NetworkInterfaces,Addresses,Init,State
Name={m}
Service=spawnbox
Class=container
RootDirectory=/run/machines/{m}
NetworkInterfaces=ve-{m}
Addresses=10.0.0.2/28
Init=busybox init
State=running
rc=0
$ start {m}
spawnctl: machine \"{m}\" is already running
rc=1
            Root: /run/machines/{m}
           Iface: ve-{m}
         Address: 10.0.0.2/28
              OS: busybox test rootfs
            Init: busybox init
            Unit: /sys/fs/cgroup/unified/machine.slice/machine-{esc}.scope
                  /init.scope PID init
$ poweroff --wait {m}
rc=0
$ list
No machines found.
rc=0
shutdown-ran
1
$ status {m}
spawnctl: machine \"{m}\" is not running
rc=1
$ poweroff {m}
spawnctl: machine \"{m}\" is not running
rc=1
",
        esc = m.replace('-', "\\x2d"),
    );
    assert_eq!(in_private_run(&t, &script), want);
}

#[test]
fn debian_guests_start_together_list_their_addresses_and_power_off_through_their_inits() {
    // The stock Debian trees: systemd (up when it says READY=1) and sysvinit+OpenRC (its
    // stop scripts write the marker), next to the busybox guest.
    let t = Test::new("ctl-debian");
    let (sd, rc, bb) = (name("sm-sd"), name("sm-rc"), name("sm-bb2"));
    let script = format!(
        "cp -a \"$SYSTEMD\" /run/machines/{sd}; cp -a \"$OPENRC\" /run/machines/{rc}; cp -a \"$BUSYBOX\" /run/machines/{bb}
run start {sd} {rc} {bb}
run list
\"$SPAWNCTL\" show {sd} -p Init,State --value
# sysvinit is up when its PID 1 runs; OpenRC then starts the marker service.
n=0; until grep -q started /run/machines/{rc}/var/lib/spawnbox-marker 2>/dev/null || [ $n -gt 600 ]; do n=$((n+1)); sleep 0.1; done
cat /run/machines/{rc}/var/lib/spawnbox-marker
# A reboot through each init brings each back with a new leader (systemd: ready again).
sd1=$(\"$SPAWNCTL\" show {sd} -p Leader --value); rc1=$(\"$SPAWNCTL\" show {rc} -p Leader --value)
run reboot {sd} {rc}
n=0; while [ $n -lt 1200 ]; do
  s=$(\"$SPAWNCTL\" show {sd} -p Leader,State --value 2>/dev/null | tr '\\n' ' '); r=$(\"$SPAWNCTL\" show {rc} -p Leader --value 2>/dev/null)
  [ -n \"$r\" ] && [ \"$r\" != \"$rc1\" ] && [ \"${{s%% *}}\" != \"$sd1\" ] && [ \"${{s#* }}\" = \"running \" ] && break
  n=$((n+1)); sleep 0.1
done
echo \"rebooted: $([ \"$r\" != \"$rc1\" ] && echo {rc}) $([ \"${{s%% *}}\" != \"$sd1\" ] && echo {sd})\"
n=0; until grep -q started /run/machines/{rc}/var/lib/spawnbox-marker 2>/dev/null || [ $n -gt 600 ]; do n=$((n+1)); sleep 0.1; done
run poweroff {sd} {rc} {bb}
until_gone {sd} {rc} {bb}
cat /run/machines/{rc}/var/lib/spawnbox-marker /run/machines/{bb}/var/lib/spawnbox-marker
grep -c 'Reached target.*System Power Off' /var/log/spawnbox/{sd}.log
ls -A /run/spawnbox/machines
"
    );
    // The three start in the order given: the subnets follow it.
    let mut rows = [(&sd, "10.0.0.2/28"), (&rc, "10.0.0.18/28"), (&bb, "10.0.0.34/28")];
    rows.sort_by(|a, b| a.0.cmp(b.0));
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max("MACHINE".len());
    let mut table = format!("{:<width$} CLASS     SERVICE  OS            VERSION ADDRESSES\n", "MACHINE");
    for (m, addr) in rows {
        let (os, version) = if m == &bb { ("spawnbox-test", "1      ") } else { ("debian       ", "12     ") };
        table.push_str(&format!("{m:<width$} container spawnbox {os} {version} {addr}\n"));
    }
    let want = format!(
        "$ start {sd} {rc} {bb}
rc=0
$ list
{table}
3 machines listed.
rc=0
systemd
running
started
$ reboot {sd} {rc}
rc=0
rebooted: {rc} {sd}
$ poweroff {sd} {rc} {bb}
rc=0
stopped
shutdown-ran
1
"
    );
    assert_eq!(in_private_run(&t, &script), want);
}

#[test]
fn reboot_starts_the_guest_again_and_kill_and_terminate_reach_it() {
    let t = Test::new("ctl-reboot");
    let m = name("sm-rb");
    let script = format!(
        "cp -a \"$BUSYBOX\" /run/machines/{m}
run start {m}
first=$(\"$SPAWNCTL\" show {m} -p Leader --value)
run reboot --wait {m}
n=0; while [ $n -lt 300 ]; do l=$(\"$SPAWNCTL\" show {m} -p Leader --value 2>/dev/null); [ -n \"$l\" ] && [ \"$l\" != \"$first\" ] && break; n=$((n+1)); sleep 0.1; done
[ \"$l\" != \"$first\" ] && echo rebooted: new leader
# The new init catches SIGUSR1 once it has set up (before that the kernel drops it).
n=0; until [ $(( 0x$(awk '/^SigCgt/ {{print $2}}' /proc/$l/status) & 0x200 )) -ne 0 ] || [ $n -gt 300 ]; do n=$((n+1)); sleep 0.05; done
grep -c 'Requesting system reboot' /var/log/spawnbox/{m}.log
run kill {m} --kill-whom=sideways
run kill {m} --signal=NOPE
# SIGUSR1 to the leader alone: busybox init halts.
run kill {m} --kill-whom=leader --signal=SIGUSR1
until_gone {m}
grep -c 'Requesting system halt' /var/log/spawnbox/{m}.log
run start {m}
run terminate --wait {m}
run list --no-legend
ls -A /run/spawnbox/machines
"
    );
    let want = format!(
        "$ start {m}
rc=0
$ reboot --wait {m}
rc=0
rebooted: new leader
1
$ kill {m} --kill-whom=sideways
spawnctl: --kill-whom=sideways: must be leader or all
rc=1
$ kill {m} --signal=NOPE
spawnctl: --signal=NOPE: invalid signal name
rc=1
$ kill {m} --kill-whom=leader --signal=SIGUSR1
rc=0
1
$ start {m}
rc=0
$ terminate --wait {m}
rc=0
$ list --no-legend
rc=0
"
    );
    assert_eq!(in_private_run(&t, &script), want);
}

#[test]
fn a_killed_launchers_entry_is_stale_and_cleaned_by_list() {
    let t = Test::new("ctl-stale");
    let m = name("sm-st");
    let script = format!(
        "cp -a \"$BUSYBOX\" /run/machines/{m}
run start {m}
launcher=$(\"$SPAWNCTL\" show {m} -p Launcher --value); leader=$(\"$SPAWNCTL\" show {m} -p Leader --value)
kill -KILL $launcher
n=0; while [ -e /proc/$leader ] && [ $n -lt 100 ]; do n=$((n+1)); sleep 0.05; done
ls /run/spawnbox/machines/{m}
run status {m}
run list
ls -A /run/spawnbox/machines
run start {m}
run list --no-legend
run poweroff {m}
until_gone {m}
"
    );
    let want = format!(
        "$ start {m}
rc=0
lock
machine
seccomp
$ status {m}
spawnctl: machine \"{m}\" is not running
rc=1
$ list
No machines found.
rc=0
$ start {m}
rc=0
$ list --no-legend
{m} container spawnbox spawnbox-test 1 10.0.0.2/28
rc=0
$ poweroff {m}
rc=0
"
    );
    assert_eq!(in_private_run(&t, &script), want);
}

#[test]
fn twenty_machines_start_list_and_power_off_together() {
    let t = Test::new("ctl-twenty");
    let names: Vec<String> = (0..20).map(|i| name(&format!("sm{i:02}"))).collect();
    let all = names.join(" ");
    let script = format!(
        "for m in {all}; do cp -a \"$BUSYBOX\" /run/machines/$m; done
run start {all}
\"$SPAWNCTL\" list --no-legend | awk '{{print $1, $6}}'
\"$SPAWNCTL\" list | tail -1
# Each one is reachable by shell.
for m in {all}; do \"$SPAWNCTL\" shell $m /bin/hostname; done | sort | tr '\\n' ' '; echo
run poweroff {all}
until_gone {all}
run list
ls -A /run/spawnbox/machines
"
    );
    let mut listing: Vec<(String, String)> = names
        .iter()
        .enumerate()
        .map(|(i, m)| (m.clone(), format!("10.0.{}.{}/28", (16 * i + 2) / 256, (16 * i + 2) % 256)))
        .collect();
    listing.sort();
    let listing: String = listing.iter().map(|(m, a)| format!("{m} {a}\n")).collect();
    let mut sorted = names.clone();
    sorted.sort();
    let hostnames: String = sorted.iter().map(|m| format!("{m} ")).collect();
    let want = format!(
        "$ start {all}
rc=0
{listing}20 machines listed.
{hostnames}
$ poweroff {all}
rc=0
$ list
No machines found.
rc=0
"
    );
    assert_eq!(in_private_run(&t, &script), want);
}
