"""Annotator verification, beyond the paper (whose weak point was wrong GPT-4o annotations):

* self-consistency — the same (task, image) annotated k times with different seeds; a sample is
  kept only when at least ``min_agreement`` of the k answers agree (after normalisation);
* OCR cross-check — where the image has OCR tokens, every Latin/number word the answer quotes must
  be one of them (a misread sign is dropped);
* unverifiable task types — tasks whose name or instruction contains a configured keyword (reading
  analogue clocks, …) are flagged and kept out unless ``keep_unverifiable``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ja_vila.evolve.schemas import ProposedTask

_TRAILING = re.compile(r"[\s。．.、,!！?？「」『』\"']+")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-]*")


def normalize(answer: str) -> str:
    """Comparable form of an answer: NFKC, lower case, no spaces or punctuation."""
    text = unicodedata.normalize("NFKC", answer).lower()
    return _TRAILING.sub("", text)


@dataclass
class Consensus:
    answer_index: int | None  # index of a representative majority answer (None: rejected)
    agreement: float
    n: int


def self_consistency(answers: Sequence[str], min_agreement: float) -> Consensus:
    """The majority answer if at least ``min_agreement`` of ``answers`` agree with it."""
    if not answers:
        return Consensus(None, 0.0, 0)
    norm = [normalize(a) for a in answers]
    top, count = Counter(norm).most_common(1)[0]
    agreement = count / len(answers)
    if not top or agreement + 1e-9 < min_agreement:
        return Consensus(None, agreement, len(answers))
    return Consensus(norm.index(top), agreement, len(answers))


def ocr_consistent(answer: str, ocr_tokens: Sequence[str] | None) -> bool:
    """True when the image has no OCR tokens or every Latin/number word of ``answer`` is one of them."""
    if not ocr_tokens:
        return True
    vocab = {normalize(t) for t in ocr_tokens if t.strip()}
    words = [normalize(w) for w in _WORD.findall(unicodedata.normalize("NFKC", answer))]
    return all(w in vocab or any(w in v for v in vocab) for w in words if len(w) >= 2)


def unverifiable_keyword(task: ProposedTask, keywords: Sequence[str]) -> str | None:
    """The first keyword found in the task's name or instruction (case-insensitive), if any."""
    text = unicodedata.normalize("NFKC", f"{task.name}\n{task.instruction}").lower()
    for kw in keywords:
        if unicodedata.normalize("NFKC", kw).lower() in text:
            return kw
    return None
