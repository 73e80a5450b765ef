"""schemathesis hooks for tests/ops/schemathesis.rs.

The run authenticates as the bootstrap global administrator. Generated cases may do anything
to any other object, but must not renew, disable or delete the administrator's own token or
user (ids in TOKEND_PROTECT_TOKEN_ID / TOKEND_PROTECT_USER_ID): otherwise every later case
would be answered 401 and test nothing.
"""

import os

import schemathesis

TOKEN = os.environ.get("TOKEND_PROTECT_TOKEN_ID", "1")
USER = os.environ.get("TOKEND_PROTECT_USER_ID", "1")


def _same(value, protected):
    try:
        return str(int(value)) == protected
    except (TypeError, ValueError):
        return False


@schemathesis.hook
def filter_case(context, case):
    path = case.operation.path
    pid = (case.path_parameters or {}).get("id")
    if path.startswith("/v1/tokens/{id}") and _same(pid, TOKEN):
        return False
    if path.startswith("/v1/users/{id}") and _same(pid, USER):
        return False
    body = case.body if isinstance(case.body, dict) else {}
    if path == "/v1/tokens/bulk":
        ids = body.get("ids")
        if isinstance(ids, list) and any(_same(i, TOKEN) for i in ids):
            return False
    return True
