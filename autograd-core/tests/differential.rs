//! The differential test against PyTorch: 1,300 random autograd programs from one grammar
//! (`tools/difftest/generate.py`), with the exact text real PyTorch 2.15 printed for each
//! (`tests/fixtures/difftest/programs.json`, recorded by `tools/difftest/record_torch.py`).
//! Each program runs here through the public API (`difftest/interp.rs`) and its output must
//! be PyTorch's, byte for byte.
//!
//! A program that differs must be listed in `tests/fixtures/difftest/accepted.json`: under
//! `language_differences` (a real Rust-vs-Python difference, with why) or `known_defects`
//! (still to fix, with a one-line reason). A listed known defect that passes now fails the
//! test too, so the list only shrinks. The summary (matched / mismatched / unsupported, by
//! category and by statement kind) is printed; every mismatch with its Python and Rust source
//! and both outputs goes to `difftest-report.txt` in the target's tmp dir.
//!
//! Environment:
//! - `DIFFTEST_ONLY=p0001,p0002`: run only these programs (no accepted-list check);
//! - `DIFFTEST_FIXTURE=/tmp/fresh.json`: run another recording instead (e.g. a fresh seed made
//!   with `record_torch.py --seed 12 --out /tmp/fresh.json`) and only report the match rate;
//! - `DIFFTEST_UPDATE_KNOWN=1`: rewrite `known_defects` with today's failures (reasons kept for
//!   programs already listed, a generated one for new ones); review the diff before committing.

#[path = "difftest/interp.rs"]
mod interp;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use interp::{kinds, quietly, run_program, Outcome};
use serde_json::{json, Value};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/difftest")
}

fn load(name: &str) -> Value {
    let path = fixture_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Why a program's output differs, from the first observation that differs.
fn category(program: &Value, ours: &Outcome) -> String {
    let torch = program["torch"].as_str().unwrap_or_default();
    let (observations, error) = match ours {
        Outcome::Unsupported { what, .. } => return format!("unsupported: {what}"),
        Outcome::Ran { observations, error } => (observations, error),
    };
    // walk our observations along torch's text
    let mut rest = torch;
    for (what, text) in observations {
        let line = format!("{text}\n");
        if let Some(after) = rest.strip_prefix(line.as_str()) {
            rest = after;
            continue;
        }
        if is_only_error(rest) {
            return "torch raised, we ran".to_string();
        }
        return match what.as_str() {
            "value" => {
                let theirs = first_observation_like(rest, text);
                if strip_suffixes(&theirs) == strip_suffixes(text) {
                    if theirs.contains("grad_fn=") || text.contains("grad_fn=") {
                        "name diff (grad_fn in repr)".to_string()
                    } else {
                        "flag diff (requires_grad in repr)".to_string()
                    }
                } else {
                    "value diff".to_string()
                }
            }
            "grad" => "grad diff".to_string(),
            "grad_fn" | "next_functions" => "name diff".to_string(),
            "requires_grad" | "is_leaf" => "flag diff".to_string(),
            other => format!("{other} diff"),
        };
    }
    match (is_only_error(rest), error) {
        (true, None) => "torch raised, we ran".to_string(),
        (false, Some(_)) if rest.is_empty() => "we raised, torch ran".to_string(),
        (false, Some(_)) => "we raised, torch ran".to_string(),
        (true, Some(e)) => {
            let theirs = rest.trim_end_matches('\n');
            let kind = theirs.split(':').next().unwrap_or_default();
            if kind != e.kind.name() {
                "error type diff".to_string()
            } else {
                "error message diff".to_string()
            }
        }
        (false, None) => "torch printed more".to_string(),
    }
}

/// The text is a single `Kind: message` (possibly over several lines) and nothing else.
fn is_only_error(rest: &str) -> bool {
    torch_error_line(rest).is_some()
}

fn torch_error_line(rest: &str) -> Option<&str> {
    let head = rest.split(':').next()?;
    let is_kind = !head.is_empty()
        && head.chars().all(|c| c.is_ascii_alphanumeric())
        && (head.ends_with("Error") || head.ends_with("Exception"));
    is_kind.then_some(rest)
}

/// torch's observation at the head of `rest`, as many lines as ours has.
fn first_observation_like(rest: &str, ours: &str) -> String {
    let n = ours.lines().count().max(1);
    rest.lines().take(n).collect::<Vec<_>>().join("\n")
}

/// A repr without its `, grad_fn=<..>` / `, requires_grad=True` suffixes.
fn strip_suffixes(text: &str) -> String {
    let mut t = text.to_string();
    if let Some(i) = t.find(", grad_fn=<") {
        t.truncate(i);
    }
    if let Some(i) = t.find(", requires_grad=True") {
        t.truncate(i);
    }
    t.trim_end_matches(')').to_string()
}

fn first_diff_line(torch: &str, ours: &str) -> String {
    for (a, b) in torch.lines().zip(ours.lines()) {
        if a != b {
            return format!("torch `{a}` vs ours `{b}`");
        }
    }
    let (t, o) = (torch.lines().count(), ours.lines().count());
    if t > o {
        format!("torch printed more: `{}`", torch.lines().nth(o).unwrap_or_default())
    } else {
        format!("we printed more: `{}`", ours.lines().nth(t).unwrap_or_default())
    }
}

struct Accepted {
    language: BTreeMap<String, String>,
    known: BTreeMap<String, String>,
}

/// Reads and checks `accepted.json`: exactly the keys `about`, `language_differences`,
/// `known_defects`; each entry `{"id": <a program of the fixture>, "why"/"reason": <text>}`;
/// no id twice.
fn load_accepted(ids: &BTreeSet<String>) -> Accepted {
    let accepted = load("accepted.json");
    let obj = accepted.as_object().expect("accepted.json: an object");
    let keys: BTreeSet<&str> = obj.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["about", "language_differences", "known_defects"]),
        "accepted.json: the keys are about, language_differences, known_defects"
    );
    let mut seen = BTreeSet::new();
    let mut section = |name: &str, text_key: &str| -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for entry in obj[name].as_array().unwrap_or_else(|| panic!("accepted.json: {name} is a list")) {
            let e = entry
                .as_object()
                .unwrap_or_else(|| panic!("accepted.json: {name}: {entry} is not an object"));
            let entry_keys: BTreeSet<&str> = e.keys().map(String::as_str).collect();
            assert_eq!(
                entry_keys,
                BTreeSet::from(["id", text_key]),
                "accepted.json: {name}: {entry} needs exactly id and {text_key}"
            );
            let id = e["id"].as_str().unwrap_or_else(|| panic!("accepted.json: {entry}: id is a string"));
            let text = e[text_key]
                .as_str()
                .unwrap_or_else(|| panic!("accepted.json: {entry}: {text_key} is a string"));
            assert!(ids.contains(id), "accepted.json: {name}: no program {id} in programs.json");
            assert!(text.trim().len() >= 10, "accepted.json: {name}: {id} needs a real {text_key}");
            assert!(!text.contains('\n'), "accepted.json: {name}: {id}: one line");
            assert!(seen.insert(id.to_string()), "accepted.json: {id} is listed twice");
            out.insert(id.to_string(), text.to_string());
        }
        out
    };
    let language = section("language_differences", "why");
    let known = section("known_defects", "reason");
    Accepted { language, known }
}

/// Held by each test that runs programs: they seed the process's one random generator.
static RUNNING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The MKL kernel set and thread count `fixture` was recorded with, then `f`.
fn as_recorded(fixture: &Value, f: impl FnOnce() + Send) {
    // recorded on an Intel CPU with AVX-512: MKL's products take that kernel set's order
    // (on another CPU too, e.g. an AVX2-only AMD one where ours would follow MKL's AVX2 order)
    autograd_core::ops::linalg::set_mkl_kernels(autograd_core::ops::linalg::MklKernels::Avx512);
    // torch's threads when it recorded (a few kernels split even small tensors over them)
    let threads = fixture["generator"]["threads"].as_u64().unwrap_or(2) as usize;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool");
    pool.install(f);
}

#[test]
fn programs_match_pytorch() {
    let _running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    let other_fixture = std::env::var("DIFFTEST_FIXTURE").ok();
    let fixture = match &other_fixture {
        Some(path) => {
            serde_json::from_str(&std::fs::read_to_string(path).expect("DIFFTEST_FIXTURE")).expect("JSON")
        }
        None => load("programs.json"),
    };
    as_recorded(&fixture, || check_programs(&fixture, other_fixture.is_some()));
}

/// Programs on big tensors (`tests/fixtures/difftest/big.json`: `record_torch.py --seed 80801
/// --count 200 --theme big`, 100 to 90,000 elements): torch's summarized printing, its
/// reduction orders past the vector width and the parallel grain, its matrix-product orders
/// for long rows and gradients that arrive expanded. Every one must match (none is accepted
/// to differ; the fixture's seed was chosen before any of its programs was looked at, and
/// all of its first 600 matched once the differences they showed were fixed).
#[test]
fn big_programs_match_pytorch() {
    let _running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    let fixture = load("big.json");
    let programs = fixture["programs"].as_array().expect("programs");
    assert!(programs.len() >= 200, "big.json holds {} programs", programs.len());
    as_recorded(&fixture, || {
        let differing: Vec<String> = quietly(|| {
            programs
                .iter()
                .filter_map(|p| {
                    let ours = run_program(p["stmts"].as_array().expect("stmts")).text();
                    let torch = p["torch"].as_str().unwrap_or_default();
                    (ours != torch).then(|| format!("{}: {}", p["id"], first_diff_line(torch, &ours)))
                })
                .collect()
        });
        assert!(
            differing.is_empty(),
            "{} big programs differ from torch:\n{}",
            differing.len(),
            differing.join("\n")
        );
    });
}

fn check_programs(fixture: &Value, fresh: bool) {
    let started = std::time::Instant::now();
    let programs = fixture["programs"].as_array().expect("programs");
    if fresh {
        // fresh programs (e.g. another seed): report only
        let results: Vec<Outcome> =
            quietly(|| programs.iter().map(|p| run_program(p["stmts"].as_array().expect("stmts"))).collect());
        let matched = programs
            .iter()
            .zip(&results)
            .filter(|(p, o)| {
                !matches!(o, Outcome::Unsupported { .. })
                    && o.text() == p["torch"].as_str().unwrap_or_default()
            })
            .count();
        // the differing ones by the category of their first difference
        let mut differing = std::collections::BTreeMap::<String, usize>::new();
        for (p, o) in programs.iter().zip(&results) {
            if o.text() != p["torch"].as_str().unwrap_or_default() {
                *differing.entry(category(p, o).to_string()).or_default() += 1;
            }
        }
        let differing: Vec<String> = differing.iter().map(|(c, n)| format!("{n} {c}")).collect();
        println!(
            "difftest: {} fresh programs: {matched} match PyTorch ({:.1}%); differing: {}",
            programs.len(),
            100.0 * matched as f64 / programs.len().max(1) as f64,
            if differing.is_empty() { "none".to_string() } else { differing.join(", ") }
        );
        // each differing program, for reading (`difftest-fresh-report.txt` in the target's tmp dir)
        let mut report = String::new();
        for (p, o) in programs.iter().zip(&results) {
            let torch = p["torch"].as_str().unwrap_or_default();
            if o.text() != torch {
                let _ = write!(
                    report,
                    "==== {} — {}\n--- python\n{}\n--- torch\n{}\n--- ours\n{}\n\n",
                    p["id"].as_str().unwrap_or_default(),
                    category(p, o),
                    p["python"].as_str().unwrap_or_default(),
                    torch,
                    o.text()
                );
            }
        }
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("difftest-fresh-report.txt");
        std::fs::write(&path, report).expect("write the fresh report");
        println!("differing programs: {}", path.display());
        return;
    }
    assert!(programs.len() >= 1000, "the fixture holds {} programs", programs.len());
    let ids: BTreeSet<String> = programs.iter().map(|p| p["id"].as_str().expect("id").to_string()).collect();
    assert_eq!(ids.len(), programs.len(), "program ids are unique");
    let accepted = load_accepted(&ids);
    let only: Option<BTreeSet<String>> =
        std::env::var("DIFFTEST_ONLY").ok().map(|s| s.split(',').map(|x| x.trim().to_string()).collect());

    let results: Vec<(&Value, Outcome)> = quietly(|| {
        programs
            .iter()
            .filter(|p| match &only {
                Some(o) => o.contains(p["id"].as_str().unwrap_or_default()),
                None => true,
            })
            .map(|p| (p, run_program(p["stmts"].as_array().expect("stmts"))))
            .collect()
    });

    let mut matched = 0;
    let mut by_category: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut by_kind: BTreeMap<String, [usize; 3]> = BTreeMap::new(); // matched, mismatched, unsupported
    let mut failing: BTreeMap<String, String> = BTreeMap::new(); // id -> category
    let mut report = String::new();
    for (p, ours) in &results {
        let id = p["id"].as_str().unwrap_or_default().to_string();
        let torch = p["torch"].as_str().unwrap_or_default();
        let text = ours.text();
        let unsupported = matches!(ours, Outcome::Unsupported { .. });
        let ok = !unsupported && text == torch;
        let slot = if ok {
            0
        } else if unsupported {
            2
        } else {
            1
        };
        let mut program_kinds: Vec<String> = kinds(p["stmts"].as_array().expect("stmts"));
        program_kinds.sort();
        program_kinds.dedup();
        for k in program_kinds {
            by_kind.entry(k).or_default()[slot] += 1;
        }
        if ok {
            matched += 1;
            continue;
        }
        let cat = category(p, ours);
        by_category.entry(cat.clone()).or_default().push(id.clone());
        let why = if unsupported {
            format!("{cat} (not in this build)")
        } else {
            format!("{cat}: {}", first_diff_line(torch, &text))
        };
        failing.insert(id.clone(), why);
        let listed = accepted
            .language
            .get(&id)
            .map(|w| format!("language difference: {w}"))
            .or_else(|| accepted.known.get(&id).map(|r| format!("known defect: {r}")));
        let _ = writeln!(
            report,
            "==== {id} ({}) — {cat}{}\n--- python\n{}--- rust\n{}--- torch\n{}--- ours\n{}",
            p["theme"].as_str().unwrap_or_default(),
            listed.map(|l| format!(" [{l}]")).unwrap_or_default(),
            p["python"].as_str().unwrap_or_default(),
            p["rust"].as_str().unwrap_or_default(),
            torch,
            text
        );
    }

    let total = results.len();
    let unsupported: usize =
        by_category.iter().filter(|(c, _)| c.starts_with("unsupported")).map(|(_, v)| v.len()).sum();
    let mut summary = format!(
        "difftest: {total} programs: {matched} match PyTorch ({:.1}%), {} mismatch, {unsupported} unsupported ({:.1} s)\n",
        100.0 * matched as f64 / total.max(1) as f64,
        total - matched - unsupported,
        started.elapsed().as_secs_f64()
    );
    summary.push_str("by category (first difference):\n");
    let mut cats: Vec<_> = by_category.iter().collect();
    cats.sort_by_key(|(c, v)| (std::cmp::Reverse(v.len()), c.to_string()));
    for (c, v) in &cats {
        let _ = writeln!(
            summary,
            "  {:5}  {c}  (e.g. {})",
            v.len(),
            v.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        );
    }
    summary.push_str("by statement kind (programs containing it: matched / mismatched / unsupported):\n");
    for (k, [m, x, u]) in &by_kind {
        let _ = writeln!(summary, "  {k:28} {m:5} {x:5} {u:5}");
    }
    let report_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("difftest-report.txt");
    std::fs::write(&report_path, format!("{summary}\n{report}")).expect("write the report");
    println!("{summary}report: {}", report_path.display());

    if only.is_some() {
        return;
    }
    if std::env::var("DIFFTEST_UPDATE_KNOWN").is_ok() {
        update_known(&accepted, &failing);
        return;
    }
    // a difference in MKL's last bits (a reason that starts "MKL's") is accepted only where
    // MKL itself is not loaded (`ops::mkl_vml`): with it, the program must match
    let with_mkl = autograd_core::ops::mkl_vml::mkl_vml_path().is_some();
    let mkl_only =
        |id: &String| with_mkl && accepted.known.get(id).is_some_and(|why| why.starts_with("MKL's"));
    let mut problems = Vec::new();
    for (id, why) in &failing {
        if !accepted.language.contains_key(id) && (!accepted.known.contains_key(id) || mkl_only(id)) {
            problems.push(format!("{id} differs from PyTorch and is not in accepted.json: {why}"));
        }
    }
    for id in accepted.known.keys().chain(accepted.language.keys()) {
        if !failing.contains_key(id) && !mkl_only(id) {
            problems.push(format!("{id} matches PyTorch now: remove it from accepted.json"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s); report: {}\n{}",
        problems.len(),
        report_path.display(),
        problems.join("\n")
    );
}

/// `DIFFTEST_UPDATE_KNOWN=1`: today's failures become the known defects.
fn update_known(accepted: &Accepted, failing: &BTreeMap<String, String>) {
    let path = fixture_dir().join("accepted.json");
    let old = load("accepted.json");
    let known: Vec<Value> = failing
        .iter()
        .filter(|(id, _)| !accepted.language.contains_key(*id))
        .map(|(id, why)| {
            let reason = accepted.known.get(id).cloned().unwrap_or_else(|| why.chars().take(200).collect());
            json!({"id": id, "reason": reason})
        })
        .collect();
    let mut text = String::from("{\n");
    let _ = writeln!(text, "\"about\": {},", old["about"]);
    let entries = |key: &str, list: &[Value]| -> String {
        if list.is_empty() {
            return format!("\"{key}\": []");
        }
        let items: Vec<String> = list.iter().map(|v| format!("  {v}")).collect();
        format!("\"{key}\": [\n{}\n]", items.join(",\n"))
    };
    let language: Vec<Value> = old["language_differences"].as_array().cloned().unwrap_or_default();
    let _ = writeln!(text, "{},", entries("language_differences", &language));
    let _ = writeln!(text, "{}", entries("known_defects", &known));
    text.push_str("}\n");
    std::fs::write(&path, text).expect("write accepted.json");
    println!("wrote {} known defects to {}", known.len(), path.display());
}

/// The accepted-differences file is itself checked: its format, and that it names only
/// programs of the fixture (the main test checks that each entry still differs).
#[test]
fn accepted_file_is_well_formed() {
    let fixture = load("programs.json");
    let ids: BTreeSet<String> = fixture["programs"]
        .as_array()
        .expect("programs")
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_string())
        .collect();
    let accepted = load_accepted(&ids);
    for why in accepted.language.values() {
        assert!(!why.starts_with("unsupported"), "a language difference is never a missing API: {why}");
    }
    // the fixture says where it came from
    let generator = &fixture["generator"];
    assert!(
        generator["seed"].is_u64()
            && generator["command"].as_str().is_some_and(|c| c.contains("record_torch.py"))
    );
    assert!(generator["torch"].as_str().is_some_and(|v| v.starts_with("2.15")));
}
