"""The projections by name."""

from projections.base import Projection
from projections.orders import OrdersProjection
from projections.stock import StockProjection

PROJECTIONS: dict[str, Projection] = {
    projection.name: projection for projection in (OrdersProjection(), StockProjection())
}


def get_projection(name: str) -> Projection:
    try:
        return PROJECTIONS[name]
    except KeyError:
        known = ", ".join(sorted(PROJECTIONS))
        raise KeyError(f"no projection named {name!r} (known: {known})") from None
