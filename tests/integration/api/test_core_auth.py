"""API tokens: stored hashed, verified, revoked; writes need one, reads are open on loopback."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
import typer
from sqlalchemy import select, update
from typer.testing import CliRunner

from haystack_collector.api.deps import Principal
from haystack_collector.api.tokens_cli import make_token_app
from haystack_collector.db import Database
from haystack_collector.db.schema import api_tokens
from haystack_collector.errors import ConfigError, IntegrityViolation, NotFoundError
from haystack_collector.store._sql import utcnow
from haystack_collector.store.tokens import (
    create_token,
    list_tokens,
    revoke_token,
    verify_token,
)
from tests.integration.api.core_fixtures import LOOPBACK, REMOTE, client_for, core_app, mint

# --- the store -----------------------------------------------------------------------------


def test_a_token_is_stored_only_as_its_sha256(db: Database) -> None:
    secret = db.run(create_token, name="ci")

    with db.read() as conn:
        stored = conn.execute(select(api_tokens)).one()
    assert stored.tokenName == "ci"
    assert stored.tokenHash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {str(value) for value in stored}
    assert len(secret) >= 40  # 32 random bytes, URL-safe


def test_verify_names_the_token_and_refuses_anything_else(db: Database) -> None:
    secret = db.run(create_token, name="ci")

    assert db.run(verify_token, secret=secret) == "ci"
    assert db.run(verify_token, secret=secret + "x") is None
    assert db.run(verify_token, secret="") is None
    assert db.run(verify_token, secret=hashlib.sha256(secret.encode()).hexdigest()) is None


def test_last_use_is_recorded_at_most_once_a_minute(db: Database) -> None:
    secret = db.run(create_token, name="ci")
    [before] = db.run_read(list_tokens)
    assert before.last_used is None

    db.run(verify_token, secret=secret)
    [first] = db.run_read(list_tokens)
    assert first.last_used is not None
    db.run(verify_token, secret=secret)
    [second] = db.run_read(list_tokens)
    assert second.last_used == first.last_used

    stale = utcnow() - timedelta(minutes=5)
    with db.transaction() as conn:
        conn.execute(update(api_tokens).values(tokenLastUsed=stale))
    db.run(verify_token, secret=secret)
    [third] = db.run_read(list_tokens)
    assert third.last_used is not None
    assert third.last_used > first.last_used - timedelta(seconds=1)
    assert third.last_used.replace(tzinfo=None) > stale


def test_a_live_name_cannot_be_taken_twice_but_a_revoked_one_can(db: Database) -> None:
    old = db.run(create_token, name="ci")
    with pytest.raises(IntegrityViolation, match="already exists"):
        db.run(create_token, name="ci")

    assert db.run(revoke_token, name="ci") is True
    assert db.run(revoke_token, name="ci") is False  # already revoked: no change
    assert db.run(verify_token, secret=old) is None
    new = db.run(create_token, name="ci")

    assert db.run(verify_token, secret=new) == "ci"
    assert db.run(verify_token, secret=old) is None
    [token] = db.run_read(list_tokens)
    assert (token.name, token.active) == ("ci", True)


@pytest.mark.parametrize("name", ["", " ci", "a b", "x" * 101, "loopback", "Anonymous", "-x"])
def test_bad_token_names_are_refused(db: Database, name: str) -> None:
    with pytest.raises(ConfigError):
        db.run(create_token, name=name)
    assert db.run_read(list_tokens) == []


def test_revoking_an_unknown_token_is_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError, match="no token named 'ghost'"):
        db.run(revoke_token, name="ghost")


def test_list_shows_revoked_tokens_unless_asked_not_to(db: Database) -> None:
    db.run(create_token, name="a")
    db.run(create_token, name="b")
    db.run(revoke_token, name="a")

    assert [(t.name, t.active) for t in db.run_read(list_tokens)] == [("a", False), ("b", True)]
    assert [t.name for t in db.run_read(list_tokens, include_revoked=False)] == ["b"]


# --- the routes ----------------------------------------------------------------------------

WRITE = ("PUT", "/api/config/core.test?value=1")
READ = ("GET", "/api/config")


def test_writes_need_a_valid_live_token(db: Database) -> None:
    name, auth = mint(db)
    with client_for(core_app(db)) as client:
        missing = client.request(*WRITE)
        wrong = client.request(*WRITE, headers={"Authorization": "Bearer not-a-token"})
        basic = client.request(*WRITE, headers={"Authorization": "Basic dXNlcjpwdw=="})
        allowed = client.request(*WRITE, headers=auth)
        db.run(revoke_token, name=name)
        revoked = client.request(*WRITE, headers=auth)

    for refused in (missing, wrong, basic, revoked):
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert isinstance(refused.json()["detail"], str)
    assert wrong.json() == {"detail": "invalid or revoked token"}
    assert revoked.json() == {"detail": "invalid or revoked token"}
    assert allowed.status_code == 200


def test_reads_are_open_on_loopback_and_closed_elsewhere_by_default(db: Database) -> None:
    _, auth = mint(db)
    app = core_app(db)
    with client_for(app, client=LOOPBACK) as local, client_for(app, client=REMOTE) as remote:
        assert local.request(*READ).status_code == 200
        refused = remote.request(*READ)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert remote.request(*READ, headers=auth).status_code == 200
        # A presented token is checked even where reads are open.
        bad = local.request(*READ, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401


def test_ipv6_loopback_counts_as_loopback(db: Database) -> None:
    with client_for(core_app(db), client=("::1", 50000)) as client:
        assert client.request(*READ).status_code == 200


def test_read_access_token_closes_reads_even_on_loopback(db: Database) -> None:
    _, auth = mint(db)
    with client_for(core_app(db, api_read_access="token")) as client:
        assert client.request(*READ).status_code == 401
        assert client.request(*READ, headers=auth).status_code == 200


def test_read_access_open_opens_reads_to_everyone_but_not_writes(db: Database) -> None:
    with client_for(core_app(db, api_read_access="open"), client=REMOTE) as client:
        assert client.request(*READ).status_code == 200
        assert client.request(*WRITE).status_code == 401


def test_the_write_routes_declare_bearer_auth_in_openapi(db: Database) -> None:
    with client_for(core_app(db)) as client:
        spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert {scheme["scheme"] for scheme in schemes.values()} == {"bearer"}
    assert spec["paths"]["/api/config/{key}"]["put"]["security"]


def test_openapi_says_reads_are_optional_auth_unless_reads_need_a_token(db: Database) -> None:
    with client_for(core_app(db)) as client:
        paths = client.get("/openapi.json").json()["paths"]
    with client_for(core_app(db, api_read_access="token")) as client:
        strict = client.get("/openapi.json").json()["paths"]

    assert paths["/api/config"]["get"]["security"] == [{"HTTPBearer": []}, {}]
    assert paths["/api/config/{key}"]["put"]["security"] == [{"HTTPBearer": []}]
    assert strict["/api/config"]["get"]["security"] == [{"HTTPBearer": []}]
    # /health answers everyone; a token (or a loopback reader) sees its details.
    assert paths["/health"]["get"]["security"] == [{"HTTPBearer": []}, {}]
    assert strict["/health"]["get"]["security"] == [{"HTTPBearer": []}, {}]
    errors = paths["/api/config/{key}"]["put"]["responses"]
    assert {"401", "409", "422", "429", "503"} <= set(errors)


def test_principal_names_the_token_or_the_kind_of_anonymous_reader() -> None:
    assert Principal("ci").authenticated
    assert not Principal("loopback", authenticated=False).authenticated


# --- the command line ----------------------------------------------------------------------


def token_cli(db: Database) -> typer.Typer:
    app = typer.Typer()
    app.add_typer(make_token_app(lambda ctx: db), name="token")
    return app


def test_cli_create_prints_the_secret_as_the_last_word(db: Database) -> None:
    runner = CliRunner()
    result = runner.invoke(token_cli(db), ["token", "create", "deploy"])

    assert result.exit_code == 0, result.output
    secret = result.stdout.split()[-1]
    assert db.run(verify_token, secret=secret) == "deploy"


def test_cli_list_and_revoke(db: Database) -> None:
    runner = CliRunner()
    app = token_cli(db)
    runner.invoke(app, ["token", "create", "deploy"])

    listed = runner.invoke(app, ["token", "list"])
    assert listed.exit_code == 0
    assert listed.stdout.startswith("deploy\t")
    assert "active" in listed.stdout
    as_json = runner.invoke(app, ["token", "list", "--json"])
    assert [t["name"] for t in json.loads(as_json.stdout)] == ["deploy"]

    revoked = runner.invoke(app, ["token", "revoke", "deploy"])
    assert revoked.exit_code == 0
    assert "Revoked token 'deploy'" in revoked.stdout
    assert "revoked" in runner.invoke(app, ["token", "list"]).stdout


def test_cli_errors_are_one_line_with_an_exit_code(db: Database) -> None:
    runner = CliRunner()
    app = token_cli(db)
    runner.invoke(app, ["token", "create", "deploy"])

    duplicate = runner.invoke(app, ["token", "create", "deploy"])
    assert duplicate.exit_code == 1
    assert duplicate.stderr.startswith("error: a token named 'deploy' already exists")
    assert duplicate.stdout == ""

    bad = runner.invoke(app, ["token", "create", "has space"])
    assert bad.exit_code == 2
    assert "invalid token name" in bad.stderr

    ghost = runner.invoke(app, ["token", "revoke", "ghost"])
    assert ghost.exit_code == 1
    assert ghost.stderr == "error: no token named 'ghost'\n"
