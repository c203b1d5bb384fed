//! Interface names and MACs against the table in `tests/data/nspawn-vectors.txt`, computed
//! with systemd v252's own `siphash24()` and `urlsafe_base64char()` (see `nspawn-vectors.c`).

use netsetup::*;

fn mac_text(m: [u8; 6]) -> String {
    Mac(m).to_string()
}

#[test]
fn names_and_macs_match_systemd() {
    let data = include_str!("data/nspawn-vectors.txt");
    let mut rows = 0;
    for line in data.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 13, "{line}");
        let id = parse_machine_id(f[0]).unwrap();
        let name = f[1];
        for (prefix, want) in [("ve-", f[2]), ("vb-", f[3]), ("mv-", f[4])] {
            let n = derive_ifname(prefix, name);
            assert_eq!(n.name, want, "{prefix}{name}");
            let full = format!("{prefix}{name}");
            let shortened = full.len() >= IFNAMSIZ;
            assert_eq!(n.altname, shortened.then_some(full));
        }
        let cases = [
            (MacKey::Host, 0, f[5]),
            (MacKey::Container, 0, f[6]),
            (MacKey::VethExtraHost, 0, f[7]),
            (MacKey::VethExtraContainer, 0, f[8]),
            (MacKey::VethExtraHost, 1, f[9]),
            (MacKey::VethExtraContainer, 1, f[10]),
            (MacKey::Macvlan, 0, f[11]),
            (MacKey::Macvlan, 1, f[12]),
        ];
        for (key, idx, want) in cases {
            let got = mac_text(generate_mac(&id, name, key, idx));
            assert_eq!(got, want, "{name} {key:?} {idx}");
        }
        rows += 1;
    }
    assert_eq!(rows, 14);
}

#[test]
fn siphash_matches_the_library_self_check() {
    let data = include_str!("data/nspawn-vectors.txt");
    assert!(data.contains("siphash24(00..0e, key 00..0f) = a129ca6149be45e5"));
    let key: [u8; 16] = std::array::from_fn(|i| i as u8);
    let msg: Vec<u8> = (0..15).collect();
    assert_eq!(siphash24(&msg, &key), 0xa129_ca61_49be_45e5);
}
