//! inetd: the Internet super-server.

mod config;
mod resolve;

fn main() {
    std::process::exit(0);
}
