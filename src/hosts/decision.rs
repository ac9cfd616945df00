//! What a decision answers: granted or denied with an [`Outcome`] (the
//! rule, its expanded options, the log details), or the lookup it needs.

use std::fmt;

use super::request::Need;

/// A rule's place, `file:line`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRef {
    pub file: String,
    pub line: usize,
}

impl RuleRef {
    pub fn new(file: &str, line: usize) -> RuleRef {
        RuleRef {
            file: file.to_string(),
            line,
        }
    }
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// An option of the matched rule(s), expanded, in the order libwrap runs them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleOption {
    /// Run with /bin/sh, stdio on /dev/null, and wait.
    Spawn(String),
    /// Run with /bin/sh on the connection instead of the service.
    Twist(String),
    Setenv(String, String),
    Umask(u32),
    Nice(i32),
    Keepalive,
    /// SO_LINGER seconds (0 turns lingering off).
    Linger(i32),
    /// The rendered banner to write to the client.
    Banners(Vec<u8>),
    /// Already done while deciding: the user lookup and its timeout.
    Rfc931(u32),
    /// Checked only: libwrap in tcpd never switches user or group.
    User(String),
    Group(String),
    /// A syslog priority for the connection log line.
    Severity(i32),
    /// Already run while deciding.
    Aclexec(String),
}

/// A decided request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The rule that decided, if any (none: no rule matched, or a faulty file).
    pub rule: Option<RuleRef>,
    pub options: Vec<RuleOption>,
    /// The syslog priority set by a `severity` option.
    pub severity: Option<i32>,
    /// The client as libwrap logs it (`user@host`, the name, or the address).
    pub client: String,
    /// libwrap's warnings and errors, `file:line: message`.
    pub warnings: Vec<String>,
    /// Where libwrap's diagnostics context is left after the decision: at
    /// the rule when an option ended it (tcpd_jump() does not restore the
    /// context), else nowhere. tcpdmatch's later warnings name that rule.
    pub context: Option<RuleRef>,
    /// What tcpdmatch shows while matching, in its words and order:
    /// `matched:  FILE line N`, `option:   NAME VALUE`, `warning: ...`.
    pub trace: Vec<String>,
}

impl Outcome {
    /// The line tcpd logs when it refuses a connection.
    pub fn refused_message(&self) -> String {
        format!("refused connect from {}", self.client)
    }

    /// The priority of the refusal line: tcpd's LOG_WARNING unless `severity` says otherwise.
    pub fn deny_severity(&self) -> i32 {
        self.severity.unwrap_or(libc::LOG_WARNING)
    }

    /// The twist command, which replaces the service.
    pub fn twist(&self) -> Option<&str> {
        self.options.iter().find_map(|o| match o {
            RuleOption::Twist(cmd) => Some(cmd.as_str()),
            _ => None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Granted(Outcome),
    Denied(Outcome),
    /// Decide again where blocking is allowed (in the child).
    NeedsLookup(Need),
}
