//! Section-by-section parsing of large configuration files (`config::sections`): the same
//! `toml::Table` as the whole-document parse for every valid document, and for invalid ones the
//! whole-document parse's error, reported exactly as before.
//!
//! The equality tests call `sections::parse_sections` (the fast path alone, whatever the size)
//! and require that it was taken, so a passing test cannot be the fallback comparing the
//! whole-document parse with itself.

use crate::support::root;
use hiatus::config::{self, sections};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use toml::Table;

/// `text` must take the fast path and give the whole-document parse: equal, keys in the same order.
fn same_by_sections(name: &str, text: &str) -> Table {
    let whole: Table = match text.parse() {
        Ok(t) => t,
        Err(e) => panic!("{name}: not valid TOML: {e}\n{text}"),
    };
    let Some(fast) = sections::parse_sections(text) else {
        panic!("{name}: the fast path refused a plain document:\n{text}")
    };
    assert_eq!(fast, whole, "{name}");
    assert_eq!(format!("{fast:?}"), format!("{whole:?}"), "{name}: key order");
    fast
}

/// `text` must be refused by the fast path; `sections::parse` still gives the whole parse.
fn same_by_fallback(name: &str, text: &str) {
    assert!(text.len() >= sections::MIN_LEN, "{name}: too small to try sections ({} bytes)", text.len());
    assert!(sections::parse_sections(text).is_none(), "{name}: the fast path must refuse this document");
    let whole = text.parse::<Table>();
    match (sections::parse(text), whole) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{name}"),
        (Err(a), Err(b)) => {
            assert_eq!(a.message(), b.message(), "{name}");
            assert_eq!(a.span(), b.span(), "{name}");
        }
        (a, b) => panic!("{name}: sections gave {a:?}, the whole document {b:?}"),
    }
}

/// The lines of section headers the scanner found (1-based), `[[`-headers marked with `*`.
fn header_lines(text: &str) -> Vec<String> {
    let Some(headers) = sections::headers(text) else { panic!("the scanner gave up on:\n{text}") };
    headers
        .iter()
        .map(|h| {
            let line = text[..h.start].matches('\n').count() + 1;
            format!("{line}{}", if h.array { "*" } else { "" })
        })
        .collect()
}

/// `n` plain tenants, as `[[tenants]]` blocks (about 100 bytes each).
fn tenants(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|k| {
            format!("[[tenants]]\nid = \"t{k:05}\"\nhosts = [\"t{k:05}.bench.localhost\"]\nupstreams = [\"127.0.0.1:18080\"]\n\n")
        })
        .collect()
}

const HEAD: &str = "[defaults]\nzone = \"UTC\"\n\n[gateway]\nlisten = [\"127.0.0.1:18031\"]\n\n";

/// Every `.toml` file under `dir`, recursively.
fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => panic!("{}: {e}", dir.display()),
    };
    for entry in entries.map(|e| e.expect("directory entry")) {
        let path = entry.path();
        if path.is_dir() {
            toml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

/// `@NAME@` placeholders (benches/load) replaced by `1`.
fn fill_placeholders(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match after.find('@') {
            Some(end) if end > 0 && after[..end].bytes().all(|c| c.is_ascii_uppercase() || c == b'_') => {
                out.push('1');
                rest = &after[end + 1..];
            }
            _ => {
                out.push('@');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn shipped_configurations_parse_the_same_by_sections() {
    let mut files = Vec::new();
    for dir in ["config", "tests/fixtures"] {
        toml_files(&root().join(dir), &mut files);
    }
    toml_files(&root().join("benches/load"), &mut files);
    files.sort();
    let (mut valid, mut invalid) = (0, 0);
    for path in &files {
        let name = path.display().to_string();
        let raw = std::fs::read_to_string(path).expect("readable");
        let text = fill_placeholders(&raw);
        assert!(!text.contains("@PASS_PORT@") && !text.contains("@ADMIN@"), "{name}: placeholders left");
        if text.parse::<Table>().is_ok() {
            same_by_sections(&name, &text);
            valid += 1;
        } else {
            // tests/fixtures/bad/broken.toml is invalid on purpose.
            assert!(sections::parse_sections(&text).is_none(), "{name}: invalid, yet the fast path accepted it");
            invalid += 1;
        }
    }
    assert!(valid >= 9 && invalid == 1, "{valid} valid and {invalid} invalid files in {files:#?}");
}

#[test]
fn a_generated_2000_tenant_configuration_parses_and_loads_the_same() {
    let mut text = HEAD.to_string();
    for k in 0..2000 {
        text.push_str(&tenants(k, 1));
        // The first 1000 tenants run on (parsed in several chunks); the others are interleaved
        // with a dotted sub-table of the tenant just opened and a window with its rule table.
        if k >= 1000 && k % 10 == 0 {
            text.push_str(&format!("[tenants.health]\npath = \"/health/{k}\"\ninterval = \"5s\"\n\n"));
            text.push_str(&format!(
                "[[windows]]\nid = \"w{k:05}\"\nscope = {{ tenants = [\"t{k:05}\"] }}\n[windows.once]\nstart = \"2030-01-01T00:00\"\nend = \"2030-01-01T01:00\"\n\n"
            ));
        }
    }
    assert!(text.len() > sections::MIN_LEN);
    assert_eq!(header_lines(&text).len(), 2 + 2000 + 100);
    let table = same_by_sections("2000 tenants", &text);
    assert_eq!(table["tenants"].as_array().map(Vec::len), Some(2000));
    assert_eq!(table["windows"].as_array().map(Vec::len), Some(100));
    // Through the configuration loader (which now parses by sections): everything is there.
    let loaded = match config::load_str(&text, "t.toml", &root()) {
        Ok(l) => l,
        Err(report) => panic!("should load:\n{report}"),
    };
    assert_eq!(loaded.config.tenants.len(), 2000);
    assert_eq!(loaded.config.windows.len(), 100);
}

/// Documents that look like more (or fewer) sections than they have, each with the lines of the
/// headers where it must be cut (`*` for `[[…]]`).
#[test]
fn crafted_documents_are_cut_only_at_top_level_one_key_headers() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "[[tenants]] inside a multi-line basic string, with escaped quotes",
            "[[tenants]]\nid = \"a\"\nnote = \"\"\"\n[[tenants]]\nid = \\\"\"\"fake\n[gateway]\n\"\"\"\"\"\n[[tenants]]\nid = \"b\"\n",
            &["1*", "8*"],
        ),
        (
            "[[tenants]] inside a multi-line literal string",
            "[[tenants]]\nid = 'a'\nnote = '''\n[[tenants]]\nid = \"fake\" C:\\\n[gateway]\n'''''\n[[tenants]]\nid = 'b'\n",
            &["1*", "8*"],
        ),
        (
            "headers inside one-line strings and quoted keys",
            "a = \"x\\\"\\\\\"\nb = '[[tenants]]\\'\n\"[c]\" = 1\n[[tenants]]\nid = \"[[tenants]]\"\n",
            &["4*"],
        ),
        (
            "commented headers",
            "# [[tenants]]\n#[gateway]\n[[tenants]]\nid = \"a\" # [[tenants]]\n  # [gateway]\n[[tenants]]\nid = \"b\"\n",
            &["3*", "6*"],
        ),
        (
            "a nested array whose lines start with [[",
            "[[tenants]]\nid = \"a\"\nmatrix = [\n[[1, 2], [3]],\n[[4]],\n  [\n[5]],\n]\nmap = { a = [\n[1]] }\n[[tenants]]\nid = \"b\"\n",
            &["1*", "11*"],
        ),
        (
            "[[windows]] followed by [windows.once] and other dotted headers",
            "[[windows]]\nid = \"a\"\n[windows.once]\nstart = \"2030-01-01T00:00\"\n[[windows.also]]\nx = 1\n[ windows . \"daily\" ]\nat = \"01:00\"\n[[windows]]\nid = \"b\"\n[windows.once]\nstart = \"2030-01-02T00:00\"\n",
            &["1*", "9*"],
        ),
        (
            "dotted root keys",
            "gateway.listen = [\"127.0.0.1:1\"]\ngateway . threads = 2\ndefaults.zone = \"UTC\"\n[[tenants]]\nid = \"a\"\n",
            &["4*"],
        ),
        (
            "quoted header keys, one key as bare and quoted",
            "[[\"tenants\"]]\nid = \"a\"\n[['tenants']]\nid = \"b\"\n[[tenants]]\nid = \"c\"\n[\"gateway\"]\nthreads = 1\n[\"a.b\"]\nx = 1\n[ 'c d' ]\ny = 2\n",
            &["1*", "3*", "5*", "7", "9", "11"],
        ),
        (
            "CRLF line endings",
            "[defaults]\r\nzone = \"UTC\"\r\n\r\n[[tenants]]\r\nid = \"a\"\r\nnote = \"\"\"\r\n[[tenants]]\r\n\"\"\"\r\n[tenants.health]\r\npath = \"/\"\r\n[[tenants]]\r\nid = \"b\"\r\n",
            &["1", "4*", "11*"],
        ),
        (
            "headers with trailing comments and spaces",
            "[gateway]  # the gateway\t\nthreads = 1\n[[tenants]]  # x\nid = \"a\"\n[[tenants]]\t \nid = \"b\"\n[[ tenants ]]#\nid = \"c\"\n",
            &["1", "3*", "5*", "7*"],
        ),
        (
            "whitespace before headers",
            "  [defaults]\nzone = \"UTC\"\n\t[[tenants]]\nid = \"a\"\n \t [[tenants]]\nid = \"b\"\n    [tenants.health]\npath = \"/\"\n",
            &["1", "3*", "5*"],
        ),
        ("no headers at all", "a = 1\nb = [\n[1],\n]\n", &[]),
        ("empty sections", "[defaults]\n[gateway]\n[[tenants]]\n[[tenants]]\n", &["1", "2", "3*", "4*"]),
        (
            "tables of tables in an element",
            "[[tenants]]\nid = \"a\"\n[tenants.health]\npath = \"/\"\n[[tenants.routes]]\np = 1\n[[tenants.routes]]\np = 2\n[[tenants]]\nid = \"b\"\n[[tenants.routes]]\np = 3\n",
            &["1*", "9*"],
        ),
    ];
    for (name, text, expected) in cases {
        assert_eq!(header_lines(text), *expected, "{name}:\n{text}");
        same_by_sections(name, text);
    }
}

/// Valid documents the merge cannot vouch for: the fast path refuses them, the whole parse
/// decides (and `sections::parse` gives its result).
#[test]
fn unusual_valid_documents_fall_back_to_the_whole_parse() {
    let many = tenants(0, 1000);
    let cases = [
        // A table's sub-table before the table itself: `gateway` exists when [gateway] comes.
        (
            "[gateway.health] before [gateway]",
            format!("[gateway.health]\npath = \"/\"\n{many}[gateway]\nthreads = 1\n"),
        ),
        // A sub-table of [gateway] after other sections: the [[tenants]] section defines `gateway`.
        (
            "[gateway.health] after [[tenants]]",
            format!("[gateway]\nthreads = 1\n{many}[gateway.health]\npath = \"/\"\n"),
        ),
        // [tenants.health] after [defaults] is the last tenant's: the section defines `tenants`.
        (
            "[tenants.health] after [defaults]",
            format!("{many}[defaults]\nzone = \"UTC\"\n[tenants.health]\npath = \"/\"\n"),
        ),
    ];
    for (name, text) in &cases {
        assert!(text.parse::<Table>().is_ok(), "{name}: valid TOML");
        same_by_fallback(name, text);
    }
}

/// What the configuration loader reported before sections existed: the whole parse's error.
fn whole_parse_report(text: &str) -> String {
    let e = text.parse::<Table>().expect_err("invalid TOML");
    let start = e.span().expect("an error position").start;
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("error: t.toml:{line}:{column}: not valid TOML: {}\n", e.message().trim())
}

#[test]
fn invalid_large_documents_are_reported_exactly_as_before() {
    let deep_error = {
        let mut t = format!("{HEAD}{}", tenants(0, 499));
        t.push_str(
            "[[tenants]]\nid = \"t00499\"\nhosts = [\"t00499.bench.localhost\"]\nupstreams = 127.0.0.1:18080\n\n",
        );
        t.push_str(&tenants(500, 500));
        t
    };
    let deep_string = {
        let mut t = format!("{HEAD}{}", tenants(0, 499));
        t.push_str("[[tenants]]\nid = \"t00499\nhosts = [\"t00499.bench.localhost\"]\n\n");
        t.push_str(&tenants(500, 500));
        t
    };
    let cases = [
        ("duplicate [gateway]", format!("{HEAD}{}[gateway]\nthreads = 1\n", tenants(0, 1000)), None),
        (
            "tenants = [...] and [[tenants]]",
            // At the root (after HEAD it would be `gateway.tenants`).
            format!(
                "tenants = [{{ id = \"x\", hosts = [\"x.localhost\"], upstreams = [\"127.0.0.1:1\"] }}]\n{HEAD}{}",
                tenants(0, 1000)
            ),
            None,
        ),
        ("a syntax error in the 500th tenant", deep_error, Some("t.toml:2505:18")),
        ("an unterminated string in the 500th tenant", deep_string, Some("t.toml:2503:13")),
    ];
    for (name, text, at) in &cases {
        assert!(text.len() >= sections::MIN_LEN, "{name}: too small to try sections");
        assert!(sections::parse_sections(text).is_none(), "{name}: the fast path must refuse it");
        let expected = whole_parse_report(text);
        if let Some(at) = at {
            assert!(expected.contains(&format!("error: {at}: ")), "{name}: {expected}");
        }
        match config::load_str(text, "t.toml", &root()) {
            Ok(_) => panic!("{name}: must be refused"),
            Err(report) => assert_eq!(report.to_string(), expected, "{name}"),
        }
    }
}

/// Pieces of a random document. Tenants and windows vary in the ways that trip a scanner.
#[derive(Debug, Clone)]
enum Piece {
    Tenant(u8),
    Window(bool),
    /// `[defaults]`, `[gateway]` (with a `[gateway.health]`) or `[extra]`: twice is invalid.
    Table(u8),
    /// `[gateway.limits]` in whatever section precedes it: valid, but not always sectionable.
    Orphan,
    /// `id =` without a value.
    Broken,
}

const TABLES: [&str; 3] = ["defaults", "gateway", "extra"];

fn render(root: u8, pieces: &[Piece], indent: bool) -> String {
    let pad = if indent { "  " } else { "" };
    let mut out = match root {
        0 => String::new(),
        1 => "title = \"x\" # [[tenants]]\n".to_string(),
        2 => "meta.a = 1\nmeta . b = 'x'\n".to_string(),
        3 => "grid = [\n[[1], [2]],\n[3],\n]\n".to_string(),
        _ => "gateway.listen = [\"127.0.0.1:1\"]\n".to_string(),
    };
    for (i, piece) in pieces.iter().enumerate() {
        match piece {
            Piece::Tenant(v) => {
                let head = match v {
                    1 => "[[tenants]]  # x".to_string(),
                    2 => format!("{pad}[[tenants]]"),
                    3 => "[[\"tenants\"]]".to_string(),
                    _ => "[[tenants]]".to_string(),
                };
                out.push_str(&format!("{head}\nid = \"t{i}\"\n"));
                match v {
                    4 => out.push_str("note = \"\"\"\n[[tenants]]\n\\\"\"\"[gateway]\n\"\"\"\n"),
                    5 => out.push_str("note = '''\n[[tenants]]\n[defaults]\\'''\n"),
                    6 => out.push_str("matrix = [\n[[1, 2]],\n  [[3]],\n]\n"),
                    7 => out.push_str("[tenants.health]\npath = \"/\"\n[[tenants.routes]]\np = 1\n"),
                    8 => out.push_str("# [[tenants]]\n#[extra]\nname = \"# [gateway]\"\n"),
                    _ => {}
                }
            }
            Piece::Window(quoted) => {
                let head = if *quoted { "[['windows']]" } else { "[[windows]]" };
                out.push_str(&format!("{head}\nid = \"w{i}\"\n[windows.once]\nstart = 2030-01-01T00:00:00Z\n"));
            }
            Piece::Table(t) => {
                let name = TABLES[usize::from(*t) % TABLES.len()];
                out.push_str(&format!("{pad}[{name}]\nk{i} = {i}\n"));
                if name == "gateway" {
                    out.push_str("[gateway.health]\npath = \"/\"\n");
                }
            }
            Piece::Orphan => out.push_str("[gateway.limits]\nmax = 1\n"),
            Piece::Broken => out.push_str("[[tenants]]\nid =\n"),
        }
        out.push('\n');
    }
    out
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        6 => (0u8..9).prop_map(Piece::Tenant),
        2 => any::<bool>().prop_map(Piece::Window),
        2 => (0u8..3).prop_map(Piece::Table),
        1 => Just(Piece::Orphan),
        1 => Just(Piece::Broken),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random documents: the fast path gives the whole parse or refuses; it refuses every
    /// invalid document, and takes every document without the pieces that make it unusual.
    #[test]
    fn random_documents_parse_the_same_by_sections(
        root in 0u8..5,
        pieces in prop::collection::vec(piece(), 0..12),
        indent in any::<bool>(),
        crlf in any::<bool>(),
    ) {
        let mut text = render(root, &pieces, indent);
        if crlf {
            text = text.replace('\n', "\r\n");
        }
        let mut tables: Vec<u8> = pieces.iter().filter_map(|p| match p { Piece::Table(t) => Some(*t), _ => None }).collect();
        let count = tables.len();
        tables.sort_unstable();
        tables.dedup();
        let plain = !pieces.iter().any(|p| matches!(p, Piece::Orphan | Piece::Broken))
            && tables.len() == count
            && !(root == 4 && tables.contains(&1));
        let whole = text.parse::<Table>();
        let fast = sections::parse_sections(&text);
        match &whole {
            Ok(w) => {
                if let Some(f) = &fast {
                    prop_assert_eq!(f, w);
                    prop_assert_eq!(format!("{f:?}"), format!("{w:?}"));
                }
                prop_assert!(!plain || fast.is_some(), "the fast path refused a plain document:\n{}", text);
            }
            Err(e) => {
                prop_assert!(fast.is_none(), "invalid ({}), yet the fast path accepted:\n{}", e, text);
                prop_assert!(!plain, "a plain document is invalid ({}):\n{}", e, text);
            }
        }
    }
}
