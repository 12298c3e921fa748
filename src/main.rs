//! The `cutlist` command line: parse the arguments, set up logging and the runtime, and
//! dispatch to one module of `cutlist::command` per command.

use clap::{Parser, Subcommand};
use cutlist::command::{self, job, plan, probe, render, validate};
use cutlist::error::{exit, Error};
use cutlist::report::{self, LogFormat};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cutlist",
    version,
    about = "Turns a JSON video timeline into a finished MP4 with FFmpeg, inside a proven memory budget"
)]
struct Cli {
    /// Log format; default: text on a terminal, JSON lines otherwise.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Render(render::RenderArgs),
    Validate(validate::ValidateArgs),
    Probe(probe::ProbeArgs),
    Job(job::JobArgs),
    Plan(plan::PlanArgs),
    /// Print the JSON Schema of the spec.
    Schema,
    Demo(render::DemoArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { exit::OK });
        }
    };
    report::init(cli.log_format.unwrap_or_else(LogFormat::auto));
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return command::fail(&Error::Internal(format!("cannot start the runtime: {e}")), None, None),
    };
    rt.block_on(async move {
        match cli.command {
            Command::Render(args) => render::render(args).await,
            Command::Validate(args) => validate::run(args).await,
            Command::Probe(args) => probe::run(args).await,
            Command::Job(args) => job::run(args).await,
            Command::Plan(args) => plan::plan(args).await,
            Command::Schema => command::print_json(&cutlist::spec::json_schema()),
            Command::Demo(args) => render::demo(args).await,
        }
    })
}
