//! The library example of docs/library.md, `examples/in_process_ping.rs`, compiled
//! into this test and run: a ping routed by lwIP between two in-process
//! interfaces. (lwIP is one per process: this file has a single test.)

#[allow(dead_code)] // the example's own main() is not called here
#[path = "../examples/in_process_ping.rs"]
mod example;

#[test]
fn in_process_ping_example_routes_a_ping() {
    let seen = example::ping_between_two_hosts().unwrap();
    assert_eq!(
        seen,
        [
            "host B got an echo request (type 8, id 0x4242, seq 1) with ttl 63",
            "host A got an echo reply from 10.0.2.2 (id 0x4242, seq 1) with ttl 63",
        ]
    );
}
