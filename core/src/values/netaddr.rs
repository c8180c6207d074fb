//! Client addresses for per-IP limits (R2), behind reverse proxies and over IPv6.
//!
//! - Only a peer inside `trusted_proxies` may name the client (`Forwarded: for=` or
//!   `X-Forwarded-For`); the header is read from the right, skipping trusted hops, so a client
//!   cannot prepend an address of its choosing. Without trusted proxies the header is ignored.
//! - IPv6 clients are limited per /64 (one subscriber's prefix): one host owns billions of
//!   /128 addresses, so counting each alone would make every per-IP limit void.

use std::net::{IpAddr, Ipv6Addr};

/// A network in CIDR form (`10.0.0.0/8`, `fd00::/8`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an address or network like 10.0.0.0/8"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
            None => max,
        };
        Ok(Self { net, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(i) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(i) & mask
            }
            _ => false,
        }
    }
}

/// A comma-separated list of networks (empty: none).
pub fn parse_cidrs(s: &str) -> Result<Vec<Cidr>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(Cidr::parse)
        .collect()
}

/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) are their IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The addresses a proxy chain names, nearest last: `Forwarded: for=…` (RFC 7239) when
/// present, else `X-Forwarded-For`.
fn forwarded_chain(forwarded: Option<&str>, x_forwarded_for: Option<&str>) -> Vec<IpAddr> {
    if let Some(f) = forwarded {
        return f
            .split(',')
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| parse_node(v.trim().trim_matches('"')))
                        .flatten()
                })
            })
            .collect();
    }
    x_forwarded_for
        .map(|x| x.split(',').filter_map(|a| parse_node(a.trim())).collect())
        .unwrap_or_default()
}

/// `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711` or `2001:db8::1`.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    s.parse()
        .ok()
        .or_else(|| s.rsplit_once(':').and_then(|(a, _)| a.parse().ok()))
}

/// The client's address: the peer itself, unless the peer is a trusted proxy; then the
/// nearest address in the forwarded chain that is not itself a trusted proxy.
pub fn client_ip(
    peer: IpAddr,
    forwarded: Option<&str>,
    x_forwarded_for: Option<&str>,
    trusted: &[Cidr],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return canonical(peer);
    }
    let chain = forwarded_chain(forwarded, x_forwarded_for);
    let mut client = peer;
    for hop in chain.into_iter().rev() {
        client = hop;
        if !is_trusted(hop) {
            break;
        }
    }
    canonical(client)
}

/// R2: the key per-IP limits count under: the IPv4 address, or the IPv6 /64.
pub fn rate_bucket(ip: &str) -> String {
    match ip.parse::<IpAddr>().map(canonical) {
        Ok(IpAddr::V6(v6)) => {
            let prefix = u128::from(v6) & (u128::MAX << 64);
            format!("{}/64", Ipv6Addr::from(prefix))
        }
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn r2_ipv6_clients_are_limited_per_64() {
        assert_eq!(rate_bucket("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            rate_bucket("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            rate_bucket("2001:db8:1:2::7")
        );
        assert_ne!(
            rate_bucket("2001:db8:1:3::1"),
            rate_bucket("2001:db8:1:2::1")
        );
        assert_eq!(rate_bucket("192.0.2.7"), "192.0.2.7");
        assert_eq!(rate_bucket("::ffff:192.0.2.7"), "192.0.2.7");
    }

    #[test]
    fn r2_forwarded_for_is_read_only_from_trusted_proxies() {
        let trusted = parse_cidrs("10.0.0.0/8, fd00::/8").expect("cidrs");
        // Straight from the internet: the header is the client's own words, ignored.
        assert_eq!(
            client_ip(ip("203.0.113.9"), None, Some("198.51.100.1"), &trusted),
            ip("203.0.113.9")
        );
        // Through our proxy: the nearest untrusted address; a spoofed left part is skipped.
        assert_eq!(
            client_ip(
                ip("10.1.2.3"),
                None,
                Some("6.6.6.6, 198.51.100.1, 10.0.0.2"),
                &trusted
            ),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_ip(
                ip("fd00::1"),
                Some("for=192.0.2.60;proto=http, for=\"[2001:db8::17]:4711\""),
                None,
                &trusted
            ),
            ip("2001:db8::17")
        );
        // No proxies configured: never read.
        assert_eq!(
            client_ip(ip("10.1.2.3"), None, Some("198.51.100.1"), &[]),
            ip("10.1.2.3")
        );
        assert!(parse_cidrs("10.0.0.0/33")
            .expect_err("too long")
            .contains("prefix length must be 0 to 32"));
        assert_eq!(parse_cidrs(" ").expect("empty"), vec![]);
    }
}
