//! The import, in call order: open the source, plan what to read from its JSON files (every
//! blob checked against its digest and size), apply the layers in order onto `.#NAME.XXXXXX`
//! next to the image (the tar engine's OCI layer mode: whiteouts, opaque directories, its
//! containment rules), add the mount points a container needs, write `NAME.nspawn`, rename
//! both into place. Any error, or SIGINT/SIGTERM/SIGHUP, removes what was made; the host is
//! as it was.

use super::config::{self, ImageConfig};
use super::digest::{self, Digest, Expect, Verified};
use super::layout::{self, Entry, JSON_MAX};
use super::nspawn::{self, Users};
use super::source::Source;
use super::{docker, name};
use crate::error::{Error, Result};
use crate::image::{self, HostProbe, Image};
use crate::sys::{self, SigSet};
use crate::tar;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags, RenameFlags};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// `--read-only`, `--force`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub read_only: bool,
    pub force: bool,
}

/// What an import made.
#[derive(Debug)]
pub struct Imported {
    pub image: Image,
    /// `NAME.nspawn` next to the image.
    pub settings: PathBuf,
    pub layers: usize,
    /// Whiteouts the layers applied.
    pub whiteouts: u64,
    /// What the user should know (a foreign architecture, what `NAME.nspawn` could not say).
    pub warnings: Vec<String>,
}

/// A layer to apply: its member in the source, what it must be, its name in messages.
struct Layer {
    member: String,
    expect: Expect,
    what: String,
}

/// Everything read from the source's JSON files before anything is written.
struct Plan {
    config: Vec<u8>,
    config_digest: Digest,
    layers: Vec<Layer>,
    /// The image's reference (`localhost/web:1`), for the default name.
    reference: Option<String>,
}

/// Nested indexes followed before giving up (skopeo's `--all` makes one level).
const INDEX_DEPTH: usize = 4;

/// A small blob named by descriptor `d`, checked.
fn blob(src: &Source, expect: &Expect, what: &str) -> Result<Vec<u8>> {
    if expect.size.is_some_and(|s| s > JSON_MAX) {
        return Err(Error::msg(format!("{what}: {} bytes, more than {JSON_MAX}", expect.size.unwrap_or(0))));
    }
    let bytes = src.read_small(&expect.digest.blob_path(), JSON_MAX)?;
    digest::check(&bytes, expect, what)?;
    Ok(bytes)
}

fn layers_of(members: Vec<(String, Expect)>) -> Vec<Layer> {
    let n = members.len();
    members
        .into_iter()
        .enumerate()
        .map(|(i, (member, expect))| Layer { what: format!("layer {}/{n} ({})", i + 1, expect.digest), member, expect })
        .collect()
}

/// An OCI image layout: `oci-layout`, `index.json`, the manifest for this architecture.
fn plan_oci(src: &Source) -> Result<Plan> {
    layout::check_layout_marker(&src.read_small("oci-layout", 4096)?)?;
    let mut entries = layout::parse_index(&src.read_small("index.json", JSON_MAX)?, "index.json")?;
    let mut what = "index.json".to_string();
    let mut reference = None;
    let arch = layout::native_architecture();
    for _ in 0..INDEX_DEPTH {
        match layout::pick(&entries, arch, &what)? {
            Entry::Index(d) => {
                reference = reference.or(d.ref_name.clone());
                what = format!("image index {}", d.digest);
                entries = layout::parse_index(&blob(src, &d.expect(), &what)?, &what)?;
            }
            Entry::Manifest(d) => {
                reference = reference.or(d.ref_name.clone());
                let what = format!("manifest {}", d.digest);
                let m = layout::parse_manifest(&blob(src, &d.expect(), &what)?, &what)?;
                let config = blob(src, &m.config.expect(), &format!("config {}", m.config.digest))?;
                let members = m.layers.iter().map(|l| (l.digest.blob_path(), l.expect())).collect();
                return Ok(Plan { config, config_digest: m.config.digest, layers: layers_of(members), reference });
            }
        }
    }
    Err(Error::msg(format!("{what}: image indexes nested more than {INDEX_DEPTH} deep")))
}

/// A `docker save` archive: `manifest.json`, the config named by its digest, the layers
/// checked against the config's `rootfs.diff_ids`.
fn plan_docker(src: &Source) -> Result<Plan> {
    let d = docker::parse_manifest_json(&src.read_small("manifest.json", JSON_MAX)?)?;
    let what = format!("config {}", d.config);
    let config = src.read_small(&d.config, JSON_MAX)?;
    digest::check(&config, &Expect { digest: d.config_digest.clone(), size: None }, &what)?;
    let ids = config::parse(&config, &what)?.diff_ids;
    if ids.len() != d.layers.len() {
        return Err(Error::msg(format!(
            "{what}: rootfs.diff_ids lists {} layers, manifest.json {}",
            ids.len(),
            d.layers.len()
        )));
    }
    let members = d.layers.into_iter().zip(ids).map(|(m, id)| (m, Expect { digest: id, size: None })).collect();
    Ok(Plan { config, config_digest: d.config_digest, layers: layers_of(members), reference: d.repo_tag })
}

fn plan(src: &Source) -> Result<Plan> {
    if src.has("index.json") {
        plan_oci(src)
    } else if src.has("manifest.json") {
        plan_docker(src)
    } else {
        Err(Error::msg("neither an OCI image layout (no index.json) nor a docker save archive (no manifest.json)"))
    }
}

/// The image name: given, or from the image's reference, or from the source's file name.
fn pick_name(given: Option<&str>, reference: Option<&str>, source: &Path) -> Result<String> {
    let name = match given {
        Some(n) => n.to_string(),
        None => reference.and_then(name::from_reference).or_else(|| name::from_path(source)).unwrap_or_default(),
    };
    if !image::name_is_valid(&name) {
        return Err(match given {
            Some(_) => Error::msg(format!("invalid image name \"{name}\"")),
            None => Error::msg(format!("{}: cannot name an image after it ({name:?}): give NAME", source.display())),
        });
    }
    Ok(name)
}

/// `SIGINT`, `SIGTERM` and `SIGHUP`, blocked while the import runs and read from a signalfd
/// between reads: an interruption removes what was made instead of leaving it.
struct Interrupts {
    fd: OwnedFd,
    old: SigSet,
    /// The signal that came, once one did.
    hit: std::cell::Cell<Option<i32>>,
}

impl Interrupts {
    fn block() -> Result<Interrupts> {
        let stop = SigSet::of(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP]);
        let old = sys::set_signal_mask(&stop).map_err(|e| Error::sys("block", "signals", e))?;
        match sys::signalfd(&stop) {
            Ok(fd) => Ok(Interrupts { fd, old, hit: std::cell::Cell::new(None) }),
            Err(e) => {
                let _ = sys::set_signal_mask(&old);
                Err(Error::sys("create", "signalfd", e))
            }
        }
    }

    fn check(&self) -> Result<()> {
        if let (None, Ok(Some(sig))) = (self.hit.get(), sys::read_signalfd(self.fd.as_fd())) {
            self.hit.set(Some(sig));
        }
        match self.hit.get() {
            Some(sig) => Err(Error::msg(format!("interrupted by SIG{}", crate::cli::short_signal_name(sig)))),
            None => Ok(()),
        }
    }
}

impl Drop for Interrupts {
    fn drop(&mut self) {
        let _ = sys::set_signal_mask(&self.old);
    }
}

/// A reader that looks at the signalfd every MiB.
struct Interruptible<'a, R> {
    inner: R,
    signals: &'a Interrupts,
    since: usize,
}

impl<R: Read> Read for Interruptible<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.since >= 1 << 20 {
            self.since = 0;
            if let Err(e) = self.signals.check() {
                return Err(std::io::Error::other(e.to_string()));
            }
        }
        let n = self.inner.read(buf)?;
        self.since += n;
        Ok(n)
    }
}

/// What an import made so far, removed on drop unless kept.
struct Made<'a> {
    parent: BorrowedFd<'a>,
    tree: Option<OsString>,
    settings: Option<OsString>,
}

impl Drop for Made<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.tree.take() {
            let _ = crate::copy::remove_tree(self.parent, &t);
        }
        if let Some(s) = self.settings.take() {
            let _ = rustix::fs::unlinkat(self.parent, s.as_os_str(), rustix::fs::AtFlags::empty());
        }
    }
}

/// The directories a container's root needs that an image built `FROM scratch` may lack
/// (nspawn mounts `/dev`, `/proc`, `/sys`, `/run`, `/tmp` on them, and wants `/usr`); made
/// here so that a read-only image runs too. Existing entries are left as they are.
const MOUNT_POINTS: [(&str, u32); 6] =
    [("dev", 0o755), ("proc", 0o555), ("sys", 0o555), ("run", 0o755), ("tmp", 0o1777), ("usr", 0o755)];

fn add_mount_points(root: BorrowedFd<'_>) -> Result<()> {
    for (name, mode) in MOUNT_POINTS {
        match rustix::fs::mkdirat(root, name, Mode::from_raw_mode(0o700)) {
            Ok(()) => {
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                let fd =
                    rustix::fs::openat(root, name, flags, Mode::empty()).map_err(|e| Error::sys("open", name, e))?;
                rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))
                    .map_err(|e| Error::sys("change mode of", name, e))?;
            }
            Err(Errno::EXIST) => {}
            Err(e) => return Err(Error::sys("create", format!("/{name} in the image"), e)),
        }
    }
    Ok(())
}

/// Applies `layer` onto `root`; the verification's error wins over the extractor's, which
/// only saw its reader fail.
fn apply(src: &Source, layer: &Layer, root: BorrowedFd<'_>, signals: &Interrupts) -> Result<tar::Stats> {
    signals.check()?;
    let (r, size) = src.member(&layer.member)?;
    let mut v = Verified::new(Interruptible { inner: r, signals, since: 0 }, layer.expect.clone(), layer.what.clone());
    let opts = tar::ImportOptions { oci_layer: true, ..Default::default() };
    let stats = tar::extract_into(&mut v, Some(size), root, &opts, &mut |_| {});
    if stats.is_err() {
        signals.check()?;
    }
    if let Some(e) = v.failure() {
        return Err(e);
    }
    let stats = stats.map_err(|e| e.context(&layer.what))?;
    v.finish()?;
    Ok(stats)
}

/// Imports the image at `source` as image `name` (or the name the image gives) in
/// [`image::DEFAULT_DIR`].
pub fn import(source: &Path, name: Option<&str>, o: Options) -> Result<Imported> {
    if let Some(n) = name.filter(|n| !image::name_is_valid(n)) {
        return Err(Error::msg(format!("invalid image name \"{n}\"")));
    }
    let dir = Path::new(image::DEFAULT_DIR);
    std::fs::create_dir_all(dir).map_err(|e| Error::path("create", dir, crate::error::io_errno(&e)))?;
    let parent = rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::path("open", dir, e))?;
    let signals = Interrupts::block()?;
    let src = Source::open(source, parent.as_fd(), &|| signals.check())?;
    let plan = plan(&src).map_err(|e| e.context(source.display()))?;
    let cfg = config::parse(&plan.config, "config").map_err(|e| e.context(source.display()))?;
    let name = pick_name(name, plan.reference.as_deref(), source)?;
    let settings_name = format!("{name}.nspawn");
    let old = image::find(&name, &HostProbe);
    let old_settings =
        rustix::fs::statat(&parent, settings_name.as_str(), rustix::fs::AtFlags::SYMLINK_NOFOLLOW).is_ok();
    if !o.force && (old.is_some() || old_settings) {
        let what =
            if old.is_some() { format!("image \"{name}\"") } else { dir.join(&settings_name).display().to_string() };
        return Err(Error::msg(format!("{what} already exists")).hint("--force replaces it"));
    }

    let mut warnings = Vec::new();
    let arch = layout::native_architecture();
    if let Some(a) = cfg.architecture.as_deref().filter(|a| *a != arch) {
        warnings.push(format!("the image is for {a}, this machine is {arch}: its programs may not run"));
    }
    let mut made = Made { parent: parent.as_fd(), tree: None, settings: None };
    let temp = crate::template::random_temp_name(OsStr::new(&name))?;
    rustix::fs::mkdirat(&parent, temp.as_os_str(), Mode::from_raw_mode(0o700))
        .map_err(|e| Error::path("create", &dir.join(&temp), e))?;
    made.tree = Some(temp.clone());
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let root = rustix::fs::openat(&parent, temp.as_os_str(), flags, Mode::empty())
        .map_err(|e| Error::path("open", &dir.join(&temp), e))?;

    let mut whiteouts = 0;
    let mut root_entry = false;
    for layer in &plan.layers {
        let stats = apply(&src, layer, root.as_fd(), &signals).map_err(|e| e.context(source.display()))?;
        whiteouts += stats.whiteouts;
        root_entry |= stats.root_entry;
    }
    signals.check()?;
    if !root_entry {
        rustix::fs::fchmod(&root, Mode::from_raw_mode(0o755))
            .map_err(|e| Error::path("change mode of", &dir.join(&temp), e))?;
    }
    let (text, more) = finish_tree(root.as_fd(), &cfg, source, &plan.config_digest)?;
    warnings.extend(more);

    let temp_settings = crate::template::random_temp_name(OsStr::new(&settings_name))?;
    write_new(parent.as_fd(), &temp_settings, text.as_bytes())
        .map_err(|e| e.context(dir.join(&temp_settings).display()))?;
    made.settings = Some(temp_settings.clone());

    signals.check()?;
    if let Some(old) = &old {
        image::remove(old)?;
    }
    rustix::fs::renameat_with(&parent, temp.as_os_str(), &parent, name.as_str(), RenameFlags::NOREPLACE)
        .map_err(|e| Error::sys("rename", format!("{} to {name}", dir.join(&temp).display()), e))?;
    made.tree = None;
    if let Err(e) = rustix::fs::renameat(&parent, temp_settings.as_os_str(), &parent, settings_name.as_str()) {
        made.tree = Some(OsString::from(&name));
        return Err(Error::sys("rename", format!("{} to {settings_name}", dir.join(&temp_settings).display()), e));
    }
    made.settings = None;
    let image = image::find(&name, &HostProbe)
        .filter(|i| i.path.starts_with(dir))
        .ok_or_else(|| Error::msg(format!("{}: made, but not found as image \"{name}\"", dir.join(&name).display())))?;
    if o.read_only {
        image::set_read_only(&image, true)?;
    }
    Ok(Imported { image, settings: dir.join(settings_name), layers: plan.layers.len(), whiteouts, warnings })
}

/// The last touches to the tree, and the `.nspawn` text for it.
fn finish_tree(
    root: BorrowedFd<'_>,
    cfg: &ImageConfig,
    source: &Path,
    digest: &Digest,
) -> Result<(String, Vec<String>)> {
    add_mount_points(root)?;
    // The working directory exists when the payload starts (docker makes it, nspawn would fail).
    if let Some(w) = cfg.working_dir.as_deref().filter(|w| w.starts_with('/') && !w.contains(['\n', '\r', '\0'])) {
        if let Ok(p) = crate::cli::values::parse_chdir(w) {
            crate::rootfs::mount_point(root, &p, crate::rootfs::NodeKind::Directory, crate::rootfs::Follow::InRoot)
                .map_err(|e| e.context(format!("config.WorkingDir {w}")))?;
        }
    }
    let read = |p: &str| -> Result<String> {
        let bytes = crate::rootfs::read_small_file(root, Path::new(p), 1 << 20)?;
        Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default())
    };
    let (passwd, group) = (read("/etc/passwd")?, read("/etc/group")?);
    let origin = format!("{} ({digest})", source.display());
    let r = nspawn::render(cfg, Users { passwd: &passwd, group: &group }, &origin)?;
    Ok((r.text, r.warnings))
}

/// Writes a new file `name` (mode 0644) in `dir`.
fn write_new(dir: BorrowedFd<'_>, name: &OsStr, bytes: &[u8]) -> Result<()> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(0o644))
        .map_err(|e| Error::sys("create", "the file", e))?;
    let mut f = std::fs::File::from(fd);
    f.write_all(bytes).map_err(|e| Error::msg(format!("write: {e}")))?;
    Ok(())
}
