//! The harness's parsers of iperf, ping and ab output (tests/common/tools.rs),
//! on output as the tools print it.

mod common;

use common::tools::{parse_ab, parse_iperf, parse_ping, IperfResult};

#[test]
fn iperf_ping_and_ab_reports_are_read() {
    let iperf = "[  1] 0.0000-2.0012 sec  4965 MBytes  20822 Mbits/sec\n";
    assert_eq!(
        parse_iperf(iperf),
        Some(IperfResult {
            mbytes: 4965.0,
            mbits_per_sec: 20822.0
        })
    );
    let ping = "200 packets transmitted, 200 received, 0% packet loss, time 250ms\n\
                rtt min/avg/max/mdev = 0.006/0.015/0.503/0.035 ms\n";
    let p = parse_ping(ping).unwrap();
    assert_eq!((p.transmitted, p.received, p.loss_percent), (200, 200, 0.0));
    assert_eq!((p.avg_ms(), p.max_ms()), (Some(0.015), Some(0.503)));
    let lost = "3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 2003ms\n";
    let p = parse_ping(lost).unwrap();
    assert_eq!((p.received, p.loss_percent, p.rtt), (0, 100.0, None));

    let ab = "Complete requests:      500\nFailed requests:        3\n   \
              (Connect: 0, Receive: 0, Length: 3, Exceptions: 0)\n\
              Requests per second:    9298.35 [#/sec] (mean)\n";
    let a = parse_ab(ab);
    assert_eq!((a.complete, a.failed, a.non_2xx), (Some(500), Some(3), 0));
    assert_eq!(a.requests_per_sec, Some(9298.35));
    assert_eq!(
        a.failed_detail.as_deref(),
        Some("Connect: 0, Receive: 0, Length: 3, Exceptions: 0")
    );
    let aborted = "apr_socket_recv: Connection reset by peer (104)\n\
                   Total of 212 requests completed\n";
    let a = parse_ab(aborted);
    assert_eq!(a.completed_before_abort, Some(212));
    assert_eq!(
        a.apr_error.as_deref(),
        Some("apr_socket_recv: Connection reset by peer (104)")
    );
}
