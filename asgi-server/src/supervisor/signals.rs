//! The supervisor's signals, as Gunicorn's arbiter reads them.

use std::io;

use tokio::signal::unix::{Signal, SignalKind, signal};

/// What a signal asks of the supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// TERM or INT: stop every worker gracefully (a second one: at once).
    Stop,
    /// QUIT: stop at once.
    Quit,
    /// HUP: replace every worker, one by one, each new one ready before the old one stops.
    Reload,
    /// TTIN: one worker more.
    Increment,
    /// TTOU: one worker fewer.
    Decrement,
}

/// The supervisor's signal handlers.
#[derive(Debug)]
pub(crate) struct Signals {
    term: Signal,
    int: Signal,
    quit: Signal,
    hup: Signal,
    ttin: Signal,
    ttou: Signal,
}

impl Signals {
    /// Installs the handlers (inside a tokio runtime).
    pub(crate) fn install() -> io::Result<Self> {
        let raw = |s: rustix::process::Signal| SignalKind::from_raw(s.as_raw());
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
            hup: signal(SignalKind::hangup())?,
            ttin: signal(raw(rustix::process::Signal::TTIN))?,
            ttou: signal(raw(rustix::process::Signal::TTOU))?,
        })
    }

    /// The next signal.
    pub(crate) async fn recv(&mut self) -> Command {
        tokio::select! {
            _ = self.term.recv() => Command::Stop,
            _ = self.int.recv() => Command::Stop,
            _ = self.quit.recv() => Command::Quit,
            _ = self.hup.recv() => Command::Reload,
            _ = self.ttin.recv() => Command::Increment,
            _ = self.ttou.recv() => Command::Decrement,
        }
    }
}
