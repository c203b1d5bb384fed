//! Value parsers for the networking options: interface names and pairs, port forwards, and
//! spawnbox's `--network-address=`.

use crate::error::Error;
use crate::settings::{InterfacePair, NetworkAddress, PortForward};
use std::net::Ipv4Addr;

type Result<T> = std::result::Result<T, Error>;

/// systemd's `ifname_valid()`: 1..15 bytes of printable ASCII without `/`, `:`, `%` or
/// whitespace, not `.` or `..`, not all digits (those read as interface indices).
pub fn ifname_valid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s != "."
        && s != ".."
        && !s.bytes().all(|b| b.is_ascii_digit())
        && s.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b':' | b'%'))
}

/// `HOST[:CONT]`: two valid interface names.
pub fn parse_interface_pair(s: &str) -> Result<InterfacePair> {
    let (host, container) = match s.split_once(':') {
        Some((h, c)) => (h, Some(c)),
        None => (s, None),
    };
    if !ifname_valid(host) {
        return Err(Error::msg(format!("invalid network interface name: {host:?}")));
    }
    if let Some(c) = container {
        if !ifname_valid(c) {
            return Err(Error::msg(format!("invalid network interface name: {c:?}")));
        }
    }
    Ok(InterfacePair { host: host.to_string(), container: container.map(str::to_string) })
}

/// `--network-bridge=`: a valid interface name.
pub fn parse_bridge(s: &str) -> Result<String> {
    if !ifname_valid(s) {
        return Err(Error::msg("invalid bridge interface name"));
    }
    Ok(s.to_string())
}

/// `--network-zone=NAME`: `vz-NAME` must be a valid interface name. Returns NAME.
pub fn parse_zone(s: &str) -> Result<String> {
    if s.is_empty() || !ifname_valid(&format!("vz-{s}")) {
        return Err(Error::msg("invalid network zone name"));
    }
    Ok(s.to_string())
}

fn parse_port_number(s: &str) -> Result<u16> {
    match s.parse::<u16>() {
        Ok(n) if n != 0 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(Error::msg(format!("invalid port number: {s:?}"))),
    }
}

/// `-p/--port=[tcp|udp:]HOST[:CONT]`; a second forward of the same protocol and host port is
/// an error, as in nspawn's `expose_port_parse()`.
pub fn parse_port(s: &str, existing: &[PortForward]) -> Result<PortForward> {
    let (udp, rest) = if let Some(r) = s.strip_prefix("tcp:") {
        (false, r)
    } else if let Some(r) = s.strip_prefix("udp:") {
        (true, r)
    } else {
        (false, s)
    };
    let (host_port, container_port) = match rest.split_once(':') {
        Some((h, c)) => (parse_port_number(h)?, parse_port_number(c)?),
        None => {
            let p = parse_port_number(rest)?;
            (p, p)
        }
    };
    if existing.iter().any(|p| p.udp == udp && p.host_port == host_port) {
        return Err(Error::msg("duplicate port specification"));
    }
    Ok(PortForward { udp, host_port, container_port })
}

/// `--network-address=off|auto|A.B.C.D/N`: the pool must be a prefix of length 8..=30 with
/// its host bits clear (containers get /28 subnets of it, or the whole pool if smaller).
pub fn parse_network_address(s: &str) -> Result<NetworkAddress> {
    match s {
        "off" | "no" => return Ok(NetworkAddress::Off),
        "auto" | "yes" => return Ok(NetworkAddress::Auto),
        _ => {}
    }
    let bad = || Error::msg(format!("invalid address pool (off, auto or A.B.C.D/N): {s:?}"));
    let (a, n) = s.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
    let len: u8 = match n.parse() {
        Ok(l) if (8..=30).contains(&l) && n.bytes().all(|b| b.is_ascii_digit()) => l,
        _ => return Err(bad()),
    };
    let mask = u32::MAX << (32 - u32::from(len));
    if u32::from(addr) & !mask != 0 {
        return Err(Error::msg(format!("address pool {s} has host bits set")));
    }
    Ok(NetworkAddress::Pool(addr, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err<T: std::fmt::Debug>(r: Result<T>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn interface_names() {
        for ok in ["eth0", "a", "enp0s31f6", "wlan-1.2", "a23456789012345", "x1"] {
            assert!(ifname_valid(ok), "{ok}");
        }
        for bad in ["", ".", "..", "1234", "a/b", "a:b", "a b", "a\tb", "1234567890123456", "ä"] {
            assert!(!ifname_valid(bad), "{bad}");
        }
    }

    #[test]
    fn interface_pairs() {
        assert_eq!(parse_interface_pair("eth0").unwrap(), InterfacePair { host: "eth0".into(), container: None });
        assert_eq!(
            parse_interface_pair("eth0:host1").unwrap(),
            InterfacePair { host: "eth0".into(), container: Some("host1".into()) }
        );
        assert_eq!(err(parse_interface_pair("a b")), "invalid network interface name: \"a b\"");
        assert_eq!(err(parse_interface_pair("eth0:")), "invalid network interface name: \"\"");
        assert_eq!(err(parse_interface_pair("eth0:a:b")), "invalid network interface name: \"a:b\"");
    }

    #[test]
    fn bridges_and_zones() {
        assert_eq!(parse_bridge("br0").unwrap(), "br0");
        assert_eq!(err(parse_bridge("br/0")), "invalid bridge interface name");
        assert_eq!(parse_zone("lab").unwrap(), "lab");
        assert_eq!(parse_zone("123456789012").unwrap(), "123456789012");
        assert_eq!(err(parse_zone("1234567890123")), "invalid network zone name");
        assert_eq!(err(parse_zone("")), "invalid network zone name");
    }

    #[test]
    fn address_pools() {
        assert_eq!(parse_network_address("off").unwrap(), NetworkAddress::Off);
        assert_eq!(parse_network_address("auto").unwrap(), NetworkAddress::Auto);
        assert_eq!(
            parse_network_address("192.168.77.0/24").unwrap(),
            NetworkAddress::Pool(Ipv4Addr::new(192, 168, 77, 0), 24)
        );
        assert_eq!(err(parse_network_address("192.168.77.1/24")), "address pool 192.168.77.1/24 has host bits set");
        for bad in ["10.0.0.0", "10.0.0.0/31", "10.0.0.0/7", "x/24", "10.0.0.0/+8", ""] {
            assert!(parse_network_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ports() {
        let p = |udp, host_port, container_port| PortForward { udp, host_port, container_port };
        assert_eq!(parse_port("80", &[]).unwrap(), p(false, 80, 80));
        assert_eq!(parse_port("8080:80", &[]).unwrap(), p(false, 8080, 80));
        assert_eq!(parse_port("tcp:8080:80", &[]).unwrap(), p(false, 8080, 80));
        assert_eq!(parse_port("udp:53", &[]).unwrap(), p(true, 53, 53));
        assert_eq!(parse_port("65535", &[]).unwrap(), p(false, 65535, 65535));
        assert_eq!(parse_port("udp:80", &[p(false, 80, 80)]).unwrap(), p(true, 80, 80));
        assert_eq!(err(parse_port("80:81", &[p(false, 80, 80)])), "duplicate port specification");
        assert_eq!(err(parse_port("0", &[])), "invalid port number: \"0\"");
        assert_eq!(err(parse_port("65536", &[])), "invalid port number: \"65536\"");
        assert_eq!(err(parse_port("sctp:80", &[])), "invalid port number: \"sctp\"");
        assert_eq!(err(parse_port("80:", &[])), "invalid port number: \"\"");
        assert_eq!(err(parse_port("+80", &[])), "invalid port number: \"+80\"");
    }
}
