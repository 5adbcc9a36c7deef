//! lwIP's SNMP agent (`--snmp COMMUNITY`) against net-snmp's snmpget and
//! snmpwalk (Debian's `snmp`, numeric OIDs: Debian ships no MIB files), and
//! scapy's malformed requests. lwip-tap runs as it does by default: started
//! as root, it serves as nobody under the seccomp filter.

mod common;

use std::time::Duration;

use common::{LwipTap, Netns, LWIP_ADDR};

/// `snmpget -v2c -c COMMUNITY -On -Oq 172.16.0.2 OIDS`: each answer's
/// `OID value`, or the tool's error output.
fn snmpget(ns: &Netns, community: &str, oids: &str) -> Result<Vec<(String, String)>, String> {
    snmp(ns, "snmpget", community, oids)
}

fn snmp(
    ns: &Netns,
    tool: &str,
    community: &str,
    oids: &str,
) -> Result<Vec<(String, String)>, String> {
    let out = ns.run(&format!(
        "timeout 20 {tool} -v2c -c {community} -On -Oq -t 1 -r 1 {LWIP_ADDR} {oids}"
    ));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(text
        .lines()
        .filter_map(|line| {
            let (oid, value) = line.split_once(' ')?;
            Some((oid.to_string(), value.trim_matches('"').to_string()))
        })
        .collect())
}

fn value<'a>(answers: &'a [(String, String)], oid: &str) -> &'a str {
    answers
        .iter()
        .find(|(o, _)| o == oid)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {oid} in {answers:?}"))
}

fn number(answers: &[(String, String)], oid: &str) -> u64 {
    let v = value(answers, oid);
    v.parse()
        .unwrap_or_else(|_| panic!("{oid}: '{v}' is not a number"))
}

/// lwIP's MIB-2 counters from the `stats: MIB2 ...` line of the block that
/// SIGUSR1 logs (the same counters the agent answers with), and the pools'
/// use from the same block.
fn mib2_stats(lwip: &mut LwipTap) -> (Vec<(String, u64)>, common::Stats) {
    let pools = lwip.stats();
    let log = lwip.log();
    let line = log
        .lines()
        .rev()
        .find_map(|l| l.split("stats: MIB2 ").nth(1))
        .unwrap_or_else(|| panic!("no MIB2 line:\n{log}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let counters = words
        .chunks(2)
        .map(|kv| (kv[0].to_string(), kv[1].parse().unwrap()))
        .collect();
    (counters, pools)
}

fn counter(counters: &[(String, u64)], name: &str) -> u64 {
    counters
        .iter()
        .find(|(n, _)| n == name)
        .map_or(0, |(_, v)| *v)
}

const SYS_DESCR: &str = ".1.3.6.1.2.1.1.1.0";
const SYS_NAME: &str = ".1.3.6.1.2.1.1.5.0";
const IF_NUMBER: &str = ".1.3.6.1.2.1.2.1.0";
const IP_IN_RECEIVES: &str = ".1.3.6.1.2.1.4.3.0";
const IP_IN_DELIVERS: &str = ".1.3.6.1.2.1.4.9.0";
const TCP_PASSIVE_OPENS: &str = ".1.3.6.1.2.1.6.6.0";
const TCP_IN_SEGS: &str = ".1.3.6.1.2.1.6.10.0";
const TCP_OUT_SEGS: &str = ".1.3.6.1.2.1.6.11.0";
const UDP_IN_DATAGRAMS: &str = ".1.3.6.1.2.1.7.1.0";
const UDP_OUT_DATAGRAMS: &str = ".1.3.6.1.2.1.7.4.0";

#[test]
fn snmp_agent_answers_mib2_with_the_counters_stats_shows() {
    require_network!("snmpget", "snmpwalk");
    let ns = Netns::new("snmp");
    let mut lwip = ns.transient_lwip_tap(&["-E", "--snmp", "s3cret-ro"]);
    let line = lwip.wait_for_log("snmp: UDP port 161", Duration::from_secs(5));
    assert!(line.contains("read-only"), "{line}");
    lwip.wait_for_log("running as nobody", Duration::from_secs(10));
    // Some TCP for the tcp group.
    ns.tcp_echo(LWIP_ADDR, 7, 10_000, 10).unwrap();

    let sys = snmpget(
        &ns,
        "s3cret-ro",
        &format!("{SYS_DESCR} {SYS_NAME} {IF_NUMBER}"),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", lwip.log()));
    let descr = value(&sys, SYS_DESCR);
    assert!(
        descr.starts_with("lwip-tap ") && descr.contains("(lwIP 2."),
        "{descr}"
    );
    assert_eq!(value(&sys, SYS_NAME), "lwip-tap");
    assert_eq!(number(&sys, IF_NUMBER), 1);

    // The interfaces table: one row, Ethernet, its MAC, traffic both ways.
    let mac = lwip.mac("tap0");
    let rows = snmp(&ns, "snmpwalk", "s3cret-ro", ".1.3.6.1.2.1.2.2.1")
        .unwrap_or_else(|e| panic!("{e}\n{}", lwip.log()));
    assert_eq!(value(&rows, ".1.3.6.1.2.1.2.2.1.3.1"), "6", "{rows:?}");
    let phys = value(&rows, ".1.3.6.1.2.1.2.2.1.6.1")
        .trim()
        .replace(' ', ":");
    assert!(phys.eq_ignore_ascii_case(&mac), "{phys} is not {mac}");
    let in_octets = number(&rows, ".1.3.6.1.2.1.2.2.1.10.1");
    let out_octets = number(&rows, ".1.3.6.1.2.1.2.2.1.16.1");
    assert!(in_octets > 10_000 && out_octets > 10_000, "{rows:?}");

    // The ip, tcp and udp counters: lwIP's MIB-2 counters, which --stats
    // shows too. Read right after the answer: the request itself is
    // counted in (before lwIP answered it), the answer out (after).
    let oids = [
        IP_IN_RECEIVES,
        IP_IN_DELIVERS,
        TCP_PASSIVE_OPENS,
        TCP_IN_SEGS,
        TCP_OUT_SEGS,
        UDP_IN_DATAGRAMS,
        UDP_OUT_DATAGRAMS,
    ];
    let got = snmpget(&ns, "s3cret-ro", &oids.join(" ")).unwrap();
    let (stats, _) = mib2_stats(&mut lwip);
    for (oid, name, after) in [
        (IP_IN_RECEIVES, "ipinreceives", 0),
        (IP_IN_DELIVERS, "ipindelivers", 0),
        (TCP_PASSIVE_OPENS, "tcppassiveopens", 0),
        (TCP_IN_SEGS, "tcpinsegs", 0),
        (TCP_OUT_SEGS, "tcpoutsegs", 0),
        (UDP_IN_DATAGRAMS, "udpindatagrams", 0),
        (UDP_OUT_DATAGRAMS, "udpoutdatagrams", 1),
    ] {
        let (snmp, stat) = (number(&got, oid), counter(&stats, name));
        assert_eq!(
            snmp + after,
            stat,
            "{name}: SNMP {snmp}, --stats {stat}\n{stats:?}"
        );
    }
    assert!(counter(&stats, "tcppassiveopens") >= 1, "{stats:?}");

    // All of MIB-2, tables included. lwIP's listeners take both IP
    // versions, so they are in the version-neutral tables (RFC 4022's
    // tcpListenerTable, RFC 4113's udpEndpointTable), indexed by an
    // empty address and the port: the echo server's and the agent's.
    let all = snmp(&ns, "snmpwalk", "s3cret-ro", ".1.3.6.1.2.1")
        .unwrap_or_else(|e| panic!("{e}\n{}", lwip.log()));
    for oid in [
        ".1.3.6.1.2.1.6.20.1.4.0.0.7",
        ".1.3.6.1.2.1.7.7.1.8.0.0.7.0.0.0.0",
        ".1.3.6.1.2.1.7.7.1.8.0.0.161.0.0.0.0",
    ] {
        assert!(all.iter().any(|(o, _)| o == oid), "no {oid}: {all:?}");
    }
    eprintln!("snmpwalk of MIB-2: {} values", all.len());
    assert!(counter(&stats, "udpindatagrams") >= 3, "{stats:?}");
    assert!(lwip.is_running(), "{}", lwip.log());
}

#[test]
fn snmp_refuses_wrong_communities_sets_and_malformed_requests() {
    require_network!("snmpget", "snmpset", "/usr/bin/python3");
    let ns = Netns::new("snmpbad");
    let mut lwip = ns.transient_lwip_tap(&["--snmp", "public"]);
    lwip.wait_for_log("snmp: UDP port 161", Duration::from_secs(5));
    snmpget(&ns, "public", SYS_DESCR).unwrap_or_else(|e| panic!("{e}\n{}", lwip.log()));
    let before = lwip.stats();

    // A wrong community: no answer (snmpget times out), one line.
    let err = snmpget(&ns, "private", SYS_DESCR).unwrap_err();
    assert!(err.contains("Timeout"), "{err}");
    lwip.wait_for_log(
        "refused, no answer: wrong community",
        Duration::from_secs(5),
    );
    // A SET, with the read community or lwIP's default write one: no answer.
    for community in ["public", "private"] {
        let out = ns.run(&format!(
            "timeout 20 snmpset -v2c -c {community} -t 1 -r 0 {LWIP_ADDR} {SYS_NAME} s x"
        ));
        assert!(!out.status.success());
    }
    let sys = snmpget(&ns, "public", SYS_NAME).unwrap();
    assert_eq!(value(&sys, SYS_NAME), "lwip-tap");

    // From scapy: not ASN.1, a truncated message, a length past the end,
    // an SNMPv3 header, a huge OID, deep nesting; then a burst of 50.
    common::scapy_to_udp_port(
        &ns,
        161,
        "to_port(b'hello, agent')\n\
         to_port(b'\\x30\\x26\\x02\\x01\\x01\\x04\\x06public\\xa0\\x19')\n\
         to_port(b'\\x30\\x82\\xff\\xff\\x02\\x01\\x01\\x04\\x06public')\n\
         to_port(b'\\x30\\x0e\\x02\\x01\\x03\\x30\\x09\\x02\\x01\\x00\\x02\\x01\\x00\\x04\\x01\\x00')\n\
         to_port(b'\\x30\\x81\\xa0\\x02\\x01\\x01\\x04\\x06public\\xa0\\x81\\x92\\x02\\x01\\x01\\x02\\x01\\x00\\x02\\x01\\x00\\x30\\x81\\x86\\x30\\x81\\x83\\x06\\x7f' + b'\\x2b' + b'\\x81' * 125 + b'\\x01\\x05\\x00')\n\
         to_port(b'\\x30\\x80' * 40)\n\
         for n in range(50):\n\
         \x20   to_port(b'\\x30\\x03\\x02\\x01', sport=41000 + n)\n"
    );
    lwip.wait_for_log(
        "refused, no answer: malformed request",
        Duration::from_secs(5),
    );
    // Still answering, and back to where it was.
    let sys = snmpget(&ns, "public", SYS_DESCR).unwrap_or_else(|e| panic!("{e}\n{}", lwip.log()));
    assert!(value(&sys, SYS_DESCR).starts_with("lwip-tap "));
    common::assert_pools_back(&mut lwip, &before);
    assert!(lwip.is_running(), "{}", lwip.log());
    // At most one line per bad request, at warn level; repeats within a
    // second from one peer go to debug.
    let lines = lwip.log().matches("refused, no answer").count();
    assert!((3..=60).contains(&lines), "{lines} lines:\n{}", lwip.log());
}

#[test]
fn snmp_community_is_checked_before_anything_starts() {
    require_network!();
    let ns = Netns::new("snmpargs");
    for (community, reason) in [
        ("''", "it is empty"),
        (&"x".repeat(33), "longer than 32 bytes"),
        ("'a b'", "printable ASCII without spaces"),
    ] {
        let line = ns.lwip_tap_refuses(
            "",
            &format!("-i {} --snmp {community}", common::TRANSIENT_SPEC),
            2,
        );
        assert!(line.contains("--snmp") && line.contains(reason), "{line}");
    }
}
