//! `regain serve`: the HTTP service, until SIGINT or SIGTERM.

use std::net::SocketAddr;

use anyhow::Context;
use regain_app::config::Config;
use tokio::net::{TcpListener, TcpSocket};

use crate::runtime;

pub async fn run(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    runtime::create_private_dir(&config.data_dir)?;
    // Held for the process's life on the embedded database: `regain
    // restore` refuses while it is. (PostgreSQL servers may share a folder.)
    let _lock = if config.database_url.is_empty() {
        Some(super::backup::lock_data_dir(&config)?)
    } else {
        None
    };
    let app = runtime::open_app(config).await?;
    let store = app.store.clone();
    let listener = listen_on(listen).with_context(|| format!("listening on {listen}"))?;
    let signal = shutdown_signal()?;
    tracing::info!(
        address = %listener.local_addr()?,
        public_url = %app.config.effective_public_url(),
        backend = ?store.backend(),
        hashing_workers = app.hasher.workers(),
        "regain is serving"
    );
    let housekeeping = tokio::spawn(purge_periodically(app.clone()));
    let metrics = match app.config.metrics_listen {
        Some(addr) => {
            let listener =
                listen_on(addr).with_context(|| format!("listening for metrics on {addr}"))?;
            tracing::info!(address = %listener.local_addr()?, "metrics are served");
            let router = regain_http::metrics_router(app.clone());
            Some(tokio::spawn(async move {
                let _ = axum_serve(listener, router).await;
            }))
        }
        None => None,
    };
    let (stop_delivery, delivery_stopped) = tokio::sync::oneshot::channel::<()>();
    let delivery = tokio::spawn(app.delivery_worker()?.run(async {
        let _ = delivery_stopped.await;
    }));
    // On a signal: /readyz turns 503, the listener closes after the drain
    // delay, and in-flight requests get a bounded time to finish.
    let signalled = std::sync::Arc::new(tokio::sync::Notify::new());
    let draining = app.draining.clone();
    let shutdown = app.config.shutdown;
    let notify = signalled.clone();
    let stop_accepting = async move {
        signal.await;
        draining.store(true, std::sync::atomic::Ordering::SeqCst);
        notify.notify_waiters();
        tokio::time::sleep(std::time::Duration::from_secs(shutdown.drain_seconds)).await;
        tracing::info!("listener closed; finishing requests in flight");
    };
    let serving = regain_http::serve(listener, app, stop_accepting);
    let deadline = async {
        signalled.notified().await;
        tokio::time::sleep(std::time::Duration::from_secs(
            shutdown.drain_seconds + shutdown.timeout_seconds,
        ))
        .await;
    };
    tokio::select! {
        result = serving => result?,
        () = deadline => tracing::warn!("requests still in flight after the shutdown timeout were cut"),
    }
    housekeeping.abort();
    if let Some(m) = metrics {
        m.abort();
    }
    // Let the worker finish the message in hand; the rest stays queued.
    let _ = stop_delivery.send(());
    let _ = delivery.await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Deletes expired throttle counters and CAPTCHA challenges every ten
/// minutes, so spraying random identifiers cannot grow the tables forever.
async fn purge_periodically(app: regain_app::App) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        match app.store.purge_expired(app.clock.now()).await {
            Ok(n) => tracing::debug!(rows = n, "purged expired rows"),
            Err(e) => tracing::warn!(error = ?e, "purging expired rows failed"),
        }
    }
}

async fn axum_serve(listener: TcpListener, router: regain_http::Router) -> std::io::Result<()> {
    regain_http::serve_router(listener, router).await
}

/// Takes over SIGINT and SIGTERM now, and returns what waits for the
/// first of them. Called before the server announces itself: a signal
/// handler that is only installed when the shutdown future is first polled
/// (on a task of axum's, some time later) leaves a window in which a
/// service manager's SIGTERM meets the default action and kills the
/// process, log lines in flight and messages in hand with it.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let stopped = {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate()).context("handling SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("handling SIGINT")?;
        async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
        }
    };
    #[cfg(not(unix))]
    let stopped = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    Ok(async move {
        stopped.await;
        tracing::info!("shutting down: /readyz now answers 503");
    })
}

/// Connections the kernel may hold for the server before it accepts them:
/// as many as it allows (`net.core.somaxconn`, 4,096 by default on Linux;
/// a larger request is cut to that). tokio's `TcpListener::bind` asks for
/// 1,024, and the benchmark's flood of 1,000 logins opened at once filled
/// that queue: the kernel dropped the connections past it, a `/healthz`
/// probe among them, and each waited for its client's retransmission a
/// second later.
const LISTEN_BACKLOG: u32 = 65_535;

/// A listening socket on `addr` with the deepest accept queue the kernel
/// allows (see [`LISTEN_BACKLOG`]).
fn listen_on(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does: a restart may bind while the last
    // run's connections linger in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::listen_on;

    /// The kernel's cap on a listen queue, where it says.
    fn somaxconn() -> Option<usize> {
        std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    #[tokio::test]
    async fn more_connections_than_tokios_default_queue_wait_to_be_accepted() {
        // Past tokio's own 1,024, within what the kernel allows.
        let cap = somaxconn().unwrap_or(4096);
        let wanted = 1_500.min(cap.saturating_sub(1));
        assert!(
            wanted > 1_100,
            "net.core.somaxconn is {cap}: too small to tell a deep queue from tokio's"
        );
        let listener = listen_on("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        // Nothing accepts: every connection waits in the queue. One the
        // queue has no room for is dropped by the kernel and its connect
        // waits for a retransmission, a second or more.
        let mut open = Vec::with_capacity(wanted);
        for n in 0..wanted {
            let connected = tokio::time::timeout(
                Duration::from_millis(500),
                tokio::net::TcpStream::connect(addr),
            )
            .await;
            match connected {
                Ok(Ok(stream)) => open.push(stream),
                other => panic!("connection {n} of {wanted} not taken in: {other:?}"),
            }
        }
        // And each is there to accept.
        for _ in 0..wanted {
            tokio::time::timeout(Duration::from_secs(5), listener.accept())
                .await
                .expect("queued connection")
                .unwrap();
        }
    }
}
