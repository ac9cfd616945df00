//! One access decision: libwrap's hosts_access(), hosts.allow then
//! hosts.deny, first match wins; a matched rule's options are run as the
//! rule is matched, as libwrap does.

use super::decision::{Decision, Outcome, RuleOption, RuleRef};
use super::evaluation::{Evaluation, HostLists, LIST_TOKEN_BUDGET};
use super::options::{process_options, Flow};
use super::parse::{Entry, Table};
use super::pattern::{client_match, list_match, server_match};
use super::request::{Known, Lookup, Need, Request};

enum TableResult {
    Matched(RuleRef),
    NoMatch,
    /// A fault that libwrap reports as an error: no match in hosts.allow, deny in hosts.deny.
    Fault,
    /// An option ended the decision (allow, deny, or an error).
    Jump(bool),
}

/// hosts_access(): hosts.allow, then hosts.deny, first match wins, else grant.
pub fn decide(
    tables: [&Table; 2],
    host_lists: &HostLists,
    request: &Request,
    known: &Known,
    lookup: &mut dyn Lookup,
) -> Decision {
    let mut session = Evaluation::new(request, known, lookup, host_lists);
    let mut options = Vec::new();
    let mut rule = None;
    let mut context = None;
    let mut granted = true;
    for (table, is_allow) in tables.into_iter().zip([true, false]) {
        match table_match(table, &mut session, &mut options) {
            Err(need) => return Decision::NeedsLookup(need),
            Ok(TableResult::Jump(verdict)) => {
                rule = session.place.clone();
                context = session.place.clone();
                granted = verdict;
                break;
            }
            Ok(TableResult::Matched(place)) => {
                rule = Some(place);
                granted = is_allow;
                break;
            }
            Ok(TableResult::Fault) if !is_allow => {
                granted = false;
                break;
            }
            Ok(TableResult::Fault | TableResult::NoMatch) => {}
        }
    }
    let severity = options.iter().rev().find_map(|o| match o {
        RuleOption::Severity(s) => Some(*s),
        _ => None,
    });
    let (client, _) = session.client_info().unwrap_or_default();
    let outcome = Outcome {
        rule,
        options,
        severity,
        client,
        warnings: session.warnings,
        context,
        trace: session.trace,
    };
    if granted {
        Decision::Granted(outcome)
    } else {
        Decision::Denied(outcome)
    }
}

fn table_match(
    table: &Table,
    session: &mut Evaluation,
    options: &mut Vec<RuleOption>,
) -> Result<TableResult, Need> {
    for entry in &table.entries {
        let rule = match entry {
            Entry::MissingSeparator { line } => {
                session.place = Some(RuleRef::new(&table.path, *line));
                session.warn("missing \":\" separator".to_string());
                continue;
            }
            Entry::Rule(rule) => rule,
        };
        let place = RuleRef::new(&table.path, rule.line);
        session.place = Some(place.clone());
        let matched = list_match(&rule.daemons, session, server_match)?
            && list_match(&rule.clients, session, client_match)?;
        if session.take_list_budget_exceeded() {
            // An error, as libwrap treats one: the rest of this file is not read.
            session.warn(format!(
                "host lists: more than {LIST_TOKEN_BUDGET} tokens to read in one decision"
            ));
            return Ok(TableResult::Fault);
        }
        if !matched {
            continue;
        }
        session
            .trace
            .push(format!("matched:  {} line {}", table.path, rule.line));
        if let Some(raw) = &rule.options {
            match process_options(raw, session, options)? {
                Flow::Continue => {}
                Flow::Permit | Flow::Twist => return Ok(TableResult::Jump(true)),
                Flow::Deny => return Ok(TableResult::Jump(false)),
            }
            if session.aclexec_status != 0 {
                session.note(format!("aclexec returned {}", session.aclexec_status));
                return Ok(TableResult::NoMatch);
            }
        }
        return Ok(TableResult::Matched(place));
    }
    if let Some(fault) = &table.fault {
        session.place = Some(RuleRef::new(&table.path, fault.line));
        session.warn(fault.reason.clone());
        return Ok(TableResult::Fault);
    }
    Ok(TableResult::NoMatch)
}
