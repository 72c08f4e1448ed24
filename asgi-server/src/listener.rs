//! Listening sockets: TCP (`--host`/`--port`), Unix (`--uds`) and inherited (`--fd`).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use asgi_core::ServerAddr;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
#[cfg(unix)]
use tokio::net::{UnixListener, UnixStream};

use crate::config::Config;
use crate::error::Error;

/// A bound listening socket.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(TcpListener),
    #[cfg(unix)]
    Unix(UnixListener, PathBuf),
    /// A Unix socket inherited from the supervisor, which removes the file.
    #[cfg(unix)]
    InheritedUnix(UnixListener, PathBuf),
}

/// An accepted connection.
#[derive(Debug)]
pub(crate) enum Accepted {
    Tcp(TcpStream, SocketAddr),
    #[cfg(unix)]
    Unix(UnixStream),
}

impl Listener {
    /// Binds what `config` asks for.
    pub(crate) async fn bind(config: &Config) -> Result<Self, Error> {
        if config.uds.is_some() && config.fd.is_some() {
            return Err(Error::config("--uds and --fd cannot be combined".into()));
        }
        if let Some(path) = &config.uds {
            return Self::bind_unix(path.clone(), config.backlog);
        }
        if let Some(fd) = config.fd {
            return Self::from_fd(fd);
        }
        let what = format!("{}:{}", config.host, config.port);
        let mut addrs = tokio::net::lookup_host((config.host.as_str(), config.port))
            .await
            .map_err(|error| Error::bind(what.clone(), error))?;
        let addr = addrs.next().ok_or_else(|| {
            Error::bind(
                what.clone(),
                io::Error::new(io::ErrorKind::NotFound, "host has no address"),
            )
        })?;
        Self::bind_tcp(addr, config.backlog, config.reuse_port)
            .map_err(|error| Error::bind(what, error))
    }

    fn bind_tcp(addr: SocketAddr, backlog: u32, reuse_port: bool) -> io::Result<Self> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        // --reuse-port: every worker binds its own socket and the kernel balances between them.
        #[cfg(all(unix, not(target_os = "solaris"), not(target_os = "illumos")))]
        if reuse_port {
            socket.set_reuse_port(true)?;
        }
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
        Ok(Listener::Tcp(TcpListener::from_std(socket.into())?))
    }

    #[cfg(unix)]
    fn bind_unix(path: PathBuf, backlog: u32) -> Result<Self, Error> {
        use std::os::unix::fs::FileTypeExt;
        let what = format!("unix:{}", path.display());
        // A socket file left by an earlier run would make bind fail (Uvicorn removes it too).
        if std::fs::metadata(&path).is_ok_and(|m| m.file_type().is_socket()) {
            let _ = std::fs::remove_file(&path);
        }
        let bind = || -> io::Result<UnixListener> {
            let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
            socket.set_nonblocking(true)?;
            socket.bind(&socket2::SockAddr::unix(&path)?)?;
            socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
            UnixListener::from_std(std::os::unix::net::UnixListener::from(
                std::os::fd::OwnedFd::from(socket),
            ))
        };
        let listener = bind().map_err(|error| Error::bind(what, error))?;
        // Any local user may connect, as with Uvicorn; restrict with the directory's mode.
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666));
        }
        Ok(Listener::Unix(listener, path))
    }

    #[cfg(not(unix))]
    fn bind_unix(path: PathBuf, _backlog: u32) -> Result<Self, Error> {
        Err(Error::config(format!(
            "--uds {} needs a Unix platform",
            path.display()
        )))
    }

    /// Adopts an inherited listening socket (TCP or Unix).
    ///
    /// Taking ownership of a descriptor number needs `unsafe` in std, which
    /// this crate forbids; instead the socket is duplicated into an owned
    /// descriptor: through `pidfd_getfd` on Linux (5.6+), or from standard
    /// input for descriptor 0 anywhere (inetd and systemd's `StandardInput=socket`).
    #[cfg(unix)]
    fn from_fd(fd: i32) -> Result<Self, Error> {
        let what = format!("fd {fd}");
        let adopt = || -> io::Result<Self> {
            let socket = Socket::from(duplicate_fd(fd)?);
            if !socket.is_listener()? {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not a listening socket",
                ));
            }
            socket.set_nonblocking(true)?;
            let local = socket.local_addr()?;
            if local.is_unix() {
                let path = local.as_pathname().map(PathBuf::from).unwrap_or_default();
                let std =
                    std::os::unix::net::UnixListener::from(std::os::fd::OwnedFd::from(socket));
                Ok(Listener::Unix(UnixListener::from_std(std)?, path))
            } else {
                Ok(Listener::Tcp(TcpListener::from_std(socket.into())?))
            }
        };
        adopt().map_err(|error| Error::bind(what, error))
    }

    #[cfg(not(unix))]
    fn from_fd(fd: i32) -> Result<Self, Error> {
        Err(Error::config(format!("--fd {fd} needs a Unix platform")))
    }

    /// Adopts a listening socket the supervisor passed to this worker.
    #[cfg(unix)]
    pub(crate) fn from_inherited(fd: std::os::fd::OwnedFd) -> io::Result<Self> {
        let socket = Socket::from(fd);
        socket.set_nonblocking(true)?;
        let local = socket.local_addr()?;
        if local.as_socket().is_some() {
            return Ok(Listener::Tcp(TcpListener::from_std(socket.into())?));
        }
        let path = local.as_pathname().map(PathBuf::from).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "inherited socket is neither TCP nor a Unix socket with a path",
            )
        })?;
        let listener = std::os::unix::net::UnixListener::from(std::os::fd::OwnedFd::from(socket));
        Ok(Listener::InheritedUnix(
            UnixListener::from_std(listener)?,
            path,
        ))
    }

    /// The address connections arrive on, as `scope["server"]` gives it.
    pub(crate) fn server_addr(&self) -> Option<ServerAddr> {
        match self {
            Listener::Tcp(listener) => listener.local_addr().ok().map(ServerAddr::Tcp),
            #[cfg(unix)]
            Listener::Unix(_, path) | Listener::InheritedUnix(_, path) => {
                Some(ServerAddr::Unix(Arc::from(path.as_path())))
            }
        }
    }

    /// Waits for the next connection.
    pub(crate) async fn accept(&self) -> io::Result<Accepted> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, peer) = listener.accept().await?;
                // Responses are written whole; Nagle would only delay them.
                let _ = stream.set_nodelay(true);
                Ok(Accepted::Tcp(stream, peer))
            }
            #[cfg(unix)]
            Listener::Unix(listener, _) | Listener::InheritedUnix(listener, _) => {
                Ok(Accepted::Unix(listener.accept().await?.0))
            }
        }
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for Listener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Listener::Tcp(listener) => listener.as_fd(),
            Listener::Unix(listener, _) | Listener::InheritedUnix(listener, _) => listener.as_fd(),
        }
    }
}

/// An owned duplicate of descriptor `fd` of this process.
#[cfg(unix)]
fn duplicate_fd(fd: i32) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::AsFd;
    if fd == 0 {
        return std::io::stdin().as_fd().try_clone_to_owned();
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};
        let me = pidfd_open(getpid(), PidfdFlags::empty())?;
        Ok(pidfd_getfd(&me, fd, PidfdGetfdFlags::empty())?)
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "only descriptor 0 can be adopted on this platform",
        ))
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}
