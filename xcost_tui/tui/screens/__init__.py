"""Screens of the app: one module per screen (runs, detail, live, launch, compare, sql) plus dialogs."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from ..app import XcostApp


def xcost_app(node: DOMNode) -> XcostApp:
    """The running app with its own typed attributes (runner, clock, notes, exports).

    Textual types ``node.app`` as a plain ``App``; these screens only ever run inside
    ``XcostApp`` (app.py cannot be imported here at run time: it imports the Runs screen).
    """
    return cast("XcostApp", node.app)
