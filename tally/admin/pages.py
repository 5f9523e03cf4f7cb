"""The problem codes only the admin API answers with, and what each means."""

from collections.abc import Mapping

ADMIN_PAGES: Mapping[str, str] = {
    "dead-letter-still-fails": "The dead letter was applied to its view again and failed "
    "again; it stays, and `detail` has the new error. Fix the cause, then retry.",
}
