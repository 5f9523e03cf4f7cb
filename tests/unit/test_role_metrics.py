"""`tally up`'s /metrics: the API's own families with the other roles' samples merged in,
each labelled with its role, in one valid exposition (every family once)."""

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tally.http.observe import WithRoles
from tally.metrics import Metrics


def test_other_roles_samples_join_the_same_families_labelled_by_role() -> None:
    api, fulfil, project = Metrics(), Metrics(), Metrics()
    api.command_handled("ReceiveStock", "appended", 0.001)
    fulfil.order_decided("confirmed")
    fulfil.order_decided("confirmed")
    project.projection_position.labels("orders").set(42)
    roles = {
        "fulfil": generate_latest(fulfil.registry).decode(),
        "project": generate_latest(project.registry).decode(),
    }

    text = generate_latest(WithRoles(api.registry, roles)).decode()

    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert len(types) == len(set(types))  # one family per name: a valid exposition
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    confirmed = (("outcome", "confirmed"), ("role", "fulfil"))
    assert samples[("tally_fulfilment_orders_total", confirmed)] == 2
    position = (("projection", "orders"), ("role", "project"))
    assert samples[("tally_projection_position", position)] == 42
    handled = (("command", "ReceiveStock"), ("outcome", "appended"))
    assert samples[("tally_commands_total", handled)] == 1  # the API's own: no role label
    assert ("tally_fulfilment_orders_total", (("outcome", "confirmed"),)) not in samples
