//! The pages and their addresses (`#/wifi`), so the back button and reloads keep the page.

/// One page of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Page {
    Home,
    Wifi,
    Guest,
    Devices,
    Parental,
    Mesh,
    Smart,
    Device,
    Explorer,
    Settings,
}

impl Page {
    /// Navigation order.
    pub const ALL: [Page; 10] = [
        Page::Home,
        Page::Wifi,
        Page::Guest,
        Page::Devices,
        Page::Parental,
        Page::Mesh,
        Page::Smart,
        Page::Device,
        Page::Explorer,
        Page::Settings,
    ];

    /// The id fragment: `nav-<name>`, `page-<name>`, `#/<name>`.
    pub fn name(self) -> &'static str {
        match self {
            Page::Home => "home",
            Page::Wifi => "wifi",
            Page::Guest => "guest",
            Page::Devices => "devices",
            Page::Parental => "parental",
            Page::Mesh => "mesh",
            Page::Smart => "smart",
            Page::Device => "device",
            Page::Explorer => "explorer",
            Page::Settings => "settings",
        }
    }

    /// The navigation label.
    pub fn label(self) -> &'static str {
        match self {
            Page::Home => "Home",
            Page::Wifi => "WiFi",
            Page::Guest => "Guest WiFi",
            Page::Devices => "Devices",
            Page::Parental => "Parental",
            Page::Mesh => "Mesh",
            Page::Smart => "Smart home",
            Page::Device => "Device",
            Page::Explorer => "Explorer",
            Page::Settings => "Settings",
        }
    }

    /// `#/wifi`
    pub fn href(self) -> String {
        format!("#/{}", self.name())
    }

    /// The page for a location hash (`#/wifi`, `#wifi`, `` -> Home). Unknown hashes give Home.
    pub fn from_hash(hash: &str) -> Page {
        let name = hash.trim_start_matches('#').trim_start_matches('/');
        let name = name.split(['/', '?']).next().unwrap_or_default();
        Page::ALL.into_iter().find(|page| page.name() == name).unwrap_or(Page::Home)
    }
}

/// Breadcrumbs of a data-model path: `Device.WiFi.SSID.1.` -> [("Device", "Device."), ("WiFi", "Device.WiFi."), ...]
pub fn crumbs(path: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut acc = String::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        acc.push_str(part);
        acc.push('.');
        out.push((part.to_owned(), acc.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_round_trip() {
        for page in Page::ALL {
            assert_eq!(Page::from_hash(&page.href()), page);
        }
        assert_eq!(Page::from_hash(""), Page::Home);
        assert_eq!(Page::from_hash("#devices"), Page::Devices);
        assert_eq!(Page::from_hash("#/nowhere"), Page::Home);
        assert_eq!(Page::from_hash("#/explorer/Device.WiFi."), Page::Explorer);
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = Page::ALL.iter().map(|p| p.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Page::ALL.len());
    }

    #[test]
    fn crumbs_of_a_path() {
        let parts = crumbs("Device.WiFi.SSID.1.");
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[2], ("SSID".to_owned(), "Device.WiFi.SSID.".to_owned()));
        assert_eq!(parts[3].1, "Device.WiFi.SSID.1.");
        assert!(crumbs("").is_empty());
    }
}
