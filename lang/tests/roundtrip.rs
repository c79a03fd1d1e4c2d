//! Printing a syntax tree and parsing the text back gives the same tree.

use oxclick_lang::ast::*;
use oxclick_lang::parser::parse;
use proptest::prelude::*;

fn element_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,5}"
        .prop_filter("keywords", |s| !matches!(s.as_str(), "elementclass" | "require" | "define" | "provide"))
}

fn class_name() -> impl Strategy<Value = String> {
    "[A-Z][A-Za-z0-9]{0,6}"
}

/// Configuration text without parentheses, quotes, comments or newlines.
fn config() -> impl Strategy<Value = String> {
    "[A-Za-z0-9 ,.:$]{0,12}"
}

fn port_list() -> impl Strategy<Value = PortList> {
    let item =
        prop_oneof![(0i32..8).prop_map(PortItem::Single), (0i32..4, 4i32..8).prop_map(|(a, b)| PortItem::Range(a, b))];
    (prop::collection::vec(item, 0..3), any::<bool>())
        .prop_filter("an empty list must be []", |(items, exp)| !items.is_empty() || *exp)
        .prop_map(|(items, expandable)| PortList { items, expandable })
}

fn named_element(nested: BoxedStrategy<Stmt>) -> impl Strategy<Value = ElementRef> {
    let target = prop_oneof![
        4 => element_name().prop_map(Target::Name),
        1 => prop::collection::vec(nested.clone(), 1..3).prop_map(|body| Target::Group { body, end: Pos::default() }),
    ];
    let class = prop_oneof![
        3 => class_name().prop_map(ClassRef::Name),
        1 => class_body(nested).prop_map(|b| ClassRef::Compound(Box::new(b))),
    ];
    (
        prop::option::of(port_list()),
        target,
        prop::option::of(class),
        prop::option::of(config()),
        prop::option::of(port_list()),
    )
        .prop_map(|(inputs, target, class, config, outputs)| ElementRef {
            inputs,
            target,
            class,
            config,
            outputs,
            pos: Pos::default(),
        })
}

fn class_body(nested: BoxedStrategy<Stmt>) -> impl Strategy<Value = ClassBody> {
    let formals = (prop::collection::vec("[a-z]{1,4}", 0..3), any::<bool>()).prop_map(|(names, rest)| {
        let mut seen = std::collections::BTreeSet::new();
        let mut v: Vec<Formal> =
            names.into_iter().filter(|n| seen.insert(n.clone())).map(|name| Formal { keyword: None, name }).collect();
        if rest && seen.insert("rest".into()) {
            v.push(Formal { keyword: Some("__REST__".into()), name: "rest".into() });
        }
        v
    });
    let alt = (formals, prop::collection::vec(nested, 1..3)).prop_map(|(formals, body)| CompoundDef {
        formals,
        body,
        pos: Pos::default(),
    });
    (prop::collection::vec(alt, 1..3), any::<bool>()).prop_map(|(alternatives, extends)| ClassBody {
        alternatives,
        extends,
        pos: Pos::default(),
    })
}

fn chain(nested: BoxedStrategy<Stmt>) -> impl Strategy<Value = Chain> {
    let section = prop::collection::vec(named_element(nested), 1..3)
        .prop_map(|elements| Section { elements, end: Pos::default() });
    let kind = prop_oneof![Just(ConnectorKind::Arrow), Just(ConnectorKind::DoubleArrow)];
    (prop::collection::vec(section, 1..4), prop::collection::vec(kind, 3)).prop_map(|(sections, kinds)| {
        let connectors =
            kinds.into_iter().take(sections.len() - 1).map(|kind| Connector { kind, pos: Pos::default() }).collect();
        Chain { sections, connectors }
    })
}

fn statement() -> impl Strategy<Value = Stmt> {
    let leaf = prop_oneof![
        element_name().prop_map(|n| Stmt::Chain(Chain {
            sections: vec![Section {
                elements: vec![ElementRef {
                    inputs: None,
                    target: Target::Name(n),
                    class: Some(ClassRef::Name("Idle".into())),
                    config: None,
                    outputs: None,
                    pos: Pos::default()
                }],
                end: Pos::default()
            }],
            connectors: vec![]
        })),
        config().prop_map(|args| Stmt::Require { args, pos: Pos::default() }),
        config().prop_map(|args| Stmt::Define { args, pos: Pos::default() }),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        let inner = inner.boxed();
        prop_oneof![
            3 => chain(inner.clone()).prop_map(Stmt::Chain),
            1 => (class_name(), class_body(inner.clone())).prop_map(|(name, b)| Stmt::ElementClass(ElementClassDecl {
                name: Some(name),
                def: ClassDef::Body(Box::new(b)),
                pos: Pos::default()
            })),
            1 => (class_name(), class_name()).prop_map(|(name, other)| Stmt::ElementClass(ElementClassDecl {
                name: Some(name),
                def: ClassDef::Synonym(other),
                pos: Pos::default()
            })),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn print_then_parse_is_identity(stmts in prop::collection::vec(statement(), 0..5)) {
        let file = File { stmts };
        let text = file.to_string();
        let parsed = parse(&text, "t", 0);
        prop_assert_eq!(parsed.file.without_positions(), file, "text:\n{}", text);
    }

    #[test]
    fn parser_never_panics(text in "\\PC{0,200}") {
        let _ = parse(&text, "t", 0);
    }

    #[test]
    fn parser_never_panics_on_click_like_text(text in "[a-zA-Z0-9 ,;:\\[\\]{}()|$.>=\\-\"'/*#\\n]{0,200}") {
        let _ = parse(&text, "t", 0);
        let _ = oxclick_lang::read(&text, "t", &oxclick_lang::Options::default());
    }
}
