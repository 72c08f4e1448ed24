//! The channel between the supervisor and a worker: a socketpair whose
//! worker end is the worker's standard input.
//!
//! First the supervisor sends one byte, with the listening socket attached
//! (`SCM_RIGHTS`) unless each worker binds its own (`--reuse-port`). Then it
//! is single bytes both ways: pings from the supervisor, and pongs, "ready"
//! and "recycle me" from the worker. The worker answers pings from a task on
//! its event loop, so a blocked loop misses them.

use std::io::{self, IoSlice, IoSliceMut, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

/// Supervisor to worker: answer if your loop runs.
pub(crate) const PING: u8 = b'p';
/// Worker to supervisor: my loop runs.
pub(crate) const PONG: u8 = b'P';
/// Worker to supervisor: lifespan startup completed, I accept connections.
pub(crate) const READY: u8 = b'R';
/// Worker to supervisor: I reached `--limit-max-requests`; start my
/// replacement, then tell me to stop.
pub(crate) const RECYCLE: u8 = b'M';

/// The first message: the listening socket follows.
const LISTENER: u8 = b'L';
/// The first message: bind your own socket.
const NO_LISTENER: u8 = b'N';

/// Sends the first message: `listener`, or word to bind one's own.
pub(crate) fn send_listener(
    channel: &UnixStream,
    listener: Option<BorrowedFd<'_>>,
) -> io::Result<()> {
    let Some(fd) = listener else {
        return (&*channel).write_all(&[NO_LISTENER]);
    };
    let fds = [fd];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(io::Error::other("no room for the descriptor"));
    }
    let sent = rustix::net::sendmsg(
        channel,
        &[IoSlice::new(&[LISTENER])],
        &mut control,
        SendFlags::empty(),
    )?;
    if sent == 1 {
        Ok(())
    } else {
        Err(io::ErrorKind::WriteZero.into())
    }
}

/// Receives the first message: the inherited listening socket, or `None`
/// when this worker binds its own.
///
/// # Errors
///
/// The channel is not a socket (the process was not started by a
/// supervisor), or it closed or broke the protocol.
pub(crate) fn recv_listener(channel: impl AsFd) -> io::Result<Option<OwnedFd>> {
    let mut byte = [0u8; 1];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let received = rustix::net::recvmsg(
        channel,
        &mut [IoSliceMut::new(&mut byte)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    if received.bytes == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let mut fd = None;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = message {
            // Any further descriptor is dropped, so closed.
            for received in fds {
                fd.get_or_insert(received);
            }
        }
    }
    match (byte[0], fd) {
        (LISTENER, Some(fd)) => Ok(Some(fd)),
        (NO_LISTENER, None) => Ok(None),
        (first, _) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected first message {first:#04x} from the supervisor"),
        )),
    }
}

/// Hands every byte the worker sends to `deliver` until the channel closes
/// or `deliver` returns `false`.
pub(crate) async fn read_messages(
    mut read: tokio::net::unix::OwnedReadHalf,
    mut deliver: impl FnMut(u8) -> bool,
) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 64];
    loop {
        match read.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if !buf[..n].iter().all(|&byte| deliver(byte)) {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn listener_crosses_the_channel() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();

        send_listener(&ours, Some(listener.as_fd())).unwrap();
        (&ours).write_all(&[PING]).unwrap();
        let fd = recv_listener(&theirs).unwrap().expect("a descriptor");

        assert_ne!(fd.as_raw_fd(), listener.as_raw_fd());
        let adopted = std::net::TcpListener::from(fd);
        assert_eq!(
            adopted.local_addr().unwrap(),
            listener.local_addr().unwrap()
        );
        let mut next = [0u8; 1];
        std::io::Read::read_exact(&mut &theirs, &mut next).unwrap();
        assert_eq!(
            next,
            [PING],
            "the ping after the first message is left unread"
        );
    }

    #[test]
    fn no_listener_and_bad_channels() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        send_listener(&ours, None).unwrap();
        assert!(recv_listener(&theirs).unwrap().is_none());

        (&ours).write_all(b"x").unwrap();
        assert!(recv_listener(&theirs).is_err());

        drop(ours);
        assert!(recv_listener(&theirs).is_err());
    }
}
