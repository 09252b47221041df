//! Connection limits: a slot per WebSocket, taken *before* the `101`
//! answer (so concurrent upgrades can never overshoot `--max-connections`)
//! and given back when the connection's [`Slot`] drops, however the
//! connection ends. Also the per-address cap (`--max-per-ip`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `--max-connections` sockets are open.
    Full,
    /// `--max-per-ip` sockets are open from this address.
    PerIp,
}

/// The limits of one server.
pub struct Limits {
    /// One permit per allowed connection.
    slots: Arc<Semaphore>,
    /// How many permits there are.
    capacity: usize,
    /// Open connections per client address (only addresses the cap applies
    /// to are counted).
    per_ip: Mutex<HashMap<IpAddr, u64>>,
    /// `--max-per-ip`; 0 = no cap.
    max_per_ip: u64,
    /// Whether loopback addresses are capped too (`--limit-loopback`):
    /// off by default so local load tests can open 20,000 connections.
    limit_loopback: bool,
}

/// A held connection slot; dropping it frees the slot (and the address's).
pub struct Slot {
    /// The global permit, returned on drop.
    _permit: OwnedSemaphorePermit,
    /// The address counted against `--max-per-ip`, if any.
    ip: Option<IpAddr>,
    /// Where to give the address's count back.
    limits: Arc<Limits>,
}

impl Limits {
    /// Limits for `max_connections` sockets and `max_per_ip` per address.
    pub fn new(max_connections: u64, max_per_ip: u64, limit_loopback: bool) -> Arc<Limits> {
        let n = (max_connections as usize).min(Semaphore::MAX_PERMITS);
        Arc::new(Limits {
            slots: Arc::new(Semaphore::new(n)),
            capacity: n,
            per_ip: Mutex::new(HashMap::new()),
            max_per_ip,
            limit_loopback,
        })
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, u64>> {
        self.per_ip.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take a slot for a connection from `ip`, or say why not.
    pub fn try_acquire(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<Slot, Refused> {
        let permit = self
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refused::Full)?;
        let ip = ip.filter(|ip| self.max_per_ip > 0 && (self.limit_loopback || !ip.is_loopback()));
        if let Some(ip) = ip {
            let mut m = self.map();
            let n = m.entry(ip).or_insert(0);
            if *n >= self.max_per_ip {
                return Err(Refused::PerIp);
            }
            *n += 1;
        }
        Ok(Slot {
            _permit: permit,
            ip,
            limits: self.clone(),
        })
    }

    /// Connections open now (authenticated or not).
    pub fn in_use(&self) -> usize {
        self.capacity - self.slots.available_permits()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(ip) = self.ip {
            let mut m = self.limits.map();
            if let Some(n) = m.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    m.remove(&ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_and_given_back_on_drop() {
        let l = Limits::new(2, 0, false);
        let a = l.try_acquire(None).unwrap();
        let _b = l.try_acquire(None).unwrap();
        assert_eq!(l.try_acquire(None).err(), Some(Refused::Full));
        drop(a);
        assert!(l.try_acquire(None).is_ok());
    }

    #[test]
    fn per_ip_cap_with_loopback_exempt_unless_asked() {
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let l = Limits::new(100, 2, false);
        let (_a, b) = (l.try_acquire(Some(ip)), l.try_acquire(Some(ip)));
        assert_eq!(l.try_acquire(Some(ip)).err(), Some(Refused::PerIp));
        assert!(l.try_acquire(Some("203.0.113.8".parse().unwrap())).is_ok());
        drop(b);
        assert!(l.try_acquire(Some(ip)).is_ok());
        let held: Vec<_> = (0..5).map(|_| l.try_acquire(Some(lo)).unwrap()).collect();
        assert_eq!(held.len(), 5, "loopback exempt by default");
        let strict = Limits::new(100, 1, true);
        let _x = strict.try_acquire(Some(lo)).unwrap();
        assert_eq!(strict.try_acquire(Some(lo)).err(), Some(Refused::PerIp));
    }
}
