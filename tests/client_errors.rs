//! The client names the case of every kernel refusal from the operation it was doing, and
//! validates before sending. A scripted transport answers with a chosen errno.

use lvs::transport::{RequestKind, Transport};
use lvs::wire::{IpvsCmd, IpvsMessage};
use lvs::*;

/// Answers every request with one errno, and records what it was sent.
struct Refuse {
    errno: i32,
    sent: Vec<IpvsCmd>,
}

impl Transport for Refuse {
    fn request(&mut self, msg: &IpvsMessage, _kind: RequestKind) -> Result<Vec<IpvsMessage>> {
        self.sent.push(msg.cmd);
        Err(Error::Kernel(KernelContext::new(
            self.errno,
            Operation::Other,
            "",
        )))
    }
}

fn ipvs(errno: i32) -> Ipvs<Refuse> {
    Ipvs::with_transport(Refuse {
        errno,
        sent: Vec::new(),
    })
}

fn svc() -> Service {
    Service::tcp("10.0.0.1:80".parse().unwrap())
        .build()
        .unwrap()
}

fn dest() -> Destination {
    Destination::builder("10.0.0.2:80".parse().unwrap())
        .build()
        .unwrap()
}

#[test]
fn errno_and_operation_name_the_case() {
    let s = svc();
    let d = dest();
    let id = s.id;
    let check = |e: Error, op: Operation, errno: i32, object: &str| {
        let ctx = e.kernel_context().expect("a kernel error").clone();
        assert_eq!(ctx.operation, op, "{e}");
        assert_eq!(ctx.errno, errno, "{e}");
        assert_eq!(ctx.object, object, "{e}");
        e
    };
    let obj = "tcp:10.0.0.1:80";
    let dobj = "tcp:10.0.0.1:80 -> 10.0.0.2:80";
    let e = check(
        ipvs(libc::EEXIST).add_service(&s).unwrap_err(),
        Operation::AddService,
        libc::EEXIST,
        obj,
    );
    assert!(matches!(e, Error::ServiceExists(_)));
    let e = check(
        ipvs(libc::ESRCH).update_service(&s).unwrap_err(),
        Operation::UpdateService,
        libc::ESRCH,
        obj,
    );
    assert!(matches!(e, Error::NoSuchService(_)));
    let e = check(
        ipvs(libc::ESRCH).delete_service(&id).unwrap_err(),
        Operation::DeleteService,
        libc::ESRCH,
        obj,
    );
    assert!(matches!(e, Error::NoSuchService(_)));
    let e = check(
        ipvs(libc::ENOENT).add_service(&s).unwrap_err(),
        Operation::AddService,
        libc::ENOENT,
        obj,
    );
    assert!(matches!(e, Error::SchedulerNotFound(_)));
    let e = check(
        ipvs(libc::EEXIST).add_destination(&id, &d).unwrap_err(),
        Operation::AddDestination,
        libc::EEXIST,
        dobj,
    );
    assert!(matches!(e, Error::DestinationExists(_)));
    let e = check(
        ipvs(libc::ESRCH).add_destination(&id, &d).unwrap_err(),
        Operation::AddDestination,
        libc::ESRCH,
        dobj,
    );
    assert!(matches!(e, Error::NoSuchService(_)));
    let e = check(
        ipvs(libc::ENOENT).update_destination(&id, &d).unwrap_err(),
        Operation::UpdateDestination,
        libc::ENOENT,
        dobj,
    );
    assert!(matches!(e, Error::NoSuchDestination(_)));
    let e = check(
        ipvs(libc::ENOENT)
            .delete_destination(&id, d.socket_addr())
            .unwrap_err(),
        Operation::DeleteDestination,
        libc::ENOENT,
        dobj,
    );
    assert!(matches!(e, Error::NoSuchDestination(_)));
    let e = check(
        ipvs(libc::ERANGE).add_destination(&id, &d).unwrap_err(),
        Operation::AddDestination,
        libc::ERANGE,
        dobj,
    );
    assert!(matches!(e, Error::OutOfRange(_)));
    let e = check(
        ipvs(libc::EINVAL).add_service(&s).unwrap_err(),
        Operation::AddService,
        libc::EINVAL,
        obj,
    );
    assert!(matches!(e, Error::InvalidRequest(_)));
    let e = check(
        ipvs(libc::EPERM).services().unwrap_err(),
        Operation::GetService,
        libc::EPERM,
        "",
    );
    assert!(matches!(e, Error::PermissionDenied(_)));
    let e = check(
        ipvs(libc::EAFNOSUPPORT).add_service(&s).unwrap_err(),
        Operation::AddService,
        libc::EAFNOSUPPORT,
        obj,
    );
    assert!(matches!(e, Error::AddressFamilyNotSupported(_)));
    let daemon = Daemon::builder(DaemonState::Master, "eth0")
        .build()
        .unwrap();
    let e = check(
        ipvs(libc::EEXIST).start_daemon(&daemon).unwrap_err(),
        Operation::StartDaemon,
        libc::EEXIST,
        "master on eth0",
    );
    assert!(matches!(e, Error::DaemonExists(_)));
    let e = check(
        ipvs(libc::ESRCH)
            .stop_daemon(DaemonState::Backup)
            .unwrap_err(),
        Operation::StopDaemon,
        libc::ESRCH,
        "backup",
    );
    assert!(matches!(e, Error::NoSuchDaemon(_)));
    let e = check(
        ipvs(libc::EBUSY).flush().unwrap_err(),
        Operation::Flush,
        libc::EBUSY,
        "",
    );
    assert!(matches!(e, Error::Kernel(_)));
    assert_eq!(e.errno(), Some(libc::EBUSY));
}

#[test]
fn invalid_values_never_reach_the_transport() {
    let mut ipvs = ipvs(0);
    let mut bad = svc();
    bad.one_packet = true; // TCP
    assert!(matches!(
        ipvs.add_service(&bad),
        Err(Error::Invalid(InvalidError::OnePacketNotUdp(_)))
    ));
    assert!(matches!(ipvs.update_service(&bad), Err(Error::Invalid(_))));
    let mut d = dest();
    d.weight = 70000;
    assert!(matches!(
        ipvs.add_destination(&svc().id, &d),
        Err(Error::Invalid(InvalidError::WeightOutOfRange(70000)))
    ));
    let v6 = Destination::builder("[fd00::2]:80".parse().unwrap())
        .masquerade()
        .build()
        .unwrap();
    assert!(matches!(
        ipvs.add_destination(&svc().id, &v6),
        Err(Error::Invalid(InvalidError::MixedFamilyWithoutTunnel))
    ));
    assert!(ipvs.transport().sent.is_empty());
}
