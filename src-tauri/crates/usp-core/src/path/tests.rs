#![allow(clippy::unwrap_used)]

use super::*;
use proptest::prelude::*;

fn p(s: &str) -> Path {
    match s.parse::<Path>() {
        Ok(p) => p,
        Err(e) => panic!("{s:?} should parse: {e}"),
    }
}

fn bad(s: &str) -> PathError {
    match s.parse::<Path>() {
        Ok(p) => panic!("{s:?} should be rejected, parsed as {p:?}"),
        Err(e) => e,
    }
}

fn n(s: &str) -> Segment {
    Segment::Name(s.to_owned())
}

fn s(v: &str) -> Literal {
    Literal::Str(v.to_owned())
}

fn num(v: &str) -> Literal {
    Literal::Num(v.to_owned())
}

fn cmp(lhs: Vec<Segment>, op: Op, value: Literal) -> Comparison {
    Comparison { lhs, op, value }
}

fn reference(name: &str, index: RefIndex) -> Segment {
    Segment::Reference { name: name.to_owned(), index }
}

#[test]
fn unique_key_addressing() {
    let path = p("Device.IP.Interface.[Name==\"eth0\"].");
    assert_eq!(
        path.segments(),
        &[n("Device"), n("IP"), n("Interface"), Segment::Search(vec![cmp(vec![n("Name")], Op::Eq, s("eth0"))]),]
    );
    assert_eq!(path.kind(), PathKind::Object);
    assert!(path.is_search());
    assert!(path.is_partial());
    assert_eq!(path.to_string(), "Device.IP.Interface.[Name==\"eth0\"].");
}

#[test]
fn compound_key() {
    let path = p("Device.NAT.PortMapping.[RemoteHost==\"\"&&ExternalPort==0&&Protocol==\"TCP\"].");
    assert_eq!(
        path.segments()[3],
        Segment::Search(vec![
            cmp(vec![n("RemoteHost")], Op::Eq, s("")),
            cmp(vec![n("ExternalPort")], Op::Eq, num("0")),
            cmp(vec![n("Protocol")], Op::Eq, s("TCP")),
        ])
    );
    assert_eq!(path.segments().len(), 4);
}

#[test]
fn reference_inside_search() {
    let path = p("Device.WiFi.AccessPoint.[SSIDReference+.SSID==\"MyHome\"].AssociatedDevice.*.");
    assert_eq!(
        path.segments(),
        &[
            n("Device"),
            n("WiFi"),
            n("AccessPoint"),
            Segment::Search(vec![cmp(
                vec![reference("SSIDReference", RefIndex::Default), n("SSID")],
                Op::Eq,
                s("MyHome")
            )]),
            n("AssociatedDevice"),
            Segment::Wildcard,
        ]
    );
    assert_eq!(path.kind(), PathKind::Object);
    assert_eq!(path.last_name(), Some("AssociatedDevice"));
}

#[test]
fn reference_following() {
    let path = p("Device.NAT.PortMapping.1.Interface+.Name");
    assert_eq!(
        path.segments(),
        &[
            n("Device"),
            n("NAT"),
            n("PortMapping"),
            Segment::Instance(1),
            reference("Interface", RefIndex::Default),
            n("Name"),
        ]
    );
    assert_eq!(path.kind(), PathKind::Parameter);
    assert!(path.is_search());
    assert_eq!(path.last_name(), Some("Name"));
    assert_eq!(path.parent(), None);

    assert_eq!(p("Device.X.Y#2+.Z").segments(), &[n("Device"), n("X"), reference("Y", RefIndex::Item(2)), n("Z")]);
    assert_eq!(p("Device.X.Y#*+.Z").segments(), &[n("Device"), n("X"), reference("Y", RefIndex::All), n("Z")]);
    // Chained references.
    assert_eq!(
        p("Device.X.A+.B#1+.C").segments(),
        &[n("Device"), n("X"), reference("A", RefIndex::Default), reference("B", RefIndex::Item(1)), n("C")]
    );
    assert_eq!(p("Device.X.Y+.Z.").kind(), PathKind::Object);
}

#[test]
fn supported_dm_path() {
    let path = p("Device.WiFi.SSID.{i}.");
    assert_eq!(path.segments(), &[n("Device"), n("WiFi"), n("SSID"), Segment::Placeholder]);
    assert!(path.is_supported_path());
    assert!(!path.is_search());
    assert!(p("Device.WiFi.SSID.{i}.Stats.BytesSent").is_supported_path());
    assert!(p("Device.LocalAgent.ControllerTrust.Role.{i}.Permission.{i}.").is_supported_path());
    assert!(!p("Device.WiFi.SSID.1.").is_supported_path());
}

#[test]
fn command_and_event() {
    let reboot = p("Device.Reboot()");
    assert_eq!(reboot.segments(), &[n("Device"), n("Reboot")]);
    assert_eq!(reboot.kind(), PathKind::Command);
    assert_eq!(reboot.last_name(), Some("Reboot"));
    assert_eq!(reboot.to_string(), "Device.Reboot()");
    assert_eq!(reboot.parent(), Some(p("Device.")));

    let boot = p("Device.Boot!");
    assert_eq!(boot.segments(), &[n("Device"), n("Boot")]);
    assert_eq!(boot.kind(), PathKind::Event);
    assert_eq!(boot.last_name(), Some("Boot"));
    assert_eq!(boot.to_string(), "Device.Boot!");

    let cmd = p("Device.LocalAgent.ControllerTrust.RequestChallenge()");
    assert_eq!(cmd.parent(), Some(p("Device.LocalAgent.ControllerTrust.")));
    assert_eq!(p("Device.BulkData.Profile.1.Push!").kind(), PathKind::Event);
    assert_eq!(p("Device.MQTT.Client.*.ForceReconnect()").kind(), PathKind::Command);
}

#[test]
fn wildcard_param() {
    let path = p("Device.LocalAgent.Subscription.*.ID");
    assert_eq!(path.segments(), &[n("Device"), n("LocalAgent"), n("Subscription"), Segment::Wildcard, n("ID")]);
    assert_eq!(path.kind(), PathKind::Parameter);
    assert!(path.is_search());
    assert_eq!(path.parent(), Some(p("Device.LocalAgent.Subscription.*.")));
}

#[test]
fn search_expressions() {
    let path = p("Device.IP.Interface.[Stats.ErrorsSent>0].Name");
    assert_eq!(path.segments()[3], Segment::Search(vec![cmp(vec![n("Stats"), n("ErrorsSent")], Op::Gt, num("0"))]));
    assert_eq!(
        p("Device.WiFi.SSID.[Enable==true].").segments()[3],
        Segment::Search(vec![cmp(vec![n("Enable")], Op::Eq, Literal::Bool(true))])
    );
    // Lenient: a quoted "true" is simply a string compare.
    assert_eq!(
        p("Device.WiFi.SSID.[Enable==\"true\"].").segments()[3],
        Segment::Search(vec![cmp(vec![n("Enable")], Op::Eq, s("true"))])
    );
    assert_eq!(
        p("Device.X.[A!=false].").segments()[2],
        Segment::Search(vec![cmp(vec![n("A")], Op::Ne, Literal::Bool(false))])
    );
    let all_ops = p("Device.X.[A==1&&B!=-2&&C~=3&&D<4.5&&E>5&&F<=6&&G>=-7.25&&H~=\"x\"].");
    let Segment::Search(comps) = &all_ops.segments()[2] else { panic!("expected search") };
    let ops: Vec<Op> = comps.iter().map(|c| c.op).collect();
    assert_eq!(ops, [Op::Eq, Op::Ne, Op::Contains, Op::Lt, Op::Gt, Op::Le, Op::Ge, Op::Contains]);
    assert_eq!(comps[1].value, num("-2"));
    assert_eq!(comps[6].value, num("-7.25"));
    assert_eq!(all_ops.to_string(), "Device.X.[A==1&&B!=-2&&C~=3&&D<4.5&&E>5&&F<=6&&G>=-7.25&&H~=\"x\"].");
}

#[test]
fn percent_escapes() {
    let path = p("Device.X.[Name==\"say %22hi%22 100%25\"].");
    assert_eq!(path.segments()[2], Segment::Search(vec![cmp(vec![n("Name")], Op::Eq, s("say \"hi\" 100%"))]));
    assert_eq!(path.to_string(), "Device.X.[Name==\"say %22hi%22 100%25\"].");
    // Non-ASCII and other characters pass through untouched.
    let path = p("Device.X.[Name==\"Küche [2] & more.\"].Y");
    assert_eq!(path.segments()[2], Segment::Search(vec![cmp(vec![n("Name")], Op::Eq, s("Küche [2] & more."))]));
    assert_eq!(path.as_str(), "Device.X.[Name==\"Küche [2] & more.\"].Y");
}

#[test]
fn spaces_are_tolerated_and_canonicalised() {
    let spaced = p("Device.X.[ A == 1 &&  B != \"x\"\t&& C>=2 ].Y");
    let tight = p("Device.X.[A==1&&B!=\"x\"&&C>=2].Y");
    assert_eq!(spaced, tight);
    assert_eq!(spaced.segments(), tight.segments());
    assert_eq!(spaced.as_str(), "Device.X.[A==1&&B!=\"x\"&&C>=2].Y");
}

#[test]
fn plain_paths_and_accessors() {
    let root = p("Device.");
    assert_eq!(root.segments(), &[n("Device")]);
    assert_eq!(root.kind(), PathKind::Object);
    assert_eq!(root.parent(), None);
    assert_eq!(root.last_name(), Some("Device"));

    let param = p("Device.DeviceInfo.SoftwareVersion");
    assert_eq!(param.kind(), PathKind::Parameter);
    assert!(!param.is_search());
    assert!(!param.is_partial());
    assert_eq!(param.parent(), Some(p("Device.DeviceInfo.")));

    let inst = p("Device.WiFi.SSID.1.");
    assert_eq!(inst.last_name(), Some("SSID"));
    assert_eq!(inst.parent(), Some(p("Device.WiFi.SSID.")));
    assert_eq!(p("Device.WiFi.SSID.").parent(), Some(p("Device.WiFi.")));
    assert_eq!(p("Device.WiFi.").parent(), Some(p("Device.")));

    let vendor = p("Device.LocalAgent.X_VANTIVA-COM_PreConnectTimeout");
    assert_eq!(vendor.last_name(), Some("X_VANTIVA-COM_PreConnectTimeout"));
    assert_eq!(p("Device.X.4294967295.").segments()[2], Segment::Instance(u32::MAX));
    assert_eq!(p("Device.Device.").segments(), &[n("Device"), n("Device")]);
}

#[test]
fn join() {
    let obj = p("Device.WiFi.Radio.1.");
    assert_eq!(obj.join("Status").unwrap(), p("Device.WiFi.Radio.1.Status"));
    assert_eq!(obj.join("Stats.BytesSent").unwrap(), p("Device.WiFi.Radio.1.Stats.BytesSent"));
    assert_eq!(p("Device.").join("Reboot()").unwrap().kind(), PathKind::Command);
    assert_eq!(obj.join("Sub.3.").unwrap(), p("Device.WiFi.Radio.1.Sub.3."));
    assert_eq!(obj.join("").unwrap(), obj);
    let e = obj.join(".Status").unwrap_err();
    assert_eq!(e.position(), obj.as_str().len());
    assert!(p("Device.X.Y").join("Z").is_err());
    assert!(p("Device.Reboot()").join("Z").is_err());
    assert!(obj.join("Bad Name").is_err());
}

#[test]
fn error_display() {
    let e = bad("Device.WiFi..");
    assert_eq!(e.position(), 12);
    assert_eq!(e.reason(), "empty name");
    assert_eq!(e.to_string(), "invalid path \"Device.WiFi..\": empty name at position 12");
}

#[test]
fn rejects_invalid_paths() {
    // (input, byte position, fragment of the reason)
    let cases: &[(&str, usize, &str)] = &[
        ("", 0, "empty path"),
        ("Device", 6, "expected '.'"),
        ("Devices.", 0, "must start with"),
        ("device.", 0, "must start with"),
        ("InternetGatewayDevice.", 0, "must start with"),
        (".Device.", 0, "must start with"),
        (" Device.", 0, "must start with"),
        ("Device..", 7, "empty name"),
        ("Device.WiFi..X", 12, "empty name"),
        ("Device.Foo.0.", 11, "must be >= 1"),
        ("Device.Foo.01.", 11, "leading zero"),
        ("Device.Foo.4294967296.", 11, "too large"),
        ("Device.Foo.1", 12, "expected '.' after instance number"),
        ("Device.Foo.1X", 12, "after instance number"),
        ("Device.Foo.1.2.", 13, "must follow a table name"),
        ("Device.1.", 7, "not a table"),
        ("Device.*.", 7, "not a table"),
        ("Device.Foo.*", 12, "expected '.'"),
        ("Device.Foo.**.", 12, "after '*'"),
        ("Device.Foo.*.*.", 13, "must follow a table name"),
        ("Device.Foo.{j}.", 11, "placeholder"),
        ("Device.Foo.{i}", 14, "expected '.'"),
        ("Device.Foo.{i}.Bar.*.", 19, "cannot be mixed"),
        ("Device.Foo.*.Bar.{i}.", 17, "cannot be mixed"),
        ("Device.Foo.[A==1].Bar.{i}.", 22, "cannot be mixed"),
        ("Device.Foo.{i}.Ref+.X", 15, "cannot be mixed"),
        ("Device.X.Y+", 11, "must be followed by '.'"),
        ("Device.X.Y+.", 12, "must be followed by '.'"),
        ("Device.X.Y+Z", 11, "after reference"),
        ("Device.X.Y#+.Z", 11, "after '#'"),
        ("Device.X.Y#0+.Z", 11, "must be >= 1"),
        ("Device.X.Y#2.Z", 12, "expected '+'"),
        ("Device.X.Y+.1.", 12, "must follow a table name"),
        ("Device.Reboot().X", 15, "after command"),
        ("Device.Reboot(", 14, "expected ')'"),
        ("Device.Reboot(x)", 14, "expected ')'"),
        ("Device.Boot!.", 12, "after event"),
        ("Device.Boot!!", 12, "after event"),
        ("Device.X.Y$", 10, "in name"),
        ("Device.X Y", 8, "in name"),
        ("Device.X.-Y", 9, "unexpected character"),
        ("Device.X.9Y.", 10, "after instance number"),
        ("Device.X.]", 9, "unexpected character"),
        ("Device.X.Ä", 9, "unexpected character 'Ä'"),
        ("Device.X.[", 9, "unterminated"),
        ("Device.X.[]", 10, "empty search expression"),
        ("Device.X.[ ]", 11, "empty search expression"),
        ("Device.X.[A==1", 9, "unterminated search expression"),
        ("Device.X.[A==1.", 13, "invalid number"),
        ("Device.X.[A==1].[B==2].", 16, "must follow a table name"),
        ("Device.X.[A==1&&", 9, "unterminated search expression"),
        ("Device.X.[A==1]", 15, "expected '.' after search expression"),
        ("Device.X.[A==1]X", 15, "after search expression"),
        ("Device.X.[A==1]].", 15, "after search expression"),
        ("Device.X.[[A==1]].", 10, "expected a parameter name"),
        ("Device.X.[A==1&&].", 16, "expected a parameter name"),
        ("Device.X.[A==1&B==2].", 14, "expected '&&' or ']'"),
        ("Device.X.[A==1||B==2].", 14, "expected '&&' or ']'"),
        ("Device.X.[A==1,B==2].", 14, "expected '&&' or ']'"),
        ("Device.X.[A].", 11, "comparison operator"),
        ("Device.X.[A=1].", 11, "comparison operator"),
        ("Device.X.[A===1].", 13, "expected a value"),
        ("Device.X.[A==].", 13, "expected a value"),
        ("Device.X.[==1].", 10, "expected a parameter name"),
        ("Device.X.[A.==1].", 12, "expected a parameter name"),
        ("Device.X.[A.1.B==1].", 12, "child table"),
        ("Device.X.[A.*.B==1].", 12, "child table"),
        ("Device.X.[A+==1].", 12, "must be followed by '.'"),
        ("Device.X.[A==Up].", 13, "must be a number, true or false"),
        ("Device.X.[A==TRUE].", 13, "must be a number, true or false"),
        ("Device.X.[A==\"x].", 13, "unterminated string literal"),
        ("Device.X.[A==\"a\"b\"].", 16, "must be written %22"),
        ("Device.X.[A==\"x\"\"].", 16, "must be written %22"),
        ("Device.X.[A==\"100%\"].", 17, "invalid %-escape"),
        ("Device.X.[A==\"%41\"].", 14, "invalid %-escape"),
        ("Device.X.[A==\"%2\"].", 14, "invalid %-escape"),
        ("Device.X.[Name<\"x\"].", 14, "cannot be used with a string"),
        ("Device.X.[Name>=\"x\"].", 14, "cannot be used with a string"),
        ("Device.X.[Enable<true].", 16, "cannot be used with a boolean"),
        ("Device.X.[Enable~=true].", 16, "cannot be used with a boolean"),
        ("Device.X.[A==-].", 13, "invalid number"),
        ("Device.X.[A==1.2.3].", 13, "invalid number"),
        ("Device.X.[A==12ab].", 13, "invalid number"),
        ("Device.X.[A==+1].", 13, "expected a value"),
    ];
    for (input, pos, reason) in cases {
        let e = bad(input);
        assert!(e.reason().contains(reason), "{input:?}: reason {:?} does not contain {reason:?}", e.reason());
        assert_eq!(e.position(), *pos, "{input:?}: {e}");
    }
}

#[test]
fn length_limits() {
    let mut long = String::from("Device.");
    while long.len() < MAX_PATH_LEN {
        long.push('A');
    }
    assert_eq!(long.len(), MAX_PATH_LEN);
    assert!(long.parse::<Path>().is_ok());
    long.push('A');
    let e = bad(&long);
    assert_eq!(e.position(), MAX_PATH_LEN);
    assert!(e.reason().contains("longer than 4096"));
    assert!(e.to_string().len() < 400, "error message echoes a bounded prefix");

    let comps = |k: usize| {
        let terms: Vec<String> = (0..k).map(|i| format!("A{i}=={i}")).collect();
        format!("Device.X.[{}].", terms.join("&&"))
    };
    let ok = p(&comps(MAX_COMPARISONS));
    let Segment::Search(c) = &ok.segments()[2] else { panic!("expected search") };
    assert_eq!(c.len(), MAX_COMPARISONS);
    let e = bad(&comps(MAX_COMPARISONS + 1));
    assert!(e.reason().contains("more than 64 comparisons"));
}

#[test]
fn equality_hash_serde() {
    use std::collections::HashSet;
    let a = p("Device.X.[ A == 1 ].");
    let b = p("Device.X.[A==1].");
    let set: HashSet<Path> = [a.clone(), b.clone()].into_iter().collect();
    assert_eq!(set.len(), 1);
    assert_eq!(String::from(a.clone()), "Device.X.[A==1].");
    assert_eq!(a.as_ref(), "Device.X.[A==1].");
    assert_eq!(Path::try_from("Device.X.").unwrap(), p("Device.X."));
    assert_eq!(Path::try_from(String::from("Device.X.")).unwrap(), p("Device.X."));
    assert!(p("Device.A.") < p("Device.B."));

    use serde::de::value::{Error as De, StrDeserializer};
    use serde::de::IntoDeserializer;
    use serde::Deserialize;
    let d: StrDeserializer<'_, De> = "Device.X.[ A == 1 ].".into_deserializer();
    assert_eq!(Path::deserialize(d).unwrap(), b);
    let d: StrDeserializer<'_, De> = "Device.X..".into_deserializer();
    let err = Path::deserialize(d).unwrap_err();
    assert!(err.to_string().contains("empty name at position 9"), "{err}");
}

#[test]
fn display_round_trip_examples() {
    for input in [
        "Device.",
        "Device.IP.Interface.[Name==\"eth0\"].",
        "Device.NAT.PortMapping.[RemoteHost==\"\"&&ExternalPort==0&&Protocol==\"TCP\"].",
        "Device.WiFi.AccessPoint.[SSIDReference+.SSID==\"MyHome\"].AssociatedDevice.*.",
        "Device.NAT.PortMapping.1.Interface+.Name",
        "Device.X.Y#2+.Z",
        "Device.X.Y#*+.Z",
        "Device.WiFi.SSID.{i}.",
        "Device.Reboot()",
        "Device.Boot!",
        "Device.LocalAgent.Subscription.*.ID",
        "Device.IP.Interface.[Stats.ErrorsSent>0].",
        "Device.WiFi.SSID.[Enable==true].",
        "Device.WiFi.SSID.[Enable==\"true\"].",
        "Device.X.[A==\"%22%25\"].",
        "Device.X.[A.B#3+.C.D#*+.E<=-0.5].F.2.G()",
    ] {
        let path = p(input);
        assert_eq!(path.to_string(), input);
        let shown = path.to_string();
        assert_eq!(p(&shown), path);
    }
}

// ---- property tests ---------------------------------------------------------------

/// Independent renderer used by the generator (does not use the Display impls).
fn text_of(segs: &[Segment], kind: PathKind) -> String {
    fn seg(out: &mut String, s: &Segment) {
        match s {
            Segment::Name(n) => out.push_str(n),
            Segment::Instance(i) => out.push_str(&i.to_string()),
            Segment::Wildcard => out.push('*'),
            Segment::Placeholder => out.push_str("{i}"),
            Segment::Reference { name, index } => {
                out.push_str(name);
                match index {
                    RefIndex::Default => {}
                    RefIndex::Item(k) => out.push_str(&format!("#{k}")),
                    RefIndex::All => out.push_str("#*"),
                }
                out.push('+');
            }
            Segment::Search(comps) => {
                out.push('[');
                for (i, c) in comps.iter().enumerate() {
                    if i > 0 {
                        out.push_str("&&");
                    }
                    for (j, l) in c.lhs.iter().enumerate() {
                        if j > 0 {
                            out.push('.');
                        }
                        seg(out, l);
                    }
                    out.push_str(c.op.as_str());
                    match &c.value {
                        Literal::Str(v) => {
                            out.push('"');
                            out.push_str(&v.replace('%', "%25").replace('"', "%22"));
                            out.push('"');
                        }
                        Literal::Num(v) => out.push_str(v),
                        Literal::Bool(b) => out.push_str(&b.to_string()),
                    }
                }
                out.push(']');
            }
        }
    }
    let mut out = String::new();
    for (i, s) in segs.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        seg(&mut out, s);
    }
    match kind {
        PathKind::Object => out.push('.'),
        PathKind::Parameter => {}
        PathKind::Command => out.push_str("()"),
        PathKind::Event => out.push('!'),
    }
    out
}

fn arb_name() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_-]{0,8}"
}

fn arb_ref_index() -> impl Strategy<Value = RefIndex> {
    prop_oneof![Just(RefIndex::Default), Just(RefIndex::All), (1u32..=u32::MAX).prop_map(RefIndex::Item),]
}

fn arb_comparison() -> impl Strategy<Value = Comparison> {
    let lhs = (
        prop::collection::vec(
            (arb_name(), prop::option::of(arb_ref_index())).prop_map(|(name, r)| match r {
                Some(index) => Segment::Reference { name, index },
                None => Segment::Name(name),
            }),
            0..3,
        ),
        arb_name(),
    )
        .prop_map(|(mut v, last)| {
            v.push(Segment::Name(last));
            v
        });
    let any_op = prop_oneof![
        Just(Op::Eq),
        Just(Op::Ne),
        Just(Op::Contains),
        Just(Op::Lt),
        Just(Op::Gt),
        Just(Op::Le),
        Just(Op::Ge),
    ];
    let value_and_op = prop_oneof![
        ("-?(0|[1-9][0-9]{0,6})(\\.[0-9]{1,3})?".prop_map(Literal::Num), any_op),
        (any::<bool>().prop_map(Literal::Bool), prop_oneof![Just(Op::Eq), Just(Op::Ne)]),
        (".{0,12}".prop_map(Literal::Str), prop_oneof![Just(Op::Eq), Just(Op::Ne), Just(Op::Contains)]),
    ];
    (lhs, value_and_op).prop_map(|(lhs, (value, op))| Comparison { lhs, op, value })
}

#[derive(Clone, Debug)]
enum Step {
    Name(String),
    Table(String, Segment),
    Ref(String, RefIndex),
}

fn arb_instance_path() -> impl Strategy<Value = (Vec<Segment>, PathKind)> {
    let inst = prop_oneof![
        (1u32..=u32::MAX).prop_map(Segment::Instance),
        Just(Segment::Wildcard),
        prop::collection::vec(arb_comparison(), 1..4).prop_map(Segment::Search),
    ];
    let step = prop_oneof![
        arb_name().prop_map(Step::Name),
        (arb_name(), inst).prop_map(|(n, i)| Step::Table(n, i)),
        (arb_name(), arb_ref_index()).prop_map(|(n, r)| Step::Ref(n, r)),
    ];
    (prop::collection::vec(step, 0..7), arb_kind(), arb_name()).prop_map(|(steps, kind, tail)| build(steps, kind, tail))
}

fn arb_supported_path() -> impl Strategy<Value = (Vec<Segment>, PathKind)> {
    let inst = prop_oneof![Just(Segment::Placeholder), (1u32..=1000).prop_map(Segment::Instance)];
    let step = prop_oneof![arb_name().prop_map(Step::Name), (arb_name(), inst).prop_map(|(n, i)| Step::Table(n, i)),];
    (prop::collection::vec(step, 0..7), arb_kind(), arb_name()).prop_map(|(steps, kind, tail)| build(steps, kind, tail))
}

fn arb_kind() -> impl Strategy<Value = PathKind> {
    prop_oneof![Just(PathKind::Object), Just(PathKind::Parameter), Just(PathKind::Command), Just(PathKind::Event),]
}

fn build(steps: Vec<Step>, kind: PathKind, tail: String) -> (Vec<Segment>, PathKind) {
    let mut segs = vec![Segment::Name("Device".to_owned())];
    for st in steps {
        match st {
            Step::Name(n) => segs.push(Segment::Name(n)),
            Step::Table(n, i) => {
                segs.push(Segment::Name(n));
                segs.push(i);
            }
            Step::Ref(name, index) => segs.push(Segment::Reference { name, index }),
        }
    }
    let needs_tail = kind != PathKind::Object || matches!(segs.last(), Some(Segment::Reference { .. }));
    if needs_tail {
        segs.push(Segment::Name(tail));
    }
    (segs, kind)
}

proptest! {
    #[test]
    fn generated_paths_round_trip((segs, kind) in arb_instance_path()) {
        let text = text_of(&segs, kind);
        let path: Path = text.parse().map_err(|e: PathError| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(path.segments(), &segs[..]);
        prop_assert_eq!(path.kind(), kind);
        prop_assert_eq!(path.to_string(), text.clone());
        let again: Path = path.to_string().parse().map_err(|e: PathError| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&again, &path);
        prop_assert_eq!(again.segments(), path.segments());
    }

    #[test]
    fn generated_supported_paths_round_trip((segs, kind) in arb_supported_path()) {
        let text = text_of(&segs, kind);
        let path: Path = text.parse().map_err(|e: PathError| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(path.segments(), &segs[..]);
        prop_assert_eq!(path.kind(), kind);
        prop_assert_eq!(path.to_string(), text);
        prop_assert!(!path.is_search());
    }

    #[test]
    fn arbitrary_strings_never_panic(input in ".{0,200}") {
        check_total(&input)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        check_total(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn path_like_strings_never_panic(
        tail in "[A-Za-z0-9_.*+#!(){}\\[\\]\"%=<>~&| -]{0,80}",
        prefix in prop_oneof![Just("Device."), Just("Device.X."), Just("Device.X.[A"), Just("")],
    ) {
        check_total(&format!("{prefix}{tail}"))?;
    }
}

/// Parsing must not panic; when it succeeds, re-parsing the display is the identity,
/// and when it fails, the position is within the input.
fn check_total(input: &str) -> Result<(), TestCaseError> {
    match input.parse::<Path>() {
        Ok(path) => {
            let again: Path = path.to_string().parse().map_err(|e: PathError| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&again, &path);
            prop_assert_eq!(again.segments(), path.segments());
            prop_assert_eq!(again.kind(), path.kind());
        }
        Err(e) => {
            prop_assert!(e.position() <= input.len());
            prop_assert!(!e.reason().is_empty());
        }
    }
    Ok(())
}
