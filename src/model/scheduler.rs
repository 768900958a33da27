use std::fmt;
use std::str::FromStr;

use crate::error::InvalidError;

/// Longest scheduler name the kernel accepts (`IP_VS_SCHEDNAME_MAXLEN` - 1).
pub(crate) const SCHED_NAME_MAX: usize = 15;

/// A connection scheduler, by its kernel name.
///
/// Every scheduler the kernel ships has a variant; any other name (a scheduler module of a newer
/// or patched kernel) is kept as [`Scheduler::Other`]. `"rr".parse()` gives [`Scheduler::Rr`].
///
/// ```
/// use lvs::Scheduler;
/// let s: Scheduler = "wlc".parse()?;
/// assert_eq!(s, Scheduler::Wlc);
/// assert_eq!(s.to_string(), "wlc");
/// assert_eq!("my-sched".parse::<Scheduler>()?, Scheduler::Other("my-sched".into()));
/// # Ok::<(), lvs::InvalidError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum Scheduler {
    /// Round robin.
    Rr,
    /// Weighted round robin.
    Wrr,
    /// Least connection.
    Lc,
    /// Weighted least connection (ipvsadm's default).
    #[default]
    Wlc,
    /// Locality-based least connection.
    Lblc,
    /// Locality-based least connection with replication.
    Lblcr,
    /// Destination hashing.
    Dh,
    /// Source hashing (flags: [`SchedFlags::SH_FALLBACK`], [`SchedFlags::SH_PORT`]).
    Sh,
    /// Shortest expected delay.
    Sed,
    /// Never queue.
    Nq,
    /// Weighted failover.
    Fo,
    /// Weighted overflow.
    Ovf,
    /// Maglev hashing (flags: [`SchedFlags::MH_FALLBACK`], [`SchedFlags::MH_PORT`]).
    Mh,
    /// Power of two choices.
    Twos,
    /// Any other scheduler name (1..=15 bytes).
    Other(String),
}

impl Scheduler {
    /// Every scheduler the mainline kernel ships.
    pub const ALL: [Scheduler; 14] = [
        Scheduler::Rr,
        Scheduler::Wrr,
        Scheduler::Lc,
        Scheduler::Wlc,
        Scheduler::Lblc,
        Scheduler::Lblcr,
        Scheduler::Dh,
        Scheduler::Sh,
        Scheduler::Sed,
        Scheduler::Nq,
        Scheduler::Fo,
        Scheduler::Ovf,
        Scheduler::Mh,
        Scheduler::Twos,
    ];

    /// The kernel name of this scheduler.
    pub fn name(&self) -> &str {
        match self {
            Scheduler::Rr => "rr",
            Scheduler::Wrr => "wrr",
            Scheduler::Lc => "lc",
            Scheduler::Wlc => "wlc",
            Scheduler::Lblc => "lblc",
            Scheduler::Lblcr => "lblcr",
            Scheduler::Dh => "dh",
            Scheduler::Sh => "sh",
            Scheduler::Sed => "sed",
            Scheduler::Nq => "nq",
            Scheduler::Fo => "fo",
            Scheduler::Ovf => "ovf",
            Scheduler::Mh => "mh",
            Scheduler::Twos => "twos",
            Scheduler::Other(name) => name,
        }
    }

    /// The scheduler of this kernel name; names of unknown schedulers become
    /// [`Scheduler::Other`]. This does not validate: use `parse` for that.
    pub fn from_name(name: &str) -> Scheduler {
        Scheduler::ALL
            .iter()
            .find(|s| s.name() == name)
            .cloned()
            .unwrap_or_else(|| Scheduler::Other(name.to_owned()))
    }

    pub(crate) fn validate(&self) -> Result<(), InvalidError> {
        if let Scheduler::Other(name) = self {
            super::check_name("scheduler", name, SCHED_NAME_MAX)?;
        }
        Ok(())
    }
}

impl fmt::Display for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scheduler {
    type Err = InvalidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let sched = Scheduler::from_name(s);
        sched.validate()?;
        Ok(sched)
    }
}

bitflags::bitflags! {
    /// Scheduler flags: the kernel's three scheduler-private service flag bits.
    ///
    /// ipvsadm names them `flag-1`, `flag-2`, `flag-3`; for `sh` and `mh` the first two have
    /// meanings, available as the associated constants [`SchedFlags::SH_FALLBACK`],
    /// [`SchedFlags::SH_PORT`], [`SchedFlags::MH_FALLBACK`] and [`SchedFlags::MH_PORT`].
    /// The values are the bits' positions in the service flags word.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
    pub struct SchedFlags: u32 {
        /// `flag-1` (`IP_VS_SVC_F_SCHED1`).
        const FLAG_1 = 0x0008;
        /// `flag-2` (`IP_VS_SVC_F_SCHED2`).
        const FLAG_2 = 0x0010;
        /// `flag-3` (`IP_VS_SVC_F_SCHED3`).
        const FLAG_3 = 0x0020;
    }
}

impl SchedFlags {
    /// `sh-fallback`: source hashing falls back to another server when the chosen one is
    /// unavailable.
    pub const SH_FALLBACK: SchedFlags = SchedFlags::FLAG_1;
    /// `sh-port`: source hashing includes the source port.
    pub const SH_PORT: SchedFlags = SchedFlags::FLAG_2;
    /// `mh-fallback`: maglev hashing falls back when the chosen server is unavailable.
    pub const MH_FALLBACK: SchedFlags = SchedFlags::FLAG_1;
    /// `mh-port`: maglev hashing includes the source port.
    pub const MH_PORT: SchedFlags = SchedFlags::FLAG_2;

    /// The names of the set flags as ipvsadm's `-b` option spells them for this scheduler
    /// (`sh-port` for `sh`, `flag-2` for a scheduler that gives the bit no meaning).
    pub fn ipvsadm_names(self, scheduler: &Scheduler) -> Vec<&'static str> {
        let typed = |f1: &'static str, f2: &'static str| [f1, f2, "flag-3"];
        let names = match scheduler {
            Scheduler::Sh => typed("sh-fallback", "sh-port"),
            Scheduler::Mh => typed("mh-fallback", "mh-port"),
            _ => ["flag-1", "flag-2", "flag-3"],
        };
        [SchedFlags::FLAG_1, SchedFlags::FLAG_2, SchedFlags::FLAG_3]
            .iter()
            .zip(names)
            .filter(|(f, _)| self.contains(**f))
            .map(|(_, n)| n)
            .collect()
    }

    /// Parse one ipvsadm flag name for the given scheduler. `sh-*` names need `sh` and `mh-*`
    /// names need `mh`, as in ipvsadm.
    pub fn from_ipvsadm_name(
        name: &str,
        scheduler: &Scheduler,
    ) -> Result<SchedFlags, InvalidError> {
        let (flag, needs) = match name {
            "flag-1" => (SchedFlags::FLAG_1, None),
            "flag-2" => (SchedFlags::FLAG_2, None),
            "flag-3" => (SchedFlags::FLAG_3, None),
            "sh-fallback" => (
                SchedFlags::SH_FALLBACK,
                Some(("sh-fallback", Scheduler::Sh)),
            ),
            "sh-port" => (SchedFlags::SH_PORT, Some(("sh-port", Scheduler::Sh))),
            "mh-fallback" => (
                SchedFlags::MH_FALLBACK,
                Some(("mh-fallback", Scheduler::Mh)),
            ),
            "mh-port" => (SchedFlags::MH_PORT, Some(("mh-port", Scheduler::Mh))),
            _ => return Err(InvalidError::parse(name, "a scheduler flag")),
        };
        match needs {
            Some((flag_name, sched)) if sched != *scheduler => {
                Err(InvalidError::SchedulerFlagMismatch {
                    flag: flag_name,
                    scheduler: scheduler.to_string(),
                })
            }
            _ => Ok(flag),
        }
    }

    /// Parse ipvsadm's comma-separated `-b` list for the given scheduler.
    pub fn parse_ipvsadm_list(
        list: &str,
        scheduler: &Scheduler,
    ) -> Result<SchedFlags, InvalidError> {
        list.split(',').try_fold(SchedFlags::empty(), |acc, name| {
            Ok(acc | SchedFlags::from_ipvsadm_name(name.trim(), scheduler)?)
        })
    }
}
