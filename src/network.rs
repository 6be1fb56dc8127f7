//! Who the client is, by address, behind any number of proxies.
//!
//! Every address a rate limit or lockout is keyed by must be one the
//! client cannot choose. `X-Forwarded-For` and `Forwarded` are lists that
//! each proxy appends to; everything left of the entry the nearest trusted
//! proxy appended is whatever the client sent. So the client address is
//! found by walking the list from the right, past the proxies Gatehouse
//! trusts (`--trusted-proxies`, CIDR ranges), to the first address that is
//! not one of them. Without trusted proxies, the headers are ignored and
//! the peer address is the client. `--trust-forwarded-for` (the older
//! flag) trusts the immediate peer, whatever its address, to be such a
//! proxy.
//!
//! An IPv6 client usually holds a whole /64 (and can pick any address in
//! it), so rate limits key IPv6 clients by their /64 (configurable);
//! events still record the full address.

use std::net::IpAddr;
use std::str::FromStr;

/// An address range, `10.0.0.0/8` or `2001:db8::/32` (a bare address is
/// a range of one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// A range that could not be parsed, with the reason.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{text}` is not an address range ({reason}); write e.g. 10.0.0.0/8 or 2001:db8::/32")]
pub struct BadCidr {
    text: String,
    reason: &'static str,
}

impl FromStr for Cidr {
    type Err = BadCidr;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |reason| BadCidr {
            text: text.to_owned(),
            reason,
        };
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address.parse().map_err(|_| bad("not an IP address"))?;
        let max = max_prefix(network);
        let prefix = match prefix {
            Some(prefix) => prefix.parse::<u8>().map_err(|_| bad("bad prefix length"))?,
            None => max,
        };
        if prefix > max {
            return Err(bad("prefix longer than the address"));
        }
        Ok(Cidr {
            network: mask(network, prefix),
            prefix,
        })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        ip.is_ipv4() == self.network.is_ipv4() && mask(ip, self.prefix) == self.network
    }
}

fn max_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

/// `ip` with all but its first `prefix` bits cleared.
fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = bits.checked_shr(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(kept.checked_shl(32 - u32::from(prefix)).unwrap_or(0).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let kept = bits.checked_shr(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(
                kept.checked_shl(128 - u32::from(prefix))
                    .unwrap_or(0)
                    .into(),
            )
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, as dual-stack sockets
/// report IPv4 peers) are the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// How client addresses are found and keyed (see the module docs).
#[derive(Clone, Debug)]
pub struct Addressing {
    /// Proxies whose forwarding headers are believed.
    pub trusted_proxies: Vec<Cidr>,
    /// Believe the immediate peer's headers whatever its address
    /// (`--trust-forwarded-for`).
    pub trust_peer: bool,
    /// Rate limits key IPv6 clients by this many leading bits.
    pub ipv6_prefix: u8,
}

impl Default for Addressing {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            trust_peer: false,
            ipv6_prefix: 64,
        }
    }
}

impl Addressing {
    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|range| range.contains(ip))
    }

    /// The client's address: `peer` unless it is a trusted proxy, then
    /// the rightmost untrusted entry of `forwarded` (all `Forwarded`
    /// header values, in order) or, without it, of `x_forwarded_for` (all
    /// `X-Forwarded-For` values). An entry that is not an address (a
    /// proxy's `unknown`, an obfuscated name) ends the walk at the proxy
    /// that reported it.
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        forwarded: impl IntoIterator<Item = &'a str>,
        x_forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = canonical(peer);
        if !(self.trust_peer || self.trusted(peer)) {
            return peer;
        }
        let mut forwarded = forwarded.into_iter().peekable();
        let hops: Vec<&str> = if forwarded.peek().is_some() {
            forwarded
                .flat_map(|value| value.split(','))
                .filter_map(forwarded_for)
                .collect()
        } else {
            x_forwarded_for
                .into_iter()
                .flat_map(|value| value.split(','))
                .map(str::trim)
                .filter(|hop| !hop.is_empty())
                .collect()
        };
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                return client;
            };
            client = canonical(ip);
            if !self.trusted(client) {
                return client;
            }
        }
        client
    }

    /// The client of a request: its address (see [`Addressing::client_ip`];
    /// `unknown` without a peer) and what rate limits key it by.
    pub fn client<'a>(
        &self,
        peer: Option<IpAddr>,
        forwarded: impl IntoIterator<Item = &'a str>,
        x_forwarded_for: impl IntoIterator<Item = &'a str>,
        user_agent: &str,
    ) -> crate::auth::Client {
        let user_agent = user_agent.chars().take(512).collect();
        let Some(peer) = peer else {
            return crate::auth::Client {
                ip: "unknown".to_owned(),
                limit_key: "unknown".to_owned(),
                user_agent,
            };
        };
        let ip = self.client_ip(peer, forwarded, x_forwarded_for);
        crate::auth::Client {
            ip: ip.to_string(),
            limit_key: self.limit_key(ip),
            user_agent,
        }
    }

    /// What rate limits key `ip` by: the address itself for IPv4, its
    /// network (`2001:db8:1:2::/64`) for IPv6.
    pub fn limit_key(&self, ip: IpAddr) -> String {
        match canonical(ip) {
            IpAddr::V4(v4) => v4.to_string(),
            v6 => {
                let prefix = self.ipv6_prefix.min(128);
                format!("{}/{prefix}", mask(v6, prefix))
            }
        }
    }
}

/// The `for=` value of one `Forwarded` element (RFC 7239), unquoted.
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// An address from a forwarding entry: `192.0.2.1`, `192.0.2.1:4711`,
/// `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (address, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    address.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn behind(proxies: &[&str]) -> Addressing {
        Addressing {
            trusted_proxies: proxies.iter().map(|p| p.parse().unwrap()).collect(),
            ..Addressing::default()
        }
    }

    #[test]
    fn ranges_parse_and_match() {
        let range: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(range.contains(ip("10.1.200.3")) && !range.contains(ip("10.2.0.1")));
        assert!(
            range.contains(ip("::ffff:10.1.0.9")),
            "IPv4-mapped peers match"
        );
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
        assert!(
            "192.0.2.7"
                .parse::<Cidr>()
                .unwrap()
                .contains(ip("192.0.2.7"))
        );
        assert!(
            "0.0.0.0/0"
                .parse::<Cidr>()
                .unwrap()
                .contains(ip("203.0.113.1"))
        );
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "example.com",
            "::/129",
            "10.0.0.0/x",
        ] {
            let err = bad.parse::<Cidr>().unwrap_err();
            assert!(
                err.to_string().contains(bad),
                "names what it refused: {err}"
            );
        }
    }

    #[test]
    fn without_trusted_proxies_the_headers_are_ignored() {
        let none = Addressing::default();
        let client = none.client_ip(ip("203.0.113.9"), [], ["198.51.100.1"]);
        assert_eq!(client, ip("203.0.113.9"));
        // A peer outside the trusted ranges is the client, whatever it says.
        let some = behind(&["10.0.0.0/8"]);
        assert_eq!(
            some.client_ip(ip("203.0.113.9"), [], ["198.51.100.1"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_spoofed_leftmost_entry_is_never_the_client() {
        let proxies = behind(&["10.0.0.0/8"]);
        // The client sent "1.2.3.4"; the edge proxy appended the real peer.
        let spoofed = ["1.2.3.4, 198.51.100.23, 10.0.0.5"];
        assert_eq!(
            proxies.client_ip(ip("10.0.0.6"), [], spoofed),
            ip("198.51.100.23")
        );
        // Several headers count as one list, in order.
        let split = ["1.2.3.4", "198.51.100.23", "10.0.0.5"];
        assert_eq!(
            proxies.client_ip(ip("10.0.0.6"), [], split),
            ip("198.51.100.23")
        );
        // The old flag trusts the peer only: the entry it appended is the client.
        let peer_only = Addressing {
            trust_peer: true,
            ..Addressing::default()
        };
        assert_eq!(
            peer_only.client_ip(ip("203.0.113.1"), [], ["1.2.3.4, 198.51.100.23"]),
            ip("198.51.100.23")
        );
        // Nothing forwarded: the proxy itself is the client.
        assert_eq!(proxies.client_ip(ip("10.0.0.6"), [], []), ip("10.0.0.6"));
        // Garbage ends the walk at the proxy that reported it.
        assert_eq!(
            proxies.client_ip(ip("10.0.0.6"), [], ["198.51.100.23, unknown"]),
            ip("10.0.0.6")
        );
    }

    #[test]
    fn forwarded_is_honoured_and_preferred() {
        let proxies = behind(&["10.0.0.0/8", "2001:db8:ffff::/48"]);
        let forwarded = [
            r#"for=1.2.3.4;proto=https, for="[2001:db8:cafe::17]:4711";by=10.0.0.1"#,
            "for=10.0.0.3",
        ];
        assert_eq!(
            proxies.client_ip(ip("10.0.0.6"), forwarded, ["9.9.9.9"]),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            proxies.client_ip(ip("10.0.0.6"), ["For=\"192.0.2.60:8080\""], []),
            ip("192.0.2.60")
        );
        assert_eq!(
            proxies.client_ip(ip("10.0.0.6"), ["for=_hidden"], []),
            ip("10.0.0.6")
        );
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_network() {
        let addressing = Addressing::default();
        assert_eq!(addressing.limit_key(ip("198.51.100.7")), "198.51.100.7");
        assert_eq!(
            addressing.limit_key(ip("::ffff:198.51.100.7")),
            "198.51.100.7"
        );
        let a = addressing.limit_key(ip("2001:db8:1:2:aaaa::1"));
        let b = addressing.limit_key(ip("2001:db8:1:2:bbbb::2"));
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, b, "one /64, one budget");
        let narrow = Addressing {
            ipv6_prefix: 128,
            ..Addressing::default()
        };
        assert_eq!(narrow.limit_key(ip("2001:db8::1")), "2001:db8::1/128");
    }
}
