//! Where the HTTP endpoint listens: every `--web.listen-address` (`HOST:PORT` or `:PORT`, as the
//! Prometheus exporter-toolkit takes them, repeatable), or with `--web.systemd-socket` the
//! listening sockets systemd passes (socket activation). Every listener serves the same routes
//! with the same web config.

use std::fmt;
use tokio::net::TcpListener;

/// A checked `--web.listen-address` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddress {
    /// `None` for `:PORT`, every interface.
    host: Option<String>,
    port: u16,
}

/// The forms a listen address takes, for error messages.
const EXPECTED: &str =
    "expected HOST:PORT or :PORT (e.g. :10263 for every interface, 127.0.0.1:10263, [::1]:10263)";

impl ListenAddress {
    /// Parses `HOST:PORT`, `[IPv6]:PORT` or `:PORT`; the error says what is wrong with the
    /// value and which forms are expected.
    pub fn parse(text: &str) -> Result<ListenAddress, String> {
        let invalid = |why: &str| format!("{why}{EXPECTED}");
        let Some((host, port)) = text.rsplit_once(':') else {
            if text.parse::<u16>().is_ok() {
                return Err(invalid(&format!(
                    "no host part (write :{text} for every interface); "
                )));
            }
            return Err(invalid("no port; "));
        };
        let port: u16 = port
            .parse()
            .map_err(|_| invalid(&format!("{port:?} is not a port number (0 to 65535); ")))?;
        let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) if v6.parse::<std::net::Ipv6Addr>().is_ok() => Some(v6.to_owned()),
            Some(_) => return Err(invalid("not an IPv6 address in the brackets; ")),
            None if host.contains(':') => {
                return Err(invalid("an IPv6 address needs brackets; "));
            }
            None if host.is_empty() => None,
            None if host.contains(['/', ' ', '[', ']']) => {
                return Err(invalid("not a host name or address; "));
            }
            None => Some(host.to_owned()),
        };
        Ok(ListenAddress { host, port })
    }

    /// Binds the address. `:PORT` means every interface: IPv6 and IPv4 where the system allows
    /// one socket for both, else IPv4.
    pub async fn bind(&self) -> std::io::Result<TcpListener> {
        match &self.host {
            None => match TcpListener::bind(("::", self.port)).await {
                Ok(listener) => Ok(listener),
                Err(_) => TcpListener::bind(("0.0.0.0", self.port)).await,
            },
            Some(host) => TcpListener::bind((host.as_str(), self.port)).await,
        }
    }
}

impl fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            None => write!(f, ":{}", self.port),
            Some(host) if host.contains(':') => write!(f, "[{host}]:{}", self.port),
            Some(host) => write!(f, "{host}:{}", self.port),
        }
    }
}

/// The listening TCP sockets systemd passed to this process, by `sd_listen_fds` rules:
/// `LISTEN_PID` must be this process, and `LISTEN_FDS` sockets follow from file descriptor 3.
/// The variables are then removed, so no child process could take the sockets for its own.
///
/// Call this before any other thread runs (it changes the environment) and before anything
/// opens a file (it takes ownership of descriptors 3 and up).
#[cfg(target_os = "linux")]
pub fn systemd_sockets() -> Result<Vec<std::net::TcpListener>, String> {
    const FIRST_FD: i32 = 3;
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    for key in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(key);
    }
    let hint =
        "start the exporter from its systemd .socket unit, or leave out --web.systemd-socket";
    let (Some(pid), Some(fds)) = (pid, fds) else {
        return Err(format!(
            "no sockets were passed (LISTEN_PID and LISTEN_FDS are not set); {hint}"
        ));
    };
    let ours = std::process::id();
    if pid.trim().parse::<u32>().ok() != Some(ours) {
        return Err(format!(
            "the sockets were passed to another process (LISTEN_PID is {pid:?}, this process is {ours}); {hint}"
        ));
    }
    let count = match fds.trim().parse::<i32>() {
        Ok(count) if count > 0 => count,
        _ => {
            return Err(format!(
                "LISTEN_FDS is {fds:?}, not a number of sockets; {hint}"
            ))
        }
    };
    (FIRST_FD..FIRST_FD + count).map(passed_listener).collect()
}

/// Socket activation exists on Linux only.
#[cfg(not(target_os = "linux"))]
pub fn systemd_sockets() -> Result<Vec<std::net::TcpListener>, String> {
    Err("socket activation is available on Linux only".to_owned())
}

/// Takes the passed descriptor `fd` as a listening TCP socket, or says what else it is.
#[cfg(target_os = "linux")]
fn passed_listener(fd: i32) -> Result<std::net::TcpListener, String> {
    use socket2::{Domain, Socket, Type};
    use std::os::fd::FromRawFd;
    // SAFETY: systemd passes descriptors 3 to 3 + LISTEN_FDS - 1 open, to the process named by
    // LISTEN_PID, which was checked to be this one; each is taken once, and nothing else in the
    // process has opened a descriptor yet (the caller's contract).
    let socket = unsafe { Socket::from_raw_fd(fd) };
    let not_served = |what: String| {
        format!("file descriptor {fd} is {what}; only listening TCP sockets (ListenStream= with an address or port) are served")
    };
    match socket.r#type() {
        Ok(kind) if kind == Type::STREAM => {}
        Ok(_) => return Err(not_served("not a stream socket".to_owned())),
        Err(err) => return Err(not_served(format!("not a socket ({err})"))),
    }
    match socket.domain() {
        Ok(domain) if domain == Domain::IPV4 || domain == Domain::IPV6 => {}
        _ => return Err(not_served("not an IPv4 or IPv6 socket".to_owned())),
    }
    if !socket.is_listener().unwrap_or(false) {
        return Err(not_served("not listening".to_owned()));
    }
    // As sd_listen_fds does: no child process inherits the socket.
    socket
        .set_cloexec(true)
        .map_err(|err| not_served(format!("unusable ({err})")))?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        let ok = |text: &str| ListenAddress::parse(text).unwrap().to_string();
        assert_eq!(ok(":10263"), ":10263");
        assert_eq!(ok("127.0.0.1:0"), "127.0.0.1:0");
        assert_eq!(ok("localhost:10263"), "localhost:10263");
        assert_eq!(ok("[::1]:10263"), "[::1]:10263");
        for (bad, why) in [
            ("localhost", "no port"),
            ("10263", "no host part (write :10263 for every interface)"),
            (":http", "\"http\" is not a port number"),
            (":70000", "\"70000\" is not a port number"),
            ("::1:10263", "an IPv6 address needs brackets"),
            ("[nope]:10263", "not an IPv6 address"),
            ("", "no port"),
        ] {
            let err = ListenAddress::parse(bad).unwrap_err();
            assert!(
                err.starts_with(why) && err.contains("expected HOST:PORT or :PORT"),
                "{err}"
            );
        }
    }
}
