//! Client addresses for per-IP limits (R2), behind reverse proxies and over IPv6.
//!
//! - R2/R7: only a peer inside `trusted_proxies` may name the client, and only through the one
//!   header the operator names ([`ProxyHeader`], `X-Forwarded-For` by default). The other header
//!   is ignored whatever it says: proxies append to the header they manage and pass the other
//!   one through untouched, so reading both (or preferring one when present) lets every client
//!   name its own address. The named header is read from the right, skipping trusted hops, so a
//!   client cannot prepend an address of its choosing. Without trusted proxies no header is read.
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

/// R7: the one header that names the client behind a trusted proxy (`trusted_proxy_header`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, …` (what nginx, HAProxy and most balancers append).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

impl ProxyHeader {
    /// The header's name as configured (case-insensitive), or a message naming the choices.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(Self::XForwardedFor),
            "forwarded" => Ok(Self::Forwarded),
            _ => Err(format!(
                "{s:?}: must be X-Forwarded-For or Forwarded (the header your proxy sets)"
            )),
        }
    }

    /// The lowercase header name to read.
    pub fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
        }
    }
}

/// R2/R7: which peers may name the client, and through which header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    pub networks: Vec<Cidr>,
    pub header: ProxyHeader,
}

/// The hops the named header's proxy chain holds, nearest last; `None` for a hop that names no
/// address (`for=unknown`, `for=_hidden`, garbage).
fn forwarded_chain(header: ProxyHeader, value: Option<&str>) -> Vec<Option<IpAddr>> {
    let Some(value) = value else {
        return Vec::new();
    };
    if header == ProxyHeader::Forwarded {
        return value
            .split(',')
            .map(|element| {
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
    value.split(',').map(|a| parse_node(a.trim())).collect()
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
/// nearest address in the named header's chain that is not itself a trusted proxy.
/// `header_value` reads a request header by its lowercase name (all its lines joined with `,`,
/// as RFC 9110 §5.3 allows); only `trusted.header` is asked.
pub fn client_ip(
    peer: IpAddr,
    header_value: impl Fn(&str) -> Option<String>,
    trusted: &TrustedProxies,
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.networks.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return canonical(peer);
    }
    let value = header_value(trusted.header.name());
    let chain = forwarded_chain(trusted.header, value.as_deref());
    let mut client = peer;
    for hop in chain.into_iter().rev() {
        // A hop that names no address ends the walk: whatever stands left of it was written
        // by someone we cannot place, so the last trusted hop is the client as far as we know.
        let Some(hop) = hop else { break };
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

    /// A request's headers as `client_ip` reads them.
    fn headers<'a>(h: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            let lines: Vec<&str> = h
                .iter()
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| *v)
                .collect();
            (!lines.is_empty()).then(|| lines.join(", "))
        }
    }

    fn proxies(header: ProxyHeader) -> TrustedProxies {
        TrustedProxies {
            networks: parse_cidrs("10.0.0.0/8, fd00::/8").expect("cidrs"),
            header,
        }
    }

    #[test]
    fn r2_forwarded_for_is_read_only_from_trusted_proxies() {
        let trusted = proxies(ProxyHeader::XForwardedFor);
        let xff = |v| [("x-forwarded-for", v)];
        // Straight from the internet: the header is the client's own words, ignored.
        assert_eq!(
            client_ip(ip("203.0.113.9"), headers(&xff("198.51.100.1")), &trusted),
            ip("203.0.113.9")
        );
        // Through our proxy: the nearest untrusted address; a spoofed left part is skipped.
        assert_eq!(
            client_ip(
                ip("10.1.2.3"),
                headers(&xff("6.6.6.6, 198.51.100.1, 10.0.0.2")),
                &trusted
            ),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_ip(
                ip("fd00::1"),
                headers(&[(
                    "forwarded",
                    "for=192.0.2.60;proto=http, for=\"[2001:db8::17]:4711\""
                )]),
                &proxies(ProxyHeader::Forwarded)
            ),
            ip("2001:db8::17")
        );
        // No proxies configured: never read.
        assert_eq!(
            client_ip(
                ip("10.1.2.3"),
                headers(&xff("198.51.100.1")),
                &TrustedProxies::default()
            ),
            ip("10.1.2.3")
        );
        assert!(parse_cidrs("10.0.0.0/33")
            .expect_err("too long")
            .contains("prefix length must be 0 to 32"));
        assert_eq!(parse_cidrs(" ").expect("empty"), vec![]);
    }

    /// R7: a proxy appends to the header it manages and passes the other one through; the
    /// other is the client's own words and must change nothing, in either order and either
    /// configuration.
    #[test]
    fn r7_forwarded_is_ignored_unless_named() {
        // nginx (X-Forwarded-For) in front; the client sent its own `Forwarded`.
        let sent = [
            ("forwarded", "for=6.6.6.6"),
            ("x-forwarded-for", "198.51.100.1"),
        ];
        let xff = proxies(ProxyHeader::XForwardedFor);
        assert_eq!(
            client_ip(ip("10.0.0.2"), headers(&sent), &xff),
            ip("198.51.100.1")
        );
        let reversed = [sent[1], sent[0]];
        assert_eq!(
            client_ip(ip("10.0.0.2"), headers(&reversed), &xff),
            ip("198.51.100.1")
        );
        // A proxy that sets `Forwarded`; the client sent its own `X-Forwarded-For`.
        let sent = [
            ("x-forwarded-for", "6.6.6.6"),
            ("forwarded", "for=198.51.100.1"),
        ];
        let fwd = proxies(ProxyHeader::Forwarded);
        assert_eq!(
            client_ip(ip("10.0.0.2"), headers(&sent), &fwd),
            ip("198.51.100.1")
        );
        let reversed = [sent[1], sent[0]];
        assert_eq!(
            client_ip(ip("10.0.0.2"), headers(&reversed), &fwd),
            ip("198.51.100.1")
        );
        // A second line of the named header (the proxy's own, after the client's) counts too.
        let two_lines = [
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.1"),
        ];
        assert_eq!(
            client_ip(ip("10.0.0.2"), headers(&two_lines), &xff),
            ip("198.51.100.1")
        );
        // A hop our proxy could not name (`for=unknown`) ends the walk: the client's own
        // entry left of it never counts.
        let hidden = [("forwarded", "for=6.6.6.6, for=unknown")];
        assert_eq!(
            client_ip(ip("10.0.0.2"), headers(&hidden), &fwd),
            ip("10.0.0.2")
        );
        // The named header missing: the proxy itself, never the other header's claim.
        let only_other = [("forwarded", "for=6.6.6.6")];
        assert_eq!(
            client_ip(ip("10.0.0.2"), headers(&only_other), &xff),
            ip("10.0.0.2")
        );
        assert_eq!(
            ProxyHeader::parse("x-FORWARDED-for"),
            Ok(ProxyHeader::XForwardedFor)
        );
        assert_eq!(ProxyHeader::parse("Forwarded"), Ok(ProxyHeader::Forwarded));
        assert!(ProxyHeader::parse("X-Real-IP")
            .expect_err("unknown header")
            .contains("must be X-Forwarded-For or Forwarded"));
    }
}
