//! The client's address: the socket peer, unless the peer is a configured
//! trusted proxy, in which case the nearest untrusted hop of
//! `X-Forwarded-For` (read right to left) is the client.

use std::net::IpAddr;

use axum::http::HeaderMap;
use regain_app::config::Config;

pub(crate) fn client_ip(config: &Config, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    if !config.is_trusted_proxy(peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    hops.iter()
        .rev()
        .find(|ip| !config.is_trusted_proxy(**ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let mut config = Config::default();
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        let spoofed = headers("1.2.3.4");
        assert_eq!(client_ip(&config, peer, &spoofed), peer);

        config.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            client_ip(&config, peer, &spoofed),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
        // A client-supplied first hop cannot hide the real one added by our proxy chain.
        let chain = headers("6.6.6.6, 5.5.5.5, 10.0.0.9");
        assert_eq!(
            client_ip(&config, peer, &chain),
            "5.5.5.5".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(&config, peer, &HeaderMap::new()), peer);
        assert_eq!(client_ip(&config, peer, &headers("garbage")), peer);
    }
}
