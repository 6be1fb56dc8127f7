//! A private certificate authority for TLS tests: a CA and one server
//! certificate for 127.0.0.1, made with the `openssl` command.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The CA and the server certificate, as PEM files in a directory.
pub struct TestCertificates {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCertificates {
    /// Makes them in `dir`.
    pub fn create(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).expect("certificate dir");
        let path = |name: &str| dir.join(name);
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Gatehouse test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            &path("ca.key").display().to_string(),
            "-out",
            &path("ca.pem").display().to_string(),
        ]);
        openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            &path("server.key").display().to_string(),
            "-out",
            &path("server.csr").display().to_string(),
        ]);
        std::fs::write(
            path("server.ext"),
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n\
             basicConstraints=CA:FALSE\n",
        )
        .expect("write server.ext");
        openssl(&[
            "x509",
            "-req",
            "-days",
            "2",
            "-CAcreateserial",
            "-in",
            &path("server.csr").display().to_string(),
            "-CA",
            &path("ca.pem").display().to_string(),
            "-CAkey",
            &path("ca.key").display().to_string(),
            "-extfile",
            &path("server.ext").display().to_string(),
            "-out",
            &path("server.pem").display().to_string(),
        ]);
        Self {
            ca: path("ca.pem"),
            cert: path("server.pem"),
            key: path("server.key"),
        }
    }

    /// `redis-server` arguments that open a TLS port with these files
    /// (clients need no certificate; replication and Sentinel use TLS).
    pub fn server_args(&self, tls_port: u16) -> Vec<String> {
        [
            "--tls-port",
            &tls_port.to_string(),
            "--tls-cert-file",
            &self.cert.display().to_string(),
            "--tls-key-file",
            &self.key.display().to_string(),
            "--tls-ca-cert-file",
            &self.ca.display().to_string(),
            "--tls-auth-clients",
            "no",
            "--tls-replication",
            "yes",
        ]
        .map(str::to_owned)
        .into()
    }
}

fn openssl(args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl (Debian: apt-get install openssl)");
    assert!(
        output.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
