//! Socket steps with deadlines, shared by the lanes and the exchange: a read that waits at most
//! so long (on a timer the caller keeps), writes of several parts in one system call, a future
//! bounded in time without a timer when it completes at once.

use bytes::BytesMut;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Sleep;

/// Reads what `conn` sends next into `buf`, `None` when nothing came within `limit`.
///
/// `timer` is the caller's, kept for a whole client connection (or HTTP/2 stream) and moved on
/// before each read: moving a timer's deadline later is an atomic store in tokio, where a
/// `timeout` per read is an insert into its timer wheel and a removal each time.
pub async fn read_within<R: AsyncRead + Unpin>(
    conn: &mut R,
    buf: &mut BytesMut,
    mut timer: Pin<&mut Sleep>,
    limit: Duration,
) -> Option<std::io::Result<usize>> {
    timer.as_mut().reset(tokio::time::Instant::now() + limit);
    tokio::select! {
        biased;
        read = conn.read_buf(buf) => Some(read),
        () = timer => None,
    }
}

/// Writes and flushes `bytes` within `timeout`; `false` when that failed.
pub async fn write_all<C: AsyncWrite + Unpin>(client: &mut C, bytes: &[u8], timeout: Duration) -> bool {
    write_parts(client, &[bytes], timeout).await
}

/// Writes the parts in order (vectored: one system call for all of them when the socket takes
/// it) and flushes, within `timeout`; `false` when that failed.
pub async fn write_parts<C: AsyncWrite + Unpin>(client: &mut C, parts: &[&[u8]], timeout: Duration) -> bool {
    let io = async {
        let mut slices = [std::io::IoSlice::new(&[]); 4];
        let mut count = 0;
        for p in parts.iter().filter(|p| !p.is_empty()).take(slices.len()) {
            slices[count] = std::io::IoSlice::new(p);
            count += 1;
        }
        let mut slices = &mut slices[..count];
        while !slices.is_empty() {
            let n = client.write_vectored(slices).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            std::io::IoSlice::advance_slices(&mut slices, n);
        }
        client.flush().await
    };
    matches!(within(timeout, io).await, Some(Ok(())))
}

/// `fut` within `limit`, `None` when it took longer. Polled once before a timer is set: most
/// writes here complete at once, and a timer costs a clock read and a trip through the wheel.
pub async fn within<F: std::future::Future>(limit: Duration, fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx))).await;
    match first {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => tokio::time::timeout(limit, fut).await.ok(),
    }
}
