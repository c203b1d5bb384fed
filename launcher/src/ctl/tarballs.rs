//! `import-tar FILE [NAME]` and `export-tar NAME [FILE]`, machinectl's tarball verbs on the
//! tarball engine (`tar/`): plain, gzip, xz and zstd archives in (by magic), plain, gzip and
//! xz out (by the file's suffix, or `--format=`); `-` is stdin or stdout. A progress line on a
//! terminal.

use super::args::Options;
use super::progress::Bar;
use crate::error::{Error, Result};
use crate::image::{self, DEFAULT_DIR};
use crate::tar::{self, Codec, ImportOptions};
use rustix::fd::AsFd;
use rustix::fs::{Mode, OFlags};
use std::io::Write;
use std::path::Path;

/// The suffixes an image name is stripped of (`web.tar.xz` is image `web`).
const SUFFIXES: [&str; 7] = [".tar.gz", ".tar.xz", ".tar.zst", ".tgz", ".txz", ".tzst", ".tar"];

/// The image name a tarball file name gives, if it is a valid one.
pub fn name_from_file(file: &str) -> Option<String> {
    let base = Path::new(file).file_name()?.to_str()?;
    let name = SUFFIXES.iter().find_map(|s| base.strip_suffix(s)).unwrap_or(base);
    image::name_is_valid(name).then(|| name.to_string())
}

/// `import-tar FILE [NAME] [--read-only] [--force]`.
pub fn import(o: &Options, args: &[String]) -> Result<()> {
    let file = &args[0];
    let name = match args.get(1) {
        Some(n) => n.clone(),
        None if file == "-" => return Err(Error::msg("import-tar -: give the image's NAME")),
        None => name_from_file(file)
            .ok_or_else(|| Error::msg(format!("import-tar {file}: cannot name an image after it: give NAME")))?,
    };
    if !image::name_is_valid(&name) || name.starts_with('.') {
        return Err(Error::msg(format!("invalid image name \"{name}\"")));
    }
    if let Some(old) = image::find(&name, &image::HostProbe) {
        if !o.force {
            return Err(Error::msg(format!("image \"{name}\" already exists")).hint("--force replaces it"));
        }
        image::remove(&old)?;
    }
    std::fs::create_dir_all(DEFAULT_DIR)
        .map_err(|e| Error::path("create", Path::new(DEFAULT_DIR), crate::error::io_errno(&e)))?;
    let parent = rustix::fs::open(DEFAULT_DIR, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::path("open", Path::new(DEFAULT_DIR), e))?;
    let mut bar = Bar::new(format!("Importing {file}"));
    let mut progress = |p: tar::Progress| bar.update(p.done, p.total);
    let opts = ImportOptions::default();
    let stats = if file == "-" {
        tar::import_reader(&mut std::io::stdin().lock(), None, parent.as_fd(), &name, &opts, &mut progress)?
    } else {
        let path = Path::new(file);
        let io = |op: &str, e: std::io::Error| Error::path(op, path, crate::error::io_errno(&e));
        let mut f = std::fs::File::open(path).map_err(|e| io("open", e))?;
        let total = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        tar::import_reader(&mut f, total, parent.as_fd(), &name, &opts, &mut progress).map_err(|e| e.context(file))?
    };
    bar.finish();
    log::debug!("import-tar {file}: {stats:?}");
    if o.read_only {
        image::set_read_only(&image::get(&name)?, true)?;
    }
    Ok(())
}

/// `export-tar NAME [FILE] [--format=uncompressed|gzip|xz] [--force]`; without FILE (or with
/// `-`), to stdout, uncompressed unless `--format=` says otherwise. A file is removed again when
/// the export fails.
pub fn export(o: &Options, args: &[String]) -> Result<()> {
    let i = image::get(&args[0])?;
    if i.kind == image::Kind::Raw {
        return Err(Error::msg(format!("export-tar {}: raw images are not supported yet", i.name)));
    }
    let format = match o.format.as_deref() {
        None => None,
        Some("uncompressed") => Some(Codec::None),
        Some("gzip") => Some(Codec::Gzip),
        Some("xz") => Some(Codec::Xz),
        Some("zstd") => Some(Codec::Zstd),
        Some(f) => return Err(Error::msg(format!("--format={f}: must be uncompressed, gzip, xz or zstd"))),
    };
    let file = args.get(1).map(String::as_str).unwrap_or("-");
    let path = Path::new(file);
    let codec = if file == "-" {
        if rustix::termios::isatty(rustix::stdio::stdout()) {
            return Err(Error::msg(format!("export-tar {}: stdout is a terminal: give FILE", i.name)));
        }
        format.unwrap_or(Codec::None)
    } else {
        let by_suffix = Codec::from_suffix(path)?;
        if let Some(f) = format.filter(|f| *f != by_suffix) {
            return Err(Error::msg(format!(
                "export-tar {file}: --format={} but the file name says {}",
                f.name(),
                by_suffix.name()
            )));
        }
        by_suffix
    };
    // Refused before a file is made (zstd).
    drop(tar::Encoder::new(codec, std::io::sink()).map_err(|e| e.context(file))?);
    // One writer type for a file and stdout: each type would get its own copy of the
    // compressors.
    let out: Box<dyn std::io::Write> = if file == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true);
        if o.force {
            opts.create(true).truncate(true);
        } else {
            opts.create_new(true);
        }
        let f = opts.open(path).map_err(|e| Error::path("create", path, crate::error::io_errno(&e)))?;
        Box::new(f)
    };
    let mut bar = Bar::new(format!("Exporting {}", i.name));
    let mut progress = |p: tar::Progress| bar.update(p.done, p.total);
    let result = tar::export_writer(&i.path, out, codec, &mut progress).and_then(|(stats, mut out)| {
        out.flush().map_err(|e| Error::sys("write", file, crate::error::io_errno(&e)))?;
        Ok(stats)
    });
    bar.finish();
    match result {
        Ok(stats) => {
            log::debug!("export-tar {} {file}: {stats:?}", i.name);
            Ok(())
        }
        Err(e) => {
            if file != "-" {
                let _ = std::fs::remove_file(path);
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_files() {
        for (file, want) in [
            ("/srv/web.tar", Some("web")),
            ("web.tar.gz", Some("web")),
            ("db-1.2.tgz", Some("db-1.2")),
            ("x.tar.xz", Some("x")),
            ("x.txz", Some("x")),
            ("x.tar.zst", Some("x")),
            ("rootfs", Some("rootfs")),
            (".tar", None),
            ("-", Some("-")),
        ] {
            assert_eq!(name_from_file(file).as_deref(), want, "{file}");
        }
    }
}
