"""The MSpa family's part catalogue: part → name, part class, which models it fits, and which
faults (SPEC §5) point at it — the one table both the simulator (``spasim faults``) and the
bench (diagnosis, records, warranty, reports, ``spabench parts``) read, so the two can never
disagree.

Warranty depends on the *class* of a part (SPEC §6: electrical parts of the control box are
covered 12 months for the original owner, non-electrical parts 6 months), and a customer
report must name what was replaced, so every part the bench can blame or a technician can fit
has exactly one entry here.

**Keys.** A part's key (:attr:`Part.number`, what records store) is the maker's part number
where the service manual gives one (``B9300929``, SPEC §2/§5; :attr:`Part.official` is True).
The manual numbers only some parts; the rest get a short lowercase key of our own (``heater``,
``jet-pump``) that is *not* a part number and is never shown as one: a person reads the name
("PTC heater"), plus the code the workshop orders it under when one is configured
(:func:`bench.records.workshop.part_label`, ``[part_codes]`` in the workshop file). Versions
before issue 13 stored invented ``SB-…`` codes for these parts; :func:`lookup` still accepts
them (:attr:`Part.aliases`), so old records open and show under the new key.

**Fits.** Which models a part fits is a rule on the model plates (:class:`Fits`, read against
:mod:`protocols.mspa.models`), not a list typed here: the jet pump needs ``jets_fitted`` and
so fits exactly the models whose plate says they have one.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from protocols.mspa.models import PLATE_FIELDS, ModelPlate, available_models, load_model

PartClass = Literal["electrical", "non-electrical"]
PART_CLASSES: tuple[PartClass, ...] = ("electrical", "non-electrical")


@dataclass(frozen=True)
class Fits:
    """Which models a part fits, as a rule on a model's plate (every condition must hold).

    The default fits every model: the family's control box, PRCD, cable and tub parts are
    the same design throughout (SPEC §2).
    """

    needs: tuple[str, ...] = ()
    """Boolean plate facts that must be true (``("jets_fitted",)``: a model with a jet pump)."""
    ranges: tuple[str, ...] = ()
    """The maker's model ranges the part belongs to, each a word of the plate's model name
    (``"Premium"`` matches "MSpa Premium 4-person (2019+)"); empty: every range."""

    def __post_init__(self) -> None:
        for fact in self.needs:
            if PLATE_FIELDS.get(fact) != "bool":
                raise ValueError(f"Fits.needs: {fact!r} is not a yes/no fact of the model plate")

    def matches(self, plate: ModelPlate) -> bool:
        if not all(getattr(plate, fact) for fact in self.needs):
            return False
        return not self.ranges or any(word in plate.model.split() for word in self.ranges)

    @property
    def universal(self) -> bool:
        return not self.needs and not self.ranges


EVERY_MODEL = Fits()


@dataclass(frozen=True)
class Part:
    number: str
    """The key records store: the maker's part number, or our lowercase key (``heater``)."""
    name: str
    part_class: PartClass
    official: bool
    """True when :attr:`number` is the maker's part number; False for our own key, which is
    not a number anyone can order by."""
    plain: str
    """What the part does, in words a customer understands."""
    fits: Fits = EVERY_MODEL
    aliases: tuple[str, ...] = ()
    """Former codes still accepted by :func:`lookup` (the ``SB-…`` codes before issue 13)."""

    @property
    def key(self) -> str:
        """The same as :attr:`number`; the word to use when it is not the maker's number."""
        return self.number

    @property
    def label(self) -> str:
        """How to name the part without a workshop: ``"B9300929 filter pump"`` for the maker's
        numbers, just the name (``"PTC heater"``) otherwise — never a code nobody can order by.
        With a workshop, :func:`bench.records.workshop.part_label` adds its code."""
        return f"{self.number} {self.name}" if self.official else self.name


def _maker(
    number: str, name: str, part_class: PartClass, plain: str, fits: Fits = EVERY_MODEL
) -> Part:
    return Part(number, name, part_class, True, plain, fits)


def _ours(
    key: str, old: str, name: str, part_class: PartClass, plain: str, fits: Fits = EVERY_MODEL
) -> Part:
    return Part(key, name, part_class, False, plain, fits, (old,))


CATALOGUE: tuple[Part, ...] = (
    # The maker's numbers (SPEC §2, §5).
    _maker("B9301291", "power board", "electrical", "the main circuit board of the control box"),
    _maker("B9300933", "transformer", "electrical", "the transformer that powers the electronics"),
    _maker("B9300929", "filter pump", "electrical", "the pump that circulates and filters water"),
    # The check valve is a mechanical valve on the air line: no wiring, so not electrical.
    _maker(
        "B9301364",
        "check valve",
        "non-electrical",
        "the valve that keeps water out of the air blower",
    ),
    # The knob carries a reed switch wired to the board, so it counts as electrical.
    _maker(
        "B9301267",
        "rotation knob",
        "electrical",
        "the knob that switches the air between bubbles and inflation",
    ),
    # SPEC §2: the panel is the circuit board B9301286 in a Premium (B9301287) or an Elite
    # (B9301288) housing; which panel other ranges carry the manual does not say.
    _maker(
        "B9301286",
        "remote circuit board",
        "electrical",
        "the circuit board inside the control panel",
        Fits(ranges=("Premium", "Elite")),
    ),
    _maker(
        "B9301287",
        "Premium control panel",
        "electrical",
        "the Premium control panel",
        Fits(ranges=("Premium",)),
    ),
    _maker(
        "B9301288",
        "Elite control panel",
        "electrical",
        "the Elite control panel",
        Fits(ranges=("Elite",)),
    ),
    # No number in the maker's manual: our own keys (the workshop configures its codes).
    _ours("prcd", "SB-PRCD", "PRCD", "electrical", "the safety switch on the mains cord"),
    _ours("heater", "SB-HEATER", "PTC heater", "electrical", "the water heater"),
    # The heating loop has two reed (flow) switches, one at its inlet and one at its outlet;
    # the box reports each in its own bit of 0x08 and heats only while both are closed.
    _ours(
        "flow-inlet",
        "SB-FLOW-INLET",
        "inlet flow switch",
        "electrical",
        "the reed switch at the heater's water inlet that tells the box water flows",
    ),
    _ours(
        "flow-outlet",
        "SB-FLOW-OUTLET",
        "outlet flow switch",
        "electrical",
        "the reed switch at the heater's water outlet that tells the box water flows",
    ),
    _ours(
        "temp-sensor",
        "SB-TEMP-SENSOR",
        "temperature sensor",
        "electrical",
        "the water temperature sensor",
    ),
    _ours(
        "blower",
        "SB-BLOWER",
        "bubble generator",
        "electrical",
        "the air blower that makes the bubbles",
    ),
    _ours(
        "ozone",
        "SB-O3",
        "O3 generator",
        "electrical",
        "the ozone generator that helps keep water clean",
        Fits(needs=("ozone_fitted",)),
    ),
    _ours(
        "uvc",
        "SB-UVC",
        "UVC lamp",
        "electrical",
        "the UV-C lamp that helps keep water clean",
        Fits(needs=("uvc_fitted",)),
    ),
    _ours(
        "jet-pump",
        "SB-JET-PUMP",
        "jet pump",
        "electrical",
        "the jet pump (Elite models)",
        Fits(needs=("jets_fitted",)),
    ),
    _ours(
        "cable",
        "SB-CABLE",
        "control panel cable / connector",
        "electrical",
        "the cable and plug between the control panel and the box",
    ),
    _ours("liner", "SB-LINER", "liner", "non-electrical", "the inflatable tub (liner)"),
    _ours("cover", "SB-COVER", "cover", "non-electrical", "the cover (lid)"),
    _ours(
        "hoses",
        "SB-HOSES",
        "hoses",
        "non-electrical",
        "the water hoses between the tub and the box",
    ),
    _ours(
        "filter-cartridge",
        "SB-FILTER",
        "filter cartridge",
        "non-electrical",
        "the filter cartridge",
    ),
)


def _fold(text: str) -> str:
    return text.strip().casefold()


_INDEX: dict[str, Part] = {}
for _entry in CATALOGUE:
    for _spelling in (_entry.number, *_entry.aliases):
        if _fold(_spelling) in _INDEX:  # pragma: no cover - a catalogue typo, caught on import
            raise ValueError(f"part catalogue: {_spelling!r} names two parts")
        _INDEX[_fold(_spelling)] = _entry


class _Catalogue(Mapping[str, Part]):
    """Part key → :class:`Part`, iterating over the current keys only; a former ``SB-…`` code
    or another case is answered too, so a record stored by an earlier version still reads."""

    def __getitem__(self, number: str) -> Part:
        return lookup(number)

    def __iter__(self) -> Iterator[str]:
        return (part.number for part in CATALOGUE)

    def __len__(self) -> int:
        return len(CATALOGUE)


PARTS: Mapping[str, Part] = _Catalogue()

# Fault id (SPEC §5) → the keys of the parts that fix it; empty: nothing to replace.
FAULT_PARTS: dict[str, tuple[str, ...]] = {
    "prcd-tripped": (),
    "prcd-faulty": ("prcd",),
    "transformer-dead": ("B9300933",),
    "power-board-dead": ("B9301291",),
    "filter-pump-dead": ("B9300929",),
    # Both switches read wrong: either may be the one at fault, so both are named.
    "flow-switch-stuck-open": ("flow-inlet", "flow-outlet"),
    "flow-switch-stuck-closed": ("flow-inlet", "flow-outlet"),
    "inlet-flow-switch-stuck-open": ("flow-inlet",),
    "outlet-flow-switch-stuck-open": ("flow-outlet",),
    "heater-open": ("heater",),
    "heater-relay-welded": ("B9301291",),
    "temp-sensor-open": ("temp-sensor",),
    "temp-sensor-short": ("temp-sensor",),
    "blower-dead": ("blower",),
    "check-valve-leak": ("B9301364",),
    "knob-reed-switch-stuck": ("B9301267",),
    "ozone-dead": ("ozone",),
    "uvc-dead": ("uvc",),
    "jet-pump-dead": ("jet-pump",),
    "link-noisy": ("cable",),
    # A panel that sends nothing: its circuit board, or the panel (board in its housing).
    "panel-dead": ("B9301286", "B9301287", "B9301288"),
}


def close_matches(text: str, limit: int = 3) -> list[str]:
    """Keys of the parts whose key, former code or name is spelt like ``text``."""
    names: dict[str, str] = {}
    for part in CATALOGUE:
        for spelling in (part.number, *part.aliases, part.name):
            names.setdefault(_fold(spelling), part.number)
    found: list[str] = []
    for match in difflib.get_close_matches(_fold(text), list(names), n=10, cutoff=0.6):
        if names[match] not in found:
            found.append(names[match])
    return found[:limit]


class UnknownPart(KeyError):
    """A part that is not in the catalogue; the message names close matches and where to look."""

    def __str__(self) -> str:
        text = str(self.args[0])
        close = close_matches(text)
        hint = f"close matches: {', '.join(close)}; " if close else ""
        return f"unknown part number {text!r} ({hint}see: spabench parts)"


def lookup(number: str) -> Part:
    """The catalogue entry for a key, maker's number or former ``SB-…`` code (case and
    surrounding spaces ignored); :class:`UnknownPart` otherwise."""
    try:
        return _INDEX[_fold(number)]
    except KeyError:
        raise UnknownPart(number) from None


def parts_for_fault(fault_id: str) -> tuple[Part, ...]:
    """Parts that fix ``fault_id``; empty for faults fixed without a part or unknown ids."""
    return tuple(PARTS[number] for number in FAULT_PARTS.get(fault_id, ()))


def faults_for_part(part: Part) -> tuple[str, ...]:
    """The fault ids (SPEC §5) that point at ``part``, in catalogue order."""
    return tuple(fault for fault, numbers in FAULT_PARTS.items() if part.number in numbers)


def models_for(part: Part, models: Mapping[str, ModelPlate] | None = None) -> list[str]:
    """The packaged models (or the given plates, by name) whose plate ``part`` fits."""
    plates = models if models is not None else model_plates()
    return [name for name, plate in plates.items() if part.fits.matches(plate)]


def model_plates() -> dict[str, ModelPlate]:
    """Every packaged model's plate, by model file name."""
    return {name: load_model(name) for name in available_models()}


def search_terms(part: Part, plates: Mapping[str, ModelPlate] | None = None) -> tuple[str, ...]:
    """What a search for ``part`` may name: its key, former codes, name, the fault ids that
    point at it and the models it fits (by model file name, ``elite-6``)."""
    return (
        part.number,
        *part.aliases,
        part.name,
        *faults_for_part(part),
        *models_for(part, plates),
    )


def search(
    text: str,
    plates: Mapping[str, ModelPlate] | None = None,
    extra: Mapping[str, tuple[str, ...]] | None = None,
) -> list[Part]:
    """Parts with a search term (:func:`search_terms`, plus ``extra[key]``, e.g. the
    workshop's codes) containing ``text``, case ignored; every part for an empty text."""
    plates = plates if plates is not None else model_plates()
    needle = _fold(text)
    found = []
    for part in CATALOGUE:
        terms = (*search_terms(part, plates), *(extra or {}).get(part.number, ()))
        if any(needle in _fold(term) for term in terms):
            found.append(part)
    return found


def close_terms(
    text: str,
    plates: Mapping[str, ModelPlate] | None = None,
    limit: int = 5,
) -> list[str]:
    """Search terms spelt like ``text`` (for a search that found nothing): keys, names and
    the words of names, fault ids, model names — never a former ``SB-…`` code."""
    plates = plates if plates is not None else model_plates()
    terms: dict[str, str] = {}
    for part in CATALOGUE:
        for term in search_terms(part, plates):
            if term not in part.aliases:
                terms.setdefault(_fold(term), term)
        for word in part.name.split():
            terms.setdefault(_fold(word), word)
    return [terms[m] for m in difflib.get_close_matches(_fold(text), list(terms), limit, 0.6)]
