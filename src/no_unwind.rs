//! The unwinder entry points std refers to, for builds with `panic = "abort"`.
//!
//! std ships precompiled for unwinding, so its cleanup code still refers to
//! libgcc_s's unwinder even when nothing can unwind. Defining those symbols
//! here lets the linker drop libgcc_s (123 KiB, loaded at every start of
//! inetd and of its `--tcpd` children). With `panic = "abort"` no unwind
//! ever begins, so nothing but a backtrace (`RUST_BACKTRACE`, printed as
//! empty) can reach these; the rest abort. `_Unwind_RaiseException`, the
//! one way to start unwinding, is not referred to and not defined.

use std::ffi::{c_int, c_void};
use std::process::abort;

/// `_URC_END_OF_STACK`: the backtrace is empty.
const END_OF_STACK: c_int = 5;

#[no_mangle]
extern "C" fn _Unwind_Backtrace(_trace: *const c_void, _arg: *mut c_void) -> c_int {
    END_OF_STACK
}

#[no_mangle]
extern "C" fn _Unwind_Resume(_exception: *mut c_void) -> ! {
    abort()
}

#[no_mangle]
extern "C" fn _Unwind_GetIP(_context: *mut c_void) -> usize {
    abort()
}

#[no_mangle]
extern "C" fn _Unwind_GetIPInfo(_context: *mut c_void, _before: *mut c_int) -> usize {
    abort()
}

#[no_mangle]
extern "C" fn _Unwind_SetIP(_context: *mut c_void, _ip: usize) {
    abort()
}

#[no_mangle]
extern "C" fn _Unwind_SetGR(_context: *mut c_void, _index: c_int, _value: usize) {
    abort()
}

#[no_mangle]
extern "C" fn _Unwind_GetLanguageSpecificData(_context: *mut c_void) -> *mut c_void {
    abort()
}

#[no_mangle]
extern "C" fn _Unwind_GetRegionStart(_context: *mut c_void) -> usize {
    abort()
}

#[no_mangle]
extern "C" fn _Unwind_GetDataRelBase(_context: *mut c_void) -> usize {
    abort()
}

#[no_mangle]
extern "C" fn _Unwind_GetTextRelBase(_context: *mut c_void) -> usize {
    abort()
}

// ARM's EHABI: every function's unwind table entry names one of these
// personality routines, and only an unwind would call one.

#[cfg(target_arch = "arm")]
#[no_mangle]
extern "C" fn __aeabi_unwind_cpp_pr0(
    _state: c_int,
    _block: *mut c_void,
    _context: *mut c_void,
) -> c_int {
    abort()
}

#[cfg(target_arch = "arm")]
#[no_mangle]
extern "C" fn __aeabi_unwind_cpp_pr1(
    _state: c_int,
    _block: *mut c_void,
    _context: *mut c_void,
) -> c_int {
    abort()
}
