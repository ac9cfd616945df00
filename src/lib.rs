//! inetd, the Internet super-server, as a library: the binary in
//! `main.rs` only dispatches to it. The modules are public so that the
//! integration tests and fuzz targets reach what the binary uses.

pub mod builtins;
pub mod check;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod files;
pub mod hosts;
pub mod keyhash;
pub mod limits;
pub mod listener;
pub mod log;
#[cfg(panic = "abort")]
mod no_unwind;
pub mod notify;
pub mod pidfile;
pub mod relay;
pub mod resident;
pub mod resolve;
pub mod rpc;
pub mod signals;
pub mod spawn;
pub mod tcpd;
pub mod watch;

/// Returns the free memory at the top of the heap to the kernel (after a
/// configuration load, whose garbage is left there). glibc only: musl's
/// allocator has no malloc_trim and gives memory back by itself.
pub fn trim_heap() {
    // SAFETY: malloc_trim only returns free memory to the kernel.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::malloc_trim(0);
    }
}
