//! Parse the command line, build the stack, give up privileges, run it,
//! exit.

use std::process::ExitCode;

mod cli;

use cli::{Invocation, Options};
use lwip_tap::sandbox::Sandbox;
use lwip_tap::signals::Signals;
use lwip_tap::stack::Stack;
use lwip_tap::Error;

fn main() -> ExitCode {
    let mut options = match cli::parse(std::env::args_os()) {
        Ok(Invocation::Run(options)) => options,
        Ok(Invocation::Help(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(e) => return fail(&e),
    };
    // systemd's Type=notify: READY=1 goes there once ready.
    options.config.ready.notify_socket =
        std::env::var_os("NOTIFY_SOCKET").filter(|s| !s.is_empty());
    init_logging(options.log_level, options.config.lwip_debug);
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// env_logger at `level` (`-q`, `-v`, `--log-level`); without one,
/// `RUST_LOG`, else info. With `-d`, lwIP's own debug lines (target `lwip`)
/// are shown too, marked `lwip:`.
fn init_logging(level: Option<log::LevelFilter>, debug: bool) {
    use std::io::Write;
    let lwip = if debug { ",lwip=debug" } else { "" };
    let mut builder = match level {
        Some(level) => {
            let mut builder = env_logger::Builder::new();
            builder.parse_filters(&format!("{level}{lwip}"));
            builder
        }
        None => env_logger::Builder::from_env(
            env_logger::Env::default().default_filter_or(format!("info{lwip}")),
        ),
    };
    builder
        .format(|buf, record| {
            let origin = if record.target() == "lwip" {
                "lwip: "
            } else {
                ""
            };
            writeln!(
                buf,
                "[{} {:<5}] {origin}{}",
                buf.timestamp_millis(),
                record.level(),
                record.args()
            )
        })
        .init();
}

fn run(options: &Options) -> Result<(), Error> {
    let signals = Signals::install()?;
    // Before any device exists: a user that cannot be used leaves nothing.
    let mut sandbox = Sandbox::prepare(&options.sandbox)?;
    let mut stack = Stack::new(&options.config)?;
    // After setup, so that a refusal stays one line on stderr.
    log::info!("{}", lwip_tap::version::summary());
    // Setup is over: no root, no capabilities, few system calls from here
    // (and files beneath the --tftp directory only).
    sandbox.allow_files(stack.file_access());
    sandbox.enter()?;
    let result = stack.run(&signals);
    if options.stats {
        stack.log_stats();
    }
    result?;
    log::info!("stopping");
    stack.shutdown()?;
    // Exit status 1 unless every client (if any) succeeded.
    stack.clients_result()
}

fn fail(e: &Error) -> ExitCode {
    eprintln!("lwip-tap: {e:#}");
    ExitCode::from(e.exit_code() as u8)
}
