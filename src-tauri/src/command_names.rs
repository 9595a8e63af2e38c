// The name of every `#[tauri::command]` of the app, in `generate_handler!` order. Included by
// `build.rs` (each gets `allow-<name>`/`deny-<name>` permissions) and by `lib.rs` (a test checks it
// against the command specs of `ipc-types`). Plain Rust, no `use`: it is `include!`d twice.

/// Every app command, as `ipc_types::Command::NAME` spells it.
pub const COMMAND_NAMES: &[&str] = &[
    "app_info",
    "live_subscribe",
    // home and pairing
    "home",
    "trust_agent",
    "forget_agent",
    "agent_allow_unencrypted",
    "agent_add",
    "agent_check_now",
    "pairing_start",
    "pairing_submit",
    // wifi and guest
    "wifi",
    "wifi_rename",
    "wifi_enable",
    "wifi_passphrase",
    "guest",
    "guest_enable",
    "guest_passphrase",
    "guest_mark",
    // connected devices and parental controls
    "devices",
    "device_rename",
    "device_pause",
    "devices_seen",
    "parental",
    "bedtime_create",
    "bedtime_delete",
    // mesh and smart home
    "mesh",
    "smart_home",
    "thing_set",
    // one device, the explorer
    "device_details",
    "device_reboot",
    "device_ping",
    "explore",
    "param_set",
    // settings
    "settings",
    "settings_interfaces",
    "settings_theme",
    "trust_forget",
    "certificate_save",
];
