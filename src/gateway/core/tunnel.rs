//! An upgraded connection (a WebSocket after `101 Switching Protocols`): bytes copied both ways
//! as they come until both sides are done, or nothing moved either way for the idle timeout.
//!
//! Each direction holds one buffer of `BUF` bytes and reads again only after writing what it
//! read, so a slow reader slows its writer (no unbounded buffering either way). The two
//! directions are independent: one whose reader has stopped holds up only itself, as on a
//! direct connection. (Copied in one loop, a write blocked towards the client also stopped
//! the reads from the client: a client that uploads before it reads what the origin sends
//! never got its upload through.)

use super::io::write_all;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes read at once per direction.
const BUF: usize = 16 * 1024;
/// Looks per idle timeout at whether anything moved: a quiet tunnel closes between
/// `idle` and `idle + idle / LOOKS` after its last byte.
const LOOKS: u32 = 4;

/// Bytes carried each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Carried {
    pub up: u64,
    pub down: u64,
}

/// Carries bytes between `client` and `upstream` until both have closed, a write fails, or
/// `idle` passes with nothing moving either way. `client_early` and `upstream_early` are what
/// each side sent after its head that was already read (the first frames).
pub async fn tunnel<C: AsyncRead + AsyncWrite + Unpin>(
    client: &mut C,
    client_early: &[u8],
    upstream: &mut super::conn::UpstreamConn,
    upstream_early: &[u8],
    idle: Duration,
) -> Carried {
    if !write_all(upstream, client_early, idle).await || !write_all(client, upstream_early, idle).await {
        return Carried::default();
    }
    let (up, down) = (AtomicU64::new(client_early.len() as u64), AtomicU64::new(upstream_early.len() as u64));
    let (client_read, client_write) = tokio::io::split(client);
    let (upstream_read, upstream_write) = upstream.split();
    let mut to_upstream = std::pin::pin!(copy(client_read, upstream_write, &up));
    let mut to_client = std::pin::pin!(copy(upstream_read, client_write, &down));
    let quiet = async {
        let look = idle / LOOKS;
        let (mut seen, mut still) = (0, Duration::ZERO);
        while still < idle {
            tokio::time::sleep(look).await;
            let moved = up.load(Ordering::Relaxed) + down.load(Ordering::Relaxed);
            still = if moved == seen { still + look } else { Duration::ZERO };
            seen = moved;
        }
    };
    let mut quiet = std::pin::pin!(quiet);
    let (mut up_open, mut down_open) = (true, true);
    while up_open || down_open {
        tokio::select! {
            ended = &mut to_upstream, if up_open => {
                up_open = false;
                if ended.is_err() {
                    break;
                }
            }
            ended = &mut to_client, if down_open => {
                down_open = false;
                if ended.is_err() {
                    break;
                }
            }
            () = &mut quiet => break,
        }
    }
    Carried { up: up.load(Ordering::Relaxed), down: down.load(Ordering::Relaxed) }
}

/// One direction: reads into one buffer and writes it all before reading again, counting into
/// `carried`. `Ok` when the reader ended (its end passed on as a shutdown of the writer),
/// `Err` when a write failed.
async fn copy<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    mut from: R,
    mut to: W,
    carried: &AtomicU64,
) -> Result<(), std::io::Error> {
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return Ok(());
            }
            Ok(n) => n,
        };
        to.write_all(&buf[..n]).await?;
        to.flush().await?;
        carried.fetch_add(n as u64, Ordering::Relaxed);
    }
}
