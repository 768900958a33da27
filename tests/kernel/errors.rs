//! Kernel refusals, each as its typed error with the errno, the operation and the object; and
//! values the builders would stop, sent raw through the transport to record the kernel's own
//! answer (the transport names no case: `Error::Kernel` with operation `Other`).

use lvs::{PersistenceEngine, Scheduler, Service};

use crate::common::{sa, Netns};

// The refusals the mock models too are written once (`tests/support/scenarios.rs`) and run
// here on the guest's kernel, one `#[test]` each; the host suite runs them on every mock
// profile.
for_each_refusal_scenario!(on_the_guest_kernel);

/// An unknown persistence engine with a real scheduler: the kernel's ENOENT could be the
/// scheduler's or the engine's, and the client tells them apart by the modules loaded on the
/// machine (`/sys/module`), so this one is the guest's alone: the engine is named, on add
/// and on edit, and nothing changes.
#[test]
fn unknown_persistence_engine_is_persistence_engine_not_found() {
    let ns = Netns::new("err-pe");
    let mut ipvs = ns.ipvs();
    let s = Service::udp(sa("10.0.0.1:5060"))
        .scheduler(Scheduler::Rr)
        .persistent(60)
        .pe(PersistenceEngine::Other("nosuch".into()))
        .build()
        .unwrap();
    let ctx = assert_refused!(
        ipvs.add_service(&s),
        PersistenceEngineNotFound,
        libc::ENOENT,
        AddService
    );
    assert_eq!(ctx.object, "udp:10.0.0.1:5060");
    assert_eq!(ipvs.services().unwrap(), vec![]);

    let plain = Service::udp(sa("10.0.0.1:5060"))
        .scheduler(Scheduler::Rr)
        .build()
        .unwrap();
    ipvs.add_service(&plain).unwrap();
    assert_refused!(
        ipvs.update_service(&s),
        PersistenceEngineNotFound,
        libc::ENOENT,
        UpdateService
    );
    assert_eq!(ipvs.get_service(&s.id).unwrap().pe, None);
}
