"""Import bunkai 1.5.7 next to transformers 5 (DESIGN §4).

bunkai's optional line-break model (``linebreak_annotator``) imports BERT tokenizer internals that
transformers 5 removed, and ``linebreak_annotator_compat`` imports it whenever torch and
transformers are installed, so ``import bunkai`` raises. We only use the rule-based ``Bunkai()``,
which never builds that annotator. :func:`install_bunkai_import_fix` pre-registers both modules in
``sys.modules`` as small stand-ins whose ``LinebreakAnnotator`` raises a clear error if anyone asks
for the model. Stubbing the compat module as well means bunkai no longer imports torch and
transformers at all (bunkai import 0.3 s instead of 4.7 s on this machine); transformers itself is
untouched and imports normally afterwards.

The fix is idempotent and never replaces a module that is already imported (an environment where
bunkai's line-break model works keeps it).
"""

from __future__ import annotations

import sys
import types
from typing import Any

LINEBREAK_MODULE = "bunkai.algorithm.bunkai_sbd.annotator.linebreak_annotator"
LINEBREAK_COMPAT_MODULE = "bunkai.algorithm.bunkai_sbd.annotator.linebreak_annotator_compat"
_MARKER = "__ja_vila_stub__"


class LinebreakAnnotatorUnavailable:
    """Stand-in for bunkai's BERT line-break annotator, which cannot load under transformers 5."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(
            "bunkai's line-break model (Bunkai(path_model=...)) is unavailable: bunkai 1.5.7 cannot "
            "import it next to transformers 5. Use the rule-based Bunkai() (path_model=None)."
        )


def install_bunkai_import_fix() -> bool:
    """Register the stand-in modules unless they (or the real ones) are already imported.

    Returns True when it registered something now, False when there was nothing to do.
    """
    installed = False
    for name in (LINEBREAK_MODULE, LINEBREAK_COMPAT_MODULE):
        if name in sys.modules:
            continue
        module = types.ModuleType(name, "ja-vila stand-in: bunkai's line-break model is unavailable")
        module.LinebreakAnnotator = LinebreakAnnotatorUnavailable  # type: ignore[attr-defined]
        module.install_with_lb = False  # type: ignore[attr-defined]
        setattr(module, _MARKER, True)
        sys.modules[name] = module
        installed = True
    return installed


def is_stubbed() -> bool:
    """True when bunkai's line-break modules are this module's stand-ins."""
    return all(
        getattr(sys.modules.get(n), _MARKER, False) for n in (LINEBREAK_MODULE, LINEBREAK_COMPAT_MODULE)
    )


def import_bunkai() -> type:
    """The rule-based ``bunkai.Bunkai`` class, importable next to transformers 5."""
    install_bunkai_import_fix()
    from bunkai import Bunkai

    return Bunkai


install_bunkai_import_fix()
