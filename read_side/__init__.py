"""The read side: the view tables (Alembic's metadata), query functions that only SELECT,
and the query HTTP routes. Imports events/ only for positions and decoding."""
