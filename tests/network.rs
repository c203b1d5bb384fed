//! Root integration tests of container networking. Every test runs spawnbox inside network
//! namespaces it creates (`Netns`: the "host", and an "uplink" where needed), never on the
//! machine's real interfaces, sends traffic only to addresses in those namespaces, uses a
//! state directory of its own (`SPAWNBOX_RUNTIME_DIR`), and checks that no link, address,
//! nft rule or lease is left behind.

use rustix::process::Signal;
use spawnbox_tests::net::{fault_injection_bin, lease_of, leases, run_bin, runtime_dir, Netns};
use spawnbox_tests::{parallel, wait_until, Cmd, Output, Test};
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// The host namespace's links back to `before` (veths of exited containers die with their
/// namespace, asynchronously) and no lease left.
fn assert_clean(host: &Netns, before: &[String], run: &str) {
    let ok = wait_until(T, || host.links() == before);
    assert!(ok, "links left behind: before {before:?}, after {:?}", host.links());
    assert_eq!(leases(run), Vec::<String>::new(), "leases left behind");
    assert!(!host.ruleset().contains("spawnbox"), "nft table left behind: {}", host.ruleset());
}

fn cmd(t: &Test, run: &str, args: &[&str]) -> Cmd {
    let mut c = t.cmd(args);
    c.env("SPAWNBOX_RUNTIME_DIR", run);
    c
}

fn sh(t: &Test, run: &str, opts: &[&str], script: &str) -> Output {
    let mut a = opts.to_vec();
    a.extend(["/bin/sh", "-c", script]);
    cmd(t, run, &a).run()
}

/// A veth pair `a` (in `host`, with `a_addr`) and `b` (in `other`, with `b_addr`), both up.
fn wire(host: &Netns, a: &str, a_addr: &str, other: &Netns, b: &str, b_addr: &str) {
    host.sh(&format!(
        "ip link add name {a} type veth peer name {b} netns {} && ip addr add {a_addr} dev {a} && ip link set {a} up",
        other.pid()
    ));
    other.sh(&format!("ip addr add {b_addr} dev {b} && ip link set {b} up"));
}

/// One line from a connection, then the connection is closed (busybox nc keeps its end open
/// until the peer closes).
fn read_line(s: TcpStream) -> String {
    s.set_read_timeout(Some(T)).unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    line
}

/// `accept`, bounded by `T`.
fn accept(l: &TcpListener) -> (TcpStream, std::net::SocketAddr) {
    l.set_nonblocking(true).unwrap();
    let deadline = std::time::Instant::now() + T;
    loop {
        match l.accept() {
            Ok((s, a)) => {
                s.set_nonblocking(false).unwrap();
                return (s, a);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

#[test]
fn private_network_has_only_lo_and_it_is_up() {
    let t = Test::new("net-private");
    let host = Netns::new();
    let run = runtime_dir(&t);
    let out = host.enter(|| sh(&t, &run, &["--private-network"], "ip -o link show | cut -d: -f2,3"));
    let stdout = out.ok();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with(" lo: <LOOPBACK,UP,LOWER_UP>"), "{stdout}");
}

#[test]
fn veth_gets_addresses_route_and_reaches_the_host_by_ping_and_tcp() {
    let t = Test::new("net-veth");
    let host = Netns::new();
    let run = runtime_dir(&t);
    let before = host.links();
    host.enter(|| {
        // Host side listens; the container connects. Then the container listens and the host
        // connects.
        assert!(TcpListener::bind("10.0.0.1:0").is_err(), "10.0.0.1 must not exist before the container starts");
        let listener = TcpListener::bind("0.0.0.0:9000").unwrap();
        let mut r = cmd(&t, &run, &["-n", "/bin/sh", "-c", "ip -o -4 addr show dev host0 | awk '{print $4}'; ip route; \
            ping -c1 -W2 10.0.0.1 >/dev/null && echo ping-ok; \
            echo from-container | nc -l -p 8000 & sleep 0.2; echo listening; \
            nc -w 2 10.0.0.1 9000 </dev/null; wait"])
        .spawn();
        r.wait_for_stdout("listening\n", T);
        assert_eq!(read_line(TcpStream::connect("10.0.0.2:8000").unwrap()), "from-container\n");
        let (mut s, peer) = accept(&listener);
        assert_eq!(peer.ip(), Ipv4Addr::new(10, 0, 0, 2));
        s.write_all(b"from-host\n").unwrap();
        drop(s);
        let out = r.wait();
        assert_eq!(
            out.ok(),
            "10.0.0.2/28\ndefault via 10.0.0.1 dev host0 \n10.0.0.0/28 dev host0 scope link  src 10.0.0.2 \nping-ok\nlistening\nfrom-host\n"
        );
    });
    assert_clean(&host, &before, &run);
}

/// The IPv6 address spawnbox mirrors from the IPv4 address `subnet` + `offset` (docs/NETWORKING.md:
/// `fd`, 24 bits of SipHash of the host's machine ID, the IPv4 subnet's address, the offset),
/// computed here from the same machine ID the launcher reads.
fn ula(subnet: Ipv4Addr, offset: u8) -> Ipv6Addr {
    let id = ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .find_map(|p| netsetup::read_machine_id(std::path::Path::new(p)).ok())
        .unwrap_or([0; 16]);
    let h = netsetup::siphash24(&id, b"spawnbox-ula-v1\0").to_le_bytes();
    let mut a = [0u8; 16];
    a[0] = 0xfd;
    a[1..4].copy_from_slice(&h[..3]);
    a[4..8].copy_from_slice(&subnet.octets());
    a[15] = offset;
    Ipv6Addr::from(a)
}

/// Connects to `to` until a connection is accepted (a port forward may take a moment to
/// follow an address) and reads its line.
fn line_from(to: SocketAddr) -> String {
    let deadline = std::time::Instant::now() + T;
    loop {
        match TcpStream::connect_timeout(&to, Duration::from_millis(300)) {
            Ok(s) => return read_line(s),
            Err(_) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("connect to {to}: {e}"),
        }
    }
}

/// `wire` with IPv6 addresses too (`nodad`: usable at once): (link, IPv4, IPv6) each side.
fn wire46(host: &Netns, (a, a4, a6): (&str, &str, &str), other: &Netns, (b, b4, b6): (&str, &str, &str)) {
    wire(host, a, a4, other, b, b4);
    host.sh(&format!("ip -6 addr add {a6} dev {a} nodad"));
    other.sh(&format!("ip -6 addr add {b6} dev {b} nodad"));
}

#[test]
fn veth_gets_an_ipv6_address_and_route_and_reaches_the_host_over_ipv6() {
    let t = Test::new("net-veth6");
    let host = Netns::new();
    let run = runtime_dir(&t);
    let before = host.links();
    let (gw, ct) = (ula(Ipv4Addr::new(10, 0, 0, 0), 1), ula(Ipv4Addr::new(10, 0, 0, 0), 2));
    host.enter(|| {
        let listener = TcpListener::bind("[::]:9000").unwrap();
        let script = format!(
            "ip -o -6 addr show dev host0 scope global | awk '{{print $4}}'; ip -6 route show default; \
             ping -6 -c1 -W2 {gw} >/dev/null && echo ping-ok; \
             echo from-container | nc -l -p 8000 & sleep 0.2; echo listening; \
             nc -w 2 {gw} 9000 </dev/null; wait"
        );
        let mut r = cmd(&t, &run, &["-n", "/bin/sh", "-c", &script]).spawn();
        r.wait_for_stdout("listening\n", T);
        let ve = host.sh("ip -o -6 addr show scope global | awk '{print substr($2, 1, 3), $4}'");
        assert_eq!(ve, format!("ve- {gw}/64\n"));
        assert_eq!(read_line(TcpStream::connect((ct, 8000)).unwrap()), "from-container\n");
        let (mut s, peer) = accept(&listener);
        assert_eq!(peer.ip(), IpAddr::V6(ct));
        s.write_all(b"from-host\n").unwrap();
        drop(s);
        assert_eq!(
            r.wait().ok(),
            format!("{ct}/64\ndefault via {gw} dev host0  metric 1024 \nping-ok\nlistening\nfrom-host\n")
        );
    });
    assert_clean(&host, &before, &run);
}

#[test]
fn nat66_reaches_the_uplink_and_ports_are_forwarded_over_ipv6() {
    let t = Test::new("net-nat6");
    let host = Netns::new();
    let uplink = Netns::new();
    let run = runtime_dir(&t);
    wire46(&host, ("up0", "192.168.79.1/24", "fd79::1/64"), &uplink, ("up1", "192.168.79.2/24", "fd79::2/64"));
    let before = host.links();
    let listener = uplink.enter(|| TcpListener::bind("[fd79::2]:9000").unwrap());
    let (prefix, ct) = (ula(Ipv4Addr::new(10, 0, 0, 0), 0), ula(Ipv4Addr::new(10, 0, 0, 0), 2));
    host.enter(|| {
        let script = "ping -6 -c1 -W2 fd79::2 >/dev/null && echo ping-ok; echo via-nat66 | nc -w 2 fd79::2 9000; \
             echo from-container | nc -l -p 80 & sleep 0.2; echo listening; wait";
        let mut r = cmd(&t, &run, &["-n", "--network-nat=yes", "-p", "8080:80", "/bin/sh", "-c", script]).spawn();
        let (s, peer) = accept(&listener);
        // Masqueraded: the uplink sees the host's address, not the container's.
        assert_eq!(peer.ip(), "fd79::1".parse::<IpAddr>().unwrap());
        assert_eq!(read_line(s.try_clone().unwrap()), "via-nat66\n");
        drop(s);
        r.wait_for_stdout("listening\n", T);
        let rules = host.sh("nft list table ip6 spawnbox");
        for want in [
            format!("ip6 saddr {prefix}/64 masquerade comment \"{}\"", t.name()),
            format!("fib daddr type local tcp dport 8080 dnat to [{ct}]:80 comment \"{}\"", t.name()),
            format!("ip6 daddr != ::1 fib daddr type local tcp dport 8080 dnat to [{ct}]:80 comment \"{}\"", t.name()),
        ] {
            assert!(rules.contains(&want), "{want:?} not in {rules}");
        }
        assert_eq!(host.sh("cat /proc/sys/net/ipv6/conf/all/forwarding"), "1\n");
        let got = uplink.enter(|| read_line(TcpStream::connect("[fd79::1]:8080").unwrap()));
        assert_eq!(got, "from-container\n");
        assert_eq!(r.wait().ok(), "ping-ok\nlistening\n");
    });
    assert_clean(&host, &before, &run);
}

/// nspawn's forwards follow the container's address: with `--network-address=off` the payload
/// configures host0 itself (both families), `-p` reaches it, and when it changes its addresses
/// the forwards move with them in one batch; nothing is left after the stop.
#[test]
fn port_forwards_follow_the_addresses_the_container_gives_itself() {
    let t = Test::new("net-follow");
    let host = Netns::new();
    let uplink = Netns::new();
    let run = runtime_dir(&t);
    wire46(&host, ("up0", "192.168.80.1/24", "fd80::1/64"), &uplink, ("up1", "192.168.80.2/24", "fd80::2/64"));
    let before = host.links();
    let m = format!("fw{}", std::process::id() % 100000);
    let ve = format!("ve-{m}");
    let set = |a: &str| {
        format!(
            "ip addr add 10.9.0.{a}/24 dev host0 && ip -6 addr add fd09::{a}/64 dev host0 \
             && ip route replace default via 10.9.0.1 && ip -6 route replace default via fd09::1"
        )
    };
    let script = format!(
        "echo 0 > /proc/sys/net/ipv6/conf/host0/accept_dad && ip link set host0 up && {} && echo A; \
         echo A4 | nc -l -p 80; echo A6 | nc -l -p 80; while [ ! -e /change ]; do sleep 0.05; done; \
         ip addr del 10.9.0.2/24 dev host0 && ip -6 addr del fd09::2/64 dev host0 && {} && echo B; \
         echo B4 | nc -l -p 80; echo B6 | nc -l -p 80; echo done; exec sleep 30",
        set("2"),
        set("3")
    );
    let (v4, v6): (SocketAddr, SocketAddr) = ("192.168.80.1:8080".parse().unwrap(), "[fd80::1]:8080".parse().unwrap());
    host.enter(|| {
        let mut r =
            cmd(&t, &run, &["-M", &m, "-n", "--network-address=off", "-p", "8080:80", "/bin/sh", "-c", &script])
                .spawn();
        // The host side is the user's too with --network-address=off.
        assert!(wait_until(T, || host.links().iter().any(|l| l.starts_with(&format!("{ve} ")))));
        host.sh(&format!("ip addr add 10.9.0.1/24 dev {ve} && ip -6 addr add fd09::1/64 dev {ve} nodad"));
        // The forwarding rules, as `nft list ruleset` shows them.
        let dnat = |a4: &str, a6: &str| {
            let c = format!("comment \"{m}\"");
            let want = [
                format!("fib daddr type local tcp dport 8080 dnat to {a4}:80 {c}"),
                format!("ip daddr != 127.0.0.0/8 fib daddr type local tcp dport 8080 dnat to {a4}:80 {c}"),
                format!("fib daddr type local tcp dport 8080 dnat to [{a6}]:80 {c}"),
                format!("ip6 daddr != ::1 fib daddr type local tcp dport 8080 dnat to [{a6}]:80 {c}"),
            ];
            let rules = host.ruleset();
            let got: Vec<String> = rules.lines().filter(|l| l.contains("dnat")).map(|l| l.trim().to_string()).collect();
            assert_eq!(got, want, "{rules}");
        };
        r.wait_for_stdout("A\n", T);
        assert_eq!(uplink.enter(|| line_from(v4)), "A4\n");
        assert_eq!(uplink.enter(|| line_from(v6)), "A6\n");
        dnat("10.9.0.2", "fd09::2");
        std::fs::write(t.root.join("change"), "").unwrap();
        r.wait_for_stdout("B\n", T);
        assert_eq!(uplink.enter(|| line_from(v4)), "B4\n");
        assert_eq!(uplink.enter(|| line_from(v6)), "B6\n");
        // Only the new addresses are forwarded to: the old ones' rules went in the same batch.
        r.wait_for_stdout("done\n", T);
        dnat("10.9.0.3", "fd09::3");
        r.kill(Signal::TERM);
        r.wait();
    });
    assert_clean(&host, &before, &run);
}

/// On `--network-bridge` the bridge's network is the user's: the forwards follow whatever the
/// payload (here by hand, as a DHCP client would) gives host0, in both families.
#[test]
fn port_forwards_follow_the_container_on_a_bridge() {
    let t = Test::new("net-follow-br");
    let host = Netns::new();
    let uplink = Netns::new();
    let run = runtime_dir(&t);
    wire46(&host, ("up0", "192.168.81.1/24", "fd81::1/64"), &uplink, ("up1", "192.168.81.2/24", "fd81::2/64"));
    host.sh("ip link add name brf type bridge && ip addr add 10.9.1.1/24 dev brf \
         && ip -6 addr add fd91::1/64 dev brf nodad && ip link set brf up");
    let before = host.links();
    let script = "echo 0 > /proc/sys/net/ipv6/conf/host0/accept_dad && ip link set host0 up \
         && ip addr add 10.9.1.2/24 dev host0 && ip -6 addr add fd91::2/64 dev host0 \
         && ip route add default via 10.9.1.1 && ip -6 route add default via fd91::1 \
         && echo v4 | nc -l -p 80 && echo v6 | nc -l -p 80";
    host.enter(|| {
        let mut r = cmd(&t, &run, &["--network-bridge=brf", "-p", "8081:80", "/bin/sh", "-c", script]).spawn();
        assert_eq!(uplink.enter(|| line_from("192.168.81.1:8081".parse().unwrap())), "v4\n");
        assert_eq!(uplink.enter(|| line_from("[fd81::1]:8081".parse().unwrap())), "v6\n");
        r.wait().ok();
    });
    assert_clean(&host, &before, &run);
}

#[test]
fn host_side_is_configured_while_the_container_runs() {
    let t = Test::with_root_name("net-hostside", &format!("hs{}", std::process::id()));
    let host = Netns::new();
    let run = runtime_dir(&t);
    let m = format!("hs{}", std::process::id());
    host.enter(|| {
        let mut r = cmd(
            &t,
            &run,
            &[
                "-n",
                "--network-address=192.168.201.0/24",
                "/bin/sh",
                "-c",
                "cat /sys/class/net/host0/address; echo ready; exec sleep 30",
            ],
        )
        .spawn();
        r.wait_for_stdout("ready\n", T);
        let ve = format!("ve-{m}");
        assert!(host.addresses().contains(&format!("{ve} 192.168.201.1/28")), "{:?}", host.addresses());
        let link = host.sh(&format!("ip -o link show dev {ve}"));
        assert!(link.contains("state UP"), "{link}");
        let lease = lease_of(&run, &m).unwrap();
        assert!(lease.contains(" subnet=192.168.201.0/28 addr=192.168.201.2"), "{lease}");
        let mac = r.stdout_so_far();
        assert!(
            mac.starts_with(|c: char| c.is_ascii_hexdigit()) && mac.len() == "xx:xx:xx:xx:xx:xx\nready\n".len(),
            "{mac}"
        );
        r.kill(Signal::TERM);
        r.wait();
    });
}

#[test]
fn long_machine_names_are_shortened_with_the_full_name_as_altname() {
    let t = Test::new("net-longname");
    let host = Netns::new();
    let run = runtime_dir(&t);
    let m = format!("a-rather-long-machine-name-{}", std::process::id());
    let full = format!("ve-{m}");
    let short = netsetup::shorten_ifname(&full).unwrap();
    host.enter(|| {
        let mut r = cmd(&t, &run, &["-M", &m, "-n", "/bin/sh", "-c", "echo ready; exec sleep 30"]).spawn();
        r.wait_for_stdout("ready\n", T);
        let link = host.sh(&format!("ip -o link show dev {full}"));
        assert!(link.contains(&format!(": {short}@")), "{link}");
        assert!(link.contains(&format!("altname {full}")), "{link}");
        r.kill(Signal::TERM);
        r.wait();
    });
}

/// Processes other than this one with a descriptor open on a path under `dir`: (pid, path).
fn holders_of(dir: &str) -> Vec<(String, String)> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = p.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else { continue };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                let target = target.to_string_lossy().into_owned();
                if target.starts_with(dir) {
                    out.push((pid.clone(), target));
                }
            }
        }
    }
    out
}

/// The last close of the nfnetlink socket waits an RCU grace period for nf_tables' cleanup
/// (about 20 ms, docs/NETWORKING.md); the launcher hands it to a short-lived grandchild and
/// returns. That grandchild keeps nothing else of the launcher: no process holds anything
/// under the runtime directory once the launcher is gone (the registry lock among them), so
/// the same name starts again at once, and the rules are gone.
#[test]
fn nat_teardown_hands_off_only_the_nfnetlink_close() {
    let t = Test::new("net-natclose");
    let host = Netns::new();
    let run = runtime_dir(&t);
    let before = host.links();
    let name = t.name();
    host.enter(|| {
        for round in 0..3 {
            let out =
                cmd(&t, &run, &["-M", &name, "-n", "--network-nat=yes", "-p", "18080:80", "/bin/sh", "-c", "echo up"])
                    .run();
            assert_eq!(out.ok(), "up\n", "round {round}");
            assert_eq!(holders_of(&run), Vec::<(String, String)>::new(), "round {round}");
            assert!(!host.ruleset().contains("18080"), "round {round}: {}", host.ruleset());
        }
    });
    assert_clean(&host, &before, &run);
}

#[test]
fn nat_reaches_the_uplink_and_ports_are_forwarded_from_it() {
    let t = Test::new("net-nat");
    let host = Netns::new();
    let uplink = Netns::new();
    let run = runtime_dir(&t);
    wire(&host, "up0", "192.168.77.1/24", &uplink, "up1", "192.168.77.2/24");
    let before = host.links();
    let listener = uplink.enter(|| TcpListener::bind("192.168.77.2:9000").unwrap());
    host.enter(|| {
        let mut r = cmd(
            &t,
            &run,
            &[
                "-n",
                "--network-nat=yes",
                "-p",
                "8080:80",
                "/bin/sh",
                "-c",
                "ping -c1 -W2 192.168.77.2 >/dev/null && echo ping-ok; echo via-nat | nc -w 2 192.168.77.2 9000; \
             echo from-container | nc -l -p 80 & sleep 0.2; echo listening; wait",
            ],
        )
        .spawn();
        let (s, peer) = accept(&listener);
        // Masqueraded: the uplink sees the host's address, not 10.0.0.2.
        assert_eq!(peer.ip(), Ipv4Addr::new(192, 168, 77, 1));
        assert_eq!(read_line(s.try_clone().unwrap()), "via-nat\n");
        drop(s);
        r.wait_for_stdout("listening\n", T);
        let rules = host.ruleset();
        assert!(
            rules.contains("table ip spawnbox")
                && rules.contains("masquerade")
                && rules.contains("dnat to 10.0.0.2:80"),
            "{rules}"
        );
        assert_eq!(host.sh("cat /proc/sys/net/ipv4/ip_forward"), "1\n");
        let got = uplink.enter(|| read_line(TcpStream::connect("192.168.77.1:8080").unwrap()));
        assert_eq!(got, "from-container\n");
        assert_eq!(r.wait().ok(), "ping-ok\nlistening\n");
    });
    assert_clean(&host, &before, &run);
}

#[test]
fn without_nat_the_uplink_is_unreachable_and_resolv_conf_is_left_alone() {
    let t = Test::new("net-nonat");
    let host = Netns::new();
    let uplink = Netns::new();
    let run = runtime_dir(&t);
    wire(&host, "up0", "192.168.78.1/24", &uplink, "up1", "192.168.78.2/24");
    t.write("/etc/resolv.conf", "nameserver 192.0.2.53 # the tree's\n");
    let out = host.enter(|| {
        sh(&t, &run, &["-n"], "cat /etc/resolv.conf; ping -c1 -W1 192.168.78.2 >/dev/null || echo unreachable")
    });
    assert_eq!(out.ok(), "nameserver 192.0.2.53 # the tree's\nunreachable\n");
    let host_conf = std::fs::read_to_string("/etc/resolv.conf").unwrap();
    let out = host.enter(|| sh(&t, &run, &["-n", "--network-nat=yes"], "cat /etc/resolv.conf"));
    assert_eq!(out.ok(), host_conf, "with NAT the host's resolv.conf is copied");
}

#[test]
fn zone_members_reach_each_other_and_other_zones_do_not() {
    let a = Test::new("net-zone-a");
    let b = Test::new("net-zone-b");
    let c = Test::new("net-zone-c");
    let host = Netns::new();
    let run = runtime_dir(&a);
    let before = host.links();
    host.enter(|| {
        let mut ra = cmd(
            &a,
            &run,
            &[
                "--network-zone=z1",
                "/bin/sh",
                "-c",
                "ip -o -4 addr show host0 | awk '{print $4}'; echo ready; exec sleep 30",
            ],
        )
        .spawn();
        ra.wait_for_stdout("ready\n", T);
        assert_eq!(ra.stdout_so_far(), "10.0.0.2/28\nready\n");
        let links = host.links();
        assert!(links.contains(&"vz-z1 bridge".to_string()), "{links:?}");
        // IPv6 too: the zone's /64 mirrors its IPv4 subnet, members ::2, ::3, ...
        let (a6, z1, z2) = (ula(Ipv4Addr::new(10, 0, 0, 0), 2), Ipv4Addr::new(10, 0, 0, 0), Ipv4Addr::new(10, 0, 0, 16));
        let v6 = "ip -o -6 addr show host0 scope global | awk '{print $4}'";
        let out = sh(
            &b,
            &run,
            &["--network-zone=z1"],
            &format!(
                "ip -o -4 addr show host0 | awk '{{print $4}}'; {v6}; ping -c1 -W2 10.0.0.2 >/dev/null && echo reached; \
                 ping -6 -c1 -W2 {a6} >/dev/null && echo reached6"
            ),
        );
        assert_eq!(out.ok(), format!("10.0.0.3/28\n{}/64\nreached\nreached6\n", ula(z1, 3)));
        let out = sh(
            &c,
            &run,
            &["--network-zone=z2"],
            &format!(
                "ip -o -4 addr show host0 | awk '{{print $4}}'; {v6}; ping -c1 -W1 10.0.0.2 >/dev/null || echo unreachable; \
                 ping -6 -c1 -W1 {a6} >/dev/null || echo unreachable6"
            ),
        );
        assert_eq!(out.ok(), format!("10.0.0.18/28\n{}/64\nunreachable\nunreachable6\n", ula(z2, 2)));
        assert!(!host.links().iter().any(|l| l.starts_with("vz-z2 ")), "zone z2's bridge outlives its last member");
        assert!(host.links().contains(&"vz-z1 bridge".to_string()), "zone z1 still has a member");
        ra.kill(Signal::TERM);
        ra.wait();
    });
    assert_clean(&host, &before, &run);
}

#[test]
fn bridge_and_macvlan_attach_to_test_links() {
    let t = Test::new("net-bridge");
    let host = Netns::new();
    let peer = Netns::new();
    let run = runtime_dir(&t);
    host.sh("ip link add name brt type bridge && ip addr add 192.168.88.1/24 dev brt && ip link set brt up");
    wire(&host, "mvp0", "192.168.99.254/32", &peer, "mvp1", "192.168.99.1/24");
    let before = host.links();
    host.enter(|| {
        let out = sh(
            &t,
            &run,
            &["--network-bridge=brt"],
            "ip -o -4 addr show host0 | wc -l; ip addr add 192.168.88.5/24 dev host0 && ip link set host0 up && \
            ping -c1 -W3 192.168.88.1 >/dev/null && echo bridged",
        );
        assert_eq!(out.ok(), "0\nbridged\n", "no automatic address on the user's bridge");
        let out = sh(
            &t,
            &run,
            &["--network-macvlan=mvp0"],
            "ip addr add 192.168.99.5/24 dev mv-mvp0 && ip link set mv-mvp0 up && \
            ping -c1 -W3 192.168.99.1 >/dev/null && echo macvlan",
        );
        assert_eq!(out.ok(), "macvlan\n");
    });
    assert_clean(&host, &before, &run);
}

/// The lines of `a` missing from `b` and those of `b` missing from `a`, for messages.
fn diff(a: &str, b: &str) -> String {
    let gone: Vec<&str> = a.lines().filter(|l| !b.lines().any(|m| m == *l)).collect();
    let new: Vec<&str> = b.lines().filter(|l| !a.lines().any(|m| m == *l)).collect();
    format!("\n  gone: {gone:#?}\n  new: {new:#?}")
}

/// Waits until the host namespace is back to `before` (`ip -d -o link`, `ip -o addr`) and no
/// lease or nft table is left.
fn assert_host_as_before(host: &Netns, before: &str, run: &str, what: &str) {
    let back = wait_until(T, || host.snapshot() == before);
    let after = host.snapshot();
    assert!(back, "{what}: the host's links changed:{}\nbefore:\n{before}\nafter:\n{after}", diff(before, &after));
    assert_eq!(leases(run), Vec::<String>::new(), "{what}: leases left behind");
    assert!(!host.ruleset().contains("spawnbox"), "{what}: nft table left behind");
}

/// A veth `name`/`peer` in `host`, both up, `name` with the altname `name-alt`.
fn test_link(host: &Netns, name: &str, peer: &str) {
    host.sh(&format!(
        "ip link add name {name} type veth peer name {peer} && ip link property add dev {name} altname {name}-alt \
         && ip link set {name} up && ip link set {peer} up"
    ));
}

#[test]
fn network_interface_is_moved_in_and_back_under_its_name() {
    let t = Test::new("net-iface");
    let host = Netns::new();
    let run = runtime_dir(&t);
    host.sh("ip link add name brt type bridge && ip link set brt address 02:00:00:00:0b:01 && ip link set brt up");
    test_link(&host, "tif0", "tif1");
    host.sh("ip link set tif0 mtu 1400 master brt && ip addr add 192.168.61.1/24 dev tif0 \
         && ip addr add 192.168.61.2/24 label tif0:1 dev tif0 && ip addr add 2001:db8:61::1/64 dev tif0 nodad");
    let before = host.snapshot();
    host.enter(|| {
        let mut r = cmd(
            &t,
            &run,
            &[
                "--network-interface=tif0:inside0",
                "/bin/sh",
                "-c",
                "ip -o link show | cut -d: -f2 | cut -d@ -f1 | tr -d ' '; ip -o -4 addr show | wc -l; \
                 ip link set inside0 name renamed0 && ip link set renamed0 mtu 1300 address 02:00:00:00:0b:09 && \
                 ip addr add 10.1.1.1/24 dev renamed0 && ip link set renamed0 up && echo ready; exec sleep 30",
            ],
        )
        .spawn();
        r.wait_for_stdout("ready\n", T);
        // Moved in renamed, down, without its addresses; the payload renames it and changes it.
        assert_eq!(r.stdout_so_far(), "lo\ninside0\n1\nready\n");
        assert!(!host.links().iter().any(|l| l.starts_with("tif0 ")), "tif0 is in the container");
        r.kill(Signal::TERM);
        r.wait();
    });
    // Back at once under its name, as the host had it: MTU, MAC, altname, master, addresses, up.
    assert_eq!(host.snapshot(), before, "{}", diff(&before, &host.snapshot()));
}

#[test]
fn a_rename_to_one_of_the_interfaces_altnames_keeps_its_name_as_nspawn_does() {
    // Issue 13: this failed with "move link sd-shared3 to netns fd 9: file exists", and both
    // ends of the pair were gone from the host.
    let t = Test::new("net-altname");
    let host = Netns::new();
    let run = runtime_dir(&t);
    host.sh("ip link add name sd-shared3 type veth peer name sd-peer3 && ip link property add dev sd-shared3 altname sd-altname3");
    let before = host.snapshot();
    let names = "ip -o link show | cut -d: -f2 | cut -d@ -f1 | tr -d ' '";
    for (opt, inside) in [
        ("--network-interface=sd-shared3:sd-altname3", "sd-shared3"),
        ("--network-interface=sd-altname3", "sd-shared3"),
        ("--network-interface=sd-altname3:inside0", "inside0"),
        // A name taken on the host does not matter: the rename happens in the container.
        ("--network-interface=sd-shared3:sd-peer3", "sd-peer3"),
    ] {
        let out = host.enter(|| sh(&t, &run, &[opt], names));
        assert_eq!(out.ok(), format!("lo\n{inside}\n"), "{opt}");
        assert_host_as_before(&host, &before, &run, opt);
    }
}

#[test]
fn names_that_would_collide_are_refused_before_anything_moves() {
    let t = Test::new("net-collide");
    let host = Netns::new();
    let run = runtime_dir(&t);
    // Link-local addresses must not turn from tentative to valid between the snapshots.
    no_dad(&host);
    test_link(&host, "tif0", "tif1");
    test_link(&host, "tif2", "tif3");
    test_link(&host, "tif4", "tif5");
    test_link(&host, "mvp0", "mvp1");
    // Where the kernel has vxlan (the VM's loads only what its case lists).
    let vxlan = host.try_sh("ip link add vx0 type vxlan id 42 dev tif4 dstport 4789").0;
    let before = host.snapshot();
    let cases = [
        (
            &["--network-interface=tif0", "--network-interface=tif2:tif0-alt"][..],
            "network interface tif0-alt would exist twice in the container (an altname of tif0)",
        ),
        (
            &["--network-interface=tif0", "--network-macvlan=mvp0:tif0-alt"],
            "network interface tif0-alt would exist twice in the container (an altname of tif0)",
        ),
        (&["-n", "--network-interface=tif0:host0"], "network interface host0 would exist twice in the container"),
        (
            &["--network-interface=tif0", "--network-interface=tif0-alt:other0"],
            "--network-interface=tif0-alt:other0: tif0 is given to the container twice",
        ),
        (&["--network-interface=nope0"], "--network-interface=nope0: no network interface nope0 on the host"),
        (
            &["--network-interface=tif4"],
            "--network-interface=tif4: vxlan vx0 runs over tif4 and would be deleted by the move",
        ),
    ];
    for (opts, msg) in cases.into_iter().filter(|(o, _)| vxlan || o[0] != "--network-interface=tif4") {
        let mut a = opts.to_vec();
        a.push("/bin/true");
        host.enter(|| cmd(&t, &run, &a).run()).error(msg);
        assert_host_as_before(&host, &before, &run, &opts.join(" "));
    }
}

#[test]
fn links_of_someone_else_named_like_ours_are_left_alone() {
    let t = Test::new("net-others");
    let host = Netns::new();
    let run = runtime_dir(&t);
    let m = format!("o{}", std::process::id());
    // A veth of the machine's name that is not ours (another MAC, its peer here), a link called
    // like a zone bridge that is not a bridge, a veth called like an extra veth.
    host.sh(&format!("ip link add name ve-{m} type veth peer name ue-{m}"));
    host.sh(
        "ip link add name vz-zo type veth peer name vz-zo-peer && ip link add name mine0 type veth peer name mine1",
    );
    let before = host.snapshot();
    for (opts, msg) in [
        (vec!["-M", &m, "-n"], format!("create veth ve-{m}/host0: file exists")),
        (vec!["-M", &m, "--network-zone=zo"], "--network-zone=zo: vz-zo exists and is not a bridge (veth)".into()),
        (vec!["-M", &m, "--network-veth-extra=mine0:inside0"], "create veth mine0/inside0: file exists".into()),
    ] {
        let mut a = opts.clone();
        a.push("/bin/true");
        host.enter(|| cmd(&t, &run, &a).run()).error(&msg);
        assert_host_as_before(&host, &before, &run, &opts.join(" "));
    }
}

/// Fails each netlink step of `spawnbox OPTS /bin/sh -c PAYLOAD` in turn, through the
/// fault-injection build: a first run traces the steps (`NETSETUP_TRACE`), then run N fails
/// step N with EIO (`NETSETUP_FAULT=N:5`), and `extra` lists more faults to try
/// (`N:ERRNO:PREFIX`). Each run must end as a failed start (status 1, one line naming the
/// step, the payload never ran) or, for a step spawnbox tolerates (an altname, as nspawn) or
/// retries (giving interfaces back, removing a zone bridge), with the payload run and status
/// 0; either way the host's links and addresses must then be what they were. PAYLOAD ends
/// with `echo ran`. Returns the number of steps. Without a fault-injection build (a test
/// binary run without the sources and without `$SPAWNBOX_FAULT_INJECTION`) the test fails: it
/// must not pass without having run.
fn every_step_fails_cleanly(t: &Test, host: &Netns, opts: &[&str], payload: &str, extra: &[&str]) -> usize {
    let bin = fault_injection_bin()
        .expect("no fault-injection build of spawnbox here: set SPAWNBOX_FAULT_INJECTION to run this test");
    let run = runtime_dir(t);
    let mut args: Vec<String> = ["-D", &t.root.display().to_string(), &format!("--uuid={}", t.uuid), "--console=pipe"]
        .map(String::from)
        .to_vec();
    args.extend(opts.iter().map(|o| o.to_string()));
    args.extend(["/bin/sh".into(), "-c".into(), payload.into()]);
    // The host's addresses settled first (IPv6 duplicate address detection takes a second).
    assert!(wait_until(T, || !host.snapshot().contains("tentative")), "{}", host.snapshot());
    let before = host.snapshot();
    let trace = t.path("netlink-trace");
    let _ = std::fs::remove_file(&trace);
    let traced = host.enter(|| {
        run_bin(bin, &args, &[("SPAWNBOX_RUNTIME_DIR", &run), ("NETSETUP_TRACE", &trace.display().to_string())])
    });
    assert_host_as_before(host, &before, &run, "traced run");
    // Where the path fails by itself (ipvlan without kernel support), its error.
    let own_error = (traced.code == Some(1)).then(|| traced.stderr.clone());
    let steps: Vec<String> = std::fs::read_to_string(&trace).unwrap().lines().map(String::from).collect();
    assert!(!steps.is_empty(), "no netlink step traced: {traced:?}");
    eprintln!("{}: {} netlink steps, {} faults", opts.join(" "), steps.len(), steps.len() + extra.len());
    let faults: Vec<String> =
        (1..=steps.len()).map(|n| format!("{n}:5")).chain(extra.iter().map(|f| f.to_string())).collect();
    for fault in &faults {
        let step = fault.split(':').next().and_then(|n| n.parse::<usize>().ok()).and_then(|n| steps.get(n - 1));
        let what = match fault.splitn(3, ':').nth(2) {
            Some(prefix) => format!("NETSETUP_FAULT={fault} ({prefix})"),
            None => format!("NETSETUP_FAULT={fault} (step {})", step.map_or("?", |s| s.as_str())),
        };
        let out = host.enter(|| run_bin(bin, &args, &[("SPAWNBOX_RUNTIME_DIR", &run), ("NETSETUP_FAULT", fault)]));
        if out.stdout.ends_with("ran\n") {
            assert_eq!(out.code, Some(0), "{what}: {out:?}");
            assert!(out.stderr.lines().all(|l| l.starts_with("WARN")), "{what}: {out:?}");
        } else {
            assert_eq!(out.code, Some(1), "{what}: {out:?}");
            assert_eq!(out.stdout, "", "{what}: {out:?}");
            let errno = fault.split(':').nth(1).and_then(|e| e.parse().ok()).unwrap_or(0);
            let injected = format!(": {}\n", netsetup::errno_text(errno));
            let one_line = out.stderr.starts_with("spawnbox: ") && out.stderr.lines().count() == 1;
            assert!(
                one_line && (out.stderr.ends_with(&injected) || own_error.as_deref() == Some(out.stderr.as_str())),
                "{what}: not one line naming the failed step: {out:?}"
            );
        }
        assert_host_as_before(host, &before, &run, &what);
    }
    steps.len()
}

/// IPv6 duplicate address detection off in `host`, for links created from now on: a link that
/// comes back would show its addresses `tentative` for a second or two.
fn no_dad(host: &Netns) {
    host.sh("sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
}

#[test]
fn every_step_of_lending_an_interface_fails_cleanly() {
    let t = Test::new("net-fault-iface");
    let host = Netns::new();
    no_dad(&host);
    host.sh("ip link add name brt type bridge && ip link set brt address 02:00:00:00:0b:01 && ip link set brt up");
    test_link(&host, "tif0", "tif1");
    host.sh("ip link set tif0 mtu 1400 master brt && ip addr add 192.168.62.1/24 dev tif0 \
         && ip addr add 192.168.62.2/24 label tif0:1 dev tif0 && ip addr add 2001:db8:62::1/64 dev tif0");
    let n = every_step_fails_cleanly(
        &t,
        &host,
        &["--network-interface=tif0"],
        "ip link set tif0 mtu 1300 && ip addr add 10.1.1.1/24 dev tif0 && ip link set tif0 up && echo ran",
        &["1:17:move link", "1:1:move link"],
    );
    assert!(n >= 15, "{n:?} steps");
}

#[test]
fn every_step_of_lending_an_interface_under_another_name_fails_cleanly() {
    let t = Test::new("net-fault-rename");
    let host = Netns::new();
    no_dad(&host);
    test_link(&host, "tif0", "tif1");
    test_link(&host, "tif2", "tif3");
    host.sh("ip addr add 192.168.63.1/24 dev tif0 && ip addr add 192.168.64.1/24 dev tif2");
    let n = every_step_fails_cleanly(
        &t,
        &host,
        // Swapped names: the second move must carry its new name (tif0 is taken inside by then).
        &["--network-interface=tif0-alt:tif2", "--network-interface=tif2:tif0"],
        "ip link set tif2 name renamed0 && ip link set renamed0 address 02:00:00:00:0c:09 && echo ran",
        &["1:17:rename link", "1:16:rename link", "2:17:move link", "1:19:move link"],
    );
    assert!(n >= 20, "{n:?} steps");
}

#[test]
fn every_step_of_a_veth_fails_cleanly() {
    let t = Test::new("net-fault-veth");
    let host = Netns::new();
    no_dad(&host);
    let n = every_step_fails_cleanly(
        &t,
        &host,
        &["-n"],
        "ping -c1 -W2 $(ip route | awk '/default/ {print $3}') >/dev/null && echo ran",
        &[],
    );
    assert!(n >= 8, "{n:?} steps");
}

/// Forwards that follow the container's address: the watch's address dump at the start, the
/// replacing batch when the payload sets an address (a warning: the container runs on), and
/// the release, each failing once.
#[test]
fn every_step_of_forwards_that_follow_the_container_fails_cleanly() {
    let t = Test::new("net-fault-follow");
    let host = Netns::new();
    no_dad(&host);
    let n = every_step_fails_cleanly(
        &t,
        &host,
        &["-n", "--network-address=off", "-p", "8080:80"],
        "ip addr add 10.9.0.2/24 dev host0 && sleep 0.3 && echo ran",
        &[],
    );
    assert!(n >= 8, "{n:?} steps");
}

#[test]
fn every_step_of_a_bridge_port_fails_cleanly() {
    let t = Test::new("net-fault-bridge");
    let host = Netns::new();
    let uplink = Netns::new();
    no_dad(&host);
    host.sh("ip link add name brt type bridge && ip link set brt address 02:00:00:00:0d:01 && ip addr add 192.168.65.1/24 dev brt && ip link set brt up");
    wire(&host, "upb0", "192.168.66.1/32", &uplink, "upb1", "192.168.66.2/24");
    host.sh("ip link set upb0 master brt");
    let n = every_step_fails_cleanly(&t, &host, &["--network-bridge=brt"], "echo ran", &[]);
    assert!(n >= 4, "{n:?} steps");
}

#[test]
fn every_step_of_a_zone_fails_cleanly() {
    let t = Test::new("net-fault-zone");
    let host = Netns::new();
    no_dad(&host);
    let n = every_step_fails_cleanly(
        &t,
        &host,
        &["--network-zone=zf"],
        "ip -o -4 addr show host0 | grep -q 10.0.0 && echo ran",
        &[],
    );
    assert!(n >= 10, "{n:?} steps");
}

#[test]
fn every_step_of_a_macvlan_and_an_ipvlan_fails_cleanly() {
    let t = Test::new("net-fault-mv");
    let host = Netns::new();
    no_dad(&host);
    test_link(&host, "mvp0", "mvp1");
    let n = every_step_fails_cleanly(
        &t,
        &host,
        &["--network-macvlan=mvp0"],
        "ip link show mv-mvp0 >/dev/null && echo ran",
        &[],
    );
    assert!(n >= 2, "{n:?} steps");
    let n = every_step_fails_cleanly(
        &t,
        &host,
        &["--network-ipvlan=mvp0"],
        "ip link show iv-mvp0 >/dev/null && echo ran",
        &[],
    );
    assert!(n >= 1, "{n:?} steps");
}

#[test]
fn every_step_of_everything_at_once_fails_cleanly() {
    let t = Test::new("net-fault-all");
    let host = Netns::new();
    no_dad(&host);
    test_link(&host, "tif0", "tif1");
    test_link(&host, "mvp0", "mvp1");
    host.sh("ip addr add 192.168.67.1/24 dev tif0");
    let n = every_step_fails_cleanly(
        &t,
        &host,
        &[
            "-n",
            "--network-veth-extra=vex0:vex1",
            "--network-macvlan=mvp0",
            "--network-interface=tif0:inside0",
            "--network-nat=yes",
            "-p",
            "8090:80",
        ],
        "ip link show inside0 >/dev/null && ip link show vex1 >/dev/null && echo ran",
        &[],
    );
    assert!(n >= 25, "{n:?} steps");
}

#[test]
fn network_namespace_path_joins_the_namespace_as_it_is() {
    let t = Test::new("net-nspath");
    let host = Netns::new();
    let other = Netns::new();
    let run = runtime_dir(&t);
    other.sh("ip link add name probe0 type veth peer name probe1");
    let path = other.path().display().to_string();
    let out = host.enter(|| {
        sh(
            &t,
            &run,
            &[&format!("--network-namespace-path={path}")],
            "ip -o link show | cut -d: -f2 | cut -d@ -f1 | tr -d ' ' | sort | tr '\\n' ' '",
        )
    });
    assert_eq!(out.ok(), "lo probe0 probe1 ");
}

#[test]
fn network_namespace_path_with_a_user_namespace() {
    // As nspawn: the namespace is joined before PID 1's user namespace exists; /sys shows its
    // links (a sysfs made in it from outside); the container's root has no privilege over it.
    let t = Test::new("net-nspath-userns");
    let host = Netns::new();
    let other = Netns::new();
    let run = runtime_dir(&t);
    other.sh("ip link add name probe0 type veth peer name probe1");
    let path = other.path().display().to_string();
    let out = host.enter(|| {
        sh(
            &t,
            &run,
            &["-U", &format!("--network-namespace-path={path}")],
            "id -u; ip -o link show | cut -d: -f2 | cut -d@ -f1 | tr -d ' ' | sort | tr '\\n' ' '; echo; \
             ls /sys/class/net | tr '\\n' ' '; echo; ip link set probe0 up 2>&1 | sed 's/.*: //'",
        )
    });
    assert_eq!(out.ok(), "0\nlo probe0 probe1 \nlo probe0 probe1 \nOperation not permitted\n");
    assert_eq!(other.links().len(), 3);
}

#[test]
fn twenty_concurrent_containers_get_distinct_subnets_and_reach_their_host_side() {
    let t = Arc::new(Test::new("net-twenty"));
    let host = Arc::new(Netns::new());
    let run = runtime_dir(&t);
    let before = host.links();
    let pid = std::process::id();
    // All twenty must hold their lease at the same time (a finished container's subnet may be
    // reused): each waits until every container has reported its address.
    let shared = t.host_dir("shared");
    let bind = format!("--bind={}:/shared", shared.display());
    let (t2, host2, run2) = (t.clone(), host.clone(), run.clone());
    let results = parallel(20, 20, move |i| {
        let m = format!("c{i}-{pid}");
        host2.enter(|| {
            sh(
                &t2,
                &run2,
                &["-M", &m, "-n", &bind],
                "a=$(ip -o -4 addr show host0 | awk '{print $4}'); echo $a; echo $a > /shared/$(hostname); \
                 n=0; while [ $(ls /shared | wc -l) -lt 20 ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done; \
                 gw=$(ip route | awk '/default/ {print $3}'); ping -c1 -W3 $gw >/dev/null && echo ok",
            )
        })
    });
    let mut subnets = Vec::new();
    for out in &results {
        let stdout = out.ok();
        let (addr, rest) = stdout.split_once('\n').unwrap();
        assert_eq!(rest, "ok\n", "{out:?}");
        let (ip, len) = addr.split_once('/').unwrap();
        assert_eq!(len, "28");
        let ip: Ipv4Addr = ip.parse().unwrap();
        subnets.push(u32::from(ip) & !15);
    }
    subnets.sort();
    subnets.dedup();
    assert_eq!(subnets.len(), 20, "subnets collided");
    assert_clean(&host, &before, &run);
    drop(host);
    drop(Arc::try_unwrap(t).ok().expect("test still shared"));
}

#[test]
fn a_killed_launchers_leftovers_go_with_cleanup_or_the_next_start() {
    let t = Test::new("net-killed");
    let host = Netns::new();
    let run = runtime_dir(&t);
    let before = host.links();
    let m = format!("k{}", std::process::id());
    let opts = ["-M", m.as_str(), "--network-zone=zk", "--network-nat=yes", "-p", "8081:80"];
    let start_and_kill = || {
        host.enter(|| {
            let mut a = opts.to_vec();
            a.extend(["/bin/sh", "-c", "echo ready; exec sleep 30"]);
            let mut r = cmd(&t, &run, &a).spawn();
            r.wait_for_stdout("ready\n", T);
            r.kill(Signal::KILL);
            let out = r.wait();
            assert_eq!(out.signal, Some(9));
        });
        assert_eq!(leases(&run), std::slice::from_ref(&m));
        assert!(host.ruleset().contains(&format!("comment \"{m}\"")));
        // Both tables: the zone's IPv6 prefix is masqueraded and the port forwarded there too.
        let ip6 = host.sh("nft list table ip6 spawnbox");
        assert_eq!(ip6.matches(&format!("comment \"{m}\"")).count(), 3, "{ip6}");
        assert!(host.links().contains(&"vz-zk bridge".to_string()));
    };
    start_and_kill();
    let out = host.enter(|| cmd(&t, &run, &["-M", &m, "--cleanup"]).run());
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_clean(&host, &before, &run);

    start_and_kill();
    let mut a = opts.to_vec();
    a.extend(["/bin/true"]);
    let out = host.enter(|| cmd(&t, &run, &a).run());
    out.ok();
    assert_clean(&host, &before, &run);
}

#[test]
fn restarting_at_once_reuses_the_names_of_the_dying_links() {
    let t = Test::new("net-restart");
    let host = Netns::new();
    let run = runtime_dir(&t);
    let before = host.links();
    host.enter(|| {
        for _ in 0..5 {
            let out = sh(
                &t,
                &run,
                &["-M", "again", "-n"],
                "ping -c1 -W2 $(ip route | awk '/default/ {print $3}') >/dev/null && echo ok",
            );
            assert_eq!(out.ok(), "ok\n");
        }
    });
    assert_clean(&host, &before, &run);
}

#[test]
fn errors_name_the_operation_and_leave_nothing_behind() {
    let t = Test::new("net-errors");
    let host = Netns::new();
    let run = runtime_dir(&t);
    host.sh("ip link add name ipvp0 type veth peer name ipvp1");
    let before = host.links();
    host.enter(|| {
        let m = format!("e{}", std::process::id());
        cmd(&t, &run, &["-M", &m, "--network-bridge=nobr", "/bin/true"])
            .run()
            .error(&format!("add link vb-{m} to bridge nobr: query link nobr: no such device"));
        cmd(&t, &run, &["-M", &m, "--network-macvlan=nolink", "/bin/true"])
            .run()
            .error("create macvlan mv-nolink on nolink: query link nolink: no such device");
        cmd(&t, &run, &["-n", "--network-nat=yes", "--network-address=off", "/bin/true"])
            .run()
            .error("--network-nat=yes needs automatic addresses (not with --network-address=off)");
        let out = cmd(
            &t,
            &run,
            &[
                "-M",
                &m,
                "--network-ipvlan=ipvp0",
                "/bin/sh",
                "-c",
                "ip -o link show iv-ipvp0 >/dev/null && echo ipvlan",
            ],
        )
        .run();
        if std::path::Path::new("/sys/module/ipvlan").exists() {
            assert_eq!(out.ok(), "ipvlan\n");
        } else {
            out.error("create ipvlan iv-ipvp0 on ipvp0: operation not supported");
        }
    });
    assert_clean(&host, &before, &run);
}

#[test]
fn systemd_nspawn_network_mac_sets_the_containers_veth_address() {
    let t = Test::new("net-mac");
    let host = Netns::new();
    let run = runtime_dir(&t);
    let out = host.enter(|| {
        cmd(&t, &run, &["-n", "--network-address=off", "/bin/cat", "/sys/class/net/host0/address"])
            .env("SYSTEMD_NSPAWN_NETWORK_MAC", "02:34:56:78:9A:BC")
            .run()
    });
    assert_eq!(out.ok(), "02:34:56:78:9a:bc\n");
    let out = host.enter(|| cmd(&t, &run, &["-n", "/bin/true"]).env("SYSTEMD_NSPAWN_NETWORK_MAC", "02:34").run());
    out.error("$SYSTEMD_NSPAWN_NETWORK_MAC=02:34: invalid MAC address");
}
