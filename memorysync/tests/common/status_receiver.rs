//! A webhook receiver on loopback that answers whatever status it is told (200 at first) and
//! counts the requests it received.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A webhook receiver answering the status it is told; it counts what it received.
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    pub(crate) status: Arc<AtomicU16>,
    pub(crate) received: Arc<AtomicUsize>,
}

impl Receiver {
    /// Serves the receiver; returns its URL.
    pub(crate) async fn serve(&self) -> String {
        self.status.store(200, Ordering::SeqCst);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let this = self.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let this = this.clone();
                tokio::spawn(async move {
                    let mut buffer = [0u8; 16 * 1024];
                    let _ = stream.read(&mut buffer).await;
                    this.received.fetch_add(1, Ordering::SeqCst);
                    let status = this.status.load(Ordering::SeqCst);
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        format!("http://{addr}/alerts")
    }
}
