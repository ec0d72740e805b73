"""What one setting means and allows: the `Setting` metadata behind every typed config of seqrec.

A config is a dataclass whose fields each carry a Setting in their metadata (`setting_field`): TrainConfig
(seqrec/config.py), the data Filters (seqrec/data/prepare.py) and TuneConfig (seqrec/training/space.py). Each
config's validate(), the CLI's options (seqrec/cli.py) and the app's widgets (studio/) are generated from these, so
a limit, a default or a help text is written once and the three cannot disagree about it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

# ints: a tuple of whole numbers (the K values); choices: a non-empty tuple of some of `choices` (the cells to tune);
# text: one text (a date); texts: a list of texts (event types, row conditions)
KINDS = ("int", "float", "choice", "choices", "ints", "switch", "text", "texts")


@dataclass(frozen=True)
class Setting:
    """What one config field means and allows. `help` is one text for `--help` and the form's tooltip."""

    kind: str  # one of KINDS
    label: str  # the form's label
    help: str  # whole sentences; the CLI appends the range and the default
    lo: float | None = None  # inclusive bounds (ints, floats, and each K value); None: unbounded on that side
    hi: float | None = None
    open_below: bool = False  # lo itself is refused (a learning rate must be > 0)
    step: float = 1  # the form's +/- step
    fmt: str | None = None  # the form's printf-style display format (floats)
    choices: tuple[str, ...] = ()
    count: tuple[int, int] | None = None  # for "ints": how many values
    flag: str = ""  # the CLI flag; "--" + the field name with dashes when empty
    noun: str = ""  # how a message names the field; the field name with spaces when empty
    name: str = ""  # filled in from the field (settings_of)
    # The Tune search (seqrec/training/tune.py): the default range (inclusive) searched for this field, and whether
    # it is searched on a log scale; None: not searched (the base config's value is used). Inside (lo, hi).
    search: tuple[float, float] | None = None
    log: bool = False
    # A float field that may also be None: "automatic", chosen from the data when training starts (the CLI takes
    # `auto`, the form an empty box). Only dropout has one (seqrec.training.loop.resolve_auto).
    auto: bool = False
    # A field that may be None, meaning "this is off", in words (e.g. "no limit"): the form's empty box shows it as
    # its placeholder and the CLI's help as the default. Empty: None is not allowed (unless `auto`).
    off: str = ""
    unit: str = ""  # a float's unit (e.g. "minutes"): messages then say "a number of minutes from 1 to 60"
    why: str = ""  # the reason for the bounds, added to the message about a value outside them
    var: str = ""  # the CLI's metavar, when the kind's (N, F, K) does not say enough (DATE, COND)
    append: bool = False  # texts: the CLI takes one value per option, repeated (--where A --where B)

    @property
    def integer(self) -> bool:
        return self.kind in ("int", "ints")

    @property
    def option(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def metavar(self) -> str | None:
        return self.var or {"int": "N", "float": "F", "ints": "K", "text": "T", "texts": "T"}.get(self.kind)

    @property
    def called(self) -> str:
        """How a message names the field."""
        return self.noun or self.name.replace("_", " ")

    def allowed(self) -> str:
        """The allowed values in words, as a message says them: `a whole number of at least 3`, `a number in
        [0.0, 0.9] or auto`, `empty or a number of minutes above 0 and at most 525,600`."""
        phrase = self._values()
        if self.auto:
            phrase += " or auto"
        if self.off:
            phrase = "empty or " + phrase
        return phrase + (f", {self.why}" if self.why else "")

    def _values(self) -> str:
        if self.kind == "int":
            return (f"a whole number between {self.lo} and {self.hi}" if self.hi is not None
                    else f"a whole number of at least {self.lo}")
        if self.kind == "float":
            if self.lo is None and self.hi is None:
                return "a number"
            if self.unit:
                if self.open_below:
                    return f"a number of {self.unit} above {self.lo:g} and at most {self.hi:,g}"
                return f"a number of {self.unit} from {self.lo:g} to {self.hi:,g}"
            return f"a number in {'(' if self.open_below else '['}{self.lo}, {self.hi}]"
        if self.kind == "choice":
            return " or ".join(self.choices) if len(self.choices) == 2 else "one of " + ", ".join(self.choices)
        if self.kind == "choices":
            return "one or more of " + ", ".join(self.choices)
        if self.kind == "ints":
            few, many = self.count
            return f"{few} to {many} whole numbers between {self.lo} and {self.hi}"
        if self.kind == "text":
            return "a text"
        if self.kind == "texts":
            return "a list of texts"
        return "true or false"  # "switch"

    def accepts(self, v) -> bool:
        """Whether `v` is an allowed value of the field."""
        if v is None:
            return self.auto or bool(self.off)
        if self.kind == "int":
            return _whole(v) and self._within(v)
        if self.kind == "float":
            number = isinstance(v, (int, float)) and not isinstance(v, bool)
            return number and v == v and self._within(v)  # v == v: not NaN
        if self.kind == "choice":
            return v in self.choices
        if self.kind == "choices":
            return isinstance(v, (tuple, list)) and len(v) > 0 and all(c in self.choices for c in v)
        if self.kind == "ints":
            few, many = self.count
            return isinstance(v, tuple) and few <= len(v) <= many and all(_whole(k) and self._within(k) for k in v)
        if self.kind == "text":
            return isinstance(v, str)
        if self.kind == "texts":
            return isinstance(v, (tuple, list))
        return isinstance(v, bool)  # "switch"

    def _within(self, v) -> bool:
        above = self.lo is None or (v > self.lo if self.open_below else v >= self.lo)
        return above and (self.hi is None or v <= self.hi)

    def problem(self, v) -> str | None:
        """The sentence validate() reports for a bad value `v`, or None when `v` is allowed."""
        return None if self.accepts(v) else f"{self.called} must be {self.allowed()} (got {v!r})"


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def setting_field(default, kind: str, label: str, help: str, **spec):
    """A dataclass field whose metadata holds its Setting."""
    assert kind in KINDS, kind
    return dataclasses.field(default=default, metadata={"setting": Setting(kind, label, help, **spec)})


def settings_of(cls) -> dict[str, Setting]:
    """Field name -> Setting (with its name filled in) of a config dataclass, in field order."""
    return {f.name: dataclasses.replace(f.metadata["setting"], name=f.name) for f in fields(cls)}


def problems(config, settings: dict[str, Setting]) -> list[str]:
    """The sentence of every field of `config` whose value its Setting refuses, in field order."""
    return [p for name, s in settings.items() if (p := s.problem(getattr(config, name))) is not None]
