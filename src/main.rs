//! The `common-grounds` binary: parse the command line and hand over to `cli`.

fn main() -> std::process::ExitCode {
    common_grounds::cli::main()
}
