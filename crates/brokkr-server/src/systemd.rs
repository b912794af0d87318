//! systemd's notify protocol, for `Type=notify` units (packaging/brokkr.service): READY=1 once
//! every listener listens and the saved state is loaded, RELOADING=1 ... READY=1 around a
//! SIGHUP reload, STOPPING=1 at shutdown, and WATCHDOG=1 every half `WatchdogSec=` when the
//! unit sets one (sent from worker 0's event loop, so a stuck loop stops the pings). Without
//! `NOTIFY_SOCKET` in the environment every call does nothing.

use sd_notify::NotifyState;

/// Start-up is finished.
pub(crate) fn ready() {
    let _ = sd_notify::notify(&[NotifyState::Ready]);
}

/// A reload begins (systemd 253+ wants the monotonic time with it).
pub(crate) fn reloading() {
    let _ = match NotifyState::monotonic_usec_now() {
        Ok(now) => sd_notify::notify(&[NotifyState::Reloading, now]),
        Err(_) => sd_notify::notify(&[NotifyState::Reloading]),
    };
}

/// Shutdown begins.
pub(crate) fn stopping() {
    let _ = sd_notify::notify(&[NotifyState::Stopping]);
}

/// Ping the watchdog at half its interval, forever (does nothing without `WatchdogSec=`).
pub(crate) async fn watchdog() {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    loop {
        tokio::time::sleep(interval / 2).await;
        let _ = sd_notify::notify(&[NotifyState::Watchdog]);
    }
}
