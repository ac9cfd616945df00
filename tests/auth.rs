//! FreeBSD's `auth` builtin (RFC 1413 ident), answered inline from the
//! kernel's socket tables: real connections and their owners, and the
//! error replies.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

/// Asks the auth server at `addr` with `request` and returns its reply.
fn ask(addr: &str, request: &str) -> String {
    let mut stream = connect(addr);
    stream.write_all(request.as_bytes()).unwrap();
    let _ = stream.shutdown(Shutdown::Write);
    String::from_utf8(read_all(stream)).unwrap()
}

/// A connected pair on `ip`: (client, server side).
fn pair(ip: &str) -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind((ip, 0)).unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

fn ports(stream: &TcpStream) -> (u16, u16) {
    (
        stream.local_addr().unwrap().port(),
        stream.peer_addr().unwrap().port(),
    )
}

#[test]
fn the_owner_of_a_real_connection() {
    let [v4, v6] = [free_port("127.0.0.1"), free_port("::1")];
    let user = current_user();
    let _d = Daemon::start(
        "auth-owner",
        &format!(
            "127.0.0.1:{v4} stream tcp nowait {user} internal auth -r -o UNIX\n\
             [::1]:{v6} stream tcp6 nowait {user} internal auth -r -o UNIX\n"
        ),
    );
    let addr = format!("127.0.0.1:{v4}");
    // Both ends of a connection of the test's own: the port on the auth
    // server's host first, then the client's.
    let (client, server) = pair("127.0.0.1");
    let (local, remote) = ports(&client);
    assert_eq!(
        ask(&addr, &format!("{local} , {remote}\r\n")),
        format!("{local} , {remote} : USERID : UNIX : {user}\r\n")
    );
    let (local, remote) = ports(&server);
    assert_eq!(
        ask(&addr, &format!("{local},{remote}\n")),
        format!("{local} , {remote} : USERID : UNIX : {user}\r\n")
    );
    // Over IPv6.
    let (client6, _server6) = pair("::1");
    let (local, remote) = ports(&client6);
    assert_eq!(
        ask(&format!("[::1]:{v6}"), &format!("{local} , {remote}\r\n")),
        format!("{local} , {remote} : USERID : UNIX : {user}\r\n")
    );
    // No such connection; ports that are none.
    assert_eq!(
        ask(&addr, &format!("{local} , 1\r\n")),
        format!("{local} , 1 : ERROR : NO-USER\r\n")
    );
    assert_eq!(ask(&addr, "hello\r\n"), "0 , 0 : ERROR : INVALID-PORT\r\n");
    assert_eq!(
        ask(&addr, "0 , 23\r\n"),
        "0 , 23 : ERROR : INVALID-PORT\r\n"
    );
    assert_eq!(
        ask(&addr, &"1".repeat(512)),
        "0 , 0 : ERROR : INVALID-PORT\r\n"
    );
    drop((client, server));
}

#[test]
fn a_connection_of_another_user() {
    if !is_root() {
        eprintln!("skipping: needs root to connect as nobody");
        return;
    }
    let [port, numeric] = [0; 2].map(|_| free_port("127.0.0.1"));
    let d = Daemon::start(
        "auth-nobody",
        &format!(
            "127.0.0.1:{port} stream tcp nowait root internal auth -r\n\
             127.0.0.1:{numeric} stream tcp nowait root internal auth -r -i\n"
        ),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap().port();
    // bash connects as nobody and holds the connection until told.
    let mut holder = Command::new("bash")
        .args([
            "-c",
            &format!("exec 3<>/dev/tcp/127.0.0.1/{target} && echo connected && read -t 10 <&3"),
        ])
        .uid(65534)
        .gid(65534)
        .stdout(Stdio::piped())
        .spawn()
        .expect("run bash as nobody");
    let mut ready = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready, "connected\n");
    let (server, peer) = listener.accept().unwrap();
    let addr = format!("127.0.0.1:{port}");
    let os = String::from_utf8(Command::new("uname").arg("-s").output().unwrap().stdout).unwrap();
    let os = os.trim();
    let query = format!("{} , {target}\r\n", peer.port());
    assert_eq!(
        ask(&addr, &query),
        format!("{} , {target} : USERID : {os} : nobody\r\n", peer.port())
    );
    // -i: the uid.
    assert_eq!(
        ask(&format!("127.0.0.1:{numeric}"), &query),
        format!("{} , {target} : USERID : {os} : 65534\r\n", peer.port())
    );
    // The other end is root's.
    let (local, remote) = ports(&server);
    assert_eq!(
        ask(&addr, &format!("{local} , {remote}\r\n")),
        format!("{local} , {remote} : USERID : {os} : root\r\n")
    );
    // The holder's pid is killed and reaped whatever happened.
    unsafe { libc::kill(holder.id() as i32, libc::SIGKILL) };
    let _ = holder.wait();
    // Once the connection is gone, its owner is no longer told.
    drop(server);
    wait_until("the connection to close", || {
        ask(&addr, &query).ends_with(": ERROR : NO-USER\r\n")
    });
    drop(d);
}

#[test]
fn options_without_real_answers_and_the_deadline() {
    let [hidden, fallback, random, slow] = [0; 4].map(|_| free_port("127.0.0.1"));
    let user = current_user();
    let d = Daemon::start(
        "auth-options",
        &format!(
            "127.0.0.1:{hidden} stream tcp nowait {user} internal auth\n\
             127.0.0.1:{fallback} stream tcp nowait {user} internal auth -r -d guest -o OTHER\n\
             127.0.0.1:{random} stream tcp nowait {user} internal auth -g\n\
             127.0.0.1:{slow} stream tcp nowait {user} internal auth -r -t 1\n"
        ),
    );
    let (client, _server) = pair("127.0.0.1");
    let (local, remote) = ports(&client);
    let query = format!("{local} , {remote}\r\n");
    // Without -r every answer is hidden.
    assert_eq!(
        ask(&format!("127.0.0.1:{hidden}"), &query),
        format!("{local} , {remote} : ERROR : HIDDEN-USER\r\n")
    );
    // -d answers for a connection it cannot name.
    assert_eq!(
        ask(
            &format!("127.0.0.1:{fallback}"),
            &format!("{local} , 1\r\n")
        ),
        format!("{local} , 1 : USERID : OTHER : guest\r\n")
    );
    assert_eq!(
        ask(&format!("127.0.0.1:{fallback}"), &query),
        format!("{local} , {remote} : USERID : OTHER : {user}\r\n")
    );
    // -g: a new random name each time.
    let names: Vec<String> = (0..2)
        .map(|_| ask(&format!("127.0.0.1:{random}"), &query))
        .collect();
    assert_ne!(names[0], names[1]);
    let name = names[0].rsplit(" : ").next().unwrap().trim_end();
    assert_eq!(name.len(), 32, "{names:?}");
    // -t 1: a client that sends nothing is closed after a second.
    let started = Instant::now();
    let mut silent = connect(&format!("127.0.0.1:{slow}"));
    let mut buf = Vec::new();
    silent.read_to_end(&mut buf).unwrap();
    assert!(buf.is_empty());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    assert!(children_of(d.pid()).is_empty());
}
