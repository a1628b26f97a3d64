//! `roster`: the SCIM 2.0 provisioning server and its command line.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = roster::cli::Cli::parse();
    match roster::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
