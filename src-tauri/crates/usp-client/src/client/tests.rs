use super::*;

#[test]
fn backoff_grows_is_capped_and_jittered() {
    let b = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(2), multiplier: 2.0, jitter: 0.2 };
    let mut rng = rand::rng();
    for attempt in 0..20 {
        let d = b.delay(attempt, &mut rng).as_secs_f64();
        let base = (0.1 * 2f64.powi(attempt as i32)).min(2.0);
        assert!(d >= base * 0.8 - 1e-9 && d <= base * 1.2 + 1e-9, "attempt {attempt}: {d} vs {base}");
    }
    let no_jitter = Backoff { jitter: 0.0, ..b };
    assert_eq!(no_jitter.delay(3, &mut rng), Duration::from_millis(800));
}

#[test]
fn a_doubling_curve_without_jitter() {
    let b = Backoff::doubling(Duration::from_millis(250), Duration::from_secs(30));
    let waits: Vec<u128> = (0..9).map(|n| b.nominal(n).as_millis()).collect();
    assert_eq!(waits, [250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    assert_eq!(b.nominal(u32::MAX), Duration::from_secs(30));
    let recheck = Backoff::doubling(Duration::from_secs(30), Duration::from_secs(600));
    assert_eq!(recheck.nominal(4), Duration::from_secs(480));
    assert_eq!(recheck.nominal(5), Duration::from_secs(600));
}

#[test]
fn notif_kinds_parse_from_cli_spelling() {
    assert_eq!("value-change".parse::<NotifKind>(), Ok(NotifKind::ValueChange));
    assert_eq!("object-creation".parse::<NotifKind>(), Ok(NotifKind::ObjectCreation));
    assert_eq!("ObjectDeletion".parse::<NotifKind>(), Ok(NotifKind::ObjectDeletion));
    assert_eq!("operation-complete".parse::<NotifKind>(), Ok(NotifKind::OperationComplete));
    assert_eq!("event".parse::<NotifKind>(), Ok(NotifKind::Event));
    assert!("boot".parse::<NotifKind>().is_err());
}
