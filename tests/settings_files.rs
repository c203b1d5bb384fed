//! Root integration tests of `.nspawn` settings files and `-M` image lookup: which file is
//! used, what an untrusted file may set, `--settings=`, errors, and `-M NAME` without `-D`.
//!
//! Files in `/run/spawnbox`, `/run/systemd/nspawn` and images in `/run/machines` are placed
//! in a private mount namespace with a tmpfs on `/run`, so the host never sees them.

use spawnbox_tests::net::{leases, runtime_dir, Netns};
use spawnbox_tests::{Cmd, Output, Test};
use std::fs;
use std::path::PathBuf;

/// A file with an unprivileged key (environment, hostname) and a privileged one (a bind).
fn file_text(shared: &std::path::Path) -> String {
    format!(
        "[Exec]\nEnvironment=FROM_FILE=yes\nHostname=fromfile\n\n[Files]\nBindReadOnly={}:/mnt/shared\n",
        shared.display()
    )
}

/// What the container reports: the variable, the hostname, and whether the bind is there.
const SHOW: &str = "echo ${FROM_FILE:-unset} $(hostname) $([ -e /mnt/shared/hello ] && echo bound || echo unbound)";

/// A test with a host directory `shared/hello` for the file's bind.
fn setup(tag: &str) -> (Test, PathBuf) {
    let t = Test::new(tag);
    let shared = t.host_dir("shared");
    fs::write(shared.join("hello"), "hi\n").unwrap();
    (t, shared)
}

fn machine(t: &Test) -> String {
    t.root.file_name().unwrap().to_string_lossy().into_owned()
}

/// The file next to the tree (`DIR/NAME.nspawn`).
fn beside(t: &Test) -> PathBuf {
    t.dir.join(format!("{}.nspawn", machine(t)))
}

/// `spawnbox` in a private mount namespace whose `/run` is a fresh tmpfs holding `files`
/// (path below /run, contents) and `links` (path below /run, target).
fn in_private_run(c: &mut Cmd, files: &[(&str, &str)], links: &[(&str, &std::path::Path)]) {
    let mut setup = String::from("mount -t tmpfs -o mode=0755 tmpfs /run\n");
    for (path, text) in files {
        let p = format!("/run/{path}");
        setup.push_str(&format!("mkdir -p \"$(dirname '{p}')\"\ncat > '{p}' <<'EOF'\n{text}EOF\n"));
    }
    for (path, target) in links {
        let p = format!("/run/{path}");
        setup.push_str(&format!("mkdir -p \"$(dirname '{p}')\"\nln -s '{}' '{p}'\n", target.display()));
    }
    c.in_private_mount_ns(&setup);
}

fn warn(msg: String) -> String {
    format!("WARN  [spawnbox] {msg}\n")
}

fn untrusted_bind_warning(file: &std::path::Path) -> String {
    warn(format!(
        "Ignoring Bind=, BindReadOnly=, TemporaryFileSystem=, Inaccessible=, Overlay= and OverlayReadOnly= settings, file {} is not trusted.",
        file.display()
    ))
}

#[test]
fn a_file_next_to_the_tree_is_used_without_its_privileged_keys() {
    let (t, shared) = setup("nspawn-beside");
    fs::write(beside(&t), file_text(&shared)).unwrap();
    let out = t.sh(&[], SHOW);
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "yes fromfile unbound\n"), "{out:?}");
    assert_eq!(out.stderr, untrusted_bind_warning(&beside(&t)));
    // --settings=trusted trusts it; the command line still beats it.
    let out = t.sh(&["--settings=trusted", "--hostname=cli"], SHOW);
    assert_eq!(out.ok(), "yes cli bound\n");
    // --settings=override: the file beats the command line.
    let out = t.sh(&["--settings=override", "--hostname=cli", "-E", "FROM_FILE=cli"], SHOW);
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "yes fromfile unbound\n"), "{out:?}");
    // --settings=no: no file.
    assert_eq!(t.sh(&["--settings=no"], SHOW).ok(), format!("unset {} unbound\n", machine(&t)));
}

#[test]
fn spawnbox_and_admin_directories_are_trusted_and_searched_first() {
    let (t, shared) = setup("nspawn-trusted");
    let name = machine(&t);
    // Next to the tree: a file that would set another hostname. The admin's file wins.
    fs::write(beside(&t), "[Exec]\nHostname=beside\n").unwrap();
    let text = file_text(&shared);
    let admin = format!("systemd/nspawn/{name}.nspawn");
    let mut c = t.cmd(&["/bin/sh", "-c", SHOW]);
    in_private_run(&mut c, &[(&admin, &text)], &[]);
    assert_eq!(c.run().ok(), "yes fromfile bound\n");
    // /run/spawnbox comes before /run/systemd/nspawn.
    let own = format!("spawnbox/{name}.nspawn");
    let mut c = t.cmd(&["/bin/sh", "-c", SHOW]);
    in_private_run(&mut c, &[(&admin, &text), (&own, "[Exec]\nHostname=own\n")], &[]);
    assert_eq!(c.run().ok(), "unset own unbound\n");
}

#[test]
fn extension_keys_only_from_spawnbox_directories() {
    let (t, _) = setup("nspawn-ext");
    let name = machine(&t);
    let run = runtime_dir(&t);
    let host = Netns::new();
    let text = "[Network]\nVirtualEthernet=yes\nAddress=172.30.0.0/16\n";
    let address = |dir: &str| {
        let mut c = t.cmd(&["/bin/sh", "-c", "ip -o -4 addr show dev host0 | awk '{print $4}'"]);
        c.env("SPAWNBOX_RUNTIME_DIR", &run);
        in_private_run(&mut c, &[(&format!("{dir}/{name}.nspawn"), text)], &[]);
        host.enter(|| c.run())
    };
    // From /run/spawnbox: the address pool of the file.
    assert_eq!(address("spawnbox").ok(), "172.30.0.2/28\n");
    // From nspawn's directory: the veth, but the default pool, and a warning.
    let out = address("systemd/nspawn");
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "10.0.0.2/28\n"), "{out:?}");
    assert_eq!(
        out.stderr,
        warn(format!(
            "Ignoring NAT= and Address= settings in file /run/systemd/nspawn/{name}.nspawn: spawnbox reads its own keys only from files in /etc/spawnbox and /run/spawnbox."
        ))
    );
    assert_eq!(leases(&run), Vec::<String>::new());
}

#[test]
fn bad_files_stop_before_anything_is_set_up() {
    let (t, _) = setup("nspawn-bad");
    let f = beside(&t);
    fs::write(&f, "# web\n[Exec]\nBoot=maybe\n").unwrap();
    let out: Output = t.run(&["/bin/true"]);
    out.error(&format!("{}:3: [Exec] Boot=: invalid boolean", f.display()));
    assert!(!PathBuf::from("/run/spawnbox/machines").join(machine(&t)).exists());
    // Unknown sections and keys are warnings; the container runs.
    fs::write(&f, "[Exec]\nBootable=yes\n[Netwrok]\nVirtualEthernet=yes\n").unwrap();
    let out = t.run(&["/bin/true"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let p = f.display();
    assert_eq!(
        out.stderr,
        format!(
            "{}{}",
            warn(format!("{p}:2: [Exec] Bootable=: unknown key, ignoring")),
            warn(format!("{p}:3: [Netwrok]: unknown section, ignoring"))
        )
    );
    // A FIFO is not read (it would block).
    fs::remove_file(&f).unwrap();
    rustix::fs::mknodat(rustix::fs::CWD, &f, rustix::fs::FileType::Fifo, rustix::fs::Mode::from_raw_mode(0o644), 0)
        .unwrap();
    t.run(&["/bin/true"]).error(&format!("{p}: not a regular file"));
}

#[test]
fn dash_m_finds_the_image_and_its_file() {
    let (t, shared) = setup("nspawn-image");
    let name = machine(&t);
    let image = format!("machines/{name}");
    let file = format!("machines/{name}.nspawn");
    let text = file_text(&shared);
    // -M without -D: the symlink in /run/machines; the file next to it is untrusted.
    let mut c = Cmd::new();
    c.args(&["-M", &name, "--console=pipe", &format!("--uuid={}", t.uuid), "/bin/sh", "-c"])
        .arg(format!("{SHOW}; cat /etc/marker; touch /written && echo writable"));
    t.write("/etc/marker", "the image\n");
    in_private_run(&mut c, &[(&file, &text)], &[(&image, &t.root)]);
    let out = c.run();
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "yes fromfile unbound\nthe image\nwritable\n"), "{out:?}");
    assert_eq!(out.stderr, untrusted_bind_warning(std::path::Path::new(&format!("/run/{file}"))));
    assert!(t.rpath("/written").exists());
}

#[test]
fn dash_m_errors() {
    let (t, _) = setup("nspawn-image-errors");
    let name = machine(&t);
    let mut c = Cmd::new();
    c.args(&["-M", &name, "--console=pipe", "/bin/true"]);
    in_private_run(&mut c, &[(&format!("machines/{name}.raw"), "not really a disk\n")], &[]);
    c.run().error(&format!("--machine={name}: /run/machines/{name}.raw: raw images are not supported yet"));
    let missing = format!("{name}-missing");
    let mut c = Cmd::new();
    c.args(&["-M", &missing, "--console=pipe", "/bin/true"]);
    in_private_run(&mut c, &[], &[]);
    let out = c.run();
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(
        out.stderr,
        format!(
            "spawnbox: --machine={missing}: no image named {missing} in /etc/machines, /run/machines, /var/lib/machines, \
             /var/lib/container, /usr/local/lib/machines, /usr/lib/machines\nhint: -D DIR runs a directory kept elsewhere\n"
        )
    );
    // --cleanup needs only the name: no image is looked up (nspawn's cleanup runs before).
    let mut c = Cmd::new();
    c.args(&["--cleanup", "-M", &missing]);
    in_private_run(&mut c, &[], &[]);
    let out = c.run();
    assert_eq!((out.code, out.stderr.as_str()), (Some(0), ""), "{out:?}");
}

/// Clears the immutable flag again, also when the test fails.
struct Immutable(PathBuf);

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

#[test]
fn dash_m_runs_an_image_marked_read_only_read_only() {
    let (t, _) = setup("nspawn-image-ro");
    let name = machine(&t);
    let st = std::process::Command::new("chattr").arg("+i").arg(&t.root).status().unwrap();
    assert!(st.success(), "chattr +i {}", t.root.display());
    let _flag = Immutable(t.root.clone());
    let mut c = Cmd::new();
    c.args(&[
        "-M",
        &name,
        "--console=pipe",
        "/bin/sh",
        "-c",
        "touch /x 2>&1; awk '$5==\"/\" {split($6,o,\",\"); print o[1]}' /proc/self/mountinfo",
    ]);
    in_private_run(&mut c, &[], &[(&format!("machines/{name}"), &t.root)]);
    assert_eq!(c.run().code(0), "touch: /x: Read-only file system\nro\n");
}

#[test]
fn ephemeral_runs_find_the_file_by_the_name_without_the_suffix() {
    // nspawn's testcase_ephemeral_config: `-x` uses NAME.nspawn, `-x -M other` does not.
    let (t, _) = setup("nspawn-x");
    fs::write(beside(&t), "[Exec]\nEnvironment=FROM_FILE=yes\n").unwrap();
    let out = t.sh(&["-x"], "echo ${FROM_FILE:-unset} $(hostname)");
    let (var, host) = out.ok().trim_end().split_once(' ').unwrap();
    assert_eq!(var, "yes");
    let suffix = host.strip_prefix(&format!("{}-", machine(&t))).unwrap_or_else(|| panic!("{host}"));
    assert!(suffix.len() == 16 && suffix.bytes().all(|b| b.is_ascii_hexdigit()), "{host}");
    assert_eq!(t.sh(&["-x", "-M", "other"], "echo ${FROM_FILE:-unset} $(hostname)").ok(), "unset other\n");
}
