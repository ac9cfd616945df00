//! Reading the files inetd is configured by: its configuration, the rule
//! files and host lists, /etc/services, /etc/rpc and /etc/hosts. One
//! function, so every reader refuses the same things: anything but a
//! regular file (a FIFO would block the daemon for good, and SIGTERM cannot
//! interrupt it, as the handlers restart system calls; a device such as
//! /dev/zero never ends) and a file over [`MAX_FILE_BYTES`].

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The largest file read: far above any real configuration (a rule file of
/// 100,000 lines is a few MiB), low enough that the daemon never holds a
/// runaway one.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The contents of the regular file at `path`, at most [`MAX_FILE_BYTES`].
/// Errors name the problem, not the file: callers say which file it was.
/// A missing file is `NotFound`, as from `std::fs::read`.
pub fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    // O_NONBLOCK: opening a FIFO must not wait for a writer. It changes
    // nothing for a regular file. O_NOCTTY: a terminal never becomes ours.
    let mut file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else {
            "a socket"
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file ({what})"),
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // One byte past the limit tells a file that grew since the fstat.
    file.by_ref()
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// A file's bytes as text, what is not UTF-8 replaced by U+FFFD (as
/// `String::from_utf8_lossy`); valid text is neither copied nor scanned
/// twice.
pub fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The most names [`directory_names`] returns: a directory of include
/// files holds a few dozen.
pub const MAX_DIRECTORY_NAMES: usize = 4096;

/// The names in the directory at `dir` (`.` and `..` aside), in no order,
/// at most [`MAX_DIRECTORY_NAMES`] (the rest is an error).
pub fn directory_names(dir: &Path) -> io::Result<Vec<std::ffi::OsString>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        if names.len() == MAX_DIRECTORY_NAMES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("more than {MAX_DIRECTORY_NAMES} names"),
            ));
        }
        names.push(entry?.file_name());
    }
    Ok(names)
}

fn too_large() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("larger than {} MiB", MAX_FILE_BYTES >> 20),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_only() {
        let dir = std::env::temp_dir().join(format!("inetd-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("file");
        std::fs::write(&file, "text\n").unwrap();
        assert_eq!(read_regular(&file).unwrap(), b"text\n");
        let fifo = dir.join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let err = read_regular(&fifo).unwrap_err();
        assert_eq!(err.to_string(), "not a regular file (a FIFO)");
        let err = read_regular(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(err.to_string(), "not a regular file (a device)");
        assert!(read_regular(&dir).is_err());
        let missing = read_regular(&dir.join("missing")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        let big = dir.join("big");
        let f = File::create(&big).unwrap();
        f.set_len(MAX_FILE_BYTES + 1).unwrap();
        assert_eq!(
            read_regular(&big).unwrap_err().to_string(),
            "larger than 16 MiB"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
