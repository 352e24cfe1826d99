//! The `callq` command line: `serve` (default), `migrate`, `check-config`,
//! `prune`, `explain FILE`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use callq::app::Server;
use callq::config::{self, ConfigError, DEFAULT_CONFIG_PATH};
use callq::store::{Store, StoreOptions, redact_url};

/// Exit code for a configuration that cannot be used.
const EXIT_CONFIG: u8 = 2;

#[derive(Parser)]
#[command(
    name = "callq",
    version,
    about = "Call-quality ingestion server (UCWA, Microsoft Graph, Plivo)"
)]
struct Cli {
    /// TOML configuration file [default: callq-data/callq.toml, generated on first start]
    #[arg(long, global = true, env = "CALLQ_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP (the default)
    Serve,
    /// Apply database migrations and exit
    Migrate,
    /// Validate the configuration and exit (2 when it is unusable)
    CheckConfig,
    /// Remove reports older than the retention (`retention_days`, per tenant
    /// too) now, and print what was removed
    Prune {
        /// Print what would be removed, remove nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Explain a saved request (an HTTP message file) offline: what callq
    /// would make of it, field by field, and what it would answer. Opens no
    /// database and stores nothing.
    Explain {
        /// The request: request line, headers, an empty line, the body
        /// (as in tests/data/seeds/*.http); `-` reads standard input
        file: PathBuf,
        /// Take the file's credentials as this tenant's instead of checking
        /// them against the configured tenants
        #[arg(long)]
        tenant: Option<String>,
        /// Print the explanation as POST /api/v1/explain answers it
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("callq: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(cli));
    // Whatever is still running (a cut connection's task, a blocking
    // decode) must not hold the exit past the shutdown deadline.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    code
}

async fn run(cli: Cli) -> ExitCode {
    let command = cli.command.unwrap_or(Command::Serve);
    // First thing: from here on a SIGTERM/SIGINT is recorded, whatever
    // the server is doing (starting, migrating, serving).
    let stop = matches!(command, Command::Serve).then(callq::shutdown::on_signal);
    // First start with no configuration at all: generate one with credentials.
    let mut first_run = None;
    if matches!(command, Command::Serve)
        && cli.config.is_none()
        && !std::path::Path::new(DEFAULT_CONFIG_PATH).exists()
    {
        match config::generate_first_run(DEFAULT_CONFIG_PATH.as_ref()) {
            Ok(creds) => first_run = Some(creds),
            Err(e) => return config_failure(&e),
        }
    }
    let loaded = match config::load(cli.config.as_deref()) {
        Ok(l) => l,
        Err(e) => return config_failure(&e),
    };
    let settings = loaded.settings;
    if let Command::Explain { file, tenant, json } = &command {
        return explain(file, &settings, tenant.as_deref(), *json).await;
    }
    callq::telemetry::init_tracing(settings.log_format);
    if let Some(path) = &loaded.path {
        guard_config_file(path);
    }
    match command {
        Command::CheckConfig => {
            println!(
                "configuration OK: {} tenant(s), listen {}, database {}{}{}",
                settings.tenants.len(),
                settings.listen,
                redact_url(settings.database_url()),
                settings
                    .read_database_url
                    .as_deref()
                    .map(|url| format!(", read database {}", redact_url(url)))
                    .unwrap_or_default(),
                loaded
                    .path
                    .map(|p| format!(", file {}", p.display()))
                    .unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Command::Migrate => {
            let store = match Store::open(settings.database_url(), &StoreOptions::default()) {
                Ok(s) => s,
                Err(e) => {
                    return config_failure(&ConfigError::Invalid(format!(
                        "key `database_url`: {e}"
                    )));
                }
            };
            match store.migrate().await {
                Ok(()) => {
                    println!(
                        "migrations applied to {}",
                        redact_url(settings.database_url())
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!(
                        "callq: cannot migrate {}: {e}",
                        redact_url(settings.database_url())
                    );
                    ExitCode::FAILURE
                }
            }
        }
        Command::Prune { dry_run } => {
            let store = match Store::open(settings.database_url(), &StoreOptions::default()) {
                Ok(s) => s,
                Err(e) => {
                    return config_failure(&ConfigError::Invalid(format!(
                        "key `database_url`: {e}"
                    )));
                }
            };
            let outcome = callq::maintenance::prune(&store, &settings, dry_run).await;
            store.close().await;
            match outcome {
                Ok(pruned) => {
                    print!(
                        "{}",
                        callq::maintenance::summary(&settings, &pruned, dry_run)
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!(
                        "callq: cannot prune {}: {e}",
                        redact_url(settings.database_url())
                    );
                    ExitCode::FAILURE
                }
            }
        }
        Command::Explain { .. } => unreachable!("handled before logging starts"),
        Command::Serve => {
            if settings.tenants.is_empty() {
                tracing::warn!(
                    "no tenants configured: every ingest request will be refused with 401"
                );
            }
            let listen = settings.listen;
            let database = redact_url(settings.database_url());
            let stop = stop.unwrap_or_else(callq::shutdown::on_signal);
            // A signal during start (say, while waiting for the database)
            // stops the process too, instead of being noticed only later.
            let started = tokio::select! {
                started = Server::start(settings) => started,
                _ = stop.cancelled() => {
                    tracing::info!("stopped before the server was up");
                    return ExitCode::SUCCESS;
                }
            };
            let server = match started {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("callq: cannot start (database {database}): {e}");
                    return ExitCode::FAILURE;
                }
            };
            if let Some(creds) = first_run {
                let addr = if listen.port() == 0 {
                    server.addr()
                } else {
                    listen
                };
                println!("{}", creds.banner(addr, DEFAULT_CONFIG_PATH.as_ref()));
            }
            if server.run_until(stop).await.complete() {
                ExitCode::SUCCESS
            } else {
                // The shutdown deadline cut open requests (none had been
                // answered 2xx); tell the supervisor the drain was not clean.
                ExitCode::FAILURE
            }
        }
    }
}

/// `callq explain FILE`: the table (or the JSON) on stdout, the reason on
/// stderr when the file cannot be explained (1). No logging is set up, so
/// stdout holds only the explanation.
async fn explain(
    file: &std::path::Path,
    settings: &callq::config::Settings,
    tenant: Option<&str>,
    json: bool,
) -> ExitCode {
    let (prepared, explanation) =
        match callq::explain_file::explain_file(file, settings, tenant).await {
            Ok(explained) => explained,
            Err(e) => {
                eprintln!("callq: cannot explain {e}");
                return ExitCode::FAILURE;
            }
        };
    let shown = if json {
        for note in &prepared.notes {
            eprintln!("callq: reading {}, {note}", file.display());
        }
        match serde_json::to_string_pretty(&explanation) {
            Ok(text) => text + "\n",
            Err(e) => {
                eprintln!("callq: cannot write the explanation: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        callq::explain_file::render(&prepared, &explanation, tenant)
    };
    // Written, not printed: a reader that stops early (`| head`) is no
    // reason to panic.
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(shown.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("callq: cannot write the explanation: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The configuration holds digests of every credential and may hold the
/// database password: callq's own file (in `callq-data/`) is made 0600, an
/// operator's file elsewhere is only warned about (see `callq::files`).
fn guard_config_file(path: &std::path::Path) {
    if path == std::path::Path::new(DEFAULT_CONFIG_PATH) {
        let dir = std::path::Path::new(config::DATA_DIR);
        if let Err(e) = callq::files::private_dir(dir, true) {
            tracing::warn!(path = %dir.display(), error = %e, "cannot make the data directory 0700");
        }
        if let Err(e) = callq::files::tighten_file(path) {
            tracing::warn!(path = %path.display(), error = %e, "cannot make the configuration file 0600");
        }
    } else {
        callq::files::warn_if_shared(path, "configuration file");
    }
}

fn config_failure(e: &ConfigError) -> ExitCode {
    eprintln!("callq: {e}");
    ExitCode::from(EXIT_CONFIG)
}
