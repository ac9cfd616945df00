//! What the fuzz targets share: a fixed system for the configuration
//! parser, a lookup whose answers the fuzz input scripts, and the sandbox
//! the hosts targets keep their rule files and host lists in.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use inetd::hosts::{Account, Lookup, WouldBlock};
use inetd::resolve::{Resolver, User};

/// A small fixed system (the shape of the crate's test TableResolver,
/// which is `#[cfg(test)]` and so not reachable from here).
pub struct FixedResolver;

const SERVICES: &[(&str, &str, u16)] = &[
    ("echo", "tcp", 7),
    ("echo", "udp", 7),
    ("discard", "tcp", 9),
    ("discard", "udp", 9),
    ("daytime", "tcp", 13),
    ("daytime", "udp", 13),
    ("chargen", "tcp", 19),
    ("chargen", "udp", 19),
    ("time", "tcp", 37),
    ("time", "udp", 37),
    ("ftp", "tcp", 21),
    ("telnet", "tcp", 23),
    ("tftp", "udp", 69),
    ("finger", "tcp", 79),
    ("auth", "tcp", 113),
    ("login", "tcp", 513),
    ("shell", "tcp", 514),
    ("talk", "udp", 517),
];

const USERS: &[(&str, u32, u32)] = &[
    ("root", 0, 0),
    ("daemon", 1, 1),
    ("nobody", 65534, 65534),
    ("first.last", 1000, 1000),
];

const GROUPS: &[(&str, u32)] = &[
    ("root", 0),
    ("daemon", 1),
    ("tty", 5),
    ("staff", 50),
    ("users", 100),
    ("nogroup", 65534),
];

impl Resolver for FixedResolver {
    fn port(&self, service: &str, proto: &str) -> Option<u16> {
        SERVICES
            .iter()
            .find(|s| s.0 == service && s.1 == proto)
            .map(|s| s.2)
    }

    fn user(&self, name: &str) -> Option<User> {
        USERS
            .iter()
            .find(|u| u.0 == name)
            .map(|u| User { uid: u.1, gid: u.2 })
    }

    fn group(&self, name: &str) -> Option<u32> {
        GROUPS.iter().find(|g| g.0 == name).map(|g| g.1)
    }

    fn groups(&self, _user: &str, gid: u32) -> Vec<u32> {
        vec![gid, 100]
    }

    fn host(&self, name: &str) -> Vec<IpAddr> {
        match name.to_ascii_lowercase().as_str() {
            "localhost" => vec![
                IpAddr::from([127, 0, 0, 1]),
                IpAddr::from(Ipv6Addr::LOCALHOST),
            ],
            "box" => vec![IpAddr::from([192, 168, 1, 10])],
            "v6box" => vec![IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10])],
            _ => Vec::new(),
        }
    }

    fn arg_max(&self) -> usize {
        2 * 1024 * 1024
    }
}

/// Bytes the fuzz input supplies for choices, read in a cycle (zeros when empty).
pub struct Script {
    bytes: Vec<u8>,
    pos: usize,
}

impl Script {
    pub fn new(bytes: &[u8]) -> Script {
        Script {
            bytes: bytes.to_vec(),
            pos: 0,
        }
    }

    pub fn byte(&mut self) -> u8 {
        if self.bytes.is_empty() {
            return 0;
        }
        let b = self.bytes[self.pos % self.bytes.len()];
        self.pos += 1;
        b
    }

    pub fn pick<T: Clone>(&mut self, choices: &[T]) -> T {
        choices[usize::from(self.byte()) % choices.len()].clone()
    }
}

/// Names and users with every shell metacharacter: expansions must never
/// pass one on.
pub const HOSTILE_NAMES: &[&str] = &[
    "localhost",
    "box.example.com",
    "BOX.Example.COM",
    "paranoid",
    "unknown",
    "evil;rm -rf /`id`$(id)|&<>'\"\\\n\t*?[]{}~#",
    "a b\tc",
];

pub const HOSTILE_USERS: &[&str] = &["root", "nobody", "x;id", "$(reboot)", "us er\r\n"];

/// A [`Lookup`] answering from a [`Script`]: names, users, netgroups,
/// accounts, `aclexec` results and banner files, or that the answer would
/// block. It never touches the system (no DNS, no ident, no command).
pub struct ScriptedLookup {
    pub script: Script,
    /// Whether any answer was "would block".
    pub blocked: bool,
}

impl ScriptedLookup {
    pub fn new(script: &[u8]) -> ScriptedLookup {
        ScriptedLookup {
            script: Script::new(script),
            blocked: false,
        }
    }

    /// One time in eight the answer would block.
    fn answer(&mut self) -> Result<u8, WouldBlock> {
        let b = self.script.byte();
        if b % 8 == 7 {
            self.blocked = true;
            return Err(WouldBlock);
        }
        Ok(b / 8)
    }
}

impl Lookup for ScriptedLookup {
    fn host_name(
        &mut self,
        _: SocketAddr,
        _: &mut Vec<String>,
    ) -> Result<Option<String>, WouldBlock> {
        let b = usize::from(self.answer()?);
        Ok(HOSTILE_NAMES
            .get(b % (HOSTILE_NAMES.len() + 1))
            .map(|s| s.to_string()))
    }

    fn user(&mut self, _: SocketAddr, _: SocketAddr, _: u32) -> Result<Option<String>, WouldBlock> {
        let b = usize::from(self.answer()?);
        Ok(HOSTILE_USERS
            .get(b % (HOSTILE_USERS.len() + 1))
            .map(|s| s.to_string()))
    }

    fn in_netgroup(&mut self, _: &str, _: &str) -> Result<bool, WouldBlock> {
        Ok(self.answer()? % 2 == 0)
    }

    fn account_exists(&mut self, _: Account, _: &str) -> Result<bool, WouldBlock> {
        Ok(self.answer()? % 2 == 0)
    }

    fn run_command(&mut self, _: &str) -> Result<i32, WouldBlock> {
        Ok(i32::from(self.answer()? % 2 == 0))
    }

    fn read_file(&mut self, _: &str) -> Result<io::Result<Vec<u8>>, WouldBlock> {
        Ok(match self.answer()? % 3 {
            0 => Err(io::ErrorKind::NotFound.into()),
            1 => Ok(b"Hello %h (%a) as %u on %d\n%%x %z\n".to_vec()),
            _ => Ok(vec![b'%'; 9000]),
        })
    }
}

/// A directory of this process's own, holding the rule files a target
/// writes and two host lists. Every host-list path a rule names is
/// rewritten to lie in it (see [`Sandbox::confine`]), so fuzzed rules
/// never open a file of the system (as root, opening some devices acts).
pub struct Sandbox {
    pub dir: PathBuf,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = std::env::temp_dir().join(format!("inetd-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the sandbox");
        let sandbox = Sandbox { dir };
        let prefix = sandbox.prefix();
        std::fs::write(
            sandbox.dir.join("list"),
            format!("127.0.0.1 .example.com\n{prefix}nested\n"),
        )
        .expect("write a host list");
        std::fs::write(
            sandbox.dir.join("nested"),
            format!("::1 192.168.1.0/255.255.255.0 {prefix}list\n"),
        )
        .expect("write a host list");
        sandbox
    }

    fn prefix(&self) -> String {
        format!("{}/", self.dir.display())
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `rules` with every `/` that can start a host-list path (at the start
    /// of a token, a field or after `@`) made to start inside the sandbox,
    /// and no `..` left to climb out of it. Netmasks (`a/m`) are kept.
    pub fn confine(&self, rules: &[u8]) -> Vec<u8> {
        let prefix = self.prefix();
        let mut out = Vec::with_capacity(rules.len());
        let mut prev: Option<u8> = None;
        for &b in rules {
            let starts_path = b == b'/' && prev.is_none_or(|p| b", \t\r\n:@".contains(&p));
            if starts_path {
                out.extend_from_slice(prefix.as_bytes());
            } else if b == b'.' && prev == Some(b'.') {
                out.push(b'_');
            } else {
                out.push(b);
            }
            prev = Some(b);
        }
        out
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).expect("write a rule file");
        path
    }
}

impl Default for Sandbox {
    fn default() -> Sandbox {
        Sandbox::new()
    }
}

/// Physical lines of `bytes`, as the parsers number them: the count of
/// newlines, plus one for an unterminated last line.
pub fn physical_lines(bytes: &[u8]) -> usize {
    let newlines = bytes.iter().filter(|&&b| b == b'\n').count();
    newlines + usize::from(!bytes.is_empty() && bytes.last() != Some(&b'\n'))
}

/// Checks that a `file:line: message` warning names a real line of one of
/// the rule files. Warnings without a place are fine.
pub fn check_warning_place(warning: &str, files: &[(&Path, usize)]) {
    for &(path, lines) in files {
        let path = path.to_string_lossy();
        let Some(rest) = warning.strip_prefix(&*path) else {
            continue;
        };
        let Some(rest) = rest.strip_prefix(':') else {
            continue;
        };
        let number: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let line: usize = number
            .parse()
            .unwrap_or_else(|_| panic!("no line in {warning:?}"));
        // For a line without its newline, libwrap (and so the decision)
        // names the count of newlines read so far: the line before it, 0
        // when it is the first, its own after a `\`-newline.
        let valid = if warning.ends_with("missing newline or line too long") {
            0..lines + 1
        } else {
            1..lines + 1
        };
        assert!(
            valid.contains(&line),
            "warning {warning:?} names line {line} of a {lines}-line file"
        );
        return;
    }
}
