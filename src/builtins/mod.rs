//! The builtin services (RFCs 862-868, tcpmux of RFC 1078, FreeBSD's auth
//! of RFC 1413), served inline by the event loop.
//!
//! One table says what each builtin is: its name (for `internal` and
//! hosts.allow), its port (for systems without /etc/services, and for the
//! loop guards: a datagram from a builtin port is never answered), what it
//! does with a connection (a session, an answer written at once, or one
//! request line the daemon answers), and what it replies to a datagram, if
//! it serves datagrams at all. Everything else derives from it.

pub mod ident;
mod replies;
mod session;
pub mod tcpmux;

pub use replies::{chargen_line, daytime, time, Reply};
pub use session::{Connection, Line, Progress, Stream, UnsentPool, UNSENT_POOL};

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Builtin {
    Echo,
    Discard,
    Chargen,
    Daytime,
    Time,
    Tcpmux,
    Auth,
}

/// What a builtin does with a TCP connection.
#[derive(Clone, Copy, Debug)]
pub enum OnStream {
    /// Sends back what it reads (a session).
    Echo,
    /// Reads and drops (a session).
    Discard,
    /// Writes its lines until the client goes (a session).
    Chargen,
    /// Writes this answer at once and closes: nothing is held.
    Answer(fn() -> Vec<u8>),
    /// Reads one request line, CRLF included, of at most `max` bytes
    /// within `deadline` of the accept, and leaves what follows it in the
    /// socket; the daemon answers it (a session until then).
    Line { max: usize, deadline: Duration },
}

/// One builtin, as the table knows it.
pub struct Spec {
    pub builtin: Builtin,
    pub name: &'static str,
    pub port: u16,
    pub stream: OnStream,
    /// The reply to a datagram (the request, and a count of chargen
    /// requests so that each gets the next line), if any; `None` for a
    /// builtin that serves streams only.
    pub datagram: Option<DatagramReply>,
}

/// The reply to a datagram: from the request, and a count of chargen
/// requests so that each gets the next line.
pub type DatagramReply = for<'a> fn(&'a [u8], usize) -> Option<Reply<'a>>;

/// Every builtin, in the order of [`Builtin`].
pub static TABLE: [Spec; 7] = [
    Spec {
        builtin: Builtin::Echo,
        name: "echo",
        port: 7,
        stream: OnStream::Echo,
        datagram: Some(|request, _| Some(Reply::Borrowed(request))),
    },
    Spec {
        builtin: Builtin::Discard,
        name: "discard",
        port: 9,
        stream: OnStream::Discard,
        datagram: Some(|_, _| None),
    },
    Spec {
        builtin: Builtin::Chargen,
        name: "chargen",
        port: 19,
        stream: OnStream::Chargen,
        datagram: Some(|_, n| Some(Reply::Borrowed(chargen_line(n)))),
    },
    Spec {
        builtin: Builtin::Daytime,
        name: "daytime",
        port: 13,
        stream: OnStream::Answer(daytime),
        datagram: Some(|_, _| Some(Reply::Owned(daytime()))),
    },
    Spec {
        builtin: Builtin::Time,
        name: "time",
        port: 37,
        stream: OnStream::Answer(|| time().to_vec()),
        datagram: Some(|_, _| Some(Reply::Owned(time().to_vec()))),
    },
    Spec {
        builtin: Builtin::Tcpmux,
        name: "tcpmux",
        port: 1,
        stream: OnStream::Line {
            max: tcpmux::MAX_LINE,
            deadline: tcpmux::DEADLINE,
        },
        datagram: None,
    },
    Spec {
        builtin: Builtin::Auth,
        name: "auth",
        port: 113,
        stream: OnStream::Line {
            max: ident::MAX_LINE,
            deadline: ident::DEADLINE,
        },
        datagram: None,
    },
];

impl Builtin {
    pub fn spec(self) -> &'static Spec {
        &TABLE[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    pub fn from_name(name: &str) -> Option<Builtin> {
        TABLE.iter().find(|s| s.name == name).map(|s| s.builtin)
    }

    /// The answer it writes at once to a connection, for those that hold
    /// none (daytime, time).
    pub fn answer(self) -> Option<fn() -> Vec<u8>> {
        match self.spec().stream {
            OnStream::Answer(answer) => Some(answer),
            _ => None,
        }
    }

    /// Whether the words after `internal NAME` are its options (auth's,
    /// see `ident.rs`) rather than ignored.
    pub fn takes_options(self) -> bool {
        self == Builtin::Auth
    }

    /// Whether it serves datagrams (tcpmux and auth serve streams only).
    pub fn serves_datagrams(self) -> bool {
        self.spec().datagram.is_some()
    }

    /// How long a connection may take to send its request line, for those
    /// that read one.
    pub fn line_deadline(self) -> Option<Duration> {
        match self.spec().stream {
            OnStream::Line { deadline, .. } => Some(deadline),
            _ => None,
        }
    }
}

/// The port of the builtin named `name`.
pub fn port(name: &str) -> Option<u16> {
    TABLE.iter().find(|s| s.name == name).map(|s| s.port)
}

/// Whether `port` is a builtin's: a datagram from one is another
/// builtin's reply, and answering would start a loop between the two.
pub fn is_builtin_port(port: u16) -> bool {
    TABLE.iter().any(|s| s.port == port)
}

/// The reply to one UDP datagram, if any. `n` counts chargen requests.
pub fn datagram_reply(service: Builtin, request: &[u8], n: usize) -> Option<Reply<'_>> {
    service.spec().datagram?(request, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_the_order_of_the_enum() {
        for (i, spec) in TABLE.iter().enumerate() {
            assert_eq!(spec.builtin as usize, i, "{}", spec.name);
            assert_eq!(Builtin::from_name(spec.name), Some(spec.builtin));
        }
        assert_eq!(Builtin::from_name("nosuch"), None);
    }

    #[test]
    fn the_rfc_ports_and_replies() {
        let ports: Vec<u16> = TABLE.iter().map(|s| s.port).collect();
        assert_eq!(ports, [7, 9, 19, 13, 37, 1, 113]);
        assert!(is_builtin_port(19) && !is_builtin_port(8080));
        assert_eq!(
            datagram_reply(Builtin::Echo, b"x", 0).unwrap().bytes(),
            b"x"
        );
        assert!(datagram_reply(Builtin::Discard, b"x", 0).is_none());
        assert_eq!(
            datagram_reply(Builtin::Chargen, b"", 1).unwrap().bytes(),
            chargen_line(1)
        );
        assert_eq!(
            datagram_reply(Builtin::Time, b"", 0).unwrap().bytes().len(),
            4
        );
        assert_eq!(Builtin::Daytime.answer().map(|a| a().len()), Some(26));
        assert!(Builtin::Echo.answer().is_none());
        assert!(!Builtin::Tcpmux.serves_datagrams() && Builtin::Echo.serves_datagrams());
        assert!(datagram_reply(Builtin::Tcpmux, b"x", 0).is_none());
    }
}
