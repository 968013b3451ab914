//! `switchboard`: the local service and its helpers. Parses flags, sets up logging,
//! prints the banner, and waits for Ctrl-C; everything else is in the library.

use std::process::ExitCode;

use clap::Parser;
use switchboard::config::Environment;
use switchboard_local::cli::{Cli, Command, DevArgs, TokenArgs};
use switchboard_local::dev::{self, DevOptions, RunningServer};
use switchboard_local::publish::PublishArgs;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Dev(args) => run_dev(args).await,
        Command::Token(args) => print_token(&args),
        Command::Publish(args) => publish(&args).await,
    }
}

async fn run_dev(args: DevArgs) -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .compact()
        .init();

    let options = match args.options(&Environment).await {
        Ok(options) => options,
        Err(e) => return fail(&e),
    };
    let dev_secret = options.uses_dev_secret();
    let server = match dev::start(options.clone()).await {
        Ok(server) => server,
        Err(e) => return fail(&e),
    };
    banner(&server, &options, dev_secret);

    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::error!(error = %e, "cannot wait for Ctrl-C");
    }
    eprintln!("\nshutting down: closing sockets, running $disconnect, draining the worker…");
    tokio::spawn(async {
        // A second Ctrl-C gives up on a clean shutdown.
        let _ = tokio::signal::ctrl_c().await;
        std::process::exit(130);
    });
    server.shutdown().await;
    ExitCode::SUCCESS
}

/// Prints where to connect. Written with `writeln!`, not `println!`: a reader that goes
/// away after the banner (`switchboard dev | head`) must not take the server down.
fn banner(server: &RunningServer, options: &DevOptions, dev_secret: bool) {
    use std::fmt::Write as _;

    let mut text = String::new();
    let tokens = if dev_secret {
        format!(
            "HS256 with the public development secret {:?}; set JWT_SECRET to use your own",
            dev::DEV_SECRET
        )
    } else {
        "checked with your JWT configuration".to_owned()
    };
    let _ = writeln!(text, "Switchboard is running locally.");
    let _ = writeln!(text, "  WebSocket       {}", server.websocket_url);
    let _ = writeln!(
        text,
        "  Management API  {}/@connections/{{connectionId}}",
        server.management_url
    );
    let _ = writeln!(
        text,
        "  SQS endpoint    {} (SendMessage, SendMessageBatch)",
        server.sqs_queue_url
    );
    let _ = writeln!(text, "  Store           {}", server.store_description);
    let _ = writeln!(text, "  Queue           {}", server.queue_description);
    let _ = writeln!(text, "  Tokens          {tokens}");
    let _ = writeln!(
        text,
        "  Get a token     cargo run -q --release -p switchboard-local -- \
         token --user alice --tenant acme"
    );
    let _ = writeln!(
        text,
        "  Limits          auth {}s, idle {}s, max {}s, throttle {}/s burst {}",
        options.session.auth_timeout.as_secs(),
        options.session.idle_timeout.as_secs(),
        options.max_duration.as_secs(),
        options.throttle.rate,
        options.throttle.burst
    );
    let _ = writeln!(text, "Ctrl-C stops.");

    let mut out = std::io::stdout().lock();
    let _ = std::io::Write::write_all(&mut out, text.as_bytes())
        .and_then(|()| std::io::Write::flush(&mut out));
}

fn print_token(args: &TokenArgs) -> ExitCode {
    let now = chrono::Utc::now().timestamp();
    match args.mint(&Environment, now) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn fail(error: &dyn std::error::Error) -> ExitCode {
    eprintln!("error: {}", switchboard::queue::error_chain(error));
    ExitCode::from(2)
}

async fn publish(args: &PublishArgs) -> ExitCode {
    match args.run(&Environment, std::io::stdin().lock()).await {
        Ok(message_id) => {
            println!("{message_id}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("switchboard publish: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
