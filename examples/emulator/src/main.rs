//! `tillit-emulator --port PORT [--seed N] [--fault MODE] [--config FILE] [--patients N] [--big N]`
//!
//! Prints one line with its base URL when ready; stops cleanly on SIGTERM or Ctrl-C.

use std::io::Write;
use tillit_emulator::{router, Config, Emulator};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut port = 0u16;
    let mut seed = 1u64;
    let mut fault = None;
    let mut config_path = None;
    let mut patients = 5usize;
    let mut big = 0usize;
    let mut nonce_secs = 60u64;
    let mut token_secs = 300u64;
    let mut i = 0;
    let usage = || -> ! {
        eprintln!("usage: tillit-emulator --port PORT [--seed N] [--fault MODE] [--config FILE] [--patients N] [--big N] [--nonce-secs N] [--token-secs N]");
        std::process::exit(2)
    };
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_else(|| usage());
        match args[i].as_str() {
            "--port" => port = v.parse().unwrap_or_else(|_| usage()),
            "--seed" => seed = v.parse().unwrap_or_else(|_| usage()),
            "--fault" => fault = Some(v),
            "--config" => config_path = Some(v),
            "--patients" => patients = v.parse().unwrap_or_else(|_| usage()),
            "--big" => big = v.parse().unwrap_or_else(|_| usage()),
            "--nonce-secs" => nonce_secs = v.parse().unwrap_or_else(|_| usage()),
            "--token-secs" => token_secs = v.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
        i += 2;
    }
    let text = match &config_path {
        Some(p) => std::fs::read_to_string(p).unwrap_or_else(|e| {
            eprintln!("tillit-emulator: cannot read {p}: {e}");
            std::process::exit(2)
        }),
        None => include_str!("../default-config.json").to_string(),
    };
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        eprintln!("tillit-emulator: config is not JSON: {e}");
        std::process::exit(2)
    });
    let mut config = Config::from_json(&json).unwrap_or_else(|e| {
        eprintln!("tillit-emulator: {e}");
        std::process::exit(2)
    });
    config.seed = seed;
    config.fault = fault;
    config.patients = patients;
    config.big = big;
    config.nonce_secs = nonce_secs;
    config.token_secs = token_secs;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let state = Emulator::new(config);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| {
                eprintln!("tillit-emulator: cannot listen on 127.0.0.1:{port}: {e}");
                std::process::exit(1)
            });
        let addr = listener.local_addr().expect("bound address");
        println!("tillit-emulator listening on http://{addr}");
        let _ = std::io::stdout().flush();
        let shutdown = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        axum::serve(listener, router(state))
            .with_graceful_shutdown(shutdown)
            .await
            .expect("server");
    });
}
