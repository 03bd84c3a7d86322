//! The `regain` binary: runs the service and gives operators its admin
//! commands. Each subcommand lives in `commands/`.

mod commands;
mod runtime;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than glibc's malloc: a request's memory is often freed
/// on another runtime thread than the one that allocated it, and glibc
/// then takes the other thread's arena lock; under load the two runtime
/// threads kept putting each other to sleep there (seen in a scheduler
/// trace of the `challenge` step, BENCHMARKS.md). mimalloc hands such
/// frees back without a lock. It also serves the C code's `malloc` (the
/// crate's `override` feature), that is SQLite's: a reader connection
/// drops its page cache whenever another connection commits and reads
/// the pages again into fresh blocks, and glibc trimmed each thread's
/// arena on the frees and grew it again on the next read, faulting its
/// pages back in (4.5% of the server's samples in the challenge step;
/// 2.1% on mimalloc, with page faults down from 2% to 0.8%).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
