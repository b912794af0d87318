//! `only_allow_from` and `deny_from`: lists of IPv4 and IPv6 networks in CIDR notation, and the
//! verdict for a peer address.
//!
//! An entry is an address (a single host) or `address/prefix`; host bits below the prefix are
//! ignored (`12.13.14.15/24` is `12.13.14.0/24`), as in FlashMQ. IPv4 octets may have leading
//! zeros (`12.13.14.00`) and are decimal. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), as a
//! dual-stack socket reports IPv4 peers, is treated as the IPv4 address, both as a peer and as a
//! list entry. IPv4 networks never match IPv6 peers and the other way round.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// IPv4 address bits and prefix length (0..=32), host bits already cleared.
    V4 { bits: u32, prefix: u8 },
    /// IPv6 address bits and prefix length (0..=128), host bits already cleared.
    V6 { bits: u128, prefix: u8 },
}

/// Why a network entry was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkParseError {
    /// The entry as written (network lists are not secret).
    pub entry: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for NetworkParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid network '{}': {}", self.entry, self.reason)
    }
}

impl std::error::Error for NetworkParseError {}

fn mask4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// Decimal dotted quad; leading zeros allowed, at most three digits per octet.
fn parse_ipv4_lenient(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

impl Network {
    /// Parse `addr` or `addr/prefix`.
    pub fn parse(entry: &str) -> Result<Network, NetworkParseError> {
        let err = |reason| NetworkParseError {
            entry: entry.to_owned(),
            reason,
        };
        let (addr, prefix) = match entry.trim().split_once('/') {
            Some((a, p)) => {
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err("the prefix length must be a decimal number"));
                }
                (
                    a,
                    Some(
                        p.parse::<u8>()
                            .map_err(|_| err("prefix length too large"))?,
                    ),
                )
            }
            None => (entry.trim(), None),
        };
        if let Some(v4) = parse_ipv4_lenient(addr) {
            return Network::v4(v4, prefix.unwrap_or(32))
                .ok_or_else(|| err("IPv4 prefix above 32"));
        }
        let v6: Ipv6Addr = addr
            .parse()
            .map_err(|_| err("not an IPv4 or IPv6 address"))?;
        let prefix = prefix.unwrap_or(128);
        if prefix > 128 {
            return Err(err("IPv6 prefix above 128"));
        }
        match (v6.to_ipv4_mapped(), prefix.checked_sub(96)) {
            (Some(v4), Some(p4)) => Network::v4(v4, p4).ok_or_else(|| err("IPv4 prefix above 32")),
            _ => Ok(Network::V6 {
                bits: u128::from(v6) & mask6(prefix),
                prefix,
            }),
        }
    }

    fn v4(addr: Ipv4Addr, prefix: u8) -> Option<Network> {
        (prefix <= 32).then(|| Network::V4 {
            bits: u32::from(addr) & mask4(prefix),
            prefix,
        })
    }

    /// Whether `addr` is inside this network.
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (*self, canonical(addr)) {
            (Network::V4 { bits, prefix }, IpAddr::V4(a)) => u32::from(a) & mask4(prefix) == bits,
            (Network::V6 { bits, prefix }, IpAddr::V6(a)) => u128::from(a) & mask6(prefix) == bits,
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses as IPv4.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        IpAddr::V4(_) => addr,
    }
}

/// A listener's `only_allow_from` and `deny_from` entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkList {
    only_allow_from: Vec<Network>,
    deny_from: Vec<Network>,
}

impl NetworkList {
    /// Build from the two directives' values (each repeatable in the config).
    pub fn new<'a>(
        only_allow_from: impl IntoIterator<Item = &'a str>,
        deny_from: impl IntoIterator<Item = &'a str>,
    ) -> Result<NetworkList, NetworkParseError> {
        let parse = |it: &mut dyn Iterator<Item = &'a str>| -> Result<Vec<Network>, _> {
            it.map(Network::parse).collect()
        };
        Ok(NetworkList {
            only_allow_from: parse(&mut only_allow_from.into_iter())?,
            deny_from: parse(&mut deny_from.into_iter())?,
        })
    }

    /// Denied if any `deny_from` entry matches; otherwise allowed if there is no
    /// `only_allow_from` entry or one of them matches.
    pub fn allowed(&self, addr: IpAddr) -> bool {
        if self.deny_from.iter().any(|n| n.contains(addr)) {
            return false;
        }
        self.only_allow_from.is_empty() || self.only_allow_from.iter().any(|n| n.contains(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn flashmq_test_addr_matches_subnet_ipv4() {
        let reference = ip("12.13.14.15");
        for n in [
            "12.13.14.15",
            "12.13.14.15/24",
            "12.13.14.00/24",
            "0.0.0.0/0",
        ] {
            assert!(Network::parse(n).unwrap().contains(reference), "{n}");
        }
        for n in [
            "12.13.99.00/24",
            "12.13.14.16/32",
            "11.13.14.15/32",
            "12.13.14.16",
        ] {
            assert!(!Network::parse(n).unwrap().contains(reference), "{n}");
        }
    }

    #[test]
    fn flashmq_test_addr_matches_subnet_ipv6() {
        let reference = ip("2001:db8::1");
        for n in [
            "2001:db8::1",
            "2001:db8:0::1",
            "2001:db8::1337:2/64",
            "2001:db8:2001:db8:1337::2/32",
            "3001:db8:2001:db8:1337::2/0",
        ] {
            assert!(Network::parse(n).unwrap().contains(reference), "{n}");
        }
        for n in ["2002:db8::1", "2001:db8::2", "2003:db8::1/64"] {
            assert!(!Network::parse(n).unwrap().contains(reference), "{n}");
        }
        for i in 0..128 {
            let n = Network::parse(&format!("2001:db8:0::1/{i}")).unwrap();
            assert!(n.contains(reference), "/{i}");
        }
        for i in 1..128 {
            let n = Network::parse(&format!("f001:db8:0::1/{i}")).unwrap();
            assert!(!n.contains(reference), "/{i}");
        }
    }

    #[test]
    fn ipv4_mapped_is_ipv4() {
        let n = Network::parse("10.0.0.0/8").unwrap();
        assert!(n.contains(ip("::ffff:10.1.2.3")));
        assert!(!n.contains(ip("::ffff:11.1.2.3")));
        let mapped = Network::parse("::ffff:10.0.0.0/104").unwrap();
        assert_eq!(mapped, n);
        assert!(!Network::parse("::/0").unwrap().contains(ip("1.2.3.4")));
        assert!(!Network::parse("0.0.0.0/0").unwrap().contains(ip("::1")));
    }

    #[test]
    fn parse_errors_are_clear() {
        for (bad, why) in [
            ("1.2.3.4/33", "IPv4 prefix above 32"),
            ("::1/129", "IPv6 prefix above 128"),
            ("1.2.3.4/", "the prefix length must be a decimal number"),
            ("1.2.3.4/+8", "the prefix length must be a decimal number"),
            ("1.2.3", "not an IPv4 or IPv6 address"),
            ("1.2.3.256", "not an IPv4 or IPv6 address"),
            ("example.org", "not an IPv4 or IPv6 address"),
            ("1.2.3.4/999", "prefix length too large"),
        ] {
            let e = Network::parse(bad).unwrap_err();
            assert_eq!(e.reason, why, "{bad}");
            assert!(e.to_string().contains(bad));
        }
    }

    #[test]
    fn deny_wins_and_empty_allow_list_allows() {
        let l = NetworkList::new([], ["10.0.0.0/8"]).unwrap();
        assert!(!l.allowed(ip("10.9.9.9")));
        assert!(l.allowed(ip("192.168.1.1")));
        let l = NetworkList::new(["192.168.0.0/16", "::1"], ["192.168.66.0/24"]).unwrap();
        assert!(l.allowed(ip("192.168.1.1")));
        assert!(l.allowed(ip("::ffff:192.168.1.1")));
        assert!(!l.allowed(ip("192.168.66.1")));
        assert!(l.allowed(ip("::1")));
        assert!(!l.allowed(ip("8.8.8.8")));
        assert!(NetworkList::default().allowed(ip("8.8.8.8")));
    }
}
