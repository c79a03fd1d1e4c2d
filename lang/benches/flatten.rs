//! Parse + flatten a generated configuration of N tenants, each a 10-element
//! compound (the consolidation shape): `cargo bench -p oxclick-lang`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use oxclick_lang::{Options, read};

const CLASSES: &[&str] =
    &["Classifier", "Counter", "Queue", "Unqueue", "Paint", "Strip", "Unstrip", "Discard", "Idle", "Tee"];

/// `tenants` instances of a 10-element compound, fanned out from one classifier.
pub fn tenants_config(tenants: usize) -> String {
    let mut s = String::from(
        "elementclass Tenant { $id |\n  input -> Strip(14) -> c :: Counter -> Paint($id) -> q :: Queue(100)\n    -> Unqueue -> Unstrip(14) -> t :: Tee -> out :: Counter -> output;\n  t [1] -> Discard;\n}\n",
    );
    s.push_str("src :: Idle -> demux :: Classifier(");
    for i in 0..tenants {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&format!("30/{:08x}", i));
    }
    s.push_str(");\nsink :: Discard;\n");
    for i in 0..tenants {
        s.push_str(&format!("demux [{i}] -> tenant{i} :: Tenant({}) -> sink;\n", i % 256));
    }
    s
}

fn bench(c: &mut Criterion) {
    let known = |n: &str| CLASSES.contains(&n);
    let mut g = c.benchmark_group("parse+flatten");
    g.sample_size(20);
    for tenants in [100usize, 1_000, 2_000] {
        let text = tenants_config(tenants);
        g.throughput(Throughput::Elements((tenants * 10) as u64));
        g.bench_with_input(BenchmarkId::from_parameter(tenants * 10), &text, |b, text| {
            b.iter(|| {
                let opts = Options { is_primitive: Some(&known), ..Options::default() };
                let out = read(text, "tenants.click", &opts);
                assert!(out.diagnostics.is_empty());
                out.flat.elements.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
