"""Line numbers of places in a YAML file, so problems can be reported as ``file:line``."""

from __future__ import annotations

from pathlib import Path

import yaml


class YamlLines:
    """Find the line (1-based) of a JSON path such as ``["templates", 3, "input"]``."""

    def __init__(self, path: Path):
        try:
            self.root = yaml.compose(Path(path).read_text("utf-8"))
        except (yaml.YAMLError, OSError, UnicodeDecodeError):
            self.root = None

    def line(self, parts) -> int | None:
        node, line = self.root, None
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in parts:
            child = None
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if key.value == part:
                        child, line = value, key.start_mark.line + 1
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                    and part < len(node.value):
                child = node.value[part]
                line = child.start_mark.line + 1
            if child is None:
                return line
            node = child
        return line
