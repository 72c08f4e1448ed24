//! Starting a worker process: re-execute this binary with the channel as its
//! standard input (no `fork` of a process that already has threads).

use std::ffi::OsString;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};

use rustix::process::{Pid, Signal};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use super::heartbeat;

/// Marks a process as a worker: `<supervisor pid>:<worker id>`.
pub(crate) const WORKER_ENV: &str = "ASGI_SERVER_WORKER";

/// How to start workers: the same binary with the same arguments.
#[derive(Debug, Clone)]
pub(crate) struct Launcher {
    /// Taken once at startup, so that a binary replaced on disk (a deploy)
    /// is what HUP starts.
    exe: PathBuf,
    args: Vec<OsString>,
}

impl Launcher {
    /// The current binary and its arguments.
    pub(crate) fn current() -> io::Result<Self> {
        Ok(Self {
            exe: std::env::current_exe()?,
            args: std::env::args_os().skip(1).collect(),
        })
    }

    /// Starts worker `id`, hands it `listener` (or none: it binds its own).
    pub(crate) fn spawn(
        &self,
        id: u64,
        listener: Option<BorrowedFd<'_>>,
    ) -> io::Result<(tokio::process::Child, OwnedReadHalf, OwnedWriteHalf)> {
        let (ours, theirs) = UnixStream::pair()?;
        let mut command = tokio::process::Command::new(&self.exe);
        command
            .args(&self.args)
            .env(WORKER_ENV, format!("{}:{id}", std::process::id()))
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            // Its own process group: a terminal's Ctrl+C reaches the supervisor
            // only, which then stops the workers gracefully, once.
            .process_group(0)
            // Should the supervisor fail, its workers do not outlive it.
            .kill_on_drop(true);
        let child = command.spawn()?;
        // Close our copy of the worker's end, so that each side sees EOF when the other goes.
        drop(command);
        heartbeat::send_listener(&ours, listener)?;
        ours.set_nonblocking(true)?;
        let (read, write) = tokio::net::UnixStream::from_std(ours)?.into_split();
        Ok((child, read, write))
    }
}

/// Sends `signal` to process `pid`; a process already gone is not an error.
pub(crate) fn send_signal(pid: u32, signal: Signal) {
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return;
    };
    if let Err(error) = rustix::process::kill_process(pid, signal)
        && error != rustix::io::Errno::SRCH
    {
        tracing::warn!("could not signal worker {pid:?}: {error}");
    }
}

/// How a worker ended, as a log line says it.
pub(crate) fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match status.signal() {
        Some(number) => {
            let name = match Signal::from_named_raw(number) {
                Some(Signal::KILL) => "SIGKILL",
                Some(Signal::TERM) => "SIGTERM",
                Some(Signal::ABORT) => "SIGABRT",
                Some(Signal::SEGV) => "SIGSEGV",
                Some(Signal::INT) => "SIGINT",
                Some(Signal::BUS) => "SIGBUS",
                Some(Signal::ILL) => "SIGILL",
                Some(Signal::FPE) => "SIGFPE",
                _ => "signal",
            };
            format!("killed by {name} ({number})")
        }
        None => format!("{status}"),
    }
}
