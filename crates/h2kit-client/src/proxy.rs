//! HTTP proxies: `https://` targets through a CONNECT tunnel (TLS and ALPN end to end inside
//! it), `http://` targets as absolute-form HTTP/1.1 requests to the proxy, basic credentials,
//! and the `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` environment as curl reads it.

use std::fmt;

use bytes::BytesMut;
use http::Uri;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::Error;
use crate::h1::{H1Limits, parse_response_head};

/// An HTTP proxy: `http://[user:password@]host[:port]` (port 1080 by default, as curl).
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    host: String,
    port: u16,
    /// `Basic …` for `Proxy-Authorization`.
    authorization: Option<String>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("credentials", &self.authorization.is_some())
            .finish()
    }
}

impl Proxy {
    /// A proxy from its URL (`http://host:port`, a bare `host:port`, or with `user:password@`).
    pub fn new(url: &str) -> Result<Proxy, Error> {
        let bad = |why: &str| Error::InvalidUrl(format!("proxy {url}: {why}"));
        let with_scheme = if url.contains("://") {
            url.to_owned()
        } else {
            format!("http://{url}")
        };
        let uri: Uri = with_scheme.parse().map_err(|_| bad("not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(bad("only http:// proxies are supported"));
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        let (userinfo, hostport) = match authority.as_str().rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority.as_str()),
        };
        let hostport: http::uri::Authority = hostport.parse().map_err(|_| bad("bad host"))?;
        let mut proxy = Proxy {
            host: hostport.host().to_owned(),
            port: hostport.port_u16().unwrap_or(1080),
            authorization: None,
        };
        if let Some(u) = userinfo {
            let (user, password) = u.split_once(':').unwrap_or((u, ""));
            proxy = proxy.basic_auth(&percent_decode(user), &percent_decode(password));
        }
        Ok(proxy)
    }

    /// Sends `Proxy-Authorization: Basic …` with these credentials.
    pub fn basic_auth(mut self, user: &str, password: &str) -> Proxy {
        let token = base64(format!("{user}:{password}").as_bytes());
        self.authorization = Some(format!("Basic {token}"));
        self
    }

    /// `host:port` of the proxy.
    pub(crate) fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The `Proxy-Authorization` value, if credentials were given.
    pub(crate) fn authorization(&self) -> Option<&str> {
        self.authorization.as_deref()
    }

    /// Opens a tunnel to `target` (`host:port`) with CONNECT over `io`, a connection to the
    /// proxy. Anything but a 2xx answer is [`Error::Proxy`].
    pub(crate) async fn tunnel<T>(&self, io: &mut T, target: &str) -> Result<(), Error>
    where
        T: AsyncRead + AsyncWrite + Unpin,
    {
        let mut request = format!("CONNECT {target} HTTP/1.1\r\nhost: {target}\r\n");
        if let Some(auth) = &self.authorization {
            request.push_str("proxy-authorization: ");
            request.push_str(auth);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        let io_error = |e: std::io::Error| Error::Connect {
            addr: self.addr(),
            source: std::sync::Arc::new(e),
        };
        io.write_all(request.as_bytes()).await.map_err(io_error)?;
        let mut buf = BytesMut::with_capacity(1024);
        let limits = H1Limits::default();
        loop {
            // The answer to CONNECT has no body to read (RFC 9110 §9.3.6), like HEAD's.
            if let Some(head) =
                parse_response_head(&mut buf, true, &limits).map_err(Error::Http1)?
            {
                if head.status.is_informational() {
                    continue;
                }
                if !head.status.is_success() {
                    return Err(Error::Proxy {
                        status: head.status,
                    });
                }
                if !buf.is_empty() {
                    // The proxy spoke for the server before the tunnel was ours.
                    return Err(Error::InvalidResponse(
                        "bytes after the proxy's CONNECT answer".into(),
                    ));
                }
                return Ok(());
            }
            if io.read_buf(&mut buf).await.map_err(io_error)? == 0 {
                return Err(Error::Http1(crate::H1Error::UnexpectedEof));
            }
        }
    }
}

/// Which proxy each scheme uses, and which hosts go direct.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Proxies {
    /// For `https://` targets (a CONNECT tunnel).
    pub https: Option<Proxy>,
    /// For `http://` targets.
    pub http: Option<Proxy>,
    /// Hosts reached directly: `*` for all, a name (matching itself and its subdomains; a
    /// leading dot is ignored) or an IP address.
    pub no_proxy: Vec<String>,
}

impl Proxies {
    /// The proxies curl would use from the environment: `https_proxy` or `HTTPS_PROXY` for
    /// `https://`, `http_proxy` (lower case only, as curl, since `HTTP_PROXY` can be set by a
    /// CGI request's `Proxy:` header) for `http://`, `all_proxy` or `ALL_PROXY` for either,
    /// and `no_proxy` or `NO_PROXY`. Unusable values are ignored.
    pub fn from_env() -> Proxies {
        Proxies::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`from_env`](Self::from_env) with the variables read from `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Proxies {
        let get = |names: &[&str]| {
            names
                .iter()
                .filter_map(|n| lookup(n))
                .find(|v| !v.trim().is_empty())
                .and_then(|v| Proxy::new(v.trim()).ok())
        };
        let all = get(&["all_proxy", "ALL_PROXY"]);
        Proxies {
            https: get(&["https_proxy", "HTTPS_PROXY"]).or_else(|| all.clone()),
            http: get(&["http_proxy"]).or(all),
            no_proxy: lookup("no_proxy")
                .or_else(|| lookup("NO_PROXY"))
                .map(|v| {
                    v.split(',')
                        .map(|h| h.trim().trim_start_matches('.').to_ascii_lowercase())
                        .filter(|h| !h.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The proxy for a target, or `None` to connect directly.
    pub(crate) fn for_target(&self, tls: bool, host: &str) -> Option<&Proxy> {
        let proxy = if tls { &self.https } else { &self.http };
        let proxy = proxy.as_ref()?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let bypass = self.no_proxy.iter().any(|entry| {
            let entry = entry.trim_start_matches('[').trim_end_matches(']');
            entry == "*"
                || host == entry
                || (host.len() > entry.len()
                    && host.ends_with(entry)
                    && host.as_bytes()[host.len() - entry.len() - 1] == b'.')
        });
        (!bypass).then_some(proxy)
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Standard base64 with padding (RFC 4648 §4), for basic credentials.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
    }

    #[test]
    fn proxy_urls_with_and_without_credentials() {
        let p = Proxy::new("http://proxy.example:3128").unwrap();
        assert_eq!(p.addr(), "proxy.example:3128");
        assert_eq!(p.authorization(), None);
        let p = Proxy::new("user:p%40ss@10.0.0.1").unwrap();
        assert_eq!(p.addr(), "10.0.0.1:1080");
        // "user:p@ss" in base64.
        assert_eq!(p.authorization(), Some("Basic dXNlcjpwQHNz"));
        assert!(Proxy::new("socks5://x:1").is_err());
        assert!(Proxy::new("http://").is_err());
    }

    #[test]
    fn environment_is_read_as_curl_does() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let p = Proxies::from_lookup(env(&[
            ("HTTPS_PROXY", "http://s:1"),
            ("HTTP_PROXY", "http://ignored:2"),
            ("NO_PROXY", "localhost, .internal.example,10.1.2.3"),
        ]));
        assert_eq!(p.https.as_ref().map(Proxy::addr).as_deref(), Some("s:1"));
        assert_eq!(p.http, None, "upper-case HTTP_PROXY is not read");
        assert!(p.for_target(true, "example.org").is_some());
        assert!(p.for_target(true, "localhost").is_none());
        assert!(p.for_target(true, "a.internal.example").is_none());
        assert!(p.for_target(true, "internal.example").is_none());
        assert!(p.for_target(true, "notinternal.example").is_some());
        assert!(p.for_target(true, "10.1.2.3").is_none());
        let p = Proxies::from_lookup(env(&[("all_proxy", "a:3"), ("no_proxy", "*")]));
        assert_eq!(p.http.as_ref().map(Proxy::addr).as_deref(), Some("a:3"));
        assert!(p.for_target(false, "example.org").is_none());
        let p = Proxies::from_lookup(env(&[("http_proxy", "h:4")]));
        assert!(p.for_target(false, "example.org").is_some());
        assert!(p.for_target(true, "example.org").is_none());
    }
}
