//! The drop-in's help text (`ipvsadm -h`): the command line [`parse_args`](super::parse_args)
//! reads.

/// The help text for `program`: every command and option the parser reads, in ipvsadm's
/// order, with this crate's extra `--netns`.
///
/// ```
/// assert!(lvs::text::usage("ipvsadm").contains("ipvsadm -R "));
/// ```
pub fn usage(program: &str) -> String {
    format!(
        "{program}: manage the Linux IPVS table (an ipvsadm work-alike built on the lvs library)

Commands (give exactly one, first):
  {program} -A|-E SERVICE [-s SCHED] [-p [SECONDS]] [-M MASK] [--pe ENGINE] [-b FLAGS] [-o]
                                        add or change a virtual service
  {program} -D SERVICE                  remove a virtual service
  {program} -C                          remove every virtual service
  {program} -a|-e SERVICE -r SERVER[:PORT] [-g|-i|-m] [-w WEIGHT] [-x MAX] [-y MIN]
                  [--tun-type ipip|gue|gre] [--tun-port PORT] [--tun-nocsum|--tun-csum|--tun-remcsum]
                                        add or change a real server
  {program} -d SERVICE -r SERVER[:PORT] remove a real server
  {program} -L|-l [SERVICE] [-n] [--stats|--rate|--thresholds|--persistent-conn|--tun-info]
                  [--exact] [--nosort]  show the table (or one service)
  {program} -L -c [--persistent-conn]   show the connection table
  {program} -L --timeout | -L --daemon  show timeouts or sync daemons
  {program} -Z [SERVICE]                zero counters
  {program} -S [-n]                     print the table as rules for -R
  {program} -R                          read rules from standard input (all or nothing: a bad
                                        or refused line undoes what was applied)
  {program} --set TCP TCPFIN UDP        set connection timeouts in seconds (0 = keep)
  {program} --start-daemon master|backup [--mcast-interface IF] [--syncid ID]
                  [--sync-maxlen LEN] [--mcast-group ADDR] [--mcast-port PORT] [--mcast-ttl TTL]
  {program} --stop-daemon master|backup
  {program} -h                          this text

SERVICE is -t|--tcp-service HOST[:PORT], -u|--udp-service HOST[:PORT],
--sctp-service HOST[:PORT] or -f|--fwmark-service MARK [-6]; IPv6 hosts go in brackets.
Forwarding: -g direct routing (default), -i tunnelling, -m masquerading (NAT).
Extra option of this tool: --netns NAME works in the network namespace NAME.
"
    )
}
