//! Upstream read buffers, kept per thread between exchanges.
//!
//! An exchange reads the upstream's answer into one buffer big enough to gather a 64 KiB body
//! and one more read (`exchange::GATHER` + `READ_ROOM`), so the relay never grows it (growing
//! copies what was read). Allocating that much per request is the allocator's slow path, and
//! nearly every answer is small: so a few buffers are kept per thread and handed out again.
//! Per thread because each proxy thread runs its own runtime (`pool` keeps connections the same
//! way); at most `SPARE` are kept, a few hundred KiB.

use super::exchange::{GATHER, READ_ROOM};
use bytes::BytesMut;
use std::cell::RefCell;

/// A buffer's size.
pub const SIZE: usize = GATHER + READ_ROOM;
/// Buffers kept per thread.
const SPARE: usize = 8;

thread_local! {
    static KEPT: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer of [`SIZE`].
pub fn take() -> BytesMut {
    KEPT.with(|k| k.borrow_mut().pop()).unwrap_or_else(|| BytesMut::with_capacity(SIZE))
}

/// Hands a buffer back once its exchange is over. Kept only when it is still the size it was
/// made (a buffer that grew, or shares its memory, is dropped).
pub fn give(mut buf: BytesMut) {
    buf.clear();
    // Reclaims the room before the read position (no copy: nothing is left in it).
    buf.reserve(SIZE);
    if buf.capacity() != SIZE {
        return;
    }
    KEPT.with(|k| {
        let mut k = k.borrow_mut();
        if k.len() < SPARE {
            k.push(buf);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_whole_after_being_read_from() {
        let mut b = take();
        b.extend_from_slice(&[7u8; 1000]);
        bytes::Buf::advance(&mut b, 600);
        let at = b.as_ptr();
        give(b);
        let again = take();
        assert_eq!((again.len(), again.capacity()), (0, SIZE));
        assert!(again.as_ptr() <= at, "the same memory, from its start");
        // A buffer that grew is not kept.
        let mut grown = take();
        grown.reserve(4 * SIZE);
        give(grown);
        assert_eq!(take().capacity(), SIZE);
    }
}
