//! The few rpcbind calls inetd makes, in XDR (RFC 4506) over ONC RPC
//! (RFC 5531), written by hand: registering and unregistering one version
//! of a program, and listing what rpcbind holds. IPv4 mappings are set
//! with the portmapper protocol (version 2, RFC 1833), which every
//! portmapper and rpcbind speaks; IPv6 ones need rpcbind's own protocol
//! (version 3), which names the transport (`udp6`) and carries a universal
//! address, and so does the list (DUMP), which shows every transport.
//! Pure: bytes in, bytes out.

use std::net::IpAddr;

/// rpcbind's program number and port.
pub const RPCBIND_PROGRAM: u32 = 100000;
pub const RPCBIND_PORT: u16 = 111;

/// PMAPPROC_SET and PMAPPROC_UNSET have the numbers of RPCBPROC_SET and
/// RPCBPROC_UNSET.
const PROC_SET: u32 = 1;
const PROC_UNSET: u32 = 2;
/// RPCBPROC_DUMP (version 3).
const PROC_DUMP: u32 = 4;

/// The transport of a mapping, as rpcbind names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Netid {
    Tcp,
    Udp,
    Tcp6,
    Udp6,
}

impl Netid {
    pub fn name(self) -> &'static str {
        match self {
            Netid::Tcp => "tcp",
            Netid::Udp => "udp",
            Netid::Tcp6 => "tcp6",
            Netid::Udp6 => "udp6",
        }
    }

    fn is_ipv6(self) -> bool {
        matches!(self, Netid::Tcp6 | Netid::Udp6)
    }
}

/// One mapping: a version of a program, served on a transport at an
/// address (for IPv6; the portmapper knows only ports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mapping {
    pub program: u32,
    pub version: u32,
    pub netid: Netid,
    pub addr: IpAddr,
    pub port: u16,
}

/// What a call asks rpcbind to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Set(Mapping),
    /// Remove the mapping of its program, version and transport. (The
    /// portmapper removes the program's version on both `tcp` and `udp`.)
    Unset(Mapping),
    /// List every mapping rpcbind holds.
    Dump,
}

impl Call {
    pub fn mapping(&self) -> Option<&Mapping> {
        match self {
            Call::Set(m) | Call::Unset(m) => Some(m),
            Call::Dump => None,
        }
    }
}

/// The datagram of `call` with transaction id `xid`.
pub fn encode(xid: u32, call: &Call) -> Vec<u8> {
    let header = |out: &mut Vec<u8>, version, procedure| {
        // xid, CALL, RPC version 2, program, version, procedure.
        for word in [xid, 0, 2, RPCBIND_PROGRAM, version, procedure] {
            put_u32(out, word);
        }
        // Credentials and verifier: AUTH_NONE, empty.
        for word in [0, 0, 0, 0] {
            put_u32(out, word);
        }
    };
    let mut out = Vec::with_capacity(96);
    let (procedure, mapping) = match call {
        Call::Set(m) => (PROC_SET, m),
        Call::Unset(m) => (PROC_UNSET, m),
        Call::Dump => {
            header(&mut out, 3, PROC_DUMP);
            return out;
        }
    };
    let version = if mapping.netid.is_ipv6() { 3 } else { 2 };
    header(&mut out, version, procedure);
    put_u32(&mut out, mapping.program);
    put_u32(&mut out, mapping.version);
    if version == 2 {
        // struct pmap: protocol and port (0 when unsetting).
        let protocol = match mapping.netid {
            Netid::Tcp => libc::IPPROTO_TCP as u32,
            _ => libc::IPPROTO_UDP as u32,
        };
        let (protocol, port) = match call {
            Call::Set(_) => (protocol, u32::from(mapping.port)),
            _ => (0, 0),
        };
        put_u32(&mut out, protocol);
        put_u32(&mut out, port);
    } else {
        // struct rpcb: netid, universal address (empty when unsetting), owner
        // (rpcbind sets it from the caller).
        put_string(&mut out, mapping.netid.name());
        let addr = match call {
            Call::Set(m) => universal_address(m.addr, m.port),
            _ => String::new(),
        };
        put_string(&mut out, &addr);
        put_string(&mut out, "");
    }
    out
}

/// An address as rpcbind writes it: the address, then the port's two bytes
/// in decimal (`::.3.232` is port 1000 on every IPv6 address).
pub fn universal_address(addr: IpAddr, port: u16) -> String {
    format!("{addr}.{}.{}", port >> 8, port & 0xff)
}

/// The transaction id of a reply and its result's bytes (`None` when the
/// call was refused: rejected, or not run); `None` for anything that is
/// not a well-formed reply.
pub fn decode(bytes: &[u8]) -> Option<(u32, Option<&[u8]>)> {
    let mut words = Reader { bytes };
    let xid = words.u32()?;
    if words.u32()? != 1 {
        return None; // not a REPLY
    }
    if words.u32()? != 0 {
        return Some((xid, None)); // MSG_DENIED
    }
    // The verifier: a flavor and opaque bytes.
    words.u32()?;
    let len = words.u32()? as usize;
    words.skip(len.checked_add(3)? & !3)?;
    if words.u32()? != 0 {
        return Some((xid, None)); // not SUCCESS
    }
    Some((xid, Some(words.bytes)))
}

/// The result of SET or UNSET: false when SET found the version taken on
/// another port (the same mapping again is true), or UNSET found nothing.
pub fn boolean(result: &[u8]) -> Option<bool> {
    Reader { bytes: result }.u32().map(|b| b != 0)
}

/// One mapping in rpcbind's list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub program: u32,
    pub version: u32,
    pub netid: String,
    /// The port of its universal address, if it has one.
    pub port: Option<u16>,
}

impl Listed {
    pub fn is(&self, mapping: &Mapping) -> bool {
        self.program == mapping.program
            && self.version == mapping.version
            && self.netid == mapping.netid.name()
            && self.port == Some(mapping.port)
    }
}

/// The result of DUMP: the list, bounded by the datagram it came in.
pub fn table(result: &[u8]) -> Option<Vec<Listed>> {
    let mut words = Reader { bytes: result };
    let mut listed = Vec::new();
    while words.u32()? != 0 {
        let program = words.u32()?;
        let version = words.u32()?;
        let netid = words.string()?;
        let addr = words.string()?;
        words.string()?; // the owner
        listed.push(Listed {
            program,
            version,
            netid: String::from_utf8_lossy(netid).into_owned(),
            port: port_of(addr),
        });
    }
    Some(listed)
}

/// The port of a universal address: its last two dot-separated numbers.
fn port_of(addr: &[u8]) -> Option<u16> {
    let addr = std::str::from_utf8(addr).ok()?;
    let mut parts = addr.rsplit('.');
    let low: u8 = parts.next()?.parse().ok()?;
    let high: u8 = parts.next()?.parse().ok()?;
    Some(u16::from(high) << 8 | u16::from(low))
}

fn put_u32(out: &mut Vec<u8>, word: u32) {
    out.extend_from_slice(&word.to_be_bytes());
}

/// An XDR string: its length, its bytes, zeros up to a multiple of four.
fn put_string(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s.as_bytes());
    out.resize(out.len() + (4 - s.len() % 4) % 4, 0);
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u32(&mut self) -> Option<u32> {
        let (word, rest) = self.bytes.split_first_chunk::<4>()?;
        self.bytes = rest;
        Some(u32::from_be_bytes(*word))
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        self.bytes = self.bytes.get(n..)?;
        Some(())
    }

    /// An XDR string's bytes, without the padding.
    fn string(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as usize;
        let bytes = self.bytes.get(..len)?;
        self.skip(len.checked_add(3)? & !3)?;
        Some(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(netid: Netid) -> Mapping {
        Mapping {
            program: 100001,
            version: 3,
            netid,
            addr: "::".parse().unwrap(),
            port: 1000,
        }
    }

    fn words(bytes: &[u8]) -> Vec<u32> {
        bytes
            .chunks(4)
            .map(|w| u32::from_be_bytes(w.try_into().unwrap()))
            .collect()
    }

    #[test]
    fn portmapper_calls() {
        let header = [7, 0, 2, 100000, 2];
        let set = encode(7, &Call::Set(mapping(Netid::Udp)));
        let expected: Vec<u32> = header
            .iter()
            .chain(&[1, 0, 0, 0, 0, 100001, 3, 17, 1000])
            .copied()
            .collect();
        assert_eq!(words(&set), expected);
        let unset = encode(7, &Call::Unset(mapping(Netid::Tcp)));
        let expected: Vec<u32> = header
            .iter()
            .chain(&[2, 0, 0, 0, 0, 100001, 3, 0, 0])
            .copied()
            .collect();
        assert_eq!(words(&unset), expected);
    }

    #[test]
    fn rpcbind_calls_for_ipv6() {
        let set = encode(9, &Call::Set(mapping(Netid::Udp6)));
        let mut expected = vec![];
        for w in [9, 0, 2, 100000, 3, 1, 0, 0, 0, 0, 100001, 3, 4] {
            put_u32(&mut expected, w);
        }
        expected.extend_from_slice(b"udp6");
        put_u32(&mut expected, 8);
        expected.extend_from_slice(b"::.3.232");
        put_u32(&mut expected, 0);
        assert_eq!(set, expected);
        let unset = encode(9, &Call::Unset(mapping(Netid::Tcp6)));
        assert_eq!(words(&unset)[5], 2);
        assert_eq!(&unset[unset.len() - 12..], b"tcp6\0\0\0\0\0\0\0\0");
    }

    #[test]
    fn universal_addresses() {
        assert_eq!(
            universal_address("0.0.0.0".parse().unwrap(), 111),
            "0.0.0.0.0.111"
        );
        assert_eq!(
            universal_address("::1".parse().unwrap(), 65535),
            "::1.255.255"
        );
    }

    fn reply(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    #[test]
    fn replies() {
        let result = |bytes: &[u8]| decode(bytes).map(|(xid, r)| (xid, r.and_then(boolean)));
        // Accepted, AUTH_NONE verifier, SUCCESS, true.
        assert_eq!(
            result(&reply(&[5, 1, 0, 0, 0, 0, 1])),
            Some((5, Some(true)))
        );
        assert_eq!(
            result(&reply(&[5, 1, 0, 0, 0, 0, 0])),
            Some((5, Some(false)))
        );
        // A verifier with a body, padded.
        assert_eq!(
            result(&reply(&[6, 1, 0, 1, 5, 0, 0, 0, 1])),
            Some((6, Some(true)))
        );
        // PROG_UNAVAIL; MSG_DENIED.
        assert_eq!(decode(&reply(&[6, 1, 0, 0, 0, 1])), Some((6, None)));
        assert_eq!(decode(&reply(&[6, 1, 1, 0])), Some((6, None)));
        // A call, short replies, a verifier longer than the datagram.
        assert_eq!(decode(&reply(&[6, 0, 0, 0, 0, 0, 1])), None);
        assert_eq!(result(&reply(&[6, 1, 0, 0, 0, 0])), Some((6, None)));
        assert_eq!(decode(&[0, 0, 0]), None);
        assert_eq!(decode(&reply(&[6, 1, 0, 0, u32::MAX, 0])), None);
        assert_eq!(decode(&reply(&[6, 1, 0, 0, 400, 0])), None);
    }

    #[test]
    fn dumps() {
        assert_eq!(
            words(&encode(3, &Call::Dump)),
            [3, 0, 2, 100000, 3, 4, 0, 0, 0, 0]
        );
        let mut list = vec![];
        for (program, netid, addr) in [
            (100000, "udp6", "::.0.111"),
            (100001, "tcp", "0.0.0.0.3.232"),
        ] {
            put_u32(&mut list, 1);
            put_u32(&mut list, program);
            put_u32(&mut list, 2);
            put_string(&mut list, netid);
            put_string(&mut list, addr);
            put_string(&mut list, "superuser");
        }
        put_u32(&mut list, 0);
        let listed = table(&list).unwrap();
        assert_eq!(
            listed[1],
            Listed {
                program: 100001,
                version: 2,
                netid: "tcp".into(),
                port: Some(1000)
            }
        );
        assert_eq!(listed[0].port, Some(111));
        let m = Mapping {
            program: 100001,
            version: 2,
            netid: Netid::Tcp,
            addr: "0.0.0.0".parse().unwrap(),
            port: 1000,
        };
        assert!(listed[1].is(&m));
        assert!(!listed[1].is(&Mapping { port: 1001, ..m }));
        assert!(!listed[1].is(&Mapping {
            netid: Netid::Udp,
            ..m
        }));
        // Cut anywhere, it is no list.
        for end in 0..list.len() {
            assert_eq!(table(&list[..end]), None, "{end}");
        }
        assert_eq!(port_of(b"x.1"), None);
        assert_eq!(port_of(b"1.2.256"), None);
    }
}
