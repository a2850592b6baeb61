"""The `commpref` command forms that external checks use: each prints only
its value on stdout; domain errors and unreachable databases are one line on stderr, exit 1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from commpref.domain.scopes import ALL_SCOPES, BATCH_WRITE, READ
from commpref.storage.migrations import LATEST
from tests.e2e.http_helpers import url
from tests.support.console import sign_in
from tests.support.server import COMMPREF, Server, free_port, started_server, until

EMAIL = {"channel": "EMAIL"}


def out(server: Server, *args: str) -> str:
    """stdout of a successful command, which must be exactly one line."""
    result = server.cli(*args)
    assert result.stdout.endswith("\n") and result.stdout.count("\n") == 1, result.stdout
    return result.stdout.strip()


def fails(server: Server, *args: str) -> str:
    result = server.cli(*args, check=False)
    assert result.returncode == 1, result
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip()


def test_migrate_prints_the_schema_version(server: Server) -> None:
    assert out(server, "migrate") == str(LATEST)


def test_portal_definition_and_token_forms(server: Server) -> None:
    portal_id = int(out(server, "portal", "create", "--name", "CLI portal"))
    definition_id = int(
        out(
            server,
            "definition",
            "create",
            "--portal",
            str(portal_id),
            "--name",
            "Weekly digest",
            "--description",
            "Once a week",
            "--purpose",
            "Marketing",
            "--communication-method",
            "Email",
        )
    )
    archived_id = int(
        out(
            server,
            "definition",
            "create",
            "--portal",
            str(portal_id),
            "--name",
            "Old",
            "--description",
            "",
            "--inactive",
        )
    )
    token = out(
        server, "token", "create", "--portal", str(portal_id), "--scope", READ, "--name", "reader"
    )
    with server.client(token) as c:
        defs = c.get(url("v4", "definitions")).json()["results"]
        assert [(d["name"], d["isActive"]) for d in defs[-2:]] == [
            ("Weekly digest", True),
            ("Old", False),
        ]
        assert [d["id"] for d in defs[-2:]] == [str(definition_id), str(archived_id)]
        assert defs[-2]["purpose"] == "Marketing" and defs[-2]["communicationMethod"] == "Email"
        assert (
            c.post(url("v4", "statuses/batch/read"), params=EMAIL, json={"inputs": []}).status_code
            == 403
        )

    writer = out(
        server,
        "token",
        "create",
        "--portal",
        str(portal_id),
        "--scope",
        BATCH_WRITE,
        "--scope",
        READ,
    )
    with server.client(writer) as c:
        r = c.post(
            url("v4", "statuses/batch/unsubscribe-all"),
            params=EMAIL,
            json={"inputs": ["c@example.com"]},
        )
        assert r.status_code == 200
        assert c.get(url("v4", "definitions")).status_code == 200

    everything = out(server, "token", "create", "--portal", str(portal_id), "--all-scopes")
    tokens = server.admin(lambda store: store.list_tokens(portal_id))
    assert {t.name for t in tokens} == {"reader", "token"}
    assert max(tokens, key=lambda t: t.id).scopes == ALL_SCOPES
    with server.client(everything) as c:
        assert (
            c.post(url("v4", "statuses/batch/read"), params=EMAIL, json={"inputs": []}).status_code
            == 200
        )


def test_portal_flags(server: Server) -> None:
    portal_id = out(server, "portal", "create", "--name", "Flags", "--gdpr", "--brands")
    portal = server.admin(lambda store: store.get_portal(int(portal_id)))
    assert (portal.name, portal.gdpr, portal.brands) == ("Flags", True, True)
    assert out(
        server,
        "portal", "set", "--portal", portal_id, "--no-gdpr", "--default-language", "de",
        "--strict-v3-unknown-404", "--no-batch-scopes",
    ) == portal_id  # fmt: skip
    portal = server.admin(lambda store: store.get_portal(int(portal_id)))
    assert (portal.gdpr, portal.brands, portal.default_language) == (False, True, "de")
    assert (portal.strict_v3_unknown_404, portal.batch_scopes_enabled) == (True, False)
    assert (
        out(
            server,
            "business-unit",
            "create",
            "--portal",
            portal_id,
            "--id",
            "41857",
            "--name",
            "Brand",
        )
        == "41857"
    )
    definition_id = out(
        server,
        "definition", "create", "--portal", portal_id, "--name", "Brand news",
        "--description", "x", "--business-unit", "41857",
    )  # fmt: skip
    token = out(server, "token", "create", "--portal", portal_id, "--all-scopes")
    with server.client(token) as c:
        r = c.get(url("v4", "definitions"), params={"businessUnitId": 41857})
        assert [d["id"] for d in r.json()["results"]] == [definition_id]


def test_business_unit_double_opt_in(server: Server) -> None:
    portal = server.new_portal(brands=True, double_opt_in=True)
    pid = str(portal.id)
    assert (
        out(server, "business-unit", "create", "--portal", pid, "--id", "7", "--name", "Seven")
        == "7"
    )

    def unit_set(*flags: str) -> str:
        return out(server, "business-unit", "set", "--portal", pid, "--id", "7", *flags)

    def own_setting() -> bool | None:
        with server.client(portal.token) as c:
            units = c.get("/commpref/v1/business-units").json()["results"]
        (seven,) = [u for u in units if str(u["id"]) == "7"]
        setting: bool | None = seven["doubleOptIn"]
        return setting

    assert own_setting() is None
    assert unit_set("--no-double-opt-in") == (
        f"business unit 7 of portal {pid}: double opt-in off (its own setting)"
    )
    assert own_setting() is False
    assert unit_set("--double-opt-in") == (
        f"business unit 7 of portal {pid}: double opt-in on (its own setting)"
    )
    assert own_setting() is True
    out(server, "portal", "set", "--portal", pid, "--no-double-opt-in")
    assert unit_set("--portal-double-opt-in") == (
        f"business unit 7 of portal {pid}: double opt-in off (the portal's setting)"
    )
    assert own_setting() is None
    (stored,) = [
        u for u in server.admin(lambda store: store.list_business_units(portal.id)) if u.id == 7
    ]
    assert stored.double_opt_in is None

    message = fails(server, "business-unit", "set", "--portal", pid, "--id", "8", "--double-opt-in")
    assert message == "Error: Business unit 8 does not exist"
    message = fails(server, "business-unit", "set", "--portal", "999999", "--id", "7",
                    "--no-double-opt-in")  # fmt: skip
    assert message == "Error: Portal 999999 does not exist"
    for flags in ((), ("--double-opt-in", "--portal-double-opt-in")):
        result = server.cli("business-unit", "set", "--portal", pid, "--id", "7", *flags,
                            check=False)  # fmt: skip
        assert result.returncode == 2 and "give one of --double-opt-in" in result.stderr


def test_token_revoke(server: Server) -> None:
    portal_id = out(server, "portal", "create", "--name", "Revoke")
    token = out(server, "token", "create", "--portal", portal_id, "--all-scopes")
    (stored,) = server.admin(lambda store: store.list_tokens(int(portal_id)))
    assert out(server, "token", "revoke", "--portal", portal_id, "--id", str(stored.id)) == str(
        stored.id
    )
    with server.client(token) as c:
        assert c.get(url("v4", "definitions")).status_code == 401
    message = fails(server, "token", "revoke", "--portal", portal_id, "--id", "999999")
    assert message == f"Error: token 999999 of portal {portal_id} does not exist"


def test_domain_errors_are_one_line(server: Server) -> None:
    assert fails(server, "token", "create", "--portal", "999999", "--all-scopes") == (
        "Error: Portal 999999 does not exist"
    )
    portal_id = out(server, "portal", "create", "--name", "Errors")
    message = fails(server, "token", "create", "--portal", portal_id, "--scope", "nope")
    assert message.startswith("Error: Unknown scope(s): nope. Valid scopes: ")
    assert set(message.partition("Valid scopes: ")[2].split(", ")) == set(ALL_SCOPES)
    assert fails(server, "portal", "create", "--name", "  ") == "Error: A portal needs a name"
    assert fails(
        server,
        "definition",
        "create",
        "--portal",
        portal_id,
        "--name",
        "x",
        "--description",
        "",
        "--business-unit",
        "5",
    ).startswith("Error: ")


def test_usage_errors(server: Server) -> None:
    result = server.cli("token", "create", "--portal", "1", check=False)
    assert result.returncode == 2
    assert "--scope" in result.stderr
    result = server.cli(
        "token", "create", "--portal", "1", "--all-scopes", "--scope", READ, check=False
    )
    assert result.returncode == 2
    result = server.cli("portal", "set", "--portal", "1", check=False)
    assert result.returncode == 2


def test_database_url_from_the_environment(server: Server) -> None:
    env = {**os.environ, "COMMPREF_DATABASE_URL": server.database_url}
    result = subprocess.run(
        [COMMPREF, "portal", "create", "--name", "From env"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    portal = server.admin(lambda store: store.get_portal(int(result.stdout)))
    assert portal.name == "From env"


def _labelled(output: str) -> dict[str, str]:
    return {line[:10].strip().rstrip(":"): line[10:] for line in output.splitlines()}


def test_demo_is_made_once_and_reused_and_its_curl_line_works(server: Server) -> None:
    first = _labelled(server.cli("demo", "--port", str(server.port)).stdout)
    second = _labelled(server.cli("demo", "--port", str(server.port)).stdout)
    assert list(first) == ["database", "portal", "token", "try", "api", "console"]
    assert first["database"] == server.database_url
    assert first["portal"] == second["portal"]
    secret = first["token"].split()[0]
    assert "(new;" in first["token"]
    assert second["token"].split()[0] == secret and "(reused;" in second["token"]
    kept = Path(first["token"].split("kept in ")[1].split(",")[0])
    assert kept.read_text().strip() == secret
    assert kept.stat().st_mode & 0o777 == 0o600
    portals = [p for p in server.admin(lambda store: store.list_portals()) if p.name == "Demo"]
    assert len(portals) == 1 and first["portal"].startswith(f"{portals[0].id} ")
    assert len(server.admin(lambda store: store.list_tokens(portals[0].id))) == 1
    assert first["api"].startswith(f"{server.base_url}/docs ")
    assert f"{server.base_url}/openapi.json" in first["api"]
    curl = first["try"]
    assert curl.startswith("curl ") and secret in curl
    assert f"{server.base_url}{url('v4', 'statuses/batch/unsubscribe-all')}?channel=EMAIL" in curl
    result = subprocess.run(
        curl, shell=True, capture_output=True, text=True, timeout=60, check=True
    )
    assert httpx.Response(200, content=result.stdout).json()["results"] == [
        {"subscriberIdString": "a@example.com"}
    ]
    # A revoked demo token is replaced by a new one, kept in its place.
    token_id = server.admin(lambda store: store.list_tokens(portals[0].id))[0].id
    server.cli("token", "revoke", "--portal", str(portals[0].id), "--id", str(token_id))
    third = _labelled(server.cli("demo", "--port", str(server.port)).stdout)
    assert "(new;" in third["token"] and third["token"].split()[0] != secret
    assert kept.read_text().strip() == third["token"].split()[0]


def test_demo_prints_a_console_sign_in_that_works_and_is_kept(server: Server) -> None:
    first = _labelled(server.cli("demo", "--port", str(server.port)).stdout)["console"]
    assert first.startswith(f"{server.base_url}/console/ (sign in as owner@example.com, ")
    password = first.split("password ")[1].split(";")[0]
    kept = Path(first.split("kept in ")[1].rstrip(")"))
    assert kept.read_text().split() == ["owner@example.com", password]
    assert kept.stat().st_mode & 0o777 == 0o600
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        assert sign_in(client, "owner@example.com", password).status_code == 303
        assert client.get("/console/").status_code == 200
    again = _labelled(server.cli("demo", "--port", str(server.port)).stdout)["console"]
    assert again == first  # the kept password still signs in: reused
    server.cli("user", "set-password", "--email", "owner@example.com", "--generate-password")
    third = _labelled(server.cli("demo", "--port", str(server.port)).stdout)["console"]
    assert third != first
    assert kept.read_text().split()[1] == third.split("password ")[1].split(";")[0]


def test_python_dash_m(server: Server) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "commpref", "migrate", "--database-url", server.database_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout == f"{LATEST}\n"


@pytest.mark.parametrize(
    "database_url",
    [
        "postgresql://nobody@127.0.0.1:1/none",
        "mysql://localhost/db",
        "sqlite:////proc/no/such/dir/x.db",
    ],
)
def test_serve_with_an_unusable_database_exits_with_one_line(database_url: str) -> None:
    result = subprocess.run(
        [COMMPREF, "serve", "--port", str(free_port()), "--database-url", database_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stderr


def test_serve_with_workers_and_graceful_stop(tmp_path: Path) -> None:
    srv = Server(
        f"sqlite:///{tmp_path}/workers.db", tmp_path / "server.log", extra_args=("--workers", "2")
    )
    srv.start()
    try:
        portal = srv.new_portal()
        with srv.client(portal.token) as c:
            for _ in range(4):
                r = c.post(
                    url("v4", "statuses/batch/unsubscribe-all"),
                    params=EMAIL,
                    json={"inputs": ["w@example.com"]},
                )
                assert r.status_code == 200
        # The port answers once the first worker is up: stop only when both are, or a
        # worker still starting has no application to shut down.
        log_path = tmp_path / "server.log"
        until(lambda: log_path.read_text().count("Application startup complete") == 2, "workers")
    finally:
        proc = srv.proc
        assert proc is not None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        srv.proc = None
        srv.log.close()
    log = (tmp_path / "server.log").read_text()
    assert log.count("Application shutdown complete") == 2


def test_tokens_portals_and_definitions_are_listed_and_a_listed_token_revoked(
    server: Server,
) -> None:
    portal_id = int(out(server, "portal", "create", "--name", "Listed"))
    made = server.cli("token", "create", "--portal", str(portal_id), "--scope", READ,
                      "--name", "reader")  # fmt: skip
    secret = made.stdout.strip()
    assert made.stdout.count("\n") == 1 and secret not in made.stderr
    shown_id = int(made.stderr.split()[1])  # "token 7 of portal 3: …"

    tokens = json.loads(out(server, "token", "list", "--portal", str(portal_id), "--json"))
    assert [(t["id"], t["name"], t["scopes"], t["revoked"]) for t in tokens] == [
        (shown_id, "reader", [READ], None)
    ]
    assert secret not in json.dumps(tokens)
    table = server.cli("token", "list", "--portal", str(portal_id)).stdout
    assert "reader" in table and str(shown_id) in table and secret not in table

    portals = json.loads(out(server, "portal", "list", "--json"))
    assert {"id": portal_id, "name": "Listed"}.items() <= next(
        p for p in portals if p["id"] == portal_id
    ).items()
    definitions = json.loads(out(server, "definition", "list", "--portal", str(portal_id),
                                 "--json"))  # fmt: skip
    assert len(definitions) == 3 and all(d["active"] for d in definitions)

    assert out(server, "token", "revoke", "--portal", str(portal_id), "--id", str(shown_id)) == (
        str(shown_id)
    )
    (revoked,) = json.loads(out(server, "token", "list", "--portal", str(portal_id), "--json"))
    assert revoked["revoked"] is not None
    with server.client(secret) as c:
        assert c.get(url("v4", "definitions")).status_code == 401


def test_no_command_but_migrate_serve_and_demo_creates_a_database(tmp_path: Path) -> None:
    """A command run in the wrong directory must not leave a new empty database behind."""
    for args in (["portal", "create", "--name", "X"], ["portal", "list"],
                 ["token", "list", "--portal", "1"], ["export", "--portal", "1"]):  # fmt: skip
        done = subprocess.run([COMMPREF, *args], cwd=tmp_path, capture_output=True, text=True,
                              env={k: v for k, v in os.environ.items()
                                   if k != "COMMPREF_DATABASE_URL"})  # fmt: skip
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.startswith(f"Error: no database at {tmp_path}/data/commpref.db: ")
        assert "commpref migrate" in done.stderr
    assert not (tmp_path / "data").exists()
    helped = subprocess.run([COMMPREF, "portal", "create", "--help"], capture_output=True,
                            text=True, check=True)  # fmt: skip
    assert "sqlite:///data/commpref.db" in " ".join(helped.stdout.split())
    created = subprocess.run([COMMPREF, "migrate"], cwd=tmp_path, capture_output=True,
                             text=True, check=True)  # fmt: skip
    assert created.stdout.strip() == str(LATEST)
    assert (tmp_path / "data" / "commpref.db").exists()


def test_token_list_shows_when_a_token_was_last_used(backend: str, tmp_path: Path) -> None:
    with started_server(backend, tmp_path) as srv:
        portal = srv.new_portal()
        with srv.client(portal.token) as c:
            assert c.get(url("v4", "definitions")).status_code == 200
        srv.stop()  # a stopping server writes what it noted
        (listed,) = json.loads(out(srv, "token", "list", "--portal", str(portal.id), "--json"))
    assert listed["last_used"] is not None and listed["last_used"] >= listed["created"]
