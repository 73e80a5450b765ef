"""Drives a token through its life with a client that openapi-python-client generated from
tokend's /openapi.json: create, list, renew (regenerate), delete. Run by tests/ops/openapi_client.rs
as `python3 openapi_client.py BASE_URL ADMIN_TOKEN` with the generated package on PYTHONPATH.
Prints one line per step and `ok` at the end; any failed expectation raises."""

import sys

from tokend_client import AuthenticatedClient
from tokend_client.api.session import get_me
from tokend_client.api.tokens import create_token, delete_token, get_token, list_tokens, renew_token
from tokend_client.models import CreateToken, ErrorBody, TokenList, TokenWithValue
from tokend_client.models.role_template import RoleTemplate


def main(base_url: str, admin_token: str) -> None:
    client = AuthenticatedClient(base_url=base_url, token=admin_token, raise_on_unexpected_status=True)
    me = get_me.sync(client=client)
    assert me is not None and me.user.email, me
    print(f"me: {me.user.email}")

    body = CreateToken(name="generated-client", role_template=RoleTemplate.READ_ONLY)
    created = create_token.sync(client=client, body=body)
    assert isinstance(created, TokenWithValue), created
    assert created.name == "generated-client", created
    assert created.value.startswith("tkd_"), "a token value"
    print(f"created: {created.id}")

    # The new value works as a credential.
    own = AuthenticatedClient(base_url=base_url, token=created.value)
    seen = get_token.sync_detailed(client=own, id=created.id)
    assert seen.status_code == 200, seen

    page = list_tokens.sync(client=client, name="generated-client", limit=10)
    assert isinstance(page, TokenList), page
    assert [t.id for t in page.items] == [created.id], page
    print(f"listed: {len(page.items)}")

    renewed = renew_token.sync(client=client, id=created.id)
    assert isinstance(renewed, TokenWithValue), renewed
    assert renewed.id == created.id and renewed.value != created.value, renewed
    print(f"renewed: {renewed.id}")

    gone = delete_token.sync_detailed(client=client, id=created.id)
    assert gone.status_code == 204, gone
    missing = get_token.sync(client=client, id=created.id)
    assert isinstance(missing, ErrorBody) and missing.error.code == "not_found", missing
    print("deleted")

    # A wrongly typed query value: the documented 422 envelope naming the parameter.
    bad = list_tokens.sync_detailed(client=client, limit=0)
    assert bad.status_code == 422, bad
    assert isinstance(bad.parsed, ErrorBody) and bad.parsed.error.code == "validation_failed", bad
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
