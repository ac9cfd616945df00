//! The daemon's resident set after a load: the code that only loading ran
//! leaves it.
//!
//! Reading the configuration runs code that serving never runs again (the
//! parsers, the set-up of every socket), and the kernel maps file pages
//! 64 KiB around each one touched (fault-around): after start-up most of
//! the binary's and libc's code would stay mapped in the daemon for good
//! and count in its RSS. So after each load the pages of every loaded
//! object's read-only segments are dropped from the daemon's page tables
//! (`MADV_DONTNEED`); the page cache keeps them, and what serving touches
//! is mapped again, from memory, at its first touch.
//!
//! Only pages that are the file's own are dropped, as `/proc/self/pagemap`
//! tells: a page the process holds a copy of (a debugger's breakpoint, a
//! uprobe) is kept, or the breakpoint would be lost.
//!
//! [`LazyPages`] is the other side: a buffer whose pages become resident
//! only as they are written.

use std::ffi::{c_int, c_void, CStr};
use std::fs::File;
use std::io;
use std::ops::{Deref, DerefMut, Range};
use std::os::unix::fs::FileExt;
use std::ptr::NonNull;

/// pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst).
const PRESENT: u64 = 1 << 63;
const FILE_PAGE: u64 = 1 << 61;

/// pagemap entries read at a time.
const BATCH: usize = 512;

/// Drops the read-only file pages of the program and its libraries from
/// this process.
pub fn shed_loaded_code() -> io::Result<()> {
    let pagemap = File::open("/proc/self/pagemap")?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = usize::try_from(page).map_err(|_| io::Error::last_os_error())?;
    for segment in read_only_segments(page) {
        shed_file_pages(&pagemap, page, segment)?;
    }
    Ok(())
}

/// The page-aligned address ranges of every loaded object's `PT_LOAD`
/// segments that are not writable (code, read-only data), shrunk to the
/// pages that lie wholly inside them. The vDSO is left alone: it is no
/// file's.
fn read_only_segments(page: usize) -> Vec<Range<usize>> {
    let mut segments = (page, Vec::new());
    // SAFETY: the callback is given dl_iterate_phdr's own valid records and
    // our Vec, which outlives the call.
    unsafe {
        libc::dl_iterate_phdr(
            Some(collect_segments),
            &mut segments as *mut (usize, Vec<Range<usize>>) as *mut c_void,
        )
    };
    segments.1
}

unsafe extern "C" fn collect_segments(
    info: *mut libc::dl_phdr_info,
    _size: usize,
    segments: *mut c_void,
) -> c_int {
    // SAFETY: see `read_only_segments`.
    let (info, (page, segments)) =
        unsafe { (&*info, &mut *(segments as *mut (usize, Vec<Range<usize>>))) };
    let page = *page;
    let name = if info.dlpi_name.is_null() {
        &[][..]
    } else {
        unsafe { CStr::from_ptr(info.dlpi_name) }.to_bytes()
    };
    if name.starts_with(b"linux-vdso") || name.starts_with(b"linux-gate") {
        return 0;
    }
    if info.dlpi_phdr.is_null() {
        return 0;
    }
    let headers = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum.into()) };
    for header in headers {
        if header.p_type != libc::PT_LOAD || header.p_flags & libc::PF_W != 0 {
            continue;
        }
        let start = (info.dlpi_addr as usize).wrapping_add(header.p_vaddr as usize);
        let end = start.wrapping_add(header.p_memsz as usize);
        let (start, end) = (start.next_multiple_of(page), end / page * page);
        if start < end {
            segments.push(start..end);
        }
    }
    0
}

/// Drops the pages of `range` that are present and the file's own, in runs.
fn shed_file_pages(pagemap: &File, page: usize, range: Range<usize>) -> io::Result<()> {
    let mut at = range.start;
    let mut bytes = [0u8; BATCH * 8];
    while at < range.end {
        let count = ((range.end - at) / page).min(BATCH);
        pagemap.read_exact_at(&mut bytes[..count * 8], (at / page * 8) as u64)?;
        let droppable = |i: usize| {
            let mut entry = [0u8; 8];
            entry.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            u64::from_ne_bytes(entry) & (PRESENT | FILE_PAGE) == PRESENT | FILE_PAGE
        };
        let mut i = 0;
        while i < count {
            let first = i;
            while i < count && droppable(i) {
                i += 1;
            }
            if i > first {
                drop_pages(at + first * page, (i - first) * page)?;
            }
            i += 1;
        }
        at += count * page;
    }
    Ok(())
}

/// `MADV_DONTNEED` over `len` bytes from `start`.
fn drop_pages(start: usize, len: usize) -> io::Result<()> {
    // SAFETY: the range is inside a read-only mapping of a loaded object,
    // and every page dropped is the file's own: touching it again maps the
    // same bytes back.
    if unsafe { libc::madvise(start as *mut c_void, len, libc::MADV_DONTNEED) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Zeroed anonymous pages mapped for a buffer: a page is resident only
/// once written, so a buffer kept for the rare large read (a 64 KiB
/// datagram) costs the idle daemon only the pages it has used. An
/// allocation would clear, and so fault in, every page at once.
pub struct LazyPages {
    start: NonNull<u8>,
    len: usize,
}

impl LazyPages {
    pub fn new(len: usize) -> io::Result<LazyPages> {
        // SAFETY: a fresh private anonymous mapping, no address asked for.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let start = NonNull::new(start.cast()).ok_or_else(io::Error::last_os_error)?;
        Ok(LazyPages { start, len })
    }
}

impl Deref for LazyPages {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `len` mapped bytes, readable and zero until written,
        // owned by this value until it is dropped.
        unsafe { std::slice::from_raw_parts(self.start.as_ptr(), self.len) }
    }
}

impl DerefMut for LazyPages {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`; `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.start.as_ptr(), self.len) }
    }
}

impl Drop for LazyPages {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.start.as_ptr().cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resident pages of `buffer`, by mincore.
    fn resident(buffer: &LazyPages) -> usize {
        let page = 4096;
        let mut states = vec![0u8; buffer.len().div_ceil(page)];
        // SAFETY: the range is the buffer's own mapping, page-aligned.
        let r = unsafe {
            libc::mincore(
                buffer.as_ptr() as *mut c_void,
                buffer.len(),
                states.as_mut_ptr(),
            )
        };
        assert_eq!(r, 0, "{}", io::Error::last_os_error());
        states.iter().filter(|s| *s & 1 != 0).count()
    }

    #[test]
    fn lazy_pages_are_zero_and_resident_only_once_written() {
        let mut buffer = LazyPages::new(64 * 1024).unwrap();
        assert_eq!(buffer.len(), 64 * 1024);
        assert_eq!(resident(&buffer), 0);
        buffer[5000] = 7;
        assert_eq!(resident(&buffer), 1);
        // (Reading maps the shared zero page, which mincore counts too.)
        assert!(buffer
            .iter()
            .enumerate()
            .all(|(i, &b)| b == if i == 5000 { 7 } else { 0 }));
    }
}
