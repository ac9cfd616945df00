//! The state of one access decision while rules are matched: libwrap's
//! lazily filled request (names, user and netgroups are looked up only
//! when a pattern or an expansion needs them, through the caller's
//! [`Lookup`]), and the bounds on reading host lists.

use std::collections::HashMap;

use super::decision::RuleRef;
use super::request::{
    addr_string, hostname_known, Account, Endpoint, Known, Lookup, Need, Request, WouldBlock,
};

/// libwrap keeps names, users and the daemon in 128-byte buffers.
const STRING_LENGTH: usize = 128;
/// Nesting limit for `/file` host lists (libwrap would recurse until it crashes).
const MAX_LIST_DEPTH: usize = 16;
/// Host-list tokens one decision may read, all lists together: a list is
/// charged its length each time it is entered. About 35 ms of matching
/// (release build, lists of four names each: `list_reading_has_a_budget`);
/// a real rule set reads each list once or twice, so only a crafted set
/// of lists that name each other many times over ever reaches it.
pub const LIST_TOKEN_BUDGET: usize = 1 << 20;

/// A cached request attribute that an expansion may rewrite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fact {
    Name(Endpoint),
    Addr(Endpoint),
    User,
    Daemon,
}

/// The contents of `/path` host lists, read when the rules were loaded.
pub type HostLists = HashMap<String, Result<Vec<String>, String>>;

/// One decision's state, as libwrap's request_info holds it while rules
/// are matched: the request's facts, looked up once each and rewritten by
/// expansions, the host-list budget, the rule being matched and the warnings.
pub struct Evaluation<'a> {
    pub request: &'a Request<'a>,
    lookup: &'a mut dyn Lookup,
    host_lists: &'a HostLists,
    pub daemon: String,
    addrs: [String; 2],
    /// `None`: not looked up yet.
    names: [Option<String>; 2],
    user: Option<String>,
    /// The server endpoint is unknown (`--match` without a server): no port.
    pub no_server: bool,
    pub rfc931_timeout: u32,
    /// The exit status of the last `aclexec` run (0: none, or success):
    /// while not 0 it unmatches every later matched rule with options, in
    /// either file (libwrap keeps the status in a global).
    pub aclexec_status: i32,
    /// The `/path` lists being read, outermost first.
    open_lists: Vec<String>,
    list_tokens_left: usize,
    /// A list was not read for lack of budget since the last check.
    list_budget_exceeded: bool,
    pub place: Option<RuleRef>,
    pub warnings: Vec<String>,
    /// What tcpdmatch shows as the rules are matched: `matched:` and
    /// `option:` lines and the warnings, in order.
    pub trace: Vec<String>,
}

impl<'a> Evaluation<'a> {
    pub fn new(
        request: &'a Request<'a>,
        known: &Known,
        lookup: &'a mut dyn Lookup,
        host_lists: &'a HostLists,
    ) -> Self {
        let addr = |unknown: bool, addr: std::net::SocketAddr| {
            if unknown {
                "unknown".to_string()
            } else {
                addr_string(addr.ip())
            }
        };
        let server_name = known
            .server_name
            .clone()
            .or_else(|| known.no_server.then(|| "unknown".to_string()));
        Evaluation {
            daemon: truncate(request.daemon.to_string()),
            addrs: [
                addr(known.no_client_addr, request.client),
                addr(known.no_server, request.server),
            ],
            names: [known.client_name.clone(), server_name].map(|n| n.map(truncate)),
            user: known.user.clone().map(truncate),
            no_server: known.no_server,
            rfc931_timeout: 10,
            aclexec_status: 0,
            open_lists: Vec::new(),
            list_tokens_left: LIST_TOKEN_BUDGET,
            list_budget_exceeded: false,
            place: None,
            warnings: Vec::new(),
            trace: Vec::new(),
            request,
            lookup,
            host_lists,
        }
    }

    /// libwrap's tcpd_warn(): a warning about the rule being matched.
    pub fn warn(&mut self, message: String) {
        self.diagnose("warning", message);
    }

    /// libwrap's tcpd_jump(): an error in the rule's options, which denies.
    pub fn error(&mut self, message: String) {
        self.diagnose("error", message);
    }

    /// A line libwrap logs as it is, with no rule named.
    pub fn note(&mut self, message: String) {
        self.trace.push(message.clone());
        self.warnings.push(message);
    }

    fn diagnose(&mut self, kind: &str, message: String) {
        let (listed, traced) = match &self.place {
            Some(place) => (
                format!("{place}: {message}"),
                format!("{kind}: {}, line {}: {message}", place.file, place.line),
            ),
            None => (message.clone(), format!("{kind}: {message}")),
        };
        self.trace.push(traced);
        self.warnings.push(listed);
    }

    pub fn host_addr(&self, endpoint: Endpoint) -> &str {
        &self.addrs[endpoint as usize]
    }

    /// eval_hostname(): the name, "unknown" or "paranoid", looked up once.
    pub fn host_name(&mut self, endpoint: Endpoint) -> Result<String, Need> {
        if let Some(name) = &self.names[endpoint as usize] {
            return Ok(name.clone());
        }
        let (addr, need) = match endpoint {
            Endpoint::Client => (self.request.client, Need::ClientName),
            Endpoint::Server => (self.request.server, Need::ServerName),
        };
        let mut warnings = Vec::new();
        let name = self
            .lookup
            .host_name(addr, &mut warnings)
            .map_err(|WouldBlock| need)?;
        for warning in warnings {
            self.warn(warning);
        }
        let name = truncate(name.unwrap_or_else(|| "unknown".to_string()));
        self.names[endpoint as usize] = Some(name.clone());
        Ok(name)
    }

    /// eval_user(): the RFC 931 user name or "unknown", looked up once.
    pub fn user(&mut self) -> Result<String, Need> {
        if let Some(user) = &self.user {
            return Ok(user.clone());
        }
        let (client, server) = (self.request.client, self.request.server);
        let user = self
            .lookup
            .user(client, server, self.rfc931_timeout)
            .map_err(|WouldBlock| Need::User)?;
        let user = truncate(user.unwrap_or_else(|| "unknown".to_string()));
        self.user = Some(user.clone());
        Ok(user)
    }

    pub fn in_netgroup(&mut self, group: &str, host: &str) -> Result<bool, Need> {
        self.lookup
            .in_netgroup(group, host)
            .map_err(|WouldBlock| Need::Netgroup)
    }

    pub fn account_exists(&mut self, kind: Account, name: &str) -> Result<bool, Need> {
        self.lookup
            .account_exists(kind, name)
            .map_err(|WouldBlock| Need::Account)
    }

    pub fn run_command(&mut self, command: &str) -> Result<i32, Need> {
        self.lookup
            .run_command(command)
            .map_err(|WouldBlock| Need::Command)
    }

    pub fn read_file(&mut self, path: &str) -> Result<std::io::Result<Vec<u8>>, Need> {
        self.lookup.read_file(path).map_err(|WouldBlock| Need::File)
    }

    pub fn pid(&self) -> Result<u32, Need> {
        self.request.pid.ok_or(Need::Pid)
    }

    /// eval_hostinfo(): the name if already looked up and known, else the address.
    pub fn host_info(&self, endpoint: Endpoint) -> (String, Option<Fact>) {
        match &self.names[endpoint as usize] {
            Some(name) if hostname_known(name) => (name.clone(), Some(Fact::Name(endpoint))),
            _ => (
                self.host_addr(endpoint).to_string(),
                Some(Fact::Addr(endpoint)),
            ),
        }
    }

    /// eval_client(): `user@host` once the user is known, else the host info.
    pub fn client_info(&self) -> Result<(String, Option<Fact>), Need> {
        let (host, fact) = self.host_info(Endpoint::Client);
        Ok(match &self.user {
            Some(user) if !user.eq_ignore_ascii_case("unknown") => (format!("{user}@{host}"), None),
            _ => (host, fact),
        })
    }

    /// eval_server(): `daemon@host`.
    pub fn server_info(&self) -> (String, Option<Fact>) {
        let (host, _) = self.host_info(Endpoint::Server);
        if host.eq_ignore_ascii_case("unknown") {
            (self.daemon.clone(), Some(Fact::Daemon))
        } else {
            (format!("{}@{host}", self.daemon), None)
        }
    }

    pub fn overwrite(&mut self, fact: Fact, value: String) {
        match fact {
            Fact::Name(e) => self.names[e as usize] = Some(value),
            Fact::Addr(e) => self.addrs[e as usize] = value,
            Fact::User => self.user = Some(value),
            Fact::Daemon => self.daemon = value,
        }
    }

    pub fn host_list(&mut self, path: &str) -> Option<&'a [String]> {
        let lists: &'a HostLists = self.host_lists;
        match lists.get(path) {
            Some(Ok(tokens)) => Some(tokens),
            Some(Err(e)) => {
                let e = e.clone();
                self.warn(e);
                None
            }
            None => None,
        }
    }

    /// Whether to read the list at `path` of `len` tokens: not when nested
    /// too deep, not inside itself (it would only repeat what is being
    /// read: libwrap reads it again until it runs out of descriptors and
    /// then decides just so), and not past the decision's budget.
    pub fn enter_host_list(&mut self, path: &str, len: usize) -> bool {
        if self.open_lists.len() >= MAX_LIST_DEPTH || self.open_lists.iter().any(|p| p == path) {
            return false;
        }
        if len > self.list_tokens_left {
            self.list_tokens_left = 0;
            self.list_budget_exceeded = true;
            return false;
        }
        self.list_tokens_left -= len;
        self.open_lists.push(path.to_string());
        true
    }

    pub fn leave_host_list(&mut self) {
        self.open_lists.pop();
    }

    /// Whether a list went unread for lack of budget since the last call.
    pub fn take_list_budget_exceeded(&mut self) -> bool {
        std::mem::take(&mut self.list_budget_exceeded)
    }
}

/// Truncates like libwrap's fixed buffers, at a character boundary.
fn truncate(mut s: String) -> String {
    if s.len() >= STRING_LENGTH {
        let mut end = STRING_LENGTH - 1;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}
