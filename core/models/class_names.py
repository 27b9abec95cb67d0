"""Class names for a classifier: from a JSON or text file, a list, or "class 0" … "class C-1"."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from core.models.classifier import ClassifierError

_FORMATS = ('a JSON list ["cat", "dog", ...], a JSON object {"0": "cat", "1": "dog", ...} '
            '(ImageNet\'s {"0": ["n01440764", "tench"], ...} also works), or a text file with one name per line')


def default_class_names(num_classes: int) -> list[str]:
    """["class 0", "class 1", ...]: C names for a model that came without any."""
    return [f"class {i}" for i in range(num_classes)]


def _names_from_json(data: object, path: Path) -> list[str]:
    if isinstance(data, list) and all(isinstance(name, str) for name in data):
        return list(data)
    if isinstance(data, dict) and all(str(key).isdigit() for key in data):
        names: dict[int, str] = {}
        for key, value in data.items():
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                value = value[-1]  # ImageNet class_index.json: [wordnet id, name]
            if not isinstance(value, str):
                raise ClassifierError(f"Class names file {path}: the entry for class {key} is not a name. "
                                      f"Use {_FORMATS}.")
            names[int(key)] = value
        if sorted(names) != list(range(len(names))):
            missing = sorted(set(range(max(names, default=-1) + 1)) - set(names))
            raise ClassifierError(f"Class names file {path} has no names for classes {missing[:10]}: "
                                  "number the classes 0, 1, 2, ... without gaps.")
        return [names[i] for i in range(len(names))]
    raise ClassifierError(f"Class names file {path} is JSON but not a list of names or an object numbered by "
                          f"class. Use {_FORMATS}.")


def read_class_names(path: str | Path) -> list[str]:
    """The class names in ``path``: a ``.json`` file (list, or object keyed by class index), else a
    text file with one name per line (surrounding spaces, blank lines and lines starting with #
    are skipped). Raises ClassifierError naming the file when it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise ClassifierError(f"Class names file not found: {path}. Give {_FORMATS}, or none for 'class 0', "
                              "'class 1', ...")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ClassifierError(f"Cannot read class names file {path} ({error}). Save it as UTF-8 text.") from error
    if path.suffix.lower() == ".json" or text.lstrip()[:1] in ("[", "{"):
        try:
            return _names_from_json(json.loads(text), path)
        except json.JSONDecodeError as error:
            raise ClassifierError(f"Class names file {path} is not valid JSON ({error}). Use {_FORMATS}.") from error
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def resolve_class_names(names: str | Path | Sequence[str] | None, num_classes: int, model_source: str) -> list[str]:
    """C class names from a file, a list, or None (defaults); ClassifierError when their count is
    not the model's ``num_classes`` (``model_source`` names the model in the message)."""
    if names is None:
        return default_class_names(num_classes)
    if isinstance(names, (str, Path)):
        found, origin = read_class_names(names), f"Class names file {names}"
    else:
        found, origin = [str(name) for name in names], "The list of class names"
    if len(found) != num_classes:
        raise ClassifierError(f"{origin} has {len(found)} names but the model {model_source} has {num_classes} "
                              "outputs. Give one name per output, in the order of the model's classes.")
    return found
