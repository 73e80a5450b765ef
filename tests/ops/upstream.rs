//! The demo upstream behind the reverse proxies of the caddy and nginx tests: it answers every
//! request with the identity headers it received, so a test sees what tokend told the proxy
//! to pass on (and that a token or a forged header never got through).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// A demo upstream: answers every request with the `X-Auth-*` headers it received, one
/// `name: value` line each (sorted, names lower-cased), plus `authorization` if one came.
pub fn spawn_upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || echo(stream));
        }
    });
    port
}

fn echo(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(read) = stream.try_clone() else { return };
    let mut reader = BufReader::new(read);
    let mut seen = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            if k.starts_with("x-auth-") {
                seen.push(format!("{k}: {}", v.trim()));
            } else if k == "authorization" {
                seen.push("authorization".into());
            }
        }
    }
    seen.sort();
    let body = seen.join("\n");
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// `user=<X-Auth-User-Email>` from an upstream answer, or `user=-` without one.
pub fn user_of(echoed: &str) -> String {
    let email = echoed
        .lines()
        .find_map(|l| l.strip_prefix("x-auth-user-email:"))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .unwrap_or("-");
    format!("user={email}")
}
