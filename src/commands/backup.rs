//! `regain backup PATH` and `regain restore PATH` (SQLite). For PostgreSQL,
//! use `pg_dump`; either way keep the secret key with the backup.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;
use regain_app::config::Config;
use regain_store::{Backend, Store};

use crate::runtime;

/// The lock `regain serve` holds on its data folder for its whole life.
pub fn data_lock_path(config: &Config) -> PathBuf {
    config.data_dir.join("regain.lock")
}

/// Takes the data folder's lock for a server; fails if another holds it.
pub fn lock_data_dir(config: &Config) -> anyhow::Result<File> {
    let path = data_lock_path(config);
    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    file.try_lock().map_err(|_| {
        anyhow::anyhow!(
            "another regain process serves {} already",
            config.data_dir.display()
        )
    })?;
    Ok(file)
}

pub async fn backup(config: Config, path: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        !path.exists(),
        "{} exists already; choose a new file",
        path.display()
    );
    // No migration here: a newer binary must not change the schema under
    // an older running server.
    let store = Store::connect(&config.effective_database_url(), 1)
        .await
        .context("connecting to the database")?;
    if store.backend() != Backend::Sqlite {
        anyhow::bail!(
            "this database is PostgreSQL: back it up with pg_dump, and keep the secret key file with it"
        );
    }
    let target = path
        .to_str()
        .context("the backup path must be valid UTF-8")?;
    store
        .backup_sqlite(target)
        .await
        .context("writing the snapshot")?;
    // It holds password hashes and contacts: owner-only, like the database.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    println!("backup written to {}", path.display());
    println!(
        "keep the secret key ({}) with it: without the key, codes and tokens in the backup cannot be checked",
        config.effective_secret_key_file().display()
    );
    Ok(())
}

pub async fn restore(config: Config, path: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(path.is_file(), "{} is not a backup file", path.display());
    anyhow::ensure!(
        config.database_url.is_empty(),
        "restore works for the embedded SQLite database in the data folder; \
         for PostgreSQL use pg_restore, for another SQLite file copy it while the server is stopped"
    );
    runtime::create_private_dir(&config.data_dir)?;
    // Refuse while a server uses this data folder.
    let _lock = lock_data_dir(&config).context("stop the server before restoring")?;
    // Check a copy of the backup against this build before touching the
    // current database.
    let db = config.data_dir.join("regain.db");
    let staging = config.data_dir.join("regain.db.restoring");
    std::fs::copy(path, &staging).with_context(|| format!("copying {}", path.display()))?;
    let staging_url = format!("sqlite://{}?mode=rw", staging.display());
    let checked = async {
        let backup = Store::connect(&staging_url, 1)
            .await
            .context("opening the backup")?;
        let versions = backup
            .schema_versions()
            .await
            .context("reading the backup's schema version");
        backup.close().await;
        versions
    }
    .await;
    let (version, known) = match checked {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&staging);
            return Err(e);
        }
    };
    if version > known {
        let _ = std::fs::remove_file(&staging);
        anyhow::bail!(
            "the backup's schema (version {version}) is newer than this build knows ({known}); use a newer regain"
        );
    }
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        let _ = std::fs::remove_file(format!("{}{suffix}", staging.display()));
    }
    std::fs::rename(&staging, &db)
        .with_context(|| format!("moving the backup to {}", db.display()))?;
    // Bring the schema up to date if the backup is older.
    runtime::open_store(&config).await?;
    println!("restored {} into {}", path.display(), db.display());
    Ok(())
}
