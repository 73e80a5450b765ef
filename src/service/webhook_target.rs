//! Where webhooks may go (rule 33): a `webhook_url` whose host resolves to a loopback,
//! private, link-local or unspecified address is refused (422 `webhook_target_forbidden`)
//! when the settings are saved, and checked again before every delivery (DNS may change),
//! unless the server runs with `webhook_allow_private`. So the webhook sender cannot be
//! pointed at the machine itself or the internal network to probe it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use crate::error::{ApiError, ApiResult};

/// Whether `ip` is one of the addresses a webhook may not reach.
pub fn forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (first & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
                || is_ipv4_compatible(v6)
        }
    }
}

fn forbidden_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || a == 0 // "this network" 0.0.0.0/8
        || (a == 100 && (64..128).contains(&b)) // shared address space 100.64.0.0/10
}

/// `::a.b.c.d` (deprecated IPv4-compatible form; `::1` and `::` are handled above).
fn is_ipv4_compatible(v6: Ipv6Addr) -> bool {
    let s = v6.segments();
    s[..6].iter().all(|x| *x == 0) && !(s[6] == 0 && s[7] <= 1)
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
pub fn check(url: &str, allow_private: bool) -> ApiResult<()> {
    let http = url::Url::parse(url)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if allow_private || !http {
        // Not an http(s) URL: the settings validation refuses it with its own message.
        return Ok(());
    }
    let Some(addrs) = resolve(url) else {
        return Err(ApiError::field(
            "webhook_url",
            "the host does not resolve to any address",
        ));
    };
    if addrs.iter().any(|a| forbidden_ip(a.ip())) {
        return Err(ApiError::unprocessable(
            "webhook_target_forbidden",
            "webhook_url may not name a loopback, private, link-local or unspecified address",
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
    }
}
