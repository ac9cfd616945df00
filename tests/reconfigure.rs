//! Hard reconfiguration (`--hard-reload`, xinetd's SIGHUP): a reload stops
//! what it ended, and nothing else.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::util::*;

/// Whether `cat` on the other end still echoes.
fn echoes(stream: &mut TcpStream) -> bool {
    if stream.write_all(b"ping\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 5];
    stream.read_exact(&mut reply).is_ok() && &reply == b"ping\n"
}

fn line(port: u16, user: &str, argv0: &str) -> String {
    format!("127.0.0.1:{port} stream tcp nowait {user} /bin/cat {argv0}\n")
}

#[test]
fn a_hard_reload_stops_the_children_of_removed_services_only() {
    let user = current_user();
    let [kept, removed] = [0; 2].map(|_| free_port("127.0.0.1"));
    let d = Daemon::start_with(
        "hard-reload",
        &(line(kept, &user, "cat") + &line(removed, &user, "cat")),
        &["--hard-reload"],
    );
    let mut a = connect(&format!("127.0.0.1:{kept}"));
    let mut b = connect(&format!("127.0.0.1:{removed}"));
    assert!(echoes(&mut a) && echoes(&mut b));
    d.reload(&line(kept, &user, "cat"));
    d.wait_for_log("stopped: its service was removed");
    assert!(
        read_all(&mut b).is_empty(),
        "the removed service's child is gone"
    );
    assert!(echoes(&mut a), "the kept service's child goes on");
}

#[test]
fn a_hard_reload_stops_children_whose_client_is_now_refused() {
    let user = current_user();
    let [narrowed, other] = [0; 2].map(|_| free_port("127.0.0.1"));
    let d = Daemon::start_with(
        "hard-reload-access",
        &(line(narrowed, &user, "narrowed") + &line(other, &user, "other")),
        &["--hard-reload"],
    );
    let mut a = connect(&format!("127.0.0.1:{narrowed}"));
    let mut b = connect(&format!("127.0.0.1:{other}"));
    assert!(echoes(&mut a) && echoes(&mut b));
    d.write_rules("hosts.deny", "narrowed: 127.0.0.1\n");
    d.reload(&(line(narrowed, &user, "narrowed") + &line(other, &user, "other")));
    d.wait_for_log("stopped: its client 127.0.0.1:");
    assert!(
        read_all(&mut a).is_empty(),
        "the refused client's child is gone"
    );
    assert!(echoes(&mut b), "a child the rules still allow goes on");
}

#[test]
fn without_the_option_a_reload_leaves_running_children_alone() {
    let user = current_user();
    let [kept, removed] = [0; 2].map(|_| free_port("127.0.0.1"));
    let d = Daemon::start(
        "soft-reload",
        &(line(kept, &user, "cat") + &line(removed, &user, "cat")),
    );
    let mut b = connect(&format!("127.0.0.1:{removed}"));
    assert!(echoes(&mut b));
    d.reload(&line(kept, &user, "cat"));
    assert!(echoes(&mut b), "the child of the removed service goes on");
    assert!(!d.log_text().contains("stopped:"));
}
