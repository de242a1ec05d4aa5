"""``spasim diagram``: draw the box's state machine from the machines it actually runs.

    spasim diagram [--region R] [--format mermaid|dot|svg|png] [-o FILE]

Mermaid and DOT are written here from the shared ``transitions`` machines of
:mod:`spasim.regions` (states, triggers, guards), so they need nothing installed and can
never drift from the code. SVG/PNG use transitions' own ``GraphMachine`` with the graphviz
backend, which needs the ``graphviz`` Python package — the ``diagram`` install extra,
``pip install 'spasim[diagram]'`` (``pip install -e '.[diagram]'`` in a checkout) — and
Graphviz's ``dot`` program from the system (Debian/Ubuntu: ``apt install graphviz``).
Without either, the command says in one line which is missing and how to get it, writes
nothing and exits 3 (an error of the environment, not of the arguments: exit 2 is for those).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Iterator

from transitions import Machine

from protocols.cli_support import EXIT_ERROR, EXIT_OK, Subcommand, UsageError
from spasim.regions import MACHINES, REGION_CONFIGS, REGION_TYPES

FORMATS = ("mermaid", "dot", "svg", "png")


def machine_edges(machine: Machine) -> Iterator[tuple[str, str, str]]:
    """Every transition of ``machine`` as (source, dest, label), in definition order."""
    for trigger, event in machine.events.items():
        for source, transitions in event.transitions.items():
            for transition in transitions:
                guards = [str(c.func) if c.target else f"!{c.func}" for c in transition.conditions]
                label = f"{trigger} [{', '.join(guards)}]" if guards else trigger
                yield source, transition.dest or source, label


def _regions(selected: str | None) -> list[str]:
    return list(REGION_TYPES) if selected is None else [selected]


def mermaid(selected: str | None = None) -> str:
    """A Mermaid ``stateDiagram-v2``: one composite state per region (or just the one)."""
    lines = ["stateDiagram-v2"]
    for region in _regions(selected):
        machine = MACHINES[REGION_TYPES[region]]
        indent = "    "
        prefix = f"{region}_"
        if selected is None:
            lines.append(f"    state {region} {{")
            indent = "        "
        for state in machine.states:
            lines.append(f'{indent}state "{state}" as {prefix}{state}')
        lines.append(f"{indent}[*] --> {prefix}{machine.initial}")
        for source, dest, label in machine_edges(machine):
            lines.append(f"{indent}{prefix}{source} --> {prefix}{dest}: {label}")
        if selected is None:
            lines.append("    }")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(selected: str | None = None) -> str:
    """Graphviz DOT: one cluster per region (or just the one)."""
    lines = ["digraph spasim {", "    rankdir=LR;", "    node [shape=box, style=rounded];"]
    for region in _regions(selected):
        machine = MACHINES[REGION_TYPES[region]]
        lines.append(f"    subgraph cluster_{region} {{")
        lines.append(f"        label={_quote(region)};")
        start = _quote(f"{region}.__start")
        lines.append(f'        {start} [shape=point, label=""];')
        for state in machine.states:
            lines.append(f"        {_quote(f'{region}.{state}')} [label={_quote(state)}];")
        lines.append(f"        {start} -> {_quote(f'{region}.{machine.initial}')};")
        for source, dest, label in machine_edges(machine):
            lines.append(
                f"        {_quote(f'{region}.{source}')} -> {_quote(f'{region}.{dest}')}"
                f" [label={_quote(label)}];"
            )
        lines.append("    }")
    lines.append("}")
    return "\n".join(lines) + "\n"


EXTRA = "diagram"
"""The install extra that brings the graphviz Python package (pyproject.toml)."""


def missing_for_images() -> list[str]:
    """What SVG/PNG still need here, each with how to get it (empty: nothing)."""
    missing: list[str] = []
    if importlib.util.find_spec("graphviz") is None:
        missing.append(
            f"the graphviz Python package (pip install 'spasim[{EXTRA}]', "
            f"or pip install -e '.[{EXTRA}]' in a checkout)"
        )
    if shutil.which("dot") is None:
        missing.append("Graphviz's dot program (Debian/Ubuntu: apt install graphviz)")
    return missing


def graphviz_available() -> bool:
    return not missing_for_images()


def render_image(selected: str | None, image_format: str) -> bytes:
    """SVG/PNG bytes through graphviz: transitions' GraphMachine for one region, the DOT above
    for the whole board (GraphMachine draws one machine per graph). ``RuntimeError`` with
    one line when graphviz is missing or fails."""
    missing = missing_for_images()
    if missing:
        raise RuntimeError(
            f"--format {image_format} needs {' and '.join(missing)}; "
            "--format mermaid or dot need nothing"
        )
    try:
        return _render(selected, image_format)
    except (OSError, subprocess.SubprocessError) as error:
        said = " ".join(str(error).split())  # graphviz may quote dot's stderr, lines and all
        raise RuntimeError(f"graphviz failed to draw --format {image_format}: {said}") from None


def _render(selected: str | None, image_format: str) -> bytes:
    if selected is None:
        graphviz = importlib.import_module("graphviz")  # optional; no stubs needed
        data: bytes = graphviz.Source(dot()).pipe(format=image_format)
        return data
    from transitions.extensions.diagrams import GraphMachine

    config = REGION_CONFIGS[REGION_TYPES[selected]]
    machine = GraphMachine(
        states=config["states"],
        transitions=config["transitions"],
        initial=config["initial"],
        auto_transitions=False,
        graph_engine="graphviz",
        show_conditions=True,
        title=selected,
    )
    image: bytes = machine.get_graph().draw(None, format=image_format)
    return image


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--region", choices=tuple(REGION_TYPES), help="one region only (default: the whole box)"
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="mermaid",
        help=f"default: mermaid; svg and png need the '{EXTRA}' install extra and Graphviz's "
        "dot program (without them: one line saying so, exit 3)",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")


def _run(args: argparse.Namespace) -> int:
    if args.format in ("mermaid", "dot"):
        text = mermaid(args.region) if args.format == "mermaid" else dot(args.region)
        data = text.encode("utf-8")
    else:
        if args.format == "png" and args.output is None:
            raise UsageError("--format png writes binary data: give -o FILE")
        try:
            data = render_image(args.region, args.format)
        except RuntimeError as error:
            sys.stderr.write(f"spasim diagram: error: {' '.join(str(error).split())}\n")
            return EXIT_ERROR
    if args.output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return EXIT_OK
    try:
        with open(args.output, "wb") as file:
            file.write(data)
    except OSError as error:
        raise UsageError(f"cannot write {args.output}: {error.strerror or error}") from None
    return EXIT_OK


COMMAND = Subcommand(
    "diagram", "draw the control box's state machine (Mermaid, DOT, SVG, PNG)", _configure, _run
)
