#![forbid(unsafe_code)]

fn main() {
    std::process::exit(tokend::cli::run());
}
