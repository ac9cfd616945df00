//! The option field of a matched rule (libwrap's process_options): fields
//! separated by `:` (`\:` is a literal colon), each `name [=] [value]`,
//! processed in order. A bad option denies access, as libwrap's tcpd_jump().

use super::banner;
use super::decision::RuleOption;
use super::evaluation::Evaluation;
use super::expand::{expand, ExpandError, OPTION_LIMIT};
use super::parse::split_at;
use super::request::{Account, Need};
use super::scan::{scan_signed, scan_unsigned};

const BLANKS: &[char] = &[' ', '\t', '\r', '\n'];

/// What the options decided.
pub enum Flow {
    Continue,
    /// `allow`: grant now, whatever the file.
    Permit,
    /// `deny`, or an error in the options.
    Deny,
    /// `twist`: libwrap execs the command, nothing else happens.
    Twist,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Arg {
    None,
    Optional,
    Needed,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Group,
    Umask,
    Linger,
    Keepalive,
    Aclexec,
    Spawn,
    Twist,
    Rfc931,
    Setenv,
    Nice,
    Severity,
    Allow,
    Deny,
    Banners,
}

struct Spec {
    name: &'static str,
    kind: Kind,
    arg: Arg,
    expand: bool,
    last: bool,
}

const fn spec(name: &'static str, kind: Kind, arg: Arg, expand: bool, last: bool) -> Spec {
    Spec {
        name,
        kind,
        arg,
        expand,
        last,
    }
}

/// libwrap's option table (Debian adds aclexec).
const SPECS: &[Spec] = &[
    spec("user", Kind::User, Arg::Needed, false, false),
    spec("group", Kind::Group, Arg::Needed, false, false),
    spec("umask", Kind::Umask, Arg::Needed, false, false),
    spec("linger", Kind::Linger, Arg::Needed, false, false),
    spec("keepalive", Kind::Keepalive, Arg::None, false, false),
    spec("aclexec", Kind::Aclexec, Arg::Needed, true, false),
    spec("spawn", Kind::Spawn, Arg::Needed, true, false),
    spec("twist", Kind::Twist, Arg::Needed, true, true),
    spec("rfc931", Kind::Rfc931, Arg::Optional, false, false),
    spec("setenv", Kind::Setenv, Arg::Needed, true, false),
    spec("nice", Kind::Nice, Arg::Optional, false, false),
    spec("severity", Kind::Severity, Arg::Needed, false, false),
    spec("allow", Kind::Allow, Arg::None, false, true),
    spec("deny", Kind::Deny, Arg::None, false, true),
    spec("banners", Kind::Banners, Arg::Needed, false, false),
];

/// Splits the option field at unescaped colons; every field counts, even empty ones.
pub fn fields(raw: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ':' => fields.push(std::mem::take(&mut field)),
            '\\' if chars.peek() == Some(&':') => {
                chars.next();
                field.push(':');
            }
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// `name value`, `name = value` or `name`.
pub fn split_option(field: &str) -> (&str, Option<&str>) {
    let field = field.trim_matches(BLANKS);
    let end = field
        .find(['=', ' ', '\t', '\r', '\n'])
        .unwrap_or(field.len());
    let (key, mut value) = field.split_at(end);
    if !value.starts_with('=') {
        value = value.trim_start_matches(BLANKS);
    }
    if let Some(rest) = value.strip_prefix('=') {
        value = rest.trim_start_matches(BLANKS);
    }
    (key, (!value.is_empty()).then_some(value))
}

/// Checks a field without a request: the error libwrap would jump with, if any.
pub fn check_field(field: &str, is_last: bool) -> Result<(), String> {
    let (key, value) = split_option(field);
    let spec = find_spec(key)?;
    check_arity(spec, key, value, is_last)?;
    let Some(value) = value else { return Ok(()) };
    if spec.expand {
        return Ok(());
    }
    match spec.kind {
        Kind::Umask => parse_umask(value).map(drop),
        Kind::Linger => parse_linger(value).map(drop),
        Kind::Nice => parse_int(value, "nice").map(drop),
        Kind::Rfc931 => parse_timeout(value).map(drop),
        Kind::Severity => parse_severity(value).map(drop),
        _ => Ok(()),
    }
}

fn find_spec(key: &str) -> Result<&'static Spec, String> {
    if key.is_empty() {
        return Err("missing option name".to_string());
    }
    SPECS
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(key))
        .ok_or_else(|| format!("bad option name: \"{key}\""))
}

fn check_arity(spec: &Spec, key: &str, value: Option<&str>, is_last: bool) -> Result<(), String> {
    if value.is_none() && spec.arg == Arg::Needed {
        return Err(format!("option \"{key}\" requires value"));
    }
    if value.is_some() && spec.arg == Arg::None {
        return Err(format!("option \"{key}\" requires no value"));
    }
    if !is_last && spec.last {
        return Err(format!("option \"{key}\" must be at end"));
    }
    Ok(())
}

/// Runs the options of a matched rule, appending what they ask of the child.
pub fn process_options(
    raw: &str,
    session: &mut Evaluation,
    out: &mut Vec<RuleOption>,
) -> Result<Flow, Need> {
    let fields = fields(raw);
    for (i, field) in fields.iter().enumerate() {
        match run_option(field, i + 1 == fields.len(), session, out) {
            Ok(Flow::Continue) => {}
            Ok(flow) => return Ok(flow),
            Err(Failure::Need(need)) => return Err(need),
            Err(Failure::Error(message)) => {
                session.error(message);
                return Ok(Flow::Deny);
            }
        }
    }
    Ok(Flow::Continue)
}

/// Why an option did not run: a lookup it needs, or an error that denies.
enum Failure {
    Need(Need),
    Error(String),
}

impl From<ExpandError> for Failure {
    fn from(e: ExpandError) -> Failure {
        match e {
            ExpandError::Need(need) => Failure::Need(need),
            ExpandError::TooLong => Failure::Error("percent_x: expansion too long".to_string()),
        }
    }
}

impl From<Need> for Failure {
    fn from(need: Need) -> Failure {
        Failure::Need(need)
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::Error(message)
    }
}

fn run_option(
    field: &str,
    is_last: bool,
    session: &mut Evaluation,
    out: &mut Vec<RuleOption>,
) -> Result<Flow, Failure> {
    let (key, value) = split_option(field);
    let spec = find_spec(key)?;
    check_arity(spec, key, value, is_last)?;
    let value = match value {
        Some(v) if spec.expand => Some(
            expand(v, session, OPTION_LIMIT)?
                .trim_matches(BLANKS)
                .to_string(),
        ),
        Some(v) => Some(v.to_string()),
        None => None,
    };
    let arg = value.unwrap_or_default();
    session.trace.push(format!("option:   {key} {arg}"));
    let option = match spec.kind {
        Kind::Allow => return Ok(Flow::Permit),
        Kind::Deny => return Ok(Flow::Deny),
        Kind::User => {
            let (user, group) = match split_at(&arg, '.') {
                Some((user, group)) => (user.to_string(), Some(group.to_string())),
                None => (arg.clone(), None),
            };
            if let Some(group) = &group {
                if !session.account_exists(Account::Group, group)? {
                    return Err(format!("unknown group: \"{group}\"").into());
                }
            }
            if !session.account_exists(Account::User, &user)? {
                return Err(format!("unknown user: \"{user}\"").into());
            }
            RuleOption::User(arg)
        }
        Kind::Group => {
            if !session.account_exists(Account::Group, &arg)? {
                return Err(format!("unknown group: \"{arg}\"").into());
            }
            RuleOption::Group(arg)
        }
        Kind::Umask => RuleOption::Umask(parse_umask(&arg)?),
        Kind::Linger => RuleOption::Linger(parse_linger(&arg)?),
        Kind::Keepalive => RuleOption::Keepalive,
        Kind::Nice if arg.is_empty() => RuleOption::Nice(10),
        Kind::Nice => RuleOption::Nice(parse_int(&arg, "nice")?),
        Kind::Rfc931 => {
            if !arg.is_empty() {
                session.rfc931_timeout = parse_timeout(&arg)?;
            }
            session.user()?;
            RuleOption::Rfc931(session.rfc931_timeout)
        }
        Kind::Severity => RuleOption::Severity(parse_severity(&arg)?),
        Kind::Setenv => {
            let (name, value) = arg.split_once(BLANKS).unwrap_or((&arg, ""));
            let (name, value) = (name.trim_matches(BLANKS), value.trim_matches(BLANKS));
            if name.is_empty() || name.contains('=') {
                return Err("memory allocation failure".to_string().into());
            }
            RuleOption::Setenv(name.to_string(), value.to_string())
        }
        Kind::Spawn => RuleOption::Spawn(arg),
        Kind::Twist => {
            out.push(RuleOption::Twist(arg));
            return Ok(Flow::Twist);
        }
        Kind::Aclexec => {
            session.aclexec_status = session.run_command(&arg)?;
            RuleOption::Aclexec(arg)
        }
        Kind::Banners => banner::render(&arg, session)?,
    };
    out.push(option);
    Ok(Flow::Continue)
}

/// sscanf("%o%c") == 1 and only permission bits.
fn parse_umask(value: &str) -> Result<u32, String> {
    match scan_unsigned(value, 8) {
        Some((mask, "")) if mask & 0o777 == mask => Ok(mask),
        _ => Err(format!("bad umask value: \"{value}\"")),
    }
}

/// sscanf("%d%c") == 1 and not negative.
fn parse_linger(value: &str) -> Result<i32, String> {
    match scan_signed(value) {
        Some((n, "")) if n >= 0 => Ok(n),
        _ => Err(format!("bad linger value: \"{value}\"")),
    }
}

/// sscanf("%d%c") == 1.
fn parse_int(value: &str, what: &str) -> Result<i32, String> {
    match scan_signed(value) {
        Some((n, "")) => Ok(n),
        _ => Err(format!("bad {what} value: \"{value}\"")),
    }
}

fn parse_timeout(value: &str) -> Result<u32, String> {
    match scan_signed(value) {
        Some((n, "")) if n > 0 => Ok(n.unsigned_abs()),
        _ => Err(format!("bad rfc931 timeout: \"{value}\"")),
    }
}

const FACILITIES: &[(&str, i32)] = &[
    ("kern", 0),
    ("user", 8),
    ("mail", 16),
    ("daemon", 24),
    ("auth", 32),
    ("lpr", 48),
    ("news", 56),
    ("uucp", 64),
    ("cron", 72),
    ("local0", 128),
    ("local1", 136),
    ("local2", 144),
    ("local3", 152),
    ("local4", 160),
    ("local5", 168),
    ("local6", 176),
    ("local7", 184),
];

const LEVELS: &[(&str, i32)] = &[
    ("emerg", 0),
    ("alert", 1),
    ("crit", 2),
    ("err", 3),
    ("warning", 4),
    ("notice", 5),
    ("info", 6),
    ("debug", 7),
];

/// `level` or `facility.level`, case-insensitive; the syslog priority.
pub fn parse_severity(value: &str) -> Result<i32, String> {
    let find = |table: &[(&str, i32)], name: &str| {
        table
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, v)| v)
            .ok_or_else(|| format!("bad syslog facility or severity: \"{name}\""))
    };
    match split_at(value, '.') {
        Some((facility, level)) => Ok(find(FACILITIES, facility)? | find(LEVELS, level)?),
        None => find(LEVELS, value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_splitting() {
        assert_eq!(fields(" spawn a\\:b: allow\n"), [" spawn a:b", " allow\n"]);
        assert_eq!(fields("allow:\n"), ["allow", "\n"]);
        assert_eq!(fields("a\\b"), ["a\\b"]);
    }

    #[test]
    fn option_syntax() {
        assert_eq!(split_option(" spawn=x "), ("spawn", Some("x")));
        assert_eq!(split_option("spawn = y= z\n"), ("spawn", Some("y= z")));
        assert_eq!(split_option("setenv =x"), ("setenv", Some("x")));
        assert_eq!(split_option("keepalive"), ("keepalive", None));
        assert_eq!(split_option("  \n"), ("", None));
    }

    #[test]
    fn checks() {
        assert!(check_field("ALLOW", true).is_ok());
        assert!(check_field("allow", false).is_err());
        assert!(check_field("keepalive 1", true).is_err());
        assert!(check_field("umask 0800", true).is_err());
        assert!(check_field("umask 0777", true).is_ok());
        assert!(check_field("nice", true).is_ok());
        assert!(check_field("nice 3x", true).is_err());
        assert!(check_field("rfc931 0", true).is_err());
        assert!(check_field("bogus", true).is_err());
        assert!(check_field("", true).is_err());
    }

    #[test]
    fn severities() {
        assert_eq!(parse_severity("mail.notice"), Ok(21));
        assert_eq!(parse_severity("LOCAL0.DEBUG"), Ok(135));
        assert_eq!(parse_severity("warning"), Ok(4));
        assert!(parse_severity("mail").is_err());
    }
}
