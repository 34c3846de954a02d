//! Connections over a real socket, as slow, silent, oversized and flooding
//! clients make them: deadlines for the head, the body and idle keep-alive,
//! a `413` the client can read while it is still writing, and the
//! connection cap. Each timeout is set to a second or so, and every loop
//! here is bounded in count and time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::helpers::TestApp;

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: authql\r\n\r\n";

/// What the server does with a connection within `wait`: everything it
/// sent, and whether it then closed it (EOF or reset).
async fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> (String, bool) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(wait, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&received).into_owned(), closed)
}

/// Reads one whole response (head and `Content-Length` body) off a
/// kept-alive connection.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if received.len() >= end + 4 + length {
                return text;
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("no response within 10 s")
            .unwrap();
        assert!(n > 0, "closed mid-response: {text}");
        received.extend_from_slice(&buf[..n]);
    }
}

async fn healthz(address: SocketAddr) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(HEALTHZ).await.unwrap();
    read_response(&mut stream).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_that_never_sends_a_byte_is_closed_after_the_header_timeout() {
    let app = TestApp::spawn_with(&[("HTTP_HEADER_TIMEOUT", "1s")]).await;
    let server = app.listen().await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    let started = Instant::now();
    let (sent, closed) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(closed, "still open after 10 s");
    assert_eq!(sent, "");
    // Timers never fire early: it was the header timeout, not a reset.
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_head_that_trickles_in_is_cut_off_at_the_header_timeout() {
    let app = TestApp::spawn_with(&[("HTTP_HEADER_TIMEOUT", "1s")]).await;
    let server = app.listen().await;
    let stream = TcpStream::connect(server.address).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    // One header byte every 100 ms, for at most 10 s: each byte arrives in
    // time, but the head as a whole does not.
    let trickle = tokio::spawn(async move {
        write.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        for _ in 0..100 {
            if write.write_all(b"X").await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    });
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(10), read.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0) | Err(_))),
        "not closed: {closed:?}"
    );
    trickle.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_trickles_in_is_answered_408() {
    let app = TestApp::spawn_with(&[("HTTP_REQUEST_TIMEOUT", "1s")]).await;
    let server = app.listen().await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream
        .write_all(
            b"POST /graphql HTTP/1.1\r\nHost: authql\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"query\": \"{ __typename",
        )
        .await
        .unwrap();
    let (sent, closed) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(sent.starts_with("HTTP/1.1 408 "), "{sent}");
    assert!(
        sent.to_ascii_lowercase().contains("connection: close"),
        "{sent}"
    );
    assert!(sent.contains(r#""code":"GRAPHQL_PARSE_FAILED""#), "{sent}");
    assert!(closed);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_alive_connection_waits_for_the_idle_timeout_then_closes() {
    let app =
        TestApp::spawn_with(&[("HTTP_HEADER_TIMEOUT", "1s"), ("HTTP_IDLE_TIMEOUT", "3s")]).await;
    let server = app.listen().await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream.write_all(HEALTHZ).await.unwrap();
    assert!(
        read_response(&mut stream)
            .await
            .starts_with("HTTP/1.1 200 ")
    );
    // Longer than the header timeout: idle is not a slow head.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    stream.write_all(HEALTHZ).await.unwrap();
    assert!(
        read_response(&mut stream)
            .await
            .starts_with("HTTP/1.1 200 ")
    );
    let idle_since = Instant::now();
    let (sent, closed) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(closed, "still open after 10 s idle");
    assert_eq!(sent, "");
    // The server's idle clock started before the answer reached us.
    assert!(idle_since.elapsed() >= Duration::from_millis(2_500));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_head_over_64_kib_is_431() {
    let app = TestApp::spawn().await;
    let server = app.listen().await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: authql\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(100_000)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (sent, closed) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(sent.starts_with("HTTP/1.1 431 "), "{sent}");
    assert!(closed);
    // Just under the limit is fine.
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: authql\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(60_000)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    assert!(
        read_response(&mut stream)
            .await
            .starts_with("HTTP/1.1 200 ")
    );
}

/// Writes `head` and then `body` in full before reading anything, as
/// Node's `fetch` does, and returns what the server answered.
async fn post_all_then_read(address: SocketAddr, head: String, body: Vec<u8>) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let written = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body).await?;
        stream.flush().await
    };
    tokio::time::timeout(Duration::from_secs(20), written)
        .await
        .expect("the body could not be written within 20 s")
        .expect("the server broke the connection while the body was being written");
    let (sent, _) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    sent
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_over_the_limit_gets_a_413_the_client_can_read() {
    let app = TestApp::spawn().await;
    let server = app.listen().await;
    for size in [2_000_000, 8_000_000] {
        let mut body = br#"{"query": "{ __typename }", "padding": ""#.to_vec();
        body.resize(size, b'x');
        body.extend_from_slice(b"\"}");
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: authql\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        let sent = post_all_then_read(server.address, head, body).await;
        assert!(sent.starts_with("HTTP/1.1 413 "), "{size}: {sent}");
        assert!(sent.contains(r#""code":"GRAPHQL_PARSE_FAILED""#), "{sent}");

        // Chunked, so the size is known only once the limit is crossed.
        let mut chunked = Vec::new();
        for chunk in vec![b'x'; size].chunks(64 * 1024) {
            chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            chunked.extend_from_slice(chunk);
            chunked.extend_from_slice(b"\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        let head = "POST /graphql HTTP/1.1\r\nHost: authql\r\nContent-Type: application/json\r\n\
                    Transfer-Encoding: chunked\r\n\r\n"
            .to_owned();
        let sent = post_all_then_read(server.address, head, chunked).await;
        assert!(sent.starts_with("HTTP/1.1 413 "), "chunked {size}: {sent}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_answers_throughout_a_slow_connection_flood_past_the_cap() {
    // Long header timeouts, so only the cap's handling can let anyone in.
    let app = TestApp::spawn_with(&[
        ("HTTP_MAX_CONNECTIONS", "50"),
        ("HTTP_HEADER_TIMEOUT", "60s"),
    ])
    .await;
    let server = app.listen().await;
    // A client that signed in before the flood keeps its connection.
    let mut regular = TcpStream::connect(server.address).await.unwrap();
    regular.write_all(HEALTHZ).await.unwrap();
    assert!(
        read_response(&mut regular)
            .await
            .starts_with("HTTP/1.1 200 ")
    );

    // 300 connections that each send half a head, then nothing: six times
    // the cap.
    let mut flood = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(server.address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHo")
            .await
            .unwrap();
        flood.push(stream);
    }
    for round in 0..5 {
        let answer = tokio::time::timeout(Duration::from_secs(5), healthz(server.address))
            .await
            .unwrap_or_else(|_| panic!("round {round}: /healthz did not answer in 5 s"));
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
        // The flood goes on: more silent connections between the checks.
        for _ in 0..20 {
            let mut stream = TcpStream::connect(server.address).await.unwrap();
            let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHo").await;
            flood.push(stream);
        }
    }
    // The connection that had sent a request was never shed.
    regular.write_all(HEALTHZ).await.unwrap();
    assert!(
        read_response(&mut regular)
            .await
            .starts_with("HTTP/1.1 200 ")
    );
    drop(flood);
}
