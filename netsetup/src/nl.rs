//! The netlink wire format: a bounds-checked message builder and attribute/message parsers.
//!
//! Layouts follow `linux/netlink.h`: a 16-byte `nlmsghdr` (len, type, flags, seq, pid, all in
//! host byte order), a family header, then attributes `{u16 len, u16 type, payload}` each
//! padded to 4 bytes. An attribute's `len` counts its header and payload but not its padding;
//! a nest's `len` covers its children including their padding (as iproute2 and libmnl do).

use crate::error::{Error, Result};

/// Size of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// `NLMSG_ERROR`: an error or, with error 0, an acknowledgement.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`: the end of a multi-part dump.
pub const NLMSG_DONE: u16 = 3;
/// `NLMSG_OVERRUN`: data lost.
pub const NLMSG_OVERRUN: u16 = 4;

/// `NLM_F_REQUEST`: the message is a request.
pub const NLM_F_REQUEST: u16 = 0x1;
/// `NLM_F_MULTI`: part of a multi-part reply.
pub const NLM_F_MULTI: u16 = 0x2;
/// `NLM_F_ACK`: ask for an acknowledgement.
pub const NLM_F_ACK: u16 = 0x4;
/// `NLM_F_ECHO`: echo this request back (nftables returns the new rule with its handle).
pub const NLM_F_ECHO: u16 = 0x8;
/// `NLM_F_DUMP_INTR`: the dump was interrupted by a change and may be inconsistent.
pub const NLM_F_DUMP_INTR: u16 = 0x10;
/// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`): dump all objects.
pub const NLM_F_DUMP: u16 = 0x300;
/// `NLM_F_EXCL`: fail if the object exists.
pub const NLM_F_EXCL: u16 = 0x200;
/// `NLM_F_CREATE`: create the object if it does not exist.
pub const NLM_F_CREATE: u16 = 0x400;
/// `NLM_F_APPEND`: add to the end of a list.
pub const NLM_F_APPEND: u16 = 0x800;

/// `NLA_F_NESTED`: set on nests where the kernel validates strictly (nftables, newer rtnl).
pub const NLA_F_NESTED: u16 = 0x8000;
/// The mask of the attribute type without its flag bits.
pub const NLA_TYPE_MASK: u16 = 0x3fff;

const ALIGN: usize = 4;

/// Rounds `n` up to the netlink alignment of 4 bytes.
pub fn align(n: usize) -> usize {
    (n + ALIGN - 1) & !(ALIGN - 1)
}

/// A netlink request under construction. Lengths are filled in by [`Msg::finish`]; sizes
/// that overflow the 16-bit attribute length are reported there instead of panicking.
#[derive(Debug, Clone)]
pub struct Msg {
    buf: Vec<u8>,
    overflow: bool,
}

/// An open nest, closed with [`Msg::end_nest`].
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct Nest(usize);

impl Msg {
    /// Starts a message of type `ty` with `flags` (`NLM_F_REQUEST` is always added).
    pub fn new(ty: u16, flags: u16) -> Msg {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&ty.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        buf.extend_from_slice(&[0; 8]); // seq and pid, set when sent
        Msg { buf, overflow: false }
    }

    /// Appends the family header (`ifinfomsg`, `rtmsg`, `nfgenmsg`, ...), padded to 4 bytes.
    pub fn header(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.pad();
    }

    /// Appends attribute `ty` with raw `data`.
    pub fn put(&mut self, ty: u16, data: &[u8]) {
        let len = 4 + data.len();
        if len > usize::from(u16::MAX) {
            self.overflow = true;
            return;
        }
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.pad();
    }

    /// Appends a `u8` attribute.
    pub fn put_u8(&mut self, ty: u16, v: u8) {
        self.put(ty, &[v]);
    }

    /// Appends a `u16` attribute in host byte order.
    pub fn put_u16(&mut self, ty: u16, v: u16) {
        self.put(ty, &v.to_ne_bytes());
    }

    /// Appends a `u32` attribute in host byte order.
    pub fn put_u32(&mut self, ty: u16, v: u32) {
        self.put(ty, &v.to_ne_bytes());
    }

    /// Appends a `u32` attribute in network byte order (nftables).
    pub fn put_be32(&mut self, ty: u16, v: u32) {
        self.put(ty, &v.to_be_bytes());
    }

    /// Appends a `u64` attribute in network byte order (nftables handles).
    pub fn put_be64(&mut self, ty: u16, v: u64) {
        self.put(ty, &v.to_be_bytes());
    }

    /// Appends a NUL-terminated string attribute.
    pub fn put_str(&mut self, ty: u16, s: &str) {
        let len = 4 + s.len() + 1;
        if len > usize::from(u16::MAX) {
            self.overflow = true;
            return;
        }
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        self.pad();
    }

    /// Opens a nest of type `ty` (add [`NLA_F_NESTED`] where the kernel wants it).
    pub fn nest(&mut self, ty: u16) -> Nest {
        let at = self.buf.len();
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        Nest(at)
    }

    /// Closes a nest: its length covers everything appended since [`Msg::nest`].
    pub fn end_nest(&mut self, nest: Nest) {
        let len = self.buf.len() - nest.0;
        match u16::try_from(len) {
            Ok(l) => self.buf[nest.0..nest.0 + 2].copy_from_slice(&l.to_ne_bytes()),
            Err(_) => self.overflow = true,
        }
    }

    /// Fills in `nlmsg_len` and returns the bytes (sequence number 0 until sent).
    pub fn finish(mut self) -> Result<Vec<u8>> {
        let len = u32::try_from(self.buf.len()).map_err(|_| too_long())?;
        if self.overflow {
            return Err(too_long());
        }
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        Ok(self.buf)
    }

    fn pad(&mut self) {
        let n = align(self.buf.len()) - self.buf.len();
        self.buf.extend_from_slice(&[0; ALIGN][..n]);
    }
}

fn too_long() -> Error {
    Error::sys("build netlink message", 90) // EMSGSIZE
}

/// Writes `seq` into the header of the message starting at `msg[0]`.
pub fn set_seq(msg: &mut [u8], seq: u32) {
    if msg.len() >= NLMSG_HDRLEN {
        msg[8..12].copy_from_slice(&seq.to_ne_bytes());
    }
}

/// A parsed `nlmsghdr` and its payload.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    /// `nlmsg_type`.
    pub ty: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// Everything after the 16-byte header, up to `nlmsg_len`.
    pub payload: &'a [u8],
}

/// Iterates over the netlink messages in one datagram; stops at the first malformed header.
pub fn messages(buf: &[u8]) -> Messages<'_> {
    Messages { buf }
}

/// Iterator returned by [`messages`].
pub struct Messages<'a> {
    buf: &'a [u8],
}

impl<'a> Iterator for Messages<'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        if self.buf.len() < NLMSG_HDRLEN {
            return None;
        }
        let len = read_u32(self.buf, 0)? as usize;
        if len < NLMSG_HDRLEN || len > self.buf.len() {
            self.buf = &[];
            return None;
        }
        let h = Header {
            ty: read_u16(self.buf, 4)?,
            flags: read_u16(self.buf, 6)?,
            seq: read_u32(self.buf, 8)?,
            payload: &self.buf[NLMSG_HDRLEN..len],
        };
        self.buf = self.buf.get(align(len)..).unwrap_or(&[]);
        Some(h)
    }
}

/// Iterates over the attributes in `buf` as `(type without flag bits, payload)`; stops at
/// the first malformed attribute.
pub fn attrs(buf: &[u8]) -> Attrs<'_> {
    Attrs { buf }
}

/// Iterator returned by [`attrs`].
pub struct Attrs<'a> {
    buf: &'a [u8],
}

impl<'a> Iterator for Attrs<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<(u16, &'a [u8])> {
        let len = usize::from(read_u16(self.buf, 0)?);
        let ty = read_u16(self.buf, 2)?;
        if len < 4 || len > self.buf.len() {
            self.buf = &[];
            return None;
        }
        let payload = &self.buf[4..len];
        self.buf = self.buf.get(align(len)..).unwrap_or(&[]);
        Some((ty & NLA_TYPE_MASK, payload))
    }
}

/// Reads a host-order `u16` at `off`, if in bounds.
pub fn read_u16(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off + 2)?;
    Some(u16::from_ne_bytes([s[0], s[1]]))
}

/// Reads a host-order `u32` at `off`, if in bounds.
pub fn read_u32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off + 4)?;
    Some(u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

/// Reads a host-order `i32` at `off`, if in bounds.
pub fn read_i32(b: &[u8], off: usize) -> Option<i32> {
    read_u32(b, off).map(|v| v as i32)
}

/// The string in a NUL-terminated attribute payload, if it is UTF-8.
pub fn attr_str(payload: &[u8]) -> Option<&str> {
    let end = payload.iter().position(|&c| c == 0).unwrap_or(payload.len());
    std::str::from_utf8(&payload[..end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_attrs_are_padded_and_lengths_exclude_padding() {
        let mut m = Msg::new(16, NLM_F_ACK);
        m.header(&[0; 16]);
        m.put_str(3, "ve-foo");
        m.put_u8(9, 7);
        let b = m.finish().unwrap();
        #[rustfmt::skip]
        let want: [u8; 52] = [
            52, 0, 0, 0, 16, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            11, 0, 3, 0, b'v', b'e', b'-', b'f', b'o', b'o', 0, 0,
            5, 0, 9, 0, 7, 0, 0, 0,
        ];
        assert_eq!(b, want);
    }

    #[test]
    fn nests_cover_children_with_padding() {
        let mut m = Msg::new(1, 0);
        let outer = m.nest(18);
        m.put_str(1, "veth");
        let inner = m.nest(2 | NLA_F_NESTED);
        m.put_u16(1, 0);
        m.end_nest(inner);
        m.end_nest(outer);
        let b = m.finish().unwrap();
        assert_eq!(&b[16..20], &[28, 0, 18, 0]);
        assert_eq!(&b[20..32], &[9, 0, 1, 0, b'v', b'e', b't', b'h', 0, 0, 0, 0]);
        assert_eq!(&b[32..44], &[12, 0, 2, 0x80, 6, 0, 1, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn oversized_attribute_is_an_error_not_a_panic() {
        let mut m = Msg::new(1, 0);
        m.put(1, &vec![0; 70_000]);
        let e = m.finish().unwrap_err();
        assert_eq!(e.to_string(), "build netlink message: message too long");
        let mut m = Msg::new(1, 0);
        let n = m.nest(1);
        for _ in 0..3 {
            m.put(2, &[0; 30_000]);
        }
        m.end_nest(n);
        assert!(m.finish().is_err());
    }

    #[test]
    fn parsers_stop_at_malformed_input() {
        // Second attribute claims 200 bytes: iteration ends without panicking.
        let buf = [8, 0, 1, 0, 1, 2, 3, 4, 200, 0, 2, 0, 0, 0];
        let got: Vec<_> = attrs(&buf).collect();
        assert_eq!(got, vec![(1, &[1u8, 2, 3, 4][..])]);
        assert_eq!(attrs(&[3, 0, 1, 0]).count(), 0);
        // A message whose length is shorter than a header.
        assert_eq!(messages(&[4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).count(), 0);
    }

    #[test]
    fn messages_walks_a_datagram() {
        let mut a = Msg::new(3, 0).finish().unwrap();
        set_seq(&mut a, 7);
        let mut b = Msg::new(2, 0);
        b.header(&[1, 2, 3]);
        let b = b.finish().unwrap();
        a.extend_from_slice(&b);
        let got: Vec<_> = messages(&a).map(|h| (h.ty, h.seq, h.payload.len())).collect();
        assert_eq!(got, vec![(3, 7, 0), (2, 0, 4)]);
        assert_eq!(attr_str(b"eth0\0\0"), Some("eth0"));
    }
}
