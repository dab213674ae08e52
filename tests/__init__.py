import pytest

# The shared helper modules assert too: have pytest rewrite them like the test modules.
pytest.register_assert_rewrite("tests.helpers_rules", "tests.helpers_store", "tests.helpers_values")
