//! Compression around the tar stream: detected by magic on import (gzip, xz, zstd, plain),
//! chosen by the output file's suffix on export. Pure Rust codecs (docs/DEPENDENCIES.md has
//! the sizes and speeds): miniz_oxide with our own gzip framing (`gzip.rs`), lzma-rust2, ruzstd.

use crate::error::{Error, Result};
use std::io::{self, BufRead, Read, Write};
use std::path::Path;

/// A compression format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    None,
    Gzip,
    Xz,
    Zstd,
}

/// Magic numbers of formats that are recognised but not read.
const UNSUPPORTED: &[(&[u8], &str)] =
    &[(b"BZh", "bzip2"), (&[0x1f, 0x9d], "compress (.Z)"), (&[0x04, 0x22, 0x4d, 0x18], "lz4")];

impl Codec {
    /// The format whose magic `head` starts with; plain tar otherwise (the tar reader then
    /// judges the header). Formats known but not supported are an error naming them.
    pub fn detect(head: &[u8]) -> Result<Codec> {
        if head.starts_with(&[0x1f, 0x8b]) {
            return Ok(Codec::Gzip);
        }
        if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            return Ok(Codec::Xz);
        }
        if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) || head.len() >= 4 && is_skippable(&head[..4]) {
            return Ok(Codec::Zstd);
        }
        match UNSUPPORTED.iter().find(|(m, _)| head.starts_with(m)) {
            Some((_, name)) => Err(Error::msg(format!("{name} compression: not supported (gzip, xz and zstd are)"))),
            None => Ok(Codec::None),
        }
    }

    /// The format an export file name asks for: `.tar`, `.tar.gz`/`.tgz`, `.tar.xz`/`.txz`,
    /// `.tar.zst`/`.tzst`.
    pub fn from_suffix(path: &Path) -> Result<Codec> {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        const TABLE: &[(&str, Codec)] = &[
            (".tar", Codec::None),
            (".tar.gz", Codec::Gzip),
            (".tgz", Codec::Gzip),
            (".tar.xz", Codec::Xz),
            (".txz", Codec::Xz),
            (".tar.zst", Codec::Zstd),
            (".tzst", Codec::Zstd),
        ];
        if let Some((_, c)) = TABLE.iter().find(|(s, _)| name.len() > s.len() && name.ends_with(s)) {
            return Ok(*c);
        }
        let hint = if name.ends_with(".tar.bz2") || name.ends_with(".tbz2") {
            "bzip2: not supported"
        } else {
            "unknown suffix"
        };
        Err(Error::msg(format!(
            "{}: {hint} (use .tar, .tar.gz, .tgz, .tar.xz, .txz, .tar.zst or .tzst)",
            path.display()
        )))
    }

    /// The format's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Codec::None => "uncompressed",
            Codec::Gzip => "gzip",
            Codec::Xz => "xz",
            Codec::Zstd => "zstd",
        }
    }
}

fn is_skippable(magic: &[u8]) -> bool {
    magic.len() == 4 && magic[1..] == [0x2a, 0x4d, 0x18] && magic[0] & 0xf0 == 0x50
}

/// The decompressed stream of `src` in format `codec`. `src` is boxed so that each decoder is
/// compiled once, not once for every caller's reader type (lzma-rust2's and ruzstd's readers
/// are about 10 KiB each).
pub fn decoder<'a>(codec: Codec, src: Box<dyn BufRead + 'a>) -> Box<dyn Read + 'a> {
    match codec {
        Codec::None => Box::new(src),
        Codec::Gzip => Box::new(super::gzip::Decoder::new(src)),
        Codec::Xz => Box::new(lzma_rust2::XzReader::new(src, true)),
        Codec::Zstd => Box::new(ZstdReader { src, frame: ruzstd::decoding::FrameDecoder::new(), active: false }),
    }
}

/// zstd frames one after the other (zstd(1), pzstd and our own writer make several), skippable
/// frames skipped, each frame's content checksum checked.
struct ZstdReader<R> {
    src: R,
    frame: ruzstd::decoding::FrameDecoder,
    active: bool,
}

fn zstd_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}"))
}

impl<R: BufRead> ZstdReader<R> {
    /// Starts the next frame; false at the end of the stream.
    fn start_frame(&mut self) -> io::Result<bool> {
        loop {
            let mut magic = [0u8; 4];
            let mut n = 0;
            while n < 4 {
                match self.src.read(&mut magic[n..])? {
                    0 if n == 0 => return Ok(false),
                    0 => return Err(zstd_error("truncated frame")),
                    k => n += k,
                }
            }
            if is_skippable(&magic) {
                let mut len = [0u8; 4];
                self.src.read_exact(&mut len)?;
                let len = u64::from(u32::from_le_bytes(len));
                if io::copy(&mut (&mut self.src).take(len), &mut io::sink())? != len {
                    return Err(zstd_error("truncated skippable frame"));
                }
                continue;
            }
            self.frame.init((&magic[..]).chain(&mut self.src)).map_err(zstd_error)?;
            self.active = true;
            return Ok(true);
        }
    }
}

impl<R: BufRead> Read for ZstdReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.active && !self.start_frame()? {
                return Ok(0);
            }
            while self.frame.can_collect() == 0 && !self.frame.is_finished() {
                self.frame
                    .decode_blocks(&mut self.src, ruzstd::decoding::BlockDecodingStrategy::UptoBlocks(1))
                    .map_err(zstd_error)?;
            }
            let n = self.frame.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // The frame is done and drained: check its checksum, then go on with the next.
            if let (Some(stored), Some(computed)) =
                (self.frame.get_checksum_from_data(), self.frame.get_calculated_checksum())
            {
                if stored != computed {
                    return Err(zstd_error("content checksum mismatch"));
                }
            }
            self.active = false;
        }
    }
}

/// The compressing writer of an export. zstd is read but not written: ruzstd's encoder costs
/// 36 KiB and reaches 51 % of the input where zstd -1 reaches 39 %, 7 times slower
/// (docs/DEPENDENCIES.md); a `.tar` piped through zstd(1) does better.
pub enum Encoder<W: Write> {
    Plain(W),
    Gzip(super::gzip::Encoder<W>),
    Xz(Box<lzma_rust2::XzWriter<W>>),
}

/// gzip level (gzip's default), xz preset (xz's default).
const GZIP_LEVEL: u8 = 6;
const XZ_PRESET: u32 = 6;

impl<W: Write> Encoder<W> {
    /// Compresses what is written into `dst` in format `codec`.
    pub fn new(codec: Codec, dst: W) -> Result<Self> {
        Ok(match codec {
            Codec::None => Encoder::Plain(dst),
            Codec::Gzip => Encoder::Gzip(super::gzip::Encoder::new(dst, GZIP_LEVEL).map_err(|e| Error::msg(format!("gzip: {e}")))?),
            Codec::Xz => Encoder::Xz(Box::new(
                lzma_rust2::XzWriter::new(dst, lzma_rust2::XzOptions::with_preset(XZ_PRESET))
                    .map_err(|e| Error::msg(format!("xz: {e}")))?,
            )),
            Codec::Zstd => {
                return Err(Error::msg(
                    "zstd: not supported for export (it is read on import): write .tar and compress it with zstd(1), or use .tar.xz or .tar.gz",
                ))
            }
        })
    }

    /// Writes what is buffered and the format's trailer; the destination back.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Plain(w) => Ok(w),
            Encoder::Gzip(e) => e.finish(),
            Encoder::Xz(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Plain(w) => w.write(buf),
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Xz(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Plain(w) => w.flush(),
            Encoder::Gzip(e) => e.flush(),
            Encoder::Xz(e) => e.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_table() {
        let table: &[(&[u8], std::result::Result<Codec, &str>)] = &[
            (&[0x1f, 0x8b, 8, 0], Ok(Codec::Gzip)),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0, 0, 4], Ok(Codec::Xz)),
            (&[0x28, 0xb5, 0x2f, 0xfd, 0x24], Ok(Codec::Zstd)),
            (&[0x5e, 0x2a, 0x4d, 0x18, 0, 0, 0, 0], Ok(Codec::Zstd)),
            (b"hello\0\0\0", Ok(Codec::None)),
            (b"", Ok(Codec::None)),
            (b"BZh91AY&SY", Err("bzip2 compression: not supported (gzip, xz and zstd are)")),
            (&[0x04, 0x22, 0x4d, 0x18, 0x64], Err("lz4 compression: not supported (gzip, xz and zstd are)")),
        ];
        for (head, want) in table {
            let got = Codec::detect(head).map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(String::from), "{head:?}");
        }
    }

    #[test]
    fn suffix_table() {
        let table: &[(&str, std::result::Result<Codec, &str>)] = &[
            ("/x/a.tar", Ok(Codec::None)),
            ("a.tar.gz", Ok(Codec::Gzip)),
            ("a.tgz", Ok(Codec::Gzip)),
            ("a.tar.xz", Ok(Codec::Xz)),
            ("a.txz", Ok(Codec::Xz)),
            ("a.tar.zst", Ok(Codec::Zstd)),
            ("a.tzst", Ok(Codec::Zstd)),
            (".tar", Err(".tar: unknown suffix (use .tar, .tar.gz, .tgz, .tar.xz, .txz, .tar.zst or .tzst)")),
            (
                "a.tar.bz2",
                Err("a.tar.bz2: bzip2: not supported (use .tar, .tar.gz, .tgz, .tar.xz, .txz, .tar.zst or .tzst)"),
            ),
            ("a.zip", Err("a.zip: unknown suffix (use .tar, .tar.gz, .tgz, .tar.xz, .txz, .tar.zst or .tzst)")),
        ];
        for (name, want) in table {
            let got = Codec::from_suffix(Path::new(name)).map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(String::from), "{name}");
        }
    }

    fn round_trip(codec: Codec, data: &[u8]) -> Vec<u8> {
        let mut enc = Encoder::new(codec, Vec::new()).unwrap();
        for chunk in data.chunks(100_000) {
            enc.write_all(chunk).unwrap();
        }
        let packed = enc.finish().unwrap();
        assert_eq!(Codec::detect(&packed).unwrap(), codec);
        let mut out = Vec::new();
        decoder(codec, Box::new(&packed[..])).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn every_codec_round_trips() {
        // More than one zstd frame, text-like and random-like parts.
        let mut data: Vec<u8> = (0..300_000).map(|i| (i % 251) as u8 ^ (i / 4096) as u8).collect();
        let mut x = 0x1234_5678u32;
        for b in data.iter_mut().step_by(3) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        for codec in [Codec::None, Codec::Gzip, Codec::Xz] {
            assert!(round_trip(codec, &data) == data, "{codec:?}");
        }
        let e = Encoder::new(Codec::Zstd, Vec::new()).err().unwrap();
        assert_eq!(
            e.to_string(),
            "zstd: not supported for export (it is read on import): write .tar and compress it with zstd(1), or use .tar.xz or .tar.gz"
        );
    }

    #[test]
    fn zstd_skippable_frames_and_corruption() {
        // `printf payload | zstd -c` (zstd 1.5.4: content size and checksum).
        let frame = [
            0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x39, 0x00, 0x00, 0x70, 0x61, 0x79, 0x6c, 0x6f, 0x61, 0x64, 0x5c, 0x2c,
            0x22, 0x73,
        ];
        let mut packed = vec![0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3];
        packed.extend_from_slice(&frame);
        packed.extend_from_slice(&frame);
        let mut out = Vec::new();
        decoder(Codec::Zstd, Box::new(&packed[..])).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"payloadpayload");
        let cut = &frame[..frame.len() - 3];
        assert!(decoder(Codec::Zstd, Box::new(cut)).read_to_end(&mut Vec::new()).is_err());
        let mut bad = frame;
        bad[19] ^= 1;
        let e = decoder(Codec::Zstd, Box::new(&bad[..])).read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(e.to_string(), "zstd: content checksum mismatch");
    }
}
