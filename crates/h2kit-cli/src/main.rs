//! The `h2kit` command line.

use clap::{Parser, Subcommand};

/// h2kit: an HTTP/2 toolkit.
#[derive(Parser, Debug)]
#[command(name = "h2kit", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {}

fn main() {
    let cli = Cli::parse();
    match cli.command {}
}
