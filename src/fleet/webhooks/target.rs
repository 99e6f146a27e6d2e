//! Which URLs a webhook may call. Without `--webhook-allow-private`, a
//! webhook is a way out to the internet only: https, and a host that is not
//! and does not resolve to a loopback, private, link-local, unique-local or
//! otherwise non-public address — checked when the webhook is made and
//! again before each delivery (DNS can change), and the delivery connects to
//! the addresses checked, so a name cannot be re-pointed in between.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::Url;

/// Why a webhook's URL is refused; said to the caller as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("is not an absolute URL")]
    NotAUrl,
    #[error("must be https (http only with --webhook-allow-private)")]
    Scheme,
    #[error("names no host")]
    NoHost,
    #[error("must not carry a user name or password (they would be shown back; the signature authenticates)")]
    Credentials,
    #[error("reaches {0}, which is not a public address (allowed only with --webhook-allow-private)")]
    Private(IpAddr),
    #[error("names a host that does not resolve ({0})")]
    Unresolvable(String),
}

/// The URL's form: an absolute https URL with a host and no credentials
/// (http too when private targets are allowed).
pub fn check_form(text: &str, allow_private: bool) -> Result<Url, TargetError> {
    let url = Url::parse(text).map_err(|_| TargetError::NotAUrl)?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(TargetError::Scheme),
    }
    if url.host().is_none() {
        return Err(TargetError::NoHost);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::Credentials);
    }
    if !allow_private
        && let Some(ip) = literal_address(&url)
        && !is_public(ip)
    {
        return Err(TargetError::Private(ip));
    }
    Ok(url)
}

/// The addresses a delivery to `url` connects to: every one the host
/// resolves to, each public unless private targets are allowed.
pub async fn resolve(url: &Url, allow_private: bool) -> Result<Vec<SocketAddr>, TargetError> {
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<SocketAddr> = match (literal_address(url), url.host_str()) {
        (Some(ip), _) => vec![SocketAddr::new(ip, port)],
        (None, Some(host)) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| TargetError::Unresolvable(e.to_string()))?
            .collect(),
        (None, None) => return Err(TargetError::NoHost),
    };
    if addresses.is_empty() {
        return Err(TargetError::Unresolvable("no address".into()));
    }
    if !allow_private && let Some(private) = addresses.iter().find(|a| !is_public(a.ip())) {
        return Err(TargetError::Private(private.ip()));
    }
    Ok(addresses)
}

/// The host when it is an address written out (`10.0.0.1`, `[::1]`).
fn literal_address(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// Whether `ip` is an address on the public internet: not loopback,
/// private, shared (CGNAT), link-local, unspecified, broadcast, multicast,
/// documentation or reserved; IPv6 not unique-local or link-local, and an
/// IPv4 address carried in IPv6 (mapped, or NAT64's prefix) judged as IPv4.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let shared = a == 100 && (64..128).contains(&b);
    let benchmarking = a == 198 && (b == 18 || b == 19);
    let documentation = matches!((a, b, c), (192, 0, 2) | (198, 51, 100) | (203, 0, 113));
    let protocol_assignments = (a, b, c) == (192, 0, 0);
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || a >= 240
        || shared
        || benchmarking
        || documentation
        || protocol_assignments)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = segments;
        return is_public_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    let unique_local = segments[0] & 0xfe00 == 0xfc00;
    let link_local = segments[0] & 0xffc0 == 0xfe80;
    let documentation = segments[0] == 0x2001 && segments[1] == 0x0db8;
    !(ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || unique_local || link_local || documentation)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn refused(url: &str) -> TargetError {
        check_form(url, false).unwrap_err()
    }

    #[test]
    fn private_and_special_addresses_are_refused_by_their_form() {
        for (url, ip) in [
            ("https://127.0.0.1/hook", "127.0.0.1"),
            ("https://127.1.2.3:8443/hook", "127.1.2.3"),
            ("https://10.1.2.3/", "10.1.2.3"),
            ("https://172.16.0.1/", "172.16.0.1"),
            ("https://192.168.1.1/", "192.168.1.1"),
            ("https://169.254.169.254/latest/meta-data", "169.254.169.254"),
            ("https://100.64.0.1/", "100.64.0.1"),
            ("https://0.0.0.0/", "0.0.0.0"),
            ("https://[::1]/", "::1"),
            ("https://[fd00::1]/", "fd00::1"),
            ("https://[fe80::1]/", "fe80::1"),
            ("https://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
            ("https://[64:ff9b::a00:1]/", "64:ff9b::a00:1"),
        ] {
            assert_eq!(refused(url), TargetError::Private(ip.parse().unwrap()), "{url}");
        }
    }

    #[test]
    fn the_form_wants_https_a_host_and_no_credentials() {
        assert_eq!(refused("http://hooks.example.com/"), TargetError::Scheme);
        assert_eq!(refused("ftp://hooks.example.com/"), TargetError::Scheme);
        assert_eq!(refused("hooks.example.com/path"), TargetError::NotAUrl);
        assert_eq!(refused("https://user:pw@hooks.example.com/"), TargetError::Credentials);
        assert!(check_form("https://hooks.example.com/paddock", false).is_ok());
        assert!(check_form("https://93.184.215.14/", false).is_ok());
        assert!(check_form("https://[2606:4700::1111]/", false).is_ok());
    }

    #[test]
    fn the_flag_allows_http_and_private_targets() {
        assert!(check_form("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_form("https://[::1]/", true).is_ok());
        assert_eq!(check_form("ftp://127.0.0.1/", true).unwrap_err(), TargetError::Scheme);
    }

    #[test]
    fn public_addresses_are_public() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "ff02::1",
            "2001:db8::1",
            "::",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    /// A name is judged by what it resolves to, at delivery too.
    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused() {
        let url = check_form("https://localhost:9443/hook", false).unwrap();
        let refused = resolve(&url, false).await.unwrap_err();
        assert!(
            matches!(refused, TargetError::Private(ip) if ip.is_loopback()),
            "{refused:?}"
        );
        let allowed = resolve(&url, true).await.unwrap();
        assert!(allowed.iter().all(|a| a.port() == 9443 && a.ip().is_loopback()));
        let literal = check_form("https://10.0.0.1/", true).unwrap();
        assert_eq!(
            resolve(&literal, false).await.unwrap_err(),
            TargetError::Private("10.0.0.1".parse().unwrap())
        );
    }
}
