//! Shared bits of the benchmark peers: their tiny command line.

use std::net::SocketAddr;

/// A peer's command line: `--port PORT` (default 8000, as Uvicorn's) and the
/// on/off flags that peer accepts.
#[derive(Debug)]
pub struct PeerArgs {
    /// 127.0.0.1 and the port given by `--port`.
    pub addr: SocketAddr,
    flags: Vec<String>,
}

impl PeerArgs {
    /// Parses `std::env::args()`, accepting `--port` and the given `flags`;
    /// anything else panics with the usage.
    pub fn parse(flags: &[&str]) -> Self {
        let mut args = std::env::args().skip(1);
        let mut port: u16 = 8000;
        let mut seen = Vec::new();
        let usage = || format!("usage: --port PORT {}", flags.join(" "));
        while let Some(arg) = args.next() {
            if arg == "--port" {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| panic!("{}", usage()));
            } else if let Some(p) = arg.strip_prefix("--port=") {
                port = p.parse().unwrap_or_else(|_| panic!("{}", usage()));
            } else if flags.contains(&arg.as_str()) {
                seen.push(arg);
            } else {
                panic!("unknown argument {arg:?}; {}", usage());
            }
        }
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            flags: seen,
        }
    }

    /// Whether `flag` was given.
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// The address every peer without flags binds: see [`PeerArgs::parse`].
pub fn addr_from_args() -> SocketAddr {
    PeerArgs::parse(&[]).addr
}
