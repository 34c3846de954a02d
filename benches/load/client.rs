//! A minimal HTTP/1.1 client: one keep-alive connection per worker, as wrk
//! and autocannon use, so the figures measure the server, not connection set-up.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One connection to the server.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    addr: SocketAddr,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect to authql");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("HTTP handshake");
        tokio::spawn(connection);
        Self { sender, addr }
    }

    /// POSTs a GraphQL body, optionally with a bearer token.
    pub async fn post(&mut self, body: String, bearer: Option<&str>) -> (StatusCode, Bytes) {
        let mut request = Request::post("/graphql")
            .header("host", self.addr.to_string())
            .header("content-type", "application/json")
            .header("accept", "application/json");
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Full::new(Bytes::from(body))).expect("request");
        if self.sender.ready().await.is_err() {
            *self = Self::open(self.addr).await;
        }
        match self.sender.send_request(request).await {
            Ok(response) => {
                let status = response.status();
                let body = response.into_body().collect().await.map(|b| b.to_bytes());
                (status, body.unwrap_or_default())
            }
            Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Bytes::new()),
        }
    }

    /// GETs a path; returns the status.
    pub async fn get(&mut self, path: &str) -> StatusCode {
        let request = Request::get(path)
            .header("host", self.addr.to_string())
            .body(Full::new(Bytes::new()))
            .expect("request");
        match self.sender.send_request(request).await {
            Ok(response) => response.status(),
            Err(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}
