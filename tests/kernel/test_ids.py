"""Generated identifiers and secrets."""

import string

from junjo.kernel.ids import new_api_key, new_id


def test_ids_are_url_safe_and_never_start_like_a_command_line_option():
    ids = [new_id() for _ in range(5000)]  # "-" first would show up ~80 times
    assert all(len(i) == 21 for i in ids)
    assert all(set(i) <= set(string.ascii_letters + string.digits + "_-") for i in ids)
    assert all(i[0].isalnum() for i in ids)
    assert any("-" in i[1:] for i in ids)  # the rest still uses the whole alphabet
    assert len(set(ids)) == len(ids)


def test_api_keys_are_64_alphanumeric_characters():
    key = new_api_key()
    assert len(key) == 64 and key.isalnum()
