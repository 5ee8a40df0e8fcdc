// Embeds the curated skills under assets/skills/<category>/<name>/SKILL.md in the binary.
use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // Read at run time, not baked in when the script was compiled: a target directory
    // copied from another checkout must embed this checkout's skills.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).join("assets/skills");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut found = Vec::new();
    if let Ok(cats) = std::fs::read_dir(&root) {
        for cat in cats.flatten() {
            println!("cargo:rerun-if-changed={}", cat.path().display());
            let Ok(skills) = std::fs::read_dir(cat.path()) else {
                continue;
            };
            for skill in skills.flatten() {
                let file = skill.path().join("SKILL.md");
                if file.is_file() {
                    println!("cargo:rerun-if-changed={}", file.display());
                    found.push((
                        cat.file_name().to_string_lossy().into_owned(),
                        skill.file_name().to_string_lossy().into_owned(),
                        file,
                    ));
                }
            }
        }
    }
    // An empty set would build an nxr that refuses every template's skills: fail here.
    assert!(
        !found.is_empty(),
        "no skills under {}: nxr embeds them from there",
        root.display()
    );
    found.sort();
    let mut out = String::from("pub static EMBEDDED: &[(&str, &str, &str)] = &[\n");
    for (cat, name, file) in &found {
        let _ = writeln!(
            out,
            "    ({cat:?}, {name:?}, include_str!({:?})),",
            file.display().to_string()
        );
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("skills.rs");
    std::fs::write(dest, out).expect("write skills.rs");
}
