//! Embeds `tauri.conf.json`, the capabilities and `ui/dist` into the shell.

fn main() {
    tauri_build::build();
}
