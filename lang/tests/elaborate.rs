//! Elaboration: every language construct, and every error, against what Click does.

use oxclick_lang::unparse::unparse;
use oxclick_lang::{Loader, Options, read};

const CLASSES: &[&str] =
    &["Idle", "Discard", "Print", "Counter", "Queue", "Tee", "PushNull", "InfiniteSource", "Paint"];

fn known(n: &str) -> bool {
    CLASSES.contains(&n)
}

/// Flatten in driver mode; panic on errors.
fn flat(src: &str) -> String {
    let opts = Options { is_primitive: Some(&known), ..Options::default() };
    let out = read(src, "t", &opts);
    let errs: Vec<String> = out.diagnostics.iter().map(|d| d.click_text()).collect();
    assert!(errs.is_empty(), "unexpected errors: {errs:?}");
    unparse(&out.flat)
}

/// Error lines in driver mode.
fn errors(src: &str) -> Vec<String> {
    let opts = Options { is_primitive: Some(&known), ..Options::default() };
    read(src, "t", &opts).diagnostics.iter().map(|d| d.click_text().trim_end().to_string()).collect()
}

/// The flat connections as `from[port] -> [port]to`, in order.
fn connections(src: &str) -> Vec<String> {
    let opts = Options { is_primitive: Some(&known), ..Options::default() };
    let out = read(src, "t", &opts);
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    let name = |i: usize| out.flat.elements[i].name.clone();
    out.flat
        .connections
        .iter()
        .map(|c| format!("{}[{}] -> [{}]{}", name(c.from.element), c.from.port, c.to.port, name(c.to.element)))
        .collect()
}

fn tool_errors(src: &str) -> Vec<String> {
    read(src, "t", &Options::default()).diagnostics.iter().map(|d| d.click_text().trim_end().to_string()).collect()
}

#[test]
fn declarations_and_anonymous_names() {
    assert_eq!(
        flat("a :: Idle; Idle -> Discard; b, c :: Counter(x)"),
        "a :: Idle;\nIdle@2 :: Idle;\nDiscard@3 :: Discard;\nb :: Counter(x);\nc :: Counter(x);\n\nIdle@2 -> Discard@3;\n"
    );
}

#[test]
fn anonymous_name_collision_is_skipped() {
    let out = flat("Idle@2 :: Idle; Idle -> Discard;");
    assert!(out.contains("Idle@3 :: Idle;"), "{out}");
}

#[test]
fn inline_declarations_and_ports() {
    assert_eq!(
        flat("a :: Tee [1] -> [0] q :: Queue; a [0] -> Discard"),
        // Connections sort by destination, so the one into q (element 1) prints first.
        "a :: Tee;\nq :: Queue;\nDiscard@3 :: Discard;\n\na [1] -> q;\na -> Discard@3;\n"
    );
}

#[test]
fn one_to_many_and_many_to_one() {
    let c = connections("a :: Tee; a -> b :: Idle, c :: Idle; d :: Idle; b, c -> d;");
    assert_eq!(c, ["a[0] -> [0]b", "a[0] -> [0]c", "b[0] -> [0]d", "c[0] -> [0]d"]);
}

#[test]
fn many_to_many_with_ranges_and_expansion() {
    let c = connections("a, b :: Idle; a [0-2] => [1-3] b; c, d, e :: Idle; c [] => d, e, d");
    assert_eq!(c, ["a[0] -> [1]b", "a[1] -> [2]b", "a[2] -> [3]b", "c[0] -> [0]d", "c[2] -> [0]d", "c[1] -> [0]e"]);
}

#[test]
fn compound_with_formals_keywords_and_rest() {
    let src = "elementclass F { $x, KW $k, __REST__ $r | input -> Print(\"$x $k $r\") -> output }
               Idle -> F(1, KW two, more, args) -> Discard";
    let out = flat(src);
    assert!(out.contains("F@2/Print@1 :: Print(\"1 two more, args\");"), "{out}");
    assert!(out.contains("Idle@1 -> F@2/Print@1\n    -> Discard@3;"), "{out}");
}

#[test]
fn overloads_by_ports_and_extension() {
    let src = "elementclass F { input -> Print(in) -> output || Print(none) }
               elementclass F { $a | Print($a) || ... }
               F(one); Idle -> F -> Discard; F;";
    let out = flat(src);
    assert!(out.contains("F@1/Print@1 :: Print(one);"), "{out}");
    assert!(out.contains("F@3/Print@1 :: Print(in);"), "{out}");
    assert!(out.contains("F@5/Print@1 :: Print(none);"), "{out}");
}

#[test]
fn synonyms() {
    assert_eq!(flat("elementclass Sink Discard; s :: Sink"), "s :: Discard;\n\n");
}

#[test]
fn lexical_scoping_of_classes() {
    let src = "elementclass A { elementclass Inner { Idle } i :: Inner } a :: A; x :: Inner;";
    let e = errors(src);
    assert_eq!(e, ["t:1: unknown element class 'Inner'"]);
}

#[test]
fn groups_and_anonymous_compounds() {
    let out = flat("a, b :: Idle; a -> ( -> Print(g) -> ) -> b; a [1] -> { -> Print(c) -> } -> [1] b");
    assert!(out.contains("a -> Print@"), "{out}");
    assert!(out.contains("a [1] -> @"), "{out}");
}

#[test]
fn define_and_command_line_values() {
    let src = "define($N 5, $M x); Print($N $M ${N-3} ${Z-dflt} '$N')";
    let out = flat(src);
    assert!(out.contains("Print(5 x 5 dflt '$N')"), "{out}");
    let opts = Options { is_primitive: Some(&known), globals: vec![("N".into(), "9".into())], ..Options::default() };
    let o = read(src, "t", &opts);
    assert!(unparse(&o.flat).contains("Print(9 x 9 dflt '$N')"));
}

#[test]
fn line_directives_set_landmarks() {
    let e = errors("# 10 \"other.click\"\nx :: Idle;\n# 3 \"main.click\"\nx :: Idle;");
    assert_eq!(
        e,
        ["main.click:3: redeclaration of element 'x'", "other.click:10: element 'x' previously declared here"]
    );
}

#[test]
fn requirements_are_kept() {
    let opts = Options { is_primitive: Some(&known), ..Options::default() };
    let out = read("require(compact_config, package foo); Idle", "t", &opts);
    assert!(out.compact_config);
    assert_eq!(unparse(&out.flat), "require(compact_config, package foo);\n\nIdle@1 :: Idle;\n\n");
}

struct MapLoader;
impl Loader for MapLoader {
    fn load(&self, name: &str, dir: &str) -> Result<(String, String), String> {
        let path = format!("{dir}/{name}");
        match path.as_str() {
            "./lib" => Ok((path, "require(library lib); elementclass L { Idle }".into())),
            _ => Err("no".into()),
        }
    }
}

#[test]
fn libraries_load_once() {
    let opts = Options { is_primitive: Some(&known), loader: Some(&MapLoader), ..Options::default() };
    let out = read("require(library lib, library lib); l :: L", "main", &opts);
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    assert_eq!(unparse(&out.flat), "l/Idle@1 :: Idle;\n\n");
    let out = read("require(library nope)", "main", &opts);
    assert_eq!(out.diagnostics[0].click_text(), "main:1: library 'nope' not found in CLICKPATH/conf\n");
}

#[test]
fn errors_in_clicks_words() {
    assert_eq!(
        errors("x :: Idle; x :: Idle;"),
        ["t:1: redeclaration of element 'x'", "t:1: element 'x' previously declared here"]
    );
    assert_eq!(errors("x -> Discard"), ["t:1: undeclared element 'x'"]);
    assert_eq!(errors("x :: Nope"), ["t:1: unknown element class 'Nope'"]);
    assert_eq!(errors("Idle :: Discard"), ["t:1: class 'Idle' used as element name"]);
    assert_eq!(errors("x :: Idle; x(3) -> Discard"), ["t:1: configuration string ignored on element reference"]);
    assert_eq!(errors("1 :: Idle"), ["t:1: element name '1' has all-digit component"]);
    assert_eq!(
        errors("a, b :: Idle; a [0,1] => [0,1,2] b"),
        ["t:1: connection mismatch: 2 outputs connected to 3 inputs"]
    );
    assert_eq!(errors("a, b :: Idle; a [] => [] b"), ["t:1: at most one expandable port allowed per connection"]);
    assert_eq!(
        errors("a, b :: Idle; a [0,1] -> [0,1] b"),
        ["t:1: syntax error: many-to-many connections require '=>'"]
    );
    assert_eq!(
        errors("elementclass F { input -> output || $a | input -> output } F -> Idle"),
        [
            "t:1: no match for 'F[0 inputs, 1 output]'",
            "t:1: candidates are:",
            "t:1:   F[1 input, 1 output]",
            "t:1:   F(<arg>)[1 input, 1 output]",
            // As Click, it goes on with the closest candidate.
            "t:1: 'F@1' input 0 unused"
        ]
    );
    assert_eq!(errors("elementclass F { input -> output } F -> Idle"), ["t:1: 'F@1' input 0 unused"]);
    assert_eq!(
        errors("elementclass F { output -> Idle }"),
        ["t:1: 'F' pseudoelement 'output' may only be used as input"]
    );
    assert_eq!(errors("elementclass F { input [1] -> Idle }"), ["t:1: 'F' input 0 missing"]);
    assert_eq!(
        errors("elementclass F { ... }"),
        // Click checks the class before the placement of '...'.
        ["t:1: cannot extend unknown element class 'F'", "t:1: '...' should occur last, after one or more compounds"]
    );
    assert_eq!(errors("define(x 1)"), ["t:1: bad 'define' declaration: not a variable"]);
    assert_eq!(errors("require(a b c)"), ["t:1: syntax error at requirement"]);
    assert_eq!(errors("elementclass F { require(library x) }"), ["t:1: 'require library' must be used at file scope"]);
}

#[test]
fn syntax_and_meaning_errors_come_in_source_order() {
    assert_eq!(
        errors("x :: Idle;\nx :: Idle;\na -> ;\ny :: Nope;"),
        [
            "t:2: redeclaration of element 'x'",
            "t:1: element 'x' previously declared here",
            "t:3: undeclared element 'a'",
            "t:3: syntax error near ';'",
            "t:4: unknown element class 'Nope'"
        ]
    );
}

#[test]
fn tool_mode_invents_classes() {
    assert!(tool_errors("A -> B").is_empty());
    assert_eq!(
        tool_errors("elementclass F { A :: A -> B } A :: Idle"),
        ["t:1: class 'A' used as element name", "t:1: class 'A' used as element name"]
    );
}

#[test]
fn exponential_configs_are_refused_not_built() {
    let mut src = String::from("elementclass A0 { Idle }\n");
    for i in 1..40 {
        src.push_str(&format!("elementclass A{i} {{ A{p}; A{p} }}\n", p = i - 1));
    }
    src.push_str("A39;\n");
    let opts = Options { is_primitive: Some(&known), max_elements: 10_000, ..Options::default() };
    let out = read(&src, "t", &opts);
    let e: Vec<String> = out.diagnostics.iter().map(|d| d.click_text()).collect();
    assert!(e.iter().any(|m| m.contains("configuration too large (more than 10000 elements)")), "{e:?}");
}

#[test]
fn garbage_never_panics() {
    for src in [
        "",
        ";;;",
        "->",
        "=>",
        "[",
        "]",
        "a [",
        "a [1",
        "a -> [",
        "{",
        "}",
        "(",
        ")",
        "a :: {",
        "elementclass",
        "elementclass A",
        "elementclass A {",
        "a, , b",
        "a -> -> b",
        "$x",
        "${",
        "require(",
        "define($",
        "a :: Idle(",
        "a::Idle[0-]->b",
        "a [99999999999] -> b",
        "(((((",
        "{{{{{",
        "|| ... ||",
        "\u{fffd}\u{1}\u{0}",
        "elementclass F { $a | $a :: Idle } F(1)",
        "elementclass F { input -> input }  F",
        "a :: Idle; a -> ( -> ( -> ( -> ) -> ) -> ) -> a",
    ] {
        let _ = errors(src);
        let _ = tool_errors(src);
    }
}
