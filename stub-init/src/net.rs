//! Bring up the loopback interface with the classic SIOCGIFFLAGS/SIOCSIFFLAGS ioctls.
#![allow(unsafe_code)]

use rustix::io::Errno;
use rustix::ioctl::{ioctl, Opcode, Setter, Updater};
use rustix::net::{AddressFamily, SocketType};

/// `struct ifreq` with the `ifr_flags` member of its union (40 bytes on 64-bit, 32 on
/// 32-bit targets; the padding covers the largest member, a `struct ifmap`).
#[repr(C)]
#[derive(Clone, Copy)]
struct IfReq {
    name: [u8; 16],
    flags: i16,
    pad: [u8; 22],
}

const IFF_UP: i16 = 1;
const SIOCGIFFLAGS: Opcode = linux_raw_sys::ioctl::SIOCGIFFLAGS as Opcode;
const SIOCSIFFLAGS: Opcode = linux_raw_sys::ioctl::SIOCSIFFLAGS as Opcode;

/// Set `lo` up ([netdevice(7)]).
///
/// [netdevice(7)]: https://man7.org/linux/man-pages/man7/netdevice.7.html
pub fn loopback_up() -> Result<(), Errno> {
    let sock = rustix::net::socket(AddressFamily::INET, SocketType::DGRAM, None)?;
    let mut req = IfReq { name: [0; 16], flags: 0, pad: [0; 22] };
    if let Some(n) = req.name.get_mut(..2) {
        n.copy_from_slice(b"lo");
    }
    // SAFETY: SIOCGIFFLAGS reads into a struct ifreq, which IfReq is laid out as.
    unsafe { ioctl(&sock, Updater::<SIOCGIFFLAGS, IfReq>::new(&mut req)) }?;
    if req.flags & IFF_UP != 0 {
        return Ok(());
    }
    req.flags |= IFF_UP;
    // SAFETY: SIOCSIFFLAGS takes a pointer to a struct ifreq.
    unsafe { ioctl(&sock, Setter::<SIOCSIFFLAGS, IfReq>::new(req)) }
}
