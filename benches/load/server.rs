//! Starting authql (the release binary of this checkout) on a fresh database.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

pub const ACCESS_SECRET: &str = "bench-access-secret-0123456789abcdef";
pub const REFRESH_SECRET: &str = "bench-refresh-secret-0123456789abcdef";

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Server {
    /// Starts the server and waits until `/readyz` answers 200; returns it
    /// and the time from spawn to ready.
    pub async fn start(database_url: &str, bcrypt_cost: u32) -> (Self, Duration) {
        let port = free_port();
        let started = Instant::now();
        // BENCH_BIN runs another build (an earlier commit's, say) under the
        // same load, for before-and-after figures from one harness.
        let bin =
            std::env::var("BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_authql").into());
        let child = Command::new(bin)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", database_url)
            .env("PORT", port.to_string())
            .env("BCRYPT_COST", bcrypt_cost.to_string())
            .env("JWT_ACCESS_SECRET", ACCESS_SECRET)
            .env("JWT_REFRESH_SECRET", REFRESH_SECRET)
            .env("RUST_LOG", "warn")
            // Every request comes from 127.0.0.1: keep the limiters counting
            // (their cost is part of the figures) but never tripping.
            .env("RATE_LIMIT_IP", "4000000000/1s")
            .env("RATE_LIMIT_LOGIN", "4000000000/1s")
            .env("RATE_LIMIT_EMAIL", "4000000000/1s")
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start authql");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut server = Self { child, addr };
        loop {
            if started.elapsed() > Duration::from_secs(30) {
                server.stop();
                panic!("authql did not become ready within 30 s");
            }
            if let Ok(stream) = TcpStream::connect(addr).await {
                drop(stream);
                let mut conn = super::client::Conn::open(addr).await;
                if conn.get("/readyz").await.is_success() {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let ready = started.elapsed();
        (server, ready)
    }

    /// The server's peak resident set so far (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }

    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
