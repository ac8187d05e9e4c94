//! An upgraded connection (a WebSocket after `101 Switching Protocols`): bytes copied both ways
//! as they come until both sides are done, or nothing moved for the idle timeout. Each
//! direction holds one buffer of `BUF` bytes and reads again only after writing what it
//! read, so a slow reader slows its writer (no unbounded buffering either way).

use super::io::write_all;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes read at once per direction.
const BUF: usize = 16 * 1024;

/// Bytes carried each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Carried {
    pub up: u64,
    pub down: u64,
}

/// Carries bytes between `client` and `upstream` until both have closed or `idle` passes with
/// nothing moving. `client_early` and `upstream_early` are what each side sent after its head
/// that was already read (the first frames).
pub async fn tunnel<C: AsyncRead + AsyncWrite + Unpin>(
    client: &mut C,
    client_early: &[u8],
    upstream: &mut TcpStream,
    upstream_early: &[u8],
    idle: Duration,
) -> Carried {
    let mut carried = Carried::default();
    if !write_all(upstream, client_early, idle).await || !write_all(client, upstream_early, idle).await {
        return carried;
    }
    carried.up += client_early.len() as u64;
    carried.down += upstream_early.len() as u64;
    let (mut up_buf, mut down_buf) = (vec![0u8; BUF], vec![0u8; BUF]);
    let (mut client_open, mut upstream_open) = (true, true);
    let timer = tokio::time::sleep(idle);
    tokio::pin!(timer);
    while client_open || upstream_open {
        timer.as_mut().reset(tokio::time::Instant::now() + idle);
        tokio::select! {
            read = client.read(&mut up_buf), if client_open => match read {
                Ok(0) | Err(_) => {
                    client_open = false;
                    let _ = upstream.shutdown().await;
                }
                Ok(n) => {
                    if !write_all(upstream, &up_buf[..n], idle).await {
                        return carried;
                    }
                    carried.up += n as u64;
                }
            },
            read = upstream.read(&mut down_buf), if upstream_open => match read {
                Ok(0) | Err(_) => {
                    upstream_open = false;
                    let _ = client.shutdown().await;
                }
                Ok(n) => {
                    if !write_all(client, &down_buf[..n], idle).await {
                        return carried;
                    }
                    carried.down += n as u64;
                }
            },
            () = &mut timer => return carried,
        }
    }
    carried
}
