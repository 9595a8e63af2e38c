//! Mesh: a map of the WiFi nodes and how they connect, updated live, and who is on each node.

use ipc_types::{dom_id, MeshNode};
use leptos::prelude::*;

use crate::api;
use crate::components::{load_status, part, ready, NothingToShow, PageFrame};
use crate::model::format;
use crate::model::mesh::layout;
use crate::model::route::Page;
use crate::state::use_view;

#[component]
pub fn MeshPage() -> impl IntoView {
    let mesh = use_view(Page::Mesh.topic(), api::mesh);
    let nodes = part(mesh, |v| v.nodes.clone());
    let not_offered = part(mesh, |v| v.not_offered.clone());
    view! {
        <PageFrame page=Page::Mesh ready=ready(mesh) intro="How your WiFi points connect, and who is on each one.">
            {load_status(mesh, "the mesh")}
            <NothingToShow ready=ready(mesh) empty=Signal::derive(move || nodes.with(Vec::is_empty)) not_offered what="WiFi or mesh information">
                "No mesh information: your router does not report EasyMesh data."
            </NothingToShow>
            <article class="card map" hidden=move || nodes.with(Vec::is_empty)>
                {move || nodes.with(|nodes| map(nodes))}
                <p class="legend muted small">
                    <span class="line-solid" aria-hidden="true"></span>" wired   "
                    <span class="line-dashed" aria-hidden="true"></span>" wireless backhaul"
                </p>
            </article>
            <div class="cards">
                {move || nodes.get().into_iter().map(|node| view! { <NodeCard node=node /> }).collect_view()}
            </div>
        </PageFrame>
    }
}

/// The SVG map of the mesh.
fn map(nodes: &[MeshNode]) -> impl IntoView {
    let geometry = layout(nodes);
    let edges = geometry
        .edges
        .iter()
        .map(|e| {
            // The label sits next to the child's end of the line, on the side away from the parent,
            // so labels of sibling links never meet near the parent.
            let (lx, ly) = (e.from.0 + (e.to.0 - e.from.0) * 0.62, e.from.1 + (e.to.1 - e.from.1) * 0.62);
            let (anchor, dx) = if e.to.0 < e.from.0 { ("end", -10.0) } else { ("start", 10.0) };
            view! {
                <g class="edge" class:wireless=e.wireless>
                    <line x1=e.from.0 y1=e.from.1 x2=e.to.0 y2=e.to.1 />
                    <text x=lx + dx y=ly text-anchor=anchor class="edge-label">{e.label.clone()}</text>
                </g>
            }
        })
        .collect_view();
    let placed = geometry
        .nodes
        .iter()
        .map(|p| {
            let node = &nodes[p.index];
            let clients = node.clients.len();
            let root = node.parent.is_none();
            let title = format!(
                "{}{}, {} client{}",
                node.name,
                if p.orphan { " (its uplink is unknown)" } else { "" },
                clients,
                if clients == 1 { "" } else { "s" }
            );
            let label = title.clone();
            view! {
                <g
                    id=format!("mesh-node-{}", dom_id(&node.id))
                    class="node"
                    class:root=root
                    class:orphan=p.orphan
                    transform=format!("translate({} {})", p.x, p.y)
                    role="img"
                    aria-label=label
                >
                    <title>{title}</title>
                    <circle r="26" />
                    <text class="node-count" y="5">{clients}</text>
                    <text class="node-name" y="46">{node.name.clone()}</text>
                </g>
            }
        })
        .collect_view();
    view! {
        <svg
            id="mesh-map"
            // Extra room at the sides for link labels that point outwards.
            viewBox=format!("-60 0 {} {}", geometry.width + 120.0, geometry.height)
            preserveAspectRatio="xMidYMin meet"
            role="group"
            aria-label="Mesh map: each circle is a WiFi point, the number is how many devices use it"
        >
            {edges}
            {placed}
        </svg>
    }
}

#[component]
fn NodeCard(node: MeshNode) -> impl IntoView {
    let uplink = match (&node.parent, crate::model::mesh::backhaul_label(&node)) {
        (None, _) => "Main router".to_owned(),
        (Some(_), label) if label.is_empty() => "Connected to the mesh".to_owned(),
        (Some(_), label) => match node.backhaul_signal_dbm {
            Some(dbm) => format!("Uplink: {label} · {} signal", format::signal(dbm)),
            None => format!("Uplink: {label}"),
        },
    };
    view! {
        <article class="card node-card">
            <h2>{node.name.clone()}</h2>
            <p class="muted small">{uplink}</p>
            {if node.clients.is_empty() {
                view! { <p class="muted">"No devices on this point."</p> }.into_any()
            } else {
                view! {
                    <ul class="list compact">
                        {node.clients.into_iter().map(|c| view! {
                            <li class="row">
                                <span>{c.name}</span>
                                <span class="muted small">
                                    {[c.band, c.signal_dbm.map(|d| format!("{} ({d} dBm)", format::signal(d)))]
                                        .into_iter().flatten().collect::<Vec<_>>().join(" · ")}
                                </span>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </article>
    }
}
