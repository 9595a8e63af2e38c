//! The mesh map's geometry: a tidy tree from each node's parent, top to bottom, so that nodes
//! never overlap. Nodes whose parent is unknown (or that form a loop) become extra roots marked
//! as orphans instead of disappearing.

use std::collections::{HashMap, HashSet};

use ipc_types::MeshNode;

/// Horizontal distance between neighbouring leaves.
pub const SLOT_W: f64 = 150.0;
/// Vertical distance between levels.
pub const LEVEL_H: f64 = 120.0;
/// Space around the drawing.
pub const MARGIN: f64 = 70.0;

/// A node with its place in the drawing.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub id: String,
    pub x: f64,
    pub y: f64,
    pub depth: usize,
    /// Its parent is not among the nodes (or it sits in a parent loop).
    pub orphan: bool,
    /// Index into the input slice.
    pub index: usize,
}

/// A backhaul line from a parent to a child.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub from: (f64, f64),
    pub to: (f64, f64),
    /// `Ethernet`, `Wi-Fi 5GHz · 866 Mbit/s`.
    pub label: String,
    /// Wireless backhaul (drawn dashed).
    pub wireless: bool,
}

/// The whole drawing.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub width: f64,
    pub height: f64,
    pub nodes: Vec<Placed>,
    pub edges: Vec<Edge>,
}

/// Lays out `nodes` (any order).
pub fn layout(nodes: &[MeshNode]) -> Layout {
    let index: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i)).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    let mut roots = Vec::new();
    let mut orphans = HashSet::new();
    for (i, node) in nodes.iter().enumerate() {
        match node.parent.as_deref().and_then(|p| index.get(p)) {
            Some(&parent) if parent != i => children[parent].push(i),
            Some(_) => {
                orphans.insert(i);
                roots.push(i);
            }
            None => {
                if node.parent.is_some() {
                    orphans.insert(i);
                }
                roots.push(i);
            }
        }
    }
    // Real roots first, orphans after them.
    roots.sort_by_key(|i| (orphans.contains(i), *i));

    let mut placed: Vec<Option<(f64, usize)>> = vec![None; nodes.len()];
    let mut next_slot = 0usize;
    for &root in &roots {
        place(root, 0, &children, &mut placed, &mut next_slot);
    }
    // Nodes in a parent loop were never reached: break each loop at its first node.
    for i in 0..nodes.len() {
        if placed[i].is_none() {
            orphans.insert(i);
            place(i, 0, &children, &mut placed, &mut next_slot);
        }
    }

    let at = |slot: f64, depth: usize| (MARGIN + slot * SLOT_W, MARGIN + depth as f64 * LEVEL_H);
    let mut out_nodes = Vec::with_capacity(nodes.len());
    let mut max_depth = 0;
    for (i, node) in nodes.iter().enumerate() {
        let (slot, depth) = placed[i].unwrap_or((0.0, 0));
        max_depth = max_depth.max(depth);
        let (x, y) = at(slot, depth);
        out_nodes.push(Placed { id: node.id.clone(), x, y, depth, orphan: orphans.contains(&i), index: i });
    }
    let mut edges = Vec::new();
    for (parent, kids) in children.iter().enumerate() {
        for &child in kids {
            if orphans.contains(&child) {
                continue;
            }
            let (p, c) = (&out_nodes[parent], &out_nodes[child]);
            edges.push(Edge {
                from: (p.x, p.y),
                to: (c.x, c.y),
                label: backhaul_label(&nodes[child]),
                wireless: nodes[child].backhaul.as_deref().is_some_and(is_wireless),
            });
        }
    }
    let slots = next_slot.max(1) as f64;
    Layout {
        width: 2.0 * MARGIN + (slots - 1.0) * SLOT_W,
        height: 2.0 * MARGIN + max_depth as f64 * LEVEL_H + 30.0,
        nodes: out_nodes,
        edges,
    }
}

/// Places `node` and its subtree; leaves take the next free slot, parents sit above the middle
/// of their children. Returns the node's slot.
fn place(
    node: usize,
    depth: usize,
    children: &[Vec<usize>],
    placed: &mut [Option<(f64, usize)>],
    next_slot: &mut usize,
) -> f64 {
    // Mark before descending so a loop below cannot come back here.
    placed[node] = Some((0.0, depth));
    let slots: Vec<f64> = children[node]
        .iter()
        .filter(|&&child| placed[child].is_none())
        .copied()
        .collect::<Vec<_>>()
        .into_iter()
        .map(|child| place(child, depth + 1, children, placed, next_slot))
        .collect();
    let slot = match (slots.first(), slots.last()) {
        (Some(first), Some(last)) => (first + last) / 2.0,
        _ => {
            let slot = *next_slot as f64;
            *next_slot += 1;
            slot
        }
    };
    placed[node] = Some((slot, depth));
    slot
}

fn is_wireless(medium: &str) -> bool {
    let lower = medium.to_ascii_lowercase();
    lower.contains("wi-fi") || lower.contains("wifi") || lower.contains("802.11") || lower.contains("wireless")
}

/// `Wi-Fi 5GHz · 866 Mbit/s`, `Ethernet`, or empty.
pub fn backhaul_label(node: &MeshNode) -> String {
    let mut parts = Vec::new();
    if let Some(medium) = &node.backhaul {
        parts.push(medium.clone());
    }
    if let Some(rate) = node.phy_rate_mbps {
        parts.push(format!("{rate} Mbit/s"));
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, parent: Option<&str>) -> MeshNode {
        MeshNode {
            id: id.into(),
            name: id.to_uppercase(),
            parent: parent.map(Into::into),
            backhaul: parent.map(|_| "Wi-Fi 5GHz".into()),
            phy_rate_mbps: parent.map(|_| 866),
            backhaul_signal_dbm: None,
            clients: Vec::new(),
            agent: None,
        }
    }

    fn find<'a>(layout: &'a Layout, id: &str) -> &'a Placed {
        layout.nodes.iter().find(|n| n.id == id).expect("node placed")
    }

    fn assert_no_overlaps(layout: &Layout) {
        for (i, a) in layout.nodes.iter().enumerate() {
            for b in &layout.nodes[i + 1..] {
                let apart = (a.x - b.x).abs() >= SLOT_W / 2.0 || (a.y - b.y).abs() >= LEVEL_H;
                assert!(apart, "{} and {} overlap", a.id, b.id);
            }
            assert!(a.x >= MARGIN && a.x <= layout.width - MARGIN + 0.1, "{} inside", a.id);
            assert!(a.y <= layout.height, "{} inside", a.id);
        }
    }

    #[test]
    fn tree_from_parents() {
        let nodes = vec![
            node("ext2", Some("ext1")),
            node("gw", None),
            node("ext1", Some("gw")),
            node("ext3", Some("gw")),
            node("ext4", Some("ext1")),
        ];
        let layout = layout(&nodes);
        assert_eq!(layout.nodes.len(), 5);
        let (gw, ext1, ext2) = (find(&layout, "gw"), find(&layout, "ext1"), find(&layout, "ext2"));
        assert_eq!((gw.depth, ext1.depth, ext2.depth), (0, 1, 2));
        assert!(ext1.y > gw.y && ext2.y > ext1.y, "children below parents");
        assert!(layout.nodes.iter().all(|n| !n.orphan));
        assert_eq!(layout.edges.len(), 4);
        assert!(layout.edges.iter().all(|e| e.wireless && e.label == "Wi-Fi 5GHz · 866 Mbit/s"));
        assert_no_overlaps(&layout);
        // The parent sits over the middle of its children.
        let ext4 = find(&layout, "ext4");
        assert!((ext1.x - (ext2.x + ext4.x) / 2.0).abs() < 1e-9);
    }

    #[test]
    fn orphans_and_loops_are_kept() {
        let nodes = vec![
            node("gw", None),
            node("lost", Some("missing")),
            node("a", Some("b")),
            node("b", Some("a")),
            node("self", Some("self")),
            node("child", Some("lost")),
        ];
        let layout = layout(&nodes);
        assert_eq!(layout.nodes.len(), 6, "every node is drawn");
        assert!(find(&layout, "lost").orphan);
        assert!(find(&layout, "self").orphan);
        assert!(find(&layout, "a").orphan || find(&layout, "b").orphan, "a loop is broken somewhere");
        assert!(!find(&layout, "gw").orphan);
        assert!(!find(&layout, "child").orphan, "the child of an orphan hangs below it");
        assert_eq!(find(&layout, "child").depth, 1);
        assert_no_overlaps(&layout);
    }

    #[test]
    fn empty_and_single() {
        let empty = layout(&[]);
        assert!(empty.nodes.is_empty() && empty.width > 0.0);
        let one = layout(&[node("gw", None)]);
        assert_eq!(one.nodes[0].x, MARGIN);
        assert_eq!(one.width, 2.0 * MARGIN);
        let mut wired = node("x", Some("gw"));
        wired.backhaul = Some("Ethernet".into());
        wired.phy_rate_mbps = None;
        assert_eq!(backhaul_label(&wired), "Ethernet");
        let two = layout(&[node("gw", None), wired]);
        assert!(!two.edges[0].wireless);
    }
}
