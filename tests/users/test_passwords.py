"""The argon2 cost a process hashes with: the real one unless the test-only variable is set."""

import subprocess
import sys

import pytest

from junjo.features.users.passwords import TEST_CHEAP_HASH_ENV, hash_password, verify_password
from tests.support.server import clean_env

HASH_ONE = (
    "from junjo.features.users.passwords import cheap_hashing_notice, hash_password\n"
    "print(hash_password('pw-123456'), cheap_hashing_notice() is not None)"
)


@pytest.mark.parametrize(
    ("value", "cost", "warned"),
    [
        (None, "m=65536,t=3,p=4", "False"),
        ("0", "m=65536,t=3,p=4", "False"),
        ("1", "m=8,t=1,p=1", "True"),
    ],
)
def test_only_the_test_variable_lowers_the_cost_and_then_serve_warns(value, cost, warned):
    env = {k: v for k, v in clean_env().items() if k != TEST_CHEAP_HASH_ENV}
    if value is not None:
        env[TEST_CHEAP_HASH_ENV] = value
    result = subprocess.run(
        [sys.executable, "-c", HASH_ONE], capture_output=True, text=True, env=env, timeout=60
    )
    hashed, notice = result.stdout.split()
    assert hashed.startswith(f"$argon2id$v=19${cost}$") and notice == warned, result.stderr


# hash_password("pw-123456") at the real cost (a fixed salt).
REAL_COST_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA"
    "$Vhpa+9Y1enGq49Q6fr1Na5NKosQu9XRR2s02j2sF9pI"
)


def test_a_hash_is_checked_at_the_cost_written_in_it():
    assert verify_password(REAL_COST_HASH, "pw-123456")
    assert not verify_password(REAL_COST_HASH, "pw-1234567")
    cheap = hash_password("pw-123456")  # this test run hashes cheaply
    assert cheap.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert verify_password(cheap, "pw-123456") and not verify_password(cheap, "pw-1234567")
