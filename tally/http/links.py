"""OpenAPI links between the sides' operations: the answer of a command names what it
created, and these say which queries and commands take it next (a client, or a fuzzer's
stateful phase, follows them). They live here because only the app sees both sides; a
link whose target operation is not served (no database: no queries) is left out."""

from typing import Any

ORDER_ID = "$response.body#/order_id"
SKU = "$response.body#/sku"
POSITION = "$response.body#/position"

# (path, method, status) -> {link name: (target operationId, parameters)}
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, dict[str, str]]]] = {
    ("/orders", "post", "202"): {
        "GetOrder": ("GetOrder", {"order_id": ORDER_ID, "after": POSITION}),
        "GetOrderEvents": ("GetOrderEvents", {"order_id": ORDER_ID}),
        "CancelOrder": ("CancelOrder", {"order_id": ORDER_ID}),
        "ShipOrder": ("ShipOrder", {"order_id": ORDER_ID}),
    },
    ("/stock/{sku}/receive", "post", "202"): {
        "GetStock": ("GetStock", {"sku": SKU, "after": POSITION}),
        "GetStockEvents": ("GetStockEvents", {"sku": SKU}),
        "AdjustStock": ("AdjustStock", {"sku": SKU}),
    },
}


def add_links(paths: dict[str, Any]) -> None:
    served = {
        operation["operationId"]
        for item in paths.values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    for (path, method, status), links in LINKS.items():
        answer = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if answer is None:
            continue
        chosen = {
            name: {"operationId": target, "parameters": parameters}
            for name, (target, parameters) in links.items()
            if target in served
        }
        if chosen:
            answer["links"] = chosen
