"""How a delivery's messages are read and an answer is cut into messages (no server needed)."""

from __future__ import annotations

import json

from smarter.apps.channels.answering import split
from smarter.apps.channels.models import Channel
from smarter.apps.channels.providers.whatsapp import WhatsAppAdapter
from smarter.apps.channels.tests.support import PHONE_NUMBER_ID, wa_change, wa_delivery, wa_message


def read(*messages: dict[str, object]) -> list[tuple[str, str, str]]:
    channel = Channel(type="whatsapp", phone_number_id=PHONE_NUMBER_ID)
    delivery = WhatsAppAdapter().parse(channel, wa_delivery(wa_change(list(messages))), "application/json")
    return [(record.provider_message_id, record.kind, record.text) for record in delivery.messages]


def test_each_whatsapp_message_kind_is_read_as_the_text_the_sender_chose() -> None:
    button = {"from": "1", "id": "w2", "timestamp": "0", "type": "button", "button": {"text": "Track order"}}
    chosen = {"button_reply": {"id": "b1", "title": "Yes, refund"}, "type": "button_reply"}
    interactive = {"from": "1", "id": "w3", "timestamp": "0", "type": "interactive", "interactive": chosen}
    listed = {"list_reply": {"id": "l1", "title": "Teal", "description": "the colour"}, "type": "list_reply"}
    from_list = {"from": "1", "id": "w4", "timestamp": "x", "type": "interactive", "interactive": listed}

    assert read(
        wa_message("w1", "1", "  Hello  "),
        button,
        interactive,
        from_list,
        wa_message("w5", "1", "", kind="document", caption="my invoice", filename="a.pdf"),
        wa_message("w6", "1", "", kind="location", latitude=1.0, longitude=2.0),
        {"from": "1", "id": "w7", "timestamp": "0", "type": "unsupported", "errors": [{"code": 131051}]},
    ) == [
        ("w1", "text", "Hello"),
        ("w2", "button", "Track order"),
        ("w3", "interactive", "Yes, refund"),
        ("w4", "interactive", "Teal"),
        ("w5", "document", "my invoice"),
        ("w6", "location", ""),
        ("w7", "unsupported", ""),
    ]


def test_statuses_of_unknown_states_and_changes_of_other_fields_are_passed_over() -> None:
    channel = Channel(type="whatsapp", phone_number_id=PHONE_NUMBER_ID)
    payload = json.loads(wa_delivery(wa_change(statuses=[{"id": "w1", "status": "deleted"}])))
    payload["entry"][0]["changes"].append({"field": "account_update", "value": {"event": "VERIFIED"}})

    delivery = WhatsAppAdapter().parse(channel, json.dumps(payload).encode(), "application/json")

    assert (delivery.messages, delivery.statuses, delivery.elsewhere) == ([], [], 0)


def test_an_answer_is_cut_between_paragraphs_then_sentences_then_words() -> None:
    assert split("", 10) == []
    assert split("exactly ten", 11) == ["exactly ten"]
    assert split("First one.\n\nSecond one.", 15) == ["First one.", "Second one."]
    assert split("One. Two. Three.", 10) == ["One. Two.", "Three."]
    parts = split("word " * 500, 1600)
    assert all(len(part) <= 1600 for part in parts) and " ".join(parts).split() == ["word"] * 500
    assert split("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
