//! A throwaway PostgreSQL for tests and benchmarks.
//!
//! With `CALLQ_TEST_DATABASE_URL` set, tests use that server (each test still
//! gets its own database). Otherwise one cluster per test binary is created
//! with the installed server binaries (initdb, pg_ctl), on a free loopback
//! port, run as the `postgres` user when we are root. A watchdog process stops
//! it and deletes its files when the test binary exits. Without binaries the
//! harness fails loudly: tests never skip silently.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// One PostgreSQL cluster on loopback.
pub struct PgCluster {
    pub port: u16,
    pub data_dir: PathBuf,
    bin_dir: PathBuf,
    as_postgres: bool,
}

const INSTALL_HINT: &str = "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found. \
Install them (Debian/Ubuntu: `apt-get install postgresql`), put their directory on PATH or in \
CALLQ_PG_BIN, or point CALLQ_TEST_DATABASE_URL at a PostgreSQL server you own.";

fn find_bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CALLQ_PG_BIN") {
        return PathBuf::from(dir);
    }
    if let Ok(path) = std::env::var("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                return dir;
            }
        }
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").is_file())
        .collect();
    candidates.sort();
    candidates.pop().unwrap_or_else(|| panic!("{INSTALL_HINT}"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl PgCluster {
    /// Creates and starts a new cluster. `durable: false` turns fsync off,
    /// which is fine for tests; benchmarks keep it on.
    pub fn start_new(durable: bool) -> PgCluster {
        Self::start_with(durable, false)
    }

    /// A cluster that also accepts TLS, with a fresh self-signed certificate
    /// (made with the `openssl` command line tool).
    pub fn start_new_with_tls() -> PgCluster {
        Self::start_with(false, true)
    }

    fn start_with(durable: bool, tls: bool) -> PgCluster {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let bin_dir = find_bin_dir();
        let as_postgres = is_root();
        let data_dir = std::env::temp_dir().join(format!(
            "callq-pg-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir).expect("create the cluster directory");
        if as_postgres {
            run(
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&data_dir),
                "chown",
            );
        }
        let cluster = PgCluster {
            port: free_port(),
            data_dir,
            bin_dir,
            as_postgres,
        };
        let initdb = cluster.bin("initdb");
        run(
            cluster
                .command(&initdb)
                .arg("-D")
                .arg(&cluster.data_dir)
                .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]),
            "initdb",
        );
        let mut settings = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\nmax_connections = 300\nshared_buffers = 128MB\n",
            cluster.port,
            cluster.data_dir.display()
        );
        if !durable {
            settings.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        if tls {
            cluster.make_certificate();
            settings
                .push_str("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        }
        let conf = cluster.data_dir.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("read postgresql.conf");
        text.push_str(&settings);
        std::fs::write(&conf, text).expect("write postgresql.conf");
        cluster.start();
        cluster.spawn_watchdog();
        cluster
    }

    /// A self-signed certificate and its key in the data directory, owned by
    /// the server's user with the mode PostgreSQL demands of a key (0600).
    fn make_certificate(&self) {
        let (crt, key) = (
            self.data_dir.join("server.crt"),
            self.data_dir.join("server.key"),
        );
        run(
            Command::new("openssl")
                .args([
                    "req",
                    "-new",
                    "-x509",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=127.0.0.1",
                ])
                .args(["-newkey", "rsa:2048", "-keyout"])
                .arg(&key)
                .arg("-out")
                .arg(&crt),
            "openssl req (install the openssl package)",
        );
        run(Command::new("chmod").arg("600").arg(&key), "chmod");
        if self.as_postgres {
            run(
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&crt)
                    .arg(&key),
                "chown",
            );
        }
    }

    fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    fn command(&self, program: &Path) -> Command {
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&self) {
        let pg_ctl = self.bin("pg_ctl");
        run(
            self.command(&pg_ctl)
                .arg("-D")
                .arg(&self.data_dir)
                .arg("-l")
                .arg(self.data_dir.join("server.log"))
                .args(["-w", "-t", "60", "start"]),
            "pg_ctl start",
        );
    }

    /// Stops the server at once, as a crash would (no checkpoint).
    pub fn stop_immediately(&self) {
        let pg_ctl = self.bin("pg_ctl");
        run(
            self.command(&pg_ctl).arg("-D").arg(&self.data_dir).args([
                "-m",
                "immediate",
                "-w",
                "stop",
            ]),
            "pg_ctl stop",
        );
    }

    /// Stops the cluster and deletes its files when this process exits, even
    /// if it panics or is killed. The watchdog must outlive us, so it is
    /// deliberately never waited for.
    #[allow(clippy::zombie_processes)]
    fn spawn_watchdog(&self) {
        let pg_ctl = self.bin("pg_ctl");
        let stop = if self.as_postgres {
            format!(
                "runuser -u postgres -- {} -D {} -m immediate stop",
                pg_ctl.display(),
                self.data_dir.display()
            )
        } else {
            format!(
                "{} -D {} -m immediate stop",
                pg_ctl.display(),
                self.data_dir.display()
            )
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            dir = self.data_dir.display()
        );
        Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .or_else(|_| {
                Command::new("sh")
                    .args(["-c", &script])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
            })
            .expect("spawn the cluster watchdog");
    }

    /// A hot standby of this cluster on its own port, streaming from it:
    /// replication from loopback allowed in this cluster's `pg_hba.conf`
    /// (and reloaded), then `pg_basebackup -R` (which writes
    /// `standby.signal` and `primary_conninfo`) into a new directory, then
    /// started. Stopped and deleted at exit like any cluster here.
    pub fn start_standby(&self) -> PgCluster {
        let hba = self.data_dir.join("pg_hba.conf");
        let mut text = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
        text.push_str("\nhost replication all 127.0.0.1/32 trust\n");
        std::fs::write(&hba, text).expect("write pg_hba.conf");
        run(
            self.command(&self.bin("pg_ctl"))
                .arg("-D")
                .arg(&self.data_dir)
                .arg("reload"),
            "pg_ctl reload",
        );
        let standby = PgCluster {
            port: free_port(),
            data_dir: self.data_dir.with_file_name(format!(
                "{}-standby",
                self.data_dir.file_name().unwrap().to_string_lossy()
            )),
            bin_dir: self.bin_dir.clone(),
            as_postgres: self.as_postgres,
        };
        let _ = std::fs::remove_dir_all(&standby.data_dir);
        run(
            standby
                .command(&self.client_tool("pg_basebackup"))
                .arg("-D")
                .arg(&standby.data_dir)
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", "postgres", "-R", "-X", "stream", "-c", "fast"])
                .arg("--no-sync"),
            "pg_basebackup",
        );
        // Later lines win: the standby's own port and socket directory.
        let conf = standby.data_dir.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("read postgresql.conf");
        text.push_str(&format!(
            "\nport = {}\nunix_socket_directories = '{}'\nhot_standby = on\n",
            standby.port,
            standby.data_dir.display()
        ));
        std::fs::write(&conf, text).expect("write postgresql.conf");
        standby.start();
        standby.spawn_watchdog();
        standby
    }

    /// A client program of the same installation as the server binaries:
    /// beside them, or beside what `initdb` links to (a PATH directory may
    /// hold links to the server binaries only).
    fn client_tool(&self, name: &str) -> PathBuf {
        let beside = self.bin(name);
        if beside.is_file() {
            return beside;
        }
        std::fs::canonicalize(self.bin("initdb"))
            .ok()
            .and_then(|initdb| Some(initdb.parent()?.join(name)))
            .filter(|p| p.is_file())
            .unwrap_or(beside)
    }

    /// The postmaster's process id (first line of `postmaster.pid`): the
    /// ingest bench reads the cluster's CPU from it and its children.
    pub fn postmaster_pid(&self) -> u32 {
        let path = self.data_dir.join("postmaster.pid");
        std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.lines().next()?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no process id in {}", path.display()))
    }

    /// URL of database `db` on this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what} could not run ({e}). {INSTALL_HINT}"));
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The server all tests of this binary share: `CALLQ_TEST_DATABASE_URL`, or
/// a cluster started on first use. Returns a URL of a database to connect
/// to for administration (creating the per-test databases).
pub fn admin_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    static CLUSTER: OnceLock<PgCluster> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("CALLQ_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => CLUSTER
            .get_or_init(|| PgCluster::start_new(false))
            .url("postgres"),
    })
}

/// A new, empty database on the shared server, for one test.
pub async fn fresh_database() -> String {
    use sqlx::Connection;
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let admin = admin_url();
    let name = format!(
        "callq_test_{}_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        uuid::Uuid::new_v4().simple()
    );
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL at {admin}: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create the test database");
    let _ = conn.close().await;
    // Replace the database name in the admin URL.
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin, String::new()),
    };
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    format!("{base}/{name}{query}")
}
