//! The xinetd dialect and the sources of the command line: `-t` and
//! `-t -t` over xinetd files and inetd.conf directories, serving an
//! xinetd configuration (internal services over TCP and UDP,
//! `server_args`, NAMEINARGS, UNLISTED with `port`, `bind`, `only_from`),
//! its reload, and `--to-inetd-conf`. The comparison with the real xinetd
//! is in `xinetd/differential.rs`, of the runtime features (access
//! times, cps, banners, redirect, process settings, log lines, USERID,
//! hard reconfiguration) in `xinetd/runtime.rs`.

mod differential;
mod runtime;

use std::fs;
use std::io::{Read, Write};
use std::process::Output;

use crate::util::{
    connect, connect_from, current_user, free_port, inetd, read_all, udp_request, Daemon, Dir,
};

fn run(args: &[&str]) -> Output {
    inetd().args(args).output().expect("run inetd")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn echo_block(port: u16) -> String {
    format!(
        "service echo\n{{\n\ttype = INTERNAL UNLISTED\n\tport = {port}\n\tsocket_type = stream\n\twait = no\n\tbind = 127.0.0.1\n}}\n"
    )
}

#[test]
fn check_and_dump_an_xinetd_configuration_with_its_includedir() {
    let dir = Dir::new("xinetd-check");
    let d = dir.join("xinetd.d");
    fs::create_dir(&d).unwrap();
    fs::write(d.join("echo"), echo_block(7100)).unwrap();
    // Skipped by xinetd's rule, each with its warning.
    fs::write(d.join("echo.conf"), echo_block(7101)).unwrap();
    fs::write(d.join("echo~"), echo_block(7102)).unwrap();
    fs::write(
        d.join("bad"),
        "service daytime\n{\n\ttype = INTERNAL\n\tsocket_type = stream\n\twait = perhaps\n}\n",
    )
    .unwrap();
    fs::write(
        d.join("logged"),
        "service time\n{\n\ttype = INTERNAL UNLISTED\n\tport = 7103\n\tsocket_type = stream\n\twait = no\n\tlog_on_success = PID HOST\n}\n",
    )
    .unwrap();
    let conf = dir.create(
        "xinetd.conf",
        &format!(
            "defaults\n{{\n\tinstances = 9\n}}\n\nincludedir {}\n",
            d.display()
        ),
    );
    let conf = conf.to_str().unwrap();
    let out = run(&["-t", "--xinetd", conf]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(!err.contains("no effect yet"), "{err}");
    let d = d.display();
    for expected in [
        format!("{d}/bad:5: service \"daytime\": wait: expected yes or no, not \"perhaps\"\n"),
        format!("{conf}:6: warning: includedir: \"{d}/echo.conf\" skipped: xinetd reads no file whose name holds a dot or ends in ~\n"),
        format!("{conf}:6: warning: includedir: \"{d}/echo~\" skipped: xinetd reads no file whose name holds a dot or ends in ~\n"),
    ] {
        assert!(err.contains(&expected), "{expected}\n{err}");
    }
    let out = run(&["-tt", "--xinetd", conf]);
    assert_eq!(
        text(&out.stdout),
        "127.0.0.1:7100 tcp4 stream nowait rate=- child=9 ip-rate=- ip-child=- user=root uid=0 gid=0 group=- groups=- cps=50/10 hard-reload internal=echo\n\
         [::]:7103 tcp46 stream nowait rate=- child=9 ip-rate=- ip-child=- user=root uid=0 gid=0 group=- groups=- cps=50/10 log-success=PID,HOST hard-reload internal=time\n"
    );
}

#[test]
fn inetd_conf_directories_and_several_sources() {
    let dir = Dir::new("xinetd-sources");
    let d = dir.join("inetd.d");
    fs::create_dir(&d).unwrap();
    let line = |port: u16| format!("127.0.0.1:{port} stream tcp nowait root internal echo\n");
    fs::write(d.join("b.conf"), line(7201)).unwrap();
    fs::write(d.join("a"), line(7200)).unwrap();
    for skipped in [
        ".hidden",
        "c.conf~",
        "c.conf.dpkg-old",
        "c.conf.dpkg-dist",
        "c.conf.rpmnew",
        "c.conf.rpmsave",
        "c.conf.orig",
    ] {
        fs::write(d.join(skipped), line(7202)).unwrap();
    }
    let main = dir.create("inetd.conf", &line(7199));
    // The later definition of a listener is the error.
    let xinetd = dir.create("xinetd.conf", &echo_block(7200));
    let (main, d_str, xinetd) = (
        main.to_str().unwrap(),
        d.to_str().unwrap(),
        xinetd.to_str().unwrap(),
    );
    let out = run(&["-tt", main, d_str, "--xinetd", xinetd]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let stdout = text(&out.stdout);
    let ports: Vec<&str> = stdout
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        ports,
        ["127.0.0.1:7199", "127.0.0.1:7200", "127.0.0.1:7201"]
    );
    assert!(
        err.contains(&format!(
            "{xinetd}:1: duplicate listener 127.0.0.1:7200 stream: first defined at {d_str}/a:1"
        )),
        "{err}"
    );
    for skipped in [
        ".hidden",
        "c.conf~",
        "c.conf.dpkg-old",
        "c.conf.dpkg-dist",
        "c.conf.rpmnew",
        "c.conf.rpmsave",
        "c.conf.orig",
    ] {
        assert!(
            err.contains(&format!("{d_str}: warning: {d_str}/{skipped} skipped: a hidden, backup or package-manager file")),
            "{skipped}: {err}"
        );
    }
    // Without the duplicate, all is well.
    let out = run(&["-t", main, d_str]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = run(&["-t", &dir.join("nope").to_string_lossy()]);
    assert!(text(&out.stderr).starts_with(&format!(
        "inetd: {}: cannot read configuration: ",
        dir.join("nope").display()
    )));
}

/// An xinetd configuration the suite serves: ports of its own on loopback.
struct Served {
    echo: u16,
    args: u16,
    named: u16,
    only: u16,
}

fn xinetd_conf(ports: &Served) -> String {
    let user = current_user();
    format!(
        "defaults\n{{\n\tinstances = 20\n}}\n\
         service echo\n{{\n\ttype = INTERNAL UNLISTED\n\tport = {echo}\n\tsocket_type = stream\n\twait = no\n\tbind = 127.0.0.1\n}}\n\
         service echo\n{{\n\ttype = INTERNAL UNLISTED\n\tid = echo-dgram\n\tport = {echo}\n\tsocket_type = dgram\n\twait = yes\n\tbind = 127.0.0.1\n}}\n\
         service args\n{{\n\ttype = UNLISTED\n\tport = {args}\n\tsocket_type = stream\n\tprotocol = tcp\n\twait = no\n\tuser = {user}\n\tserver = /bin/echo\n\tserver_args = one two\n\tflags = IPv4\n\tbind = 127.0.0.1\n}}\n\
         service named\n{{\n\ttype = UNLISTED\n\tport = {named}\n\tsocket_type = stream\n\twait = no\n\tuser = {user}\n\tserver_args = echo-as-argv0 three\n\tflags = NAMEINARGS IPv4\n\tserver = /bin/echo\n\tbind = 127.0.0.1\n}}\n\
         service only\n{{\n\ttype = INTERNAL UNLISTED\n\tport = {only}\n\tsocket_type = stream\n\twait = no\n\tbind = 127.0.0.1\n\tonly_from = 127.0.0.2 10.0.0.0\n\tno_access = 127.0.0.3\n}}\n",
        echo = ports.echo,
        args = ports.args,
        named = ports.named,
        only = ports.only,
        user = user,
    )
    .replace("service only", "service daytime")
}

fn ports() -> Served {
    Served {
        echo: free_port("127.0.0.1"),
        args: free_port("127.0.0.1"),
        named: free_port("127.0.0.1"),
        only: free_port("127.0.0.1"),
    }
}

#[test]
fn serves_an_xinetd_configuration_and_reloads_it() {
    let ports = ports();
    let dir = Dir::new("xinetd-serve");
    let conf = dir.create("xinetd.conf", &xinetd_conf(&ports));
    let d = Daemon::start_with("xinetd-serve", "", &["--xinetd", conf.to_str().unwrap()]);
    let mut stream = connect(&format!("127.0.0.1:{}", ports.echo));
    stream.write_all(b"hello").unwrap();
    let mut got = [0u8; 5];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello");
    drop(stream);
    assert_eq!(
        udp_request(&format!("127.0.0.1:{}", ports.echo), b"ping"),
        b"ping"
    );
    assert_eq!(
        read_all(connect(&format!("127.0.0.1:{}", ports.args))),
        b"one two\n"
    );
    assert_eq!(
        read_all(connect(&format!("127.0.0.1:{}", ports.named))),
        b"three\n"
    );
    // only_from: 127.0.0.2 is served, 127.0.0.1 refused (closed at once).
    let only = format!("127.0.0.1:{}", ports.only);
    let answer = read_all(connect_from("127.0.0.2", &only).unwrap());
    assert!(!answer.is_empty());
    assert!(read_all(connect_from("127.0.0.1", &only).unwrap()).is_empty());
    assert!(read_all(connect_from("127.0.0.3", &only).unwrap()).is_empty());
    d.wait_for_log("refused 127.0.0.1:");
    // Reloaded: the TCP echo is disabled, the rest stays.
    let disabled = xinetd_conf(&ports).replacen(
        "\tbind = 127.0.0.1\n}",
        "\tbind = 127.0.0.1\n\tdisable = yes\n}",
        1,
    );
    fs::write(&conf, disabled).unwrap();
    let before = d.log_text().matches("reloaded:").count();
    d.signal(libc::SIGHUP);
    crate::util::wait_until("reload", || {
        d.log_text().matches("reloaded:").count() > before
    });
    assert!(std::net::TcpStream::connect(format!("127.0.0.1:{}", ports.echo)).is_err());
    assert_eq!(
        udp_request(&format!("127.0.0.1:{}", ports.echo), b"ping"),
        b"ping"
    );
    // A bad line refuses the reload as for inetd.conf.
    fs::write(
        &conf,
        xinetd_conf(&ports).replace("wait = yes", "wait = sometimes"),
    )
    .unwrap();
    d.signal(libc::SIGHUP);
    d.wait_for_log("bad lines, configuration not reloaded");
    assert!(std::net::TcpStream::connect(format!("127.0.0.1:{}", ports.echo)).is_err());
}

#[test]
fn the_converter_prints_inetd_conf_that_checks_clean() {
    let ports = ports();
    let dir = Dir::new("xinetd-convert");
    let conf = dir.create("xinetd.conf", &xinetd_conf(&ports));
    let out = run(&["--to-inetd-conf", "--xinetd", conf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let converted = text(&out.stdout);
    assert!(
        converted.contains(&format!(
            "127.0.0.1:{}\tstream\ttcp\tnowait/20\troot\tinternal echo\n",
            ports.echo
        )),
        "{converted}"
    );
    assert!(converted.contains("#hosts.allow: daytime: 127.0.0.3 : deny\n#hosts.allow: daytime: ALL EXCEPT 127.0.0.2 10.0.0.0/255.0.0.0 : deny\n"), "{converted}");
    let file = dir.create("inetd.conf", &converted);
    let check = run(&["-tt", file.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    assert_eq!(text(&check.stdout).lines().count(), 5);
    assert!(
        run(&["--to-inetd-conf", file.to_str().unwrap()])
            .status
            .code()
            == Some(2)
    );
}

/// Debian's xinetd.conf and xinetd.d, pointed at a copy of the directory.
fn debian_files(dir: &Dir, enable: bool) -> std::path::PathBuf {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/xinetd");
    let d = dir.join("xinetd.d");
    fs::create_dir(&d).unwrap();
    for entry in fs::read_dir(data.join("xinetd.d")).unwrap() {
        let entry = entry.unwrap();
        let mut text = fs::read_to_string(entry.path()).unwrap();
        if enable {
            text = text.replace("disable\t\t= yes", "disable\t\t= no");
        }
        fs::write(d.join(entry.file_name()), text).unwrap();
    }
    let conf = fs::read_to_string(data.join("xinetd.conf")).unwrap();
    dir.create(
        "xinetd.conf",
        &conf.replace("/etc/xinetd.d", &d.to_string_lossy()),
    )
}

#[test]
fn debian_package_files_check_dump_and_convert() {
    let dir = Dir::new("xinetd-debian");
    let conf = debian_files(&dir, false);
    let out = run(&["-tt", "--xinetd", conf.to_str().unwrap()]);
    // Everything is disabled: nothing to serve, nothing to say.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let dir = Dir::new("xinetd-debian-on");
    let conf = debian_files(&dir, true);
    let out = run(&["-tt", "--xinetd", conf.to_str().unwrap()]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    // The -udp files define the UDP services of the others again.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.matches("duplicate listener").count(), 5, "{stderr}");
    assert_eq!(
        stderr.matches("xinetd's internal service").count(),
        2,
        "{stderr}"
    );
    let mut services: Vec<&str> = stdout
        .lines()
        .map(|l| l.split(" rate=").next().unwrap())
        .collect();
    services.sort();
    assert_eq!(
        services,
        [
            "[::]:13 tcp46 stream nowait",
            "[::]:13 udp46 dgram wait",
            "[::]:19 tcp46 stream nowait",
            "[::]:19 udp46 dgram wait",
            "[::]:37 tcp46 stream nowait",
            "[::]:37 udp46 dgram wait",
            "[::]:7 tcp46 stream nowait",
            "[::]:7 udp46 dgram wait",
            "[::]:9 tcp46 stream nowait",
            "[::]:9 udp46 dgram wait",
        ]
    );
    let out = run(&["--to-inetd-conf", "--xinetd", conf.to_str().unwrap()]);
    let converted = dir.create("inetd.conf", &text(&out.stdout));
    let again = run(&["-tt", converted.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(text(&again.stdout).lines().count(), 10);
}

#[test]
fn a_reload_reads_a_directory_source_again_and_judges_it_alike() {
    let (first, second) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    let dir = Dir::new("xinetd-dir-reload");
    let d = dir.join("inetd.d");
    fs::create_dir(&d).unwrap();
    let line = |port: u16| format!("127.0.0.1:{port} stream tcp nowait root internal echo\n");
    fs::write(d.join("first"), line(first)).unwrap();
    let daemon = Daemon::start_with("xinetd-dir-reload-d", "", &[d.to_str().unwrap()]);
    let echoes = |port: u16| {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok_and(|mut s| {
            s.write_all(b"e").is_ok() && s.read(&mut [0u8; 1]).is_ok_and(|n| n == 1)
        })
    };
    assert!(echoes(first) && !echoes(second));
    let reload = |daemon: &Daemon| {
        let before = daemon.log_text().matches("SIGHUP").count();
        daemon.signal(libc::SIGHUP);
        crate::util::wait_until("reload", || {
            let log = daemon.log_text();
            log.matches("SIGHUP").count() > before
                && log
                    .rsplit("SIGHUP")
                    .next()
                    .is_some_and(|t| t.contains("reloaded"))
        });
    };
    // A new file serves; a package manager's copy beside it does not.
    fs::write(d.join("second"), line(second)).unwrap();
    fs::write(d.join("first.dpkg-old"), line(first)).unwrap();
    reload(&daemon);
    assert!(echoes(first) && echoes(second));
    assert!(daemon.log_text().contains("first.dpkg-old skipped"));
    // A bad file refuses the reload, as a bad line of one file does.
    fs::write(
        d.join("third"),
        "127.0.0.1:1 stream tcp nowait root internal nosuch\n",
    )
    .unwrap();
    fs::remove_file(d.join("second")).unwrap();
    reload(&daemon);
    assert!(daemon
        .log_text()
        .contains("bad lines, configuration not reloaded"));
    assert!(echoes(second));
}

#[test]
fn max_load_holds_back_a_builtin_too() {
    let load: f64 = fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    if load < 0.05 {
        eprintln!("skipping: the load average ({load}) is below what the test can exceed");
        return;
    }
    let (held, free) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    let block = |port: u16, max_load: &str| {
        format!(
            "service echo\n{{\n\ttype = INTERNAL UNLISTED\n\tid = echo-{port}\n\tport = {port}\n\tsocket_type = stream\n\twait = no\n\tbind = 127.0.0.1\n\tmax_load = {max_load}\n}}\n"
        )
    };
    let dir = Dir::new("xinetd-load");
    let conf = dir.create("xinetd.conf", &(block(held, "0.01") + &block(free, "1000")));
    let d = Daemon::start_with("xinetd-load-d", "", &["--xinetd", conf.to_str().unwrap()]);
    let mut stream = connect(&format!("127.0.0.1:{free}"));
    stream.write_all(b"x").unwrap();
    assert_eq!(stream.read(&mut [0u8; 1]).unwrap(), 1);
    let mut stream = connect(&format!("127.0.0.1:{held}"));
    stream.write_all(b"x").unwrap();
    assert!(!crate::util::answers_within(
        &mut stream,
        std::time::Duration::from_millis(500)
    ));
    d.wait_for_log("above 0.01, not starting servers");
}

/// The runtime attributes served from an xinetd file, without xinetd (the
/// comparison with it is `xinetd/runtime.rs`): a redirect, access times,
/// banners, a program's environment and umask, and SIGHUP's hard
/// reconfiguration without `--hard-reload`.
#[test]
fn serves_the_runtime_attributes_of_an_xinetd_file() {
    use std::os::unix::fs::PermissionsExt;
    let user = current_user();
    let [target, redirect, closed, banner, program, held, narrowed] =
        [(); 7].map(|()| free_port("127.0.0.1"));
    let dir = Dir::new("xinetd-runtime-ours");
    let script = dir.create(
        "report.sh",
        "#!/bin/sh\necho \"umask=$(umask) FOO=$FOO HOME=${HOME-unset} REMOTE_HOST=$REMOTE_HOST\"\n",
    );
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let welcome = dir.create("welcome", "WELCOME\n");
    let service = |name: &str, port: u16, body: &str| {
        let kind = if body.contains("type =") {
            ""
        } else {
            "\ttype = UNLISTED\n"
        };
        format!("service {name}\n{{\n{kind}\tport = {port}\n\tbind = 127.0.0.1\n\tsocket_type = stream\n\twait = no\n{body}}}\n")
    };
    let conf_text = |with_held: bool| {
        [
            service("echo", target, "\ttype = INTERNAL UNLISTED\n"),
            service("fwd", redirect, &format!("\tredirect = 127.0.0.1 {target}\n")),
            // A window far from now: closed.
            service(
                "echo",
                closed,
                &format!(
                    "\ttype = INTERNAL UNLISTED\n\tid = closed\n\taccess_times = {}\n",
                    if (150..=240).contains(&minute_now()) { "15:00-15:30" } else { "3:00-3:30" }
                ),
            ),
            service(
                "echo",
                banner,
                &format!("\ttype = INTERNAL UNLISTED\n\tid = banner\n\tbanner = {}\n", welcome.display()),
            ),
            service(
                "report",
                program,
                &format!("\tuser = {user}\n\tserver = {}\n\tumask = 077\n\tenv = FOO=bar\n\tpassenv = HOME\n", script.display()),
            ),
            if with_held {
                service("held", held, &format!("\tuser = {user}\n\tserver = /bin/cat\n"))
            } else {
                String::new()
            },
            service(
                "echo",
                narrowed,
                &format!(
                    "\ttype = INTERNAL UNLISTED\n\tid = narrowed\n\tonly_from = {}\n",
                    if with_held { "127.0.0.0/8" } else { "127.0.0.2" }
                ),
            ),
        ]
        .concat()
    };
    let conf = dir.create("xinetd.conf", &conf_text(true));
    let d = Daemon::start_with(
        "xinetd-runtime-ours-d",
        "",
        &["--xinetd", conf.to_str().unwrap()],
    );
    let at = |port: u16| format!("127.0.0.1:{port}");
    let exchange = |port: u16, send: &[u8]| {
        let mut stream = connect(&at(port));
        stream.write_all(send).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        read_all(stream)
    };
    // Through the redirect to the echo, half-close and all.
    assert_eq!(exchange(redirect, b"through"), b"through");
    assert_eq!(exchange(closed, b""), b"");
    d.wait_for_log("outside its access times");
    assert_eq!(exchange(banner, b"hi"), b"WELCOME\nhi");
    let home = std::env::var("HOME").unwrap_or_else(|_| "unset".to_string());
    assert_eq!(
        String::from_utf8(exchange(program, b"")).unwrap(),
        format!("umask=0077 FOO=bar HOME={home} REMOTE_HOST=127.0.0.1\n")
    );
    // A running child of a service the reload removes is stopped; a
    // builtin connection whose client only_from no longer lists is closed,
    // one it still lists goes on.
    let held_open = |source: &str, port: u16| {
        let mut client = connect_from(source, &at(port)).unwrap();
        client.write_all(b"a").unwrap();
        let mut byte = [0u8; 1];
        client.read_exact(&mut byte).unwrap();
        client.set_read_timeout(Some(crate::util::TIMEOUT)).unwrap();
        client
    };
    let mut child = held_open("127.0.0.1", held);
    let mut refused = held_open("127.0.0.1", narrowed);
    let mut kept = held_open("127.0.0.2", narrowed);
    fs::write(&conf, conf_text(false)).unwrap();
    d.signal(libc::SIGHUP);
    d.wait_for_log("stopped: its service was removed");
    d.wait_for_log("connection closed: its client no longer passes only_from/no_access");
    let mut byte = [0u8; 1];
    assert_eq!(child.read(&mut byte).unwrap_or(0), 0);
    assert_eq!(refused.read(&mut byte).unwrap_or(0), 0);
    kept.write_all(b"b").unwrap();
    kept.read_exact(&mut byte).unwrap();
    assert_eq!(&byte, b"b");
}

/// The local time of day in minutes.
fn minute_now() -> u16 {
    // SAFETY: localtime_r writes only the struct given.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&now, &mut tm);
        (tm.tm_hour * 60 + tm.tm_min) as u16
    }
}

/// `log_type = FILE`: the service's records go to a file of its own,
/// with xinetd's timestamp, and stop at the hard limit.
#[test]
fn log_type_file_takes_the_records_up_to_its_hard_limit() {
    let port = free_port("127.0.0.1");
    let dir = Dir::new("xinetd-logfile");
    let log = dir.join("echo.log");
    let conf = dir.create(
        "xinetd.conf",
        &format!(
            "service echo\n{{\n\ttype = INTERNAL UNLISTED\n\tid = echo-log\n\tport = {port}\n\
             \tsocket_type = stream\n\twait = no\n\tbind = 127.0.0.1\n\tlog_type = FILE {} 200 300\n\
             \tlog_on_success = HOST DURATION\n}}\n",
            log.display()
        ),
    );
    let d = Daemon::start_with(
        "xinetd-logfile-d",
        "",
        &["--xinetd", conf.to_str().unwrap()],
    );
    for _ in 0..8 {
        let mut stream = connect(&format!("127.0.0.1:{port}"));
        stream.write_all(b"x").unwrap();
        assert_eq!(stream.read(&mut [0u8; 1]).unwrap(), 1);
    }
    crate::util::wait_until("the records", || {
        fs::read_to_string(&log).is_ok_and(|t| t.contains("EXIT: echo-log duration="))
    });
    let text = fs::read_to_string(&log).unwrap();
    assert!(
        text.lines()
            .all(|l| l.starts_with("26/") || l.as_bytes().get(8) == Some(&b'@')),
        "{text}"
    );
    // As xinetd's for what it serves in-process: a START without a pid.
    assert!(text.contains("START: echo-log from=127.0.0.1\n"), "{text}");
    assert!(
        text.len() <= 300,
        "past the hard limit: {} bytes",
        text.len()
    );
    assert!(
        !d.log_text().contains("EXIT: echo-log"),
        "records went to the daemon's log"
    );
    d.wait_for_log("past its soft limit of 200 bytes");
}
