//! A local webhook receiver: records what tokend delivers and answers as told.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// One request a receiver saw: its headers (lower-cased names) and body.
pub type Seen = (Vec<(String, String)>, String);

/// A local HTTP receiver that records each request and answers 500 for the first
/// `fail_first` requests, then 200.
pub struct WebhookReceiver {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl WebhookReceiver {
    /// The bodies received so far, in order.
    pub fn bodies(&self) -> Vec<String> {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .map(|(_, body)| body.clone())
            .collect()
    }
}

pub fn webhook_receiver(fail_first: usize) -> WebhookReceiver {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let store = seen.clone();
    std::thread::spawn(move || {
        let mut n = 0;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).ok();
            let mut len = 0usize;
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.trim_end().split_once(": ") {
                    if k.eq_ignore_ascii_case("content-length") {
                        len = v.parse().unwrap_or(0);
                    }
                    headers.push((k.to_lowercase(), v.to_string()));
                }
            }
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).ok();
            store
                .lock()
                .expect("lock")
                .push((headers, String::from_utf8_lossy(&body).into_owned()));
            n += 1;
            let status = if n <= fail_first {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    WebhookReceiver { url, seen }
}
