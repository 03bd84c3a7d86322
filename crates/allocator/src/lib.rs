//! The `regain` process's allocator: mimalloc, asked the way its fast path
//! wants. The binary installs it with `#[global_allocator]`.
//!
//! Why mimalloc rather than glibc's malloc: a request's memory is often
//! freed on another runtime thread than the one that allocated it, and
//! glibc took an arena lock for each such free (a `perf` trace of the
//! `challenge` step, BENCHMARKS.md); mimalloc hands such frees back without
//! a lock. It also serves the C code's `malloc` (the `override` feature),
//! that is SQLite's: a reader connection drops its page cache whenever
//! another connection commits and reads the pages again into fresh blocks,
//! and glibc trimmed each thread's arena on the frees and grew it again on
//! the next read, faulting its pages back in (4.5% of the server's samples
//! in the challenge step; 2.1% on mimalloc, with page faults down from 2%
//! to 0.8%).
//!
//! Why not the `mimalloc` crate's own `GlobalAlloc`: it asks for every
//! block through `mi_malloc_aligned`, even with the alignment of a byte.
//! In mimalloc 3 that call takes its fast path only for a block of at most
//! 1 KiB, and otherwise keeps the plain path only for sizes whose block is
//! a power of two: any other block (a 1.5 KiB buffer, a 72-byte struct in
//! a moment when its page is full) is over-allocated by its alignment and
//! costs ten times the instructions. By callgrind, a quarter of the
//! server's allocations went that way during the `start` step; serving
//! them plainly saves 6% of its instructions. Here a block whose alignment every plain block already
//! has goes to `mi_malloc`, as Rust's own system allocator does with
//! `malloc`: mimalloc's blocks above 8 bytes are multiples of 16 bytes from
//! a 16-byte aligned start, and those of 8 bytes are 8-byte aligned.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment of every block `mi_malloc` returns for a size of at least
/// that much (mimalloc's `MI_MAX_ALIGN_SIZE`).
const PLAIN_ALIGN: usize = 16;

/// mimalloc for every allocation of the process.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allocator;

/// Whether a plain block of `size` bytes is aligned enough for `align`.
#[inline]
fn plain(align: usize, size: usize) -> bool {
    align <= PLAIN_ALIGN && align <= size
}

// SAFETY: every block comes from mimalloc, aligned as its layout asks
// (see `plain`; otherwise mimalloc's aligned calls, which align to any
// power of two), or is null when memory is out; `mi_free` and `mi_realloc`
// take any block mimalloc handed out, aligned or not.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = if plain(layout.align(), layout.size()) {
            // SAFETY: mimalloc takes any size; this alignment is its own.
            unsafe { mi::mi_malloc(layout.size()) }
        } else {
            // SAFETY: a layout's alignment is a power of two.
            unsafe { mi::mi_malloc_aligned(layout.size(), layout.align()) }
        };
        p.cast()
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = if plain(layout.align(), layout.size()) {
            // SAFETY: as in `alloc`.
            unsafe { mi::mi_zalloc(layout.size()) }
        } else {
            // SAFETY: as in `alloc`.
            unsafe { mi::mi_zalloc_aligned(layout.size(), layout.align()) }
        };
        p.cast()
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the caller hands back a block of this allocator, once.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = if plain(layout.align(), new_size) {
            // SAFETY: a block of this allocator; the new one is aligned as
            // every plain block of `new_size` bytes is.
            unsafe { mi::mi_realloc(ptr.cast::<c_void>(), new_size) }
        } else {
            // SAFETY: a block of this allocator; a power-of-two alignment.
            unsafe { mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()) }
        };
        p.cast()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The common layouts take the plain path, whatever their size; the
    /// ones a plain block may not satisfy take the aligned one.
    #[test]
    fn only_layouts_a_plain_block_satisfies_take_the_plain_path() {
        for (align, size) in [
            (1, 1),
            (8, 8),
            (8, 72),
            (8, 1500),
            (16, 16),
            (16, 4096),
            (1, 1 << 20),
        ] {
            assert!(plain(align, size), "align {align} size {size}");
        }
        for (align, size) in [(32, 64), (64, 64), (4096, 8192), (16, 8), (8, 4)] {
            assert!(!plain(align, size), "align {align} size {size}");
        }
    }

    /// Every size up to 5 KiB and a few far beyond, with every alignment up
    /// to a page: each block is aligned as asked, holds what was written to
    /// it, and keeps it through a growing and a shrinking `realloc`.
    #[test]
    fn blocks_are_aligned_as_asked_and_keep_their_bytes() {
        let sizes = (1..=5 * 1024).chain([8191, 65_537, 300_000, 4 << 20]);
        for size in sizes {
            for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero size; every block is used within its
                // size and freed once, with the layout it has at that moment.
                #[allow(unsafe_code)]
                unsafe {
                    let p = Allocator.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    std::ptr::write_bytes(p, 0xA5, size);
                    let grown = size * 2 + 3;
                    let q = Allocator.realloc(p, layout, grown);
                    assert_eq!(q as usize % align, 0, "grown {grown} align {align}");
                    assert!(std::slice::from_raw_parts(q, size)
                        .iter()
                        .all(|b| *b == 0xA5));
                    let shrunk = size.div_ceil(2);
                    let grown_layout = Layout::from_size_align(grown, align).unwrap();
                    let r = Allocator.realloc(q, grown_layout, shrunk);
                    assert_eq!(r as usize % align, 0, "shrunk {shrunk} align {align}");
                    assert!(std::slice::from_raw_parts(r, shrunk)
                        .iter()
                        .all(|b| *b == 0xA5));
                    Allocator.dealloc(r, Layout::from_size_align(shrunk, align).unwrap());

                    let z = Allocator.alloc_zeroed(layout);
                    assert_eq!(z as usize % align, 0, "zeroed {size} align {align}");
                    assert!(std::slice::from_raw_parts(z, size).iter().all(|b| *b == 0));
                    Allocator.dealloc(z, layout);
                }
            }
        }
    }
}
