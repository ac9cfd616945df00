//! Each attribute of a block, read as xinetd 2.3.15 reads it: which are
//! allowed in `defaults`, which take `+=` and `-=` (the lists), how many
//! values each wants, and what a value means. The rules of
//! `identify_attribute`: an unknown attribute, a wrong number of values,
//! an operator a single-valued attribute does not take, or a second
//! setting of one, are warnings and the line is ignored; a bad value
//! disables the service (here: an error, the service is not served).

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::blocks::{Attr, Op};
use super::shown;
use crate::config::{LogTarget, Rlimit, TimeWindow};

/// How many instances or children: xinetd's `UNLIMITED` or a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    Unlimited,
    At(u32),
}

/// The attributes of a `service` or `defaults` block, as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spec {
    /// Single-valued attributes set so far (a second setting is ignored).
    pub set: BTreeSet<&'static str>,
    pub id: Option<String>,
    pub disable: Option<bool>,
    /// `type`: INTERNAL, UNLISTED, RPC, SPECIAL, TCPMUX, TCPMUXPLUS.
    pub types: BTreeSet<String>,
    pub flags: BTreeSet<String>,
    pub socket_type: Option<String>,
    pub protocol: Option<String>,
    pub wait: Option<bool>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub groups: Option<bool>,
    pub server: Option<String>,
    pub server_args: Option<Vec<String>>,
    pub port: Option<u16>,
    pub bind: Option<String>,
    pub v6only: Option<bool>,
    pub instances: Option<Count>,
    pub per_source: Option<Count>,
    /// Hundredths.
    pub max_load: Option<u32>,
    pub only_from: Option<Vec<String>>,
    pub no_access: Option<Vec<String>>,
    pub redirect: Option<(String, String)>,
    /// `log_on_success` and `log_on_failure`: the flags' names.
    pub log_on_success: Option<Vec<String>>,
    pub log_on_failure: Option<Vec<String>>,
    /// `log_type`: where the service's records go.
    pub log_type: Option<LogTarget>,
    pub access_times: Option<Vec<TimeWindow>>,
    pub banner: Option<String>,
    pub banner_success: Option<String>,
    pub banner_fail: Option<String>,
    /// `cps`: connections a second, then seconds refusing.
    pub cps: Option<(u32, u32)>,
    /// `env`: `NAME=value` entries.
    pub env: Option<Vec<String>>,
    /// `passenv`: names of inetd's own environment.
    pub passenv: Option<Vec<String>>,
    pub nice: Option<i32>,
    pub umask: Option<u32>,
    /// `rlimit_*`, each set once; `None`: UNLIMITED.
    pub rlimits: Vec<(Rlimit, Option<u64>)>,
    /// `libwrap`: the daemon name hosts.allow sees for the service.
    pub libwrap: Option<String>,
    /// `disabled` and `enabled` of `defaults`: service ids.
    pub disabled: Option<Vec<String>>,
    pub enabled: Option<Vec<String>>,
    /// Attributes accepted whose runtime is not here, with their line:
    /// deny_time, rpc_version, rpc_number.
    pub inert: Vec<(usize, String)>,
}

/// Where an attribute may appear and how it takes values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arity {
    /// Exactly this many values, `=` only, set once.
    Fixed(usize),
    /// Any number (at least one), `=` only, set once.
    Any,
    /// A list: `=` replaces it (adds, in `defaults`), `+=` adds, `-=` removes.
    List,
}

struct Attribute {
    name: &'static str,
    arity: Arity,
    in_service: bool,
    in_defaults: bool,
}

const fn attribute(
    name: &'static str,
    arity: Arity,
    in_service: bool,
    in_defaults: bool,
) -> Attribute {
    Attribute {
        name,
        arity,
        in_service,
        in_defaults,
    }
}

use Arity::*;

/// xinetd 2.3.15's tables (`service_attributes`, `default_attributes`),
/// as Debian builds it (with libwrap, RPC and the load average).
const ATTRIBUTES: &[Attribute] = &[
    attribute("socket_type", Fixed(1), true, false),
    attribute("protocol", Fixed(1), true, false),
    attribute("wait", Fixed(1), true, false),
    attribute("user", Fixed(1), true, false),
    attribute("group", Fixed(1), true, false),
    attribute("server", Fixed(1), true, false),
    attribute("server_args", Any, true, false),
    attribute("instances", Fixed(1), true, true),
    attribute("log_on_success", List, true, true),
    attribute("log_on_failure", List, true, true),
    attribute("log_type", Any, true, true),
    attribute("only_from", List, true, true),
    attribute("no_access", List, true, true),
    attribute("access_times", Any, true, false),
    attribute("type", Any, true, false),
    attribute("rpc_version", Fixed(1), true, false),
    attribute("rpc_number", Fixed(1), true, false),
    attribute("id", Fixed(1), true, false),
    attribute("env", List, true, false),
    attribute("port", Fixed(1), true, false),
    attribute("passenv", List, true, true),
    attribute("flags", Any, true, false),
    attribute("nice", Fixed(1), true, false),
    attribute("redirect", Fixed(2), true, false),
    attribute("banner", Fixed(1), true, true),
    attribute("bind", Fixed(1), true, true),
    attribute("interface", Fixed(1), true, true),
    attribute("per_source", Fixed(1), true, true),
    attribute("groups", Fixed(1), true, true),
    attribute("banner_success", Fixed(1), true, true),
    attribute("banner_fail", Fixed(1), true, true),
    attribute("cps", Fixed(2), true, true),
    attribute("disable", Fixed(1), true, false),
    attribute("max_load", Fixed(1), true, true),
    attribute("rlimit_as", Fixed(1), true, false),
    attribute("rlimit_cpu", Fixed(1), true, false),
    attribute("rlimit_data", Fixed(1), true, false),
    attribute("rlimit_files", Fixed(1), true, false),
    attribute("rlimit_rss", Fixed(1), true, false),
    attribute("rlimit_stack", Fixed(1), true, false),
    attribute("v6only", Fixed(1), true, true),
    attribute("deny_time", Fixed(1), true, false),
    attribute("umask", Fixed(1), true, true),
    attribute("libwrap", Fixed(1), true, false),
    attribute("disabled", List, false, true),
    attribute("enabled", List, false, true),
];

pub const TYPES: [&str; 6] = [
    "RPC",
    "INTERNAL",
    "UNLISTED",
    "SPECIAL",
    "TCPMUX",
    "TCPMUXPLUS",
];

pub const FLAGS: [&str; 12] = [
    "REUSE",
    "INTERCEPT",
    "NORETRY",
    "IDONLY",
    "NAMEINARGS",
    "NODELAY",
    "KEEPALIVE",
    "NOLIBWRAP",
    "SENSOR",
    "IPv4",
    "IPv6",
    "LABELED",
];

const SUCCESS_LOG: [&str; 6] = ["HOST", "DURATION", "EXIT", "PID", "USERID", "TRAFFIC"];
const FAILURE_LOG: [&str; 3] = ["HOST", "ATTEMPT", "USERID"];
const FACILITIES: [&str; 17] = [
    "daemon", "auth", "authpriv", "user", "mail", "lpr", "news", "uucp", "ftp", "local0", "local1",
    "local2", "local3", "local4", "local5", "local6", "local7",
];
const LEVELS: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// syslog's code of a facility of [`FACILITIES`].
fn facility_code(name: &str) -> i32 {
    match name {
        "auth" => libc::LOG_AUTH,
        "authpriv" => libc::LOG_AUTHPRIV,
        "user" => libc::LOG_USER,
        "mail" => libc::LOG_MAIL,
        "lpr" => libc::LOG_LPR,
        "news" => libc::LOG_NEWS,
        "uucp" => libc::LOG_UUCP,
        "ftp" => libc::LOG_FTP,
        "local0" => libc::LOG_LOCAL0,
        "local1" => libc::LOG_LOCAL1,
        "local2" => libc::LOG_LOCAL2,
        "local3" => libc::LOG_LOCAL3,
        "local4" => libc::LOG_LOCAL4,
        "local5" => libc::LOG_LOCAL5,
        "local6" => libc::LOG_LOCAL6,
        "local7" => libc::LOG_LOCAL7,
        _ => libc::LOG_DAEMON,
    }
}

/// What became of one attribute line.
pub enum Outcome {
    Applied,
    /// Ignored, as xinetd ignores it (with its warning).
    Ignored(String),
    /// A bad value: the service is not served.
    Bad(String),
}

/// Applies one attribute line to `spec` (a `defaults` block when `defaults`).
pub fn apply(spec: &mut Spec, attr: &Attr, defaults: bool) -> Outcome {
    let name = attr.name.as_str();
    let Some(known) = ATTRIBUTES.iter().find(|a| a.name == name) else {
        return Outcome::Ignored(format!("unknown attribute {} ignored", shown(name)));
    };
    if !(if defaults {
        known.in_defaults
    } else {
        known.in_service
    }) {
        let place = if defaults {
            "in defaults"
        } else {
            "in a service (only in defaults)"
        };
        return Outcome::Ignored(format!("attribute {name} ignored: not allowed {place}"));
    }
    let mut op = attr.op;
    match known.arity {
        Fixed(_) | Any if spec.set.contains(known.name) => {
            return Outcome::Ignored(format!("attribute {name} already set: this one is ignored"))
        }
        Fixed(_) | Any if op != Op::Set => {
            return Outcome::Ignored(format!(
                "operator {} is for lists, not {name}: ignored",
                if op == Op::Add { "+=" } else { "-=" }
            ))
        }
        Fixed(n) if attr.values.len() != n => {
            return Outcome::Ignored(format!(
                "attribute {name} takes {n} value{}, not {}: ignored",
                if n == 1 { "" } else { "s" },
                attr.values.len()
            ))
        }
        // For defaults, `=` adds to a list, as `+=`.
        List if defaults && op == Op::Set => op = Op::Add,
        _ => {}
    }
    let values = &attr.values;
    match value(spec, known.name, op, values, attr.line) {
        Ok(()) => {
            if known.arity != List {
                spec.set.insert(known.name);
            }
            Outcome::Applied
        }
        Err(reason) => Outcome::Bad(format!("{name}: {reason}")),
    }
}

fn yes_no(value: &str) -> Result<bool, String> {
    match value {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(format!("expected yes or no, not {}", shown(value))),
    }
}

fn count(value: &str) -> Result<Count, String> {
    if value == "UNLIMITED" {
        return Ok(Count::Unlimited);
    }
    decimal(value).map(Count::At)
}

/// Digits only (xinetd's parse_base10 takes a sign; a negative count or
/// port is refused there too).
fn decimal<T: std::str::FromStr>(value: &str) -> Result<T, String> {
    Some(value)
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("bad number {}", shown(value)))
}

/// One of `allowed`, or why not.
fn one_of<'v>(value: &'v str, allowed: &[&str], what: &str) -> Result<&'v str, String> {
    if allowed.contains(&value) {
        Ok(value)
    } else {
        Err(format!("unknown {what} {}", shown(value)))
    }
}

/// A list attribute under `op`.
fn edit_list(list: &mut Option<Vec<String>>, op: Op, values: &[String]) {
    let list = list.get_or_insert_with(Vec::new);
    match op {
        Op::Set => *list = values.to_vec(),
        Op::Add => list.extend(values.iter().cloned()),
        Op::Remove => list.retain(|v| !values.contains(v)),
    }
}

/// `hh:mm-hh:mm`, the start before the end, as xinetd's `ti_add` reads
/// it: a window cannot run over midnight (xinetd refuses it; it is
/// written as two, `22:00-23:59 00:00-02:00`).
pub fn time_interval(value: &str) -> Result<TimeWindow, String> {
    let minutes = |hm: &str| -> Option<u16> {
        let (h, m) = hm.split_once(':')?;
        let (h, m): (u16, u16) = (decimal(h).ok()?, decimal(m).ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    };
    let (start, end) = value
        .split_once('-')
        .and_then(|(s, e)| Some((minutes(s)?, minutes(e)?)))
        .ok_or_else(|| format!("bad time interval {} (expected hh:mm-hh:mm)", shown(value)))?;
    if start >= end {
        return Err(format!(
            "time interval {} does not end after it starts (over midnight, write two: 22:00-23:59 00:00-02:00)",
            shown(value)
        ));
    }
    Ok(TimeWindow { start, end })
}

/// A size of `rlimit_*` or a log file: a number, optionally K or M
/// (1024 and 1024²), as xinetd's `get_limit`.
fn size(value: &str) -> Result<u64, String> {
    let (digits, unit) = match value.as_bytes().last() {
        Some(b'k' | b'K') => (&value[..value.len() - 1], 1 << 10),
        Some(b'm' | b'M') => (&value[..value.len() - 1], 1 << 20),
        _ => (value, 1),
    };
    decimal::<u64>(digits)?
        .checked_mul(unit)
        .ok_or_else(|| format!("{} is too large", shown(value)))
}

/// A limit of `rlimit_*`: UNLIMITED or a size (for `rlimit_cpu`, seconds).
fn limit(name: &str, value: &str) -> Result<(Rlimit, Option<u64>), String> {
    let resource = match name {
        "rlimit_as" => Rlimit::As,
        "rlimit_cpu" => Rlimit::Cpu,
        "rlimit_data" => Rlimit::Data,
        "rlimit_rss" => Rlimit::Rss,
        "rlimit_stack" => Rlimit::Stack,
        _ => Rlimit::Files,
    };
    if value == "UNLIMITED" {
        return Ok((resource, None));
    }
    let amount = if resource == Rlimit::Cpu {
        decimal(value)?
    } else {
        size(value)?
    };
    Ok((resource, Some(amount)))
}

fn value(
    spec: &mut Spec,
    name: &'static str,
    op: Op,
    values: &[String],
    line: usize,
) -> Result<(), String> {
    let first = values.first().map_or("", String::as_str);
    let inert = |spec: &mut Spec| spec.inert.push((line, name.to_string()));
    match name {
        "socket_type" => {
            spec.socket_type = Some(
                one_of(
                    first,
                    &["stream", "dgram", "raw", "seqpacket"],
                    "socket type",
                )?
                .to_string(),
            )
        }
        "protocol" => spec.protocol = Some(first.to_string()),
        "wait" => spec.wait = Some(yes_no(first)?),
        "user" => spec.user = Some(first.to_string()),
        "group" => spec.group = Some(first.to_string()),
        "groups" => spec.groups = Some(yes_no(first)?),
        "server" => spec.server = Some(first.to_string()),
        "server_args" => spec.server_args = Some(values.to_vec()),
        "instances" => spec.instances = Some(count(first)?),
        "per_source" => spec.per_source = Some(count(first)?),
        "id" => spec.id = Some(first.to_string()),
        "port" => spec.port = Some(decimal(first)?),
        "bind" | "interface" => {
            spec.set.insert("bind");
            spec.set.insert("interface");
            spec.bind = Some(first.to_string());
        }
        "v6only" => spec.v6only = Some(yes_no(first)?),
        "disable" => spec.disable = Some(yes_no(first)?),
        "type" | "flags" => {
            let (allowed, set, what): (&[&str], _, _) = if name == "type" {
                (&TYPES, &mut spec.types, "service type")
            } else {
                (&FLAGS, &mut spec.flags, "flag")
            };
            for v in values {
                set.insert(one_of(v, allowed, what)?.to_string());
            }
        }
        "max_load" => {
            let load: f64 = first
                .parse()
                .ok()
                .filter(|l: &f64| l.is_finite() && *l > 0.0 && *l < 1e6)
                .ok_or_else(|| format!("bad load average {}", shown(first)))?;
            spec.max_load = Some(((load * 100.0).round() as u32).max(1));
        }
        "only_from" | "no_access" => {
            for v in values {
                super::addresses::syntax(v)?;
            }
            let list = if name == "only_from" {
                &mut spec.only_from
            } else {
                &mut spec.no_access
            };
            edit_list(list, op, values);
        }
        "disabled" => edit_list(&mut spec.disabled, op, values),
        "enabled" => edit_list(&mut spec.enabled, op, values),
        "redirect" => {
            let port = &values[1];
            if decimal::<u16>(port).is_err()
                && !port.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err(format!("bad port {}", shown(port)));
            }
            spec.redirect = Some((values[0].clone(), port.clone()));
        }
        "cps" => spec.cps = Some((decimal(&values[0])?, decimal(&values[1])?)),
        "log_type" => {
            spec.log_type = Some(match (first, values.len()) {
                ("SYSLOG", 2 | 3) => {
                    one_of(&values[1], &FACILITIES, "syslog facility")?;
                    let facility = facility_code(&values[1]);
                    let level = match values.get(2) {
                        Some(level) => {
                            one_of(level, &LEVELS, "syslog level")?;
                            LEVELS.iter().position(|l| l == level).unwrap_or(6) as i32
                        }
                        // xinetd's default level.
                        None => libc::LOG_INFO,
                    };
                    LogTarget::Syslog(facility | level)
                }
                ("FILE", 2..=4) => {
                    let soft = values.get(2).map(|v| size(v)).transpose()?;
                    // xinetd: a hard limit not given is the soft one plus 1%
                    // (at least 5 KiB more).
                    let hard = match values.get(3) {
                        Some(v) => Some(size(v)?),
                        None => soft.map(|soft| soft + (soft / 100).max(5 * 1024)),
                    };
                    LogTarget::File {
                        path: PathBuf::from(&values[1]),
                        soft,
                        hard,
                    }
                }
                ("SYSLOG" | "FILE", _) => return Err("wrong number of values".to_string()),
                _ => {
                    return Err(format!(
                        "unknown log type {} (SYSLOG or FILE)",
                        shown(first)
                    ))
                }
            });
        }
        "log_on_success" | "log_on_failure" => {
            let allowed: &[&str] = if name == "log_on_success" {
                &SUCCESS_LOG
            } else {
                &FAILURE_LOG
            };
            for v in values {
                one_of(v, allowed, "log flag")?;
            }
            let list = if name == "log_on_success" {
                &mut spec.log_on_success
            } else {
                &mut spec.log_on_failure
            };
            edit_list(list, op, values);
        }
        "access_times" => {
            spec.access_times = Some(
                values
                    .iter()
                    .map(|v| time_interval(v))
                    .collect::<Result<_, _>>()?,
            )
        }
        "env" => {
            if op == Op::Remove {
                return Err("-= is not supported for env".to_string());
            }
            if let Some(bad) = values
                .iter()
                .find(|v| !v.contains('=') || v.starts_with('='))
            {
                return Err(format!("{} is not NAME=value", shown(bad)));
            }
            edit_list(&mut spec.env, op, values);
        }
        "passenv" => edit_list(&mut spec.passenv, op, values),
        "nice" => {
            let nice: i32 = first
                .strip_prefix('-')
                .map_or_else(|| decimal(first), |n| decimal::<i32>(n).map(|n| -n))?;
            if !(-20..=19).contains(&nice) {
                return Err(format!("nice {nice} out of -20..19"));
            }
            spec.nice = Some(nice);
        }
        "umask" => {
            spec.umask = Some(
                u32::from_str_radix(first, 8)
                    .ok()
                    .filter(|m| *m <= 0o777 && !first.starts_with('+'))
                    .ok_or_else(|| format!("bad octal umask {}", shown(first)))?,
            )
        }
        "rlimit_as" | "rlimit_cpu" | "rlimit_data" | "rlimit_rss" | "rlimit_stack"
        | "rlimit_files" => spec.rlimits.push(limit(name, first)?),
        "deny_time" => {
            if !matches!(first, "FOREVER" | "NEVER") {
                decimal::<u32>(first)?;
            }
            inert(spec);
        }
        "libwrap" => spec.libwrap = Some(first.to_string()),
        "banner" => spec.banner = Some(first.to_string()),
        "banner_success" => spec.banner_success = Some(first.to_string()),
        "banner_fail" => spec.banner_fail = Some(first.to_string()),
        "rpc_version" | "rpc_number" => inert(spec),
        _ => {}
    }
    Ok(())
}
