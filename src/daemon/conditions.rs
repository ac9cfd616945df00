//! xinetd's per-service conditions on each connection: when the service
//! serves (`access_times`, in local time), how fast (`cps`: past its rate
//! the service refuses everything for a while, its socket kept), and the
//! banners a TCP client is written (`banner` first, then `banner_success`
//! or `banner_fail`). Banner files are read at load; writing one never
//! blocks (what the socket does not take at once is dropped).

use super::*;
use crate::config::{Banners, TimeWindow};

/// The most of a banner file written.
pub(super) const BANNER_MAX: usize = 64 * 1024;

/// A service's banners, as read at load.
#[derive(Clone, Default)]
pub(super) struct LoadedBanners {
    pub(super) every: Option<Rc<[u8]>>,
    pub(super) success: Option<Rc<[u8]>>,
    pub(super) fail: Option<Rc<[u8]>>,
}

/// Which banner.
#[derive(Clone, Copy)]
pub(super) enum Banner {
    Every,
    Success,
    Fail,
}

/// Why a condition refused a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Closed {
    /// Outside `access_times`.
    Hours,
    /// Past `cps`, or still in the wait that follows.
    Rate,
}

/// The local time of day, in minutes after midnight.
pub(super) fn local_minute() -> u16 {
    // SAFETY: localtime_r writes only the struct given.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            return 0;
        }
        (tm.tm_hour * 60 + tm.tm_min) as u16
    }
}

/// Whether `windows` (none: always) hold `minute`.
pub(super) fn open_at(windows: &[TimeWindow], minute: u16) -> bool {
    windows.is_empty() || windows.iter().any(|w| w.contains(minute))
}

impl Daemon {
    /// Reads a service's banner files; one that cannot be read is logged
    /// and left out.
    pub(super) fn load_banners(&mut self, service: &Service) -> Option<Box<LoadedBanners>> {
        let Banners {
            every,
            success,
            fail,
        } = &service.extras.banners;
        let mut read = |path: &Option<PathBuf>| -> Option<Rc<[u8]>> {
            let path = path.as_ref()?;
            match crate::files::read_regular(path) {
                Ok(mut bytes) => {
                    bytes.truncate(BANNER_MAX);
                    Some(bytes.into())
                }
                Err(e) => {
                    self.log.warn(format!(
                        "{}:{}: banner {}: {e}",
                        service.file,
                        service.line,
                        path.display()
                    ));
                    None
                }
            }
        };
        let loaded = LoadedBanners {
            every: read(every),
            success: read(success),
            fail: read(fail),
        };
        (loaded.every.is_some() || loaded.success.is_some() || loaded.fail.is_some())
            .then(|| Box::new(loaded))
    }

    /// Writes one of the service's banners to a fresh connection, as much
    /// as its send buffer takes now.
    pub(super) fn send_banner(&self, slot: usize, stream: &mut Stream, which: Banner) {
        let Some(banners) = self.services[slot]
            .as_ref()
            .and_then(|s| s.banners.as_deref())
        else {
            return;
        };
        let banner = match which {
            Banner::Every => &banners.every,
            Banner::Success => &banners.success,
            Banner::Fail => &banners.fail,
        };
        if let Some(bytes) = banner {
            let _ = stream.write(bytes);
        }
    }

    /// The service's time windows and connection rate, for one more
    /// connection now.
    pub(super) fn conditions_allow(&mut self, slot: usize) -> Result<(), Closed> {
        let now = self.now;
        let Some(served) = self.services[slot].as_mut() else {
            return Ok(());
        };
        // The clock is read only for a service that has windows
        // (localtime_r: some 500 instructions a connection).
        let windows = &served.service.extras.access_times;
        if !windows.is_empty() && !open_at(windows, local_minute()) {
            return Err(Closed::Hours);
        }
        let Some((rate, wait)) = served.service.limits.cps else {
            return Ok(());
        };
        let counted = served.connection_rate.get_or_insert_with(Box::default);
        if counted.refusing_until.is_some_and(|until| now < until) {
            return Err(Closed::Rate);
        }
        counted.refusing_until = None;
        if counted.per_second.allow(now, rate, Duration::from_secs(1)) {
            return Ok(());
        }
        counted.per_second = RateWindow::default();
        counted.refusing_until = Some(now + Duration::from_secs(u64::from(wait)));
        self.log.err(format!(
            "{}: more than {rate} connections in a second: refusing connections for {wait} s",
            served.label
        ));
        Err(Closed::Rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_windows_is_always_open() {
        assert!(open_at(&[], 0) && open_at(&[], 1439));
        let windows = [
            TimeWindow {
                start: 60,
                end: 120,
            },
            TimeWindow {
                start: 1380,
                end: 30,
            },
        ];
        assert!(open_at(&windows, 90) && open_at(&windows, 0) && open_at(&windows, 1400));
        assert!(!open_at(&windows, 45) && !open_at(&windows, 121) && !open_at(&windows, 1379));
    }
}
