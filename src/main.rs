//! Parse the command line, build the stack, run it, exit.

use std::process::ExitCode;

use lwip_tap::apps::{self, Services};
use lwip_tap::cli::{self, Invocation, Options};
use lwip_tap::signals::Signals;
use lwip_tap::stack::Stack;
use lwip_tap::Error;

fn main() -> ExitCode {
    let options = match cli::parse(std::env::args_os()) {
        Ok(Invocation::Run(options)) => options,
        Ok(Invocation::Help(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(e) => return fail(&e),
    };
    init_logging(options.debug);
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// env_logger at info by default (`RUST_LOG` overrides); with `-d`, lwIP's
/// own debug lines (target `lwip`) are shown too, marked `lwip:`.
fn init_logging(debug: bool) {
    use std::io::Write;
    let default = if debug { "info,lwip=debug" } else { "info" };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default))
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
    if options.debug {
        if !cfg!(feature = "debug") {
            return Err(Error::Usage(
                "-d: this build has no lwIP debug support; rebuild with `cargo build --features debug`"
                    .into(),
            ));
        }
        lwip_tap::port::enable_lwip_debug();
    }
    let signals = Signals::install()?;
    let mut stack = Stack::new()?;
    // With one interface nothing is forwarded, so the kernel may hand lwIP
    // 64 KiB segments; a router would have to cut them to the MTU.
    let single = options.interfaces.len() == 1;
    for spec in &options.interfaces {
        stack.add_interface(spec, spec.offload.unwrap_or(single))?;
    }
    apps::enable(Services {
        echo: options.echo,
        chargen: options.chargen,
        http: options.http,
        iperf: options.iperf,
    })?;
    let result = stack.run(&signals);
    if options.stats {
        stack.log_stats();
    }
    result?;
    log::info!("stopping");
    stack.shutdown()
}

fn fail(e: &Error) -> ExitCode {
    eprintln!("lwip-tap: {e}");
    ExitCode::from(e.exit_code() as u8)
}
