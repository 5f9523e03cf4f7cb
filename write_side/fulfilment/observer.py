"""What the fulfilment process reports about its work; the composition root turns it into
metrics (tally/metrics.py). The write side itself depends on no metrics library."""

from typing import Protocol

from write_side.fulfilment.breaker import BreakerSnapshot


class FulfilmentObserver(Protocol):
    def gateway_called(self, operation: str, outcome: str) -> None:
        """operation: authorize | refund; outcome: ok | unavailable | error"""

    def order_decided(self, outcome: str) -> None:
        """outcome: confirmed | out_of_stock | payment_declined | payment_unavailable |
        refunded"""

    def order_event_handled(self, event_type: str, result: str) -> None:
        """result: done | parked | failed | terminated"""

    def breaker_changed(self, snapshot: BreakerSnapshot) -> None: ...


class NoFulfilmentObserver:
    def gateway_called(self, operation: str, outcome: str) -> None:
        pass

    def order_decided(self, outcome: str) -> None:
        pass

    def order_event_handled(self, event_type: str, result: str) -> None:
        pass

    def breaker_changed(self, snapshot: BreakerSnapshot) -> None:
        pass
