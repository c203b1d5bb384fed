//! Builders for fake kernel replies used by the unit tests.

/// One netlink message with `payload`.
pub fn msg(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let len = 16 + payload.len();
    let mut m = Vec::with_capacity(len + 3);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&4242u32.to_ne_bytes());
    m.extend_from_slice(payload);
    while m.len() % 4 != 0 {
        m.push(0);
    }
    m
}

/// `NLMSG_ERROR` with error `-errno` (0 for an ACK), echoing a 16-byte request header.
pub fn err(seq: u32, errno: i32) -> Vec<u8> {
    let mut p = (-errno).to_ne_bytes().to_vec();
    p.extend_from_slice(&[0; 16]);
    msg(2, if errno == 0 { 0x100 } else { 0 }, seq, &p)
}

/// An acknowledgement.
pub fn ack(seq: u32) -> Vec<u8> {
    err(seq, 0)
}

/// `NLMSG_DONE` ending a dump.
pub fn done(seq: u32) -> Vec<u8> {
    msg(3, 2, seq, &0i32.to_ne_bytes())
}
