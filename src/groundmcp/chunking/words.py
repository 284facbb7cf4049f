"""camelCase names written as words, for the dense encoder.

The bundled encoder lower-cases its input and cuts it into English word pieces, so `createCompounder`
reaches it as `createcompounder`: the first word, then continuation pieces (`##com`, `##po`,
`##under`) that are not the words a query uses, where `create_compounder` keeps its words.
JavaScript, TypeScript, Java and Go name functions and variables in camelCase, so their names told
the encoder least: on the public code set, dense nDCG@10 was 0.37 on JavaScript against 0.48 on
Python. The dense text of a code chunk therefore spells each camelCase identifier as its words
(`createCompounder` -> `create Compounder`, `parseHTTPResponse` -> `parse HTTP Response`), which
raised JavaScript's hybrid nDCG@10 from 0.466 to 0.530 and left Python's as it was
(docs/benchmarks.md, "Retrieval quality, round two").

PascalCase names (`DataView`, `ValueError`) are left as written: spelling them too measured the
same within noise, and changes the vectors of far more Python chunks. Only the encoder sees this
text: the sparse side keeps the identifier whole and split (sparse.py), and a chunk's text and
citations are the file's own.
"""

from __future__ import annotations

import re

_CAMEL = re.compile(r"\b[a-z][a-z0-9]*[A-Z][A-Za-z0-9]*\b")  # starts lower-case, has a capital after
# a lower-case letter or digit followed by a capital; a run of capitals followed by a capitalised word
_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def spelled(text: str) -> str:
    """`text` with each camelCase identifier written as its words."""
    return _CAMEL.sub(lambda m: _BOUNDARY.sub(" ", m.group()), text)
