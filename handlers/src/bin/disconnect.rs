//! The `$disconnect` Lambda: start-up in [`switchboard_handlers::lambda`], logic in the library.

use std::process::ExitCode;

use switchboard_handlers::lambda::{self, Route};

#[tokio::main]
async fn main() -> ExitCode {
    match lambda::run(Route::Disconnect).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line naming the fault (the variable, for configuration), then exit.
            eprintln!("switchboard-disconnect: {e}");
            ExitCode::FAILURE
        }
    }
}
