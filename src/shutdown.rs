//! Stop signals that cannot be lost.
//!
//! `Notify::notify_waiters` wakes only tasks already waiting, so a SIGTERM
//! that arrived before the server polled its shutdown future was dropped
//! and the process never stopped. A [`CancellationToken`] latches instead:
//! cancelled once, every `cancelled()` from then on is ready at once, and
//! the signal handlers are installed by [`on_signal`] at the start of the
//! process, so a signal that arrives while the server is still starting is
//! kept too.

use tokio_util::sync::CancellationToken;

/// A token cancelled by the first SIGTERM or SIGINT (Ctrl-C) from now on.
/// Must be called inside the runtime.
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // Installed here, synchronously: from this line on a signal is
        // recorded even if nobody is waiting for it yet.
        let terminate = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        tokio::spawn(async move {
            let terminated = async {
                match terminate {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot listen for SIGTERM");
                        std::future::pending::<()>().await;
                    }
                }
            };
            let interrupted = async {
                match interrupt {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot listen for SIGINT");
                        std::future::pending::<()>().await;
                    }
                }
            };
            tokio::select! {
                _ = terminated => tracing::info!("SIGTERM received"),
                _ = interrupted => tracing::info!("SIGINT received"),
            }
            cancel.cancel();
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    });
    token
}
