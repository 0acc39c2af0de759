"""CSV files a person may open in a spreadsheet, with formula injection neutralised.

A spreadsheet evaluates a cell starting with ``=``, ``+``, ``-`` or ``@`` (also after a leading tab
or carriage return) as a formula, so a value typed into a lead form could run a command or send
data away when a steward opens an export. As OWASP recommends, such a text cell gets a leading
``'``. Numbers are never touched (numeric columns are not text), and neither is an E.164 phone
number (``+`` and up to 15 digits, nothing else): it cannot hold a formula, and the tools that
import audience files need it exactly as it is.
"""

import re
from pathlib import Path
from typing import Any

import pandas as pd

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def neutralise(value: Any) -> Any:
    """Return a cell value a spreadsheet will show as text instead of evaluating.

    Args:
        value: One cell: text, a number, or a missing value.

    Returns:
        ``value`` with a leading ``'`` when it is text starting with ``=``, ``+``, ``-``, ``@``, a
        tab or a carriage return and is not an E.164 phone number; anything else unchanged.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS) and not _E164.fullmatch(value):
        return "'" + value
    return value


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a frame as CSV without its index, every text cell and header passed through ``neutralise``.

    Args:
        frame: The rows; numeric, boolean and date columns are written as pandas writes them.
        path: The file to write; its folder is created.

    Raises:
        OSError: The file cannot be written.
    """
    safe = frame.copy()
    for column in safe.columns:
        dtype = safe[column].dtype
        if pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype | pd.CategoricalDtype):
            safe[column] = safe[column].astype(object).map(neutralise)
    safe.columns = [neutralise(str(c)) for c in safe.columns]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    safe.to_csv(path, index=False)
