//! The sockets a worker serves: TCP and unix stream sockets behind one type, listening and
//! connected, plus their `std` forms for moving between workers.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// A connected socket.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// A connected socket between workers (not registered with any runtime).
#[derive(Debug)]
pub(crate) enum StdStream {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

impl Stream {
    /// Register a socket with this thread's runtime.
    pub fn from_std(stream: StdStream) -> io::Result<Self> {
        Ok(match stream {
            StdStream::Tcp(s) => {
                s.set_nonblocking(true)?;
                Self::Tcp(TcpStream::from_std(s)?)
            }
            StdStream::Unix(s) => {
                s.set_nonblocking(true)?;
                Self::Unix(UnixStream::from_std(s)?)
            }
        })
    }

    /// Unregister, to move to another worker.
    pub fn into_std(self) -> io::Result<StdStream> {
        Ok(match self {
            Self::Tcp(s) => StdStream::Tcp(s.into_std()?),
            Self::Unix(s) => StdStream::Unix(s.into_std()?),
        })
    }

    /// Read into `buf` once the socket is readable; `Pending` registers `cx` for readability.
    /// A read that fills `buf` only partly marks the socket not readable (epoll is
    /// edge-triggered), so the next poll costs no system call.
    pub fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        let polled = match self {
            Self::Tcp(s) => Pin::new(s).poll_read(cx, &mut buf),
            Self::Unix(s) => Pin::new(s).poll_read(cx, &mut buf),
        };
        polled.map_ok(|()| buf.filled().len())
    }

    /// `Ready` once the socket may be writable; `Pending` registers `cx` for writability.
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Self::Tcp(s) => s.poll_write_ready(cx),
            Self::Unix(s) => s.poll_write_ready(cx),
        }
    }

    pub fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.try_write_vectored(bufs),
            Self::Unix(s) => s.try_write_vectored(bufs),
        }
    }

    /// Half-close: the peer reads end-of-stream after what was written.
    pub fn shutdown_write(&self) {
        let _ = match self {
            Self::Tcp(s) => socket2::SockRef::from(s).shutdown(std::net::Shutdown::Write),
            Self::Unix(s) => socket2::SockRef::from(s).shutdown(std::net::Shutdown::Write),
        };
    }
}

/// A listening socket, bound before the workers start.
#[derive(Debug)]
pub(crate) enum StdListener {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener),
}

/// A listening socket registered with a worker's runtime.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listener {
    pub fn from_std(listener: StdListener) -> io::Result<Self> {
        Ok(match listener {
            StdListener::Tcp(l) => Self::Tcp(TcpListener::from_std(l)?),
            StdListener::Unix(listener) => {
                listener.set_nonblocking(true)?;
                Self::Unix(UnixListener::from_std(listener)?)
            }
        })
    }

    /// The next connection, with the peer's address (none for a unix socket).
    pub async fn accept(&self) -> io::Result<(Stream, Option<SocketAddr>)> {
        match self {
            Self::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                Ok((Stream::Tcp(s), Some(peer)))
            }
            Self::Unix(l) => {
                let (s, _) = l.accept().await?;
                Ok((Stream::Unix(s), None))
            }
        }
    }
}
