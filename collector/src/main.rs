//! `tillit-collector --port PORT --db sqlite:PATH|postgres://… [--issuer URL]…`

fn main() {
    eprintln!("tillit-collector: the HTTP server is not wired yet");
    std::process::exit(2);
}
