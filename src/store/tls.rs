//! TLS to Redis.
//!
//! A `rediss://` URL asks for TLS; the server's certificate is checked
//! against the system's roots, or against the CA given here (Redis
//! deployments usually run a private CA). A client certificate, when
//! given, is presented to servers that require one (`tls-auth-clients`).
//! The same certificates apply to every node and sentinel of the
//! deployment, as Redis's own `tls-*` settings do.

use redis::{ClientTlsConfig, ConnectionAddr, IntoConnectionInfo, RedisResult, TlsCertificates};

/// PEM certificates for `rediss://` connections.
#[derive(Clone, Default)]
pub struct Tls {
    /// The CA that signed the servers' certificates; `None` trusts the
    /// system's roots.
    pub ca: Option<Vec<u8>>,
    /// A client certificate and its key, for mutual TLS.
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("ca", &self.ca.is_some())
            .field("client", &self.client.is_some())
            .finish()
    }
}

impl Tls {
    /// In the form the `redis` crate takes.
    pub(super) fn certificates(&self) -> TlsCertificates {
        TlsCertificates {
            client_tls: self.client.clone().map(|(cert, key)| ClientTlsConfig {
                client_cert: cert,
                client_key: key,
            }),
            root_cert: self.ca.clone(),
        }
    }
}

/// A client for `url`, with `tls`'s certificates when the URL asks for TLS.
pub(super) fn client(url: &str, tls: Option<&Tls>) -> RedisResult<redis::Client> {
    let info = url.into_connection_info()?;
    match (tls, info.addr()) {
        (Some(tls), ConnectionAddr::TcpTls { .. }) => {
            redis::Client::build_with_tls(info, tls.certificates())
        }
        _ => redis::Client::open(info),
    }
}
