//! The `regain` binary: runs the service and gives operators its admin
//! commands. Each subcommand lives in `commands/`.

mod commands;
mod log_writer;
mod runtime;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc, asked through its fast path (see [`regain_allocator`]).
#[global_allocator]
static ALLOCATOR: regain_allocator::Allocator = regain_allocator::Allocator;

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
