//! What the keys of a NetBSD key-values definition mean (`keyvalues.rs`
//! reads their syntax): each key checked as NetBSD's parse_v2.c checks it,
//! then the defaults it fills in, giving the same fields a positional line
//! has, plus the limits and socket options the keys set directly.
//!
//! NetBSD's `0` for `service_max`, `ip_max` and `accept_max` starts
//! nothing; `sndbuf = 0` and `recvbuf = 0` leave the system's size.

use super::fields::{accept_filter, buffer_size, count, split_service, Fields};
use super::keyvalues::{Definition, Key};
use super::{shown, Skip};
use crate::config::{Limits, SocketOptions};

/// A definition's fields in their positional form, and what its keys set
/// directly.
pub(super) struct Spec {
    service: String,
    bind: Option<String>,
    socket_type: String,
    protocol: String,
    user: String,
    program: String,
    args: Vec<String>,
    pub(super) wait: bool,
    pub(super) limits: Limits,
    pub(super) socket_options: SocketOptions,
}

impl Spec {
    /// The fields, as a positional line would give them.
    pub(super) fn fields(&self) -> Fields<'_> {
        let (owner, hosts, service) =
            split_service(&self.service).unwrap_or((None, None, self.service.as_str()));
        Fields {
            owner,
            hosts: self.bind.as_deref().or(hosts),
            service,
            socket_type: &self.socket_type,
            protocol: &self.protocol,
            // Given by the `wait` key, through the extras.
            wait: "",
            user: &self.user,
            program: &self.program,
            args: self.args.iter().map(String::as_str).collect(),
        }
    }
}

const KEYS: [&str; 15] = [
    "bind",
    "socktype",
    "acceptfilter",
    "protocol",
    "sndbuf",
    "recvbuf",
    "wait",
    "service_max",
    "ip_max",
    "accept_max",
    "user",
    "group",
    "exec",
    "args",
    "ipsec",
];

/// The definition's spec, or every reason it has none.
pub(super) fn spec(definition: &Definition, warnings: &mut Vec<String>) -> Result<Spec, Skip> {
    // As for a positional line: exec takes no NUL, and the text must be UTF-8.
    let words = std::iter::once(&definition.service)
        .chain(definition.keys.iter().flat_map(|key| &key.values));
    for word in words {
        if word.contains('\0') {
            return Err(Skip::Rejected(format!("NUL byte in {}", shown(word))));
        }
        if word.contains(char::REPLACEMENT_CHARACTER) {
            return Err(Skip::Rejected("not valid UTF-8".to_string()));
        }
    }
    let mut errors = Vec::new();
    let (_, prefix_hosts, _) = match split_service(&definition.service) {
        Ok(split) => split,
        Err(reason) => return Err(Skip::Rejected(reason)),
    };
    let mut seen: Vec<&str> = Vec::new();
    let mut given = Given::default();
    for key in &definition.keys {
        let name = key.name.as_str();
        if !KEYS.contains(&name) {
            errors.push(format!("unknown key {}", shown(name)));
            continue;
        }
        // NetBSD lets `group` be given again: the last one counts.
        if seen.contains(&name) && name != "group" {
            errors.push(format!("{name} is given twice"));
            continue;
        }
        seen.push(name);
        if let Err(reason) = given.set(key, prefix_hosts.is_some(), warnings) {
            errors.push(reason);
        }
    }
    // The defaults NetBSD fills in, and what it requires.
    let protocol = given.protocol.take();
    let socket_type = given.socket_type.take().or_else(|| {
        let protocol = protocol.as_deref()?;
        if protocol.starts_with("udp") {
            Some("dgram".to_string())
        } else if protocol.starts_with("tcp") {
            Some("stream".to_string())
        } else {
            None
        }
    });
    let program = given.exec.take().unwrap_or_else(|| "internal".to_string());
    // A builtin's wait mode may go unsaid: nowait, as NetBSD infers it.
    let wait = given.wait.or((program == "internal").then_some(false));
    // A key given with a bad value is reported as such, not as missing.
    let bad_protocol = protocol.is_none() && seen.contains(&"protocol");
    for (missing, what) in [
        (protocol.is_none(), "protocol"),
        (socket_type.is_none() && !bad_protocol, "socktype"),
        (wait.is_none(), "wait"),
        (given.user.is_none(), "user"),
    ] {
        if missing && !seen.contains(&what) {
            errors.push(format!("{what} is required"));
        }
    }
    let user = match (given.user.take(), given.group.take()) {
        (Some(user), Some(_)) if user.contains(':') => {
            errors.push(format!(
                "user {} names a group, and group is given too",
                shown(&user)
            ));
            String::new()
        }
        (Some(user), Some(group)) => format!("{user}:{group}"),
        (Some(user), None) => user,
        (None, _) => String::new(),
    };
    if !errors.is_empty() {
        // A message stays one line's worth, however many keys are bad.
        const SHOWN: usize = 3;
        let more = errors.len().saturating_sub(SHOWN);
        errors.truncate(SHOWN);
        if more > 0 {
            errors.push(format!("{more} more"));
        }
        return Err(Skip::Rejected(errors.join("; ")));
    }
    Ok(Spec {
        service: definition.service.clone(),
        bind: given.bind,
        socket_type: socket_type.unwrap_or_default(),
        protocol: protocol.unwrap_or_default(),
        user,
        program,
        args: given.args,
        wait: wait.unwrap_or_default(),
        limits: given.limits,
        socket_options: given.socket_options,
    })
}

/// What the keys gave.
#[derive(Default)]
struct Given {
    bind: Option<String>,
    socket_type: Option<String>,
    protocol: Option<String>,
    wait: Option<bool>,
    user: Option<String>,
    group: Option<String>,
    exec: Option<String>,
    args: Vec<String>,
    limits: Limits,
    socket_options: SocketOptions,
}

impl Given {
    fn set(
        &mut self,
        key: &Key,
        prefix_hosts: bool,
        warnings: &mut Vec<String>,
    ) -> Result<(), String> {
        let name = key.name.as_str();
        let values = &key.values;
        let one = || match &values[..] {
            [value] => Ok(value.clone()),
            [] => Err(format!("{name} needs a value")),
            _ => Err(format!("{name} takes one value, not {}", values.len())),
        };
        let limit = |value: String| {
            count(&value).ok_or_else(|| format!("bad {name} {} (a count)", shown(&value)))
        };
        let size = |value: String| {
            buffer_size(&value)
                .ok_or_else(|| format!("bad {name} {} (bytes, or with k or m)", shown(&value)))
                .map(|n| (n > 0).then_some(n))
        };
        // NetBSD's 0: never start.
        let never = |n: u32, limits: &mut Limits| {
            if n == 0 {
                limits.starts_nothing = true;
            }
            (n > 0).then_some(n)
        };
        match name {
            "bind" if prefix_hosts => {
                return Err("bind is given, and the service names an address too".to_string())
            }
            "bind" => self.bind = Some(one()?),
            "socktype" => self.socket_type = Some(one()?),
            "acceptfilter" => {
                let (filter, arg) = match &values[..] {
                    [filter] => (filter, None),
                    [filter, arg] => (filter, Some(arg.as_str())),
                    _ => {
                        return Err(
                            "acceptfilter takes a filter and at most one argument".to_string()
                        )
                    }
                };
                self.socket_options.defer_accept = Some(accept_filter(filter, arg)?);
            }
            "protocol" => {
                let protocol = one()?;
                if protocol.starts_with("faith/") {
                    return Err(format!(
                        "protocol {} is not supported: FAITH (IPv6 to IPv4 translation) is a KAME relay Linux does not have",
                        shown(&protocol)
                    ));
                }
                self.protocol = Some(protocol);
            }
            "sndbuf" => self.socket_options.send_buffer = size(one()?)?,
            "recvbuf" => self.socket_options.receive_buffer = size(one()?)?,
            "wait" => {
                self.wait = Some(match one()?.as_str() {
                    "yes" => true,
                    "no" => false,
                    other => return Err(format!("bad wait {} (yes or no)", shown(other))),
                })
            }
            "service_max" => {
                let n = limit(one()?)?;
                self.limits.max_per_minute = never(n, &mut self.limits);
            }
            "ip_max" => {
                let n = limit(one()?)?;
                self.limits.max_conn_per_ip_per_minute = never(n, &mut self.limits);
            }
            "accept_max" => {
                let n = limit(one()?)?;
                self.limits.max_child = never(n, &mut self.limits);
            }
            "user" => self.user = Some(one()?),
            "group" => self.group = Some(one()?),
            "exec" => self.exec = Some(one()?),
            "args" => self.args = values.clone(),
            "ipsec" => match &values[..] {
                [] => {}
                [policy] => warnings.push(format!(
                    "ipsec {} ignored, not supported: IPsec policies",
                    shown(policy)
                )),
                _ => return Err(format!("ipsec takes one value, not {}", values.len())),
            },
            _ => return Err(format!("unknown key {}", shown(name))),
        }
        Ok(())
    }
}
