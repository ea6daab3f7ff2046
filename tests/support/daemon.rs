//! Driving `yici run` from a test: a daemon on a free loopback port, its
//! endpoints read over plain HTTP, and polling until something shows.
#![allow(dead_code)] // each test binary uses a different part

use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::workspace::Workspace;

/// `GET path` on loopback `port`: (status line, body), or `None` while
/// nothing listens.
pub fn get(port: u16, path: &str) -> Option<(String, String)> {
    get_with(port, path, None)
}

/// `GET path` with an optional bearer token.
pub fn get_with(port: u16, path: &str, token: Option<&str>) -> Option<(String, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    // `/metrics` may wait 8 s for a store that is away.
    s.set_read_timeout(Some(Duration::from_secs(15))).ok()?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_owned(), body.to_owned()))
}

/// Sends `signal` (`TERM`, `INT`, `HUP`) to process `pid`, as `kill` does.
pub fn send_signal(pid: u32, signal: &str) {
    let sent = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal} {pid}");
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `f` every 200 ms until it gives a value; fails after a minute.
pub fn until<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    until_within(what, Duration::from_secs(60), f)
}

/// [`until`] with its own limit.
pub fn until_within<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A `yici run` started in a workspace; killed if the test ends early.
/// Its log goes to a file (a pipe nobody reads would fill and block it).
pub struct Daemon {
    pub child: Option<Child>,
    pub port: u16,
    log: std::path::PathBuf,
}

impl Daemon {
    /// `yici run --listen 127.0.0.1:PORT EXTRA…`, logging to a file.
    pub fn start(ws: &Workspace, extra: &[&str]) -> Daemon {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["run", "--listen", &listen];
        args.extend_from_slice(extra);
        let log = ws.path(&format!("daemon-{port}.log"));
        let child = ws
            .command(&args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let daemon = Daemon {
            child: Some(child),
            port,
            log,
        };
        until("/healthz", || get(port, "/healthz"));
        daemon
    }

    /// The current `/metrics` text.
    pub fn metrics(&self) -> String {
        get(self.port, "/metrics")
            .map(|(_, b)| b)
            .unwrap_or_default()
    }

    /// Waits until `/metrics` holds every line of `lines`; returns the text.
    pub fn until_metrics(&self, what: &str, lines: &[&str]) -> String {
        until(what, || {
            let body = self.metrics();
            lines.iter().all(|l| body.contains(l)).then_some(body)
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().unwrap().try_wait().unwrap().is_none()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM, waits for the exit; its exit code and whole log.
    pub fn terminate(mut self) -> (Option<i32>, String) {
        let mut child = self.child.take().unwrap();
        send_signal(child.id(), "TERM");
        let status = child.wait().unwrap();
        (status.code(), self.log())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
