//! The pages and their addresses (`#/wifi`), so the back button and reloads keep the page.

use ipc_types::Topic;

/// Declares [`Page`] and its table (navigation order, name, label, topic) from one list.
macro_rules! pages {
    ($( $(#[$doc:meta])* $page:ident => $name:literal, $label:literal, $topic:ident; )*) => {
        /// One page of the app.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Page {
            $( $(#[$doc])* $page, )*
        }

        impl Page {
            /// Navigation order.
            pub const ALL: [Page; [$(Page::$page),*].len()] = [$(Page::$page),*];

            /// The id fragment: `nav-<name>`, `page-<name>`, `#/<name>`.
            pub fn name(self) -> &'static str {
                match self {
                    $( Page::$page => $name, )*
                }
            }

            /// The navigation label.
            pub fn label(self) -> &'static str {
                match self {
                    $( Page::$page => $label, )*
                }
            }

            /// The live topic whose changes this page shows (it re-fetches its view on them).
            pub fn topic(self) -> Topic {
                match self {
                    $( Page::$page => Topic::$topic, )*
                }
            }
        }
    };
}

// Names and labels are what the window shows and the end-to-end tests find: homeowners say
// "Devices" for the hosts and "Device" for an agent.
pages! {
    Home => "home", "Home", Home;
    Wifi => "wifi", "WiFi", Wifi;
    Guest => "guest", "Guest WiFi", Guest;
    /// The hosts: devices on the home's network.
    Hosts => "devices", "Devices", Hosts;
    Parental => "parental", "Parental", Parental;
    Mesh => "mesh", "Mesh", Mesh;
    Smart => "smart", "Smart home", SmartHome;
    /// One agent (gateway, extender, hub).
    Agent => "device", "Device", Agent;
    /// One agent's data model.
    Explorer => "explorer", "Explorer", Agent;
    Settings => "settings", "Settings", Settings;
}

impl Page {
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
        assert_eq!(Page::from_hash("#devices"), Page::Hosts);
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

    /// Every live topic is shown by some page (the history: by charts on several pages).
    #[test]
    fn every_topic_has_a_page() {
        for topic in Topic::ALL.into_iter().filter(|t| *t != Topic::History) {
            assert!(Page::ALL.iter().any(|p| p.topic() == topic), "no page shows {topic:?}");
        }
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
