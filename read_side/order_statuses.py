"""Every status an order's row can hold (the `orders` table checks it): the unfiltered
order list is merged from one range of the status index per status (read_side.queries)."""

ORDER_STATUSES = ("pending", "confirmed", "rejected", "cancelled", "shipped")
