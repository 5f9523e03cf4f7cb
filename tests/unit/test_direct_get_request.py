"""The direct get's requests, written without json.dumps when nothing needs escaping."""

import json

from write_side.direct_get import BATCH, batch_request, next_request

SUBJECTS = ("orders.0b1f7a3e-1c2d", "stock.SKU-1", 'stock.a"b', "stock.a\\b", "stock.é")


def test_the_request_is_the_json_the_server_reads() -> None:
    for subject in SUBJECTS:
        request = batch_request(42, subject)
        assert json.loads(request) == {"seq": 42, "batch": BATCH, "next_by_subj": subject}
    assert batch_request(7, "stock.S1") == b'{"seq":7,"batch":%d,"next_by_subj":"stock.S1"}' % (
        BATCH
    )


def test_the_next_message_request_has_no_batch() -> None:
    for subject in SUBJECTS:
        assert json.loads(next_request(42, subject)) == {"seq": 42, "next_by_subj": subject}
    assert next_request(7, "stock.S1") == b'{"seq":7,"next_by_subj":"stock.S1"}'
