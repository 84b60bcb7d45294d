//! `tillit-collector --port PORT --db sqlite:PATH|postgres://… [--issuer URL]…
//!   [--citizen-issuer URL]… [--audience A] [--public-url URL] [--host ADDR]
//!   [--volume-threshold N] [--citizen-pid-claim C] [--citizen-represented-claim C]
//!   [--allow-origin ORIGIN]…`
//!
//! Prints one line with its base URL when ready; on SIGTERM or Ctrl-C stops taking
//! connections and finishes the requests (batches) in flight before it exits.

use std::io::Write;
use std::sync::Arc;
use tillit_collector::auth::{CitizenClaims, Issuer, Replay, AUDIENCE};
use tillit_collector::http::{log, router, App};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || -> ! {
        eprintln!("usage: tillit-collector --port PORT --db sqlite:PATH|postgres://… [--issuer URL]… [--citizen-issuer URL]… [--audience A] [--public-url URL] [--host ADDR] [--volume-threshold N] [--citizen-pid-claim C] [--citizen-represented-claim C] [--allow-origin ORIGIN]…");
        std::process::exit(2)
    };
    let (mut port, mut db, mut host) = (None::<u16>, None::<String>, "127.0.0.1".to_string());
    let (mut issuers, mut citizen_issuers) = (Vec::new(), Vec::new());
    let mut audience = AUDIENCE.to_string();
    let mut public_url = None;
    let mut volume_threshold = 50u64;
    let mut claims = CitizenClaims::default();
    let mut allowed_origins: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_else(|| usage());
        match args[i].as_str() {
            "--port" => port = Some(v.parse().unwrap_or_else(|_| usage())),
            "--db" => db = Some(v),
            "--host" => host = v,
            "--issuer" => issuers.push(v),
            "--allow-origin" => allowed_origins.push(v.trim_end_matches('/').to_string()),
            "--citizen-issuer" => citizen_issuers.push(v),
            "--audience" => audience = v,
            "--public-url" => public_url = Some(v.trim_end_matches('/').to_string()),
            "--volume-threshold" => volume_threshold = v.parse().unwrap_or_else(|_| usage()),
            "--citizen-pid-claim" => claims.pid = v,
            "--citizen-represented-claim" => claims.represented = v,
            _ => usage(),
        }
        i += 2;
    }
    let (Some(port), Some(db)) = (port, db) else {
        usage()
    };
    let fail = |what: &str, e: String| -> ! {
        log("error", what, serde_json::json!({ "error": e }));
        std::process::exit(1)
    };
    let store =
        tillit_collector::open_store(&db).unwrap_or_else(|e| fail("cannot open the database", e.0));
    let discover = |urls: &[String]| -> Vec<Arc<Issuer>> {
        urls.iter()
            .map(|u| {
                Arc::new(Issuer::discover(u).unwrap_or_else(|e| fail("cannot read the issuer", e)))
            })
            .collect()
    };
    let issuers = discover(&issuers);
    let citizen_issuers = discover(&citizen_issuers);
    if issuers.is_empty() {
        log(
            "warn",
            "no --issuer: every route but /health refuses",
            serde_json::json!({}),
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // The app comes back out of the runtime: PostgreSQL's blocking client owns a runtime of
    // its own, which must not be dropped inside this one.
    let app = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind((host.as_str(), port))
            .await
            .unwrap_or_else(|e| fail("cannot listen", format!("{host}:{port}: {e}")));
        let addr = listener.local_addr().expect("bound address");
        let public_url = public_url.unwrap_or_else(|| format!("http://{addr}"));
        let app = Arc::new(App {
            store,
            issuers,
            citizen_issuers,
            citizen_claims: claims,
            audience,
            public_url,
            volume_threshold,
            replay: Replay::default(),
            allowed_origins,
        });
        println!("tillit-collector listening on http://{addr}");
        let _ = std::io::stdout().flush();
        let shutdown = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            log(
                "info",
                "shutting down: finishing the requests in flight",
                serde_json::json!({}),
            );
        };
        axum::serve(listener, router(app.clone()))
            .with_graceful_shutdown(shutdown)
            .await
            .expect("server");
        app
    });
    drop(rt);
    drop(app);
    log("info", "stopped", serde_json::json!({}));
}
