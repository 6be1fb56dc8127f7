//! The breaker's rules, on a clock the tests move.

use super::*;

const MS: Duration = Duration::from_millis(1);

fn call(breaker: &Breaker, failed: bool, took: Duration, now: Instant) -> Transition {
    let permit = breaker.permit(now);
    assert_ne!(permit, Permit::Refused, "a call was refused");
    breaker.record(permit, failed, took, now)
}

#[test]
fn five_failures_in_a_row_open_it_and_a_success_between_resets_the_count() {
    let breaker = Breaker::default();
    let t = Instant::now();
    for i in 0..4 {
        assert_eq!(call(&breaker, true, MS, t + i * 10 * MS), None);
    }
    assert_eq!(call(&breaker, false, MS, t + 50 * MS), None);
    for i in 0..4 {
        assert_eq!(call(&breaker, true, MS, t + (60 + i * 10) * MS), None);
    }
    assert_eq!(call(&breaker, true, MS, t + 100 * MS), Some(Phase::Open));
    assert_eq!(breaker.permit(t), Permit::Refused);
}

#[test]
fn half_of_twenty_calls_in_two_seconds_failed_or_slow_opens_it() {
    let breaker = Breaker::default();
    let t = Instant::now();
    // Alternating fast and slow calls: never 5 failures in a row; 9 of 19
    // slow, then 9 of 20, then 10 of 21: under half.
    for i in 0..19 {
        let took = if i % 2 == 1 { 600 * MS } else { MS };
        assert_eq!(
            call(&breaker, false, took, t + i * 50 * MS),
            None,
            "call {i}"
        );
    }
    assert_eq!(call(&breaker, false, MS, t + 950 * MS), None, "9 of 20");
    assert_eq!(
        call(&breaker, true, MS, t + 1_000 * MS),
        None,
        "10 of 21: not yet"
    );
    assert_eq!(
        call(&breaker, true, MS, t + 1_050 * MS),
        Some(Phase::Open),
        "11 of 22"
    );
}

#[test]
fn slow_calls_older_than_the_window_do_not_count() {
    let breaker = Breaker::default();
    let t = Instant::now();
    for i in 0..15 {
        call(&breaker, false, 600 * MS, t + i * 10 * MS);
    }
    // Three seconds later: the window holds only the new, fast calls.
    for i in 0..30 {
        assert_eq!(call(&breaker, false, MS, t + (3_000 + i * 10) * MS), None);
    }
    assert_eq!(breaker.phase(), Phase::Closed);
}

#[test]
fn two_missed_probes_open_it_with_no_traffic() {
    let breaker = Breaker::default();
    let t = Instant::now();
    assert_eq!(breaker.probed(false, t), None);
    assert_eq!(
        breaker.probed(true, t + 250 * MS),
        None,
        "a good probe between resets"
    );
    assert_eq!(breaker.probed(false, t + 500 * MS), None);
    assert_eq!(breaker.probed(false, t + 750 * MS), Some(Phase::Open));
}

#[test]
fn three_good_probes_let_one_trial_through_and_its_success_closes_it() {
    let breaker = Breaker::default();
    let t = Instant::now();
    breaker.probed(false, t);
    breaker.probed(false, t + 250 * MS);
    assert_eq!(breaker.phase(), Phase::Open);
    assert_eq!(breaker.probed(true, t + 500 * MS), None);
    assert_eq!(breaker.probed(true, t + 750 * MS), None);
    assert_eq!(breaker.probed(true, t + 1_000 * MS), Some(Phase::HalfOpen));
    assert_eq!(breaker.permit(t), Permit::Trial);
    assert_eq!(
        breaker.permit(t),
        Permit::Refused,
        "only one trial at a time"
    );
    assert_eq!(
        breaker.record(Permit::Trial, false, MS, t + 1_010 * MS),
        Some(Phase::Closed)
    );
    assert_eq!(breaker.permit(t), Permit::Call);
}

#[test]
fn a_failed_trial_opens_it_again_and_reopening_within_a_minute_doubles_the_run() {
    let breaker = Breaker::default();
    let mut t = Instant::now();
    breaker.probed(false, t);
    breaker.probed(false, t + PROBE_DEADLINE);
    let mut runs = Vec::new();
    for _ in 0..7 {
        // Probes until half-open, counting them.
        let mut run = 0;
        loop {
            t += 250 * MS;
            run += 1;
            if breaker.probed(true, t) == Some(Phase::HalfOpen) {
                break;
            }
        }
        runs.push(run);
        assert_eq!(breaker.permit(t), Permit::Trial);
        assert_eq!(
            breaker.record(Permit::Trial, true, MS, t),
            Some(Phase::Open)
        );
    }
    assert_eq!(
        runs,
        [3, 6, 12, 24, 48, 96, 120],
        "doubling, up to 30 s of probes"
    );
    // A minute after the last opening, a reopening needs 3 again.
    t += FLAP_WINDOW;
    loop {
        t += 250 * MS;
        if breaker.probed(true, t) == Some(Phase::HalfOpen) {
            break;
        }
    }
    breaker.record(Permit::Trial, false, MS, t);
    breaker.probed(false, t + FLAP_WINDOW);
    breaker.probed(false, t + FLAP_WINDOW + PROBE_DEADLINE);
    let mut run = 0;
    while breaker.probed(true, t + FLAP_WINDOW) != Some(Phase::HalfOpen) {
        run += 1;
    }
    assert_eq!(run + 1, GOOD_PROBES);
}

#[test]
fn a_call_sent_before_the_breaker_opened_changes_nothing_when_it_ends() {
    let breaker = Breaker::default();
    let t = Instant::now();
    let permit = breaker.permit(t);
    breaker.probed(false, t);
    breaker.probed(false, t + PROBE_DEADLINE);
    assert_eq!(breaker.record(permit, false, MS, t), None);
    assert_eq!(breaker.phase(), Phase::Open);
}

#[test]
fn a_half_open_target_that_misses_a_probe_is_open_again() {
    let breaker = Breaker::default();
    let t = Instant::now();
    breaker.probed(false, t);
    breaker.probed(false, t + PROBE_DEADLINE);
    for _ in 0..3 {
        breaker.probed(true, t);
    }
    assert_eq!(breaker.phase(), Phase::HalfOpen);
    assert_eq!(breaker.probed(false, t), Some(Phase::Open));
}

#[test]
fn a_trial_that_never_ended_is_given_back() {
    let breaker = Breaker::default();
    let t = Instant::now();
    breaker.probed(false, t);
    breaker.probed(false, t + PROBE_DEADLINE);
    for _ in 0..3 {
        breaker.probed(true, t);
    }
    assert_eq!(breaker.permit(t), Permit::Trial);
    breaker.abandon(Permit::Trial);
    assert_eq!(breaker.permit(t), Permit::Trial);
}

#[test]
fn calls_that_wait_two_probe_deadlines_without_an_answer_open_it() {
    let breaker = Breaker::default();
    let t = Instant::now();
    assert_eq!(breaker.stalled(t + 500 * MS), None, "nothing waits");
    let first = breaker.permit(t);
    let _second = breaker.permit(t + 100 * MS);
    assert_eq!(breaker.stalled(t + 150 * MS), None);
    assert_eq!(
        breaker.stalled(t + 210 * MS),
        None,
        "one deadline: one miss"
    );
    assert_eq!(
        breaker.stalled(t + 300 * MS),
        None,
        "counted once per deadline"
    );
    assert_eq!(breaker.stalled(t + 400 * MS), Some(Phase::Open));
    breaker.abandon(first);
}

#[test]
fn an_answer_while_calls_wait_starts_the_silence_again() {
    let breaker = Breaker::default();
    let t = Instant::now();
    let first = breaker.permit(t);
    let _second = breaker.permit(t);
    assert_eq!(breaker.stalled(t + 200 * MS), None);
    // The first call is answered late; the second still waits.
    assert_eq!(breaker.record(first, false, 250 * MS, t + 250 * MS), None);
    assert_eq!(breaker.stalled(t + 400 * MS), None);
    // A good probe forgets the earlier miss.
    breaker.probed(true, t + 420 * MS);
    assert_eq!(breaker.stalled(t + 450 * MS), None);
    assert_eq!(breaker.stalled(t + 620 * MS), None, "a first miss again");
    assert_eq!(breaker.stalled(t + 820 * MS), Some(Phase::Open));
}

#[test]
fn calls_that_ended_leave_no_silence_behind() {
    let breaker = Breaker::default();
    let t = Instant::now();
    let failed = breaker.permit(t);
    breaker.record(failed, true, MS, t + MS);
    let dropped = breaker.permit(t);
    breaker.abandon(dropped);
    assert_eq!(breaker.stalled(t + 300 * MS), None);
    assert_eq!(breaker.stalled(t + 600 * MS), None);
    assert_eq!(breaker.phase(), Phase::Closed);
}

#[test]
fn a_probe_and_a_call_that_miss_in_the_same_silence_count_once() {
    let breaker = Breaker::default();
    let t = Instant::now();
    let call = breaker.permit(t);
    assert_eq!(breaker.probed(false, t + 200 * MS), None);
    assert_eq!(breaker.stalled(t + 210 * MS), None, "the same 200 ms");
    assert_eq!(breaker.phase(), Phase::Closed);
    assert_eq!(breaker.stalled(t + 410 * MS), Some(Phase::Open));
    breaker.abandon(call);
}
