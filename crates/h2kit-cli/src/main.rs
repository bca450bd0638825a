//! The `h2kit` command line.

mod cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// h2kit: an HTTP/2 toolkit.
#[derive(Parser, Debug)]
#[command(name = "h2kit", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run an HTTP/2 server and client on this machine and show what HTTP/2 does.
    Demo(cmd::demo::DemoArgs),
    /// Fetch a URL over HTTP/2 (curl/nghttp habits; see --help for exit codes).
    Get(Box<cmd::get::GetArgs>),
    /// HPACK tools for hpack-test-case JSON stories.
    #[command(subcommand)]
    Hpack(HpackCommand),
    /// Serve a directory over HTTP/2 (TLS with a self-signed certificate by default).
    Serve(cmd::serve::ServeArgs),
}

#[derive(Subcommand, Debug)]
enum HpackCommand {
    /// Decode every case's "wire" and print the story with the decoded headers.
    Inflate {
        /// The story file (stdin when absent).
        file: Option<PathBuf>,
    },
    /// Encode every case's "headers" with one encoder and print the story with "wire".
    Deflate {
        /// The story file (stdin when absent).
        file: Option<PathBuf>,
        /// The dynamic table size (the peer's SETTINGS_HEADER_TABLE_SIZE).
        #[arg(long, default_value_t = 4096)]
        table_size: usize,
        /// When to Huffman-code strings.
        #[arg(long, value_enum, default_value_t = cmd::hpack::Huffman::Auto)]
        huffman: cmd::hpack::Huffman,
    },
}

/// Logs the library's `tracing` spans and events to stderr when `RUST_LOG` asks for them
/// (`RUST_LOG=h2kit_server=debug`, `RUST_LOG=h2kit::frame=trace` for every frame,
/// `RUST_LOG=trace`, ...); silent otherwise.
fn init_logging() {
    let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Demo(args) => return cmd::demo::run(args),
        Command::Get(args) => return cmd::get::run(*args),
        Command::Serve(args) => return cmd::serve::run(args),
        Command::Hpack(HpackCommand::Inflate { file }) => cmd::hpack::inflate(file.as_ref()),
        Command::Hpack(HpackCommand::Deflate {
            file,
            table_size,
            huffman,
        }) => cmd::hpack::deflate(file.as_ref(), table_size, huffman),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("h2kit: {message}");
            ExitCode::FAILURE
        }
    }
}
