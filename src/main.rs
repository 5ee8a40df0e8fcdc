use std::process::ExitCode;

fn main() -> ExitCode {
    nxr::cli::main()
}
