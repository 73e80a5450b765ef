//! The client address of a request: the peer, or — when the peer is a trusted reverse proxy —
//! the right-most `X-Forwarded-For` hop that is not itself a trusted proxy.
//!
//! Rule 47: addresses are normalised where they are read. An IPv4 client reaching a
//! dual-stack listener appears as `::ffff:a.b.c.d`; it is taken as `a.b.c.d`, so IPv4 CIDRs
//! (token bindings, trusted proxies, the metrics allow-list) match it, it is recorded and
//! throttled as the IPv4 address it is (not as part of one shared IPv6 /64).

use std::net::{IpAddr, Ipv4Addr};

use actix_web::HttpRequest;
use ipnet::IpNet;

/// The peer's address, IPv4-mapped IPv6 addresses as IPv4.
pub fn peer_ip(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map(|a| a.ip().to_canonical())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Whether `ip` is in one of `nets`, compared normalised: an IPv4 address matches an IPv4
/// CIDR whether it is written `a.b.c.d` or `::ffff:a.b.c.d`, and a CIDR written in the
/// mapped form (`::ffff:10.0.0.0/104`) still matches.
pub fn in_nets(ip: IpAddr, nets: &[IpNet]) -> bool {
    let ip = ip.to_canonical();
    let mapped = match ip {
        IpAddr::V4(v4) => Some(IpAddr::V6(v4.to_ipv6_mapped())),
        IpAddr::V6(_) => None,
    };
    nets.iter()
        .any(|n| n.contains(&ip) || mapped.is_some_and(|m| n.contains(&m)))
}

pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> IpAddr {
    let peer = peer_ip(req);
    if trusted.is_empty() || !in_nets(peer, trusted) {
        return peer;
    }
    let hops: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .collect();
    hops.iter()
        .rev()
        .find(|ip| !in_nets(**ip, trusted))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn rule_47_mapped_addresses_match_ipv4_cidrs() {
        let v4 = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        for ip in ["::ffff:127.0.0.1", "127.0.0.1", "::ffff:10.1.2.3"] {
            assert!(in_nets(ip.parse().unwrap(), &v4), "{ip}");
        }
        assert!(!in_nets("::ffff:192.168.0.1".parse().unwrap(), &v4));
        // A CIDR written in the mapped form matches the plain IPv4 address too.
        let mapped = nets(&["::ffff:10.0.0.0/104"]);
        assert!(in_nets("10.9.9.9".parse().unwrap(), &mapped));
        assert!(in_nets("::ffff:10.9.9.9".parse().unwrap(), &mapped));
    }

    #[test]
    fn rule_47_the_client_address_is_normalised() {
        let req = TestRequest::default()
            .peer_addr("[::ffff:127.0.0.1]:4000".parse().unwrap())
            .to_http_request();
        assert_eq!(peer_ip(&req), "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(client_ip(&req, &[]), "127.0.0.1".parse::<IpAddr>().unwrap());
        // Behind a trusted proxy (given as IPv4), a mapped peer and a mapped forwarded hop.
        let req = TestRequest::default()
            .peer_addr("[::ffff:10.0.0.2]:4000".parse().unwrap())
            .insert_header(("x-forwarded-for", "::ffff:203.0.113.7"))
            .to_http_request();
        assert_eq!(
            client_ip(&req, &nets(&["10.0.0.0/8"])),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        // Real IPv6 stays IPv6.
        let req = TestRequest::default()
            .peer_addr("[2001:db8::1]:4000".parse().unwrap())
            .to_http_request();
        assert_eq!(peer_ip(&req), "2001:db8::1".parse::<IpAddr>().unwrap());
    }
}
