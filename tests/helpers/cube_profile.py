"""Read a CUBE4 profile (``profile.cubex``) with the independent reader
``pycubexr`` into call paths: the tuple of region names from the root (the
artificial program region, depth 0) down to a cnode, e.g.
``(root, "__main__:<module>", "__main__:main", "__main__:foo")``, each with
per-location arrays of visits, inclusive and exclusive time, min and max time.
"""
from __future__ import annotations

import collections
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
from pycubexr import CubexParser

MASTER = "Master thread"
# Regions the measurement adds to a profile on its own.
ARTIFICIAL = ("MEASUREMENT OFF", "TRACE BUFFER FLUSH")
# Slack for sums of doubles.
EPS = 1e-9


def _array(values) -> np.ndarray:
    """pycubexr wraps MINDOUBLE/MAXDOUBLE values in CubeValues objects."""
    return np.asarray(getattr(values, "_values", values))


@dataclass
class Node:
    path: Tuple[str, ...]
    region: object            # pycubexr Region
    visits: np.ndarray        # per location
    inclusive: np.ndarray     # seconds, per location
    exclusive: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray

    @property
    def depth(self) -> int:
        return len(self.path) - 1


@dataclass
class Profile:
    path: Path
    metrics: list             # pycubexr Metric objects, in file order
    regions: list             # pycubexr Region objects
    locations: list           # pycubexr Location objects, in value order
    system_tree: object       # root SystemTreeNode
    nodes: Dict[Tuple[str, ...], Node]
    cnodes: collections.Counter   # cnodes per call path (>1: same-named regions)

    @property
    def root(self) -> Node:
        (root,) = [n for n in self.nodes.values() if n.depth == 0]
        return root

    @property
    def root_name(self) -> str:
        return self.root.path[0]

    def location_index(self, name: str) -> int:
        names = [loc.name for loc in self.locations]
        assert names.count(name) == 1, names
        return names.index(name)

    def visits(self, *path: str, location=None) -> int:
        """Visits of the call path given without the root."""
        node = self.nodes.get((self.root_name,) + path)
        if node is None:
            return 0
        if location is None:
            return int(node.visits.sum())
        return int(node.visits[self.location_index(location)])

    def node(self, *path: str) -> Node:
        full = (self.root_name,) + path
        assert full in self.nodes, f"no call path {path}; profile:\n{self.format()}"
        return self.nodes[full]

    def ending_in(self, region: str) -> Dict[Tuple[str, ...], Node]:
        return {p: n for p, n in self.nodes.items() if p[-1] == region}

    def call_paths(self, location=None) -> collections.Counter:
        """Visits per call path without the root, like Trace.call_tree()."""
        index = None if location is None else self.location_index(location)
        result = collections.Counter()
        for path, node in self.nodes.items():
            if node.depth == 0:
                continue
            n = int(node.visits.sum() if index is None else node.visits[index])
            if n:
                result[path[1:]] += n
        return result

    def region_visits(self, location=None) -> collections.Counter:
        """Visits per region summed over call paths (root excluded)."""
        result = collections.Counter()
        for path, n in self.call_paths(location).items():
            result[path[-1]] += n
        return result

    def format(self) -> str:
        lines = []
        for path in sorted(self.nodes, key=lambda p: [str(r) for r in p]):
            node = self.nodes[path]
            lines.append("{}{}  visits={} incl={}".format(
                "  " * node.depth, path[-1], node.visits.tolist(),
                [round(float(t), 6) for t in node.inclusive]))
        return "\n".join(lines)


def _merge(node: Node, other: Node) -> None:
    """Fold a second cnode with the same call path (names) into ``node``."""
    both = (node.visits > 0) & (other.visits > 0)
    only_other = (node.visits == 0) & (other.visits > 0)
    node.minimum = np.where(both, np.minimum(node.minimum, other.minimum),
                            np.where(only_other, other.minimum, node.minimum))
    node.maximum = np.maximum(node.maximum, other.maximum)
    node.visits = node.visits + other.visits
    node.inclusive = node.inclusive + other.inclusive
    node.exclusive = node.exclusive + other.exclusive


def read_profile(path) -> Profile:
    """Read a profile with pycubexr.  Call paths are tuples of region names;
    cnodes with the same names along their path (different regions of the
    same name, e.g. two list comprehensions of one function) are summed, and
    ``profile.cnodes[path]`` counts them."""
    path = Path(path)
    with CubexParser(path) as parser:
        metrics = list(parser.get_metrics())
        values = {name: parser.get_metric_values(parser.get_metric_by_name(name))
                  for name in ("visits", "time", "min_time", "max_time")}
        locations = parser.get_locations()
        (root,) = parser.get_root_cnodes()
        nodes: Dict[Tuple[str, ...], Node] = {}
        cnodes: collections.Counter = collections.Counter()
        stack = [(root, ())]
        while stack:
            cnode, parent_path = stack.pop()
            region = parser.get_region(cnode)
            node_path = parent_path + (region.name,)
            node = Node(
                path=node_path,
                region=region,
                visits=_array(values["visits"].cnode_values(cnode)).astype(np.int64),
                inclusive=_array(values["time"].cnode_values(cnode)).astype(float),
                exclusive=_array(values["time"].cnode_values(cnode, convert_to_exclusive=True)).astype(float),
                minimum=_array(values["min_time"].cnode_values(cnode)).astype(float),
                maximum=_array(values["max_time"].cnode_values(cnode)).astype(float),
            )
            cnodes[node_path] += 1
            if node_path in nodes:
                _merge(nodes[node_path], node)
            else:
                nodes[node_path] = node
            for child in cnode.get_children():
                assert child.parent is cnode
                stack.append((child, node_path))
        system_tree = parser._anchor_result.system_tree_nodes[0]
        regions = list(parser._anchor_result.regions)
    return Profile(path, metrics, regions, locations, system_tree, nodes, cnodes)


def cubex_files(directory: Path) -> List[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".cubex"))


def profiled(run, name="profile.cubex") -> Profile:
    assert run.returncode == 0, run.stderr
    path = run.experiment / name
    assert path.is_file(), f"no {name} in {sorted(os.listdir(run.experiment))}\nstderr:\n{run.stderr}"
    return read_profile(path)


def check_invariants(profile: Profile) -> None:
    """What must hold in every profile, on every cnode and location."""
    for path, node in profile.nodes.items():
        where = f"{path}: visits={node.visits} incl={node.inclusive} excl={node.exclusive} " \
                f"min={node.minimum} max={node.maximum}"
        assert (node.visits >= 0).all(), where
        assert (node.exclusive >= -EPS).all(), "negative exclusive time " + where
        assert (node.inclusive >= node.exclusive - EPS).all(), where
        visited = node.visits > 0
        assert (node.minimum[visited] >= 0).all(), where
        assert (node.minimum[visited] <= node.maximum[visited] + EPS).all(), where
        # n calls each lasting between min and max
        assert (node.minimum[visited] * node.visits[visited] <= node.inclusive[visited] * (1 + 1e-9) + EPS).all(), where
        assert (node.maximum[visited] <= node.inclusive[visited] * (1 + 1e-9) + EPS).all(), where
        assert (node.inclusive[visited] <= node.maximum[visited] * node.visits[visited] * (1 + 1e-9) + EPS).all(), where
        # nothing happens where nothing was visited (the root of a location
        # that exists has one visit)
        assert (node.inclusive[~visited] == 0).all(), where
        if node.depth:
            parent = profile.nodes[path[:-1]]
            assert (parent.inclusive >= node.inclusive - EPS).all(), where
    root = profile.root
    assert profile.cnodes[root.path] == 1
    assert root.region.role == "artificial", root.region
    assert root.region.paradigm == "measurement", root.region
    assert root.visits[profile.location_index(MASTER)] == 1
