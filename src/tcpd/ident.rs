//! The RFC 931 (ident) client of the `rfc931` option and `user@host`
//! patterns: one query to the client's port 113, bounded in time as a
//! whole, and the reply read as libwrap reads it.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::hosts::scan::scan_unsigned;

/// The longest ident reply line read; libwrap reads 512 bytes.
const MAX_IDENT_REPLY: usize = 512;

/// An RFC 931 (ident) query to the client. `timeout` bounds the whole
/// exchange (connect, query and reply) as libwrap's single alarm does, so
/// a server that drips its reply cannot hold the child longer.
pub fn rfc931(client: SocketAddr, server: SocketAddr, timeout: u32) -> io::Result<Option<String>> {
    let deadline = Instant::now() + Duration::from_secs(u64::from(timeout.max(1)));
    let remaining = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or(io::ErrorKind::TimedOut)
    };
    let mut stream = TcpStream::connect_timeout(&SocketAddr::new(client.ip(), 113), remaining()?)?;
    stream.set_write_timeout(Some(remaining()?))?;
    write!(stream, "{},{}\r\n", client.port(), server.port())?;
    let mut reply = Vec::new();
    let mut buf = [0u8; MAX_IDENT_REPLY];
    while !reply.contains(&b'\n') && reply.len() < MAX_IDENT_REPLY {
        stream.set_read_timeout(Some(remaining()?))?;
        let n = stream.read(&mut buf[..MAX_IDENT_REPLY - reply.len()])?;
        if n == 0 {
            // libwrap takes no reply that ends without a newline.
            return Ok(None);
        }
        reply.extend_from_slice(&buf[..n]);
    }
    Ok(ident_user(
        &String::from_utf8_lossy(&reply),
        client.port(),
        server.port(),
    ))
}

/// The user of an ident reply for the connection from `client_port` to
/// `server_port`, read as libwrap's
/// `sscanf("%u , %u : USERID :%*[^:]:%255s")` reads it, ports checked:
/// one token of at most 255 bytes, which also ends at a control character.
fn ident_user(reply: &str, client_port: u16, server_port: u16) -> Option<String> {
    fn port(text: &str) -> Option<(u32, &str)> {
        let (n, rest) = scan_unsigned(text, 10)?;
        Some((n, rest.trim_start()))
    }
    let (client, rest) = port(reply)?;
    let rest = rest.strip_prefix(',')?;
    let (server, rest) = port(rest)?;
    if (client, server) != (u32::from(client_port), u32::from(server_port)) {
        return None;
    }
    let rest = rest
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix("USERID")?;
    let rest = rest.trim_start().strip_prefix(':')?;
    // %*[^:]: the operating system, at least one character.
    let (os, rest) = rest.split_once(':')?;
    if os.is_empty() {
        return None;
    }
    let user = rest.trim_start();
    let end = user
        .find(|c: char| c.is_whitespace() || c.is_control())
        .unwrap_or(user.len());
    let mut end = end.min(255);
    while !user.is_char_boundary(end) {
        end -= 1;
    }
    let user = &user[..end];
    (!user.is_empty()).then(|| user.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ident_replies() {
        let user = |reply: &str| ident_user(reply, 4000, 23);
        assert_eq!(
            user("4000 , 23 : USERID : UNIX : joe\r\n"),
            Some("joe".into())
        );
        assert_eq!(user("4000,23:USERID:UNIX:joe\n"), Some("joe".into()));
        assert_eq!(
            user("4000,23 : USERID : OTHER,x :  joe x\r\n"),
            Some("joe".into())
        );
        assert_eq!(
            user("4000 , 23 : USERID : UNIX : jo\x1b[2Je\r\n"),
            Some("jo".into())
        );
        assert_eq!(
            user("4000 , 23 : USERID : UNIX : jo\0e\r\n"),
            Some("jo".into())
        );
        assert_eq!(user("4001 , 23 : USERID : UNIX : joe\r\n"), None);
        assert_eq!(user("4000 , 24 : USERID : UNIX : joe\r\n"), None);
        assert_eq!(user("4000 , 23 : ERROR : NO-USER\r\n"), None);
        assert_eq!(user("4000 , 23 : USERID :: joe\r\n"), None);
        assert_eq!(user("4000 , 23 : USERID : UNIX : \r\n"), None);
        let long = format!("4000,23:USERID:UNIX:{}\r\n", "é".repeat(200));
        assert_eq!(user(&long).map(|u| u.len()), Some(254));
    }
}
