//! Prints `kustomize build DIR` as eddy's engine renders it, for comparing with
//! `kubectl kustomize DIR` by hand: `cargo run -p eddy-kustomize --example build -- DIR`.

use std::path::PathBuf;
use std::process::ExitCode;

use eddy_kustomize::{BuildOptions, LoadRestrictor, build};

fn main() -> ExitCode {
    let mut arguments = std::env::args().skip(1);
    let mut options = BuildOptions::default();
    let mut directory = PathBuf::from(".");
    while let Some(argument) = arguments.next() {
        if argument == "--load-restrictor" {
            if arguments.next().as_deref() == Some("LoadRestrictionsNone") {
                options.load_restrictor = LoadRestrictor::None;
            }
        } else {
            directory = PathBuf::from(argument);
        }
    }
    match build(&directory, &options) {
        Ok(output) => {
            print!("{output}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("Error: {error}");
            ExitCode::FAILURE
        }
    }
}
