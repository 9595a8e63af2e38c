//! One module per page; [`view`] picks the current one.

use leptos::prelude::*;

use crate::model::route::Page;

pub mod agent;
pub mod alerts;
pub mod background;
pub mod collection;
pub mod explorer;
pub mod firmware;
pub mod guest;
pub mod history;
pub mod home;
pub mod hosts;
pub mod listener;
pub mod mesh;
pub mod pair;
pub mod parental;
pub mod settings;
pub mod smart;
pub mod speedtest;
pub mod usage;
pub mod wifi;

/// The view of `page`.
pub fn view(page: Page) -> AnyView {
    match page {
        Page::Home => home::HomePage().into_any(),
        Page::Wifi => wifi::WifiPage().into_any(),
        Page::Guest => guest::GuestPage().into_any(),
        Page::Hosts => hosts::HostsPage().into_any(),
        Page::Parental => parental::ParentalPage().into_any(),
        Page::Mesh => mesh::MeshPage().into_any(),
        Page::Smart => smart::SmartPage().into_any(),
        Page::Agent => agent::AgentPage().into_any(),
        Page::Explorer => explorer::ExplorerPage().into_any(),
        Page::Settings => settings::SettingsPage().into_any(),
    }
}
