"""A small reader of CUBE4 profiles (.cubex), enough for the terminal summary:
regions, the call tree, the system tree and the values of one metric per call
path and location.  Reads this project's profiles and Score-P's own
(uncompressed or zlib-compressed data)."""
from __future__ import annotations

import struct
import tarfile
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field
from typing import Dict, List, Optional

_DTYPES = {
    "DOUBLE": "d", "MINDOUBLE": "d", "MAXDOUBLE": "d", "FLOAT": "f",
    "UINT64": "Q", "INT64": "q", "UINT32": "I", "INT32": "i", "UINT16": "H", "INT16": "h",
    "UINT8": "B", "INT8": "b", "INTEGER": "q", "INT": "i", "UNSIGNED INT": "I",
}


class CubeError(Exception):
    """The file is not a CUBE4 profile this reader understands."""


@dataclass
class Region:
    id: int
    name: str
    file: str
    line: int
    paradigm: str
    role: str


@dataclass
class CallNode:
    id: int
    region: Region
    parent: Optional["CallNode"]
    children: List["CallNode"] = field(default_factory=list)

    def path(self) -> List[str]:
        names = []
        node: Optional[CallNode] = self
        while node is not None:
            names.append(node.region.name)
            node = node.parent
        return names[::-1]


@dataclass
class Metric:
    id: int
    name: str
    dtype: str
    kind: str  # EXCLUSIVE or INCLUSIVE


@dataclass
class Location:
    id: int
    name: str
    rank: int
    process: str


class Profile:
    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._tar = tarfile.open(path)
        except (OSError, tarfile.TarError) as error:
            raise CubeError(f"{path}: not a CUBE4 profile ({error})") from None
        try:
            anchor = ET.fromstring(self._member("anchor.xml"))
        except ET.ParseError as error:
            raise CubeError(f"{path}: broken anchor.xml ({error})") from None
        self.metrics: Dict[str, Metric] = {}
        for element in anchor.iter("metric"):
            if element.get("id") is None:
                continue
            metric = Metric(int(element.get("id")), element.findtext("uniq_name", ""),
                            element.findtext("dtype", ""), element.get("type", "EXCLUSIVE"))
            self.metrics[metric.name] = metric
        program = anchor.find("program")
        if program is None:
            raise CubeError(f"{path}: anchor.xml has no <program>")
        self.regions: Dict[int, Region] = {}
        for element in program.iter("region"):
            begin = element.get("begin", "-1")
            self.regions[int(element.get("id"))] = Region(
                int(element.get("id")), element.findtext("name", ""), element.get("mod", ""),
                int(begin) if begin.lstrip("-").isdigit() else -1,
                element.findtext("paradigm", ""), element.findtext("role", ""))
        self.roots: List[CallNode] = [self._cnode(e, None) for e in program.findall("cnode")]
        self.locations: List[Location] = []
        for group in anchor.iter("locationgroup"):
            for element in group.findall("location"):
                self.locations.append(Location(int(element.get("Id")), element.findtext("name", ""),
                                               int(element.findtext("rank", "0")), group.findtext("name", "")))
        self.locations.sort(key=lambda location: location.id)
        self._values: Dict[str, Dict[int, List[float]]] = {}

    def _member(self, name: str) -> bytes:
        try:
            handle = self._tar.extractfile(name)
        except KeyError:
            raise CubeError(f"{self.path}: no {name} in the archive") from None
        if handle is None:
            raise CubeError(f"{self.path}: {name} is not a file")
        return handle.read()

    def _cnode(self, element: ET.Element, parent: Optional[CallNode]) -> CallNode:
        node = CallNode(int(element.get("id")), self.regions[int(element.get("calleeId"))], parent)
        node.children = [self._cnode(child, node) for child in element.findall("cnode")]
        return node

    def nodes(self) -> List[CallNode]:
        """Every call node, depth first."""
        out: List[CallNode] = []
        stack = list(reversed(self.roots))
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return out

    def _order(self, kind: str) -> List[int]:
        """Cnode ids in the order the values of a metric of this kind are stored."""
        if kind != "INCLUSIVE":
            return [node.id for node in self.nodes()]
        order: List[int] = []
        for root in self.roots:
            order.append(root.id)
            stack = [root]
            while stack:
                node = stack.pop()
                order.extend(child.id for child in node.children)
                stack.extend(reversed(node.children))
        return order

    def values(self, metric_name: str) -> Dict[int, List[float]]:
        """Values of a metric as stored (inclusive for INCLUSIVE metrics):
        cnode id -> one value per location (zeros where nothing was stored)."""
        if metric_name in self._values:
            return self._values[metric_name]
        metric = self.metrics.get(metric_name)
        if metric is None:
            raise CubeError(f"{self.path}: no metric '{metric_name}'")
        code = _DTYPES.get(metric.dtype)
        if code is None:
            raise CubeError(f"{self.path}: metric '{metric_name}' has unsupported type {metric.dtype}")
        nloc = len(self.locations)
        if f"{metric.id}.index" not in self._tar.getnames():
            # Score-P leaves out the data of a metric that is zero everywhere
            self._values[metric_name] = {node.id: [0.0] * nloc for node in self.nodes()}
            return self._values[metric_name]
        index = self._member(f"{metric.id}.index")
        if not index.startswith(b"CUBEX.INDEX"):
            raise CubeError(f"{self.path}: {metric.id}.index has no CUBEX.INDEX header")
        endian = "<" if struct.unpack_from("<i", index, 11)[0] == 1 else ">"
        (count,) = struct.unpack_from(endian + "I", index, 18)
        positions = struct.unpack_from(f"{endian}{count}I", index, 22)
        order = self._order(metric.kind)
        data = self._member(f"{metric.id}.data")
        raw = _uncompressed(data, endian, count)
        width = struct.calcsize(code)
        values: Dict[int, List[float]] = {node.id: [0.0] * nloc for node in self.nodes()}
        for i, position in enumerate(positions):
            start = i * nloc * width
            values[order[position]] = list(struct.unpack_from(f"{endian}{nloc}{code}", raw, start))
        self._values[metric_name] = values
        return values

    def close(self) -> None:
        self._tar.close()

    def __enter__(self) -> "Profile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _uncompressed(data: bytes, endian: str, count: int) -> bytes:
    if data.startswith(b"CUBEX.DATA"):
        return data[10:]
    if data.startswith(b"ZCUBEX.DATA"):
        (segments,) = struct.unpack_from(endian + "I", data, 11)
        headers = struct.unpack_from(f"{endian}{3 * segments}I", data, 15)
        offset = 15 + 12 * segments
        out = bytearray()
        for i in range(segments):
            size = headers[3 * i + 2]
            out += zlib.decompress(data[offset:offset + size])
            offset += size
        return bytes(out)
    raise CubeError("metric data without a CUBEX.DATA header")
