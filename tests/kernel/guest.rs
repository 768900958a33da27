//! The guest's running kernel as the backend of the shared scenarios
//! (`tests/support/scenarios.rs`): each lab a network namespace of its own, ipvsadm in it
//! the oracle. `quirks` and `errors` run the scenarios here, one `#[test]` each.

use crate::common::{expected, Handle, Netns};
use crate::scenarios::{Backend, Lab, Setup};

/// The running kernel as the scenarios' backend: each lab is a network namespace of its own.
pub struct Guest;

/// A namespace and a handle on its IPVS.
pub struct GuestLab {
    ns: Netns,
    ipvs: Handle,
}

#[cfg(lvs_kernel_tests_async)]
impl_handle!([] Handle, |this, msg, kind| this.raw(msg, kind));

impl Lab for GuestLab {
    type Handle = Handle;

    fn ipvs(&mut self) -> &mut Handle {
        &mut self.ipvs
    }

    fn stop_daemon(&mut self, state: lvs::DaemonState) {
        self.ns.stop_daemon(&mut self.ipvs, state);
    }

    fn ipvsadm(&self, args: &[&str]) -> Option<String> {
        Some(self.ns.ipvsadm(args))
    }

    fn ipvsadm_fails(&self, args: &[&str]) -> Option<String> {
        Some(self.ns.ipvsadm_fails(args))
    }

    fn bring_loopback_up(&mut self) -> bool {
        self.ns.ip(&["link", "set", "lo", "up"]);
        true
    }

    fn path_exists(&self, path: &str) -> Option<bool> {
        Some(std::path::Path::new(path).exists())
    }

    fn keep(self) {
        let GuestLab { ns, ipvs } = self;
        drop(ipvs);
        std::mem::forget(ns);
    }
}

impl Backend for Guest {
    type Lab = GuestLab;

    fn caps(&self) -> lvs::Capabilities {
        expected()
    }

    fn lab(&self, tag: &str, setup: Setup) -> GuestLab {
        let ns = if setup.loopback_down {
            Netns::bare(tag)
        } else {
            Netns::new(tag)
        };
        for (name, mtu) in setup.interfaces {
            ns.ip(&["link", "add", name, "type", "dummy"]);
            ns.ip(&["link", "set", name, "mtu", &mtu.to_string()]);
            ns.ip(&["link", "set", name, "up"]);
        }
        let ipvs = ns.ipvs();
        GuestLab { ns, ipvs }
    }
}

/// One `#[test]` per scenario, on the guest's kernel.
macro_rules! on_the_guest_kernel {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::scenarios::$name(&$crate::guest::Guest);
            }
        )*
    };
}
