//! Rewrite `docs/config.md` and `docs/brokkr.conf.5` from the option table.
//! Run from anywhere: `cargo run -p brokkr-config --bin gen-config-docs`.

use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let md = root.join(brokkr_config::docs::MARKDOWN_PATH);
    let man = root.join(brokkr_config::docs::MAN_PAGE_PATH);
    std::fs::write(&md, brokkr_config::docs::markdown())?;
    std::fs::write(&man, brokkr_config::docs::man_page())?;
    println!("wrote {} and {}", md.display(), man.display());
    Ok(())
}
