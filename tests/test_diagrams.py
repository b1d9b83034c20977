"""The generated architecture diagram of every stage (`make synth` -> cdk.out/diagrams/):
the edge, the load balancer's route to each web service, Service Connect calls, the data
stores, queues and jobs, each in the subgraph of the stack that holds it. Services and
routes come from each stage's config, never named here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from architecture_diagram.__main__ import main
from architecture_diagram.graph import Graph, build
from architecture_diagram.mermaid import render
from tests.conftest import ALL_STAGES, Synth

STAGES = ALL_STAGES
_GRAPHS: dict[str, Graph] = {}


def _graph(synth: Synth, stage: str) -> Graph:
    if stage not in _GRAPHS:
        _GRAPHS[stage] = build(synth.stage(stage))
    return _GRAPHS[stage]


def _node(graph: Graph, prefix: str) -> str:
    """The node whose label starts with `prefix` (exactly one)."""
    (found,) = [n.id for n in graph.nodes.values() if n.label.startswith(prefix)]
    return found


def _edges(graph: Graph) -> set[tuple[str, str, str]]:
    return {(e.source, e.target, e.label) for e in graph.edges}


@pytest.mark.parametrize("stage", STAGES)
def test_edge_cloudfront_waf_static_bucket_and_origin(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    graph = _graph(synth, stage)
    cdn = _node(graph, "CloudFront")
    assert graph.nodes[cdn].label == f"CloudFront<br/>{', '.join(config.viewer_names)}"
    assert graph.nodes[cdn].stack == "Edge"
    assert graph.stacks["Edge"] == "Edge stack (us-east-1)"
    edges = _edges(graph)
    assert ("viewer", cdn, "HTTPS") in edges
    waf = _node(graph, "WAF web ACL")
    assert (waf, cdn, "filters") in edges
    static = _node(graph, "S3 static files")
    assert (cdn, static, ", ".join(config.edge.static.paths)) in edges
    alb = _node(graph, "Application Load Balancer")
    assert graph.nodes[alb].stack == "Compute"
    assert any(s == cdn and t == alb and "default" in label for s, t, label in edges)


@pytest.mark.parametrize("stage", STAGES)
def test_load_balancer_routes_to_each_web_service(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    graph = _graph(synth, stage)
    alb = _node(graph, "Application Load Balancer")
    routes = {t: label for s, t, label in _edges(graph) if s == alb}
    for name, service in config.services.items():
        if service.kind == "job":
            continue
        node = _node(graph, f"{name}<br/>ECS")
        if service.kind != "web":
            assert node not in routes, name
            continue
        label = routes[node]
        for path in service.paths or ["/*"]:
            assert path in label, (name, label)
        for host in service.hosts:
            assert f"host {host}" in label, (name, label)


@pytest.mark.parametrize("stage", STAGES)
def test_service_connect_data_queues_and_jobs(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    graph = _graph(synth, stage)
    edges = _edges(graph)
    kind = config.database.kind
    database = _node(graph, f"RDS {config.database.engine}" if kind == "instance" else "Aurora ")
    assert graph.nodes[database].stack == "Database"
    assert graph.nodes[database].shape == "db"
    for name, service in config.services.items():
        if service.kind == "job":
            job = _node(graph, f"{name}<br/>job, {service.schedule}")
            assert any(t == job and label.startswith("starts") for _, t, label in edges)
            node = job
        else:
            node = _node(graph, f"{name}<br/>ECS")
            for other in service.connects_to:
                assert (node, _node(graph, f"{other}<br/>ECS"), "Service Connect") in edges
        assert ((node, database, "reads/writes") in edges) == service.database, name
        for target in service.publishes_to:
            queue = next(t for s, t, label in edges if s == node and label == "sends")
            assert (queue, _node(graph, f"{target}<br/>ECS"), "receives") in edges
    migration = _node(graph, "migration<br/>one-shot task")
    assert (migration, database, "reads/writes") in edges


@pytest.mark.parametrize("stage", STAGES)
def test_mermaid_declares_every_node_once_in_its_stack(synth: Synth, stage: str) -> None:
    graph = _graph(synth, stage)
    text = render(graph)
    assert text.startswith("flowchart LR\n")
    declared = re.findall(r"^\s+([A-Za-z0-9_]+)[\[\(\{]", text, re.MULTILINE)
    assert sorted(declared) == sorted(graph.nodes)
    for edge in graph.edges:
        assert edge.source in graph.nodes
        assert edge.target in graph.nodes
    subgraphs = re.findall(r'subgraph stack_(\w+)\["', text)
    assert "Edge" in subgraphs
    assert "Compute" in subgraphs
    assert text.count("subgraph ") == text.count("  end\n")


def test_make_synth_writes_a_diagram_per_stage(synth: Synth, tmp_path: Path) -> None:
    assert main(["--assembly", str(synth.outdir), "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{s}.md" for s in STAGES)
    text = (tmp_path / "Prod.md").read_text()
    assert text.startswith("# Prod: architecture")
    assert "```mermaid\nflowchart LR\n" in text
