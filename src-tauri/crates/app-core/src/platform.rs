//! What differs between desktops and phones, in one place. The secrets side is the vault's
//! [`crate::vault`] platform table (keyrings on desktops and iOS; the encrypted file on Android,
//! where `keyring` 3 has only a mock). This module is the discovery side: every part of the app
//! starts mDNS discovery through [`start_discovery`].
//!
//! | target          | how agents are discovered                                                  |
//! |-----------------|----------------------------------------------------------------------------|
//! | Linux, macOS, Windows | mdns-sd on the configured interfaces (a setting; loopback in the demo) |
//! | Android         | mdns-sd as well; the OS delivers multicast only while the app holds a `WifiManager.MulticastLock` (permission `CHANGE_WIFI_MULTICAST_STATE`, declared in `src-tauri/mobile`). Taking the lock needs a small Kotlin plugin that is not written yet, so discovery there finds nothing until it is. |
//! | iOS             | raw multicast needs Apple's `com.apple.developer.networking.multicast` entitlement; without it, browsing must go through the system Bonjour API (a Swift plugin; `NSBonjourServices` is declared in `src-tauri/Info.plist`). Not written yet. |

use usp_client::discovery::{Discovery, DiscoveryError, Interfaces};

/// Starts discovery of USP agents the way this platform allows.
///
/// # Errors
/// [`DiscoveryError`] when the mDNS daemon can't start (no usable interface, sockets refused).
pub fn start_discovery(interfaces: Interfaces) -> Result<Discovery, DiscoveryError> {
    Discovery::start(interfaces)
}
