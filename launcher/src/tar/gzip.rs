//! gzip (RFC 1952) around miniz_oxide's raw deflate: members one after the other, header
//! fields skipped, CRC-32 and length checked. Written here rather than taken from flate2,
//! whose CRC (crc32fast) alone is a 16 KiB table: this one is 4 KiB (slice-by-4).

use miniz_oxide::deflate::core::{create_comp_flags_from_zip_params, CompressorOxide};
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};
use std::io::{self, BufRead, Read, Write};

/// CRC-32 (IEEE, reflected), four tables for four bytes a step.
const CRC_TABLE: [[u32; 256]; 4] = {
    let mut t = [[0u32; 256]; 4];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut j = 1;
        while j < 4 {
            t[j][i] = (t[j - 1][i] >> 8) ^ t[0][(t[j - 1][i] & 0xff) as usize];
            j += 1;
        }
        i += 1;
    }
    t
};

/// Continues `crc` (0 to start) over `data`.
pub fn crc32(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    let mut chunks = data.chunks_exact(4);
    for w in &mut chunks {
        c ^= u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        c = CRC_TABLE[3][(c & 0xff) as usize]
            ^ CRC_TABLE[2][((c >> 8) & 0xff) as usize]
            ^ CRC_TABLE[1][((c >> 16) & 0xff) as usize]
            ^ CRC_TABLE[0][(c >> 24) as usize];
    }
    for &b in chunks.remainder() {
        c = CRC_TABLE[0][((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("gzip: {what}"))
}

/// Decompresses gzip members from `src` until its end.
pub struct Decoder<R> {
    src: R,
    state: Box<InflateState>,
    /// Inside a member's deflate data.
    active: bool,
    /// A member was seen (the first must be one; after it, other bytes end the stream).
    started: bool,
    crc: u32,
    len: u32,
}

impl<R: BufRead> Decoder<R> {
    /// A decoder at the start of `src`.
    pub fn new(src: R) -> Self {
        Decoder { src, state: InflateState::new_boxed(DataFormat::Raw), active: false, started: false, crc: 0, len: 0 }
    }

    fn byte(&mut self) -> io::Result<u8> {
        let mut b = [0u8; 1];
        self.src.read_exact(&mut b).map_err(|_| bad("truncated header"))?;
        Ok(b[0])
    }

    fn skip_zstring(&mut self) -> io::Result<()> {
        while self.byte()? != 0 {}
        Ok(())
    }

    /// Reads the next member's header; false at the end of the stream (or before trailing
    /// bytes that are not a member: gzip(1) ignores them too).
    fn start_member(&mut self, first: bool) -> io::Result<bool> {
        let head = self.src.fill_buf()?;
        if head.is_empty() && !first {
            return Ok(false);
        }
        if head.first() != Some(&0x1f) && !first {
            return Ok(false);
        }
        let mut h = [0u8; 10];
        self.src.read_exact(&mut h).map_err(|_| bad("truncated header"))?;
        if h[..2] != [0x1f, 0x8b] {
            return if first { Err(bad("not gzip data")) } else { Ok(false) };
        }
        if h[2] != 8 {
            return Err(bad("unknown compression method"));
        }
        let flags = h[3];
        if flags & 0xe0 != 0 {
            return Err(bad("reserved header flags set"));
        }
        if flags & 0x04 != 0 {
            let n = u16::from_le_bytes([self.byte()?, self.byte()?]);
            for _ in 0..n {
                self.byte()?;
            }
        }
        if flags & 0x08 != 0 {
            self.skip_zstring()?;
        }
        if flags & 0x10 != 0 {
            self.skip_zstring()?;
        }
        if flags & 0x02 != 0 {
            self.byte()?;
            self.byte()?;
        }
        self.state.reset(DataFormat::Raw);
        self.active = true;
        self.crc = 0;
        self.len = 0;
        Ok(true)
    }

    fn end_member(&mut self) -> io::Result<()> {
        let mut t = [0u8; 8];
        self.src.read_exact(&mut t).map_err(|_| bad("truncated trailer"))?;
        if u32::from_le_bytes([t[0], t[1], t[2], t[3]]) != self.crc {
            return Err(bad("CRC mismatch"));
        }
        if u32::from_le_bytes([t[4], t[5], t[6], t[7]]) != self.len {
            return Err(bad("length mismatch"));
        }
        self.active = false;
        Ok(())
    }
}

impl<R: BufRead> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.active {
                if !self.start_member(!self.started)? {
                    return Ok(0);
                }
                self.started = true;
            }
            let input = self.src.fill_buf()?;
            let eof = input.is_empty();
            let r = miniz_oxide::inflate::stream::inflate(&mut self.state, input, buf, MZFlush::None);
            self.src.consume(r.bytes_consumed);
            let out = &buf[..r.bytes_written];
            self.crc = crc32(self.crc, out);
            self.len = self.len.wrapping_add(out.len() as u32);
            match r.status {
                Ok(MZStatus::StreamEnd) => {
                    self.end_member()?;
                    if r.bytes_written > 0 {
                        return Ok(r.bytes_written);
                    }
                }
                Ok(_) | Err(MZError::Buf) if r.bytes_written > 0 => return Ok(r.bytes_written),
                Ok(_) | Err(MZError::Buf) if eof => return Err(bad("truncated data")),
                // inflate keeps what it was given; input left unconsumed would come back the same.
                Ok(_) | Err(MZError::Buf) if r.bytes_consumed == 0 => return Err(bad("corrupt data")),
                Ok(_) | Err(MZError::Buf) => {}
                Err(_) => return Err(bad("corrupt data")),
            }
        }
    }
}

/// Compresses into gzip (one member, no name, mtime 0: the same input gives the same bytes).
pub struct Encoder<W: Write> {
    dst: W,
    comp: Box<CompressorOxide>,
    out: Vec<u8>,
    crc: u32,
    len: u32,
}

impl<W: Write> Encoder<W> {
    /// An encoder at deflate `level` (0-9) writing into `dst`.
    pub fn new(mut dst: W, level: u8) -> io::Result<Self> {
        // Magic, deflate, no flags, mtime 0, extra flags 0, OS 3 (Unix).
        dst.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3])?;
        let flags = create_comp_flags_from_zip_params(i32::from(level), -15, 0);
        Ok(Encoder { dst, comp: Box::new(CompressorOxide::new(flags)), out: vec![0u8; 64 << 10], crc: 0, len: 0 })
    }

    fn run(&mut self, mut input: &[u8], flush: MZFlush) -> io::Result<()> {
        loop {
            let r = miniz_oxide::deflate::stream::deflate(&mut self.comp, input, &mut self.out, flush);
            self.dst.write_all(&self.out[..r.bytes_written])?;
            input = &input[r.bytes_consumed..];
            match r.status {
                Ok(MZStatus::StreamEnd) => return Ok(()),
                Ok(_) if input.is_empty() && flush == MZFlush::None => return Ok(()),
                Ok(_) | Err(MZError::Buf) if r.bytes_written > 0 || !input.is_empty() => {}
                Ok(_) if flush == MZFlush::None => return Ok(()),
                _ => return Err(bad("compression failed")),
            }
        }
    }

    /// Writes the last block and the trailer; the destination back.
    pub fn finish(mut self) -> io::Result<W> {
        self.run(&[], MZFlush::Finish)?;
        self.dst.write_all(&self.crc.to_le_bytes())?;
        self.dst.write_all(&self.len.to_le_bytes())?;
        Ok(self.dst)
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.run(buf, MZFlush::None)?;
        self.crc = crc32(self.crc, buf);
        self.len = self.len.wrapping_add(buf.len() as u32);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.dst.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_values() {
        assert_eq!(crc32(0, b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(crc32(0, b"12345"), b"6789"), 0xcbf4_3926);
        assert_eq!(crc32(0, b""), 0);
    }

    /// `printf 'hello\n' | gzip -9n` then `printf 'world\n' | gzip -n` (with a name field
    /// added by hand: FNAME "x").
    #[test]
    fn members_and_header_fields() {
        let a = [
            0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xe7, 2, 0, 0x20, 0x30, 0x3a, 0x36, 6, 0,
            0, 0,
        ];
        let mut data = a.to_vec();
        let mut named = a.to_vec();
        named[3] = 0x08;
        named.splice(10..10, [b'x', 0]);
        data.extend_from_slice(&named);
        let mut out = Vec::new();
        Decoder::new(&data[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"hello\nhello\n");
        let mut bad_crc = a.to_vec();
        bad_crc[18] ^= 1;
        let e = Decoder::new(&bad_crc[..]).read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(e.to_string(), "gzip: CRC mismatch");
        let e = Decoder::new(&a[..20]).read_to_end(&mut Vec::new()).unwrap_err();
        assert!(e.to_string().starts_with("gzip: truncated"), "{e}");
    }
}
