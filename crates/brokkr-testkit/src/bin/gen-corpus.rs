//! Writes the seed corpus: `cargo run -p brokkr-testkit --bin gen-corpus -- fuzztests`.
#![forbid(unsafe_code)]
//! Removes generated seeds (`*.dat`) that the generator no longer produces.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzztests".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let seeds = brokkr_testkit::corpus::seeds();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name.ends_with(".dat") && !seeds.iter().any(|(n, _)| *n == name) {
            std::fs::remove_file(&path)?;
        }
    }
    for (name, bytes) in &seeds {
        std::fs::write(dir.join(name), bytes)?;
    }
    println!("wrote {} seeds to {}", seeds.len(), dir.display());
    Ok(())
}
