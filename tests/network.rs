//! Root integration tests of container networking. Every test runs spawnbox inside network
//! namespaces it creates (`Netns`: the "host", and an "uplink" where needed), never on the
//! machine's real interfaces, sends traffic only to addresses in those namespaces, uses a
//! state directory of its own (`SPAWNBOX_RUNTIME_DIR`), and checks that no link, address,
//! nft rule or lease is left behind.

use rustix::process::Signal;
use spawnbox_tests::net::{leases, runtime_dir, Netns};
use spawnbox_tests::{parallel, wait_until, Cmd, Output, Test};
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
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
        let lease = std::fs::read_to_string(format!("{run}/net/{m}.lease")).unwrap();
        assert!(lease.contains("subnet=192.168.201.0/28\naddr=192.168.201.2\n"), "{lease}");
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
        let out = sh(
            &b,
            &run,
            &["--network-zone=z1"],
            "ip -o -4 addr show host0 | awk '{print $4}'; ping -c1 -W2 10.0.0.2 >/dev/null && echo reached",
        );
        assert_eq!(out.ok(), "10.0.0.3/28\nreached\n");
        let out = sh(
            &c,
            &run,
            &["--network-zone=z2"],
            "ip -o -4 addr show host0 | awk '{print $4}'; ping -c1 -W1 10.0.0.2 >/dev/null || echo unreachable",
        );
        assert_eq!(out.ok(), "10.0.0.18/28\nunreachable\n");
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

#[test]
fn network_interface_is_moved_in_and_back_under_its_name() {
    let t = Test::new("net-iface");
    let host = Netns::new();
    let run = runtime_dir(&t);
    host.sh("ip link add name tif0 type veth peer name tif1");
    let before = host.links();
    host.enter(|| {
        let mut r = cmd(
            &t,
            &run,
            &[
                "--network-interface=tif0:inside0",
                "/bin/sh",
                "-c",
                "ip -o link show | cut -d: -f2 | cut -d@ -f1 | tr -d ' '; echo ready; exec sleep 30",
            ],
        )
        .spawn();
        r.wait_for_stdout("ready\n", T);
        assert_eq!(r.stdout_so_far(), "lo\ninside0\nready\n");
        assert!(!host.links().iter().any(|l| l.starts_with("tif0 ")), "tif0 is in the container");
        r.kill(Signal::TERM);
        r.wait();
    });
    assert_eq!(host.links(), before, "tif0 moved back and renamed back at once");
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
        assert_eq!(leases(&run), [format!("{m}.lease")]);
        assert!(host.ruleset().contains(&format!("comment \"{m}\"")));
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
