//! `passage-auth-server`: a local, Passage-compatible authentication API.

fn main() -> std::process::ExitCode {
    passage_auth_server::main()
}
