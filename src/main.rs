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
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_target(false)
        .init();
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn run(options: &Options) -> Result<(), Error> {
    if options.debug && !cfg!(feature = "debug") {
        return Err(Error::Usage(
            "-d: this build has no lwIP debug support; rebuild with `cargo build --features debug`"
                .into(),
        ));
    }
    let signals = Signals::install()?;
    let mut stack = Stack::new()?;
    for spec in &options.interfaces {
        stack.add_interface(spec)?;
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
