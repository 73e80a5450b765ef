//! Where webhooks may go (rules 33 and 43): a `webhook_url` whose host resolves to any
//! address that is not global unicast — loopback, private, link-local, unspecified, shared,
//! benchmarking, documentation, reserved, multicast, or an IPv4 address of those kinds
//! embedded in an IPv6 translation prefix — is refused (422 `webhook_target_forbidden`) when
//! the settings are saved, and checked again before every delivery (DNS may change), unless
//! the server runs with `webhook_allow_private`. Delivery resolves the name once, checks every
//! address, and connects only to the addresses it checked ([`Pinned`]), so a DNS answer that
//! changes between the check and the connection (rebinding) cannot redirect it. So the
//! webhook sender cannot be pointed at the machine itself or the internal network to probe it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use crate::service::error::{Error, Result};

/// Whether `ip` is one of the addresses a webhook may not reach: every address that is not
/// global unicast.
pub fn forbidden_ip(ip: IpAddr) -> bool {
    !is_global_unicast(ip)
}

/// Whether `ip` is a global unicast address: one a webhook may be delivered to.
pub fn is_global_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => global_v4(v4),
        IpAddr::V6(v6) => global_v6(v6),
    }
}

fn global_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    !(a == 0 // "this network" 0.0.0.0/8 (0.0.0.0 included)
        || a == 10 // private
        || a == 127 // loopback
        || (a == 100 && (64..128).contains(&b)) // shared address space 100.64.0.0/10
        || (a == 169 && b == 254) // link-local
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments 192.0.0.0/24
        || (a == 192 && b == 0 && c == 2) // documentation TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast (deprecated)
        || (a == 192 && b == 168) // private
        || (a == 198 && (18..20).contains(&b)) // benchmarking 198.18.0.0/15
        || (a == 198 && b == 51 && c == 100) // documentation TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // documentation TEST-NET-3
        || a >= 224) // multicast 224/4, reserved 240/4, broadcast
}

fn global_v6(v6: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(v6) {
        return global_v4(v4);
    }
    let s = v6.segments();
    // Global unicast is 2000::/3 (so ULA fc00::/7, link-local fe80::/10, multicast ff00::/8,
    // discard 100::/64, local-use NAT64 64:ff9b:1::/48 and the rest are not); within it, the
    // special-purpose blocks below are not either.
    let special = match s[0] {
        // IETF protocol assignments 2001::/23 (Teredo 2001::/32 included), documentation
        // 2001:db8::/32.
        0x2001 => s[1] < 0x0200 || s[1] == 0x0db8,
        // Documentation 3fff::/20.
        0x3fff => s[1] < 0x1000,
        _ => false,
    };
    (s[0] & 0xe000) == 0x2000 && !special
}

/// The IPv4 address an IPv6 address carries, for the prefixes that carry one: IPv4-mapped
/// `::ffff:0:0/96`, SIIT `::ffff:0:0:0/96`, IPv4-compatible `::/96` (not `::` and `::1`),
/// NAT64 `64:ff9b::/96`, and 6to4 `2002::/16` (bits 16..48). (The local-use NAT64 prefix
/// `64:ff9b:1::/48` is outside global unicast and refused whole.)
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low),
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(low),
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, _, _] => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

/// The addresses `url` resolves to (blocking: DNS). `None` when the URL names no host or
/// the host does not resolve.
pub fn resolve(url: &str) -> Option<Vec<SocketAddr>> {
    let u = url::Url::parse(url).ok()?;
    let port = u.port_or_known_default()?;
    let addrs: Vec<SocketAddr> = match u.host()? {
        url::Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        url::Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        url::Host::Domain(d) => (d, port).to_socket_addrs().ok()?.collect(),
    };
    (!addrs.is_empty()).then_some(addrs)
}

/// Settings check (blocking: DNS): `Ok` when `url` may be a webhook target.
pub fn check(url: &str, allow_private: bool) -> Result<()> {
    let http = url::Url::parse(url)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if allow_private || !http {
        // Not an http(s) URL: the settings validation refuses it with its own message.
        return Ok(());
    }
    let Some(addrs) = resolve(url) else {
        return Err(Error::field(
            "webhook_url",
            "the host does not resolve to any address",
        ));
    };
    if addrs.iter().any(|a| forbidden_ip(a.ip())) {
        return Err(Error::invalid(
            "webhook_target_forbidden",
            "webhook_url must name a public (global unicast) address: not loopback, private, \
             link-local, multicast, reserved, or such an address inside an IPv6 one",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_33_internal_addresses_are_forbidden() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(forbidden_ip(bad.parse().unwrap()), "{bad}");
        }
        for good in ["93.184.216.34", "8.8.8.8", "2606:2800:220:1::1"] {
            assert!(!forbidden_ip(good.parse().unwrap()), "{good}");
        }
    }

    /// Rule 43: every address that is not global unicast, including IPv4 addresses carried in
    /// IPv6 translation and tunnel prefixes; global addresses in those prefixes pass.
    #[test]
    fn rule_43_only_global_unicast_addresses_are_allowed() {
        for bad in [
            // IPv4 special-purpose blocks.
            "198.18.0.1",
            "198.19.255.255",
            "192.0.0.8",
            "192.0.0.170",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "192.88.99.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "0.1.2.3",
            "100.127.255.254",
            // IPv4 carried in IPv6.
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b:1::a9fe:a9fe",
            "64:ff9b:1::808:808",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "2002:c0a8:101::1",
            "2002::1",
            "::ffff:0:7f00:1",
            "::ffff:0:a00:1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::10.0.0.1",
            // IPv6 outside global unicast, or special within it.
            "ff02::1",
            "ff0e::1",
            "fc00::1",
            "fe80::1",
            "fec0::1",
            "100::1",
            "2001:db8::1",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:10::1",
            "3fff::1",
            "4000::1",
        ] {
            assert!(forbidden_ip(bad.parse().unwrap()), "{bad}");
        }
        for good in [
            "8.8.8.8",
            "1.1.1.1",
            "100.128.0.1",
            "198.20.0.1",
            "192.0.1.1",
            "223.255.255.254",
            "2606:4700::1111",
            "2a00:1450:4001::1",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(!forbidden_ip(good.parse().unwrap()), "{good}");
        }
    }

    #[test]
    fn rule_33_check_refuses_literal_and_named_loopback() {
        for url in [
            "http://127.0.0.1:9/x",
            "http://[::1]/x",
            "http://localhost:8080/x",
            "https://10.0.0.5/hook",
        ] {
            let e = check(url, false).unwrap_err();
            assert_eq!(e.code(), "webhook_target_forbidden", "{url}");
            assert!(check(url, true).is_ok(), "{url} allowed with allow_private");
        }
        assert!(check("https://93.184.216.34/hook", false).is_ok());
        for url in [
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:7f00:1::1]/",
            "http://[::ffff:0:7f00:1]/",
            "http://198.18.0.1/",
            "http://224.0.0.1/",
        ] {
            let e = check(url, false).unwrap_err();
            assert_eq!(e.code(), "webhook_target_forbidden", "{url}");
        }
    }
}
