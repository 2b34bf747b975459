//! Which client a request comes from, as one key for rate limits and logs: the
//! socket peer, or, behind trusted proxies, the rightmost `X-Forwarded-For` hop
//! that is not one of them. IPv6 clients are counted per /64. Pure functions
//! over the peer, the header values and the trusted list; no request types here.
//!
//! The `Forwarded` header is never read: a client can write it, and no setting
//! says that our proxy rewrites it.

use std::net::{IpAddr, Ipv6Addr};

use ipnet::{IpNet, Ipv6Net};

/// The key for a peer we could not learn (a test request without a socket).
pub const UNKNOWN_CLIENT: &str = "unknown";

/// The client key of a request.
///
/// `peer` is the socket's remote address; `forwarded_for` the values of every
/// `X-Forwarded-For` header in order; `trusted` the proxies whose headers count,
/// or `None` when `TRUSTED_PROXY` is off. The header is read only when the peer
/// itself is a trusted proxy. An IPv4 client is its address (IPv4-mapped IPv6
/// included); an IPv6 client is its /64, e.g. `2001:db8:1:2::/64`.
pub fn client_key(
    peer: Option<IpAddr>,
    forwarded_for: &[&str],
    trusted: Option<&[IpNet]>,
) -> String {
    match peer {
        None => UNKNOWN_CLIENT.to_string(),
        Some(peer) => key_of(client_address(peer, forwarded_for, trusted)),
    }
}

/// The client's address: the rightmost forwarded hop that is not a trusted
/// proxy, when the peer is one; otherwise the peer.
pub fn client_address(peer: IpAddr, forwarded_for: &[&str], trusted: Option<&[IpNet]>) -> IpAddr {
    let peer = peer.to_canonical();
    let Some(trusted) = trusted else {
        return peer;
    };
    if !is_trusted(peer, trusted) {
        return peer;
    }
    // Walk from the proxy nearest us outwards. Each trusted proxy appends the
    // address it received the request from, so the first hop that is not a
    // trusted proxy is the client; anything further left the client wrote.
    let mut nearest_known = peer;
    let hops = forwarded_for
        .iter()
        .flat_map(|value| value.split(','))
        .collect::<Vec<_>>();
    for hop in hops.into_iter().rev() {
        match parse_hop(hop) {
            Some(address) if is_trusted(address, trusted) => nearest_known = address,
            Some(address) => return address,
            // A hop no proxy of ours would write: stop at the last one we trust,
            // so a client cannot step out of its own count by sending garbage.
            None => return nearest_known,
        }
    }
    nearest_known
}

/// The rate-limit key of an address: itself for IPv4, its /64 for IPv6 (one
/// subscriber usually holds a whole /64).
pub fn key_of(address: IpAddr) -> String {
    match address.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => slash_64(v6).to_string(),
    }
}

fn slash_64(address: Ipv6Addr) -> Ipv6Net {
    // 64 is a valid IPv6 prefix length, so `new` cannot fail; the fallback is the
    // whole address, which still counts the client.
    Ipv6Net::new(address, 64)
        .map(|net| net.trunc())
        .unwrap_or_else(|_| Ipv6Net::from(address))
}

fn is_trusted(address: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&address))
}

/// One `X-Forwarded-For` entry: an address, optionally with a port
/// (`1.2.3.4:5678`, `[2001:db8::1]:443`) or in brackets.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    if let Ok(socket) = hop.parse::<std::net::SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    hop.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<IpAddr>().ok())
        .map(|address| address.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies(text: &str) -> Vec<IpNet> {
        crate::config::parse_trusted_proxies(text).unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        assert_eq!(
            client_key(Some(ip("198.51.100.4")), &["203.0.113.7"], None),
            "198.51.100.4"
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_hop_is_the_client() {
        let trusted = proxies("10.0.0.0/8,127.0.0.1");
        // The client wrote 6.6.6.6 itself; our proxy appended 203.0.113.7.
        assert_eq!(
            client_key(
                Some(ip("127.0.0.1")),
                &["6.6.6.6, 203.0.113.7"],
                Some(&trusted)
            ),
            "203.0.113.7"
        );
        // Two proxies of ours in a row, and the header split over two lines.
        assert_eq!(
            client_key(
                Some(ip("10.0.0.1")),
                &["1.2.3.4, 203.0.113.7", "10.0.0.2"],
                Some(&trusted)
            ),
            "203.0.113.7"
        );
    }

    #[test]
    fn a_peer_that_is_not_a_trusted_proxy_cannot_set_its_address() {
        let trusted = proxies("10.0.0.0/8");
        assert_eq!(
            client_key(Some(ip("198.51.100.4")), &["203.0.113.7"], Some(&trusted)),
            "198.51.100.4"
        );
    }

    #[test]
    fn garbage_or_only_proxies_in_the_header_count_as_the_last_trusted_hop() {
        let trusted = proxies("10.0.0.0/8");
        assert_eq!(
            client_key(Some(ip("10.0.0.1")), &["nonsense"], Some(&trusted)),
            "10.0.0.1"
        );
        assert_eq!(
            client_key(
                Some(ip("10.0.0.1")),
                &["203.0.113.9, nonsense, 10.0.0.2"],
                Some(&trusted)
            ),
            "10.0.0.2"
        );
        assert_eq!(
            client_key(Some(ip("10.0.0.1")), &[], Some(&trusted)),
            "10.0.0.1"
        );
    }

    #[test]
    fn hops_with_ports_or_brackets_are_read() {
        let trusted = proxies("127.0.0.1");
        assert_eq!(
            client_key(Some(ip("127.0.0.1")), &["203.0.113.7:5000"], Some(&trusted)),
            "203.0.113.7"
        );
        assert_eq!(
            client_key(
                Some(ip("127.0.0.1")),
                &["[2001:db8:1:2::9]:443"],
                Some(&trusted)
            ),
            "2001:db8:1:2::/64"
        );
    }

    #[test]
    fn ipv6_clients_count_per_slash_64() {
        assert_eq!(key_of(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(key_of(ip("2001:db8:1:2:ffff:1:2:3")), "2001:db8:1:2::/64");
        assert_ne!(key_of(ip("2001:db8:1:3::1")), "2001:db8:1:2::/64");
    }

    #[test]
    fn ipv4_mapped_ipv6_is_ipv4() {
        assert_eq!(key_of(ip("::ffff:203.0.113.7")), "203.0.113.7");
        let trusted = proxies("127.0.0.1");
        assert_eq!(
            client_key(
                Some(ip("::ffff:127.0.0.1")),
                &["::ffff:198.51.100.1"],
                Some(&trusted)
            ),
            "198.51.100.1"
        );
    }
}
