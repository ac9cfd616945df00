//! The system databases that patterns and options ask about through NSS:
//! accounts (`user`, `group` options) and netgroups (`@group` patterns).
//! Their answers may take a network service (LDAP, NIS), so only `--match`
//! and the `--tcpd` child ask them; the daemon decides with `NoLookup`.

#[cfg(target_env = "gnu")]
use std::ffi::CString;

use super::request::Account;

/// Whether the password or group database knows `name`.
pub fn account_exists(kind: Account, name: &str) -> bool {
    match kind {
        Account::User => matches!(nix::unistd::User::from_name(name), Ok(Some(_))),
        Account::Group => matches!(nix::unistd::Group::from_name(name), Ok(Some(_))),
    }
}

/// Why an `@group` pattern never matches here, if it does not: musl has no
/// netgroups (no `innetgr`).
pub const NETGROUPS_UNSUPPORTED: Option<&str> = if cfg!(target_env = "gnu") {
    None
} else {
    Some("netgroups are not supported by this build (no innetgr in its C library): never matches")
};

#[cfg(target_env = "gnu")]
extern "C" {
    fn innetgr(
        netgroup: *const libc::c_char,
        host: *const libc::c_char,
        user: *const libc::c_char,
        domain: *const libc::c_char,
    ) -> libc::c_int;
}

/// Whether `host` is in `netgroup`: never, without netgroups.
#[cfg(not(target_env = "gnu"))]
pub fn in_netgroup(_: &str, _: &str) -> bool {
    false
}

/// Whether `host` is in `netgroup` (innetgr, any user and domain).
#[cfg(target_env = "gnu")]
pub fn in_netgroup(netgroup: &str, host: &str) -> bool {
    let (Ok(group), Ok(host)) = (CString::new(netgroup), CString::new(host)) else {
        return false;
    };
    // SAFETY: valid NUL-terminated strings; null user and domain are allowed.
    unsafe {
        innetgr(
            group.as_ptr(),
            host.as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
        ) == 1
    }
}
