//! RFC 1413, FreeBSD's `auth` builtin: who owns a TCP connection between
//! the client's host and this one, answered from the kernel's socket
//! tables and the user names of `/etc/passwd` read at load. The daemon
//! reads the request line (a session) and writes the answer; everything
//! here but [`socket_owner`] (netlink, procfs) and [`random_name`]
//! (getrandom) is pure.
//!
//! The owner comes from one exact sock_diag look-up (netlink: the kernel
//! finds the socket by its addresses and ports in its hash table and
//! answers before the request's send returns), or, where netlink cannot
//! answer, from a scan of `/proc/net/tcp` and `tcp6`. The scan costs the
//! kernel's formatting of the table: 80 ms a query with 45,000 sockets
//! (most in TIME_WAIT) on the test machine, which a look-up does not.
//!
//! FreeBSD's options, as its `ident_stream` reads them (getopt, so
//! `-ri` and `-o NAME` or `-oNAME`):
//! - `-r`: answer with the real owner; without it every answer is
//!   `HIDDEN-USER` (or the `-d` name).
//! - `-d NAME`: the name given when there is none to give (no `-r`, no
//!   such connection, a table that cannot be read).
//! - `-g`: a random name of 32 base-36 characters for every query.
//! - `-i`: the owner's uid, not its name.
//! - `-o NAME`: the operating system named in answers (default: uname's).
//! - `-t SEC[.USEC]`: how long the client has to send its line (10 s).
//! - `-n` (`~/.noident`), `-f` and `-F` (`~/.fakeid`) are not served: they
//!   read a file in the owner's home directory, as the owner, which the
//!   daemon can do neither without blocking (an NFS home) nor without
//!   changing its own credentials. A line with one is skipped with a
//!   warning rather than served without it (`-n` users would be shown).

use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

/// A request line with its CRLF: two port numbers, a comma and blanks.
pub const MAX_LINE: usize = 512;

/// FreeBSD's default time for the client's line.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The most of a socket table read per query (about 100,000 sockets):
/// past it the answer is `UNKNOWN-ERROR`.
pub const MAX_TABLE_BYTES: usize = 16 * 1024 * 1024;

/// Users kept from `/etc/passwd`; a uid past them is answered by number.
pub const MAX_USERS: usize = 65_536;

/// The length of a `-g` name: FreeBSD's MAXLOGNAME less its NUL.
const RANDOM_NAME_LEN: usize = 32;

/// The options of one `auth` line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub real: bool,
    pub random: bool,
    pub numeric: bool,
    pub os: Option<String>,
    pub fallback: Option<String>,
    pub timeout: Option<Duration>,
}

impl Options {
    /// Reads the words after `internal auth`. `Err` names an option not
    /// served here (the line is skipped); the warnings, options ignored.
    pub fn parse(args: &[String]) -> Result<(Options, Vec<String>), String> {
        let mut options = Options::default();
        let mut warnings = Vec::new();
        let mut words = args.iter();
        while let Some(word) = words.next() {
            let Some(flags) = word.strip_prefix('-').filter(|f| !f.is_empty()) else {
                // getopt stops at the first word that is not an option.
                let rest: Vec<&str> = std::iter::once(word)
                    .chain(words)
                    .map(String::as_str)
                    .collect();
                warnings.push(format!("auth: arguments {:?} ignored", rest.join(" ")));
                break;
            };
            if flags == "-" {
                break;
            }
            for (i, flag) in flags.char_indices() {
                match flag {
                    'r' => options.real = true,
                    'g' => options.random = true,
                    'i' => options.numeric = true,
                    'n' => return Err("auth option -n (~/.noident)".to_string()),
                    'f' | 'F' => return Err(format!("auth option -{flag} (~/.fakeid)")),
                    'd' | 'o' | 't' => {
                        let attached = &flags[i + 1..];
                        let value = if attached.is_empty() {
                            match words.next() {
                                Some(value) => value.as_str(),
                                None => {
                                    warnings.push(format!("auth: -{flag} needs a value: ignored"));
                                    break;
                                }
                            }
                        } else {
                            attached
                        };
                        match flag {
                            // -g wins over -d, whichever comes first.
                            'd' => options.fallback = Some(value.to_string()),
                            'o' => options.os = Some(value.to_string()),
                            _ => match timeout(value) {
                                Some(t) => options.timeout = Some(t),
                                None => warnings.push(format!("auth: bad -t {value:?}: ignored")),
                            },
                        }
                        break;
                    }
                    other => warnings.push(format!("auth: unknown option -{other} ignored")),
                }
            }
        }
        Ok((options, warnings))
    }

    /// How long the client has for its line.
    pub fn deadline(&self) -> Duration {
        self.timeout.unwrap_or(DEADLINE)
    }
}

/// `SEC` or `SEC.USEC`, as FreeBSD's `-t` reads it; at least a millisecond.
fn timeout(value: &str) -> Option<Duration> {
    let (secs, micros) = value.split_once('.').unwrap_or((value, "0"));
    let number = |s: &str| {
        Some(s)
            .filter(|s| !s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit()))?
            .parse::<u64>()
            .ok()
    };
    let timeout = Duration::from_secs(number(secs)?) + Duration::from_micros(number(micros)?);
    (timeout >= Duration::from_millis(1)).then_some(timeout)
}

/// Who owns a connection, as the socket tables tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    Uid(u32),
    /// No such connection (or one that no process owns any more).
    NoSuchConnection,
    /// The tables could not be read, or were too large to read whole.
    Unknown,
}

/// The user names of `/etc/passwd`: the first entry of a uid wins, as
/// getpwuid answers. Read at load, never through NSS.
#[derive(Debug, Default)]
pub struct UserNames {
    by_uid: HashMap<u32, String>,
}

impl UserNames {
    pub fn parse(text: &str) -> UserNames {
        let mut by_uid = HashMap::new();
        for line in text.lines() {
            if by_uid.len() >= MAX_USERS {
                break;
            }
            let mut fields = line.split(':');
            let (Some(name), Some(_), Some(uid)) = (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let Ok(uid) = uid.parse::<u32>() else {
                continue;
            };
            // NIS's `+`/`-` lines are no user of their own.
            if name.is_empty() || name.starts_with(['+', '-', '#']) {
                continue;
            }
            by_uid.entry(uid).or_insert_with(|| name.to_string());
        }
        UserNames { by_uid }
    }

    pub fn name(&self, uid: u32) -> Option<&str> {
        self.by_uid.get(&uid).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.by_uid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_uid.is_empty()
    }
}

/// What one answer needs beyond the request: the options, the ident
/// connection's own endpoints (server, client; `None` on a UNIX socket),
/// how to find a connection's owner, the user names, the OS name and a
/// source of random names.
pub struct Context<'a> {
    pub options: &'a Options,
    pub endpoints: Option<(SocketAddr, SocketAddr)>,
    pub owner: &'a mut dyn FnMut(SocketAddr, SocketAddr) -> Owner,
    pub users: &'a UserNames,
    pub os: &'a str,
    pub random: &'a mut dyn FnMut() -> String,
}

/// The reply to one request line (without its CRLF); `None` for a line
/// longer than [`MAX_LINE`].
pub fn answer(line: Option<&[u8]>, cx: Context) -> Vec<u8> {
    let Some((lport, fport)) = line.and_then(ports) else {
        return error(0, 0, "INVALID-PORT");
    };
    if lport == 0 || fport == 0 {
        return error(lport, fport, "INVALID-PORT");
    }
    let options = cx.options;
    let fallback = |kind: &str| match &options.fallback {
        Some(name) => userid(lport, fport, cx.os, name),
        None => error(lport, fport, kind),
    };
    if options.random {
        return userid(lport, fport, cx.os, &(cx.random)());
    }
    if !options.real {
        return fallback("HIDDEN-USER");
    }
    let Some((server, client)) = cx.endpoints else {
        return fallback("UNKNOWN-ERROR");
    };
    let local = SocketAddr::new(server.ip(), lport as u16);
    let remote = SocketAddr::new(client.ip(), fport as u16);
    match (cx.owner)(local, remote) {
        Owner::Uid(uid) => {
            let name = match cx.users.name(uid) {
                Some(name) if !options.numeric => name.to_string(),
                // Not in /etc/passwd (an NSS-only user): by number.
                _ => uid.to_string(),
            };
            userid(lport, fport, cx.os, &name)
        }
        Owner::NoSuchConnection => fallback("NO-USER"),
        Owner::Unknown => fallback("UNKNOWN-ERROR"),
    }
}

/// `LPORT , FPORT` with any blanks around the numbers: a port out of
/// range is kept (up to 99999) to be echoed as RFC 1413 wants; anything
/// else is no pair.
fn ports(line: &[u8]) -> Option<(u32, u32)> {
    let text = std::str::from_utf8(line).ok()?;
    let (l, f) = text.split_once(',')?;
    let number = |s: &str| {
        let s = s.trim_matches([' ', '\t']);
        Some(s)
            .filter(|s| !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit()))?
            .parse::<u32>()
            .ok()
    };
    let (l, f) = (number(l)?, number(f)?);
    Some(if l > 65535 || f > 65535 {
        (0, 0)
    } else {
        (l, f)
    })
}

fn userid(lport: u32, fport: u32, os: &str, id: &str) -> Vec<u8> {
    format!("{lport} , {fport} : USERID : {os} : {id}\r\n").into_bytes()
}

fn error(lport: u32, fport: u32, kind: &str) -> Vec<u8> {
    format!("{lport} , {fport} : ERROR : {kind}\r\n").into_bytes()
}

/// The owner of the TCP socket from `local` to `remote`: by sock_diag,
/// else by the procfs tables (see the module's comment).
pub fn socket_owner(local: SocketAddr, remote: SocketAddr, scratch: &mut [u8]) -> Owner {
    diag_owner(local, remote).unwrap_or_else(|| scanned_owner(local, remote, scratch))
}

/// One look-up of no connection, at load: a kernel whose sock_diag is a
/// module loads it for the first request (waiting for modprobe), which
/// had better be at the load than at a client's query.
pub fn warm_up() {
    let nowhere = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
    let _ = diag_owner(nowhere, nowhere);
}

/// sock_diag's `SOCK_DIAG_BY_FAMILY` request type.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// TCP states that name no owner: TIME_WAIT, LISTEN (a look-up falls back
/// to the listener of the local port), NEW_SYN_RECV.
const OWNERLESS_STATES: [u8; 3] = [6, 10, 12];

/// One exact sock_diag look-up of the connection (an `inet_diag_req_v2`
/// without `NLM_F_DUMP`); `None` when netlink gives no answer (no
/// sock_diag in the kernel, say). The socket is non-blocking: the kernel
/// has queued its answer when `send` returns.
fn diag_owner(local: SocketAddr, remote: SocketAddr) -> Option<Owner> {
    use nix::sys::socket::{self, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol};
    let unmapped = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let (family, src, dst) = match (unmapped(local.ip()), unmapped(remote.ip())) {
        (IpAddr::V4(l), IpAddr::V4(r)) => {
            let pad = |a: Ipv4Addr| {
                let mut words = [0u8; 16];
                words[..4].copy_from_slice(&a.octets());
                words
            };
            (libc::AF_INET as u8, pad(l), pad(r))
        }
        (IpAddr::V6(l), IpAddr::V6(r)) => (libc::AF_INET6 as u8, l.octets(), r.octets()),
        _ => return Some(Owner::NoSuchConnection),
    };
    const REQUEST_LEN: usize = 16 + 56;
    let mut request = Vec::with_capacity(REQUEST_LEN);
    // nlmsghdr: length, type, flags (NLM_F_REQUEST), sequence, port id.
    request.extend_from_slice(&(REQUEST_LEN as u32).to_ne_bytes());
    request.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    request.extend_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    request.extend_from_slice(&1u32.to_ne_bytes());
    request.extend_from_slice(&0u32.to_ne_bytes());
    // inet_diag_req_v2: family, protocol, extensions, pad, states (all).
    request.extend_from_slice(&[family, libc::IPPROTO_TCP as u8, 0, 0]);
    request.extend_from_slice(&u32::MAX.to_ne_bytes());
    // inet_diag_sockid: ports and addresses in network order, any
    // interface, no cookie.
    request.extend_from_slice(&local.port().to_be_bytes());
    request.extend_from_slice(&remote.port().to_be_bytes());
    request.extend_from_slice(&src);
    request.extend_from_slice(&dst);
    request.extend_from_slice(&0u32.to_ne_bytes());
    request.extend_from_slice(&u32::MAX.to_ne_bytes());
    request.extend_from_slice(&u32::MAX.to_ne_bytes());
    debug_assert_eq!(request.len(), REQUEST_LEN);
    let fd = socket::socket(
        AddressFamily::Netlink,
        socket::SockType::Datagram,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkSockDiag,
    )
    .ok()?;
    use std::os::fd::AsRawFd;
    let kernel = NetlinkAddr::new(0, 0);
    socket::sendto(fd.as_raw_fd(), &request, &kernel, MsgFlags::empty()).ok()?;
    let mut reply = [0u8; 512];
    let n = socket::recv(fd.as_raw_fd(), &mut reply, MsgFlags::empty()).ok()?;
    diag_reply(&reply[..n])
}

/// The owner in a sock_diag reply: an `inet_diag_msg`, or an error
/// (`ENOENT`: no such socket).
fn diag_reply(reply: &[u8]) -> Option<Owner> {
    let u16_at = |i: usize| Some(u16::from_ne_bytes(reply.get(i..i + 2)?.try_into().ok()?));
    let u32_at = |i: usize| Some(u32::from_ne_bytes(reply.get(i..i + 4)?.try_into().ok()?));
    let len = u32_at(0)? as usize;
    if len > reply.len() || len < 16 {
        return None;
    }
    match u16_at(4)? {
        t if t == libc::NLMSG_ERROR as u16 => {
            let errno = -(u32_at(16)? as i32);
            (errno == libc::ENOENT).then_some(Owner::NoSuchConnection)
        }
        SOCK_DIAG_BY_FAMILY => {
            // inet_diag_msg after the header: state at 1, uid at 64.
            let state = *reply.get(16 + 1)?;
            if OWNERLESS_STATES.contains(&state) {
                return Some(Owner::NoSuchConnection);
            }
            Some(Owner::Uid(u32_at(16 + 64)?))
        }
        _ => None,
    }
}

/// The owner from the procfs tables. An IPv4 connection may be an IPv6
/// socket's (IPv4-mapped), so both tables are looked at. procfs reads
/// never wait for a device or the network: the kernel writes the text as
/// it is read. `scratch` holds what is read; at most [`MAX_TABLE_BYTES`]
/// a table.
fn scanned_owner(local: SocketAddr, remote: SocketAddr, scratch: &mut [u8]) -> Owner {
    let unmapped = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let (l, r) = (unmapped(local.ip()), unmapped(remote.ip()));
    let endpoints = |l: IpAddr, r: IpAddr| {
        (
            SocketAddr::new(l, local.port()),
            SocketAddr::new(r, remote.port()),
        )
    };
    match (l, r) {
        (IpAddr::V4(l4), IpAddr::V4(r4)) => {
            let v4 = scan_table("/proc/net/tcp", endpoints(l, r), scratch);
            if v4 != Owner::NoSuchConnection {
                return v4;
            }
            let mapped = (
                IpAddr::V6(l4.to_ipv6_mapped()),
                IpAddr::V6(r4.to_ipv6_mapped()),
            );
            match scan_table("/proc/net/tcp6", endpoints(mapped.0, mapped.1), scratch) {
                // A kernel without IPv6 has no such table.
                Owner::Unknown if v4 == Owner::NoSuchConnection => Owner::NoSuchConnection,
                owner => owner,
            }
        }
        (IpAddr::V6(_), IpAddr::V6(_)) => scan_table("/proc/net/tcp6", endpoints(l, r), scratch),
        _ => Owner::NoSuchConnection,
    }
}

fn scan_table(path: &str, wanted: (SocketAddr, SocketAddr), scratch: &mut [u8]) -> Owner {
    let Ok(mut file) = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    else {
        return Owner::Unknown;
    };
    let mut filled = 0;
    let mut total = 0;
    loop {
        if filled == scratch.len() {
            // A line longer than the whole buffer: not a socket table.
            return Owner::Unknown;
        }
        let n = match file.read(&mut scratch[filled..]) {
            Ok(0) => return Owner::NoSuchConnection,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Owner::Unknown,
        };
        total += n;
        filled += n;
        let Some(last_newline) = scratch[..filled].iter().rposition(|&b| b == b'\n') else {
            continue;
        };
        for line in scratch[..last_newline].split(|&b| b == b'\n') {
            if let Some(uid) = owner_in_line(line, wanted) {
                return Owner::Uid(uid);
            }
        }
        if total > MAX_TABLE_BYTES {
            return Owner::Unknown;
        }
        scratch.copy_within(last_newline + 1..filled, 0);
        filled -= last_newline + 1;
    }
}

/// The uid of a `/proc/net/tcp{,6}` line for the connection `wanted`
/// (local, remote), if it is one a process owns: listening sockets,
/// TIME_WAIT and embryonic ones name no owner (their uid reads 0).
pub fn owner_in_line(line: &[u8], wanted: (SocketAddr, SocketAddr)) -> Option<u32> {
    const TIME_WAIT: &str = "06";
    const LISTEN: &str = "0A";
    const NEW_SYN_RECV: &str = "0C";
    let line = std::str::from_utf8(line).ok()?;
    let mut fields = line.split_ascii_whitespace();
    let _slot = fields.next()?;
    let local = endpoint(fields.next()?)?;
    let remote = endpoint(fields.next()?)?;
    let state = fields.next()?;
    if (local, remote) != wanted || [TIME_WAIT, LISTEN, NEW_SYN_RECV].contains(&state) {
        return None;
    }
    // tx:rx queues, timer, retransmits, then the uid.
    fields.nth(3)?.parse().ok()
}

/// `0100007F:0277`: the address as the kernel's 32-bit words in host
/// order, then the port.
fn endpoint(field: &str) -> Option<SocketAddr> {
    let (addr, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let hex = addr.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
    };
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// A `-g` name: 32 base-36 characters from the kernel's random source
/// (never blocking: `GRND_NONBLOCK`; before the pool is ready, the clock).
pub fn random_name() -> String {
    const BASE36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut bytes = [0u8; RANDOM_NAME_LEN];
    // SAFETY: getrandom writes at most `bytes.len()` bytes into `bytes`.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), libc::GRND_NONBLOCK) };
    if n != bytes.len() as isize {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (nanos >> (i % 16 * 8)) as u8 ^ (i as u8).wrapping_mul(151);
        }
    }
    // 256 is not a multiple of 36: a slight bias, as harmless as FreeBSD's.
    bytes
        .iter()
        .map(|&b| char::from(BASE36[usize::from(b) % 36]))
        .collect()
}

/// The operating system's name, as uname says (`Linux`).
pub fn system_name() -> String {
    // SAFETY: uname writes only into `name`.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut name) } != 0 {
        return "UNIX".to_string();
    }
    // SAFETY: uname NUL-terminates sysname.
    let sysname = unsafe { std::ffi::CStr::from_ptr(name.sysname.as_ptr()) };
    sysname.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn freebsds_options() {
        let (o, w) = Options::parse(&words("-ri -o UNIX -dnobody -t 2.5")).unwrap();
        assert!(o.real && o.numeric && !o.random && w.is_empty());
        assert_eq!(o.os.as_deref(), Some("UNIX"));
        assert_eq!(o.fallback.as_deref(), Some("nobody"));
        assert_eq!(o.deadline(), Duration::from_micros(2_000_005));
        assert_eq!(Options::parse(&[]).unwrap().0.deadline(), DEADLINE);
        let (o, w) = Options::parse(&words("-g -x -t soon extra words")).unwrap();
        assert!(o.random && o.timeout.is_none());
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(Options::parse(&words("-rn")).unwrap_err().contains("-n"));
        assert!(Options::parse(&words("-f"))
            .unwrap_err()
            .contains(".fakeid"));
        assert!(Options::parse(&words("-F")).is_err());
        let (_, w) = Options::parse(&words("-o")).unwrap();
        assert_eq!(w, ["auth: -o needs a value: ignored"]);
    }

    #[test]
    fn passwd_names() {
        let users = UserNames::parse(
            "root:x:0:0::/root:/bin/sh\n# c\n+nis::::::\nnobody:x:65534:65534::/:/x\ntoor:x:0:0::/:/x\nbad:x:y:\n",
        );
        assert_eq!(users.name(0), Some("root"));
        assert_eq!(users.name(65534), Some("nobody"));
        assert_eq!(users.len(), 2);
    }

    fn reply(line: &[u8], options: &Options, owner: Owner) -> String {
        let users = UserNames::parse("alice:x:1000:1000::/:/x\n");
        let endpoints = Some((
            "127.0.0.1:113".parse().unwrap(),
            "127.0.0.2:40000".parse().unwrap(),
        ));
        let mut asked = None;
        let mut lookup = |l: SocketAddr, r: SocketAddr| {
            asked = Some((l, r));
            owner
        };
        let text = answer(
            Some(line),
            Context {
                options,
                endpoints,
                owner: &mut lookup,
                users: &users,
                os: options.os.as_deref().unwrap_or("Linux"),
                random: &mut || "r4nd0m".to_string(),
            },
        );
        if let Some((l, r)) = asked {
            assert_eq!(l.ip().to_string(), "127.0.0.1");
            assert_eq!(r.ip().to_string(), "127.0.0.2");
        }
        String::from_utf8(text).unwrap()
    }

    #[test]
    fn answers_and_errors() {
        let real = Options {
            real: true,
            ..Options::default()
        };
        assert_eq!(
            reply(b"6191, 23", &real, Owner::Uid(1000)),
            "6191 , 23 : USERID : Linux : alice\r\n"
        );
        assert_eq!(
            reply(b" 6191 ,\t23 ", &real, Owner::Uid(4242)),
            "6191 , 23 : USERID : Linux : 4242\r\n"
        );
        let numeric = Options {
            numeric: true,
            os: Some("UNIX".into()),
            ..real.clone()
        };
        assert_eq!(
            reply(b"1,2", &numeric, Owner::Uid(1000)),
            "1 , 2 : USERID : UNIX : 1000\r\n"
        );
        assert_eq!(
            reply(b"1,2", &real, Owner::NoSuchConnection),
            "1 , 2 : ERROR : NO-USER\r\n"
        );
        assert_eq!(
            reply(b"1,2", &real, Owner::Unknown),
            "1 , 2 : ERROR : UNKNOWN-ERROR\r\n"
        );
        let hidden = Options::default();
        assert_eq!(
            reply(b"1,2", &hidden, Owner::Uid(0)),
            "1 , 2 : ERROR : HIDDEN-USER\r\n"
        );
        let fallback = Options {
            fallback: Some("guest".into()),
            ..Options::default()
        };
        assert_eq!(
            reply(b"1,2", &fallback, Owner::Uid(0)),
            "1 , 2 : USERID : Linux : guest\r\n"
        );
        let random = Options {
            random: true,
            ..real.clone()
        };
        assert_eq!(
            reply(b"1,2", &random, Owner::Uid(0)),
            "1 , 2 : USERID : Linux : r4nd0m\r\n"
        );
        for bad in [
            &b"x"[..],
            b"1",
            b"1,",
            b"1,2,3",
            b"-1,2",
            b"1.5,2",
            b"\xff,1",
        ] {
            assert_eq!(
                reply(bad, &real, Owner::Uid(0)),
                "0 , 0 : ERROR : INVALID-PORT\r\n",
                "{bad:?}"
            );
        }
        assert_eq!(
            reply(b"0 , 23", &real, Owner::Uid(0)),
            "0 , 23 : ERROR : INVALID-PORT\r\n"
        );
        assert_eq!(
            reply(b"65536 , 23", &real, Owner::Uid(0)),
            "0 , 0 : ERROR : INVALID-PORT\r\n"
        );
        let users = UserNames::default();
        let unix = |line: Option<&[u8]>| {
            let cx = Context {
                options: &real,
                endpoints: None,
                owner: &mut |_, _| Owner::Uid(0),
                users: &users,
                os: "Linux",
                random: &mut String::new,
            };
            String::from_utf8(answer(line, cx)).unwrap()
        };
        // Too long, and a UNIX socket: no addresses to look up.
        assert_eq!(unix(None), "0 , 0 : ERROR : INVALID-PORT\r\n");
        assert_eq!(unix(Some(b"1,2")), "1 , 2 : ERROR : UNKNOWN-ERROR\r\n");
    }

    #[test]
    fn kernel_table_lines() {
        let v4 = b"   1: 0100007F:0277 0200007F:D932 01 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000";
        let wanted = (
            "127.0.0.1:631".parse().unwrap(),
            "127.0.0.2:55602".parse().unwrap(),
        );
        if cfg!(target_endian = "little") {
            assert_eq!(owner_in_line(v4, wanted), Some(1000));
            let time_wait = String::from_utf8_lossy(v4).replace(" 01 ", " 06 ");
            assert_eq!(owner_in_line(time_wait.as_bytes(), wanted), None);
            let v6 = b"   0: 00000000000000000000000001000000:0277 00000000000000000000000001000000:D932 01 00000000:00000000 00:00000000 00000000    65534        0 1 1";
            let wanted6 = ("[::1]:631".parse().unwrap(), "[::1]:55602".parse().unwrap());
            assert_eq!(owner_in_line(v6, wanted6), Some(65534));
        }
        let swapped = (wanted.1, wanted.0);
        assert_eq!(owner_in_line(v4, swapped), None);
        assert_eq!(
            owner_in_line(b"  sl  local_address rem_address", wanted),
            None
        );
        assert_eq!(owner_in_line(b"", wanted), None);
    }

    #[test]
    fn the_kernel_finds_the_owner_of_a_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (local, remote) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        let mut scratch = vec![0u8; 64 * 1024];
        assert_eq!(scanned_owner(local, remote, &mut scratch), Owner::Uid(me));
        assert_eq!(socket_owner(local, remote, &mut scratch), Owner::Uid(me));
        if let Some(owner) = diag_owner(local, remote) {
            assert_eq!(owner, Owner::Uid(me));
            // The listener of the port is no connection's owner.
            let unconnected = SocketAddr::new(remote.ip(), 1);
            assert_eq!(
                diag_owner(remote, unconnected),
                Some(Owner::NoSuchConnection)
            );
        }
        assert_eq!(
            scanned_owner(local, SocketAddr::new(remote.ip(), 1), &mut scratch),
            Owner::NoSuchConnection
        );
        assert_eq!(diag_reply(b""), None);
    }

    #[test]
    fn random_names_are_base36() {
        let name = random_name();
        assert_eq!(name.len(), 32);
        assert!(name
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
        assert_ne!(name, random_name());
        assert!(!system_name().is_empty());
    }
}
